"""The IPPC ePhyto Hub's own vocabulary: envelope headers, tracking states, NPPO profiles, validation results.

These are the Hub's entities (`http://ephyto.ippc.int/HUB.Entities` and the service namespace
`http://ephyto.ippc.int/`) as plain frozen values, so that the delivery rules, the SQLite store and the
SOAP face all speak the Hub's words without knowing XML or SQL of each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "ENTITIES_NS",
    "SERVICE_NS",
    "AllowedDocument",
    "EnvelopeHeader",
    "HubEnvelope",
    "NppoView",
    "Receive",
    "TrackingInfo",
    "ValidationResult",
]

SERVICE_NS = "http://ephyto.ippc.int/"
ENTITIES_NS = "http://ephyto.ippc.int/HUB.Entities"


class TrackingInfo(str, Enum):
    """`HUBTrackingInfo`: where one delivery stands, in the Hub's own enumeration."""

    PENDING_DELIVERY = "PendingDelivery"
    DELIVERED = "Delivered"
    DELIVERED_WITH_WARNINGS = "DeliveredWithWarnings"
    DELIVERED_NOT_READABLE = "DeliveredNotReadable"
    FAILED_DELIVERY = "FailedDelivery"
    ENVELOPE_NOT_EXISTS = "EnvelopeNotExists"  # never stored: the answer for a number the hub does not know


class Receive(str, Enum):
    """How an NPPO takes its import envelopes: the hub pushes them, or the NPPO pulls and acknowledges."""

    PUSH = "PUSH"
    PULL = "PULL"


@dataclass(frozen=True)
class EnvelopeHeader:
    """`EnvelopeHeader`: routing and tracking data, never the certificate itself.

    `sender`/`recipient` are the Hub's `From`/`To` country (connection) codes.
    """

    sender: str
    recipient: str
    certificate_type: int
    certificate_status: int
    certificate_number: str
    delivery_number: str | None = None
    tracking: TrackingInfo | None = None
    error: str | None = None

    @classmethod
    def not_exists(cls, delivery_number: str) -> EnvelopeHeader:
        """What tracking answers for an unknown (or someone else's) delivery number."""
        return cls("", "", 0, 0, "", delivery_number, TrackingInfo.ENVELOPE_NOT_EXISTS)


@dataclass(frozen=True)
class HubEnvelope:
    """`Envelope`: a header plus `Content`, the certificate (or country response) XML as text."""

    header: EnvelopeHeader
    content: str | None


@dataclass(frozen=True)
class AllowedDocument:
    """One (certificate type, certificate status) pair an NPPO may send, e.g. (851, 70): a PC, issued."""

    certificate_type: int
    certificate_status: int
    active: bool = True

    @property
    def type_name(self) -> str:
        return CERTIFICATE_TYPES.get(self.certificate_type, str(self.certificate_type))

    @property
    def status_name(self) -> str:
        return CERTIFICATE_STATUSES.get(self.certificate_status, str(self.certificate_status))


CERTIFICATE_TYPES = {851: "Phytosanitary Certificate", 657: "Phytosanitary Re-export Certificate"}
"""UNCL 1001 names of the certificate types the Hub carries."""

CERTIFICATE_STATUSES = {70: "Issued", 40: "Withdrawn"}
"""The IPPC-specific status codes caravan knows (others are allowed by configuration, shown by number)."""


@dataclass(frozen=True)
class NppoView:
    """`Nppo`, as `GetActiveNppos` publishes it: who an NPPO is, how it receives, what it may send, and
    the certificate its ePhytos are signed with, so that importers can check authenticity."""

    country: str
    receive: Receive
    send: bool
    allowed: tuple[AllowedDocument, ...]
    signing_dn: str
    signing_certificate: str  # base64 DER, as an X509Certificate text


@dataclass(frozen=True)
class ValidationResult:
    """`ValidationResult{area, field, level, msg}` of `ValidatePhytoXML`."""

    area: str  # Schema | MandatoryElements | Mapping
    field: str
    level: str  # SEVERE | WARNING | INFO
    message: str
