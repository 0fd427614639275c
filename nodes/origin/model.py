"""The e-CO vocabulary as data: the certificate of origin, its companion messages and their code lists.

The certificate carries the field set every certificate of origin shares (CIS ST-1 boxes, ATIGA Form D
boxes, the UN/CEFACT edi3 and WCO/ICC guideline data): number and version, kind, preferential flag and
form, trade agreement, exporter, consignee, producers, issuing authority, transport and route, goods
items with HS code and origin criterion, invoices, the exporter's declaration and the certification.
The companion messages are what the government-to-government exchange needs around it: the
importing customs' acknowledgement, the issuer's status change (cancelled, replaced), the customs'
utilisation decision, and the retroactive verification request and response.

The codec (`nodes.origin.codec`) turns these into XML that validates against `schemas/eco/` and back;
the agencies only ever see these classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import ClassVar

__all__ = [
    "MESSAGE_NAMES",
    "NONPREF",
    "VALUE_RULES",
    "AckError",
    "AckResult",
    "Acknowledgement",
    "Address",
    "Agreement",
    "Certificate",
    "CertificateKind",
    "CertificateMessage",
    "CertificateRef",
    "Certification",
    "Check",
    "CheckName",
    "CheckStatus",
    "Decision",
    "EcoMessage",
    "ExporterDeclaration",
    "GoodsItem",
    "Header",
    "Invoice",
    "Money",
    "Party",
    "PartyRef",
    "StatusChange",
    "StatusCode",
    "Transport",
    "UtilisationDecision",
    "VerificationReason",
    "VerificationRequest",
    "VerificationResponse",
    "VerificationResult",
]

NONPREF = "NONPREF"
"""The form code of a non-preferential certificate, and the trust-list "agreement" of the authorities
(chambers of commerce) that may issue one."""

VALUE_RULES = frozenset({"RVC", "PC"})
"""Origin criteria that are value rules: the goods item must state its FOB value (Form D box 9)."""


class CertificateKind(Enum):
    ORIGINAL = "ORIGINAL"
    REPLACEMENT = "REPLACEMENT"  # in substitution for an earlier version (FTS AnnuledSertifForm, EAV kind 2)
    DUPLICATE = "DUPLICATE"  # certified true copy of a lost certificate (EAV kind 1)


class AckResult(Enum):
    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"


class StatusCode(Enum):
    CANCELLED = "CANCELLED"
    REPLACED = "REPLACED"


class Decision(Enum):
    PREFERENCE_GRANTED = "PREFERENCE_GRANTED"
    PREFERENCE_DENIED = "PREFERENCE_DENIED"
    PREFERENCE_WITHDRAWN = "PREFERENCE_WITHDRAWN"
    USED = "USED"  # a non-preferential certificate accepted as proof of origin
    NOT_ACCEPTED = "NOT_ACCEPTED"  # a non-preferential certificate refused
    USE_WITHDRAWN = "USE_WITHDRAWN"  # a non-preferential certificate's acceptance withdrawn after a verification


class CheckName(Enum):
    """The three checks of a TradeTrust/OpenAttestation verifier, reported separately."""

    INTEGRITY = "INTEGRITY"  # signature and content: is this what the issuer signed?
    STATUS = "STATUS"  # issued, not cancelled or replaced, within validity
    ISSUER_IDENTITY = "ISSUER_IDENTITY"  # is the issuer on the trust list for this agreement and country?


class CheckStatus(Enum):
    VALID = "VALID"
    INVALID = "INVALID"
    ERROR = "ERROR"  # the check could not be carried out (no data, no source)


class VerificationReason(Enum):
    RANDOM = "RANDOM"
    DOUBT_AUTHENTICITY = "DOUBT_AUTHENTICITY"
    DOUBT_ORIGIN = "DOUBT_ORIGIN"
    DOUBT_DATA = "DOUBT_DATA"


class VerificationResult(Enum):
    CONFIRMED = "CONFIRMED"
    ORIGIN_NOT_CONFIRMED = "ORIGIN_NOT_CONFIRMED"
    NOT_AUTHENTIC = "NOT_AUTHENTIC"
    NO_RECORD = "NO_RECORD"


# ---------------------------------------------------------------------------------------------------------------
# Data groups


@dataclass(frozen=True)
class PartyRef:
    """Who sends or receives a message: a country and a party in it (an authority or the customs).

    The party id starts with its country code, which is what lets the hub check that a node speaks only
    for its own country (`schemas/eco/family.yaml`, sender_party).
    """

    country: str
    party: str


@dataclass(frozen=True)
class Header:
    message_id: str  # unique per sender; the envelope's MessageId repeats it
    sent_at: datetime
    sender: PartyRef
    recipient: PartyRef
    correlation_id: str | None = None  # the certificate number the message is about


@dataclass(frozen=True)
class Address:
    city: str
    country: str
    line: str | None = None
    postcode: str | None = None


@dataclass(frozen=True)
class Party:
    """Exporter, consignee, producer, or the issuing authority (whose `id` the trust list names)."""

    name: str
    address: Address
    id: str | None = None


@dataclass(frozen=True)
class Agreement:
    code: str  # e.g. CIS-FTA-1994
    name: str


@dataclass(frozen=True)
class CertificateRef:
    """Any version of a certificate is identified by its number and version."""

    number: str
    version: int
    issue_date: date | None = None


@dataclass(frozen=True)
class Transport:
    """ST-1 box 3 / Form D box 3: means of transport and route."""

    mode: str  # UN/ECE Rec 19: 1 sea, 2 rail, 3 road, 4 air
    means: str | None = None
    departure_date: date | None = None
    loading: str | None = None  # UN/LOCODE
    discharge: str | None = None  # UN/LOCODE
    transit_countries: tuple[str, ...] = ()
    route: str | None = None  # box 3 verbatim


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class GoodsItem:
    """ST-1 boxes 6-10 / Form D boxes 5-9: one line of goods and the criterion that makes it originating."""

    sequence_number: int
    package_count: int
    package_type: str  # UN/ECE Rec 21
    description: str
    hs_code: str
    origin_country: str
    criterion: str  # WO, PE, PSR, CC, CTH, CTSH, RVC, SP, PC
    gross_weight: Decimal  # kg
    criterion_detail: str | None = None  # e.g. "RVC 50%", the CIS rule applied
    marks: str | None = None
    net_weight: Decimal | None = None  # kg
    fob: Money | None = None  # required by a value rule (VALUE_RULES)
    invoice_number: str | None = None


@dataclass(frozen=True)
class Invoice:
    number: str
    date: date


@dataclass(frozen=True)
class ExporterDeclaration:
    """ST-1 box 13 / Form D box 11."""

    statement: str
    place: str
    date: date
    signatory: str


@dataclass(frozen=True)
class Certification:
    """ST-1 box 12 / Form D box 12: the issuing body certifies the exporter's declaration."""

    statement: str
    place: str
    date: date
    officer: str
    stamp: str | None = None


@dataclass(frozen=True)
class Certificate:
    number: str
    version: int
    kind: CertificateKind
    preferential: bool
    form: str  # ST-1, FORM-D, ..., NONPREF
    issued_at: datetime
    export_country: str  # "issued in"
    import_country: str  # "for presentation in"
    exporter: Party
    consignee: Party
    authority: Party
    items: tuple[GoodsItem, ...]
    invoices: tuple[Invoice, ...]
    declaration: ExporterDeclaration
    certification: Certification
    replaces: CertificateRef | None = None
    agreement: Agreement | None = None  # None for a non-preferential certificate
    valid_until: date | None = None
    producers: tuple[Party, ...] = ()
    transport: Transport | None = None

    @property
    def ref(self) -> CertificateRef:
        return CertificateRef(self.number, self.version, self.issued_at.date())

    @property
    def agreement_code(self) -> str:
        """What the trust list is keyed by: the agreement, or NONPREF for a non-preferential certificate."""
        return self.agreement.code if self.preferential and self.agreement is not None else NONPREF


@dataclass(frozen=True)
class Check:
    """One check's result: VALID, INVALID or ERROR, a code saying why, and where (an XPath) if it applies."""

    name: CheckName
    status: CheckStatus
    code: str
    path: str | None = None
    detail: str | None = None

    @property
    def valid(self) -> bool:
        return self.status is CheckStatus.VALID


@dataclass(frozen=True)
class AckError:
    """Why a pushed message was not taken: the document, the place and the rule."""

    document: str
    path: str
    rule: str
    text: str


# ---------------------------------------------------------------------------------------------------------------
# Messages. Every message has `header` first and a class-level `code` (its root element).


@dataclass(frozen=True)
class CertificateMessage:
    """Issuing authority → importing customs: the certificate itself."""

    header: Header
    certificate: Certificate
    code: ClassVar[str] = "EcoCertificate"


@dataclass(frozen=True)
class Acknowledgement:
    """Importing customs → issuing authority: a pushed certificate or status change taken, or not."""

    header: Header
    acknowledged_id: str
    acknowledged_type: str
    certificate: CertificateRef
    result: AckResult
    errors: tuple[AckError, ...] = ()
    code: ClassVar[str] = "EcoAcknowledgement"


@dataclass(frozen=True)
class Refusal:
    """Either way: a message the receiving party will not apply, and why (document, place, rule): the e-CO
    functional NACK. A pushed certificate or status change is answered by an Acknowledgement instead."""

    header: Header
    refused_id: str
    refused_type: str
    certificate: CertificateRef | None
    errors: tuple[AckError, ...]
    code: ClassVar[str] = "EcoRefusal"


@dataclass(frozen=True)
class StatusChange:
    """Issuing authority → importing customs: a version cancelled, or replaced by a later one."""

    header: Header
    certificate: CertificateRef
    status: StatusCode
    reason: str
    effective_at: datetime
    replaced_by: CertificateRef | None = None
    code: ClassVar[str] = "EcoStatusChange"


@dataclass(frozen=True)
class UtilisationDecision:
    """Importing customs → issuing authority: what was decided on a declaration citing the certificate."""

    header: Header
    certificate: CertificateRef
    declaration: str
    decided_at: datetime
    decision: Decision
    checks: tuple[Check, ...]
    reason: str | None = None
    code: ClassVar[str] = "EcoUtilisation"


@dataclass(frozen=True)
class VerificationRequest:
    """Importing customs → issuing authority: verify this certificate (retroactive verification)."""

    header: Header
    request_id: str
    certificate: CertificateRef
    reason: VerificationReason
    due: date
    suspended: bool
    declaration: str | None = None
    detail: str | None = None
    documents: tuple[str, ...] = ()
    code: ClassVar[str] = "EcoVerificationRequest"


@dataclass(frozen=True)
class VerificationResponse:
    """Issuing authority → importing customs: the answer to a verification request."""

    header: Header
    request_id: str
    certificate: CertificateRef
    result: VerificationResult
    answered_at: datetime
    findings: str | None = None
    code: ClassVar[str] = "EcoVerificationResponse"


EcoMessage = (
    CertificateMessage | Acknowledgement | StatusChange | UtilisationDecision | VerificationRequest
    | VerificationResponse | Refusal
)

MESSAGE_NAMES: dict[str, str] = {
    "EcoCertificate": "Certificate of origin",
    "EcoAcknowledgement": "Acknowledgement",
    "EcoStatusChange": "Certificate status change",
    "EcoUtilisation": "Utilisation decision",
    "EcoVerificationRequest": "Verification request",
    "EcoVerificationResponse": "Verification response",
    "EcoRefusal": "Refusal",
}
"""Names for timelines and errors."""
