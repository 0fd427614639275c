"""The ePhyto desk of a node: its NPPO behind the node's `Desk` interface.

Scenario steps name certificates by their scenario key (PC1); the desk resolves keys to drafts and
numbers, has the NPPO act, and addresses what the NPPO sends to the node serving the other country.
The envelope's message id is what `schemas/ephyto/family.yaml` says the document states (certificate
number and status, or certificate and decision), so the desk reads it from the document rather than
inventing one.

For the IPPC Hub face: `snapshot()["received"][key]["acknowledgement"]` is the importing NPPO's
acknowledgement of each delivery (Delivered, DeliveredWithWarnings, DeliveredNotReadable), and each
acknowledgement is also a node event of kind "acknowledged" whose data carries the same field.

A decision loads only the certificates it names (`NPPO_LAYOUT`): a delivery its number (and the number
it replaces), an import decision the certificate decided on, a step the certificates it names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from lxml import etree

from exchange.errors import DocumentError, Issue, ScenarioError
from exchange.scenario import Scenario
from exchange.validation import detect
from nodes.desk import DeskResult, OutgoingDocument, ReadMessage, ScenarioStep
from nodes.ephyto.codec import decode, encode
from nodes.ephyto.model import WITHDRAWN, Acknowledgement
from nodes.ephyto.nppo import (
    ISSUED_CERTIFICATE,
    NPPO_LAYOUT,
    RECEIVED_CERTIFICATE,
    IssuedRecord,
    Nppo,
    NppoState,
    Outcome,
    ReceivedRecord,
    Send,
)
from nodes.ephyto.scenario import EphytoScenario
from nodes.records import Key, Loaded, Query, Trigger

__all__ = ["EphytoDesk"]

_Handler = Callable[[NppoState, Mapping[str, Any], datetime], Outcome]

_ISSUED, _RECEIVED = ISSUED_CERTIFICATE.name, RECEIVED_CERTIFICATE.name

_STEP_CERTIFICATES: Mapping[str, tuple[tuple[str, str], ...]] = {
    "issue_ephyto": (("certificate", _ISSUED),),
    "withdraw_ephyto": (("certificate", _ISSUED),),
    "replace_ephyto": (("certificate", _ISSUED), ("by", _ISSUED)),
    "reexport_ephyto": (("certificate", _ISSUED),),
    "decide_ephyto": (("certificate", _RECEIVED),),
}
"""Step → (the argument naming a certificate, where the NPPO keeps it); a re-export also reads its original."""


class EphytoDesk:
    """One country's NPPO, for one scenario."""

    family = "ephyto"

    def __init__(self, scenario: Scenario, node_id: str) -> None:
        self._ephyto = EphytoScenario(scenario)
        self._scenario = scenario
        self._country = scenario.nodes[node_id].country
        self._nppo = Nppo(self._ephyto.nppo(node_id))
        self._actions: Mapping[str, _Handler] = {
            "issue_ephyto": self._issue,
            "withdraw_ephyto": self._withdraw,
            "replace_ephyto": self._replace,
            "reexport_ephyto": self._reexport,
            "decide_ephyto": self._decide,
        }
        self.actions = frozenset(self._actions)
        self.kinds = NPPO_LAYOUT.kinds

    # -- Desk interface -------------------------------------------------------------------------------------

    def on_message(self, root: etree._Element, issues: list[Issue]) -> Trigger:
        """The certificates a delivery names; the NPPO validates in all three areas itself when it decides."""
        return Trigger((*NPPO_LAYOUT.counters, *_delivery_needs(root)), ReadMessage(root, issues))

    def admit(self, trigger: Trigger, loaded: Loaded) -> None:
        """The failed acknowledgement at delivery: raises ProtocolError (document, place, rule) for a delivery
        this NPPO will never take, so that the node refuses the push and the Hub records why (FailedDelivery,
        `hubDeliveryErrorMessage`). What cannot be read is taken, and acknowledged as not readable."""
        assert isinstance(trigger.subject, ReadMessage)
        try:
            document = decode(trigger.subject.root)
        except DocumentError:
            return
        refusal = self._nppo.refusal(NPPO_LAYOUT.state(loaded), document)
        if refusal is not None:
            raise refusal

    def on_action(self, action: str, arguments: Mapping[str, Any]) -> Trigger:
        if action not in self._actions:
            raise ScenarioError(f"unknown ePhyto action {action!r}; known: {', '.join(sorted(self._actions))}",
                                path="do")
        needs = [Key(kind, self._number(arguments, name)) for name, kind in _STEP_CERTIFICATES[action]]
        if action == "reexport_ephyto":
            spec = self._ephyto.spec(str(_argument(arguments, "certificate")))
            needs.append(Key(_RECEIVED, self._ephyto.number(str(_argument(spec, "original")))))
        return Trigger((*NPPO_LAYOUT.counters, *needs), ScenarioStep(action, arguments))

    def on_clock(self, now: datetime) -> Trigger:
        return Trigger((), None)  # an NPPO has no deadlines

    def decide(self, trigger: Trigger, loaded: Loaded, now: datetime) -> DeskResult:
        subject = trigger.subject
        if subject is None:
            return DeskResult()
        before = NPPO_LAYOUT.state(loaded)
        if isinstance(subject, ReadMessage):
            # of the node's findings the NPPO takes the Signature ones (an unsigned certificate let in by policy)
            findings = tuple(issue for issue in subject.issues if issue.area == "Signature")
            outcome = self._nppo.receive(before, subject.root, now, findings=findings)
        else:
            outcome = self._actions[subject.action](before, subject.arguments, now)
        return DeskResult(
            NPPO_LAYOUT.changes(before, outcome.state),
            tuple(self._outgoing(send) for send in outcome.sends),
            outcome.events,
        )

    def snapshot(self, loaded: Loaded, *, configured: bool = True) -> dict[str, Any]:
        return self._snapshot(NPPO_LAYOUT.state(loaded))  # an NPPO starts with no records: nothing configured

    def _snapshot(self, state: NppoState) -> dict[str, Any]:
        """Certificates by scenario key: what this NPPO issued and what it received, with their states."""
        return {
            "issued": {self._ephyto.key_of(number): _issued_view(record) for number, record in state.issued.items()},
            "received": {
                self._ephyto.key_of(number): _received_view(record) for number, record in state.received.items()
            },
        }

    # -- scenario actions -----------------------------------------------------------------------------------

    def _issue(self, state: NppoState, arguments: Mapping[str, Any], now: datetime) -> Outcome:
        return self._nppo.issue(state, self._draft(arguments, "certificate"), now)

    def _withdraw(self, state: NppoState, arguments: Mapping[str, Any], now: datetime) -> Outcome:
        reason = str(arguments.get("reason", "Certificate withdrawn by the issuing NPPO"))
        return self._nppo.withdraw(state, self._number(arguments, "certificate"), reason, now)

    def _replace(self, state: NppoState, arguments: Mapping[str, Any], now: datetime) -> Outcome:
        reason = str(arguments.get("reason", "Certificate replaced"))
        replacement = self._draft(arguments, "by")
        return self._nppo.replace(state, self._number(arguments, "certificate"), replacement, reason, now)

    def _reexport(self, state: NppoState, arguments: Mapping[str, Any], now: datetime) -> Outcome:
        key = str(_argument(arguments, "certificate"))
        spec = self._ephyto.spec(key)
        original = self._ephyto.number(str(_argument(spec, "original")))
        return self._nppo.reexport(
            state, self._ephyto.certificate(key, self._country), original, now,
            repacked=bool(spec.get("repacked", False)),
            new_containers=bool(spec.get("new_containers", False)),
            inspected=bool(spec.get("inspected_again", False)),
        )

    def _decide(self, state: NppoState, arguments: Mapping[str, Any], now: datetime) -> Outcome:
        decision = str(arguments.get("decision", "accept"))
        if decision not in ("accept", "reject"):
            raise ScenarioError(f"decision is {decision!r}; use accept or reject", path="decision")
        reason = str(arguments.get("reason", ""))
        if decision == "reject" and not reason:
            raise ScenarioError("a rejection needs a reason", path="reason")
        return self._nppo.decide(state, self._number(arguments, "certificate"), decision == "accept", reason, now)

    def _draft(self, arguments: Mapping[str, Any], name: str) -> Any:
        return self._ephyto.certificate(str(_argument(arguments, name)), self._country)

    def _number(self, arguments: Mapping[str, Any], name: str) -> str:
        return self._ephyto.number(str(_argument(arguments, name)))

    # -- results --------------------------------------------------------------------------------------------

    def _outgoing(self, send: Send) -> OutgoingDocument:
        root = encode(send.document)
        document = send.document
        certificate = document.certificate if isinstance(document, Acknowledgement) else document.number
        return OutgoingDocument(
            root=root,
            recipient=self._scenario.node_for_country(send.country),
            message_id=str(detect(root).message_id(root)),
            message_type=etree.QName(root).localname,
            correlation_id=certificate,
        )


def _delivery_needs(root: etree._Element) -> tuple[Query, ...]:
    """The certificates a delivery is about: its number (and the one it replaces), or the one decided on."""
    try:
        document = decode(root)
    except DocumentError:
        return ()  # acknowledged as not readable: only the counter is needed
    if isinstance(document, Acknowledgement):
        return (Key(_ISSUED, document.certificate),) if document.certificate else ()
    replaces = document.replaces if document.status_code != WITHDRAWN else None
    return tuple(Key(_RECEIVED, number) for number in (document.number, replaces) if number)


def _argument(arguments: Mapping[str, Any], name: str) -> Any:
    if arguments.get(name) is None:
        raise ScenarioError(f"the step needs {name!r}", path=name)
    return arguments[name]


def _issued_view(record: IssuedRecord) -> dict[str, Any]:
    return {
        "number": record.number,
        "type": record.type_code,
        "status": record.state.value,
        "importer": record.importer,
        "commodity": record.commodity,
        "replaces": record.replaces,
        "replaced_by": record.replaced_by,
        "original": record.original,
        "reason": record.decision_reason,
    }


def _received_view(record: ReceivedRecord) -> dict[str, Any]:
    return {
        "number": record.number,
        "type": record.type_code,
        "status": record.state.value,
        "exporter": record.exporter,
        "commodity": record.commodity,
        "acknowledgement": record.acknowledgement.value,
        "signature": record.signature,
        "remarks": list(record.remarks),
        "deliveries": record.deliveries,
        "replaces": record.replaces,
        "replaced_by": record.replaced_by,
        "original": record.original,
        "reason": record.decision_reason,
    }
