"""What the e-CO agencies of one node remember, as frozen records that survive a JSON round trip.

A node can be both an issuing country (its authorities' certificates, the verification requests they
must answer) and an importing country (the certificates pushed to its customs, the declarations that
cited them, the verification requests it sent), so one state holds both sides. Certificate versions are
filed under `version_key(number, version)` and found by number through `BY_NUMBER`. A node keeps one row
per certificate version, declaration and verification request (`ORIGIN_LAYOUT`); a request's row carries
the timer of its due date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from nodes.origin.model import (
    Certificate,
    CertificateRef,
    Check,
    Decision,
    PartyRef,
    VerificationRequest,
    VerificationResult,
)
from nodes.origin.tables import VERIFICATION_TIMERS, IssuedState, PreferenceState, ReceivedState, VerificationState
from nodes.records import Counter, Index, Layout, RecordKind, Table, select

__all__ = [
    "BY_NUMBER",
    "DECLARATION",
    "INQUIRY",
    "ISSUED",
    "ORIGIN_LAYOUT",
    "RECEIVED",
    "REQUEST",
    "DeclarationRecord",
    "IssuedRecord",
    "OriginState",
    "ReceivedRecord",
    "StatusView",
    "VerificationRecord",
    "version_key",
    "versions_of",
]


def version_key(number: str, version: int) -> str:
    return f"{number} v{version}"


@dataclass(frozen=True)
class StatusView:
    """What a verifier knows about the status of one version: enough for the status check."""

    number: str
    version: int
    state: ReceivedState
    valid_until: date | None = None
    used_by: str | None = None  # the import declaration it was used for
    replaced_by: int | None = None


@dataclass(frozen=True)
class IssuedRecord:
    """A version of a certificate at its issuing authority."""

    certificate: Certificate
    state: IssuedState
    message_id: str  # of the EcoCertificate that pushed it, which acknowledgements name
    used_by: str | None = None
    replaced_by: int | None = None


@dataclass(frozen=True)
class ReceivedRecord:
    """A version of a certificate at the importing customs, with the exact content its issuer signed.

    `content` is the certificate as the node verified it at receipt, in the envelope its issuer's node signed
    (exclusive c14n); `digest` is its SHA-256: the fingerprint a presented copy must match.
    """

    certificate: Certificate
    state: ReceivedState
    sender: PartyRef
    content: str
    digest: str
    received_at: datetime
    used_by: str | None = None
    replaced_by: int | None = None

    @property
    def view(self) -> StatusView:
        c = self.certificate
        return StatusView(c.number, c.version, self.state, c.valid_until, self.used_by, self.replaced_by)


@dataclass(frozen=True)
class DeclarationRecord:
    """An import declaration that cited a certificate, and what customs decided on it."""

    number: str
    certificate: CertificateRef
    state: PreferenceState
    preferential: bool
    decision: Decision  # the last decision sent (or, without data to answer, taken)
    checks: tuple[Check, ...]
    decided_at: datetime
    authority: PartyRef | None  # where decisions about it go; None when no data was received


@dataclass(frozen=True)
class VerificationRecord:
    """A verification request, at the customs that sent it (`requests`) or the authority asked (`inquiries`)."""

    request: VerificationRequest
    state: VerificationState
    result: VerificationResult | None = None
    findings: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class OriginState:
    serial: int = 0  # numbers every message the node's e-CO agencies send
    issued: Mapping[str, IssuedRecord] = field(default_factory=dict)
    received: Mapping[str, ReceivedRecord] = field(default_factory=dict)
    declarations: Mapping[str, DeclarationRecord] = field(default_factory=dict)
    requests: Mapping[str, VerificationRecord] = field(default_factory=dict)  # sent by this node's customs
    inquiries: Mapping[str, VerificationRecord] = field(default_factory=dict)  # to this node's authorities


BY_NUMBER = Index("number", lambda record: record.certificate.number)
"""Certificate versions by certificate number: a step or a declaration names a number, not a version."""


def versions_of(book: Mapping[str, Any], number: str) -> list[Any]:
    """The records of `number` in `book` (issued or received), oldest version first."""
    return sorted(select(book, BY_NUMBER, number), key=lambda record: record.certificate.version)


def _overdue_from(record: VerificationRecord) -> datetime | None:
    """A request is overdue the day after its due date, while it waits for an answer."""
    if record.state not in VERIFICATION_TIMERS:
        return None
    return datetime.combine(record.request.due + timedelta(days=1), time(), tzinfo=timezone.utc)


ISSUED = RecordKind("issued", IssuedRecord, (BY_NUMBER,))
RECEIVED = RecordKind("received", ReceivedRecord, (BY_NUMBER,))
DECLARATION = RecordKind("declaration", DeclarationRecord)
REQUEST = RecordKind("request", VerificationRecord, due=_overdue_from)
INQUIRY = RecordKind("inquiry", VerificationRecord)

ORIGIN_LAYOUT = Layout(
    OriginState,
    (
        Counter("serial", "messages"),
        Table("issued", ISSUED),
        Table("received", RECEIVED),
        Table("declarations", DECLARATION),
        Table("requests", REQUEST),
        Table("inquiries", INQUIRY),
    ),
)
"""One row per certificate version (issued, received), declaration, request sent and request received."""
