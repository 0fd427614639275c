"""The checks every envelope passes when it arrives, at the hub and again at the recipient node.

The node does not take the hub's word for it: it verifies the same things itself, because a national
system must be able to prove what it accepted, and because an outside system under test may stand in
for the hub.

One exception is the receiver's to make: a family whose protocol makes the document's own signature
optional (ePhyto: the IPPC Hub authenticates the sending NPPO by its TLS client certificate, and most
ePhytos travel unsigned). For such a family the receiver's `UnsignedPolicy` decides what a document without
any signature gets: accepted, accepted with a warning, or refused. A document that carries a signature is
verified in full whatever the policy; a signature that fails is never taken for "unsigned".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from lxml import etree

from exchange.envelope import Envelope
from exchange.errors import Issue, TrustError, ValidationFailed
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.signing import VerifiedDocument, verify_document
from exchange.validation import DocumentType, detect, validate

__all__ = ["Opened", "UnsignedPolicy", "open_envelope", "unsigned_finding"]

_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"


class UnsignedPolicy(str, Enum):
    """What a receiver does with a document that carries no signature, in a family where it is optional."""

    ACCEPT = "accept"
    WARN = "warn"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Opened:
    envelope: Envelope
    root: etree._Element  # what may be validated and acted upon: the signed content, or the unsigned document
    verified: VerifiedDocument | None  # None: the document carried no signature and the policy took it
    policy: UnsignedPolicy | None = None  # the policy that took an unsigned document

    @property
    def signature(self) -> str:
        return "signed" if self.verified is not None else "unsigned"

    def finding(self) -> Issue | None:
        """The unsigned document's finding for the receiving agency (None when signed)."""
        return None if self.policy is None else unsigned_finding(self.envelope.message_type, self.policy)


def unsigned_finding(message_type: str, policy: UnsignedPolicy) -> Issue:
    """What an unsigned document is told: a WARNING where the policy warns, else INFO."""
    return Issue("Signature", f"/{message_type}",
                 "the document carries no XMLDSig signature; its sender was authenticated by the exchange "
                 "(TLS client certificate)", "unsigned", "WARNING" if policy is UnsignedPolicy.WARN else "INFO")


def open_envelope(
    body: bytes,
    trust: TrustStore,
    at: datetime,
    sender_country: str | None = None,
    *,
    unsigned: Mapping[str, UnsignedPolicy] | None = None,
) -> Opened:
    """Parse the envelope, verify the signed document, bind the two, and schema-check the signed content.

    With `sender_country` (the country the sending node serves), also check that the document speaks
    for that country: its stated sender party and the office whose act it is. `unsigned` maps a family
    to what the receiver does with its documents that carry no signature at all (a family not in it must
    be signed). Raises a `CaravanError` naming the document, the place and the rule; business rules are
    left to the receiving agency, which answers them in its own protocol (e.g. CC056C).
    """
    envelope = Envelope.from_xml(body)
    policy = _unsigned_policy(envelope, unsigned or {})
    if policy is not None:
        root = parse_document(envelope.document)
        envelope.check_binding(root)
        _check_schema(envelope, root)
        return Opened(envelope, root, None, policy)
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
    _check_schema(envelope, verified.root)
    return Opened(envelope, verified.root, verified)


def _unsigned_policy(envelope: Envelope, policies: Mapping[str, UnsignedPolicy]) -> UnsignedPolicy | None:
    """The policy that takes this document unsigned, or None when it must be verified (it is signed, its
    family requires signatures, or the policy refuses unsigned ones: then verification says why)."""
    if not policies:
        return None
    root = parse_document(envelope.document)
    if next(root.iter(_DSIG), None) is not None:
        return None
    policy = policies.get(detect(root).family)
    if policy is UnsignedPolicy.REFUSE:
        raise TrustError(f"{envelope.message_type} {envelope.message_id} is not signed, and this receiver refuses "
                         "unsigned documents of its family", document=envelope.message_type, path="/",
                         rule="unsigned-refused")
    return policy


def _check_schema(envelope: Envelope, root: etree._Element) -> None:
    issues = [issue for issue in validate(root) if issue.area == "Schema" and issue.level == "SEVERE"]
    if issues:
        raise ValidationFailed(envelope.message_type, issues)


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
