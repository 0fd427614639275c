"""The importing customs: takes pushed certificates, checks the declarations that cite them, verifies after.

What it does, in the order of the exchange (eco.md §2):

1. a certificate or status change pushed by an issuing authority is acknowledged: RECEIVED, or REJECTED
   with each error's document, XPath and rule (schema rules, a sender that is not the issuer, a version
   already received, a status change the record does not allow);
2. an import declaration cites a certificate by number (and issue date, optionally version); customs
   matches it against the data received and runs the three checks (`nodes.origin.checks`), then grants
   or denies the preference and sends the utilisation decision back to the issuer;
3. it may later send a verification request with a reason and a due date, suspending the preference
   meanwhile; the answer confirms the preference or withdraws it, and a request still unanswered after
   its due date becomes Overdue (`tick`).

The moves are the `RECEIVED`, `PREFERENCE` and `VERIFICATION` tables (tables.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from lxml import etree

from exchange.errors import Issue, ProtocolError, ScenarioError
from nodes.origin.checks import digest, integrity_of_copy, issuer_identity, not_received, status_of
from nodes.origin.codec import ECO_NS
from nodes.origin.ledger import (
    DeclarationRecord,
    OriginState,
    ReceivedRecord,
    VerificationRecord,
    version_key,
    versions_of,
)
from nodes.origin.model import (
    AckError,
    Acknowledgement,
    AckResult,
    CertificateMessage,
    CertificateRef,
    Check,
    Decision,
    EcoMessage,
    PartyRef,
    StatusChange,
    StatusCode,
    UtilisationDecision,
    VerificationReason,
    VerificationRequest,
    VerificationResponse,
    VerificationResult,
)
from nodes.origin.step import Step
from nodes.origin.tables import (
    PREFERENCE,
    RECEIVED,
    VERIFICATION,
    VERIFICATION_TIMERS,
    PreferenceState,
    next_state,
)
from nodes.origin.trust import TrustList
from nodes.records import at_hand, put

__all__ = ["DECISIONS", "CustomsConfig", "ImportDeclaration", "VerificationDraft", "declare", "receive",
           "request_verification", "tick"]

_P = PreferenceState

DECISIONS: Mapping[tuple[bool, PreferenceState], Decision] = {
    (True, _P.ACCEPTED): Decision.PREFERENCE_GRANTED,
    (True, _P.REFUSED): Decision.PREFERENCE_DENIED,
    (True, _P.WITHDRAWN): Decision.PREFERENCE_WITHDRAWN,
    (False, _P.ACCEPTED): Decision.USED,
    (False, _P.REFUSED): Decision.NOT_ACCEPTED,
    (False, _P.WITHDRAWN): Decision.USE_WITHDRAWN,
}
"""(preferential certificate?, where the declaration ends up) → the decision the issuer is told."""


@dataclass(frozen=True)
class CustomsConfig:
    country: str
    party: PartyRef  # this customs administration
    trust: TrustList
    signers: Mapping[str, str]  # country → the node serving it: the only node the hub lets speak for its parties


@dataclass(frozen=True)
class ImportDeclaration:
    """What an import declaration says about origin: the certificate it cites, and the copy presented."""

    number: str
    certificate: str  # certificate number
    version: int | None = None  # None: the latest version received
    issue_date: date | None = None
    preferential: bool = True  # what is claimed, when no data was received to say
    altered: Mapping[str, str] = field(default_factory=dict)  # a presented copy: path under Certificate → text


@dataclass(frozen=True)
class VerificationDraft:
    request_id: str
    declaration: str
    reason: VerificationReason
    due: date
    suspend: bool
    detail: str | None = None
    documents: tuple[str, ...] = ()


# -- pushed data --------------------------------------------------------------------------------------------


def receive(
    step: Step, state: OriginState, config: CustomsConfig, message: EcoMessage, root: etree._Element,
    issues: list[Issue],
) -> OriginState:
    """A certificate or status change (acknowledged either way), or the answer to a verification request."""
    if isinstance(message, CertificateMessage):
        return _certificate(step, state, config, message, root, _errors(message.code, issues))
    if isinstance(message, StatusChange):
        return _status(step, state, config, message, _errors(message.code, issues))
    if isinstance(message, VerificationResponse):
        return _response(step, state, config, message)
    raise ProtocolError(f"customs does not take {message.code}", document=message.code, path=f"/{message.code}",
                        rule="ECO-WRONG-PARTY")


def _errors(document: str, issues: list[Issue]) -> list[AckError]:
    return [AckError(document, issue.path, issue.rule or issue.area, issue.message[:512])
            for issue in issues if issue.level == "SEVERE"]


def _refused(document: str, error: ProtocolError) -> AckError:
    return AckError(document, error.path or f"/{document}", error.rule, error.message[:512])


def _acknowledge(
    step: Step, config: CustomsConfig, message: CertificateMessage | StatusChange, ref: CertificateRef,
    errors: list[AckError],
) -> None:
    result = AckResult.REJECTED if errors else AckResult.RECEIVED
    step.send(
        Acknowledgement, config.party, message.header.sender, ref.number, acknowledged_id=message.header.message_id,
        acknowledged_type=message.code, certificate=ref, result=result, errors=tuple(errors),
    )
    if errors:
        listed = "; ".join(f"{error.rule} at {error.path}" for error in errors)
        step.note("rejected", config.party.party, version_key(ref.number, ref.version),
                  f"{message.code} {message.header.message_id} not taken: {listed}",
                  errors=[{"document": e.document, "path": e.path, "rule": e.rule} for e in errors])


def _certificate(
    step: Step, state: OriginState, config: CustomsConfig, message: CertificateMessage, root: etree._Element,
    errors: list[AckError],
) -> OriginState:
    certificate = message.certificate
    key = version_key(certificate.number, certificate.version)
    if message.header.sender.party != certificate.authority.id:
        errors.append(AckError(message.code, "/EcoCertificate/Header/Sender/PartyID", "ECO-SENDER-NOT-ISSUER",
                               f"sent by {message.header.sender.party}, issued by {certificate.authority.id}"))
    if certificate.import_country != config.country:
        errors.append(AckError(message.code, "/EcoCertificate/Certificate/ImportCountry", "ECO-NOT-FOR-US",
                               f"for presentation in {certificate.import_country}, not {config.country}"))
    known = state.received.get(key)
    target = None
    try:
        target = next_state(RECEIVED, None if known is None else known.state, "certificate", what=key,
                            path="/EcoCertificate/Certificate/Version")
    except ProtocolError as error:
        errors.append(_refused(message.code, error))
    _acknowledge(step, config, message, certificate.ref, errors)
    if errors or target is None:
        return state
    content = etree.tostring(root, method="c14n", exclusive=True).decode()
    record = ReceivedRecord(certificate, target, message.header.sender, content, digest(root), step.now)
    step.moved(config.party.party, key, None, target, "certificate")
    return replace(state, received=put(state.received, key, record))


_STATUS_TRIGGERS = {StatusCode.CANCELLED: "cancelled", StatusCode.REPLACED: "replaced"}


def _status(
    step: Step, state: OriginState, config: CustomsConfig, message: StatusChange, errors: list[AckError]
) -> OriginState:
    key = version_key(message.certificate.number, message.certificate.version)
    record = state.received.get(key)
    trigger = _STATUS_TRIGGERS[message.status]
    if record is not None and message.header.sender.party != record.certificate.authority.id:
        errors.append(AckError(message.code, "/EcoStatusChange/Header/Sender/PartyID", "ECO-SENDER-NOT-ISSUER",
                               f"{key} was issued by {record.certificate.authority.id}"))
    target = None
    try:
        target = next_state(RECEIVED, None if record is None else record.state, trigger, what=key,
                            path="/EcoStatusChange/Status")
    except ProtocolError as error:
        errors.append(_refused(message.code, error))
    _acknowledge(step, config, message, message.certificate, errors)
    if errors or record is None or target is None:
        return state
    step.moved(config.party.party, key, record.state, target, trigger)
    replaced_by = message.replaced_by.version if message.replaced_by is not None else None
    updated = replace(record, state=target, replaced_by=replaced_by)
    return replace(state, received=put(state.received, key, updated))


# -- declarations -------------------------------------------------------------------------------------------


def _presented_copy(signed: etree._Element, changes: Mapping[str, str]) -> etree._Element:
    """The copy an importer presents: the signed content with `changes` made after signing.

    Paths are relative to the Certificate element, in local names (`GoodsItem[1]/NetWeight`).
    """
    copy = etree.fromstring(etree.tostring(signed))
    certificate = copy.find(f"{{{ECO_NS}}}Certificate")
    for path, text in changes.items():
        xpath = "/".join(f"eco:{step}" for step in str(path).strip("/").split("/"))
        try:
            found = certificate.xpath(xpath, namespaces={"eco": ECO_NS}) if certificate is not None else []
        except etree.XPathError:  # `GoodsItem[1/NetWeight`: no path at all, so it names no element either
            found = []
        if not found or not isinstance(found[0], etree._Element):
            raise ScenarioError(f"altered: {path!r} names no element of the certificate", path="altered")
        found[0].text = str(text)
    return copy


def _pick(state: OriginState, declaration: ImportDeclaration) -> ReceivedRecord | None:
    versions = versions_of(state.received, declaration.certificate)
    if declaration.version is not None:
        versions = [record for record in versions if record.certificate.version == declaration.version]
    return versions[-1] if versions else None


def _checks(
    step: Step, config: CustomsConfig, record: ReceivedRecord, declaration: ImportDeclaration
) -> tuple[Check, ...]:
    signer = config.signers.get(record.sender.country, "")
    signed = etree.fromstring(record.content)
    copy = _presented_copy(signed, declaration.altered) if declaration.altered else None
    return (
        integrity_of_copy(signed, record.digest, signer, copy, declaration.issue_date),
        status_of(record.view, step.now, declaration.number),
        issuer_identity(record.certificate, config.trust, signer),
    )


def declare(step: Step, state: OriginState, config: CustomsConfig, declaration: ImportDeclaration) -> OriginState:
    """Match the cited certificate against the data received, run the three checks, decide, tell the issuer."""
    if declaration.number in state.declarations:
        raise ProtocolError(f"declaration {declaration.number} was already decided", path="/EcoUtilisation",
                            rule="ECO-DUPLICATE-DECLARATION")
    record = _pick(state, declaration)
    if record is None:
        ref = CertificateRef(declaration.certificate, declaration.version or 1, declaration.issue_date)
        checks, preferential, authority = not_received(declaration.certificate), declaration.preferential, None
    else:
        ref, preferential = record.certificate.ref, record.certificate.preferential
        checks, authority = _checks(step, config, record, declaration), record.sender
    trigger = "checks hold" if all(check.valid for check in checks) else "checks fail"
    target = next_state(PREFERENCE, None, trigger, what=declaration.number, path="/EcoUtilisation/Decision")
    decision = DECISIONS[(preferential, target)]
    step.moved(config.party.party, declaration.number, None, target, trigger)
    if target is _P.ACCEPTED and record is not None:
        state = _move_received(step, state, config, record, "used", used_by=declaration.number)
    if authority is not None:
        step.send(UtilisationDecision, config.party, authority, ref.number, certificate=ref,
                  declaration=declaration.number, decided_at=step.now, decision=decision, checks=checks)
    if target is _P.REFUSED:
        failed = "; ".join(f"{c.name.value.lower()} {c.status.value} {c.code}" + (f" at {c.path}" if c.path else "")
                           for c in checks if not c.valid)
        step.note("rejected", config.party.party, declaration.number,
                  f"{decision.value} for {ref.number} v{ref.version}: {failed}",
                  checks=[{"name": c.name.value, "status": c.status.value, "code": c.code, "path": c.path}
                          for c in checks])
    filed = DeclarationRecord(declaration.number, ref, target, preferential, decision, checks, step.now, authority)
    return replace(state, declarations=put(state.declarations, declaration.number, filed))


def _move_received(
    step: Step, state: OriginState, config: CustomsConfig, record: ReceivedRecord, trigger: str, **changes: object
) -> OriginState:
    key = version_key(record.certificate.number, record.certificate.version)
    target = next_state(RECEIVED, record.state, trigger, what=key, path="/EcoCertificate/Certificate")
    step.moved(config.party.party, key, record.state, target, trigger)
    return replace(state, received=put(state.received, key, replace(record, state=target, **changes)))


# -- retroactive verification -------------------------------------------------------------------------------


def request_verification(
    step: Step, state: OriginState, config: CustomsConfig, draft: VerificationDraft
) -> OriginState:
    """Ask the issuer to verify the certificate a declaration used; suspend the preference if `draft.suspend`."""
    declaration = state.declarations.get(draft.declaration)
    if declaration is None or declaration.authority is None:
        raise ProtocolError(f"declaration {draft.declaration} used no certificate received here",
                            path="/EcoVerificationRequest/ImportDeclaration", rule="ECO-UNKNOWN")
    known = state.requests.get(draft.request_id)
    target = next_state(VERIFICATION, None if known is None else known.state, "request", what=draft.request_id,
                        path="/EcoVerificationRequest/RequestID")
    trigger = "verification requested, preference suspended" if draft.suspend else "verification requested"
    preference = next_state(PREFERENCE, declaration.state, trigger, what=draft.declaration,
                            path="/EcoVerificationRequest/ImportDeclaration")
    request = step.send(
        VerificationRequest, config.party, declaration.authority, declaration.certificate.number,
        request_id=draft.request_id, certificate=declaration.certificate, reason=draft.reason, due=draft.due,
        suspended=draft.suspend, declaration=draft.declaration, detail=draft.detail, documents=draft.documents,
    )
    step.moved(config.party.party, draft.request_id, None, target, "request", draft.reason.value)
    step.moved(config.party.party, draft.declaration, declaration.state, preference, trigger)
    declarations = put(state.declarations, draft.declaration, replace(declaration, state=preference))
    requests = put(state.requests, draft.request_id, VerificationRecord(request, target))
    return replace(state, declarations=declarations, requests=requests)


def _response(step: Step, state: OriginState, config: CustomsConfig, response: VerificationResponse) -> OriginState:
    record = state.requests.get(response.request_id)
    if record is None:
        raise ProtocolError(f"verification request {response.request_id} was not sent from here",
                            document=response.code, path="/EcoVerificationResponse/RequestID", rule="ECO-UNKNOWN")
    if response.header.sender.party != record.request.header.recipient.party:
        raise ProtocolError(f"{response.request_id} was sent to {record.request.header.recipient.party}, "
                            f"answered by {response.header.sender.party}", document=response.code,
                            path="/EcoVerificationResponse/Header/Sender/PartyID", rule="ECO-SENDER-NOT-ISSUER")
    target = next_state(VERIFICATION, record.state, "answer", what=response.request_id,
                        path="/EcoVerificationResponse/RequestID")
    step.moved(config.party.party, response.request_id, record.state, target, "answer", response.result.value)
    answered = replace(record, state=target, result=response.result, findings=response.findings,
                       answered_at=response.answered_at)
    state = replace(state, requests=put(state.requests, response.request_id, answered))
    trigger = "origin confirmed" if response.result is VerificationResult.CONFIRMED else "origin not confirmed"
    reason = f"verification {response.request_id}: {response.result.value}" + (
        f" ({response.findings})" if response.findings else "")
    return _follow(step, state, config, record.request.declaration or "", trigger, reason)


def _follow(
    step: Step, state: OriginState, config: CustomsConfig, number: str, trigger: str, reason: str
) -> OriginState:
    """Let a verification's outcome act on the declaration; a withdrawal invalidates the certificate here and
    is reported to the issuer. An outcome the table does not take (a late answer after a withdrawal) is logged."""
    declaration = state.declarations.get(number)
    if declaration is None:
        return state
    target = PREFERENCE.get((declaration.state, trigger))
    if target is None:
        step.note("state", config.party.party, number, f"{trigger}: stays {declaration.state.value} ({reason})")
        return state
    step.moved(config.party.party, number, declaration.state, target, trigger)
    if target is declaration.state:
        return state
    decision = declaration.decision
    if target is _P.WITHDRAWN:
        decision = DECISIONS[(declaration.preferential, target)]
        ref = declaration.certificate
        record = state.received.get(version_key(ref.number, ref.version))
        if record is not None:
            state = _move_received(step, state, config, record, "invalidated")
        if declaration.authority is not None:
            step.send(UtilisationDecision, config.party, declaration.authority, ref.number, certificate=ref,
                      declaration=number, decided_at=step.now, decision=decision, checks=declaration.checks,
                      reason=reason[:512])
    updated = replace(declaration, state=target, decision=decision)
    return replace(state, declarations=put(state.declarations, number, updated))


def tick(step: Step, state: OriginState, config: CustomsConfig) -> OriginState:
    """Requests at hand unanswered after their due date become Overdue; a preference suspended for them is
    withdrawn. A whole state has every request at hand; a node gives a clock move only those that are due."""
    due = sorted(
        (record.request.due, record.request.request_id)
        for record in at_hand(state.requests)
        if record.state in VERIFICATION_TIMERS and step.now.date() > record.request.due
    )
    for _, request_id in due:
        record = state.requests[request_id]
        trigger = VERIFICATION_TIMERS[record.state]
        target = next_state(VERIFICATION, record.state, trigger, what=request_id, path="/EcoVerificationRequest")
        request = record.request
        what = f"{request.certificate.number} v{request.certificate.version}"
        asked = request.header.recipient.party
        step.note("overdue", config.party.party, request_id,
                  f"verification request {request_id} on {what} overdue: no answer from {asked} by {request.due}")
        step.moved(config.party.party, request_id, record.state, target, trigger)
        state = replace(state, requests=put(state.requests, request_id, replace(record, state=target)))
        reason = f"no answer to verification request {request_id} by {request.due.isoformat()}"
        state = _follow(step, state, config, request.declaration or "", "no answer", reason)
    return state
