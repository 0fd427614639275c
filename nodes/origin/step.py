"""One call of an e-CO agency: the scratchpad that collects the messages it sends and the events it logs.

Agencies are sans-IO: a receive, an act or a tick gets the state and a `Step` (the scenario time and the
message serial) and returns the new state; the desk then turns the step's messages into documents and
its events into node events. Every message gets its header here, so message ids are unique per node
(`<party>-<serial>`) and `SentDateTime` is scenario time, never the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from nodes.desk import NodeEvent
from nodes.origin.ledger import OriginState
from nodes.origin.model import EcoMessage, Header, PartyRef

__all__ = ["Outcome", "Step"]

M = TypeVar("M")


@dataclass(frozen=True)
class Outcome:
    state: OriginState
    messages: tuple[EcoMessage, ...] = ()
    events: tuple[NodeEvent, ...] = ()


class Step:
    def __init__(self, state: OriginState, now: datetime) -> None:
        self.now = now
        self._serial = state.serial
        self._messages: list[EcoMessage] = []
        self._events: list[NodeEvent] = []

    def send(self, kind: type[M], sender: PartyRef, recipient: PartyRef, about: str, **fields: Any) -> M:
        """Build and queue a `kind` message from `sender` to `recipient` about certificate number `about`."""
        self._serial += 1
        header = Header(f"{sender.party}-{self._serial:06d}", self.now, sender, recipient, about)
        message = kind(header=header, **fields)
        self._messages.append(message)  # type: ignore[arg-type]
        return message

    def note(self, kind: str, agency: str, reference: str, detail: str, **data: Any) -> None:
        self._events.append(NodeEvent(kind, agency, reference, detail, data))

    def moved(
        self, agency: str, reference: str, current: Enum | None, target: Enum, trigger: str, why: str = ""
    ) -> None:
        """Log a transition as "Issued → Cancelled on cancel" ("start" before the first), `why` in brackets."""
        start = "start" if current is None else current.value
        because = f" ({why})" if why else ""
        self.note("state", agency, reference, f"{start} → {target.value} on {trigger}{because}")

    def outcome(self, state: OriginState) -> Outcome:
        return Outcome(replace(state, serial=self._serial), tuple(self._messages), tuple(self._events))
