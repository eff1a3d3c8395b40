#!/usr/bin/env bash
# Backtest speed: `tocsin backtest` of a threshold change and a `for` change against one
# `tocsin replay` of the same rules, on the replay benchmark's data and rules
# (integration/bench/replay_data.py: SERIES series `load{instance,job}`, one sample a
# minute, DAYS days, in a single-node VictoriaMetrics from Debian sid; rules from
# replay-rules.yml). The replay is measured twice:
# in report mode (writes nothing, as the backtest) and writing to a second
# VictoriaMetrics (the replay benchmark's setting). Wall time, CPU (user+sys) and peak
# RSS by /usr/bin/time -v, and the CPU the source VictoriaMetrics spent answering
# (from /proc: where the wall time beyond tocsin's own CPU goes); RUNS runs (default 5),
# medians of the per-run ratios. The wall time of one command swings 2x between runs on
# a busy machine: the CPU figures are the steadier ones.
# Usage: integration/bench/backtest-vs-replay.sh [DAYS] [SERIES] [CONCURRENCY]
#        (defaults 7, 200, 2). TOCSIN=… a tocsin binary instead of building this tree's
#        (release); BENCH_PORT_BASE=N to use ports N…N+1.
set -euo pipefail
cd "$(dirname "$0")/../.."
DAYS=${1:-7}
SERIES=${2:-200}
CONC=${3:-2}
RUNS=${RUNS:-5}
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
start_vm() { # name port-index → sets VM_URL and VM_PID (not in a subshell: cleanup kills it)
  local port; port=$(port_for "$2")
  "$PEERS/victoria-metrics" -storageDataPath="$work/$1" -httpListenAddr=127.0.0.1:$port \
    -search.latencyOffset=0s -search.disableCache -retentionPeriod=100y >"$work/$1.log" 2>&1 &
  VM_PID=$!
  pids+=("$VM_PID")
  VM_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf "$VM_URL/health" >/dev/null && break; sleep 0.1; done
}
start_vm source 0; SRC=$VM_URL; SRC_PID=$VM_PID
start_vm out 1; OUT=$VM_URL; OUT_PID=$VM_PID
# CPU seconds (user+sys) a process has used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
src_cpu() { cpu_of "$SRC_PID"; }
# After the writing replay the receiving VictoriaMetrics keeps flushing and merging for a
# few seconds: wait until it is idle (under 0.02 s of CPU in half a second, at most 20 s),
# so that it does not compete with the next run's commands.
settle_out() {
  for _ in $(seq 40); do
    local a b; a=$(cpu_of "$OUT_PID"); sleep 0.5; b=$(cpu_of "$OUT_PID")
    python3 -c "import sys; sys.exit(0 if $b - $a < 0.02 else 1)" && return
  done
}

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

measure() { # name cmd… → prints "wall cpu rss datasource-cpu"
  local name=$1; shift
  local before; before=$(src_cpu)
  /usr/bin/time -v -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "$name failed:" >&2; tail -20 "$work/$name.err" >&2; exit 1; }
  python3 - "$work/$name.time" "$before" "$(src_cpu)" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
g = lambda k: re.search(re.escape(k) + r":\s*(.+)", t).group(1).strip()
wall = g("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
cpu = float(g("User time (seconds)")) + float(g("System time (seconds)"))
rss = int(g("Maximum resident set size (kbytes)")) / 1024
ds = float(sys.argv[3]) - float(sys.argv[2])
print(f"{secs:.2f} {cpu:.2f} {rss:.1f} {ds:.2f}")
PY
}

echo "$from_rfc .. $to_rfc ($DAYS days, $SERIES series, 5 rules per side), $RUNS runs"
rows=()
for ((run = 1; run <= RUNS; run++)); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  # The report-mode replay and the backtest in turn (odd runs replay first, even runs
  # backtest first), then the writing replay, whose target is left to settle.
  replay_report() { measure replay "$TOCSIN" replay --report "${common[@]}" -rule="$work/old.yml"; }
  backtest() { measure backtest "$TOCSIN" backtest --old "$work/old.yml" --new "$work/new.yml" "${common[@]}"; }
  if ((run % 2)); then
    read -r r_wall r_cpu r_rss r_ds < <(replay_report)
    read -r b_wall b_cpu b_rss b_ds < <(backtest)
  else
    read -r b_wall b_cpu b_rss b_ds < <(backtest)
    read -r r_wall r_cpu r_rss r_ds < <(replay_report)
  fi
  read -r w_wall w_cpu w_rss w_ds < <(measure write "$TOCSIN" replay "${common[@]}" -rule="$work/old.yml" \
    -remoteWrite.url="$OUT" -replay.rulesDelay=0)
  settle_out
  echo "run $run (load $load): replay --report $r_wall s / $r_cpu s CPU / $r_rss MiB / datasource $r_ds s CPU;" \
    "replay writing $w_wall s / $w_cpu s / $w_rss MiB / $w_ds s; backtest $b_wall s / $b_cpu s / $b_rss MiB / $b_ds s"
  rows+=("$r_wall $r_cpu $r_rss $r_ds $w_wall $w_cpu $w_rss $w_ds $b_wall $b_cpu $b_rss $b_ds")
done
head -4 "$work/backtest.out"
printf '%s\n' "${rows[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
r = lambda i, j: statistics.median(row[i] / max(row[j], 0.01) for row in rows)
print("backtest / replay --report (median of per-run ratios): wall %.3f, CPU %.3f, RSS %.3f, datasource CPU %.3f" % (r(8, 0), r(9, 1), r(10, 2), r(11, 3)))
print("backtest / replay writing   (median of per-run ratios): wall %.3f, CPU %.3f, RSS %.3f, datasource CPU %.3f" % (r(8, 4), r(9, 5), r(10, 6), r(11, 7)))
'
echo "tocsin ${TOCSIN_REV:-$(git rev-parse --short HEAD)}, victoria-metrics from $PEERS"
