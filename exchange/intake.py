"""The checks every envelope passes when it arrives, at the hub and again at the recipient node.

The node does not take the hub's word for it: it verifies the same things itself, because a national
system must be able to prove what it accepted, and because an outside system under test may stand in
for the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from exchange.envelope import Envelope
from exchange.errors import TrustError, ValidationFailed
from exchange.pki import TrustStore
from exchange.signing import VerifiedDocument, verify_document
from exchange.validation import DocumentType, detect, validate

__all__ = ["Opened", "open_envelope"]


@dataclass(frozen=True)
class Opened:
    envelope: Envelope
    verified: VerifiedDocument


def open_envelope(body: bytes, trust: TrustStore, at: datetime, sender_country: str | None = None) -> Opened:
    """Parse the envelope, verify the signed document, bind the two, and schema-check the signed content.

    With `sender_country` (the country the sending node serves), also check that the document speaks
    for that country: its stated sender party and the office whose act it is. Raises a `CaravanError`
    naming the document, the place and the rule; business rules are left to the receiving agency, which
    answers them in its own protocol (e.g. CC056C).
    """
    envelope = Envelope.from_xml(body)
    verified = verify_document(envelope.document, trust, at=at)
    if verified.signer_id != envelope.sender:
        raise TrustError(
            f"envelope names sender {envelope.sender!r} but the document is signed by {verified.signer_id!r}",
            document=envelope.message_type,
            path="/Envelope/Sender",
            rule="sender-mismatch",
        )
    envelope.check_binding(verified.root)
    if sender_country is not None:
        _check_authority(detect(verified.root), verified.root, envelope.sender, sender_country)
    issues = [issue for issue in validate(verified.root) if issue.area == "Schema" and issue.level == "SEVERE"]
    if issues:
        raise ValidationFailed(envelope.message_type, issues)
    return Opened(envelope, verified)


def _check_authority(kind: DocumentType, root: etree._Element, sender: str, country: str) -> None:
    """A node speaks only for its own country: its own administration, its own traders, its own offices."""
    party = kind.sender_party(root)
    if party is not None and party != f"NTA.{country}" and not party.startswith(country):
        raise TrustError(
            f"node {sender!r} serves {country} but {kind.code} claims to be sent by {party!r}",
            document=kind.code,
            path=f"/{kind.code}/{_local(kind.sender_party_path)}",
            rule="party-not-sender",
        )
    office = kind.acting_office(root)
    if office is not None and office[:2] != country:
        raise TrustError(
            f"node {sender!r} serves {country}; only the administration of {office} may send {kind.code} for it",
            document=kind.code,
            path=f"/{kind.code}/{_local(kind.acting_office_path)}",
            rule="role-not-allowed",
        )


def _local(path: str | None) -> str:
    return (path or "").replace("{*}", "")
