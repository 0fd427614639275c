#!/usr/bin/env bash
# The page tests (tests/test_view_page.py) drive Debian's chromium through Playwright; Playwright's own browser
# download is not used. CI calls this when chromium is missing and apt-get can install it (CI runs as root).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "install-chromium: no apt-get or not root; the page tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
chromium --version
