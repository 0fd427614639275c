"""What a customs administration remembers: one record per movement and office, the LRNs, the register.

Records are filed per office, then per MRN (`book[office][mrn]`), because NCTS answers "unknown MRN"
per office: a movement known at one office of transit is unknown at another. A node keeps each record
in a row of its own (`CUSTOMS_LAYOUT`, `nodes.records`) and gives a decision a `CustomsState` holding
only the records it needs; `lookup` and `file` read and write either kind of state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from nodes.customs.config import CustomsConfig
from nodes.customs.guarantee import GuaranteeAccount
from nodes.customs.model import Declaration, InvalidGuaranteeReason
from nodes.customs.tables import DEPARTURE_TIMERS, DepartureState, DestinationState, TransitState
from nodes.records import Counter, Index, Layout, RecordKind, Shelved, Table, put

__all__ = [
    "BY_LRN",
    "CUSTOMS_LAYOUT",
    "DEPARTURE",
    "DESTINATION",
    "GUARANTEE",
    "LRN",
    "TRANSIT",
    "CustomsState",
    "DepartureRecord",
    "DestinationRecord",
    "TransitRecord",
    "file",
    "lookup",
]


@dataclass(frozen=True)
class DepartureRecord:
    """A movement at its office of departure, from acceptance to write-off."""

    mrn: str
    office: str
    state: DepartureState
    declaration: Declaration
    accepted_at: datetime
    awaiting_grns: tuple[str, ...] = ()  # CD203C sent, no CD205C yet
    reserved_grns: tuple[str, ...] = ()  # CD205C accepted: to release at the end (CD204C)
    refusals: tuple[InvalidGuaranteeReason, ...] = ()  # CD205C refused
    deadline: datetime | None = None  # when the trigger of DEPARTURE_TIMERS[state] fires
    released_at: datetime | None = None
    passed_offices: tuple[str, ...] = ()  # offices of transit that sent CD118C, in order
    arrival_date: date | None = None
    discrepancies: str | None = None
    enquiry_answer: str | None = None  # what the holder said in CC141C
    to_control: bool = False  # the office decided at acceptance to control the goods before release (CC060C)
    control_text: str | None = None  # what the officer's control at departure found
    incidents: tuple[str, ...] = ()  # offices that registered an incident en route (CD180C), in order

    @property
    def lrn(self) -> str:
        return self.declaration.lrn

    @property
    def holder(self) -> str:
        return self.declaration.holder.identification_number


@dataclass(frozen=True)
class TransitRecord:
    """A movement at one declared office of transit: ATR received, then goods presented."""

    mrn: str
    office: str
    state: TransitState
    declaration: Declaration
    received_at: datetime
    passed_at: datetime | None = None


@dataclass(frozen=True)
class DestinationRecord:
    """A movement at its office of destination: AAR, arrival notification, control and release."""

    mrn: str
    office: str
    state: DestinationState
    declaration: Declaration
    received_at: datetime
    arrived_at: datetime | None = None
    trader_at_destination: str = ""  # from CC007C
    control_result: str | None = None  # A1 / B1 as sent in CD018C


R = TypeVar("R")
Book = Mapping[str, Mapping[str, R]]


def lookup(book: Book[R], office: str, mrn: str) -> R | None:
    return book.get(office, {}).get(mrn)


def file(book: Book[R], office: str, mrn: str, record: R) -> Book[R]:
    """A copy of `book` with `record` filed under office and MRN; `book` itself is left as it was."""
    return put(book, office, put(book.get(office, {}), mrn, record))


@dataclass(frozen=True)
class CustomsState:
    """Everything one administration knows. `message_serial` numbers the messages it sends."""

    departures: Book[DepartureRecord] = field(default_factory=dict)
    transits: Book[TransitRecord] = field(default_factory=dict)
    destinations: Book[DestinationRecord] = field(default_factory=dict)
    lrns: Mapping[str, Mapping[str, str | None]] = field(default_factory=dict)  # holder → LRN → MRN (None: rejected)
    guarantees: Mapping[str, GuaranteeAccount] = field(default_factory=dict)  # the register, by GRN
    mrn_serial: int = 0
    message_serial: int = 0

    @classmethod
    def initial(cls, config: CustomsConfig) -> CustomsState:
        return cls(guarantees={account.grn: account for account in config.guarantees})

    def departure_state(self, holder: str, lrn: str) -> DepartureState | None:
        """Where the declaration `lrn` of `holder` stands at departure: Rejected if it never got an MRN."""
        if lrn not in self.lrns.get(holder, {}):
            return None
        mrn = self.lrns[holder][lrn]
        if mrn is None:
            return DepartureState.REJECTED
        return next(book[mrn].state for book in self.departures.values() if mrn in book)


BY_LRN = Index("lrn", lambda record: record.declaration.lrn)
"""Movement records by LRN: how a scenario step, which names a movement, finds its MRN at an office."""


def _departure_timer(record: DepartureRecord) -> datetime | None:
    return record.deadline if record.state in DEPARTURE_TIMERS else None


DEPARTURE = RecordKind("departure", DepartureRecord, (BY_LRN,), due=_departure_timer)
TRANSIT = RecordKind("transit", TransitRecord, (BY_LRN,))
DESTINATION = RecordKind("destination", DestinationRecord, (BY_LRN,))
LRN = RecordKind("lrn", str | None)  # owner: the holder; id: the LRN; the MRN it got, None if rejected
GUARANTEE = RecordKind("guarantee", GuaranteeAccount)

CUSTOMS_LAYOUT = Layout(
    CustomsState,
    (
        Shelved("departures", DEPARTURE),
        Shelved("transits", TRANSIT),
        Shelved("destinations", DESTINATION),
        Shelved("lrns", LRN),
        Table("guarantees", GUARANTEE),
        Counter("mrn_serial", "mrn"),
        Counter("message_serial", "customs-messages"),
    ),
)
"""One row per movement record per office, per holder's LRN and per guarantee account; two counters."""
