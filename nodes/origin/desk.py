"""The e-CO desk of a node: its issuing authorities and its importing customs behind the node's `Desk`.

The node hands over verified, schema-valid XML; the desk decodes it and routes it by the header's
recipient party: the customs (`<country>CUSTOMS` unless the scenario names it) or one of the node's
authorities. What they send is encoded back and addressed to the node serving the recipient's country.
Scenario steps name certificates by their scenario key (C1) and declarations by their number.

A refusal in the protocol (cancelling a used certificate, an answer to an unknown request) is a domain
outcome, not a broken scenario: it becomes a "rejected" event naming the document, the place and the
rule, and nothing changes. A refused message is also answered: a pushed certificate or status change
with EcoAcknowledgement REJECTED (customs.py), any other message with an EcoRefusal to its sender that
names it, the place and the rule, the e-CO functional NACK: one out of sequence, about something unknown,
or breaking a SEVERE business rule (nothing of it is applied). A refusal itself is logged, never answered.
A step that cannot be read (an unknown certificate key) is a ScenarioError.

A decision loads the rows its trigger names (`ORIGIN_LAYOUT`): the certificate version a message is
about, the versions of a certificate number a step names, a declaration, a verification request; what
those lead to (the declaration a verification answer concerns) is loaded when the decision asks for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from lxml import etree

from exchange.errors import Issue, ProtocolError, ScenarioError
from exchange.scenario import Scenario
from nodes.desk import DeskResult, OutgoingDocument, ReadMessage, ScenarioStep
from nodes.origin import authority, customs
from nodes.origin.codec import decode, encode
from nodes.origin.customs import ImportDeclaration, VerificationDraft
from nodes.origin.ledger import (
    BY_NUMBER,
    DECLARATION,
    INQUIRY,
    ISSUED,
    ORIGIN_LAYOUT,
    RECEIVED,
    REQUEST,
    OriginState,
    version_key,
)
from nodes.origin.model import (
    AckError,
    Acknowledgement,
    CertificateMessage,
    CertificateRef,
    EcoMessage,
    Refusal,
    StatusChange,
    UtilisationDecision,
    VerificationReason,
    VerificationRequest,
    VerificationResult,
)
from nodes.origin.scenario import OriginScenario, as_date
from nodes.origin.snapshot import snapshot
from nodes.origin.step import Outcome, Step
from nodes.records import Due, Key, Loaded, Lookup, Query, Trigger

__all__ = ["EcoDesk"]

_Handler = Callable[[Step, OriginState, Mapping[str, Any]], OriginState]
_CUSTOMS_ACTIONS = frozenset({"import_declaration", "request_verification"})


def _enum(kind: Any, value: Any, where: str) -> Any:
    try:
        return kind(str(value))
    except ValueError as exc:
        known = ", ".join(member.value for member in kind)
        raise ScenarioError(f"{where} is {value!r}; one of {known}", path=where) from exc


def _need(arguments: Mapping[str, Any], key: str) -> str:
    if arguments.get(key) is None:
        raise ScenarioError(f"the step needs '{key}'", path=key)
    return str(arguments[key])


def _message_needs(message: EcoMessage) -> tuple[Query, ...]:
    """The certificate version a message is about, on the side that takes it, and the request it names; a
    refusal needs nothing (it is logged)."""
    if isinstance(message, Refusal):
        return ()
    version = version_key(message.certificate.number, message.certificate.version)
    if isinstance(message, (CertificateMessage, StatusChange)):
        return (Key(RECEIVED.name, version),)
    if isinstance(message, (Acknowledgement, UtilisationDecision)):
        return (Key(ISSUED.name, version),)
    if isinstance(message, VerificationRequest):
        return (Key(INQUIRY.name, message.request_id), Key(ISSUED.name, version))
    return (Key(REQUEST.name, message.request_id),)  # a VerificationResponse


class EcoDesk:
    """One country's certificate-of-origin authorities and its customs, for one scenario."""

    family = "eco"

    def __init__(self, scenario: Scenario, node_id: str) -> None:
        self._eco = OriginScenario(scenario)
        self._scenario = scenario
        self._node_id = node_id
        self._authorities = self._eco.authority_config(node_id)
        self._customs = self._eco.customs_config(node_id)
        self._actions: Mapping[str, _Handler] = {
            "issue_eco": self._issue,
            "replace_eco": self._replace,
            "cancel_eco": self._cancel,
            "import_declaration": self._declare,
            "request_verification": self._request,
            "answer_verification": self._answer,
        }
        self.actions = frozenset(self._actions)
        self.kinds = ORIGIN_LAYOUT.kinds

    # -- Desk interface -------------------------------------------------------------------------------------

    def on_message(self, root: etree._Element, issues: list[Issue]) -> Trigger:
        message = decode(root)
        return Trigger((*ORIGIN_LAYOUT.counters, *_message_needs(message)), ReadMessage(root, issues, message))

    def on_action(self, action: str, arguments: Mapping[str, Any]) -> Trigger:
        if action not in self._actions:
            raise ScenarioError(f"unknown e-CO action {action!r}; known: {', '.join(sorted(self._actions))}",
                                path="do")
        return Trigger((*ORIGIN_LAYOUT.counters, *self._step_needs(action, arguments)), ScenarioStep(action, arguments))

    def on_clock(self, now: datetime) -> Trigger:
        return Trigger((*ORIGIN_LAYOUT.counters, Due(now)), None)

    def decide(self, trigger: Trigger, loaded: Loaded, now: datetime) -> DeskResult:
        before = ORIGIN_LAYOUT.state(loaded)
        subject = trigger.subject
        if isinstance(subject, ReadMessage):
            outcome = self._receive(before, subject, now)
        elif isinstance(subject, ScenarioStep):
            outcome = self._act(before, subject.action, subject.arguments, now)
        else:
            step = Step(before, now)
            outcome = step.outcome(customs.tick(step, before, self._customs))
        return DeskResult(
            ORIGIN_LAYOUT.changes(before, outcome.state),
            tuple(self._outgoing(message) for message in outcome.messages),
            outcome.events,
        )

    def snapshot(self, loaded: Loaded, *, configured: bool = True) -> dict[str, Any]:
        return snapshot(ORIGIN_LAYOUT.state(loaded), self._eco.key_of, self._customs.trust)

    def _receive(self, state: OriginState, received: ReadMessage, now: datetime) -> Outcome:
        message = received.message
        step = Step(state, now)
        party = message.header.recipient.party
        if isinstance(message, Refusal):
            errors = "; ".join(f"{error.rule} at {error.path}: {error.text}" for error in message.errors)
            step.note("rejected", party, message.header.correlation_id or "", f"{message.refused_type} "
                      f"{message.refused_id} refused by {message.header.sender.party}: {errors}",
                      document=message.refused_type, rule=message.errors[0].rule if message.errors else "")
            return step.outcome(state)
        broken = [issue for issue in received.issues if issue.level == "SEVERE"]
        if broken and not isinstance(message, _ACKNOWLEDGED):  # those are acknowledged REJECTED by customs
            error = ProtocolError("; ".join(issue.message for issue in broken), document=message.code,
                                  path=broken[0].path, rule=broken[0].rule)
            _refuse(step, party, message.header.correlation_id or "", message.code, error)
            _answer_refusal(step, message, [AckError(message.code, issue.path, issue.rule, issue.message)
                                            for issue in broken])
            return step.outcome(state)
        try:
            if party == self._customs.party.party:
                state = customs.receive(step, state, self._customs, message, received.root, received.issues)
            elif party in self._authorities.authorities:
                state = authority.receive(step, state, message)
            else:
                raise ProtocolError(f"{party} is no party of node {self._node_id}", document=message.code,
                                    path=f"/{message.code}/Header/Recipient/PartyID", rule="ECO-WRONG-PARTY")
        except ProtocolError as error:
            step = Step(state, now)  # nothing of a refused message is applied or sent, but its refusal
            _refuse(step, party, message.header.correlation_id or "", message.code, error)
            _answer_refusal(step, message, [AckError(message.code, error.path, error.rule, error.message)])
        return step.outcome(state)

    def _act(self, state: OriginState, action: str, arguments: Mapping[str, Any], now: datetime) -> Outcome:
        step = Step(state, now)
        try:
            state = self._actions[action](step, state, arguments)
        except ProtocolError as error:
            step = Step(state, now)  # nothing of a refused act goes out
            reference = str(arguments.get("certificate") or arguments.get("declaration") or arguments.get("request"))
            _refuse(step, self._agency(action), reference, error.document or _document_of(error.path, action), error)
        return step.outcome(state)

    def _step_needs(self, action: str, arguments: Mapping[str, Any]) -> tuple[Query, ...]:
        """The rows a step names: the certificate (first version, or every version by number), the
        declaration, the verification request."""
        if action == "issue_eco":
            return (Key(ISSUED.name, version_key(self._eco.number(_need(arguments, "certificate")), 1)),)
        if action in ("replace_eco", "cancel_eco"):
            return (Lookup(ISSUED.name, BY_NUMBER.name, self._eco.number(_need(arguments, "certificate"))),)
        if action == "import_declaration":
            number = self._eco.number(_need(arguments, "certificate"))
            return (Key(DECLARATION.name, _need(arguments, "declaration")),
                    Lookup(RECEIVED.name, BY_NUMBER.name, number))
        if action == "request_verification":
            return (Key(DECLARATION.name, _need(arguments, "declaration")),
                    Key(REQUEST.name, _need(arguments, "request")))
        return (Key(INQUIRY.name, _need(arguments, "request")),)

    # -- scenario actions -----------------------------------------------------------------------------------

    def _issue(self, step: Step, state: OriginState, arguments: Mapping[str, Any]) -> OriginState:
        certificate = self._eco.certificate(_need(arguments, "certificate"), step.now)
        return authority.issue(step, state, self._authorities, certificate)

    def _replace(self, step: Step, state: OriginState, arguments: Mapping[str, Any]) -> OriginState:
        changes = arguments.get("changes") or {}
        if not isinstance(changes, Mapping):
            raise ScenarioError("changes must map certificate fields to their new values", path="changes")
        amended = self._eco.certificate(_need(arguments, "certificate"), step.now, changes)
        reason = str(arguments.get("reason", "Amended"))
        return authority.replace_certificate(step, state, self._authorities, amended, reason)

    def _cancel(self, step: Step, state: OriginState, arguments: Mapping[str, Any]) -> OriginState:
        number = self._eco.number(_need(arguments, "certificate"))
        return authority.cancel(step, state, self._authorities, number, str(arguments.get("reason", "Cancelled")))

    def _declare(self, step: Step, state: OriginState, arguments: Mapping[str, Any]) -> OriginState:
        altered = arguments.get("altered") or {}
        if not isinstance(altered, Mapping):
            raise ScenarioError("altered must map element paths under Certificate to the text presented",
                                path="altered")
        declaration = ImportDeclaration(
            number=_need(arguments, "declaration"),
            certificate=self._eco.number(_need(arguments, "certificate")),
            version=None if arguments.get("version") is None else int(arguments["version"]),
            issue_date=None if arguments.get("issue_date") is None else as_date(arguments["issue_date"], "issue_date"),
            preferential=bool(arguments.get("preferential", True)),
            altered={str(path): str(text) for path, text in altered.items()},
        )
        return customs.declare(step, state, self._customs, declaration)

    def _request(self, step: Step, state: OriginState, arguments: Mapping[str, Any]) -> OriginState:
        due_days = int(arguments.get("due_days", 90))  # ASEAN-style OCPs commonly allow 90 days
        due: date = step.now.date() + timedelta(days=due_days)
        draft = VerificationDraft(
            request_id=_need(arguments, "request"),
            declaration=_need(arguments, "declaration"),
            reason=_enum(VerificationReason, arguments.get("reason", "RANDOM"), "reason"),
            due=due,
            suspend=bool(arguments.get("suspend", False)),
            detail=None if arguments.get("detail") is None else str(arguments["detail"]),
            documents=tuple(str(document) for document in arguments.get("documents") or ()),
        )
        return customs.request_verification(step, state, self._customs, draft)

    def _answer(self, step: Step, state: OriginState, arguments: Mapping[str, Any]) -> OriginState:
        result = _enum(VerificationResult, _need(arguments, "result"), "result")
        findings = None if arguments.get("findings") is None else str(arguments["findings"])
        return authority.answer(step, state, _need(arguments, "request"), result, findings)

    def _agency(self, action: str) -> str:
        if action in _CUSTOMS_ACTIONS:
            return self._customs.party.party
        return "/".join(sorted(self._authorities.authorities)) or self._node_id

    # -- results --------------------------------------------------------------------------------------------

    def _outgoing(self, message: EcoMessage) -> OutgoingDocument:
        header = message.header
        return OutgoingDocument(
            root=encode(message),
            recipient=self._scenario.node_for_country(header.recipient.country),
            message_id=header.message_id,
            message_type=message.code,
            correlation_id=header.correlation_id,
        )


def _document_of(path: str, default: str) -> str:
    """The document a refused act would have sent, from the place the refusal names (`/EcoStatusChange/...`)."""
    return path.split("/")[1] if path.startswith("/") and len(path) > 1 else default


_ACKNOWLEDGED = (CertificateMessage, StatusChange)
"""What customs answers with an EcoAcknowledgement, taken or REJECTED, rather than with a refusal."""


def _answer_refusal(step: Step, message: EcoMessage, errors: list[AckError]) -> None:
    """Tell the sender of `message` it was not applied and why: an EcoRefusal from the party it was sent to."""
    if isinstance(message, _ACKNOWLEDGED):
        return  # customs acknowledged it REJECTED already
    certificate = message.certificate if isinstance(message.certificate, CertificateRef) else None
    step.send(Refusal, message.header.recipient, message.header.sender,
              message.header.correlation_id or message.header.message_id,
              refused_id=message.header.message_id, refused_type=message.code, certificate=certificate,
              errors=tuple(errors))


def _refuse(step: Step, agency: str, reference: str, document: str, error: ProtocolError) -> None:
    """A move the tables refuse: logged with the document, the place and the rule; nothing changes."""
    step.note("rejected", agency, reference, f"{document} not applied: {error.message} [{error.rule} at {error.path}]",
              document=document, path=error.path, rule=error.rule)

