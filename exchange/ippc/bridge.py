"""A Hub envelope as the caravan envelope a node's inbox takes, and back to the Hub's routing codes.

Used where the two worlds meet: the hub carrying a certificate delivered through SOAP to a caravan node,
and a node pulling from the Hub face. The certificate travels byte for byte (its signature, if it has
one, must survive); the envelope names it as its family does (`family.yaml` message id), so the node's
intake binds the two. Connection codes are node ids in capitals (see `directory`).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from exchange.envelope import Envelope, carried
from exchange.ippc.entities import EnvelopeHeader
from exchange.safexml import parse_document
from exchange.validation import detect

__all__ = ["caravan_envelope", "content_bytes"]

def content_bytes(content: str) -> bytes:
    """A certificate as sent in `Content`: XML text, or (as some clients send it) base64 of XML.

    Whitespace before the document is dropped (an XML declaration must come first); the rest is kept as
    sent, so a file delivered through the Hub arrives as it was written.
    """
    text = content.lstrip()
    if not text.startswith("<"):
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded.lstrip().startswith(b"<"):
            return decoded
    return text.encode("utf-8")


def caravan_envelope(header: EnvelopeHeader, content: str, now: datetime) -> Envelope:
    """Raise a `CaravanError` when the content is not a document caravan knows (the node could not take it)."""
    document = content_bytes(content)
    root = parse_document(document)
    kind = detect(root)
    number = header.certificate_number
    return Envelope(
        message_id=kind.message_id(root) or header.delivery_number or number,
        correlation_id=carried(number),
        sender=header.sender.lower(),
        recipient=header.recipient.lower(),
        message_type=kind.code,
        created=now,
        document=document,
    )
