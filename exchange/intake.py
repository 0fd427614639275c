"""The checks every envelope passes when it arrives, at the hub and again at the recipient node.

The node does not take the hub's word for it: it verifies the same things itself, because a national
system must be able to prove what it accepted, and because an outside system under test may stand in
for the hub.

1. The envelope is read with the hardened parser and checked against its schema.
2. Its enveloped XMLDSig is verified (location pinned to the root, chain to the trust anchor at the
   given time, digest, value), and from then on only the signed envelope is read: its signer must be
   its Sender (`sender-mismatch`). The signature covers the base64 of the document, so every byte of it.
3. The document is parsed from the signed bytes. Where the family's standard puts a signature in the
   document (ePhyto), one that is there is verified in full too, and signed by the Sender as well; a
   family whose signature travels in the envelope (CATS, e-CO) takes no signature inside its documents
   (`signature-placement`): a CC document stays exactly a P5 document.
4. The envelope must say what the document says (type, message id) and, with the sender's country,
   the document must speak for that country; then the document is schema-checked.

One exception is the receiver's to make: the hub makes the envelope itself, unsigned, for a certificate
delivered through its IPPC Hub face, where the sending NPPO is authenticated by its TLS client
certificate and most ePhytos travel unsigned. For such a family the receiver's `UnsignedPolicy` decides
what a certificate that nothing signs gets: accepted, accepted with a warning, or refused. A signature
that is there is verified whatever the policy; one that fails is never taken for "unsigned".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from lxml import etree

from exchange.envelope import Envelope
from exchange.errors import DocumentError, Issue, TrustError, ValidationFailed
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.signing import VerifiedDocument, carries_signature, verify_document
from exchange.validation import DocumentType, detect, validate

__all__ = ["Claim", "Opened", "Unsealed", "UnsignedPolicy", "open_envelope", "read_claim", "unseal", "unsigned_finding"]


class UnsignedPolicy(str, Enum):
    """What a receiver does with a document that carries no signature, in a family where it is optional."""

    ACCEPT = "accept"
    WARN = "warn"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Opened:
    envelope: Envelope  # as signed (or as the hub made it, when nothing signs it)
    root: etree._Element  # what may be validated and acted upon: the document as signed
    verified: VerifiedDocument | None  # the signature that vouches for it; None: unsigned, taken by the policy
    policy: UnsignedPolicy | None = None  # the policy that took an unsigned document
    findings: tuple[Issue, ...] = ()  # the document's business-rule findings, met on the way: for its receiver

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


@dataclass(frozen=True)
class Claim:
    """An envelope as it arrived: parsed once and schema-checked, its fields not yet vouched for by anyone.

    The hub reads the claim to refuse early what needs no signature check (wrong TLS identity, outside the
    time window, unknown recipient); the signature check then works on the same tree, not a second parse.
    """

    body: bytes
    root: etree._Element
    envelope: Envelope


def read_claim(body: bytes) -> Claim:
    """Step 1: parse with the hardened parser and check the envelope schema."""
    root = parse_document(body)
    return Claim(body, root, Envelope.from_element(root))


def open_envelope(
    body: bytes | Claim,
    trust: TrustStore,
    at: datetime,
    sender_country: str | None = None,
    *,
    unsigned: Mapping[str, UnsignedPolicy] | None = None,
) -> Opened:
    """Parse the envelope, verify its signature and the document's own, bind them, and schema-check the document.

    With `sender_country` (the country the sending node serves), also check that the document speaks
    for that country: its stated sender party and the office whose act it is. `unsigned` maps a family
    to what the receiver does with its documents that nothing signs (a family not in it must be signed).
    Raises a `CaravanError` naming the document, the place and the rule; business rules are left to the
    receiving agency, which answers them in its own protocol (e.g. CC056C).
    """
    unsealed = unseal(body, trust, at)
    envelope, document, kind, verified = unsealed.envelope, unsealed.root, unsealed.kind, unsealed.verified
    policy = None if verified is not None else _unsigned_policy(envelope, kind, unsigned or {})
    envelope.check_binding(document)
    if sender_country is not None and verified is not None:
        _check_authority(kind, document, envelope.sender, sender_country)
    findings = _check_schema(envelope, document)
    return Opened(envelope, document, verified, policy, findings)


@dataclass(frozen=True)
class Unsealed:
    """An envelope whose signatures hold, and the document it carries."""

    envelope: Envelope  # read from the signed content only (as the hub made it, when nothing signs it)
    root: etree._Element  # the document, as signed
    kind: DocumentType
    verified: VerifiedDocument | None  # its `root` is the document; None when nothing signs it


def unseal(body: bytes | Claim, trust: TrustStore, at: datetime) -> Unsealed:
    """Steps 1 to 3: verify the envelope's signature and the document's own; no binding, no policy.

    `body` may be a `Claim` already read (step 1 done). `caravan verify` stops here; `open_envelope` goes on.
    """
    claim = body if isinstance(body, Claim) else read_claim(body)
    envelope = claim.envelope
    sealed = None
    if carries_signature(claim.root):
        sealed = verify_document(claim.body, trust, at=at, root=claim.root)
        envelope = Envelope.from_element(sealed.root)
        _check_signer(envelope, sealed, "/Envelope/Signature")
    document = _read_document(envelope)
    kind = detect(document)
    own = _verify_inside(envelope, kind, document, trust, at)
    if own is not None:
        document = own.root
    verified = sealed or own
    return Unsealed(envelope, document, kind, None if verified is None else replace(verified, root=document))


def _read_document(envelope: Envelope) -> etree._Element:
    """The document the envelope carries; a refusal of its bytes names its MessageType and the Document field."""
    try:
        return parse_document(envelope.document)
    except DocumentError as error:
        raise DocumentError(error.message, document=envelope.message_type, path="/Envelope/Document",
                            rule=error.rule) from None


def _verify_inside(
    envelope: Envelope, kind: DocumentType, document: etree._Element, trust: TrustStore, at: datetime
) -> VerifiedDocument | None:
    """The document's own signature, where its family's standard has one there; refused anywhere else."""
    if not carries_signature(document):
        return None
    if not kind.signed_inside:
        raise TrustError(
            f"{kind.code} carries a ds:Signature inside; the {kind.family} family's signature travels in the "
            "envelope, and its documents stay as their standard writes them",
            document=kind.code, path=f"/{kind.code}", rule="signature-placement",
        )
    verified = verify_document(envelope.document, trust, at=at)
    _check_signer(envelope, verified, f"/{kind.code}/Signature")
    return verified


def _check_signer(envelope: Envelope, verified: VerifiedDocument, path: str) -> None:
    if verified.signer_id != envelope.sender:
        raise TrustError(
            f"envelope names sender {envelope.sender!r} but {path} is signed by {verified.signer_id!r}",
            document=envelope.message_type,
            path="/Envelope/Sender",
            rule="sender-mismatch",
        )


def _unsigned_policy(envelope: Envelope, kind: DocumentType, policies: Mapping[str, UnsignedPolicy]) -> UnsignedPolicy:
    """The policy that takes this unsigned document; a family without one must be signed."""
    policy = policies.get(kind.family)
    if policy is None:
        raise TrustError(f"{envelope.message_type} {envelope.message_id}: the envelope is not signed (no ds:Signature "
                         "under env:Envelope)", document=envelope.message_type, path="/Envelope",
                         rule="signature-missing")
    if policy is UnsignedPolicy.REFUSE:
        raise TrustError(f"{envelope.message_type} {envelope.message_id} is not signed, and this receiver refuses "
                         "unsigned documents of its family", document=envelope.message_type, path="/",
                         rule="unsigned-refused")
    return policy


def _check_schema(envelope: Envelope, root: etree._Element) -> tuple[Issue, ...]:
    """Refuse a document that breaks its schema; the findings of a valid one are its business-rule issues."""
    issues = validate(root)
    severe = [issue for issue in issues if issue.area == "Schema" and issue.level == "SEVERE"]
    if severe:
        raise ValidationFailed(envelope.message_type, severe)
    return tuple(issue for issue in issues if issue.area != "Schema")


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
