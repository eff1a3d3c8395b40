#!/usr/bin/env bash
# The main job: a demo of tocsin against real Prometheus and Alertmanager on loopback.
#   - installs Prometheus and Alertmanager from Debian's packages into .peers/ if needed;
#   - starts Prometheus (scraping itself, Alertmanager and tocsin; remote-write receiver on)
#     on 127.0.0.1:19090 and Alertmanager on 127.0.0.1:19093;
#   - checks the example rules in rules/ and runs tocsin on them on 127.0.0.1:8880.
# Ctrl-C stops all of it. Data lives in a temporary directory removed on exit.
# Other ports: PROM_PORT=29090 AM_PORT=29093 TOCSIN_PORT=18880 integration/demo.sh
# The demo refuses to start when a port is taken, and stops if one of its own servers
# did not come up: it never talks to servers it did not start.
set -euo pipefail
cd "$(dirname "$0")/.."
PROM_PORT=${PROM_PORT:-19090}
AM_PORT=${AM_PORT:-19093}
TOCSIN_PORT=${TOCSIN_PORT:-8880}

# Whether something accepts connections on 127.0.0.1:$1.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Refuses a taken port, naming who holds it and how to free it or pick another.
require_free() { # port, what, variable
  port_taken "$1" || return 0
  local who
  who=$(ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -1 || true)
  echo "demo: port $1 (for $2) is already taken${who:+ by $who}." >&2
  echo "  Free it (stop that process; 'ss -ltnp sport = :$1' shows it), or pick another" >&2
  echo "  port: $3=<free port> integration/demo.sh" >&2
  exit 1
}
require_free "$PROM_PORT" Prometheus PROM_PORT
require_free "$AM_PORT" Alertmanager AM_PORT
require_free "$TOCSIN_PORT" tocsin TOCSIN_PORT

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

# Waits until our own server (pid $1) answers $2; stops the demo with its log if it
# exited or never answered.
await_own() { # pid, url, name, log file (or "" when it logs to the terminal)
  for _ in $(seq 100); do
    if ! kill -0 "$1" 2>/dev/null; then
      echo "demo: $3 exited at start-up${4:+; its log ($4):}" >&2
      [ -n "$4" ] && tail -n 20 "$4" >&2
      exit 1
    fi
    curl -fs "$2" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "demo: $3 did not become ready at $2 within 20 s${4:+; its log ($4):}" >&2
  [ -n "$4" ] && tail -n 20 "$4" >&2
  exit 1
}

cat >"$tmp/prometheus.yml" <<CFG
global: { scrape_interval: 5s, evaluation_interval: 5s }
scrape_configs:
  - job_name: prometheus
    static_configs: [{ targets: ['127.0.0.1:$PROM_PORT'] }]
  - job_name: alertmanager
    static_configs: [{ targets: ['127.0.0.1:$AM_PORT'] }]
  - job_name: tocsin
    static_configs: [{ targets: ['127.0.0.1:$TOCSIN_PORT'] }]
  - job_name: nothing-here
    static_configs: [{ targets: ['127.0.0.1:19999'] }]
CFG
cat >"$tmp/alertmanager.yml" <<CFG
route: { receiver: log, group_wait: 5s, group_interval: 10s }
receivers: [{ name: log }]
CFG
"$bin/prometheus" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prom" \
  --web.listen-address=127.0.0.1:$PROM_PORT --web.enable-remote-write-receiver \
  --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
prom_pid=$!
"$bin/prometheus-alertmanager" --config.file="$tmp/alertmanager.yml" \
  --storage.path="$tmp/am" --web.listen-address=127.0.0.1:$AM_PORT \
  --cluster.listen-address= --log.level=warn >"$tmp/alertmanager.log" 2>&1 &
pids+=($!)
am_pid=$!
await_own "$prom_pid" "http://127.0.0.1:$PROM_PORT/-/ready" Prometheus "$tmp/prometheus.log"
await_own "$am_pid" "http://127.0.0.1:$AM_PORT/-/ready" Alertmanager "$tmp/alertmanager.log"

cat <<MSG

  Prometheus    http://127.0.0.1:$PROM_PORT   (logs: $tmp/prometheus.log)
  Alertmanager  http://127.0.0.1:$AM_PORT   (alerts arrive here: /#/alerts)
  tocsin        http://127.0.0.1:$TOCSIN_PORT    (status UI, /api/v1/rules, /api/v1/alerts, /metrics)

  The target 'nothing-here' is down on purpose: TargetDown goes pending, then fires after 1m.
  Press Ctrl-C to stop everything.

MSG
./target/release/tocsin -rule='rules/*.yml' -datasource.url=http://127.0.0.1:$PROM_PORT \
  -notifier.url=http://127.0.0.1:$AM_PORT -remoteWrite.url=http://127.0.0.1:$PROM_PORT \
  -remoteRead.url=http://127.0.0.1:$PROM_PORT -external.url=http://127.0.0.1:$TOCSIN_PORT \
  -httpListenAddr=127.0.0.1:$TOCSIN_PORT -evaluationInterval=15s &
pids+=($!)
await_own "${pids[-1]}" "http://127.0.0.1:$TOCSIN_PORT/-/ready" tocsin ""
# Returns when tocsin exits, or when Ctrl-C / SIGTERM runs the traps above.
wait "${pids[-1]}"
