#!/usr/bin/env bash
# Real-browser test: Debian's chromium (installed with apt-get when missing) driven by playwright.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (apt-get)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
set +e; .venv/bin/pytest tests/browser -q; rc=$?; set -e
if [ $rc -eq 5 ]; then echo "FAIL: no browser tests collected"; exit 1; fi
exit $rc
