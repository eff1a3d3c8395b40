#!/usr/bin/env bash
# Wall time of `promtool test rules` 3.5 and `tocsin test rules` (release build) on the
# same generated file of N test groups (integration/bench/mkruletests.py), process
# start included. Both must pass the file, or the timing means nothing.
# Usage: integration/bench/ruletest-vs-promtool.sh [N] [RUNS]   (defaults 200, 10)
# Uses hyperfine when installed (apt-get install hyperfine); otherwise timed loops.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-200}
RUNS=${2:-10}
PROMTOOL=${TOCSIN_PEERS_SID_DIR:-$PWD/.peers/sid/usr/bin}/promtool
[[ -x $PROMTOOL ]] || { echo "missing $PROMTOOL: run integration/install-peers.sh" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 integration/bench/mkruletests.py "$work" "$N"
cargo build --release --quiet --bin tocsin
ours=$PWD/target/release/tocsin
echo "file: $N test groups, $(wc -l < "$work/tests.yml") lines"
for cmd in "$PROMTOOL" "$ours"; do
  (cd "$work" && "$cmd" test rules tests.yml >/dev/null 2>&1) || { echo "$cmd failed the tests" >&2; exit 1; }
done
if command -v hyperfine >/dev/null; then
  (cd "$work" && hyperfine --warmup 1 --runs "$RUNS" -N \
    -n promtool "$PROMTOOL test rules tests.yml" -n tocsin "$ours test rules tests.yml")
  exit 0
fi
for name in promtool tocsin; do
  cmd=$PROMTOOL; [[ $name == tocsin ]] && cmd=$ours
  start=$(date +%s%N)
  for _ in $(seq "$RUNS"); do (cd "$work" && "$cmd" test rules tests.yml >/dev/null 2>&1); done
  end=$(date +%s%N)
  echo "$name: $(( (end - start) / RUNS / 1000000 )) ms mean over $RUNS runs"
done
