"""The checks every envelope passes when it arrives, at the hub and again at the recipient node.

The node does not take the hub's word for it: it verifies the same things itself, because a national
system must be able to prove what it accepted, and because an outside system under test may stand in
for the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from exchange.envelope import Envelope
from exchange.errors import TrustError, ValidationFailed
from exchange.pki import TrustStore
from exchange.signing import VerifiedDocument, verify_document
from exchange.validation import validate

__all__ = ["Opened", "open_envelope"]


@dataclass(frozen=True)
class Opened:
    envelope: Envelope
    verified: VerifiedDocument


def open_envelope(body: bytes, trust: TrustStore, at: datetime) -> Opened:
    """Parse the envelope, verify the signed document, bind the two, and schema-check the signed content.

    Raises a `CaravanError` naming the document, the place and the rule; business rules are left to
    the receiving agency, which answers them in its own protocol (e.g. CC056C).
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
    issues = [issue for issue in validate(verified.root) if issue.area == "Schema"]
    if issues:
        raise ValidationFailed(envelope.message_type, issues)
    return Opened(envelope, verified)
