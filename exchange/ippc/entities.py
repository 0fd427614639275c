"""The IPPC ePhyto Hub's own vocabulary: envelope headers, tracking states, NPPO profiles, validation results.

These are the Hub's entities (`http://ephyto.ippc.int/HUB.Entities` and the service namespace
`http://ephyto.ippc.int/`) as plain frozen values, so that the delivery rules, the SQLite store and the
SOAP face all speak the Hub's words without knowing XML or SQL of each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from exchange.ippc.codelists import code_list

__all__ = [
    "ENTITIES_NS",
    "SERVICE_NS",
    "AllowedDocument",
    "Channel",
    "ChannelRule",
    "Direction",
    "EnvelopeHeader",
    "Forwarding",
    "HubEnvelope",
    "NppoView",
    "Receive",
    "RuleType",
    "Signature",
    "TrackingInfo",
    "VALIDATION_AREAS",
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


class Signature(str, Enum):
    """What the hub found about a certificate's own XMLDSig when it took the delivery. The Hub authenticates
    the sending NPPO by its TLS client certificate either way; a signature that fails is refused outright."""

    SIGNED = "signed"  # a ds:Signature under the root, verified: chain, revocation, signer = sending NPPO
    UNSIGNED = "unsigned"  # none: accepted on the strength of the TLS identity, as most ePhytos travel
    NOT_A_CERTIFICATE = "unread"  # content that is not an XML document: the importer acknowledges it as such


@dataclass(frozen=True)
class Forwarding:
    """`EnvelopeForwarding`: a copy of a delivery for one more NPPO, and the copy's own delivery number."""

    code: str
    delivery_number: str | None = None


@dataclass(frozen=True)
class EnvelopeHeader:
    """`EnvelopeHeader`: routing and tracking data, never the certificate itself.

    `sender`/`recipient` are the Hub's `From`/`To` country (connection) codes. `forwardings` asks for copies
    (codes only) on delivery and lists them (with their numbers) in tracking.
    """

    sender: str
    recipient: str
    certificate_type: int
    certificate_status: int
    certificate_number: str
    delivery_number: str | None = None
    tracking: TrackingInfo | None = None
    error: str | None = None
    forwardings: tuple[Forwarding, ...] = ()

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


def _names(list_id: str) -> dict[int, str]:
    return {int(str(item.get("code"))): str(item.get("name")) for item in code_list(list_id).active_items()}


CERTIFICATE_TYPES = _names("certificate-types")
"""UNCL 1001 names of the certificate types the Hub carries (from the ePhyto code lists)."""

CERTIFICATE_STATUSES = _names("certificate-statuses")
"""The IPPC-specific status codes caravan knows (others are allowed by configuration, shown by number)."""


class RuleType(str, Enum):
    """FORWARD: a copy goes to the rule's country as well. DELEGATE: the rule's country may act for the owner
    in that direction (send in its name, or pull, acknowledge and track what is addressed to it)."""

    FORWARD = "FORWARD"
    DELEGATE = "DELEGATE"


class Direction(str, Enum):
    """Which of the owner's deliveries a rule applies to: those it sends (OUT) or those addressed to it (INC)."""

    OUT = "OUT"
    INC = "INC"


@dataclass(frozen=True)
class ChannelRule:
    """`ChannelRule`: one of an NPPO's standing routing rules, for one (certificate type, status) pair."""

    id: int
    rule_type: RuleType
    direction: Direction
    certificate_type: int
    certificate_status: int
    country_code: str
    active: bool = True

    def applies(self, direction: Direction, certificate_type: int, certificate_status: int) -> bool:
        return (self.active and self.direction is direction
                and (self.certificate_type, self.certificate_status) == (certificate_type, certificate_status))


@dataclass(frozen=True)
class Channel:
    """`Channel`: a participant the caller can exchange with through the hub, and in which directions."""

    code: str
    name: str
    receive: bool
    send: bool


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
    rules: tuple[ChannelRule, ...] = ()


@dataclass(frozen=True)
class ValidationResult:
    """`ValidationResult{area, field, level, msg}` of `ValidatePhytoXML`."""

    area: str  # Schema | MandatoryElements | Mapping
    field: str
    level: str  # SEVERE | WARNING | INFO
    message: str


VALIDATION_AREAS = ("MandatoryElements", "Mapping", "Schema")
"""The Hub's `validationArea` enumeration: a finding of any other area is reported as a Schema finding."""
