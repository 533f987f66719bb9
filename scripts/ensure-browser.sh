#!/usr/bin/env bash
# Make sure Debian's headless Chromium and its driver are installed for the console's browser tests
# (tests/console/). Nothing here downloads a browser build of its own: both come from Debian's packages.
# Quiet when they are already there; installs them when missing and we are root with apt-get; otherwise
# says how to get them and fails.
set -euo pipefail

say() { printf '==> %s\n' "$*" >&2; }

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  say "installing Debian packages: chromium chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  # Same marker as scripts/ensure-services.sh: one `apt-get update` per machine is enough.
  if [ ! -f /var/lib/apt/periodic/gateway-updated ]; then
    apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/gateway-updated
  fi
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  install() { apt-get install -y -qq --no-install-recommends chromium chromium-driver >"$log" 2>&1; }
  if ! install; then
    # A stale package list (a mirror moved on since the last update) is the usual cause: refresh once.
    apt-get update -qq >"$log" 2>&1 || true
    install || { cat "$log" >&2; say "could not install chromium and chromium-driver"; exit 1; }
  fi
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && exit 0
  say "chromium or chromedriver is still missing after installing the packages"
  exit 1
fi

cat >&2 <<'MSG'
The console's browser tests need Debian's Chromium and chromedriver (/usr/bin/chromium,
/usr/bin/chromedriver). Install them as root: `apt-get install chromium chromium-driver`
(or run `sudo bash scripts/ensure-browser.sh`).
MSG
exit 1
