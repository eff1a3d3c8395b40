#!/usr/bin/env bash
# Backtest speed: `tocsin backtest` of a threshold change and a `for` change against one
# `tocsin replay` of the same rules, on the replay benchmark's data and rules
# (integration/bench/replay_data.py: SERIES series `load{instance,job}`, one sample a
# minute, DAYS days, in a single-node VictoriaMetrics from Debian sid; rules from
# replay-rules.yml). The replay is measured twice:
# in report mode (writes nothing, as the backtest) and writing to a second
# VictoriaMetrics (the replay benchmark's setting). Wall time, CPU (user+sys) and peak
# RSS by /usr/bin/time -v; RUNS runs (default 3), medians of the per-run ratios.
# Usage: integration/bench/backtest-vs-replay.sh [DAYS] [SERIES] [CONCURRENCY]
#        (defaults 7, 200, 2). TOCSIN=… a tocsin binary instead of building this tree's
#        (release); BENCH_PORT_BASE=N to use ports N…N+1.
set -euo pipefail
cd "$(dirname "$0")/../.."
DAYS=${1:-7}
SERIES=${2:-200}
CONC=${3:-2}
RUNS=${RUNS:-3}
PEERS=${TOCSIN_PEERS_SID_DIR:-$PWD/.peers/sid/usr/bin}
[[ -x $PEERS/victoria-metrics ]] || { echo "missing $PEERS/victoria-metrics: run integration/install-peers.sh" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port_for() {
  if [[ -n ${BENCH_PORT_BASE:-} ]]; then echo $(( BENCH_PORT_BASE + $1 )); return; fi
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
start_vm() { # name port-index → prints URL
  local port; port=$(port_for "$2")
  "$PEERS/victoria-metrics" -storageDataPath="$work/$1" -httpListenAddr=127.0.0.1:$port \
    -search.latencyOffset=0s -search.disableCache -retentionPeriod=100y >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
  echo "http://127.0.0.1:$port"
}
SRC=$(start_vm source 0); OUT=$(start_vm out 1)

now=$(date +%s)
to=$(( (now - 3600) / 3600 * 3600 ))
from=$(( to - DAYS * 86400 ))
python3 integration/bench/replay_data.py "$from" "$to" "$SERIES" > "$work/data.prom"
curl -sf --data-binary @"$work/data.prom" "$SRC/api/v1/import/prometheus"
curl -sf "$SRC/internal/force_flush" >/dev/null
echo "imported $(wc -l < "$work/data.prom") samples"
rm "$work/data.prom"

cp integration/bench/replay-rules.yml "$work/old.yml"
# One threshold and one `for` changed.
sed -e 's/load > 1.0/load > 0.95/' -e 's/for: 10m/for: 5m/' "$work/old.yml" > "$work/new.yml"

from_rfc=$(date -u -d "@$from" +%Y-%m-%dT%H:%M:%SZ)
to_rfc=$(date -u -d "@$to" +%Y-%m-%dT%H:%M:%SZ)
if [[ -z ${TOCSIN:-} ]]; then
  cargo build --release --quiet --bin tocsin
  TOCSIN=${CARGO_TARGET_DIR:-$PWD/target}/release/tocsin
fi
common=(--from="$from_rfc" --to="$to_rfc" -datasource.url="$SRC" -replay.disableProgressBar
        -replay.ruleEvaluationConcurrency="$CONC")

measure() { # name cmd… → prints "wall cpu rss"
  local name=$1; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "$name failed:" >&2; tail -20 "$work/$name.err" >&2; exit 1; }
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

echo "$from_rfc .. $to_rfc ($DAYS days, $SERIES series, 5 rules per side), $RUNS runs"
rows=()
for ((run = 1; run <= RUNS; run++)); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  read -r r_wall r_cpu r_rss < <(measure replay "$TOCSIN" replay --report "${common[@]}" -rule="$work/old.yml")
  read -r w_wall w_cpu w_rss < <(measure write "$TOCSIN" replay "${common[@]}" -rule="$work/old.yml" \
    -remoteWrite.url="$OUT" -replay.rulesDelay=0)
  read -r b_wall b_cpu b_rss < <(measure backtest "$TOCSIN" backtest --old "$work/old.yml" \
    --new "$work/new.yml" "${common[@]}")
  echo "run $run (load $load): replay --report $r_wall s / $r_cpu s CPU / $r_rss MiB;" \
    "replay writing $w_wall s / $w_cpu s / $w_rss MiB; backtest $b_wall s / $b_cpu s / $b_rss MiB"
  rows+=("$r_wall $r_cpu $r_rss $w_wall $w_cpu $w_rss $b_wall $b_cpu $b_rss")
done
head -4 "$work/backtest.out"
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
r = lambda i, j: statistics.median(row[i] / max(row[j], 0.01) for row in rows)
print("backtest / replay --report (median of per-run ratios): wall %.3f, CPU %.3f, RSS %.3f" % (r(6, 0), r(7, 1), r(8, 2)))
print("backtest / replay writing   (median of per-run ratios): wall %.3f, CPU %.3f, RSS %.3f" % (r(6, 3), r(7, 4), r(8, 5)))
'
echo "tocsin ${TOCSIN_REV:-$(git rev-parse --short HEAD)}, victoria-metrics from $PEERS"
