"""What a node needs from each document family's agencies, and what they give back.

A node is plumbing: inbox, outbox, signatures, storage. The agencies that decide things (customs
offices and traders for CATS, the NPPO for ePhyto, the issuing authorities and importing customs for
e-CO) sit behind a `Desk`. A desk is sans-IO and keeps its state one row per aggregate
(`nodes.records`). Each decision goes:

1. the desk reads its trigger (one verified document, one scenario step, a clock move) into a `Trigger`
   naming the rows it needs: the movement of this MRN at this office, this guarantee, this certificate;
2. the node loads exactly those rows and hands them back with the trigger to `decide`; a decision that
   finds it needs another row (named by one it loaded) raises `Unloaded`, and the node loads it too;
3. `decide` returns the records it changed, the documents to send and the events to log, and the node
   writes all of them in one transaction, so a crash never leaves a decision half-applied.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from lxml import etree

from exchange.errors import Issue
from nodes.records import Loaded, Put, Query, RecordKind, Trigger, Unloaded

__all__ = ["AdmittingDesk", "Desk", "DeskResult", "NodeEvent", "OutgoingDocument", "ReadMessage", "ScenarioStep",
           "decision_rounds"]


@dataclass(frozen=True)
class OutgoingDocument:
    """An unsigned document a desk wants sent; the node signs it and wraps it in an envelope."""

    root: etree._Element
    recipient: str  # node id
    message_id: str
    message_type: str
    correlation_id: str | None


@dataclass(frozen=True)
class NodeEvent:
    """Something an agency did or refused, for the timeline and the event log."""

    kind: str  # "state", "rejected", "guarantee", "received", ...
    agency: str  # e.g. an office reference number or a trader id
    reference: str  # MRN, LRN, certificate number
    detail: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadMessage:
    """What a message trigger carries to `decide`: the document as received and, decoded once, as data."""

    root: etree._Element
    issues: list[Issue]  # its business-rule findings
    message: Any = None  # the family's decoded message, if the desk decodes before deciding


@dataclass(frozen=True)
class ScenarioStep:
    """What a step trigger carries to `decide`: the action and its arguments, as the scenario gave them."""

    action: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class DeskResult:
    """One decision: the records it created or changed, the documents to send, the events to log."""

    changes: tuple[Put, ...] = ()
    outgoing: tuple[OutgoingDocument, ...] = ()
    events: tuple[NodeEvent, ...] = ()


class Desk(Protocol):
    """The agencies of one document family inside one node."""

    family: str
    actions: frozenset[str]  # the scenario step actions this desk carries out
    kinds: Mapping[str, RecordKind]  # the aggregates it keeps: their types, indexes and timers

    def on_message(self, root: etree._Element, issues: list[Issue]) -> Trigger:
        """One verified, schema-valid document (`issues`: its business-rule findings) and the rows it needs."""
        ...

    def on_action(self, action: str, arguments: Mapping[str, Any]) -> Trigger:
        """One scenario step (declare, present goods, record control results, ...) and the rows it needs.

        Raises ScenarioError for a step that cannot be read, before anything is loaded."""
        ...

    def on_clock(self, now: datetime) -> Trigger:
        """The clock moved to `now`: the rows whose timers are due. A family's deadlines are its records' timers:
        the node does not ask a desk none of whose timers is due."""
        ...

    def decide(self, trigger: Trigger, loaded: Loaded, now: datetime) -> DeskResult:
        """Decide on `trigger` with the rows loaded for it; raises `Unloaded` for a row it needs as well."""
        ...

    def snapshot(self, loaded: Loaded, *, configured: bool = True) -> dict[str, Any]:
        """What `GET /state` shows (movements, guarantees, statuses) of the rows in `loaded`, for expectations
        and people: of every row, or of one page of them (`nodes.state_pages`).

        Each record adds to the snapshot on its own, so that pages merged in order
        (`exchange.snapshots.merge_page`) make the snapshot of all their rows. `configured`: show what the
        configuration starts with where `loaded` has no row for it (a guarantee register not yet written);
        only a family's first page does, so that a written row on a later page replaces it.
        """
        ...


@runtime_checkable
class AdmittingDesk(Desk, Protocol):
    """A desk that may refuse a delivery at the door, in the push answer, rather than answer it later with a
    document of its own: the ePhyto NPPO's failed acknowledgement at delivery."""

    def admit(self, trigger: Trigger, loaded: Loaded) -> None:
        """Raise ProtocolError for the message of `trigger` (from `on_message`) that the desk will never take,
        given the rows the trigger names; return to take it."""
        ...


Rounds = Generator[tuple[Query, ...], Loaded, DeskResult]


def decision_rounds(desk: Desk, trigger: Trigger, now: datetime) -> Rounds:
    """One decision as rounds of loading, sans-IO: yields the queries to load, takes what they loaded
    (`send`), and returns the desk's result. The first round is what the trigger names; each further round
    is the one row the decision asked for. A store drives it: `RecordStore.decision` in a node."""
    loaded = yield trigger.needs
    while True:
        try:
            return desk.decide(trigger, loaded, now)
        except Unloaded as missing:
            if missing.query in loaded.answered:
                raise RuntimeError(f"the {desk.family} desk asked again for {missing.query}") from missing
            loaded = loaded.merged((yield (missing.query,)))
