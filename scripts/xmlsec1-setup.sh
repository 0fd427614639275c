#!/usr/bin/env bash
# Make `xmlsec1` (the XML Security Library's command line, a signature implementation independent of
# caravan's signxml) available, so the tests can check that every envelope a run writes verifies with it.
#
#   scripts/xmlsec1-setup.sh
#
# Installs Debian's xmlsec1 with apt-get when the command is missing and the machine can (root, apt-get).
# Anywhere else it says why it installed nothing and exits 0: the tests that need xmlsec1 then skip, naming
# the reason.
set -euo pipefail

say() { echo "xmlsec1-setup: $*"; }

if command -v xmlsec1 >/dev/null; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    say "xmlsec1 is missing and there is no apt-get here; the xmlsec1 interoperability tests will skip"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    say "xmlsec1 is missing and installing it needs root (apt-get install xmlsec1); the xmlsec1 tests will skip"
    exit 0
fi
say "installing Debian's xmlsec1"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends xmlsec1 >/dev/null 2>&1 \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends xmlsec1 >/dev/null; }
xmlsec1 --version
