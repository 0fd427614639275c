"""A Hub envelope as the caravan envelope a node's inbox takes, and back to the Hub's routing codes.

Used where the two worlds meet: the hub pushing a SOAP-delivered certificate to a caravan node, and a
node pulling from the Hub face. The certificate travels byte for byte (its signature must survive);
the envelope names it as its family does (`family.yaml` message id), so the node's intake binds the two.
Connection codes are node ids in capitals (see `directory`).
"""

from __future__ import annotations

import re
from datetime import datetime

from exchange.envelope import Envelope
from exchange.ippc.entities import EnvelopeHeader
from exchange.ippc.service import content_bytes
from exchange.safexml import parse_document
from exchange.validation import detect

__all__ = ["caravan_envelope"]

_TOKEN = re.compile(r"[A-Za-z0-9.:_\-]{1,70}")


def caravan_envelope(header: EnvelopeHeader, content: str, now: datetime) -> bytes:
    """Raise a `CaravanError` when the content is not a document caravan knows (the node could not take it)."""
    document = content_bytes(content)
    root = parse_document(document)
    kind = detect(root)
    number = header.certificate_number
    return Envelope(
        message_id=kind.message_id(root) or header.delivery_number or number,
        correlation_id=number if _TOKEN.fullmatch(number) else None,
        sender=header.sender.lower(),
        recipient=header.recipient.lower(),
        message_type=kind.code,
        created=now,
        document=document,
    ).to_xml()
