#!/usr/bin/env bash
# The main job: builds tocsin and checks the example rules in rules/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
./target/release/tocsin check rules/*.yml
