"""What a document family adds to `caravan verify` beyond the signature: the checks only it knows.

`caravan verify` checks every document's enveloped signature and certificate chain the same way. Some
families have more to say about a signed document: an e-CO certificate is also checked for its status
and its issuer's identity (the TradeTrust verifier model). Such a family gives `Family.verify`; the CLI
hands it what it found and prints the lines it returns, and exits 1 if either does not hold.

A family's checks never raise for what is in the document: whatever cannot be decoded is a check that
does not hold, on its line. Only an unusable source (`--trust-list` that is no trust list) is raised,
as an InputError: that is the caller's mistake, not the document's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lxml import etree

from exchange.errors import CaravanError
from exchange.pki import TrustStore
from exchange.signing import VerifiedDocument

__all__ = ["VerifyReport", "VerifyRequest"]


@dataclass(frozen=True)
class VerifyRequest:
    """One `caravan verify` run: the document, the signature check's outcome and the sources given."""

    root: etree._Element  # the document as read (not yet trusted)
    trust: TrustStore
    at: datetime  # when the signature was checked
    verified: VerifiedDocument | None  # None when the signature does not hold
    failure: CaravanError | None  # why it does not
    as_of: datetime | None = None  # `--at`, when given: the time other checks are made at
    status_from: Path | None = None  # `--status-from`: where the family reads document status
    trust_list: Path | None = None  # `--trust-list`: which issuers are trusted


@dataclass(frozen=True)
class VerifyReport:
    lines: tuple[str, ...] = ()
    exit_code: int = 0  # 0 every check given its source holds; 1 one does not
