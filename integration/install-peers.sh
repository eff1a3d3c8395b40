#!/usr/bin/env bash
# Installs the real peers tocsin is tested against — Prometheus (+ promtool),
# Alertmanager and VictoriaMetrics (+ vmalert) — from Debian's packages into
# .peers/ of the repository, without running any service start-up scripts.
# Idempotent: packages already extracted are skipped.
# Prints nothing but errors; afterwards .peers/usr/bin holds the binaries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/.peers"
mkdir -p "$dest/debs"
need=()
[ -x "$dest/usr/bin/prometheus" ] || need+=(prometheus)
[ -x "$dest/usr/bin/prometheus-alertmanager" ] || need+=(prometheus-alertmanager)
[ -x "$dest/usr/bin/vmalert" ] || need+=(victoria-metrics)
if [ ${#need[@]} -gt 0 ]; then
  if ! (cd "$dest/debs" && apt-get download "${need[@]}" >/dev/null 2>&1); then
    apt-get update -qq >/dev/null
    (cd "$dest/debs" && apt-get download "${need[@]}" >/dev/null 2>&1)
  fi
  for deb in "$dest"/debs/*.deb; do
    dpkg -x "$deb" "$dest"
  done
  rm -rf "$dest/debs"
fi
# Debian's Alertmanager looks for its notification templates at a fixed path; without
# them every config load fails ("failed to parse templates").
tdir=/usr/share/prometheus/alertmanager
for t in "$dest$tdir"/*.tmpl; do
  [ -f "$tdir/$(basename "$t")" ] && continue
  if ! { mkdir -p "$tdir" && cp "$t" "$tdir/"; } 2>/dev/null; then
    echo "install-peers: cannot install $tdir/$(basename "$t") (run as root); Alertmanager will reject its config" >&2
  fi
done
