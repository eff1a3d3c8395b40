#!/usr/bin/env bash
# Wall time to load and validate the same 10,000-rule file with `promtool check rules`,
# `vmalert -dryRun` and tocsin's loader (examples/check_rules, release build).
# Usage: integration/bench/load-vs-promtool.sh [RUNS]   (default 10)
# Uses hyperfine when installed (apt-get install hyperfine); otherwise timed loops.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-10}
PEERS=${TOCSIN_PEERS_DIR:-$PWD/.peers/usr/bin}
MKRULES=${TOCSIN_MKRULES:-/work/shared/bench/mkrules.py}
for b in promtool vmalert; do
  [[ -x $PEERS/$b ]] || { echo "missing $PEERS/$b: run integration/install-peers.sh" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 "$MKRULES" 500 20 10s > "$work/rules.yml"
cargo build --release --quiet --example check_rules
ours=$PWD/target/release/examples/check_rules
echo "file: $(wc -l < "$work/rules.yml") lines, $(du -h "$work/rules.yml" | cut -f1), 10000 rules"

declare -A cmds=(
  [promtool]="$PEERS/promtool check rules $work/rules.yml"
  [vmalert]="$PEERS/vmalert -dryRun -rule=$work/rules.yml -loggerLevel=ERROR"
  [tocsin]="$ours $work/rules.yml"
)
for name in promtool vmalert tocsin; do
  # Every tool must accept the file, or the timing means nothing.
  (cd "$work" && ${cmds[$name]} >/dev/null 2>&1) || { echo "$name rejected the file" >&2; exit 1; }
done

if command -v hyperfine >/dev/null; then
  (cd "$work" && hyperfine --warmup 1 --runs "$RUNS" -N \
    -n promtool "${cmds[promtool]}" -n vmalert "${cmds[vmalert]}" -n tocsin "${cmds[tocsin]}")
  exit 0
fi
for name in promtool vmalert tocsin; do
  start=$(date +%s%N)
  for _ in $(seq "$RUNS"); do (cd "$work" && ${cmds[$name]} >/dev/null 2>&1); done
  end=$(date +%s%N)
  echo "$name: $(( (end - start) / RUNS / 1000000 )) ms mean over $RUNS runs"
done
