#!/usr/bin/env bash
# Regenerates the expected outputs of tests/data/templates/cases.jsonl from the real
# programs each case names as its source: "promtool-2.42" and "promtool-3.5" cases become
# alerting rules whose annotation holds the template; `promtool test rules` reports the
# annotation it got (the test expects a value no template produces), and that text is
# stored as expected. "vmalert-1.79" and "vmalert-1.145" cases are rendered by that
# vmalert evaluating rules against a throwaway victoria-metrics holding the case series,
# and read back from vmalert's /api/v1/alerts. Cases from other sources are left
# untouched. The 2.42/1.79 binaries come from $TOCSIN_PEERS_DIR (default
# <repo>/.peers/usr/bin), the 3.5/1.145 ones from $TOCSIN_PEERS_SID_DIR (default
# <repo>/.peers/sid/usr/bin). Needs python3. Servers listen on 127.0.0.1 on free ports
# and are killed on exit.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
peers="${TOCSIN_PEERS_DIR:-$repo/.peers/usr/bin}"
sid="${TOCSIN_PEERS_SID_DIR:-$repo/.peers/sid/usr/bin}"
for p in "$peers/promtool" "$sid/promtool"; do
    [ -x "$p" ] || { echo "promtool not found at $p (run integration/install-peers.sh)" >&2; exit 1; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$repo/tests/data/templates" "$work" "$peers" "$sid" <<'PY'
import json, os, re, socket, subprocess, sys, time, urllib.request
data, work, peers, sid = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
PEERS = {"promtool-2.42": peers, "promtool-3.5": sid, "vmalert-1.79": peers, "vmalert-1.145": sid}
cases = [json.loads(l) for l in open(f"{data}/cases.jsonl", encoding="utf-8") if l.strip()]
env = json.load(open(f"{data}/series.json", encoding="utf-8"))
def q(s):
    """A YAML double-quoted scalar (JSON syntax; astral characters kept raw, not as
    surrogate pairs, and characters YAML cannot hold raw escaped)."""
    out = json.dumps(s, ensure_ascii=False)
    for ch in ("\x7f", "\x85", "\u2028", "\u2029", "\ufeff"):
        out = out.replace(ch, "\\u%04x" % ord(ch))
    return out
def sel(name, labels):
    return name + "{" + ",".join(f"{k}={q(v)}" for k, v in sorted(labels.items())) + "}"
def unquote(s, i):
    """Decodes the Go-quoted string starting after the opening quote at s[i-1]."""
    r = []
    while True:
        ch = s[i]
        if ch == '"': return "".join(r)
        if ch != "\\": r.append(ch); i += 1; continue
        e = s[i + 1]; i += 2
        simple = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\\": "\\", '"': '"', "'": "'"}
        if e in simple: r.append(simple[e])
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            code = int(s[i:i + n], 16); i += n
            if e == "x":
                # \xNN is a raw byte; collect consecutive ones and decode as UTF-8.
                bs = bytes([code])
                while s.startswith("\\x", i):
                    bs += bytes([int(s[i + 2:i + 4], 16)]); i += 4
                r.append(bs.decode("utf-8", "replace"))
            else: r.append(chr(code))
        else: raise ValueError("bad escape " + e)
def promtool_run(source):
    """Renders the cases of `source` through that promtool; returns how many."""
    promtool = f"{PEERS[source]}/promtool"
    live = [c for c in cases if c["source"] == source and c["kind"] != "parse_error"]
    parse_live = [c for c in cases if c["source"] == source and c["kind"] == "parse_error"]
    rules = ["groups:", "- name: cases", "  rules:"]
    test = ["rule_files: [rules.yml]", "evaluation_interval: 1m", "tests:", "- interval: 1m",
            f"  external_labels: {q(env['external_labels'])}", f"  external_url: {q(env['external_url'])}", "  input_series:"]
    for s in env["series"]:
        labels = dict(s["labels"]); name = labels.pop("__name__")
        test += [f"  - series: {q(sel(name, labels))}", f"    values: {q(str(s['value']))}"]
    for c in live:
        rules += [f"  - alert: {c['id']}", f"    expr: case_{c['id']}", "    annotations:", f"      a: {q(c['template'])}"]
        test += [f"  - series: {q(sel('case_' + c['id'], c['labels']))}", f"    values: {q(c['value'])}"]
    test.append("  alert_rule_test:")
    for c in live:
        test += ["  - eval_time: 0m", f"    alertname: {c['id']}",
                 "    exp_alerts: [{exp_labels: {}, exp_annotations: {a: \"__never__\"}}]"]
    open(f"{work}/rules.yml", "w").write("\n".join(rules) + "\n")
    open(f"{work}/test.yml", "w").write("\n".join(test) + "\n")
    out = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=work, capture_output=True, text=True)
    text = out.stdout + out.stderr
    got = {}
    for m in re.finditer(r"alertname: (c\d+), time:", text):
        gi = text.index("got:[", m.end())
        ai = text.find('Annotations:{a="', gi)
        nxt = text.find("alertname: ", m.end())
        if ai < 0 or (0 <= nxt < ai):
            continue
        got[m.group(1)] = unquote(text, ai + len('Annotations:{a="'))
    missing = [c["id"] for c in live if c["id"] not in got]
    if missing:
        sys.stderr.write(text[:4000])
        sys.exit(f"no promtool output for {len(missing)} cases: {missing[:20]}")
    for c in live:
        c["expected"] = got[c["id"]]

    # Parse errors: `promtool check rules` names each failing rule's template error; the
    # expected text is "LINE: MESSAGE" (Go reports no column).
    if parse_live:
        prules = ["groups:", "- name: parse", "  rules:"]
        for c in parse_live:
            prules += [f"  - alert: {c['id']}", "    expr: up", "    annotations:", f"      a: {q(c['template'])}"]
        open(f"{work}/parse.yml", "w").write("\n".join(prules) + "\n")
        pout = subprocess.run([promtool, "check", "rules", "parse.yml"], cwd=work, capture_output=True, text=True)
        ptext = pout.stdout + pout.stderr
        perr = {m.group(1): m.group(2) for m in re.finditer(r'"(c\d+)": annotation "a": template: __alert_c\d+:(.*)', ptext)}
        pmissing = [c["id"] for c in parse_live if c["id"] not in perr]
        if pmissing:
            sys.exit(f"promtool accepted templates listed as parse errors: {pmissing}")
        for c in parse_live:
            c["expected"] = perr[c["id"]]
    return len(live) + len(parse_live)

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def http(url, body=None):
    with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=10) as r:
        return r.read().decode()

def vmalert_run(source):
    """Renders the cases of `source` through that vmalert; returns how many."""
    peers = PEERS[source]
    vm_live = [c for c in cases if c["source"] == source]
    if not vm_live:
        return 0
    vm_port, alert_port = free_port(), free_port()
    procs = []
    try:
        procs.append(subprocess.Popen([f"{peers}/victoria-metrics", f"-storageDataPath={work}/vmdata-{source}",
                                       f"-httpListenAddr=127.0.0.1:{vm_port}", "-loggerLevel=ERROR"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        base = f"http://127.0.0.1:{vm_port}"
        for _ in range(100):
            try:
                http(f"{base}/health"); break
            except OSError:
                time.sleep(0.1)
        # Samples a minute old: victoria-metrics hides the newest 30s from queries.
        ts = int(time.time() * 1000) - 60_000
        lines = []
        for s in env["series"]:
            labels = dict(s["labels"]); name = labels.pop("__name__")
            lines.append(f"{sel(name, labels)} {s['value']} {ts}")
        for c in vm_live:
            lines.append(f"{sel('case_' + c['id'], c['labels'])} {c['value']} {ts}")
        http(f"{base}/api/v1/import/prometheus", "\n".join(lines).encode())
        http(f"{base}/internal/force_flush")
        vrules = ["groups:", "- name: cases", "  interval: 1s", "  rules:"]
        for c in vm_live:
            vrules += [f"  - alert: {c['id']}", f"    expr: case_{c['id']}", "    annotations:", f"      a: {q(c['template'])}"]
        open(f"{work}/vmrules.yml", "w").write("\n".join(vrules) + "\n")
        args = [f"{peers}/vmalert", f"-rule={work}/vmrules.yml", f"-datasource.url={base}",
                "-notifier.url=http://127.0.0.1:1", f"-httpListenAddr=127.0.0.1:{alert_port}",
                "-evaluationInterval=1s", f"-external.url={env['external_url']}", "-loggerLevel=ERROR"]
        args += [f"-external.label={k}={v}" for k, v in env["external_labels"].items()]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(f"{work}/vmalert-{source}.log", "w")))
        vgot = {}
        for _ in range(150):
            time.sleep(0.2)
            try:
                alerts = json.loads(http(f"http://127.0.0.1:{alert_port}/api/v1/alerts"))["data"]["alerts"] or []
            except OSError:
                continue
            vgot = {a["name"]: a["annotations"].get("a", "") for a in alerts}
            if all(c["id"] in vgot for c in vm_live):
                break
        missing = [c["id"] for c in vm_live if c["id"] not in vgot]
        if missing:
            sys.stderr.write(open(f"{work}/vmalert-{source}.log").read()[-4000:])
            sys.exit(f"no {source} output for {missing}")
        for c in vm_live:
            c["expected"] = vgot[c["id"]]
    finally:
        for p in procs:
            p.kill(); p.wait()
    return len(vm_live)

counts = {src: promtool_run(src) for src in ("promtool-2.42", "promtool-3.5")}
counts.update({src: vmalert_run(src) for src in ("vmalert-1.79", "vmalert-1.145")})
with open(f"{data}/cases.jsonl", "w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"updated {counts}; {len(cases) - sum(counts.values())} kept")
PY
