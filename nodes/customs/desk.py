"""The CATS desk of a node: its customs administration and its traders behind the node's `Desk` interface.

The node hands over verified, schema-valid XML; the desk decodes it, turns business-rule findings into
NCTS functional errors (pointer, code, rule), and routes it by `messageRecipient`: `NTA.<country>` is
customs, anything else is a trader of this country. What the agencies answer is encoded back to XML
and addressed to the node that serves the recipient. Scenario steps name movements by their scenario
key (M1); the desk resolves the key to the LRN, and the LRN to the MRN its own records hold.

Each trigger names the rows it needs (`nodes.customs.needs`); the desk builds the agencies' state from
those rows alone (`CUSTOMS_LAYOUT`, `TRADER_LAYOUT`) and returns the records the decision changed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from lxml import etree

from exchange.errors import Issue, ProtocolError, ScenarioError, UnknownMovement
from exchange.scenario import Scenario
from nodes.customs.actions import (
    Action,
    PresentAtTransit,
    RecordControl,
    RecordDepartureControl,
    RecordIncident,
    ResolveDiscrepancies,
)
from nodes.customs.codec import correlation, decode, encode
from nodes.customs.ledger import BY_LRN, CUSTOMS_LAYOUT, CustomsState
from nodes.customs.model import CatsMessage, FunctionalError
from nodes.customs.needs import customs_needs, holder_needs, lodged_needs, movement_needs, trader_needs
from nodes.customs.offices import CustomsAdministration
from nodes.customs.outcome import Event, Outcome
from nodes.customs.scenario import CatsScenario
from nodes.customs.tables import DepartureState
from nodes.customs.trader import TRADER_LAYOUT, TRADER_SERIAL, TraderDesk, TraderState
from nodes.desk import DeskResult, NodeEvent, OutgoingDocument, ReadMessage, ScenarioStep
from nodes.records import Due, Key, Loaded, Query, Trigger, select

__all__ = ["CODELIST_AREA", "CatsDesk", "CatsState", "functional_error_code"]

_NTA = "NTA."

_HOLDER_ACTIONS = frozenset({"declare", "amend", "present", "invalidate", "answer_enquiry"})
"""Steps of the holder: they work on its own movement (found by LRN) and its message counter."""

_CONSIGNEE_ACTIONS = frozenset({"notify_arrival", "unloading_remarks"})
"""Steps of the trader at destination: they need the MRN customs holds here and the trader's counter."""

AMENDABLE = ("destination", "transit", "route", "transport", "equipment", "guarantee", "items", "documents")
"""Movement entries an `amend` step may give anew: the CC013C carries the declaration with them replaced."""


@dataclass(frozen=True)
class CatsState:
    customs: CustomsState
    traders: TraderState


_Decision = tuple[CatsState, Outcome[Any]]
_Handler = Callable[[CatsState, Mapping[str, Any], datetime], _Decision]


_CONDITION = re.compile(r"C\d{4}")
"""A P5 condition id (C0086, C0569): its finding is data missing (or present) against the condition."""

CODELIST_AREA = "Codelist"
"""The Schematron role of a code-list assert (schemas/cats/rules): its id is the list, e.g. CL231."""


def functional_error_code(issue: Issue) -> str:
    """The P5 functional error code of a finding (transit.md §1.10).

    12 for a value outside its code list or its pattern (a CLnnn assert, an XSD enumeration or pattern),
    13 for a P5 condition (Cnnnn), 14 for any other rule (P5 Rnnnn, caravan's own CVRnnnn). A leading "C"
    alone says nothing: code lists (CL231) and caravan's rules (CVR0001) start with it too.
    """
    if issue.area == CODELIST_AREA or issue.rule in ("enumeration", "pattern"):
        return "12"
    return "13" if _CONDITION.fullmatch(issue.rule) else "14"


def _functional_error(issue: Issue, root: etree._Element) -> FunctionalError:
    code = functional_error_code(issue)
    return FunctionalError(issue.path, code, issue.rule or issue.area, _value_at(root, issue.path))


def _value_at(root: etree._Element, path: str) -> str | None:
    """The text at a `/CC015C/A/B[2]/c` pointer: children are unqualified, so a relative XPath finds it."""
    relative = path.split("/", 2)[-1] if path.count("/") >= 2 else ""
    if not relative:
        return None
    try:
        found = root.xpath(relative)
    except etree.XPathError:
        return None
    if found and isinstance(found[0], etree._Element) and found[0].text:
        return str(found[0].text).strip()[:512]
    return None


class CatsDesk:
    """Customs offices and traders of one country, for one scenario."""

    family = "cats"

    def __init__(self, scenario: Scenario, node_id: str) -> None:
        self._cats = CatsScenario(scenario)
        self._scenario = scenario
        self._node_id = node_id
        self._country = scenario.nodes[node_id].country
        config = self._cats.customs_config(node_id)
        self._customs = CustomsAdministration(config)
        self._traders = TraderDesk()
        self._configured = {"guarantees": {account.grn: account for account in config.guarantees}}  # until written
        self._actions: Mapping[str, _Handler] = {
            "declare": self._declare,
            "amend": self._amend,
            "present": self._present,
            "submit": self._submit,
            "invalidate": self._invalidate,
            "answer_enquiry": self._answer_enquiry,
            "notify_arrival": self._notify_arrival,
            "unloading_remarks": self._unloading_remarks,
            "present_at_transit": self._officer(PresentAtTransit),
            "record_incident": self._officer(RecordIncident),
            "record_departure_control": self._officer(RecordDepartureControl),
            "record_control": self._officer(RecordControl),
            "resolve_discrepancies": self._officer(ResolveDiscrepancies),
        }
        self.actions = frozenset(self._actions)
        self.kinds = {**CUSTOMS_LAYOUT.kinds, **TRADER_LAYOUT.kinds}

    # -- Desk interface -------------------------------------------------------------------------------------

    def on_message(self, root: etree._Element, issues: list[Issue]) -> Trigger:
        message = decode(root)
        needs = customs_needs(message) if message.header.recipient.startswith(_NTA) else trader_needs(message)
        return Trigger((*CUSTOMS_LAYOUT.counters, *needs), ReadMessage(root, issues, message))

    def on_action(self, action: str, arguments: Mapping[str, Any]) -> Trigger:
        if action not in self._actions:
            raise ScenarioError(f"unknown CATS action {action!r}; known: {', '.join(sorted(self._actions))}",
                                path="do")
        needs = self._step_needs(action, arguments)
        return Trigger((*CUSTOMS_LAYOUT.counters, *needs), ScenarioStep(action, arguments))

    def on_clock(self, now: datetime) -> Trigger:
        return Trigger((*CUSTOMS_LAYOUT.counters, Due(now)), None)

    def decide(self, trigger: Trigger, loaded: Loaded, now: datetime) -> DeskResult:
        before = self._state(loaded)
        subject = trigger.subject
        written = _as_written(subject)
        if isinstance(subject, ReadMessage):
            after, outcome = self._receive(before, subject, now)
        elif isinstance(subject, ScenarioStep):
            after, outcome = self._actions[subject.action](before, subject.arguments, now)
        else:
            customs = self._customs.tick(before.customs, now)
            after, outcome = replace(before, customs=customs.state), customs
        changes = (*CUSTOMS_LAYOUT.changes(before.customs, after.customs),
                   *TRADER_LAYOUT.changes(before.traders, after.traders))
        return DeskResult(
            changes=changes,
            outgoing=tuple(self._outgoing(message, written) for message in outcome.messages),
            events=tuple(_node_event(event) for event in outcome.events),
        )

    def _receive(self, state: CatsState, received: ReadMessage, now: datetime) -> _Decision:
        message, root = received.message, received.root
        if message.header.recipient.startswith(_NTA):
            violations = tuple(_functional_error(issue, root) for issue in received.issues if issue.level == "SEVERE")
            outcome = self._customs.receive(state.customs, message, now, rule_violations=violations)
            return replace(state, customs=outcome.state), outcome
        outcome_t = self._traders.receive(state.traders, message, now)
        return replace(state, traders=outcome_t.state), outcome_t

    def _step_needs(self, action: str, arguments: Mapping[str, Any]) -> tuple[Query, ...]:
        """The rows a step works on, from the movement it names: the holder's own movement, or the
        records that give the MRN here (and, notifying arrival, the trader's message counter)."""
        if action == "submit":
            if not isinstance(arguments.get("document"), etree._Element):
                raise ScenarioError("submit: this node has no declarant channel to read the file", path="file",
                                    rule="unknown-action")
            return lodged_needs(decode(arguments["document"]))
        movement = self._cats.movement(str(arguments["movement"]))
        holder, lrn = str(movement["holder"]), str(movement["lrn"])
        if action in _HOLDER_ACTIONS:
            return holder_needs(holder, lrn)
        trader = (Key(TRADER_SERIAL.name, str(arguments.get("trader", movement["consignee"]))),)
        return (*movement_needs(holder, lrn), *(trader if action in _CONSIGNEE_ACTIONS else ()))

    def snapshot(self, loaded: Loaded, *, configured: bool = True) -> dict[str, Any]:
        return self._snapshot(self._state(loaded, configured))

    def _state(self, loaded: Loaded, configured: bool = True) -> CatsState:
        """The agencies' state the loaded rows make; the guarantee register reads as configured until written."""
        return CatsState(CUSTOMS_LAYOUT.state(loaded, self._configured if configured else None),
                         TRADER_LAYOUT.state(loaded))

    def _snapshot(self, state: CatsState) -> dict[str, Any]:
        """Movements by scenario key as this node's offices see them, and this node's guarantee register."""
        movements: dict[str, dict[str, Any]] = {}

        def view(lrn: str) -> dict[str, Any]:
            key = self._cats.key_of_lrn(lrn) or lrn
            return movements.setdefault(key, {"lrn": lrn, "transit": {}})

        customs = state.customs  # each record adds to its movement's view on its own: a page shows its records
        for lrns in customs.lrns.values():
            for lrn, mrn in lrns.items():
                entry = view(lrn)
                if mrn is None:
                    entry["departure"] = DepartureState.REJECTED.value
                entry["mrn"] = mrn
        for departures in customs.departures.values():
            for departure in departures.values():
                entry = view(departure.lrn)
                entry["mrn"] = departure.mrn
                entry["departure"] = departure.state.value
        for book in customs.transits.values():
            for record in book.values():
                view(record.declaration.lrn)["transit"][record.office] = record.state.value
        for book in customs.destinations.values():
            for record in book.values():
                entry = view(record.declaration.lrn)
                entry["destination"] = record.state.value
                entry.setdefault("mrn", record.mrn)
        guarantees = {
            grn: {
                "holder": account.holder,
                "reference": str(account.reference_amount),
                "reserved": str(account.reserved),
                "available": str(account.available),
                "currency": account.currency,
                "reservations": {mrn: str(amount) for mrn, amount in account.reservations.items()},
            }
            for grn, account in customs.guarantees.items()
        }
        traders = {
            trader: {reference: movement.status for reference, movement in movements_of.items()}
            for trader, movements_of in state.traders.movements.items()
        }
        return {"movements": movements, "guarantees": guarantees, "traders": traders}

    # -- scenario actions -----------------------------------------------------------------------------------

    def _declare(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        declaration = self._cats.declaration(str(arguments["movement"]))
        outcome = self._traders.declare(state.traders, declaration, declaration.office_of_departure[:2], now)
        return replace(state, traders=outcome.state), outcome

    def _amend(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        """CC013C: the movement's declaration with the entries the step gives (AMENDABLE) replaced."""
        changes = {name: arguments[name] for name in AMENDABLE if name in arguments}
        declaration = self._cats.declaration(str(arguments["movement"]), changes)
        outcome = self._traders.amend(state.traders, declaration, now)
        return replace(state, traders=outcome.state), outcome

    def _present(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        """CC170C: the goods of a pre-lodged declaration are at `location` (default: the office's UN/LOCODE)."""
        movement = self._cats.movement(str(arguments["movement"]))
        location = str(arguments.get("location") or self._unlocode(str(movement["departure"])))
        outcome = self._traders.present(state.traders, str(movement["holder"]), str(movement["lrn"]), location, now)
        return replace(state, traders=outcome.state), outcome

    def _submit(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        """A trader's own P5 message from the declarant channel (`document`, checked there): on to customs
        as written, through the trader desk like a scripted declaration (nodes/declarant.py)."""
        outcome = self._traders.lodge(state.traders, decode(arguments["document"]), now)
        return replace(state, traders=outcome.state), outcome

    def _invalidate(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        movement = self._cats.movement(str(arguments["movement"]))
        justification = str(arguments.get("justification", "Declaration no longer needed"))
        outcome = self._traders.request_invalidation(
            state.traders, str(movement["holder"]), str(movement["lrn"]), justification, now
        )
        return replace(state, traders=outcome.state), outcome

    def _answer_enquiry(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        """The holder answers CC140C with CC141C: `delivered: true` (on `delivered_on`, by default the step's
        day, at `office`, by default the declared destination) or `delivered: false`, and a `text`."""
        movement = self._cats.movement(str(arguments["movement"]))
        said = arguments.get("delivered", False)
        if not isinstance(said, bool):
            raise ScenarioError(f"answer_enquiry: delivered must be true or false, not {said!r}", path="delivered")
        delivered = None
        if said:
            on = arguments.get("delivered_on")
            office = str(arguments.get("office", movement["destination"]))
            delivered = (date.fromisoformat(str(on)) if on else now.date(), office)
        text = arguments.get("text")
        holder, lrn = str(movement["holder"]), str(movement["lrn"])
        outcome = self._traders.answer_enquiry(
            state.traders, holder, lrn, delivered, None if text is None else str(text), now
        )
        return replace(state, traders=outcome.state), outcome

    def _notify_arrival(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        key = str(arguments["movement"])
        movement = self._cats.movement(key)
        office = str(arguments.get("office", movement["destination"]))
        trader = str(arguments.get("trader", movement["consignee"]))
        location = str(arguments.get("location") or self._unlocode(office))
        mrn = self._mrn(state.customs, movement, key)
        simplified = bool(arguments.get("simplified", False))
        outcome = self._traders.notify_arrival(state.traders, mrn, office, trader, location, now, simplified)
        return replace(state, traders=outcome.state), outcome

    def _unloading_remarks(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
        """CC044C from the authorised consignee: `conform`, and `seals_ok`, `complete`, `remark` if given."""
        key = str(arguments["movement"])
        movement = self._cats.movement(key)
        office = str(arguments.get("office", movement["destination"]))
        trader = str(arguments.get("trader", movement["consignee"]))
        seals_ok = arguments.get("seals_ok")
        remark = arguments.get("remark")
        outcome = self._traders.send_unloading_remarks(
            state.traders, self._mrn(state.customs, movement, key), office, trader, now,
            conform=bool(arguments["conform"]), complete=bool(arguments.get("complete", True)),
            seals_ok=None if seals_ok is None else bool(seals_ok), remark=None if remark is None else str(remark),
        )
        return replace(state, traders=outcome.state), outcome

    def _officer(self, kind: type[Action]) -> _Handler:
        """Officers' actions take the movement's MRN and the office from the step; other fields pass through."""

        def handle(state: CatsState, arguments: Mapping[str, Any], now: datetime) -> _Decision:
            key = str(arguments["movement"])
            movement = self._cats.movement(key)
            office = str(arguments.get("office") or self._default_office(kind, movement))
            extra = {name: value for name, value in arguments.items() if name not in ("movement", "office")}
            action = kind(mrn=self._mrn(state.customs, movement, key), office=office, **extra)
            outcome = self._customs.act(state.customs, action, now)
            return replace(state, customs=outcome.state), outcome

        return handle

    @staticmethod
    def _default_office(kind: type[Action], movement: Mapping[str, Any]) -> str:
        at_departure = kind in (ResolveDiscrepancies, RecordDepartureControl)
        return str(movement["departure"] if at_departure else movement["destination"])

    def _mrn(self, customs: CustomsState, movement: Mapping[str, Any], key: str) -> str:
        """The MRN of the movement, from whichever of this administration's records holds it: the holder's
        LRN at departure, else a record at an office of transit or destination (found by the LRN)."""
        holder, lrn = str(movement["holder"]), str(movement["lrn"])
        mrn = customs.lrns.get(holder, {}).get(lrn)
        if mrn:
            return str(mrn)
        for book in (customs.transits, customs.destinations):
            for record in select(book, BY_LRN, lrn, shelved=True):
                return str(record.mrn)
        raise UnknownMovement(f"{self._node_id} holds no MRN for movement {key} (LRN {lrn})", rule="90")

    def _unlocode(self, office: str) -> str:
        for spec in self._scenario.nodes.values():
            for entry in spec.data.get("offices") or ():
                if entry.get("reference") == office and entry.get("unlocode"):
                    return str(entry["unlocode"])
        return f"{office[:2]}ZZZ"

    # -- results --------------------------------------------------------------------------------------------

    def _outgoing(self, message: CatsMessage, written: etree._Element | None = None) -> OutgoingDocument:
        """The document to send: `written` when a trader's system wrote it (it travels as the trader wrote
        it, every group the domain classes do not hold included), else the message encoded."""
        return OutgoingDocument(
            root=encode(message) if written is None else written,
            recipient=self._recipient_node(message),
            message_id=message.header.message_id,
            message_type=message.code,
            correlation_id=correlation(message),
        )

    def _recipient_node(self, message: CatsMessage) -> str:
        recipient = message.header.recipient
        if recipient.startswith(_NTA):
            return self._scenario.node_for_country(recipient[len(_NTA):])
        node = self._cats.node_of_trader(recipient)
        if node is None:
            raise ProtocolError(f"{message.code} is addressed to {recipient!r}, who is no trader of the scenario",
                                document=message.code, path=f"/{message.code}/messageRecipient", rule="12")
        return node


def _as_written(subject: object) -> etree._Element | None:
    """The document a trader's system wrote, when the trigger is its submission (it is sent unchanged)."""
    if isinstance(subject, ScenarioStep) and subject.action == "submit":
        return subject.arguments["document"]  # type: ignore[no-any-return]
    return None


def _node_event(event: Event) -> NodeEvent:
    return NodeEvent(kind=event.kind, agency=event.office, reference=event.reference, detail=event.detail)

