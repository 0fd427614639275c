"""e-CO messages as XML in `urn:caravan:eco:1`, and back, one mapping table per message.

The tables use the engine of `nodes.xmlmap`; their element order is the order of `schemas/eco/`.
Conventions: every element is qualified (the schema says `elementFormDefault="qualified"`), times are
UTC with a `Z`, flags are `true`/`false`, optional data is left out rather than written empty.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from lxml import etree

from exchange.clock import utc
from exchange.errors import DocumentError
from nodes.origin.model import (
    AckError,
    Acknowledgement,
    AckResult,
    Address,
    Agreement,
    Certificate,
    CertificateKind,
    CertificateMessage,
    CertificateRef,
    Certification,
    Check,
    CheckName,
    CheckStatus,
    Decision,
    EcoMessage,
    ExporterDeclaration,
    GoodsItem,
    Header,
    Invoice,
    Money,
    Party,
    PartyRef,
    Refusal,
    StatusChange,
    StatusCode,
    Transport,
    UtilisationDecision,
    VerificationReason,
    VerificationRequest,
    VerificationResponse,
    VerificationResult,
)
from nodes.xmlmap import DATE, DECIMAL, INT, Each, Kind, Leaf, Part, Struct, enum_kind, read, write

__all__ = ["ECO_NS", "decode", "encode", "summary"]

ECO_NS = "urn:caravan:eco:1"

DATETIME = Kind(
    lambda moment: utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda text: datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc),
)
BOOLEAN = Kind(lambda value: "true" if value else "false", lambda text: text.strip() in ("true", "1"))


# ---------------------------------------------------------------------------------------------------------------
# Shared groups

_PARTY_REF = Struct(PartyRef, (Leaf("Country", "country"), Leaf("PartyID", "party")))

_HEADER = Struct(
    Header,
    (
        Leaf("MessageID", "message_id"),
        Leaf("SentDateTime", "sent_at", DATETIME),
        Part("Sender", "sender", _PARTY_REF),
        Part("Recipient", "recipient", _PARTY_REF),
        Leaf("CorrelationID", "correlation_id"),
    ),
)

_REF = Struct(
    CertificateRef,
    (Leaf("CertificateNumber", "number"), Leaf("Version", "version", INT), Leaf("IssueDate", "issue_date", DATE)),
)

_PARTY = Struct(
    Party,
    (
        Leaf("ID", "id"),
        Leaf("Name", "name"),
        Part(
            "Address",
            "address",
            Struct(
                Address,
                (
                    Leaf("Line", "line"),
                    Leaf("City", "city"),
                    Leaf("PostalCode", "postcode"),
                    Leaf("CountryCode", "country"),
                ),
            ),
        ),
    ),
)

_MONEY = Struct(Money, (Leaf("Amount", "amount", DECIMAL), Leaf("Currency", "currency")))

_GOODS_ITEM = Struct(
    GoodsItem,
    (
        Leaf("SequenceNumber", "sequence_number", INT),
        Leaf("MarksAndNumbers", "marks"),
        Leaf("PackageCount", "package_count", INT),
        Leaf("PackageTypeCode", "package_type"),
        Leaf("Description", "description"),
        Leaf("HSCode", "hs_code"),
        Leaf("OriginCountry", "origin_country"),
        Leaf("OriginCriterion", "criterion"),
        Leaf("OriginCriterionDetail", "criterion_detail"),
        Leaf("GrossWeight", "gross_weight", DECIMAL),
        Leaf("NetWeight", "net_weight", DECIMAL),
        Part("FOBValue", "fob", _MONEY),
        Leaf("InvoiceNumber", "invoice_number"),
    ),
)

_TRANSPORT = Struct(
    Transport,
    (
        Leaf("ModeCode", "mode"),
        Leaf("MeansID", "means"),
        Leaf("DepartureDate", "departure_date", DATE),
        Leaf("LoadingLocation", "loading"),
        Leaf("DischargeLocation", "discharge"),
        Each("TransitCountry", "transit_countries", Leaf("")),
        Leaf("RouteText", "route"),
    ),
)

_CERTIFICATE = Struct(
    Certificate,
    (
        Leaf("CertificateNumber", "number"),
        Leaf("Version", "version", INT),
        Leaf("Kind", "kind", enum_kind(CertificateKind)),
        Part("Replaces", "replaces", _REF),
        Leaf("Preferential", "preferential", BOOLEAN),
        Leaf("FormCode", "form"),
        Part("TradeAgreement", "agreement", Struct(Agreement, (Leaf("Code", "code"), Leaf("Name", "name")))),
        Leaf("IssueDateTime", "issued_at", DATETIME),
        Leaf("ValidUntil", "valid_until", DATE),
        Leaf("ExportCountry", "export_country"),
        Leaf("ImportCountry", "import_country"),
        Part("Exporter", "exporter", _PARTY),
        Part("Consignee", "consignee", _PARTY),
        Each("Producer", "producers", _PARTY),
        Part("IssuingAuthority", "authority", _PARTY),
        Part("Transport", "transport", _TRANSPORT),
        Each("GoodsItem", "items", _GOODS_ITEM),
        Each("Invoice", "invoices", Struct(Invoice, (Leaf("Number", "number"), Leaf("Date", "date", DATE)))),
        Part(
            "ExporterDeclaration",
            "declaration",
            Struct(
                ExporterDeclaration,
                (
                    Leaf("Statement", "statement"),
                    Leaf("Place", "place"),
                    Leaf("Date", "date", DATE),
                    Leaf("SignatoryName", "signatory"),
                ),
            ),
        ),
        Part(
            "Certification",
            "certification",
            Struct(
                Certification,
                (
                    Leaf("Statement", "statement"),
                    Leaf("Place", "place"),
                    Leaf("Date", "date", DATE),
                    Leaf("OfficerName", "officer"),
                    Leaf("StampID", "stamp"),
                ),
            ),
        ),
    ),
)

_CHECK = Struct(
    Check,
    (
        Leaf("Name", "name", enum_kind(CheckName)),
        Leaf("Status", "status", enum_kind(CheckStatus)),
        Leaf("Code", "code"),
        Leaf("Path", "path"),
        Leaf("Detail", "detail"),
    ),
)

_ERROR = Struct(
    AckError, (Leaf("Document", "document"), Leaf("Path", "path"), Leaf("Rule", "rule"), Leaf("Text", "text"))
)

# ---------------------------------------------------------------------------------------------------------------
# One table per message; the header is read and written apart.

_MESSAGES: dict[str, Struct] = {
    struct.cls.code: struct  # type: ignore[attr-defined]
    for struct in (
        Struct(CertificateMessage, (Part("Certificate", "certificate", _CERTIFICATE),)),
        Struct(
            Acknowledgement,
            (
                Leaf("AcknowledgedMessage/MessageID", "acknowledged_id"),
                Leaf("AcknowledgedMessage/MessageType", "acknowledged_type"),
                Part("Certificate", "certificate", _REF),
                Leaf("Result", "result", enum_kind(AckResult)),
                Each("Error", "errors", _ERROR),
            ),
        ),
        Struct(
            Refusal,
            (
                Leaf("RefusedMessage/MessageID", "refused_id"),
                Leaf("RefusedMessage/MessageType", "refused_type"),
                Part("Certificate", "certificate", _REF),
                Each("Error", "errors", _ERROR),
            ),
        ),
        Struct(
            StatusChange,
            (
                Part("Certificate", "certificate", _REF),
                Leaf("Status", "status", enum_kind(StatusCode)),
                Part("ReplacedBy", "replaced_by", _REF),
                Leaf("Reason", "reason"),
                Leaf("EffectiveDateTime", "effective_at", DATETIME),
            ),
        ),
        Struct(
            UtilisationDecision,
            (
                Part("Certificate", "certificate", _REF),
                Leaf("ImportDeclaration", "declaration"),
                Leaf("DecisionDateTime", "decided_at", DATETIME),
                Leaf("Decision", "decision", enum_kind(Decision)),
                Each("Check", "checks", _CHECK),
                Leaf("Reason", "reason"),
            ),
        ),
        Struct(
            VerificationRequest,
            (
                Leaf("RequestID", "request_id"),
                Part("Certificate", "certificate", _REF),
                Leaf("ImportDeclaration", "declaration"),
                Leaf("Reason", "reason", enum_kind(VerificationReason)),
                Leaf("ReasonDetail", "detail"),
                Each("RequestedDocument", "documents", Leaf("")),
                Leaf("ResponseDueDate", "due", DATE),
                Leaf("PreferenceSuspended", "suspended", BOOLEAN),
            ),
        ),
        Struct(
            VerificationResponse,
            (
                Leaf("RequestID", "request_id"),
                Part("Certificate", "certificate", _REF),
                Leaf("Result", "result", enum_kind(VerificationResult)),
                Leaf("Findings", "findings"),
                Leaf("ResponseDateTime", "answered_at", DATETIME),
            ),
        ),
    )
}


# ---------------------------------------------------------------------------------------------------------------
# Public API


def encode(message: EcoMessage) -> etree._Element:
    """Build the XML of `message`: an `eco:<code>` root, the header, then the message data."""
    root = etree.Element(f"{{{ECO_NS}}}{message.code}", nsmap={"eco": ECO_NS})
    write(etree.SubElement(root, f"{{{ECO_NS}}}Header"), message.header, _HEADER, ECO_NS)
    write(root, message, _MESSAGES[message.code], ECO_NS)
    return root


def decode(root: etree._Element) -> EcoMessage:
    """Read an e-CO message back into its dataclass; the caller validates first, this only maps."""
    name = etree.QName(root)
    struct = _MESSAGES.get(name.localname) if name.namespace == ECO_NS else None
    header = root.find(f"{{{ECO_NS}}}Header")
    if struct is None or header is None:
        raise DocumentError(f"not an e-CO message: {name.text}", document=name.localname, rule="unknown-document-type")
    result: EcoMessage = read(root, struct, ECO_NS, header=read(header, _HEADER, ECO_NS))
    return result


# --- summaries: one line of key data per message, for timelines and logs.


def _kg(mass: Decimal) -> str:
    return f"{mass.normalize():,f} kg"


def _ref(ref: CertificateRef) -> str:
    return f"{ref.number} v{ref.version}"


def _certificate(message: CertificateMessage) -> str:
    c = message.certificate
    scheme = c.agreement.code if c.agreement is not None else "non-preferential"
    items = ", ".join(f"HS {item.hs_code} {item.criterion}" for item in c.items)
    weight = sum((item.gross_weight for item in c.items), Decimal("0"))
    replaces = f" replacing v{c.replaces.version}" if c.replaces is not None else ""
    return (
        f"{c.form} {_ref(c.ref)} {c.kind.value}{replaces} {scheme} {c.export_country}→{c.import_country} "
        f"by {c.authority.id}: {items}, {_kg(weight)}"
    )


def _acknowledgement(message: Acknowledgement) -> str:
    errors = "; ".join(f"{error.rule} at {error.path}" for error in message.errors)
    return f"{message.acknowledged_type} {_ref(message.certificate)} {message.result.value}" + (
        f": {errors}" if errors else ""
    )


def _refusal(message: Refusal) -> str:
    about = f" on {_ref(message.certificate)}" if message.certificate is not None else ""
    errors = "; ".join(f"{error.rule} at {error.path}" for error in message.errors)
    return f"{message.refused_type} {message.refused_id}{about} refused: {errors}"


def _status(message: StatusChange) -> str:
    by = f" by v{message.replaced_by.version}" if message.replaced_by is not None else ""
    return f"{_ref(message.certificate)} {message.status.value}{by}: {message.reason}"


def _decision(message: UtilisationDecision) -> str:
    checks = ", ".join(
        f"{check.name.value.lower()} {check.status.value}"
        + ("" if check.valid else f" {check.code}" + (f" at {check.path}" if check.path else ""))
        for check in message.checks
    )
    reason = f"; {message.reason}" if message.reason else ""
    return f"{_ref(message.certificate)} for {message.declaration}: {message.decision.value} ({checks}){reason}"


def _request(message: VerificationRequest) -> str:
    suspended = ", preference suspended" if message.suspended else ""
    return (
        f"{message.request_id} on {_ref(message.certificate)} {message.reason.value}, "
        f"answer by {message.due.isoformat()}{suspended}"
    )


def _response(message: VerificationResponse) -> str:
    findings = f": {message.findings}" if message.findings else ""
    return f"{message.request_id} on {_ref(message.certificate)} {message.result.value}{findings}"


_SUMMARIES: dict[str, Callable[[Any], str]] = {
    "EcoCertificate": _certificate,
    "EcoAcknowledgement": _acknowledgement,
    "EcoStatusChange": _status,
    "EcoUtilisation": _decision,
    "EcoVerificationRequest": _request,
    "EcoVerificationResponse": _response,
    "EcoRefusal": _refusal,
}


def summary(message: EcoMessage) -> str:
    """One line of the key data of `message`, in the words an officer would scan a timeline for."""
    return _SUMMARIES[message.code](message)
