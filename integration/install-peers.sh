#!/usr/bin/env bash
# Installs the real peers tocsin is tested against — Prometheus (+ promtool),
# Alertmanager and VictoriaMetrics (+ vmalert) — from Debian's packages into
# .peers/ of the repository, without running any service start-up scripts.
# Idempotent: packages already extracted are skipped.
# Prints nothing but errors; afterwards .peers/usr/bin holds the stable binaries and
# .peers/sid/usr/bin today's (see below).
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
# Today's versions (vmalert 1.145, Prometheus/promtool 3.5, Alertmanager 0.33) come from
# Debian's sid suite, through a private apt directory (its own sources list, lists and
# cache under .peers/sid-apt/) so the machine's own apt sources are never touched. They
# are unpacked into .peers/sid/ beside the stable set; tests find them through
# $TOCSIN_PEERS_SID_DIR (default .peers/sid/usr/bin).
sid="$dest/sid"
sidneed=()
[ -x "$sid/usr/bin/prometheus" ] || sidneed+=(prometheus)
[ -x "$sid/usr/bin/promtool" ] || sidneed+=(promtool)
[ -x "$sid/usr/bin/prometheus-alertmanager" ] || sidneed+=(prometheus-alertmanager)
[ -x "$sid/usr/bin/vmalert" ] || sidneed+=(victoria-metrics)
# Prometheus' Go sources: PromQL's own test suite (promql/promqltest/testdata/*.test) and
# promtool's rule-test files (cmd/promtool/testdata), the reference for tocsin's engine.
[ -d "$sid/usr/share/gocode/src/github.com/prometheus/prometheus/promql/promqltest/testdata" ] \
  || sidneed+=(golang-github-prometheus-prometheus-dev)
if [ ${#sidneed[@]} -gt 0 ]; then
  apt_dir="$dest/sid-apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/parts" \
    "$apt_dir/prefs" "$sid/debs"
  # The mirror this machine's apt already uses (deb822 or one-line format).
  mirror=$( { sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources
    sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?//p' /etc/apt/sources.list \
      /etc/apt/sources.list.d/*.list; } 2>/dev/null | tr ' ' '\n' \
    | grep -E '^https?://[^ ]+/debian/?$' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} sid main" \
    >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Etc::Preferences=$apt_dir/prefs/none" -o "Dir::Etc::PreferencesParts=$apt_dir/prefs"
    -o "APT::Sandbox::User=root")
  apt-get "${apt_opts[@]}" update -qq >/dev/null
  if ! (cd "$sid/debs" && apt-get "${apt_opts[@]}" download "${sidneed[@]}" >/dev/null 2>&1); then
    echo "install-peers: cannot download ${sidneed[*]} from $mirror sid" >&2
    exit 1
  fi
  for deb in "$sid"/debs/*.deb; do
    dpkg -x "$deb" "$sid"
  done
  rm -rf "$sid/debs" "$apt_dir"
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
# The Kubernetes schema check of integration/k8s/ (tests/k8s_manifests.rs):
# kubernetes-validate from PyPI, in its own virtualenv under .peers/py (Debian's
# python3 needs python3-venv for `-m venv`; .ci/run installs it).
kv="$dest/py/bin/kubernetes-validate"
if [ ! -x "$kv" ]; then
  rm -rf "$dest/py"
  if ! python3 -m venv "$dest/py" >/dev/null 2>&1; then
    echo "install-peers: python3 -m venv failed (install python3-venv)" >&2
    exit 1
  fi
  "$dest/py/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0 >/dev/null
fi
