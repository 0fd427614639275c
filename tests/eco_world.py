"""An in-memory e-CO exchange for tests: a scenario's desks wired together without HTTP or signatures.

Each node's desk gets what a real node would hand it: the document as canonical XML (the content a
signature covers) and its business-rule findings. Delivery is explicit, so a test can hold messages
back (an acknowledgement that has not arrived yet) and check every transition of the state tables.
Each node's state is rows (`tests.rows.MemoryRows`): a decision gets only the rows it names, as in a node,
and every record goes through its row's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

from exchange.scenario import Scenario
from exchange.validation import validate
from nodes.desk import DeskResult, NodeEvent, OutgoingDocument
from nodes.language import load_scenario
from nodes.origin.desk import EcoDesk
from nodes.origin.scenario import OriginScenario
from tests.rows import MemoryRows

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "uzb-aze-eco.yaml"
_MOVE = re.compile(r"^(?P<current>\S+) → (?P<target>\S+) on (?P<trigger>[^(]+?)(?: \(.*\))?$")
_VERSION = re.compile(r" v\d+$")


def eco_scenario(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Scenario:
    """The e-CO pilot scenario, changed by `change` (extra certificates, another trust list)."""
    raw = yaml.safe_load(SCENARIO.read_text(encoding="utf-8"))
    raw["steps"] = []
    raw["expect"] = {"deliveries": {"failed": 0}}  # never run: the tests drive the desks themselves
    if change is not None:
        change(raw)
    path = tmp_path / "eco.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load_scenario(path)


def variant(raw: dict[str, Any], key: str, base: str, number: str, **fields: Any) -> None:
    """Add certificate `key`: a copy of certificate `base` with another number and `fields` changed."""
    certificates = raw["eco"]["certificates"]
    certificates[key] = {**certificates[base], "number": number, **fields}


class World:
    """The desks of every node of a scenario, with a clock and a queue of documents in flight."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.desks = {node: EcoDesk(scenario, node) for node in scenario.nodes}
        self.rows = {node: MemoryRows(desk.kinds) for node, desk in self.desks.items()}
        self.now = scenario.start
        self.pending: list[tuple[str, OutgoingDocument]] = []
        self.delivered: list[tuple[str, OutgoingDocument]] = []
        self.events: list[tuple[str, NodeEvent]] = []
        self.authorities = set(OriginScenario(scenario).authorities)

    # -- driving -------------------------------------------------------------------------------------------

    def at(self, moment: datetime | timedelta) -> None:
        """Move the clock (deadlines fire)."""
        self.now = self.now + moment if isinstance(moment, timedelta) else moment
        for node, desk in self.desks.items():
            self._apply(node, self.rows[node].decide(desk, desk.on_clock(self.now), self.now))

    def act(self, node: str, action: str, **arguments: Any) -> list[NodeEvent]:
        self.now += timedelta(minutes=1)
        desk = self.desks[node]
        result = self.rows[node].decide(desk, desk.on_action(action, arguments), self.now)
        self._apply(node, result)
        return list(result.events)

    def run(self, node: str, action: str, **arguments: Any) -> list[NodeEvent]:
        """Act, then deliver everything in flight: a step followed by the exchange settling, as the runner does."""
        events = self.act(node, action, **arguments)
        self.deliver()
        return events

    def deliver(self, *codes: str) -> list[tuple[str, OutgoingDocument]]:
        """Deliver documents in flight, oldest first (only those of `codes` when given), and what they cause."""
        done = []
        while True:
            index = next((i for i, (_, doc) in enumerate(self.pending) if not codes or doc.message_type in codes),
                         None)
            if index is None:
                return done
            sender, document = self.pending.pop(index)
            self.receive(document)
            done.append((sender, document))

    def receive(self, document: OutgoingDocument) -> DeskResult:
        """Hand `document` to its recipient's desk as a node does: the signed content and its rule findings."""
        content = etree.fromstring(etree.tostring(document.root, method="c14n", exclusive=True))
        issues = validate(content)
        assert not [issue for issue in issues if issue.area == "Schema"], issues
        node, desk = document.recipient, self.desks[document.recipient]
        trigger = desk.on_message(content, [i for i in issues if i.area != "Schema"])
        result = self.rows[node].decide(desk, trigger, self.now)
        self._apply(node, result)
        self.delivered.append((node, document))
        return result

    def _apply(self, node: str, result: DeskResult) -> None:
        self.pending.extend((node, document) for document in result.outgoing)
        self.events.extend((node, event) for event in result.events)

    # -- reading -------------------------------------------------------------------------------------------

    def snapshot(self, node: str) -> dict[str, Any]:
        return self.desks[node].snapshot(self.rows[node].load_all())

    def rejected(self) -> list[NodeEvent]:
        return [event for _, event in self.events if event.kind == "rejected"]

    def sent(self, code: str) -> list[OutgoingDocument]:
        return [document for _, document in self.delivered if document.message_type == code]

    def transitions(self) -> set[tuple[str, str, str, str]]:
        """Every transition logged so far, as (machine, from, to, trigger); `from` is "start" for a new record."""
        found = set()
        for _, event in self.events:
            move = _MOVE.match(event.detail) if event.kind == "state" else None
            if move is None:
                continue
            authority = event.agency in self.authorities
            if _VERSION.search(event.reference):
                machine = "ISSUED" if authority else "RECEIVED"
            elif event.reference.startswith("VR"):
                machine = "INQUIRY" if authority else "VERIFICATION"
            else:
                machine = "PREFERENCE"
            found.add((machine, move["current"], move["target"], move["trigger"]))
        return found
