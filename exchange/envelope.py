"""The envelope every document travels in between nodes and the hub, and the signature that seals it.

The envelope carries what the hub needs to route and track a message without trusting the payload:
message id, correlation id (MRN, LRN or certificate number), sender and recipient node, message type
and creation time. The document rides inside as base64, byte for byte: what the recipient's national
application reads is exactly what the sender wrote (a CC document is a P5 document, nothing added).

The sending node signs the envelope (`Envelope.signed`): one enveloped XMLDSig, the last child of
`env:Envelope`, over the whole envelope (`exchange.signing`'s profile). Its digest covers the base64 text
of `Document`, so it covers every byte of the document, and it covers the fields the hub binds (sender,
type, message id). Any XMLDSig implementation verifies it as it is, with no transform of its own:
`xmlsec1 --verify --trusted-pem pki/ca.pem FILE.envelope.xml`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

from exchange.clock import utc
from exchange.errors import DocumentError, Issue, ProtocolError, ValidationFailed
from exchange.pki import Credentials
from exchange.safexml import parse_document
from exchange.signing import sign_document
from exchange.validation import detect

__all__ = ["ENVELOPE_NS", "ENVELOPE_SUFFIX", "Envelope", "carried", "rewrite_envelope"]

ENVELOPE_NS = "urn:caravan:exchange:envelope:1"
ENVELOPE_SUFFIX = ".envelope.xml"
"""How a run's messages/ names a signed envelope, beside its document `NNNN-CODE-SENDER-to-RECIPIENT.xml`."""
_SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "exchange" / "envelope.xsd"
_FIELDS = ("MessageId", "CorrelationId", "Sender", "Recipient", "MessageType", "Created", "Document")
_FIELD_TAGS = {f"{{{ENVELOPE_NS}}}{name}": name for name in _FIELDS}  # what the schema lets stand in the envelope


_TOKEN = re.compile(r"\S(?:[^\x00-\x1f\x7f-\x9f]{0,68}\S)?")
"""envelope.xsd's TokenType (MessageId, CorrelationId): 1 to 70 characters, no control character, none blank at
either end."""


def carried(reference: str | None) -> str | None:
    """`reference` as an envelope's CorrelationId, or None where the field cannot carry it (a P5 LRN may hold a tab,
    which TokenType does not take): the id is only for tracking, and the message must not be refused for it."""
    return reference if reference is not None and _TOKEN.fullmatch(reference) else None


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
        """Serialise as an unsigned `env:Envelope` (what the hub makes for a certificate the IPPC face took)."""
        return etree.tostring(self._element(), xml_declaration=True, encoding="UTF-8")

    def signed(self, credentials: Credentials) -> bytes:
        """Serialise as `env:Envelope` sealed by `credentials`: what a node submits to the hub."""
        return sign_document(self._element(), credentials)

    def _element(self) -> etree._Element:
        """The document is base64 so that its bytes stay exact through any XML tooling on the way."""
        root = etree.Element(f"{{{ENVELOPE_NS}}}Envelope", nsmap={"env": ENVELOPE_NS}, version="1")
        values = {
            "MessageId": self.message_id,
            "CorrelationId": self.correlation_id,
            "Sender": self.sender,
            "Recipient": self.recipient,
            "MessageType": self.message_type,
            "Created": _stamp(self.created),
            "Document": base64.b64encode(self.document).decode("ascii"),
        }
        for name in _FIELDS:
            if values[name] is not None:
                etree.SubElement(root, f"{{{ENVELOPE_NS}}}{name}").text = values[name]
        return root

    def check_binding(self, root: etree._Element) -> None:
        """The envelope must say what the document says, or a sender could sign a message it mislabelled."""
        kind = detect(root)
        if kind.code != self.message_type:
            raise ProtocolError(
                f"envelope says {self.message_type} but the document it carries is {kind.code}",
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
                f"envelope message id {self.message_id!r} differs from the id {stated!r} its {kind.code} states",
                document=kind.code,
                path="/Envelope/MessageId",
                rule="id-mismatch",
            )

    @classmethod
    def from_xml(cls, data: bytes) -> Envelope:
        """Parse and schema-check an envelope; any defect is a `ValidationFailed` naming the element.

        What it reads is not yet trusted: `exchange.intake.open_envelope` verifies the signature and reads
        the envelope again from the signed content alone.
        """
        return cls.from_element(parse_document(data))

    @classmethod
    def from_element(cls, root: etree._Element) -> Envelope:
        """An envelope from a parsed `env:Envelope` (its signature, if any, is not looked at here)."""
        schema = _schema()
        if not schema.validate(root):
            issues = [
                Issue(area="Schema", path=_clean_path(error.path), message=error.message, rule="envelope-schema")
                for error in schema.error_log
            ]
            raise ValidationFailed("Envelope", issues)
        fields = {_FIELD_TAGS[child.tag]: _text(child) for child in root if child.tag in _FIELD_TAGS}
        try:
            document = base64.b64decode(fields["Document"], validate=True)
        except binascii.Error as exc:
            raise DocumentError(
                f"Envelope Document is not base64: {exc}", document="Envelope", path="/Envelope/Document",
                rule="document-base64",
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


def _text(field: etree._Element) -> str:
    """A field's whole text, as its schema and its signature see it: `.text` stops at a comment or a processing
    instruction, which exclusive c14n and the schema's value read past (a comment is not even signed), so the
    checks made before the signature's would read another sender, recipient or time than the one it vouches for."""
    return "".join(field.itertext()) if len(field) else (field.text or "")


def rewrite_envelope(body: bytes, *, document: bytes | None = None, created: datetime | None = None) -> bytes:
    """The envelope `body` with another document or creation time, its signature left as it stands.

    What a damaged link or an attacker makes of a sealed envelope (the wire's `corrupt` fault, the drills):
    the fields change, the signature does not, so its digest no longer matches.
    """
    root = parse_document(body)
    changes = {"Document": None if document is None else base64.b64encode(document).decode("ascii"),
               "Created": None if created is None else _stamp(created)}
    for name, text in changes.items():
        element = root.find(f"{{{ENVELOPE_NS}}}{name}")
        if text is not None and element is not None:
            element.text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _stamp(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean_path(path: str | None) -> str:
    """lxml reports `/env:Envelope/env:Sender`; readers want `/Envelope/Sender`."""
    if not path:
        return "/Envelope"
    return "/".join(part.split(":", 1)[-1] for part in path.split("/"))
