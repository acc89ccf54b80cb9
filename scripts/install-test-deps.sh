#!/usr/bin/env bash
# Installs what the test suite needs beyond `npm ci`: Debian's Chromium for the web UI's
# end-to-end tests (driven by playwright-core; never `npx playwright install`, which downloads
# a browser build). Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "install-test-deps: chromium already installed ($(/usr/bin/chromium --version 2>/dev/null || echo unknown version))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-test-deps: need root (or sudo) to apt-get install chromium" >&2
    exit 1
  fi
fi

echo "install-test-deps: installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
echo "install-test-deps: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
