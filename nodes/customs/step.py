"""One step of an administration: the scratchpad that collects what one receive/act/tick produces.

Offices build their answers through a `Step` so that every outgoing message gets the same header
rules (sender "NTA.<country>", a message id unique in the administration, `prepared_at` = scenario
time) and every transition is logged the same way. A step lives for one call; the public API stays
pure because the step only turns into an `Outcome` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from nodes.customs.config import CustomsConfig
from nodes.customs.ledger import CustomsState, file, lookup
from nodes.customs.model import CatsMessage, Header
from nodes.customs.outcome import Event, Outcome
from nodes.customs.tables import next_state, require_valid_mrn

__all__ = ["Effect", "Machine", "Step", "advance", "fire", "mrn_pointer", "nta"]


def nta(code: str) -> str:
    """The national transit application of a country, from its code or any office reference number."""
    return f"NTA.{code[:2]}"


def mrn_pointer(code: str) -> str:
    """Where the MRN sits in a message with root `code`, for functional errors 90, 92 and 93."""
    return f"/{code}/TransitOperation/MRN"


M = TypeVar("M", bound=CatsMessage)


class Step:
    """Collects the messages and events of one call and numbers the messages as it goes."""

    def __init__(self, config: CustomsConfig, serial: int, now: datetime) -> None:
        self.config = config
        self.now = now
        self._serial = serial
        self._messages: list[CatsMessage] = []
        self._events: list[Event] = []

    def send(self, kind: Callable[..., M], to: str, about: str | None, **fields: Any) -> M:
        """Build and queue a `kind` message to `to` (an NTA or a trader), correlated to `about`."""
        self._serial += 1
        header = Header(
            sender=nta(self.config.country),
            recipient=to,
            prepared_at=self.now,
            message_id=f"{self.config.country}{self._serial:09d}",
            correlation_id=about,
        )
        message = kind(header=header, **fields)
        self._messages.append(message)
        return message

    def note(self, kind: str, office: str, reference: str, detail: str) -> None:
        self._events.append(Event(kind, office, reference, detail))

    def moved(self, office: str, reference: str, current: Enum | None, target: Enum, trigger: str) -> None:
        """Log a transition as "Accepted → Released on guarantees complete" ("start" before the first)."""
        self.note(
            "state", office, reference, f"{'start' if current is None else current.value} → {target.value} on {trigger}"
        )

    def outcome(self, state: CustomsState) -> Outcome[CustomsState]:
        return Outcome(replace(state, message_serial=self._serial), tuple(self._messages), tuple(self._events))


class Stateful(Protocol):
    @property
    def state(self) -> Enum: ...


R = TypeVar("R", bound=Stateful)
Effect = Callable[[Step, Any, Any], Any]
"""What a transition does besides changing state: (step, record or None, cause) → updated record.

The cause is the message or action that fired it; the effect sends messages through the step."""


@dataclass(frozen=True)
class Machine:
    """One office role's protocol: its transition table, its effects, and where its records live."""

    table: Mapping[tuple[Any, str], Any]
    effects: Mapping[str, Effect]
    book: str  # the CustomsState field that files this role's records by office and MRN


def fire(
    step: Step,
    machine: Machine,
    *,
    office: str,
    mrn: str,
    record: R | None,
    trigger: str,
    cause: object,
    pointer: str = "",
) -> R:
    """Move `record` (None: not known yet) by `trigger` if the table allows it, running its effect.

    Raises UnknownMovement / OutOfSequence (functional errors 90 / 92) before anything is sent.
    """
    current = None if record is None else record.state
    target = next_state(machine.table, current, trigger, mrn=mrn, pointer=pointer)
    step.moved(office, mrn, current, target, trigger)
    updated: R = replace(machine.effects[trigger](step, record, cause), state=target)
    return updated


def advance(
    step: Step,
    state: CustomsState,
    machine: Machine,
    *,
    office: str,
    mrn: str,
    trigger: str,
    cause: object,
    pointer: str = "",
) -> CustomsState:
    """Fire `trigger` on the record of `mrn` at `office` and file the result in the machine's book.

    The common path of every office: check the MRN (93), look the record up, move it (90, 92), store it.
    """
    require_valid_mrn(mrn, pointer=pointer)
    records = getattr(state, machine.book)
    record = lookup(records, office, mrn)
    moved = fire(step, machine, office=office, mrn=mrn, record=record, trigger=trigger, cause=cause, pointer=pointer)
    changes: dict[str, Any] = {machine.book: file(records, office, mrn, moved)}
    return replace(state, **changes)
