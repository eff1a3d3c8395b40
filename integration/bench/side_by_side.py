#!/usr/bin/env python3
"""Runs tocsin and vmalert one after the other with identical flags and rule files against
the same nginx mock (mock.py), and prints a markdown table per scenario: CPU µs per rule
evaluation, peak RSS, missed iterations and the tocsin/vmalert ratios; then the time from
spawn to the first counted evaluation with 20,000 rules.

Called by side-by-side.sh, which builds tocsin and checks the prerequisites.

Usage: side_by_side.py --tocsin BIN --vmalert BIN [--secs 60] [--warmup 5]
                       [--scenarios A,B,C,D,S] [--port 22080] [--work DIR]
"""
import argparse
import os
import re
import signal
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


def wait_metrics(url, p, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return None
        text = scrape(url)
        if text is not None:
            return text
        time.sleep(0.05)
    return None


def measure(name, binary, args, http_port, secs, warmup, logdir):
    """Runs one evaluator: warm-up, then `secs` measured seconds."""
    m = METRICS[name]
    url = f"http://127.0.0.1:{http_port}/metrics"
    with open(os.path.join(logdir, f"{name}.log"), "ab") as log:
        p = spawn(binary, args, log)
        try:
            if wait_metrics(url, p) is None:
                raise RuntimeError(f"{name} did not start; see {logdir}/{name}.log")
            time.sleep(warmup)
            # An overloaded evaluator answers /metrics slowly: wait for it, and read the
            # CPU counter right after each answer so both cover the same window.
            e0 = metric_sum(scrape(url, timeout=20), m["evals"])
            c0 = cpu_seconds(p.pid)
            time.sleep(secs)
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited while measured; see {logdir}/{name}.log")
            text = scrape(url, timeout=20)
            c1 = cpu_seconds(p.pid)
            e1 = metric_sum(text, m["evals"])
            rss = peak_rss_kb(p.pid)
        finally:
            stop(p)
    # None when /metrics did not answer in time: the evaluator is overloaded.
    evals = e1 - e0 if e0 is not None and e1 is not None else float("nan")
    return {
        "cpu_s": c1 - c0,
        "evals": evals,
        "us_per_eval": (c1 - c0) * 1e6 / evals if evals else float("nan"),
        "cores": (c1 - c0) / secs,
        "rss_mb": rss / 1024,
        # tocsin shows a group's missed counter once it has missed a tick: absent is 0.
        "missed": (metric_sum(text, m["missed"]) or 0) if text else float("nan"),
        "errors": metric_sum(text, m["errors"]) or 0,
        "alerts_sent": metric_sum(text, m["alerts_sent"]) or 0,
        "rw_samples": metric_sum(text, m["rw_samples"]) or 0,
    }


def startup(name, binary, args, http_port, logdir, timeout=60):
    """Seconds from spawn to the first evaluation counted on /metrics (polled every 5 ms)."""
    url = f"http://127.0.0.1:{http_port}/metrics"
    with open(os.path.join(logdir, f"{name}-startup.log"), "ab") as log:
        t0 = time.monotonic()
        p = spawn(binary, args, log)
        try:
            while time.monotonic() - t0 < timeout:
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited; see {logdir}/{name}-startup.log")
                if (metric_sum(scrape(url), METRICS[name]["evals"]) or 0) > 0:
                    return time.monotonic() - t0
                time.sleep(0.005)
            return float("nan")
        finally:
            stop(p)


class Mock:
    def __init__(self, work, port, series):
        self.dir = os.path.join(work, f"mock-{series}")
        conf = subprocess.check_output(
            [sys.executable, os.path.join(HERE, "mock.py"), self.dir, str(port), str(series)],
            text=True).strip()
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


def rules_file(work, key):
    _, groups, per, interval, _, alerting_only, _ = SCENARIOS[key]
    path = os.path.join(work, f"rules-{key}.yml")
    cmd = [sys.executable, os.path.join(HERE, "rules.py"), str(groups), str(per), interval]
    if alerting_only:
        cmd.append("--alerting-only")
    with open(path, "w") as f:
        subprocess.check_call(cmd, stdout=f)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tocsin", required=True)
    ap.add_argument("--vmalert", required=True)
    ap.add_argument("--secs", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
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

    print(f"measured {a.secs} s per evaluator and scenario after {a.warmup} s of warm-up; "
          f"load average before: {os.getloadavg()[0]:.2f}; logs in {work}\n", flush=True)
    rows, details = [], []
    for key in keys:
        if key not in SCENARIOS:
            continue
        desc, _, _, _, series, _, resend = SCENARIOS[key]
        rules = rules_file(work, key)
        mock = Mock(work, a.port, series)
        try:
            res = {}
            for name, binary in evaluators:
                args = flags(rules, a.port, http_port, resend)
                res[name] = measure(name, binary, args, http_port, a.secs, a.warmup, work)
                r = res[name]
                details.append(
                    f"| {key} | {name} | {num(r['evals'])} | {r['cpu_s']:.2f} | "
                    f"{int(r['errors'])} | {int(r['alerts_sent'])} | {int(r['rw_samples'])} | "
                    f"{r['cores']:.2f} |")
                print(f"  {key} {name}: {r}", file=sys.stderr, flush=True)
        finally:
            mock.close()
        t, v = res["tocsin"], res["vmalert"]
        rows.append(
            f"| {key}: {desc} | {t['us_per_eval']:.1f} | {v['us_per_eval']:.1f} | "
            f"**{ratio(t['us_per_eval'], v['us_per_eval']):.3f}** | {t['rss_mb']:.1f} | "
            f"{v['rss_mb']:.1f} | **{ratio(t['rss_mb'], v['rss_mb']):.3f}** | "
            f"{num(t['missed'])} / {num(v['missed'])} |")

    print("| scenario | tocsin CPU µs/eval | vmalert CPU µs/eval | ratio | tocsin peak RSS MB "
          "| vmalert peak RSS MB | ratio | missed iterations tocsin / vmalert |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if details:
        print("\nSanity counters over the measured window (errors, alerts sent and "
              "remote-write samples are totals since start; n/a: /metrics did not answer "
              "within 20 s, the evaluator was overloaded):\n")
        print("| scenario | evaluator | rule evaluations | CPU s | rule errors | "
              "alerts sent | remote-write samples | cores busy |")
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(details))

    if "S" in keys:
        rules = rules_file(work, "B")
        mock = Mock(work, a.port, 10)
        try:
            s = {n: startup(n, b, flags(rules, a.port, http_port, "1m"), http_port, work)
                 for n, b in evaluators}
        finally:
            mock.close()
        print("\n| start-up to first evaluation, 20,000 rules | tocsin | vmalert | ratio |")
        print("|---|---|---|---|")
        print(f"| seconds from spawn | {s['tocsin']:.3f} | {s['vmalert']:.3f} | "
              f"{ratio(s['tocsin'], s['vmalert']):.3f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
