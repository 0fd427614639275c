"""The envelope every signed document travels in between nodes and the hub.

The envelope carries what the hub needs to route and track a message without trusting the payload:
message id, correlation id (MRN, LRN or certificate number), sender and recipient node, message type
and creation time. The signed document rides inside as base64, byte for byte, because re-serialising
signed XML is the classic way to break a signature in transit.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

from exchange.clock import utc
from exchange.errors import DocumentError, Issue, ProtocolError, ValidationFailed
from exchange.safexml import parse_document
from exchange.validation import detect

__all__ = ["ENVELOPE_NS", "Envelope"]

ENVELOPE_NS = "urn:caravan:exchange:envelope:1"
_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "exchange" / "envelope.xsd"
_FIELDS = ("MessageId", "CorrelationId", "Sender", "Recipient", "MessageType", "Created", "Document")


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_SCHEMA_PATH)))


@dataclass(frozen=True)
class Envelope:
    message_id: str
    correlation_id: str | None
    sender: str
    recipient: str
    message_type: str
    created: datetime
    document: bytes

    def to_xml(self) -> bytes:
        """Serialise as `env:Envelope`; the document is base64 so its signed bytes stay exact."""
        root = etree.Element(f"{{{ENVELOPE_NS}}}Envelope", nsmap={"env": ENVELOPE_NS}, version="1")
        values = {
            "MessageId": self.message_id,
            "CorrelationId": self.correlation_id,
            "Sender": self.sender,
            "Recipient": self.recipient,
            "MessageType": self.message_type,
            "Created": utc(self.created).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Document": base64.b64encode(self.document).decode("ascii"),
        }
        for name in _FIELDS:
            if values[name] is not None:
                etree.SubElement(root, f"{{{ENVELOPE_NS}}}{name}").text = values[name]
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    def check_binding(self, root: etree._Element) -> None:
        """The envelope must say what the signed document says, or a relay could re-label a signed message."""
        kind = detect(root)
        if kind.code != self.message_type:
            raise ProtocolError(
                f"envelope says {self.message_type} but the signed document is {kind.code}",
                document=kind.code,
                path="/Envelope/MessageType",
                rule="type-mismatch",
            )
        if kind.message_id_path is None:
            return
        stated = kind.message_id(root)
        if stated is None:
            raise DocumentError(
                f"{kind.code} carries no message identification", document=kind.code, path=f"/{kind.code}",
                rule="id-missing",
            )
        if stated != self.message_id:
            raise ProtocolError(
                f"envelope message id {self.message_id!r} differs from the id {stated!r} the signed {kind.code} states",
                document=kind.code,
                path="/Envelope/MessageId",
                rule="id-mismatch",
            )

    @classmethod
    def from_xml(cls, data: bytes) -> Envelope:
        """Parse and schema-check an envelope; any defect is a `ValidationFailed` naming the element."""
        root = parse_document(data)
        schema = _schema()
        if not schema.validate(root):
            issues = [
                Issue(area="Schema", path=_clean_path(error.path), message=error.message, rule="envelope-schema")
                for error in schema.error_log
            ]
            raise ValidationFailed("Envelope", issues)
        fields = {etree.QName(child).localname: (child.text or "") for child in root}
        try:
            document = base64.b64decode(fields["Document"], validate=True)
        except binascii.Error as exc:
            raise DocumentError(
                f"Envelope Document is not base64: {exc}", document="Envelope", path="/Envelope/Document"
            ) from exc
        return cls(
            message_id=fields["MessageId"],
            correlation_id=fields.get("CorrelationId"),
            sender=fields["Sender"],
            recipient=fields["Recipient"],
            message_type=fields["MessageType"],
            created=datetime.fromisoformat(fields["Created"].replace("Z", "+00:00")),
            document=document,
        )


def _clean_path(path: str | None) -> str:
    """lxml reports `/env:Envelope/env:Sender`; readers want `/Envelope/Sender`."""
    if not path:
        return "/Envelope"
    return "/".join(part.split(":", 1)[-1] for part in path.split("/"))
