#!/usr/bin/env bash
# Regenerates the expected outputs of tests/data/templates/cases.jsonl from real
# Prometheus: every case whose source is "promtool-2.42" becomes an alerting rule whose
# annotation holds the template; `promtool test rules` reports the annotation it got
# (the test expects a value no template produces), and that text is stored as expected.
# Cases from other sources (vmalert-only functions) are left untouched.
# Needs python3 and promtool ($TOCSIN_PEERS_DIR or <repo>/.peers/usr/bin).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
peers="${TOCSIN_PEERS_DIR:-$repo/.peers/usr/bin}"
promtool="$peers/promtool"
[ -x "$promtool" ] || { echo "promtool not found at $promtool (run integration/install-peers.sh)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$repo/tests/data/templates" "$work" "$promtool" <<'PY'
import json, subprocess, sys, re
data, work, promtool = sys.argv[1], sys.argv[2], sys.argv[3]
cases = [json.loads(l) for l in open(f"{data}/cases.jsonl", encoding="utf-8") if l.strip()]
env = json.load(open(f"{data}/series.json", encoding="utf-8"))
q = lambda s: json.dumps(s, ensure_ascii=True)
def sel(name, labels):
    return name + "{" + ",".join(f"{k}={q(v)}" for k, v in sorted(labels.items())) + "}"
live = [c for c in cases if c["source"].startswith("promtool")]
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
with open(f"{data}/cases.jsonl", "w", encoding="utf-8") as f:
    for c in cases:
        f.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"updated {len(live)} cases from promtool; {len(cases) - len(live)} cases from other sources kept")
PY
