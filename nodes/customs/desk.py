"""The CATS desk of a node: its customs administration and its traders behind the node's `Desk` interface.

The node hands over verified, schema-valid XML; the desk decodes it, turns business-rule findings into
NCTS functional errors (pointer, code, rule), and routes it by `messageRecipient`: `NTA.<country>` is
customs, anything else is a trader of this country. What the agencies answer is encoded back to XML
and addressed to the node that serves the recipient. Scenario steps name movements by their scenario
key (M1); the desk resolves the key to the LRN, and the LRN to the MRN its own records hold.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from lxml import etree

from exchange.errors import Issue, ProtocolError, ScenarioError, UnknownMovement
from exchange.scenario import Scenario
from nodes.customs.actions import Action, PresentAtTransit, RecordControl, ResolveDiscrepancies
from nodes.customs.codec import correlation, decode, encode
from nodes.customs.ledger import CustomsState
from nodes.customs.model import CatsMessage, FunctionalError
from nodes.customs.offices import CustomsAdministration
from nodes.customs.outcome import Event, Outcome
from nodes.customs.scenario import CatsScenario
from nodes.customs.trader import TraderDesk, TraderState
from nodes.desk import DeskResult, NodeEvent, OutgoingDocument

__all__ = ["CatsDesk", "CatsState"]

_NTA = "NTA."


@dataclass(frozen=True)
class CatsState:
    customs: CustomsState
    traders: TraderState


def _functional_error(issue: Issue, root: etree._Element) -> FunctionalError:
    """NCTS codes: 12 for a code-list breach, 13 for a condition (C-rules), 14 for other rules."""
    code = "12" if issue.rule in ("enumeration", "pattern") else "13" if issue.rule.startswith("C") else "14"
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
        self._customs = CustomsAdministration(self._cats.customs_config(node_id))
        self._traders = TraderDesk()
        self._actions: Mapping[str, Callable[[CatsState, Mapping[str, Any], datetime], DeskResult]] = {
            "declare": self._declare,
            "invalidate": self._invalidate,
            "answer_enquiry": self._answer_enquiry,
            "notify_arrival": self._notify_arrival,
            "present_at_transit": self._officer(PresentAtTransit),
            "record_control": self._officer(RecordControl),
            "resolve_discrepancies": self._officer(ResolveDiscrepancies),
        }
        self.actions = frozenset(self._actions)

    # -- Desk interface -------------------------------------------------------------------------------------

    def initial_state(self) -> CatsState:
        return CatsState(self._customs.initial_state(), self._traders.initial_state())

    def dump(self, state: CatsState) -> dict[str, Any]:
        return {"customs": state.customs.to_dict(), "traders": state.traders.to_dict()}

    def load(self, data: dict[str, Any]) -> CatsState:
        return CatsState(CustomsState.from_dict(data["customs"]), TraderState.from_dict(data["traders"]))

    def receive(self, state: CatsState, root: etree._Element, issues: list[Issue], now: datetime) -> DeskResult:
        message = decode(root)
        if message.header.recipient.startswith(_NTA):
            violations = tuple(_functional_error(issue, root) for issue in issues if issue.level == "SEVERE")
            outcome = self._customs.receive(state.customs, message, now, rule_violations=violations)
            return self._result(replace(state, customs=outcome.state), outcome)
        outcome_t = self._traders.receive(state.traders, message, now)
        return self._result(replace(state, traders=outcome_t.state), outcome_t)

    def act(self, state: CatsState, action: str, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
        handler = self._actions.get(action)
        if handler is None:
            raise ScenarioError(f"unknown CATS action {action!r}; known: {', '.join(sorted(self._actions))}",
                                path="do")
        return handler(state, arguments, now)

    def tick(self, state: CatsState, now: datetime) -> DeskResult:
        outcome = self._customs.tick(state.customs, now)
        return self._result(replace(state, customs=outcome.state), outcome)

    def snapshot(self, state: CatsState) -> dict[str, Any]:
        """Movements by scenario key as this node's offices see them, and this node's guarantee register."""
        movements: dict[str, dict[str, Any]] = {}

        def view(lrn: str) -> dict[str, Any]:
            key = self._cats.key_of_lrn(lrn) or lrn
            return movements.setdefault(key, {"lrn": lrn, "transit": {}})

        customs = state.customs
        for holder, lrns in customs.lrns.items():
            for lrn, mrn in lrns.items():
                entry = view(lrn)
                entry["mrn"] = mrn
                entry["departure"] = customs.departure_state(holder, lrn).value  # type: ignore[union-attr]
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

    def _declare(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
        declaration = self._cats.declaration(str(arguments["movement"]))
        outcome = self._traders.declare(state.traders, declaration, declaration.office_of_departure[:2], now)
        return self._result(replace(state, traders=outcome.state), outcome)

    def _invalidate(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
        movement = self._cats.movement(str(arguments["movement"]))
        justification = str(arguments.get("justification", "Declaration no longer needed"))
        outcome = self._traders.request_invalidation(
            state.traders, str(movement["holder"]), str(movement["lrn"]), justification, now
        )
        return self._result(replace(state, traders=outcome.state), outcome)

    def _answer_enquiry(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
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
        return self._result(replace(state, traders=outcome.state), outcome)

    def _notify_arrival(self, state: CatsState, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
        key = str(arguments["movement"])
        movement = self._cats.movement(key)
        office = str(arguments.get("office", movement["destination"]))
        trader = str(arguments.get("trader", movement["consignee"]))
        location = str(arguments.get("location") or self._unlocode(office))
        mrn = self._mrn(state.customs, str(movement["lrn"]), key)
        outcome = self._traders.notify_arrival(state.traders, mrn, office, trader, location, now)
        return self._result(replace(state, traders=outcome.state), outcome)

    def _officer(self, kind: type[Action]) -> Callable[[CatsState, Mapping[str, Any], datetime], DeskResult]:
        """Officers' actions take the movement's MRN and the office from the step; other fields pass through."""

        def handle(state: CatsState, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
            key = str(arguments["movement"])
            movement = self._cats.movement(key)
            office = str(arguments.get("office") or self._default_office(kind, movement))
            extra = {name: value for name, value in arguments.items() if name not in ("movement", "office")}
            action = kind(mrn=self._mrn(state.customs, str(movement["lrn"]), key), office=office, **extra)
            outcome = self._customs.act(state.customs, action, now)
            return self._result(replace(state, customs=outcome.state), outcome)

        return handle

    @staticmethod
    def _default_office(kind: type[Action], movement: Mapping[str, Any]) -> str:
        return str(movement["departure"] if kind is ResolveDiscrepancies else movement["destination"])

    def _mrn(self, customs: CustomsState, lrn: str, key: str) -> str:
        """The MRN of the movement with `lrn`, from whichever of this administration's records holds it."""
        for lrns in customs.lrns.values():
            if lrns.get(lrn):
                return str(lrns[lrn])
        for books in (customs.transits, customs.destinations):
            for book in books.values():
                for record in book.values():
                    if record.declaration.lrn == lrn:
                        return record.mrn
        raise UnknownMovement(f"{self._node_id} holds no MRN for movement {key} (LRN {lrn})", rule="90")

    def _unlocode(self, office: str) -> str:
        for spec in self._scenario.nodes.values():
            for entry in spec.data.get("offices") or ():
                if entry.get("reference") == office and entry.get("unlocode"):
                    return str(entry["unlocode"])
        return f"{office[:2]}ZZZ"

    # -- results --------------------------------------------------------------------------------------------

    def _result(self, state: CatsState, outcome: Outcome[Any]) -> DeskResult:
        return DeskResult(
            state=state,
            outgoing=tuple(self._outgoing(message) for message in outcome.messages),
            events=tuple(_node_event(event) for event in outcome.events),
        )

    def _outgoing(self, message: CatsMessage) -> OutgoingDocument:
        return OutgoingDocument(
            root=encode(message),
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


def _node_event(event: Event) -> NodeEvent:
    return NodeEvent(kind=event.kind, agency=event.office, reference=event.reference, detail=event.detail)

