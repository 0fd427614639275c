"""The National Plant Protection Organization of one country, both ways, as a sans-IO agency.

Exporting, it issues certificates (status 70), withdraws them (the same number re-sent with status
40), replaces them (a new number whose ADRP/ADRPN/ADRPR/ADRD notes point at the old one) and issues
re-export certificates (657: the RPC* notes on every line, the original certificate attached as AWR).
Importing, it takes each delivery, validates it in the Hub's three areas, spots duplicates, records its
acknowledgement as the Hub's tracking states name it (Delivered, DeliveredWithWarnings,
DeliveredNotReadable), and later decides: accept or reject with a reason, sent back as an
SPSAcknowledgement (UNCL 1373: 1 accepted, 8 rejected).

Every method takes the state and `now` and returns an `Outcome`; nothing here sends, stores or reads
a clock. Certificates are kept as the XML that crossed the wire: that is what a withdrawal re-sends and
what a re-export attaches. A node keeps one row per certificate, issued or received (`NPPO_LAYOUT`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from lxml import etree

from exchange.clock import utc
from exchange.errors import DocumentError, Issue, ProtocolError
from exchange.safexml import parse_document
from exchange.validation import validate
from nodes.desk import NodeEvent
from nodes.ephyto.codec import decode, encode
from nodes.ephyto.lifecycle import CertificateState, Receipt, Transition, advance
from nodes.ephyto.model import (
    ACCEPTED,
    ISSUED,
    REEXPORT,
    REJECTED,
    WITHDRAWN,
    Acknowledgement,
    Certificate,
    Clause,
    Note,
    ReferencedDocument,
    Signatory,
    TradeLine,
)
from nodes.records import Counter, Layout, RecordKind, Table, put

__all__ = ["ISSUED_CERTIFICATE", "NPPO_LAYOUT", "RECEIVED_CERTIFICATE", "IssuedRecord", "Nppo", "NppoConfig",
           "NppoState", "Outcome", "ReceivedRecord", "Send", "commodity", "stamp"]

REPLACEMENT_STATEMENT = "4"  # ADRP: the statement that this certificate replaces another (IPPC code)


@dataclass(frozen=True)
class NppoConfig:
    country: str
    name: str  # IssuerSPSParty/Name
    place: str  # place of issue
    officer: str  # authorised officer


@dataclass(frozen=True)
class IssuedRecord:
    number: str
    type_code: str
    importer: str
    commodity: str
    state: CertificateState
    xml: str  # the certificate as issued (status 70)
    replaces: str | None = None
    replaced_by: str | None = None
    original: str | None = None  # a re-export certificate's original
    decision_reason: str | None = None


@dataclass(frozen=True)
class ReceivedRecord:
    number: str
    type_code: str
    exporter: str
    commodity: str
    state: CertificateState
    acknowledgement: Receipt
    xml: str
    remarks: tuple[str, ...] = ()  # what the acknowledgement with warnings said
    deliveries: int = 1  # more than one: duplicates of the same certificate number
    signature: str = "signed"  # the latest delivery's XMLDSig: "signed" (verified) or "unsigned"
    replaces: str | None = None
    replaced_by: str | None = None
    original: str | None = None
    decision_reason: str | None = None


@dataclass(frozen=True)
class NppoState:
    """Certificates by number as issued here and as received here; `unreadable` numbers the deliveries that
    could not be read (filed as unreadable-1, unreadable-2, ...)."""

    issued: Mapping[str, IssuedRecord] = field(default_factory=dict)
    received: Mapping[str, ReceivedRecord] = field(default_factory=dict)
    unreadable: int = 0


ISSUED_CERTIFICATE = RecordKind("issued", IssuedRecord)
RECEIVED_CERTIFICATE = RecordKind("received", ReceivedRecord)

NPPO_LAYOUT = Layout(
    NppoState,
    (Table("issued", ISSUED_CERTIFICATE), Table("received", RECEIVED_CERTIFICATE), Counter("unreadable", "unreadable")),
)
"""One row per certificate issued and per certificate received, by number; a counter of unreadable deliveries."""


@dataclass(frozen=True)
class Send:
    """A document for the NPPO of `country`."""

    country: str
    document: Certificate | Acknowledgement


@dataclass(frozen=True)
class Outcome:
    state: NppoState
    sends: tuple[Send, ...] = ()
    events: tuple[NodeEvent, ...] = ()


def stamp(moment: datetime) -> str:
    """An ePhyto DateTimeString: ISO 8601, UTC, to the second."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def commodity(certificate: Certificate) -> str:
    """What the certificate covers, in a few words: the first line's description and botanical name."""
    if not certificate.items:
        return ""
    line = certificate.items[0]
    text = line.descriptions[0] if line.descriptions else ""
    if line.scientific_names:
        text = f"{text} ({line.scientific_names[0]})" if text else line.scientific_names[0]
    more = len(certificate.items) - 1
    return f"{text} and {more} more line{'s' if more > 1 else ''}" if more else text


class Nppo:
    """One country's NPPO; `config` says who signs what it issues."""

    def __init__(self, config: NppoConfig) -> None:
        self._config = config

    # -- exporting ------------------------------------------------------------------------------------------

    def issue(self, state: NppoState, certificate: Certificate, now: datetime, *,
              replaces: str | None = None) -> Outcome:
        """Sign off `certificate` (number, goods, parties filled in) as this NPPO and send it, status 70."""
        number = _number(certificate)
        if number in state.issued:
            raise ProtocolError(f"certificate number {number} was already issued", document="SPSCertificate",
                                rule="duplicate-number")
        certificate = self._signed(certificate, now)
        importer = _country(certificate.import_country, "ImportSPSCountry")
        record = IssuedRecord(number, str(certificate.type_code), importer, commodity(certificate),
                              CertificateState.ISSUED, _xml(certificate), replaces=replaces,
                              original=certificate.original)
        kind = "re-export certificate" if certificate.type_code == REEXPORT else "phytosanitary certificate"
        event = self._event("issued", number, f"{kind} {number} issued: {record.commodity}, "
                            f"{self._config.country} → {importer}")
        issued = put(state.issued, number, record)
        return Outcome(replace(state, issued=issued), (Send(importer, certificate),), (event,))

    def withdraw(self, state: NppoState, number: str, reason: str, now: datetime) -> Outcome:
        """Re-send certificate `number` with status 40: the IPPC way to cancel it."""
        record = _issued(state, number)
        after = advance(record.state, Transition.WITHDRAW, number)
        withdrawal = replace(decode(etree.fromstring(record.xml.encode())), status_code=WITHDRAWN)
        event = self._event("withdrawn", number, f"certificate {number} withdrawn (status 40): {reason}")
        issued = put(state.issued, number, replace(record, state=after))
        return Outcome(replace(state, issued=issued), (Send(record.importer, withdrawal),), (event,))

    def replace(self, state: NppoState, number: str, replacement: Certificate, reason: str,
                now: datetime) -> Outcome:
        """Issue `replacement` (a new number) with the replacement block naming certificate `number`."""
        record = _issued(state, number)
        after = advance(record.state, Transition.REPLACE, number)
        old = decode(etree.fromstring(record.xml.encode()))
        block = (
            Note("ADRP", (REPLACEMENT_STATEMENT,)),
            Note("ADRPN", (number,)),
            Note("ADRPR", (reason,)),
            *((Note("ADRD", (old.issued,)),) if isinstance(old, Certificate) and old.issued else ()),
        )
        replacement = replace(replacement, notes=(*replacement.notes, *block))
        outcome = self.issue(state, replacement, now, replaces=number)
        new_number = _number(replacement)
        issued = put(outcome.state.issued, number, replace(record, state=after, replaced_by=new_number))
        event = self._event("replaced", number, f"certificate {number} replaced by {new_number}: {reason}")
        return Outcome(replace(outcome.state, issued=issued), outcome.sends, (event, *outcome.events))

    def reexport(self, state: NppoState, certificate: Certificate, original: str, now: datetime, *,
                 repacked: bool = False, new_containers: bool = False, inspected: bool = False) -> Outcome:
        """Issue a re-export certificate (657) for goods that came in under certificate `original`.

        Every line gets the RPC* block (origin, the original's number, packed or repacked, original or new
        containers, original attached, additional inspection); the original received here is attached as
        the AWR reference. One empty certifying clause, as on a paper re-export certificate's single box.
        """
        source = state.received.get(original)
        origin_country = ""
        references = certificate.references
        if source is not None:
            first = decode(etree.fromstring(source.xml.encode()))
            if isinstance(first, Certificate) and first.export_country is not None:
                origin_country = first.export_country.id or ""
            references = (
                ReferencedDocument("851", "AWR", original, issued=first.issued if isinstance(first, Certificate)
                                   else None, attachment=source.xml.encode(), filename=f"{original}.xml"),
                *references,
            )

        def flag(value: bool) -> str:
            return "True" if value else "False"

        def block(line: TradeLine) -> TradeLine:
            notes = (
                *((Note("RPCCO", (origin_country,)),) if origin_country else ()),
                Note("RPCRF", (original,)),
                Note("RPCOR", (flag(True),)),
                Note("RPCTC", (flag(False),)),
                Note("RPCPK", (flag(not repacked),)),
                Note("RPCRP", (flag(repacked),)),
                Note("RPCOC", (flag(not new_containers),)),
                Note("RPCNC", (flag(new_containers),)),
                Note("RPCPC", (flag(source is not None),)),
                Note("RPCAI", (flag(inspected),)),
            )
            return replace(line, notes=(*line.notes, *notes))

        reexport = replace(certificate, type_code=REEXPORT, references=references,
                           items=tuple(block(line) for line in certificate.items))
        return self.issue(state, reexport, now)

    # -- importing ------------------------------------------------------------------------------------------

    def receive_content(self, state: NppoState, data: bytes, now: datetime) -> Outcome:
        """A delivery as raw bytes (e.g. pulled from a Hub): unreadable bytes are DeliveredNotReadable."""
        try:
            root = parse_document(data)
        except DocumentError as error:
            return self._not_readable(state, f"not readable: {error.message}")
        return self.receive(state, root, now)

    def receive(self, state: NppoState, root: etree._Element, now: datetime, *,
                findings: tuple[Issue, ...] = ()) -> Outcome:
        """Take one delivered certificate or import decision; validation findings shape the acknowledgement.

        `findings` are the node's own about the delivery, such as an unsigned certificate (area Signature:
        INFO where this NPPO accepts unsigned ones, WARNING where its policy warns). INFO findings are
        recorded, not remarked on.
        """
        issues = [*findings, *validate(root)]
        signature = "unsigned" if any(issue.area == "Signature" for issue in findings) else "signed"
        try:
            document = decode(root)
        except DocumentError as error:
            return self._not_readable(state, f"not readable: {error.message}")
        refusal = self.refusal(state, document)
        if refusal is not None:  # what the node's intake refuses at delivery never gets here; a pulled one may
            return Outcome(state, (), (self._event("rejected", refusal.document, refusal.message, rule=refusal.rule,
                                                   path=refusal.path),))
        if isinstance(document, Acknowledgement):
            return self._decision_received(state, document)
        if document.number is None:
            return self._not_readable(state, "no certificate number (SPSExchangedDocument/ID)")
        remarks = tuple(f"{issue.level} {issue.area} {issue.path}: {issue.message}" for issue in issues
                        if issue.level != "INFO")
        xml = etree.tostring(root, encoding="unicode")
        if document.status_code == WITHDRAWN:
            return self._withdrawal_received(state, document, xml, remarks, signature)
        return self._certificate_received(state, document, xml, remarks, signature)

    def refusal(self, state: NppoState, document: Certificate | Acknowledgement) -> ProtocolError | None:
        """Why this NPPO will never take a delivery, or None: its failed acknowledgement at delivery.

        A withdrawal of a certificate never received here, or one (like a replacement) its state does not
        allow; a decision on a certificate this NPPO never issued, or one out of sequence (a decision on a
        withdrawn certificate, a second decision). Each names the document, the place and the rule, as the
        Hub's `hubDeliveryErrorMessage` would. Duplicates are not refused: the node absorbs a repeated message
        before it asks, and a certificate number delivered twice is remarked on. A certificate for another
        country is taken: the Hub forwards copies to transit countries.
        """
        if isinstance(document, Acknowledgement):
            return self._decision_refusal(state, document)
        number = document.number or ""
        if document.status_code != WITHDRAWN:
            replaced = state.received.get(document.replaces) if document.replaces else None
            return None if replaced is None else _sequence_refusal(
                replaced.state, Transition.REPLACE, replaced.number, "SPSCertificate",
                "/SPSCertificate/SPSExchangedDocument/IncludedSPSNote[Subject='ADRPN']/Content")
        known = state.received.get(number)
        if known is None:
            return ProtocolError(f"withdrawal of certificate {number}, which was never received here",
                                 document="SPSCertificate", path="/SPSCertificate/SPSExchangedDocument/ID",
                                 rule="unknown-certificate")
        return _sequence_refusal(known.state, Transition.WITHDRAW, number, "SPSCertificate",
                                 "/SPSCertificate/SPSExchangedDocument/StatusCode")

    def _decision_refusal(self, state: NppoState, answer: Acknowledgement) -> ProtocolError | None:
        number = answer.certificate or ""
        path = "/SPSAcknowledgement/SPSAcknowledgementDocument/ReferenceSPSReferencedDocument/ID"
        record = state.issued.get(number)
        if record is None:
            return ProtocolError(f"import decision on certificate {number or '(none)'}, which this NPPO did not "
                                 "issue", document="SPSAcknowledgement", path=path, rule="unknown-certificate")
        transition = Transition.ACCEPT if answer.status_code == ACCEPTED else Transition.REJECT
        return _sequence_refusal(record.state, transition, number, "SPSAcknowledgement", path)

    def decide(self, state: NppoState, number: str, accept: bool, reason: str, now: datetime) -> Outcome:
        """The import decision on certificate `number`, sent to the exporting NPPO as an SPSAcknowledgement."""
        record = state.received.get(number)
        if record is None:
            raise ProtocolError(f"no certificate {number} was received", document="SPSAcknowledgement",
                                rule="unknown-certificate")
        after = advance(record.state, Transition.ACCEPT if accept else Transition.REJECT, number)
        certificate = decode(etree.fromstring(record.xml.encode()))
        answer = Acknowledgement(
            certificate=number,
            status_code=ACCEPTED if accept else REJECTED,
            issued=stamp(now),
            reasons=(reason,) if reason else (),
            certificate_type=record.type_code,
            certificate_issued=certificate.issued if isinstance(certificate, Certificate) else None,
        )
        verdict = "accepted" if accept else f"rejected: {reason}"
        event = self._event("decision", number, f"import decision on {number}: {verdict}",
                            certificate=number, decision=after.value, reason=reason)
        received = put(state.received, number, replace(record, state=after, decision_reason=reason or None))
        return Outcome(replace(state, received=received), (Send(record.exporter, answer),), (event,))

    # -- importing, by kind of delivery ---------------------------------------------------------------------

    def _certificate_received(self, state: NppoState, certificate: Certificate, xml: str,
                              remarks: tuple[str, ...], signature: str) -> Outcome:
        number = str(certificate.number)
        known = state.received.get(number)
        if known is not None:
            deliveries = known.deliveries + 1
            remark = f"duplicate: certificate {number} was already received (delivery {deliveries})"
            record = replace(known, deliveries=deliveries, acknowledgement=Receipt.DELIVERED_WITH_WARNINGS,
                             remarks=(*known.remarks, remark), signature=signature)
            return self._acknowledged(state, {number: record}, record, remark)
        exporter = (certificate.export_country.id if certificate.export_country else None) or ""
        receipt = Receipt.DELIVERED_WITH_WARNINGS if remarks else Receipt.DELIVERED
        record = ReceivedRecord(number, str(certificate.type_code), exporter, commodity(certificate),
                                CertificateState.RECEIVED, receipt, xml, remarks,
                                replaces=certificate.replaces, original=certificate.original, signature=signature)
        changes = {number: record}
        old = state.received.get(certificate.replaces) if certificate.replaces else None
        if old is not None:
            changes[old.number] = replace(old, state=advance(old.state, Transition.REPLACE, old.number),
                                          replaced_by=number)
        return self._acknowledged(state, changes, record, "; ".join(remarks))

    def _withdrawal_received(self, state: NppoState, certificate: Certificate, xml: str,
                             remarks: tuple[str, ...], signature: str) -> Outcome:
        number = str(certificate.number)
        known = state.received[number]  # `refusal` turned away a withdrawal of anything else
        after = advance(known.state, Transition.WITHDRAW, number)
        receipt = Receipt.DELIVERED_WITH_WARNINGS if remarks else Receipt.DELIVERED
        record = replace(known, state=after, acknowledgement=receipt, remarks=remarks, signature=signature)
        return self._acknowledged(state, {number: record}, record, "; ".join(record.remarks))

    def _decision_received(self, state: NppoState, answer: Acknowledgement) -> Outcome:
        number = answer.certificate or ""
        record = state.issued[number]  # `refusal` turned away a decision on anything else
        accepted = answer.status_code == ACCEPTED
        after = advance(record.state, Transition.ACCEPT if accepted else Transition.REJECT, number)
        reason = "; ".join(answer.reasons) or None
        verdict = "accepted" if accepted else f"rejected: {reason}"
        event = self._event("decision", number, f"{record.importer} {verdict} certificate {number}",
                            certificate=number, decision=after.value, reason=reason or "")
        issued = put(state.issued, number, replace(record, state=after, decision_reason=reason))
        return Outcome(replace(state, issued=issued), (), (event,))

    def _not_readable(self, state: NppoState, reason: str) -> Outcome:
        key = f"unreadable-{state.unreadable + 1}"
        record = ReceivedRecord("", "", "", "", CertificateState.RECEIVED, Receipt.NOT_READABLE, "", (reason,))
        return self._acknowledged(replace(state, unreadable=state.unreadable + 1), {key: record}, record, reason,
                                  key=key)

    def _acknowledged(self, state: NppoState, changes: Mapping[str, ReceivedRecord], record: ReceivedRecord,
                      remark: str, *, key: str | None = None) -> Outcome:
        """Record the delivery and say how it was acknowledged: the IPPC side reads `acknowledgement`."""
        reference = key or record.number
        signed = f" ({record.signature})" if record.number else ""
        detail = f"{reference} acknowledged {record.acknowledgement.value}{signed}" + (f": {remark}" if remark else "")
        event = self._event("acknowledged", reference, detail, certificate=record.number,
                            type=record.type_code, acknowledgement=record.acknowledgement.value,
                            remarks=list(record.remarks), signature=record.signature)
        received = state.received
        for number, changed in changes.items():
            received = put(received, number, changed)
        return Outcome(replace(state, received=received), (), (event,))

    # -- helpers --------------------------------------------------------------------------------------------

    def _signed(self, certificate: Certificate, now: datetime) -> Certificate:
        """This NPPO's part of a certificate: issuer, status, dates, place and officer, and the clauses."""
        signatory = certificate.signatory
        clauses = signatory.clauses if signatory is not None and signatory.clauses else (
            (Clause("1"),) if certificate.type_code == REEXPORT else ())
        return replace(
            certificate,
            status_code=ISSUED,
            issued=certificate.issued or stamp(now),
            issuer=self._config.name,
            signatory=Signatory(self._config.place, self._config.officer, stamp(now), clauses),
        )

    def _event(self, kind: str, reference: str, detail: str, **data: object) -> NodeEvent:
        return NodeEvent(kind, f"NPPO.{self._config.country}", reference, detail, dict(data))


def _sequence_refusal(state: CertificateState, transition: Transition, number: str, document: str,
                      path: str) -> ProtocolError | None:
    """The lifecycle's refusal of `transition` from `state`, placed in the delivered document; None if allowed."""
    try:
        advance(state, transition, number)
    except ProtocolError as error:
        return ProtocolError(error.message, document=document, path=path, rule=error.rule)
    return None


def _number(certificate: Certificate) -> str:
    if not certificate.number:
        raise ProtocolError("a certificate needs a number (SPSExchangedDocument/ID)", document="SPSCertificate",
                            rule="EPH-M01")
    return certificate.number


def _country(country: object, where: str) -> str:
    code = getattr(country, "id", None)
    if not code:
        raise ProtocolError(f"a certificate needs {where}/ID", document="SPSCertificate", rule="EPH-M15")
    return str(code)


def _issued(state: NppoState, number: str) -> IssuedRecord:
    record = state.issued.get(number)
    if record is None:
        raise ProtocolError(f"this NPPO issued no certificate {number}", document="SPSCertificate",
                            rule="unknown-certificate")
    return record


def _xml(certificate: Certificate) -> str:
    return etree.tostring(encode(certificate), encoding="unicode")
