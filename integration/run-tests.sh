#!/usr/bin/env bash
# The test command: installs the real peers (Prometheus, Alertmanager, VictoriaMetrics
# from Debian's packages) into .peers/ when missing, then runs the whole test suite.
# Tests that need a peer fail under CI=true when it cannot be found.
set -euo pipefail
cd "$(dirname "$0")/.."
./integration/install-peers.sh
export TOCSIN_PEERS_DIR="$PWD/.peers/usr/bin"
exec cargo test --locked "$@"
