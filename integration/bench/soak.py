#!/usr/bin/env python3
"""Soak probes of tocsin under hostile scale and load (issue 14), on the release build.
Each prints a markdown table for docs/benchmarks.md. Not a test: nothing here asserts a
time; the figures are recorded with the machine's load average.

  groups   100,000 groups of one rule (interval 1h): spawn → port listening, spawn →
           ready (every group scheduled), RSS and open file descriptors; a reload to
           1 group and back (POST /-/reload answers once the reload is applied); then
           the same groups at a 1m interval against the mock datasource, with the
           descriptors counted while they evaluate. Every phase with tocsin's CPU
           seconds beside the wall time, and the CPU evaluation alone takes per
           second just before the reloads (the reloads' CPU includes it).
  api      2,000 rules (100 groups × 20, every 10s) against the mock; 200 concurrent
           clients on /api/v1/rules for --secs seconds beside evaluation: evaluation
           ticks missed, request statuses (200 / 503) and latencies, /-/healthy latency.
  hostile  answers of every size (1 KiB … 200 MiB) from the mock: what the rule shows
           (health, lastError), peak RSS during and RSS after.
  signals  SIGTERM at the worst moments: during the start-up load of --groups groups,
           during a reload from 1 group to --groups, during a replay, and under the API
           storm of the api probe; how long until tocsin logs that it is shutting down
           (the signal handled) and until it has exited, --reps times each.

Called by integration/soak.sh, which builds tocsin and starts nothing else.
Usage: soak.py --tocsin BIN --probes groups,api,hostile,signals [--groups 100000]
       [--secs 60] [--reps 3]
Every server binds a free port (others run tests on this machine at the same time).
"""
import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20


def get(url, timeout=10, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return None, b""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_secs(pid):
    """User + system CPU seconds the process has used: what a loaded machine cannot
    hide (the wall-clock times stretch with the load average, these do not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def metric_sum(base, pattern):
    _, body = get(f"{base}/metrics", timeout=30)
    total = 0.0
    for line in body.decode("utf-8", "replace").splitlines():
        if re.match(pattern, line):
            try:
                total += float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return total


class Tocsin:
    def __init__(self, binary, work, port, rules, datasource, extra=(), sub=()):
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(work, f"tocsin-{port}.log"), "w")
        self.t0 = time.monotonic()
        listen = [] if sub else [f"-httpListenAddr=127.0.0.1:{port}"]
        self.p = subprocess.Popen(
            [binary, *sub, f"-rule={rules}", f"-datasource.url={datasource}", *listen, *extra],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_for(self, path, want=200, limit=600):
        while time.monotonic() - self.t0 < limit:
            if self.p.poll() is not None:
                sys.exit(f"tocsin exited ({self.p.returncode}); see {self.log.name}")
            status, _ = get(self.base + path, timeout=2)
            if status == want:
                return time.monotonic() - self.t0
            time.sleep(0.01)
        sys.exit(f"{path} never answered {want}")

    def terminate(self):
        """SIGTERM now: seconds until the log says it is shutting down, and until
        the process has exited (None if it was still running after 60 s)."""
        sent = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        handled = None
        while time.monotonic() - sent < 60:
            if handled is None and logged(self.log.name, "shutting down"):
                handled = time.monotonic() - sent
            if self.p.poll() is not None:
                break
            time.sleep(0.002)
        exited = time.monotonic() - sent if self.p.poll() is not None else None
        if handled is None and logged(self.log.name, "shutting down"):
            handled = exited
        if exited is None:
            self.p.kill()
            self.p.wait()
        self.log.close()
        return handled, exited

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
        self.log.close()


def logged(path, text):
    try:
        with open(path, errors="replace") as f:
            return text in f.read()
    except OSError:
        return False


def write_groups(path, n, interval):
    with open(path + ".tmp", "w") as f:
        f.write("groups:\n")
        for i in range(n):
            f.write(f"- name: g{i}\n  interval: {interval}\n  rules:\n"
                    f"  - alert: A{i}\n    expr: up{{job=\"j{i}\"}} == 0\n")
    os.replace(path + ".tmp", path)


def bench_rules(path, interval):
    """2,000 rules (100 groups × 20, rules.py) at `interval`, written to `path`."""
    out = subprocess.run([sys.executable, os.path.join(HERE, "rules.py"), "100", "20", interval],
                         capture_output=True, text=True, check=True).stdout
    with open(path, "w") as f:
        f.write(out)
    return path


def reload(t):
    start = time.monotonic()
    status, body = get(t.base + "/-/reload", timeout=600, method="POST")
    if status != 200:
        sys.exit(f"reload failed: {status} {body[:200]!r}")
    return time.monotonic() - start


def probe_groups(a, work, mock):
    n = a.groups
    rules = os.path.join(work, "groups.yml")
    rows = []
    for interval, ds in (("1h", "http://127.0.0.1:1"), ("1m", mock)):
        write_groups(rules, n, interval)
        t = Tocsin(a.tocsin, work, free_port(), rules, ds)
        listening = t.wait_for("/-/healthy")
        ready = t.wait_for("/-/ready")
        cpu_ready = cpu_secs(t.p.pid)
        time.sleep(2)
        rss, fd_up = proc_status(t.p.pid, "VmRSS"), fds(t.p.pid)
        # Watch the descriptors while the groups evaluate (1m: all of them in a minute).
        fd_max = fd_up
        if interval == "1m":
            end = time.monotonic() + 70
            while time.monotonic() < end:
                fd_max = max(fd_max, fds(t.p.pid))
                time.sleep(0.5)
        # What evaluation alone costs per second just before the reload: the reloads'
        # CPU seconds include it for as long as they take (at 1m, 100,000 groups keep
        # evaluating while they are stopped), which a loaded machine stretches.
        c0 = cpu_secs(t.p.pid)
        time.sleep(5)
        background = (cpu_secs(t.p.pid) - c0) / 5
        write_groups(rules, 1, interval)
        c0 = cpu_secs(t.p.pid)
        down = reload(t)
        cpu_down = cpu_secs(t.p.pid) - c0
        # Some of a reload's work may go on after its answer (snapshots of removed
        # groups freed on a blocking thread): counted here, not in the next phase.
        time.sleep(3)
        cpu_down_after = cpu_secs(t.p.pid) - c0
        fd_one = fds(t.p.pid)
        write_groups(rules, n, interval)
        c0 = cpu_secs(t.p.pid)
        up = reload(t)
        cpu_up = cpu_secs(t.p.pid) - c0
        time.sleep(2)
        fd_max = max(fd_max, fds(t.p.pid))
        hwm = proc_status(t.p.pid, "VmHWM")
        missed = metric_sum(t.base, r"^tocsin_group_iterations_missed_total\b")
        t.stop()
        rows.append((interval, listening, ready, down, up, rss, hwm, fd_up, fd_one, fd_max, missed,
                     cpu_ready, cpu_down, cpu_up, background, cpu_down_after))
    print(f"\n### {n:,} groups of one rule\n")
    print("| interval | spawn → listening | spawn → ready (CPU) | CPU/s before reload "
          "| reload → 1 (CPU at the answer / 3 s later) "
          "| reload 1 → all (CPU) | RSS | peak RSS | fds at ready | fds at 1 group | fds max "
          "| missed ticks |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (iv, li, re_, dn, up, rss, hwm, f1, f2, f3, mi, c_re, c_dn, c_up, bg, c_dn3) in rows:
        print(f"| {iv} | {li:.2f} s | {re_:.2f} s ({c_re:.2f} s) | {bg:.2f} s | "
              f"{dn:.2f} s ({c_dn:.2f} s / {c_dn3:.2f} s) | {up:.2f} s ({c_up:.2f} s) | "
              f"{rss/MIB:.0f} MiB | "
              f"{hwm/MIB:.0f} MiB | {f1} | {f2} | {f3} | {mi:.0f} |")


def hammer(url, stop, stats, lock):
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    conn = None
    while not stop.is_set():
        start = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            r = conn.getresponse()
            r.read()
            status = r.status
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = "error"
            conn = None
        took = time.monotonic() - start
        with lock:
            stats.setdefault(status, []).append(took)
        if status == 503:
            time.sleep(0.05)


def pct(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def probe_api(a, work, mock):
    rules = bench_rules(os.path.join(work, "api.yml"), "10s")
    t = Tocsin(a.tocsin, work, free_port(), rules, mock,
               ["-remoteWrite.url=" + mock, "-notifier.url=" + mock])
    t.wait_for("/-/ready")
    time.sleep(12)  # every group evaluated once
    missed0 = metric_sum(t.base, r"^tocsin_group_iterations_missed_total\b")
    evals0 = metric_sum(t.base, r"^tocsin_rule_evaluations_total\b")
    stop, lock, stats = threading.Event(), threading.Lock(), {}
    paths = ["/api/v1/rules", "/api/v1/alerts"]
    threads = [threading.Thread(target=hammer, args=(t.base + paths[i % 2], stop, stats, lock))
               for i in range(200)]
    for th in threads:
        th.start()
    healthy = []
    end = time.monotonic() + a.secs
    while time.monotonic() < end:
        s = time.monotonic()
        status, _ = get(t.base + "/-/healthy", timeout=10)
        healthy.append(time.monotonic() - s if status == 200 else float("inf"))
        time.sleep(0.5)
    stop.set()
    for th in threads:
        th.join()
    missed = metric_sum(t.base, r"^tocsin_group_iterations_missed_total\b") - missed0
    evals = metric_sum(t.base, r"^tocsin_rule_evaluations_total\b") - evals0
    renders = metric_sum(t.base, r"^tocsin_http_renders_total\{path=\"/api/v1/(rules|alerts)\"")
    hwm = proc_status(t.p.pid, "VmHWM")
    t.stop()
    ok = stats.get(200, [])
    print(f"\n### API load: 200 clients on /api/v1/rules and /api/v1/alerts for {a.secs} s, "
          "2,000 rules every 10 s\n")
    print("| rule evaluations | missed ticks | 200 answers | p50 / p90 / p99 (200) | 503 answers | errors "
          "| renders | peak RSS | /-/healthy p50 / max |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {evals:.0f} | {missed:.0f} | {len(ok)} | {pct(ok, .5)*1000:.0f} / {pct(ok, .9)*1000:.0f} / "
          f"{pct(ok, .99)*1000:.0f} ms | {len(stats.get(503, []))} | {len(stats.get('error', []))} | "
          f"{renders:.0f} | {hwm/MIB:.0f} MiB | {pct(healthy, .5)*1000:.1f} / {max(healthy)*1000:.1f} ms |")


SIZES = [("1KiB", 1 << 10), ("1MiB", MIB), ("10MiB", 10 * MIB), ("60MiB", 60 * MIB),
         ("100MiB", 100 * MIB), ("200MiB", 200 * MIB)]


def write_answer(path, size):
    """A vector answer of about `size` bytes, series of 148 bytes each."""
    one = ('{"metric":{"__name__":"up","instance":"host-%08d:9100","job":"node","pad":"%s"},'
           '"value":[1700000000,"1"]}')
    pad = "x" * 40
    head = '{"status":"success","data":{"resultType":"vector","result":['
    with open(path, "w") as f:
        f.write(head)
        written, i = len(head), 0
        while written < size - 200:
            s = ("," if i else "") + one % (i, pad)
            f.write(s)
            written += len(s)
            i += 1
        f.write("]}}")


def probe_hostile(a, work, mock_dir, mock):
    rows = []
    rules = os.path.join(work, "hostile.yml")
    with open(rules, "w") as f:
        f.write("groups:\n- name: hostile\n  interval: 5s\n  rules:\n"
                "  - record: job:up\n    expr: up\n")
    for name, size in SIZES:
        write_answer(os.path.join(mock_dir, "query.json"), size)
        t = Tocsin(a.tocsin, work, free_port(), rules, mock, ["-remoteWrite.url=" + mock])
        t.wait_for("/-/ready")
        rule, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline:
            _, body = get(t.base + "/api/v1/rules", timeout=30)
            try:
                rule = json.loads(body)["data"]["groups"][0]["rules"][0]
            except (ValueError, KeyError, IndexError):
                rule = None
            if rule and rule.get("health") != "unknown":
                break
            time.sleep(0.5)
        time.sleep(11)  # two more evaluations
        hwm, rss = proc_status(t.p.pid, "VmHWM"), proc_status(t.p.pid, "VmRSS")
        t.stop()
        err = " ".join((rule or {}).get("lastError", "").split())
        rows.append((name, (rule or {}).get("health", "?"), err[:90], hwm, rss))
    print("\n### Hostile datasource answers (-datasource.maxResponseSize at its default, 64 MiB)\n")
    print("| answer | rule health | lastError | peak RSS | RSS after |")
    print("|---|---|---|---|---|")
    for name, health, err, hwm, rss in rows:
        print(f"| {name} | {health} | {err.replace('|', '/') or '—'} | {hwm/MIB:.0f} MiB | {rss/MIB:.0f} MiB |")


def signal_start_up(a, work, mock):
    """SIGTERM while --groups groups load at start-up (the port already answers)."""
    rules = os.path.join(work, "signals.yml")
    if not os.path.exists(rules):
        write_groups(rules, a.groups, "1h")
    t = Tocsin(a.tocsin, work, free_port(), rules, mock)
    t.wait_for("/-/healthy")
    mid = get(t.base + "/-/ready", timeout=2)[0] == 503
    return t.terminate(), mid


def signal_reload(a, work, mock):
    """SIGTERM while a reload from 1 group to --groups is applied."""
    rules = os.path.join(work, "signals-reload.yml")
    write_groups(rules, 1, "1h")
    t = Tocsin(a.tocsin, work, free_port(), rules, mock)
    t.wait_for("/-/ready")
    write_groups(rules, a.groups, "1h")
    done = threading.Event()
    threading.Thread(target=lambda: (get(t.base + "/-/reload", timeout=600, method="POST"),
                                     done.set()), daemon=True).start()
    time.sleep(0.3)
    mid = not done.is_set()
    return t.terminate(), mid


def signal_replay(a, work, mock):
    """SIGTERM a second into a replay of 2,000 rules over 30 days."""
    rules = bench_rules(os.path.join(work, "signals-replay.yml"), "1m")
    t = Tocsin(a.tocsin, work, free_port(), rules, mock,
               ["-replay.disableProgressBar=true"], sub=["replay", "--from=-30d", "--report"])
    time.sleep(1)
    mid = t.p.poll() is None
    return t.terminate(), mid


def signal_api(a, work, mock):
    """SIGTERM with 200 clients on /api/v1/rules and /api/v1/alerts, 2,000 rules."""
    rules = bench_rules(os.path.join(work, "signals-api.yml"), "10s")
    t = Tocsin(a.tocsin, work, free_port(), rules, mock,
               ["-remoteWrite.url=" + mock, "-notifier.url=" + mock])
    t.wait_for("/-/ready")
    stop, lock, stats = threading.Event(), threading.Lock(), {}
    paths = ["/api/v1/rules", "/api/v1/alerts"]
    threads = [threading.Thread(target=hammer, args=(t.base + paths[i % 2], stop, stats, lock),
                                daemon=True) for i in range(200)]
    for th in threads:
        th.start()
    time.sleep(5)
    mid = bool(stats.get(200))
    result = t.terminate()
    stop.set()
    return result, mid


def probe_signals(a, work, mock):
    cases = [(f"start-up, {a.groups:,} groups loading", signal_start_up),
             (f"reload 1 → {a.groups:,} groups", signal_reload),
             ("replay, 2,000 rules over 30 days", signal_replay),
             ("200 API clients, 2,000 rules", signal_api)]
    print(f"\n### SIGTERM at the worst moments ({a.reps} runs each)\n")
    print("| during | signal → shutdown logged (median / max) | signal → exited (median / max) | mid-way every run |")
    print("|---|---|---|---|")
    for name, case in cases:
        handled, exited, mids = [], [], []
        for _ in range(a.reps):
            (h, e), mid = case(a, work, mock)
            handled.append(h if h is not None else float("inf"))
            exited.append(e if e is not None else float("inf"))
            mids.append(mid)
        print(f"| {name} | {pct(handled, .5)*1000:.0f} / {max(handled)*1000:.0f} ms | "
              f"{pct(exited, .5)*1000:.0f} / {max(exited)*1000:.0f} ms | {'yes' if all(mids) else 'no'} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tocsin", required=True)
    p.add_argument("--probes", default="groups,api,hostile,signals")
    p.add_argument("--groups", type=int, default=100_000)
    p.add_argument("--secs", type=int, default=60)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tocsin-soak-") as work:
        # nginx's workers run unprivileged: they must reach mock/ through this directory
        # (created 0700), or every answer is a 403.
        os.chmod(work, 0o755)
        mock_dir = os.path.join(work, "mock")
        conf = subprocess.run([sys.executable, os.path.join(HERE, "mock.py"), mock_dir,
                               str(port), "10"], capture_output=True, text=True,
                              check=True).stdout.strip()
        nginx = subprocess.Popen(["nginx", "-c", conf], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        mock = f"http://127.0.0.1:{port}"
        try:
            for _ in range(100):
                if get(mock + "/")[0] == 200:
                    break
                time.sleep(0.05)
            probes = a.probes.split(",")
            if "groups" in probes:
                probe_groups(a, work, mock)
            if "api" in probes:
                probe_api(a, work, mock)
            if "hostile" in probes:
                probe_hostile(a, work, mock_dir, mock)
            if "signals" in probes:
                probe_signals(a, work, mock)
        finally:
            nginx.terminate()
            nginx.wait()


if __name__ == "__main__":
    main()
