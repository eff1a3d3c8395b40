#!/usr/bin/env bash
# Soak probes of tocsin under hostile scale and load (see integration/bench/soak.py):
#   groups   100,000 groups: start-up, reload to 1 and back, RSS, file descriptors
#   api      200 concurrent API clients beside 2,000 rules: missed ticks, 503s, latencies
#   hostile  datasource answers from 1 KiB to 200 MiB: rule health, peak RSS
#   signals  SIGTERM during start-up, a reload, a replay and the API storm: time to the
#            shutdown's first log line and to exit
# Not a test: it prints markdown tables for docs/benchmarks.md. The machine is shared;
# record the load average beside the figures.
#
# Usage: integration/soak.sh [PROBES=groups,api,hostile,signals] [GROUPS=100000] [SECS=60] [REPS=3]
# Needs nginx (the mock datasource; apt-get install nginx-light), python3 and Rust.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nginx >/dev/null && [[ -x /usr/sbin/nginx ]]; then PATH=$PATH:/usr/sbin; fi
command -v nginx >/dev/null || { echo "needs nginx: apt-get install -y nginx-light" >&2; exit 1; }
cargo build --release --quiet --bin tocsin
echo "tocsin $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores," \
  "$(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
PYTHONUNBUFFERED=1 exec python3 integration/bench/soak.py --tocsin target/release/tocsin \
  --probes "${PROBES:-groups,api,hostile,signals}" --groups "${GROUPS:-100000}" \
  --secs "${SECS:-60}" --reps "${REPS:-3}"
