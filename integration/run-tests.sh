#!/usr/bin/env bash
# The test command: installs the real peers (Prometheus, Alertmanager, VictoriaMetrics
# from Debian's packages) into .peers/ when missing, runs the whole test suite, then the
# status UI's tests in headless Chromium (integration/browser/, screenshots kept in
# integration/browser/screenshots/). Tests that need a peer fail under CI=true when it
# cannot be found.
set -euo pipefail
cd "$(dirname "$0")/.."
./integration/install-peers.sh
export TOCSIN_PEERS_DIR="$PWD/.peers/usr/bin"
export TOCSIN_PEERS_SID_DIR="$PWD/.peers/sid/usr/bin"
cargo build --locked
cargo test --locked "$@"
# A focused run (`run-tests.sh --test web_api`) skips the browser tests.
if [ $# -eq 0 ]; then
  ./integration/browser/run.sh
fi
