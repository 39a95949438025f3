#!/usr/bin/env bash
# Installs the Debian packages the tests run against, when they are missing:
# Chromium (dashboards, driven by playwright-core), CJK fonts (zh-CN screenshots),
# and InfluxDB 1.x (the production time-series store). Never skips silently:
# if a package cannot be installed, the test run stops here with the reason.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
command -v influxd >/dev/null 2>&1 || need+=(influxdb)

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-system-deps: missing Debian packages: ${need[*]}" >&2
  echo "ensure-system-deps: run as root, or install them: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi

echo "ensure-system-deps: installing ${need[*]} (Debian packages; needed by the tests)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
# The Debian influxdb package may start a system service on the default port; the tests
# start their own server on a free port with a temp data dir, so stop the system one.
if printf '%s\n' "${need[@]}" | grep -qx influxdb; then
  (systemctl stop influxdb 2>/dev/null || service influxdb stop 2>/dev/null || pkill -x influxd 2>/dev/null) || true
fi
