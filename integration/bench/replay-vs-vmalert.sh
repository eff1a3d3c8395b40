#!/usr/bin/env bash
# Replay (backfill) speed: vmalert -replay.* against `tocsin replay` on the same rules,
# range and datasource. A single-node VictoriaMetrics holds generated data (SERIES
# series, one sample a minute, DAYS days); each evaluator writes into its own
# VictoriaMetrics, and the two outputs are compared sample by sample afterwards.
# Data and rules: integration/bench/replay_data.py and replay-rules.yml (shared with
# backtest-vs-replay.sh and tests/backtest.rs).
# Measures wall time, the evaluator's CPU (user+sys) and peak RSS with /usr/bin/time -v.
# The receivers accept remote-write requests up to 256 MB (-maxInsertRequestSize; 32 MB by
# default): vmalert 1.145's replay sent a 36 MB request (uncompressed) in one run, which
# the default refused, and vmalert exited.
# Usage: integration/bench/replay-vs-vmalert.sh [DAYS] [SERIES] [CONCURRENCY] [MAXPOINTS]
#        (defaults 7, 200, 2, 1000; CONCURRENCY is -replay.ruleEvaluationConcurrency —
#        vmalert 1.79 has no such flag and replays rules one after another; MAXPOINTS is
#        -replay.maxDatapointsPerQuery for both. vmalert restarts `for` at every window
#        boundary, so its ALERTS differ from tocsin's (and Prometheus') for alerts
#        pending across a boundary; recorded series must be identical.)
# Environment: PEER=1.145 (default: vmalert and victoria-metrics 1.145 from Debian sid,
# .peers/sid) or PEER=1.79 (1.79.5 from Debian stable, .peers/usr/bin); RUNS=3 (each
# run replays with both evaluators; the figures printed last are the medians);
# BENCH_PORT_BASE=N to use ports N…N+3 (else any free ports); TOCSIN=… a tocsin binary
# instead of building this tree's; CARGO_TARGET_DIR is honoured.
# Exit status 3 when the two outputs differ (ALERTS do, see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
DAYS=${1:-7}
SERIES=${2:-200}
CONC=${3:-2}
MAXPTS=${4:-1000}
RUNS=${RUNS:-3}
case ${PEER:-1.145} in
  1.79*) PEERS=${TOCSIN_PEERS_DIR:-$PWD/.peers/usr/bin}; vm_conc=() ;;
  1.145*) PEERS=${TOCSIN_PEERS_SID_DIR:-$PWD/.peers/sid/usr/bin}
          vm_conc=(-replay.ruleEvaluationConcurrency="$CONC") ;;
  *) echo "PEER is 1.145 or 1.79" >&2; exit 1 ;;
esac
for b in vmalert victoria-metrics; do
  [[ -x $PEERS/$b ]] || { echo "missing $PEERS/$b: run integration/install-peers.sh" >&2; exit 1; }
done
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# BENCH_PORT_BASE=N: use ports N…N+3 (for shared machines with assigned ranges);
# otherwise any free ports.
port_for() { # index
  if [[ -n ${BENCH_PORT_BASE:-} ]]; then echo $(( BENCH_PORT_BASE + $1 )); return; fi
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
start_vm() { # name port-index → sets VM_URL (not in a subshell, so that cleanup kills it)
  local port; port=$(port_for "$2")
  "$PEERS/victoria-metrics" -storageDataPath="$work/$1" -httpListenAddr=127.0.0.1:$port \
    -search.latencyOffset=0s -search.disableCache -retentionPeriod=100y -maxInsertRequestSize=256MB >"$work/$1.log" 2>&1 &
  pids+=($!)
  VM_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf "$VM_URL/health" >/dev/null && break; sleep 0.1; done
}
start_vm source 0; SRC=$VM_URL
start_vm out-vmalert 1; OUT_VM=$VM_URL
start_vm out-tocsin 2; OUT_T=$VM_URL

now=$(date +%s)
to=$(( (now - 3600) / 3600 * 3600 ))
from=$(( to - DAYS * 86400 ))
echo "generating $SERIES series x $((DAYS * 1440 + 1)) minutes into VictoriaMetrics…"
python3 integration/bench/replay_data.py "$from" "$to" "$SERIES" > "$work/data.prom"
curl -sf --data-binary @"$work/data.prom" "$SRC/api/v1/import/prometheus"
curl -sf "$SRC/internal/force_flush" >/dev/null
echo "imported $(wc -l < "$work/data.prom") samples"

RULES=$PWD/integration/bench/replay-rules.yml

from_rfc=$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%SZ)
to_rfc=$(date -u -d "@$to" +%Y-%m-%dT%H:%M:%SZ)
if [[ -z ${TOCSIN:-} ]]; then
  cargo build --release --quiet --bin tocsin
  TOCSIN=${CARGO_TARGET_DIR:-$PWD/target}/release/tocsin
fi

measure() { # name cmd… → prints "wall cpu rss"
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>&1 || {
    echo "$name failed:" >&2; tail -20 "$work/$name.out" >&2; exit 1; }
  python3 - "$work/$name.time" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
g = lambda k: re.search(re.escape(k) + r":\s*(.+)", t).group(1).strip()
wall = g("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
cpu = float(g("User time (seconds)")) + float(g("System time (seconds)"))
rss = int(g("Maximum resident set size (kbytes)")) / 1024
print(f"{secs:.2f} {cpu:.2f} {rss:.1f}")
PY
}

echo "replaying $from_rfc .. $to_rfc ($DAYS days, 5 rules, 1m interval), $RUNS runs"
runs=()
for ((run = 1; run <= RUNS; run++)); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  read -r vm_wall vm_cpu vm_rss < <(measure vmalert "$PEERS/vmalert" -rule="$RULES" \
    -datasource.url="$SRC" -remoteWrite.url="$OUT_VM" \
    -replay.timeFrom="$from_rfc" -replay.timeTo="$to_rfc" -replay.rulesDelay=0 \
    -remoteWrite.maxQueueSize=10000000 "${vm_conc[@]}" \
    -replay.maxDatapointsPerQuery="$MAXPTS" -replay.disableProgressBar -datasource.queryStep=1m -httpListenAddr=127.0.0.1:$(port_for 3))
  read -r t_wall t_cpu t_rss < <(measure tocsin "$TOCSIN" replay --from="$from_rfc" --to="$to_rfc" \
    -rule="$RULES" -datasource.url="$SRC" -remoteWrite.url="$OUT_T" \
    -replay.rulesDelay=0 -replay.disableProgressBar -replay.ruleEvaluationConcurrency="$CONC" \
    -replay.maxDatapointsPerQuery="$MAXPTS")
  echo "run $run (load $load): vmalert $vm_wall s wall, $vm_cpu s CPU, $vm_rss MiB; tocsin $t_wall s, $t_cpu s, $t_rss MiB"
  runs+=("$vm_wall $vm_cpu $vm_rss $t_wall $t_cpu $t_rss")
done
tail -3 "$work/tocsin.out"

curl -sf "$OUT_VM/internal/force_flush" >/dev/null; curl -sf "$OUT_T/internal/force_flush" >/dev/null
sleep 2
for o in vmalert:$OUT_VM tocsin:$OUT_T; do
  curl -sf "${o#*:}/api/v1/export" -d 'match[]={__name__=~"instance:.*|job:.*|ALERTS|ALERTS_FOR_STATE"}' > "$work/${o%%:*}.export"
done
same=0
python3 - "$work/vmalert.export" "$work/tocsin.export" <<'PY' || same=$?
import json, math, sys
def load(p):
    s = set()
    for line in open(p):
        d = json.loads(line)
        key = tuple(sorted(d["metric"].items()))
        for t, v in zip(d["timestamps"], d["values"]):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue  # staleness markers: vmalert's replay writes none
            s.add((key, t, round(float(v), 9)))
    return s
a, b = load(sys.argv[1]), load(sys.argv[2])
rec = lambda s: {x for x in s if not x[0][0][1].startswith("ALERTS")}
print(f"recorded samples: vmalert {len(rec(a))}, tocsin {len(rec(b))}, identical: {rec(a) == rec(b)}")
print(f"samples: vmalert {len(a)}, tocsin {len(b)}, only vmalert {len(a - b)}, only tocsin {len(b - a)}")
for x in sorted(a - b)[:5]: print("  only vmalert:", x)
for x in sorted(b - a)[:5]: print("  only tocsin:", x)
sys.exit(0 if a == b else 3)
PY
printf '%s\n' "${runs[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
r = lambda i: statistics.median(row[i] / max(row[i - 3], 0.01) for row in rows)
print("median of %d runs  wall s    cpu s  rss MiB" % len(rows))
print("vmalert         %8.2f %8.2f %8.1f" % tuple(med[0:3]))
print("tocsin          %8.2f %8.2f %8.1f" % tuple(med[3:6]))
print(f"tocsin/vmalert (median of the per-run ratios): CPU {r(4):.3f}, wall {r(3):.3f}, RSS {r(5):.3f}")
'
echo "versions: vmalert and victoria-metrics from $(ls "$PEERS/../share/doc" 2>/dev/null | tr '\n' ' ')(Debian packages; see integration/install-peers.sh), tocsin ${TOCSIN_REV:-$(git rev-parse --short HEAD)}"
exit $same
