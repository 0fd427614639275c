"""Certificate revocation: the scenario CA's CRL, checked on every receipt.

The CA publishes `ca.crl` beside `ca.pem`. Every verifier holds a `RevocationList` over that path and
re-reads the file only when it changes (one `stat` per check), so a revocation made by a scenario step
takes effect on the very next message, in-process or across processes sharing the PKI directory. A CRL
whose signature does not verify against the trust anchors is refused rather than ignored: a forged
"nothing is revoked" list must not re-admit a revoked node.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from exchange.clock import utc
from exchange.errors import TrustError

__all__ = ["CRL_FILE", "RevocationList"]

CRL_FILE = "ca.crl"


class RevocationList:
    """The current CRL at `path` (absent file: nothing revoked)."""

    def __init__(self, path: Path, anchors: Sequence[x509.Certificate]) -> None:
        self._path = path
        self._name = str(path)
        self._anchors = tuple(anchors)
        self._stamp: tuple[int, int] | None = None
        self._revoked: dict[int, datetime] = {}

    def check(self, certificate: x509.Certificate, at: datetime) -> None:
        """Raise TrustError (cert-revoked) if `certificate` was revoked at or before `at`."""
        revoked = self._current()
        if not revoked:  # nothing revoked, as in most runs: every request is checked, so this is the usual answer
            return
        revoked_at = revoked.get(certificate.serial_number)
        if revoked_at is not None and revoked_at <= utc(at):
            subject = certificate.subject.rfc4514_string()
            raise TrustError(
                f"certificate {subject!r} (serial {certificate.serial_number:x}) was revoked at "
                f"{revoked_at.isoformat()} by the scenario CA",
                rule="cert-revoked",
            )

    def _current(self) -> dict[int, datetime]:
        try:
            status = os.stat(self._name)  # not Path.stat: a third of the check, which runs on every request
        except FileNotFoundError:
            self._stamp, self._revoked = None, {}
            return self._revoked
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._revoked = self._load()
            self._stamp = stamp
        return self._revoked

    def _load(self) -> dict[int, datetime]:
        crl = x509.load_pem_x509_crl(self._path.read_bytes())
        issuer = next((anchor for anchor in self._anchors if anchor.subject == crl.issuer), None)
        if issuer is None:
            raise TrustError(f"{self._path} is issued by {crl.issuer.rfc4514_string()!r}, no trust anchor",
                             rule="crl-untrusted")
        try:
            valid = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
        except (InvalidSignature, TypeError):
            valid = False
        if not valid:
            raise TrustError(f"{self._path} is not signed by the scenario CA", rule="crl-untrusted")
        return {entry.serial_number: entry.revocation_date_utc for entry in crl}
