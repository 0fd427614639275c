"""xmlsec1, the XML Security Library's command line: a signature implementation independent of caravan's signxml.

`scripts/xmlsec1-setup.sh` installs Debian's where it can (CI runs it); tests that need it skip, saying why,
where it is absent. Certificates are checked at the envelope's own Created time (`--verification-gmt-time`):
scenario documents live in scenario time, as `caravan verify` checks them.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from exchange.clock import utc
from exchange.envelope import Envelope

XMLSEC1 = shutil.which("xmlsec1")

needs_xmlsec1 = pytest.mark.skipif(
    XMLSEC1 is None, reason="xmlsec1 is not installed (scripts/xmlsec1-setup.sh installs Debian's, as root)"
)


def xmlsec1_verify(path: Path, ca: Path, at: datetime | None = None) -> tuple[int, str]:
    """`xmlsec1 --verify --trusted-pem CA FILE` at `at` (default: the envelope's Created): exit code and output."""
    assert XMLSEC1 is not None
    created = utc(at or Envelope.from_xml(path.read_bytes()).created)
    done = subprocess.run(
        [XMLSEC1, "--verify", "--trusted-pem", str(ca), "--verification-gmt-time",
         created.strftime("%Y-%m-%d %H:%M:%S"), str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return done.returncode, done.stdout + done.stderr


def envelope_files(messages: Path) -> list[Path]:
    return sorted(messages.glob("*.envelope.xml"))


def document_files(messages: Path) -> list[Path]:
    return sorted(set(messages.glob("*.xml")) - set(envelope_files(messages)))
