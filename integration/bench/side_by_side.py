#!/usr/bin/env python3
"""Runs tocsin and vmalert one after the other with identical flags and rule files against
the same nginx mock (mock.py), RUNS times, and prints a markdown table of medians per
scenario: CPU µs per rule evaluation, peak RSS, missed iterations and the tocsin/vmalert
ratios (each ratio is taken within one run, then the median over the runs); then the
time from spawn to the first query and to the first counted evaluation with 20,000 rules.

Rule evaluations are counted from the mock's query log (one line per instant query), the
same way for both evaluators; their own counters are shown beside as a sanity check.

Called by side-by-side.sh, which builds tocsin and checks the prerequisites.

Usage: side_by_side.py --tocsin BIN --vmalert BIN [--peer-name NAME] [--secs 60]
                       [--warmup 5] [--runs 3] [--scenarios A,B,C,D,S] [--port 22080]
                       [--work DIR]
"""
import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (description, groups, rules per group, interval, series per answer,
#        alerting only, -rule.resendDelay)
SCENARIOS = {
    "A": ("2,000 rules, half alerting, 10 series, 10s", 100, 20, "10s", 10, False, "1m"),
    "B": ("20,000 rules, half alerting, 10 series, 60s", 1000, 20, "60s", 10, False, "1m"),
    "C": ("200 rules, half alerting, 1,000 series, 10s", 10, 20, "10s", 1000, False, "1m"),
    "D": ("500 alerting rules, 10 firing alerts each, resend every evaluation, 10s",
          25, 20, "10s", 10, True, "0s"),
}

# What each evaluator calls its counters (prometheus-client adds `_total` to tocsin's).
METRICS = {
    "tocsin": {
        "evals": r"^tocsin_rule_evaluations_total\b",
        "missed": r"^tocsin_group_iterations_missed_total\b",
        "errors": r"^tocsin_rule_errors_total\b",
        "alerts_sent": r"^tocsin_notifier_alerts_sent_total\b",
        "rw_samples": r"^tocsin_remotewrite_samples_sent_total\b",
    },
    "vmalert": {
        "evals": r"^vmalert_execution_total\b",
        "missed": r"^vmalert_iteration_missed_total\b",
        "errors": r"^vmalert_execution_errors_total\b",
        "alerts_sent": r"^vmalert_alerts_sent_total\b",
        "rw_samples": r"^vmalert_remotewrite_sent_rows_total\b",
    },
}

CLK_TCK = os.sysconf("SC_CLK_TCK")

NAN = float("nan")
FAILED = {"cpu_s": NAN, "evals": NAN, "own_evals": NAN, "us_per_eval": NAN, "cores": NAN,
          "rss_mb": NAN, "missed": NAN, "errors": 0, "alerts_sent": 0, "rw_samples": 0}


def scrape(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode("utf-8", "replace")
    except OSError:
        return None


def metric_sum(text, pattern):
    """Sum of every sample of the metric(s) matching `pattern` (None: no such metric)."""
    rx = re.compile(pattern)
    total, seen = 0.0, False
    for line in (text or "").splitlines():
        if line.startswith("#") or not rx.search(line):
            continue
        try:
            total += float(line.rsplit(" ", 1)[1])
            seen = True
        except (IndexError, ValueError):
            pass
    return total if seen else None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        # Fields after the command name (which may hold spaces); utime and stime are
        # fields 14 and 15 of the whole line.
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def peak_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def flags(rules, mock_port, http_port, resend):
    ds = f"http://127.0.0.1:{mock_port}"
    return [
        f"-rule={rules}",
        f"-datasource.url={ds}",
        f"-notifier.url={ds}",
        f"-remoteWrite.url={ds}",
        f"-httpListenAddr=127.0.0.1:{http_port}",
        "-loggerLevel=ERROR",
        f"-rule.resendDelay={resend}",
    ]


def spawn(binary, args, log):
    return subprocess.Popen([binary] + args, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_ready(url, p, qlog, timeout):
    """Waits until the evaluator answers /metrics or its first query reaches the mock
    (vmalert 1.145 opens its HTTP port only after starting every group, which takes
    minutes with 20,000 rules on a loaded machine); False if it exited or timed out."""
    q0 = query_count(qlog)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return False
        if query_count(qlog) > q0 or scrape(url, timeout=1) is not None:
            return True
        time.sleep(0.05)
    return False


def query_count(path):
    """Instant queries the mock has answered so far (lines of its query log)."""
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def measure(name, binary, args, http_port, secs, warmup, logpath, qlog):
    """Runs one evaluator: warm-up, then `secs` measured seconds."""
    m = METRICS[name]
    url = f"http://127.0.0.1:{http_port}/metrics"
    with open(logpath, "ab") as log:
        p = spawn(binary, args, log)
        try:
            if not wait_ready(url, p, qlog, timeout=180):
                raise RuntimeError(f"{name} did not start; see {logpath}")
            time.sleep(warmup)
            q0, c0 = query_count(qlog), cpu_seconds(p.pid)
            # An overloaded evaluator answers /metrics slowly: its own counters are only
            # a sanity check, read outside the measured window.
            e0 = metric_sum(scrape(url, timeout=20), m["evals"])
            time.sleep(secs)
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited while measured; see {logpath}")
            q1, c1 = query_count(qlog), cpu_seconds(p.pid)
            rss = peak_rss_kb(p.pid)
            text = scrape(url, timeout=20)
            e1 = metric_sum(text, m["evals"])
        finally:
            stop(p)
    evals = q1 - q0
    return {
        "cpu_s": c1 - c0,
        "evals": evals,
        # None when /metrics did not answer in time: the evaluator is overloaded.
        "own_evals": e1 - e0 if e0 is not None and e1 is not None else float("nan"),
        "us_per_eval": (c1 - c0) * 1e6 / evals if evals else float("nan"),
        "cores": (c1 - c0) / secs,
        "rss_mb": rss / 1024,
        # tocsin shows a group's missed counter once it has missed a tick: absent is 0.
        "missed": (metric_sum(text, m["missed"]) or 0) if text else float("nan"),
        "errors": metric_sum(text, m["errors"]) or 0,
        "alerts_sent": metric_sum(text, m["alerts_sent"]) or 0,
        "rw_samples": metric_sum(text, m["rw_samples"]) or 0,
    }


def startup(name, binary, args, http_port, logdir, qlog, timeout=60):
    """Seconds from spawn to the first query the mock sees, the evaluator's CPU seconds
    (user+sys) by then — what a loaded machine does not inflate — and seconds to the
    first evaluation counted on /metrics (each polled every 5 ms)."""
    url = f"http://127.0.0.1:{http_port}/metrics"
    first_query = first_cpu = float("nan")
    with open(os.path.join(logdir, f"{name}-startup.log"), "ab") as log:
        # The previous evaluator's last answers may still reach the log: start counting
        # once it has been still for 200 ms.
        q0 = query_count(qlog)
        while True:
            time.sleep(0.2)
            q = query_count(qlog)
            if q == q0:
                break
            q0 = q
        t0 = time.monotonic()
        p = spawn(binary, args, log)
        try:
            while time.monotonic() - t0 < timeout:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {logdir}/{name}-startup.log")
                if first_query != first_query and query_count(qlog) > q0:
                    first_cpu = cpu_seconds(p.pid)
                    first_query = time.monotonic() - t0
                if (metric_sum(scrape(url, timeout=1), METRICS[name]["evals"]) or 0) > 0:
                    counted = time.monotonic() - t0
                    # The first query and its evaluation can both happen within one poll;
                    # the query then came first, so this reading bounds it.
                    if first_query != first_query and query_count(qlog) > q0:
                        first_cpu = cpu_seconds(p.pid)
                        first_query = counted
                    return first_query, first_cpu, counted
                time.sleep(0.005)
            return first_query, first_cpu, float("nan")
        finally:
            stop(p)


class Mock:
    def __init__(self, work, port, series):
        self.dir = os.path.join(work, f"mock-{series}")
        conf = subprocess.check_output(
            [sys.executable, os.path.join(HERE, "mock.py"), self.dir, str(port), str(series)],
            text=True).strip()
        self.qlog = os.path.join(self.dir, "query.log")
        self.p = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        self.url = f"http://127.0.0.1:{port}/api/v1/query"
        for _ in range(100):
            if scrape(self.url) is not None:
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError(f"nginx did not start; see {self.dir}/error.log")

    def close(self):
        self.p.terminate()
        self.p.wait()


def num(x):
    return "n/a" if x is None or x != x else str(int(x))


def ratio(a, b):
    return a / b if b else float("nan")


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def rules_file(work, key):
    _, groups, per, interval, _, alerting_only, _ = SCENARIOS[key]
    path = os.path.join(work, f"rules-{key}.yml")
    cmd = [sys.executable, os.path.join(HERE, "rules.py"), str(groups), str(per), interval]
    if alerting_only:
        cmd.append("--alerting-only")
    with open(path, "w") as f:
        subprocess.check_call(cmd, stdout=f)
    return path


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def scenario(key, a, evaluators, work, http_port, details):
    """RUNS side-by-side runs of one scenario; returns the row of medians."""
    desc, _, _, _, series, _, resend = SCENARIOS[key]
    rules = rules_file(work, key)
    runs = []
    mock = Mock(work, a.port, series)
    try:
        for run in range(1, a.runs + 1):
            res = {}
            for name, binary in evaluators:
                args = flags(rules, a.port, http_port, resend)
                logpath = os.path.join(work, f"{name}-{key}-{run}.log")
                try:
                    r = measure(name, binary, args, http_port, a.secs, a.warmup, logpath,
                                mock.qlog)
                except RuntimeError as e:
                    # One failed run (an evaluator too loaded to start in time, a crash)
                    # leaves a gap in the medians, not a lost benchmark.
                    print(f"  {key} run {run} {name}: {e}", file=sys.stderr, flush=True)
                    r = dict(FAILED)
                res[name] = r
                details.append(
                    f"| {key} | {run} | {name} | {num(r['evals'])} | {num(r['own_evals'])} | "
                    f"{r['cpu_s']:.2f} | {r['us_per_eval']:.1f} | {r['rss_mb']:.1f} | "
                    f"{int(r['errors'])} | {int(r['alerts_sent'])} | {int(r['rw_samples'])} | "
                    f"{r['cores']:.2f} | {load()} |")
                print(f"  {key} run {run} {name}: {r}", file=sys.stderr, flush=True)
            runs.append(res)
    finally:
        mock.close()
    med = lambda who, k: median([r[who][k] for r in runs])
    cpu_ratio = median([ratio(r["tocsin"]["us_per_eval"], r["vmalert"]["us_per_eval"])
                        for r in runs])
    rss_ratio = median([ratio(r["tocsin"]["rss_mb"], r["vmalert"]["rss_mb"]) for r in runs])
    return (f"| {key}: {desc} | {med('tocsin', 'us_per_eval'):.1f} | "
            f"{med('vmalert', 'us_per_eval'):.1f} | **{cpu_ratio:.3f}** | "
            f"{med('tocsin', 'rss_mb'):.1f} | {med('vmalert', 'rss_mb'):.1f} | "
            f"**{rss_ratio:.3f}** | {med('tocsin', 'evals'):.0f} / {med('vmalert', 'evals'):.0f} | "
            f"{num(med('tocsin', 'missed'))} / {num(med('vmalert', 'missed'))} |")


def startups(a, evaluators, work, http_port):
    rules = rules_file(work, "B")
    mock = Mock(work, a.port, 10)
    got = {n: [] for n, _ in evaluators}
    try:
        for _ in range(a.runs):
            for n, b in evaluators:
                got[n].append(startup(n, b, flags(rules, a.port, http_port, "1m"), http_port,
                                      work, mock.qlog))
    finally:
        mock.close()
    print("\n| start-up, 20,000 rules (median of %d) | tocsin | vmalert | ratio |" % a.runs)
    print("|---|---|---|---|")
    for i, what in enumerate(["seconds from spawn to the first query",
                              "CPU seconds used by the first query",
                              "seconds from spawn to the first evaluation counted"]):
        t = median([x[i] for x in got["tocsin"]])
        v = median([x[i] for x in got["vmalert"]])
        print(f"| {what} | {t:.3f} | {v:.3f} | {ratio(t, v):.3f} |")
    print("\nruns: " + "; ".join(
        f"{n} " + ", ".join("/".join(f"{x:.3f}" for x in r) for r in got[n])
        for n, _ in evaluators))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tocsin", required=True)
    ap.add_argument("--vmalert", required=True)
    ap.add_argument("--peer-name", default="vmalert")
    ap.add_argument("--secs", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenarios", default="A,B,C,D,S")
    ap.add_argument("--port", type=int, default=22080)
    ap.add_argument("--work")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="tocsin-bench-")
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)  # nginx workers may run as another user
    evaluators = [("tocsin", a.tocsin), ("vmalert", a.vmalert)]
    keys = [k.strip().upper() for k in a.scenarios.split(",") if k.strip()]
    http_port = a.port + 10

    print(f"peer: {a.peer_name}; {a.runs} runs, measured {a.secs} s per evaluator, scenario "
          f"and run after {a.warmup} s of warm-up; load average before: {load()}; "
          f"logs in {work}\n", flush=True)
    rows, details = [], []
    for key in keys:
        if key in SCENARIOS:
            rows.append(scenario(key, a, evaluators, work, http_port, details))

    if rows:
        print(f"| scenario | tocsin CPU µs/eval | {a.peer_name} CPU µs/eval | ratio | "
              f"tocsin peak RSS MB | {a.peer_name} peak RSS MB | ratio | "
              "evaluations tocsin / peer | missed iterations tocsin / peer |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))
        print("\nEvery run (evaluations from the mock's query log; own: the evaluator's "
              "counter, n/a when /metrics did not answer within 20 s; errors, alerts sent "
              "and remote-write samples are totals since start):\n")
        print("| scenario | run | evaluator | evaluations | own count | CPU s | CPU µs/eval | "
              "peak RSS MB | rule errors | alerts sent | remote-write samples | cores busy | "
              "load average |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(details))

    if "S" in keys:
        startups(a, evaluators, work, http_port)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
