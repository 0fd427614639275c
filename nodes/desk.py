"""What a node needs from each document family's agencies, and what they give back.

A node is plumbing: inbox, outbox, signatures, storage. The agencies that decide things (customs
offices and traders for CATS; later the NPPO for ePhyto and the origin authority for e-CO) sit behind a
`Desk`. A desk is sans-IO: it takes its state, one verified document or one scenario action and the
scenario time, and returns its new state, the documents to send and the events to log. The node
persists all three in one transaction, so a crash never leaves a decision half-applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from lxml import etree

from exchange.errors import Issue

__all__ = ["Desk", "DeskResult", "NodeEvent", "OutgoingDocument"]


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
class DeskResult:
    state: Any
    outgoing: tuple[OutgoingDocument, ...] = ()
    events: tuple[NodeEvent, ...] = ()


class Desk(Protocol):
    """The agencies of one document family inside one node."""

    family: str
    actions: frozenset[str]  # the scenario step actions this desk carries out

    def initial_state(self) -> Any: ...

    def dump(self, state: Any) -> dict[str, Any]:
        """A JSON-serialisable form of `state`, for SQLite."""
        ...

    def load(self, data: dict[str, Any]) -> Any: ...

    def receive(self, state: Any, root: etree._Element, issues: list[Issue], now: datetime) -> DeskResult:
        """Take one verified, schema-valid document; `issues` are its business-rule findings."""
        ...

    def act(self, state: Any, action: str, arguments: Mapping[str, Any], now: datetime) -> DeskResult:
        """Carry out one scenario step (declare, present goods, record control results, ...)."""
        ...

    def tick(self, state: Any, now: datetime) -> DeskResult:
        """Let deadlines that have passed by `now` take effect."""
        ...

    def snapshot(self, state: Any) -> dict[str, Any]:
        """What `GET /state` shows: movements, guarantees, statuses, for expectations and people."""
        ...
