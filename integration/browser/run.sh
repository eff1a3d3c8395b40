#!/usr/bin/env bash
# Runs the status UI's browser tests: installs playwright-core from the lock file (npm ci)
# when missing, then node's test runner over tests/. Needs Debian's chromium, the peers
# (integration/install-peers.sh) and target/debug/tocsin (cargo build). Under CI=true a
# missing piece fails the run instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
rm -rf screenshots
exec node --test --test-concurrency=1 --test-reporter=spec tests/
