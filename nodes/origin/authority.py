"""The issuing authorities of a country: issue, amend by replacement, cancel, answer verification requests.

A chamber of commerce or an authorised body issues a certificate, signs it (the node signs with its
certificate) and pushes it to the customs of the importing country. It amends a certificate only by
replacing it (a new version, Kind REPLACEMENT, plus a status change REPLACED for the old one) and
cancels one only while it has not been used; both are refused afterwards (`ECO-REPLACE-USED`,
`ECO-CANCEL-USED`). It follows what the importing customs reports (acknowledgement, utilisation
decision) and answers the verification requests it gets. The moves are the `ISSUED` and `INQUIRY`
tables (tables.py); a move the tables refuse is logged as "rejected" with its rule and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from exchange.errors import ProtocolError
from nodes.origin.ledger import IssuedRecord, OriginState, VerificationRecord, version_key, versions_of
from nodes.origin.model import (
    Acknowledgement,
    AckResult,
    Certificate,
    CertificateKind,
    CertificateMessage,
    Decision,
    EcoMessage,
    PartyRef,
    StatusChange,
    StatusCode,
    UtilisationDecision,
    VerificationRequest,
    VerificationResponse,
    VerificationResult,
)
from nodes.origin.step import Step
from nodes.origin.tables import INQUIRY, ISSUED, IssuedState, next_state
from nodes.origin.trust import Authority
from nodes.records import put

__all__ = ["DECISION_TRIGGERS", "AuthorityConfig", "answer", "cancel", "issue", "receive", "replace_certificate"]

DECISION_TRIGGERS: Mapping[Decision, str] = {
    Decision.PREFERENCE_GRANTED: "used",
    Decision.USED: "used",
    Decision.PREFERENCE_DENIED: "denied",
    Decision.NOT_ACCEPTED: "denied",
    Decision.PREFERENCE_WITHDRAWN: "withdrawn",
    Decision.USE_WITHDRAWN: "withdrawn",
}
"""How a utilisation decision moves the certificate at its issuer."""

_ISSUED = IssuedState.ISSUED


@dataclass(frozen=True)
class AuthorityConfig:
    country: str
    authorities: Mapping[str, Authority]  # the authorities behind this node, by id
    customs: Mapping[str, PartyRef]  # country → the party of its customs administration


def _party(authority: Authority) -> PartyRef:
    return PartyRef(authority.country, authority.id)


def _authority(config: AuthorityConfig, certificate: Certificate) -> Authority:
    authority = config.authorities.get(certificate.authority.id or "")
    if authority is None:
        raise ProtocolError(
            f"{certificate.authority.id!r} is no issuing authority of {config.country}",
            document="EcoCertificate", path="/EcoCertificate/Certificate/IssuingAuthority/ID", rule="ECO-AUTHORITY",
        )
    return authority


def _current(state: OriginState, number: str) -> IssuedRecord:
    """The latest version of `number` this node issued."""
    versions = versions_of(state.issued, number)
    if not versions:
        raise ProtocolError(f"certificate {number} was not issued here", path="/EcoCertificate/Certificate",
                            rule="ECO-UNKNOWN")
    latest: IssuedRecord = versions[-1]
    return latest


def _file(state: OriginState, record: IssuedRecord) -> OriginState:
    key = version_key(record.certificate.number, record.certificate.version)
    return replace(state, issued=put(state.issued, key, record))


def _push(step: Step, config: AuthorityConfig, certificate: Certificate, current: IssuedRecord | None) -> IssuedRecord:
    """Sign-and-push a version: the node signs what the step sends."""
    key = version_key(certificate.number, certificate.version)
    target = next_state(ISSUED, None if current is None else current.state, "issue", what=key,
                        path="/EcoCertificate/Certificate/Version")
    authority = _authority(config, certificate)
    customs = config.customs.get(certificate.import_country)
    if customs is None:
        raise ProtocolError(f"no customs of {certificate.import_country} to push {key} to",
                            path="/EcoCertificate/Certificate/ImportCountry", rule="ECO-NO-RECIPIENT")
    message = step.send(CertificateMessage, _party(authority), customs, certificate.number, certificate=certificate)
    step.moved(authority.id, key, None, target, "issue")
    return IssuedRecord(certificate, target, message.header.message_id)


def issue(step: Step, state: OriginState, config: AuthorityConfig, certificate: Certificate) -> OriginState:
    """Issue version 1 (or a DUPLICATE) and push it to the importing customs."""
    known = state.issued.get(version_key(certificate.number, certificate.version))
    return _file(state, _push(step, config, certificate, known))


def replace_certificate(
    step: Step, state: OriginState, config: AuthorityConfig, amended: Certificate, reason: str
) -> OriginState:
    """Amend by replacement: push the next version (Kind REPLACEMENT) and a status change REPLACED for the old."""
    old = _current(state, amended.number)
    key = version_key(old.certificate.number, old.certificate.version)
    retired = next_state(ISSUED, old.state, "replace", what=key, path="/EcoCertificate/Certificate/Replaces")
    version = old.certificate.version + 1
    new = replace(amended, version=version, kind=CertificateKind.REPLACEMENT, replaces=old.certificate.ref)
    record = _push(step, config, new, None)
    authority = _authority(config, old.certificate)
    step.send(
        StatusChange, _party(authority), config.customs[old.certificate.import_country], old.certificate.number,
        certificate=old.certificate.ref, status=StatusCode.REPLACED, reason=reason, effective_at=step.now,
        replaced_by=new.ref,
    )
    step.moved(authority.id, key, old.state, retired, "replace")
    state = _file(state, replace(old, state=retired, replaced_by=version))
    return _file(state, record)


def cancel(step: Step, state: OriginState, config: AuthorityConfig, number: str, reason: str) -> OriginState:
    """Cancel the current version, only while it has not been used, and tell the importing customs."""
    record = _current(state, number)
    certificate = record.certificate
    key = version_key(number, certificate.version)
    target = next_state(ISSUED, record.state, "cancel", what=key, path="/EcoStatusChange/Status")
    authority = _authority(config, certificate)
    step.send(
        StatusChange, _party(authority), config.customs[certificate.import_country], number,
        certificate=certificate.ref, status=StatusCode.CANCELLED, reason=reason, effective_at=step.now,
    )
    step.moved(authority.id, key, record.state, target, "cancel")
    return _file(state, replace(record, state=target))


def answer(
    step: Step, state: OriginState, request_id: str, result: VerificationResult, findings: str | None
) -> OriginState:
    """Answer an open verification request."""
    record = state.inquiries.get(request_id)
    if record is None:
        raise ProtocolError(f"verification request {request_id} was not received here",
                            path="/EcoVerificationResponse/RequestID", rule="ECO-UNKNOWN")
    current = record.state
    target = next_state(INQUIRY, current, "answer", what=f"verification request {request_id}",
                        path="/EcoVerificationResponse/RequestID")
    request = record.request
    step.send(
        VerificationResponse, request.header.recipient, request.header.sender, request.certificate.number,
        request_id=request_id, certificate=request.certificate, result=result, answered_at=step.now, findings=findings,
    )
    step.moved(request.header.recipient.party, request_id, current, target, "answer", result.value)
    updated = replace(record, state=target, result=result, answered_at=step.now)
    return replace(state, inquiries=put(state.inquiries, request_id, updated))


# -- what the importing customs sends back ------------------------------------------------------------------


def receive(step: Step, state: OriginState, message: EcoMessage) -> OriginState:
    """An acknowledgement, a utilisation decision or a verification request about one of our certificates."""
    if isinstance(message, Acknowledgement):
        return _acknowledged(step, state, message)
    if isinstance(message, UtilisationDecision):
        return _decided(step, state, message)
    if isinstance(message, VerificationRequest):
        return _inquiry(step, state, message)
    raise ProtocolError(f"an issuing authority does not take {message.code}", document=message.code,
                        path=f"/{message.code}", rule="ECO-WRONG-PARTY")


def _move(step: Step, state: OriginState, key: str, trigger: str, path: str, **changes: object) -> OriginState:
    record = state.issued.get(key)
    if record is None:
        raise ProtocolError(f"{trigger}: {key} was not issued here", path=path, rule="ECO-UNKNOWN")
    current = record.state
    target = next_state(ISSUED, current, trigger, what=key, path=path)
    step.moved(record.certificate.authority.id or "", key, current, target, trigger)
    return _file(state, replace(record, state=target, **changes))


def _acknowledged(step: Step, state: OriginState, ack: Acknowledgement) -> OriginState:
    key = version_key(ack.certificate.number, ack.certificate.version)
    errors = "; ".join(f"{error.rule} at {error.path}: {error.text}" for error in ack.errors)
    if ack.result is AckResult.REJECTED:
        step.note("rejected", ack.header.recipient.party, key,
                  f"{ack.acknowledged_type} {ack.acknowledged_id} rejected by {ack.header.sender.party}: {errors}")
    record = state.issued.get(key)
    if ack.acknowledged_type != CertificateMessage.code or (record is not None and record.state is not _ISSUED):
        return state  # a status change acknowledged, or a late acknowledgement: receipt moves only an Issued version
    trigger = "acknowledged" if ack.result is AckResult.RECEIVED else "refused by receiver"
    return _move(step, state, key, trigger, "/EcoAcknowledgement/Result")


def _decided(step: Step, state: OriginState, decision: UtilisationDecision) -> OriginState:
    """Only the customs the certificate was issued for decides on it."""
    key = version_key(decision.certificate.number, decision.certificate.version)
    record = state.issued.get(key)
    if record is not None and decision.header.sender.country != record.certificate.import_country:
        raise ProtocolError(f"{key} is for presentation in {record.certificate.import_country}, not "
                            f"{decision.header.sender.country}", document=decision.code,
                            path="/EcoUtilisation/Header/Sender/Country", rule="ECO-WRONG-PARTY")
    trigger = DECISION_TRIGGERS[decision.decision]
    used_by = {"used_by": decision.declaration} if trigger == "used" else {}
    return _move(step, state, key, trigger, "/EcoUtilisation/Decision", **used_by)


def _inquiry(step: Step, state: OriginState, request: VerificationRequest) -> OriginState:
    """Open an inquiry; a certificate this node never issued is answered NO_RECORD at once."""
    known = state.inquiries.get(request.request_id)
    target = next_state(INQUIRY, None if known is None else known.state, "request",
                        what=f"verification request {request.request_id}", path="/EcoVerificationRequest/RequestID")
    state = replace(state, inquiries=put(state.inquiries, request.request_id, VerificationRecord(request, target)))
    step.moved(request.header.recipient.party, request.request_id, None, target, "request", request.reason.value)
    key = version_key(request.certificate.number, request.certificate.version)
    if key not in state.issued:
        return answer(step, state, request.request_id, VerificationResult.NO_RECORD,
                      f"{key} was not issued by {request.header.recipient.party}")
    return state
