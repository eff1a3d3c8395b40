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
[ ${#need[@]} -eq 0 ] && exit 0
if ! (cd "$dest/debs" && apt-get download "${need[@]}" >/dev/null 2>&1); then
  apt-get update -qq >/dev/null
  (cd "$dest/debs" && apt-get download "${need[@]}" >/dev/null 2>&1)
fi
for deb in "$dest"/debs/*.deb; do
  dpkg -x "$deb" "$dest"
done
rm -rf "$dest/debs"
