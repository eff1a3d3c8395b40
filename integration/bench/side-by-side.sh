#!/usr/bin/env bash
# tocsin against vmalert, side by side: same rule files, same flags, same datasource and
# sinks (an nginx mock serving a canned instant-query answer and swallowing alerts and
# remote writes), one evaluator after the other. Prints markdown tables: CPU µs per rule
# evaluation, peak RSS, missed iterations and the tocsin/vmalert ratios for
#   A  2,000 rules (half alerting, half recording), 10 series per answer, every 10s
#   B  20,000 rules, 10 series, every 60s
#   C  200 rules, 1,000 series per answer, every 10s
#   D  500 alerting rules whose 10 alerts all fire, -rule.resendDelay=0 on both sides
#   S  start-up: spawn to the first query and to the first evaluation counted, with B's
#      20,000 rules
# Each scenario runs RUNS times (tocsin, then vmalert, per run); the tables show medians,
# ratios taken within a run. Evaluations are counted from the mock's query log.
#
# Usage: integration/bench/side-by-side.sh
#   SECS=60        measured seconds per evaluator, scenario and run (20 for a quick look)
#   WARMUP=5       seconds before measuring
#   RUNS=3
#   SCENARIOS=A,B,C,D,S
#   PORT=22080     the mock's port; evaluators listen on PORT+10
#   PEER=1.145     vmalert 1.145 from Debian sid (.peers/sid, the default), or PEER=1.79
#                  for vmalert 1.79.5 from Debian stable (.peers/usr/bin)
#   VMALERT=…      any other vmalert binary (overrides PEER)
#   TOCSIN=…       a tocsin binary to measure instead of building this tree's
#
# Needs nginx (installed with apt-get when run as root), python3, curl and a Rust
# toolchain; builds tocsin in release mode first. Close other work on the machine:
# compare ratios measured in one run, not absolute figures across runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
case ${PEER:-1.145} in
  1.79*) peer_dir=${TOCSIN_PEERS_DIR:-$PWD/.peers/usr/bin} ;;
  1.145*) peer_dir=${TOCSIN_PEERS_SID_DIR:-$PWD/.peers/sid/usr/bin} ;;
  *) echo "PEER is 1.145 or 1.79" >&2; exit 1 ;;
esac
VMALERT=${VMALERT:-$peer_dir/vmalert}
[[ -x $VMALERT ]] || { echo "missing $VMALERT: run integration/install-peers.sh" >&2; exit 1; }
if ! command -v nginx >/dev/null && [[ -x /usr/sbin/nginx ]]; then PATH=$PATH:/usr/sbin; fi
if ! command -v nginx >/dev/null; then
  if [[ $(id -u) == 0 ]]; then
    echo "installing nginx-light (the mock datasource)…" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }
    PATH=$PATH:/usr/sbin
  else
    echo "needs nginx: sudo apt-get install -y nginx-light" >&2; exit 1
  fi
fi
if [[ -z ${TOCSIN:-} ]]; then
  cargo build --release --quiet --bin tocsin
  TOCSIN=${CARGO_TARGET_DIR:-target}/release/tocsin
fi
# Debian's vmalert build prints an empty -version; its package changelog names it.
vmver=$("$VMALERT" -version 2>&1 | head -1)
log=$(dirname "$VMALERT")/../share/doc/victoria-metrics/changelog.Debian.gz
[[ -z $vmver && -f $log ]] && vmver=$(zcat "$log" | head -1 | sed 's/.*(\(.*\)).*/\1/')
echo "tocsin ${TOCSIN_REV:-$(git rev-parse --short HEAD 2>/dev/null || echo '?')}, vmalert ${vmver:-?}," \
  "$(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
exec python3 integration/bench/side_by_side.py --tocsin "$TOCSIN" \
  --vmalert "$VMALERT" --peer-name "vmalert ${vmver:-?}" --runs "${RUNS:-3}" \
  --secs "${SECS:-60}" --warmup "${WARMUP:-5}" --scenarios "${SCENARIOS:-A,B,C,D,S}" --port "${PORT:-22080}"
