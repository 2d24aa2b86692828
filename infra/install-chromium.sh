#!/usr/bin/env bash
# Headless Chromium for the report's browser test (test/e2e/reportBrowser.test.ts), from Debian's
# `chromium` package: playwright-core drives it by executablePath, so no browser download is needed.
# Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail
if [[ -x /usr/bin/chromium ]]; then exit 0; fi
if [[ "$(id -u)" -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
