#!/usr/bin/env python3
"""Reload latency of tocsin (issue 5's benchmark).

1. Edit latency: 100 edits of a rule file, each adding a rule with a new name; the time
   from the write to the new rule being visible in /api/v1/rules. Prints p50 and max.
2. No-op reload: POST /-/reload on an instance holding 10,000 rules whose files did not
   change; prints p50 and max over 20 reloads.

Usage: reload_latency.py [TOCSIN_BINARY]   (default: target/release/tocsin)
The datasource is a closed port: rules fail fast, which does not matter here.
"""
import json, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target/release/tocsin")
mkrules = os.path.join(root, "..", "shared", "bench", "mkrules.py")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def start(rule_glob, tmp):
    port = free_port()
    dead = free_port()
    log = open(os.path.join(tmp, f"tocsin-{port}.log"), "w")
    p = subprocess.Popen([binary, f"-rule={rule_glob}", f"-datasource.url=http://127.0.0.1:{dead}",
                          f"-remoteWrite.url=http://127.0.0.1:{dead}", f"-httpListenAddr=127.0.0.1:{port}", "-loggerLevel=ERROR"],
                         stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            get(base + "/-/ready")
            return p, base
        except Exception:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("tocsin did not start; see " + log.name)


def rules_file(names):
    out = ["groups:", "  - name: bench", "    interval: 1m", "    rules:"]
    for n in names:
        out += [f"      - alert: {n}", "        expr: vector(1)"]
    return "\n".join(out) + "\n"


def main():
    tmp = tempfile.mkdtemp()
    d = os.path.join(tmp, "rules")
    os.mkdir(d)
    path = os.path.join(d, "r.yml")
    with open(path, "w") as f:
        f.write(rules_file(["R0"]))
    p, base = start(os.path.join(d, "*.yml"), tmp)
    lat = []
    names = ["R0"]
    try:
        for i in range(1, 101):
            names.append(f"R{i}")
            with open(path, "w") as f:
                f.write(rules_file(names))
            t0 = time.monotonic()
            while True:
                body = json.loads(get(base + f"/api/v1/rules?rule_name[]=R{i}"))
                if any(r["name"] == f"R{i}" for g in body["data"]["groups"] for r in g["rules"]):
                    break
                if time.monotonic() - t0 > 10:
                    raise SystemExit(f"edit {i} not visible after 10 s")
                time.sleep(0.005)
            lat.append(time.monotonic() - t0)
    finally:
        p.terminate()
        p.wait()
    print(f"edit -> visible over {len(lat)} edits: p50 {statistics.median(lat)*1000:.0f} ms, "
          f"max {max(lat)*1000:.0f} ms")

    big = os.path.join(tmp, "big")
    os.mkdir(big)
    with open(os.path.join(big, "rules-10k.yml"), "w") as f:
        subprocess.run([sys.executable, mkrules, "500", "20", "10s"], stdout=f, check=True)
    p, base = start(os.path.join(big, "*.yml"), tmp)
    noop = []
    try:
        for _ in range(20):
            t0 = time.monotonic()
            req = urllib.request.Request(base + "/-/reload", method="POST")
            urllib.request.urlopen(req, timeout=30).read()
            noop.append(time.monotonic() - t0)
    finally:
        p.terminate()
        p.wait()
    print(f"no-op reload of 10,000 rules over {len(noop)} reloads: p50 {statistics.median(noop)*1000:.1f} ms, "
          f"max {max(noop)*1000:.1f} ms")


if __name__ == "__main__":
    main()
