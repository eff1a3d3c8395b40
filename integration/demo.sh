#!/usr/bin/env bash
# The main job: a demo of tocsin against real Prometheus and Alertmanager on loopback.
#   - installs Prometheus and Alertmanager from Debian's packages into .peers/ if needed;
#   - starts Prometheus (scraping itself, Alertmanager and tocsin; remote-write receiver on)
#     on 127.0.0.1:19090 and Alertmanager on 127.0.0.1:19093;
#   - checks the example rules in rules/ and runs tocsin on them on 127.0.0.1:8880.
# Ctrl-C stops all of it. Data lives in a temporary directory removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
./integration/install-peers.sh
cargo build --release --locked
bin=.peers/usr/bin
tmp=$(mktemp -d)
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 150); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

./target/release/tocsin check rules/*.yml

cat >"$tmp/prometheus.yml" <<CFG
global: { scrape_interval: 5s, evaluation_interval: 5s }
scrape_configs:
  - job_name: prometheus
    static_configs: [{ targets: ['127.0.0.1:19090'] }]
  - job_name: alertmanager
    static_configs: [{ targets: ['127.0.0.1:19093'] }]
  - job_name: tocsin
    static_configs: [{ targets: ['127.0.0.1:8880'] }]
  - job_name: nothing-here
    static_configs: [{ targets: ['127.0.0.1:19999'] }]
CFG
cat >"$tmp/alertmanager.yml" <<CFG
route: { receiver: log, group_wait: 5s, group_interval: 10s }
receivers: [{ name: log }]
CFG
"$bin/prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
  --web.listen-address=127.0.0.1:19090 --web.enable-remote-write-receiver \
  --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
"$bin/prometheus-alertmanager" --config.file="$tmp/alertmanager.yml" \
  --storage.path="$tmp/am" --web.listen-address=127.0.0.1:19093 \
  --cluster.listen-address= --log.level=warn >"$tmp/alertmanager.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -fs http://127.0.0.1:19090/-/ready >/dev/null 2>&1 && curl -fs http://127.0.0.1:19093/-/ready >/dev/null 2>&1 && break
  sleep 0.2
done

cat <<MSG

  Prometheus    http://127.0.0.1:19090   (logs: $tmp/prometheus.log)
  Alertmanager  http://127.0.0.1:19093   (alerts arrive here: /#/alerts)
  tocsin        http://127.0.0.1:8880    (status UI, /api/v1/rules, /api/v1/alerts, /metrics)

  The target 'nothing-here' is down on purpose: TargetDown goes pending, then fires after 1m.
  Press Ctrl-C to stop everything.

MSG
./target/release/tocsin -rule='rules/*.yml' -datasource.url=http://127.0.0.1:19090 \
  -notifier.url=http://127.0.0.1:19093 -remoteWrite.url=http://127.0.0.1:19090 \
  -remoteRead.url=http://127.0.0.1:19090 -external.url=http://127.0.0.1:8880 \
  -httpListenAddr=127.0.0.1:8880 -evaluationInterval=15s &
pids+=($!)
# Returns when tocsin exits, or when Ctrl-C / SIGTERM runs the traps above.
wait "${pids[-1]}"
