#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium for the demo's browser test (driven by
# playwright-core, which cannot download a browser here). Installs it when running as root;
# otherwise says how. Never fails the caller: the test itself decides whether to skip or fail.
set -uo pipefail

chromium=/usr/bin/chromium
if [ -x "$chromium" ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $chromium is missing; installing Debian's chromium package..."
  if DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; then
    if [ -x "$chromium" ]; then
      echo "ensure-chromium: installed $("$chromium" --version 2>/dev/null || echo chromium)"
      exit 0
    fi
  fi
  echo "ensure-chromium: could not install chromium with apt-get; the demo browser test needs it."
  exit 0
fi

cat <<'MSG'
ensure-chromium: /usr/bin/chromium is missing and this script cannot install it (it needs root
and apt-get). Install Debian's chromium package yourself:
    sudo apt-get update && sudo apt-get install -y chromium
Without it the demo's browser test (apps/demo/test/demo.browser.test.ts) is skipped, except in
CI (CI=true), where it fails.
MSG
exit 0
