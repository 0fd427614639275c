"""The traders of one country: holders who declare, amend, present pre-lodged goods, cancel and answer
enquiries; traders at destination who notify arrival and, as authorised consignees, send unloading remarks.

A trader's system knows little: the movements it declared (by LRN), the MRN customs gave each, and
the latest thing customs said. The status labels are HMRC's (transit.md §1.6: the trader UI maps the
latest message to a status). Movements are keyed by LRN, as trader systems do, so a holder who reuses
an LRN gets the two movements conflated (transit.md §5): the reason customs refuses reused LRNs.
Sans-IO like the offices: every call returns an `Outcome` with the new `TraderState`. A node keeps one
row per trader's movement, found by its LRN or MRN (`TRADER_LAYOUT`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, TypeVar

from exchange.errors import ProtocolError, UnknownMovement
from nodes.customs.model import (
    ArrivalNotification,
    CatsMessage,
    Declaration,
    DeclarationAmendment,
    Header,
    InformationAboutNonArrivedMovement,
    InvalidationRequest,
    PresentationNotification,
    TransitDeclaration,
    UnloadingRemarks,
)
from nodes.customs.outcome import Event, Outcome
from nodes.records import Index, Layout, RecordKind, Shelved, Table, put, select

__all__ = [
    "HOLDER",
    "MOVEMENT_BY_LRN",
    "MOVEMENT_BY_MRN",
    "TRADER_AT_DESTINATION",
    "TRADER_LAYOUT",
    "TRADER_MOVEMENT",
    "TRADER_SERIAL",
    "TRADER_STATUS",
    "TraderDesk",
    "TraderMovement",
    "TraderState",
]

HOLDER = "holder"
TRADER_AT_DESTINATION = "destination"

TRADER_STATUS: Mapping[str, tuple[str, str]] = {
    "CC928C": (HOLDER, "Declaration sent"),
    "CC028C": (HOLDER, "MRN allocated"),
    "CC004C": (HOLDER, "Declaration amendment accepted"),
    "CC060C": (HOLDER, "Goods under control"),
    "CC056C": (HOLDER, "Rejected by office of departure"),
    "CC055C": (HOLDER, "Guarantee rejected"),
    "CC051C": (HOLDER, "Goods not released"),
    "CC029C": (HOLDER, "Released for transit"),
    "CC009C": (HOLDER, "Declaration cancelled"),
    "CC019C": (HOLDER, "Goods not released - discrepancies"),
    "CC045C": (HOLDER, "Movement ended"),
    "CC140C": (HOLDER, "Under enquiry"),
    "CC035C": (HOLDER, "Goods being recovered"),
    "CC182C": (HOLDER, "Incident during transit"),
    "CC057C": (TRADER_AT_DESTINATION, "Rejected by office of destination"),
    "CC043C": (TRADER_AT_DESTINATION, "Unloading permission granted"),
    "CC025C": (TRADER_AT_DESTINATION, "Goods released"),
}
"""Message from customs → (which side of the movement it is for, the status it shows)."""


@dataclass(frozen=True)
class TraderMovement:
    """One movement as one trader sees it."""

    side: str  # HOLDER or TRADER_AT_DESTINATION
    office: str  # office of departure for the holder, of destination for the trader at destination
    lrn: str | None
    mrn: str | None
    status: str
    updated_at: datetime


@dataclass(frozen=True)
class TraderState:
    """Per trader: movements by LRN (holder) or MRN (trader at destination), and a message counter."""

    movements: Mapping[str, Mapping[str, TraderMovement]] = field(default_factory=dict)
    message_serials: Mapping[str, int] = field(default_factory=dict)

    def movement(self, trader: str, reference: str) -> TraderMovement | None:
        """The movement `reference` (LRN or MRN) of `trader`."""
        movements = self.movements.get(trader, {})
        if reference in movements:
            return movements[reference]
        return next(iter(select(movements, MOVEMENT_BY_MRN, reference)), None)


MOVEMENT_BY_LRN = Index("lrn", lambda movement: movement.lrn)
MOVEMENT_BY_MRN = Index("mrn", lambda movement: movement.mrn)
TRADER_MOVEMENT = RecordKind("trader-movement", TraderMovement, (MOVEMENT_BY_LRN, MOVEMENT_BY_MRN))
TRADER_SERIAL = RecordKind("trader-serial", int)

TRADER_LAYOUT = Layout(
    TraderState, (Shelved("movements", TRADER_MOVEMENT), Table("message_serials", TRADER_SERIAL))
)
"""One row per movement of each trader (owner: the trader), one message counter per trader."""


M = TypeVar("M", bound=CatsMessage)


def _send(
    state: TraderState, trader: str, kind: Callable[..., M], to: str, about: str, now: datetime, **fields: Any
) -> tuple[TraderState, M]:
    """Build a message from `trader`; ids are the trader's own number plus its counter, so unique."""
    serial = state.message_serials.get(trader, 0) + 1
    header = Header(
        sender=trader, recipient=to, prepared_at=now, message_id=f"{trader}-{serial:06d}", correlation_id=about
    )
    return replace(state, message_serials=put(state.message_serials, trader, serial)), kind(header=header, **fields)


def _declared(state: TraderState, holder: str, reference: str) -> TraderMovement:
    """The movement `reference` (LRN or MRN) that `holder` declared, or UnknownMovement."""
    movement = state.movement(holder, reference)
    if movement is None or movement.side != HOLDER:
        raise UnknownMovement(f"{holder} declared no movement {reference}")
    return movement


def _file(state: TraderState, trader: str, key: str, movement: TraderMovement) -> TraderState:
    return replace(state, movements=put(state.movements, trader, put(state.movements.get(trader, {}), key, movement)))


def _declaration_sent(state: TraderState, message: TransitDeclaration, now: datetime) -> Outcome[TraderState]:
    """The holder's movement once its CC015C is on its way, filed under the LRN (a reused LRN: the same one)."""
    holder, declaration = message.header.sender, message.declaration
    status = "Declaration sent"
    known = state.movements.get(holder, {}).get(declaration.lrn)
    movement = (
        replace(known, status=status, updated_at=now)
        if known
        else TraderMovement(HOLDER, declaration.office_of_departure, declaration.lrn, None, status, now)
    )
    state = _file(state, holder, declaration.lrn, movement)
    return Outcome(state, (message,), (Event("status", holder, declaration.lrn, status),))


def _arrival_sent(state: TraderState, message: ArrivalNotification, now: datetime) -> Outcome[TraderState]:
    """The trader at destination's movement once its CC007C is on its way, filed under the MRN."""
    trader, status = message.header.sender, "Arrival notification sent"
    arrived = TraderMovement(TRADER_AT_DESTINATION, message.office_of_destination_actual, None, message.mrn, status,
                             now)
    state = _file(state, trader, message.mrn, arrived)
    return Outcome(state, (message,), (Event("status", trader, message.mrn, status),))


class TraderDesk:
    """All holders and traders at destination of one country, behind one sans-IO interface."""

    def initial_state(self) -> TraderState:
        return TraderState()

    def declare(
        self, state: TraderState, declaration: Declaration, recipient_country: str, now: datetime
    ) -> Outcome[TraderState]:
        """CC015C to the NTA of `recipient_country` (normally the country of the office of departure)."""
        holder = declaration.holder.identification_number
        state, message = _send(
            state, holder, TransitDeclaration, f"NTA.{recipient_country}", declaration.lrn, now, declaration=declaration
        )
        return _declaration_sent(state, message, now)

    def lodge(self, state: TraderState, message: CatsMessage, now: datetime) -> Outcome[TraderState]:
        """A message a trader's own system wrote (the declarant channel): sent as written, header and all.

        A declaration or an arrival notification opens the trader's movement, as `declare` and
        `notify_arrival` do, so that what customs answers finds it; a follow-up leaves the movement as
        it is until customs answers.
        """
        if isinstance(message, TransitDeclaration):
            return _declaration_sent(state, message, now)
        if isinstance(message, ArrivalNotification):
            return _arrival_sent(state, message, now)
        reference = getattr(message, "mrn", None) or getattr(message, "lrn", None) or ""
        return Outcome(state, (message,), (Event("lodged", message.header.sender, reference, f"{message.code} sent"),))

    def amend(self, state: TraderState, declaration: Declaration, now: datetime) -> Outcome[TraderState]:
        """CC013C: the holder's declaration again, as amended, naming the MRN once customs gave one (a pre-lodged
        declaration has none yet: the LRN names it). Raises UnknownMovement if the holder declared no such LRN."""
        holder = declaration.holder.identification_number
        movement = _declared(state, holder, declaration.lrn)
        about = movement.mrn or declaration.lrn
        state, message = _send(
            state, holder, DeclarationAmendment, f"NTA.{movement.office[:2]}", about, now,
            mrn=movement.mrn, declaration=declaration,
        )
        return self._sent(state, holder, declaration.lrn, movement, "Amendment sent", message, now)

    def present(
        self, state: TraderState, holder: str, lrn: str, location: str, now: datetime
    ) -> Outcome[TraderState]:
        """CC170C: the goods of the pre-lodged declaration `lrn` are at `location` (UN/LOCODE)."""
        movement = _declared(state, holder, lrn)
        state, message = _send(
            state, holder, PresentationNotification, f"NTA.{movement.office[:2]}", lrn, now,
            lrn=lrn, office_of_departure=movement.office, holder=holder, location_of_goods=location,
        )
        return self._sent(state, holder, lrn, movement, "Presentation notification sent", message, now)

    @staticmethod
    def _sent(
        state: TraderState, trader: str, key: str, movement: TraderMovement, status: str, message: CatsMessage,
        now: datetime,
    ) -> Outcome[TraderState]:
        state = _file(state, trader, key, replace(movement, status=status, updated_at=now))
        return Outcome(state, (message,), (Event("status", trader, movement.mrn or key, status),))

    def request_invalidation(
        self, state: TraderState, holder: str, reference: str, justification: str, now: datetime
    ) -> Outcome[TraderState]:
        """CC014C for the holder's movement `reference` (LRN or MRN). Raises UnknownMovement if it has none."""
        movement = _declared(state, holder, reference)
        state, message = _send(
            state,
            holder,
            InvalidationRequest,
            f"NTA.{movement.office[:2]}",
            movement.mrn or reference,
            now,
            lrn=movement.lrn,
            mrn=movement.mrn,
            request_date=now.date(),
            justification=justification,
            office_of_departure=movement.office,
            holder=holder,
        )
        return Outcome(state, (message,))

    def answer_enquiry(
        self,
        state: TraderState,
        holder: str,
        reference: str,
        delivered: tuple[date, str] | None,
        text: str | None,
        now: datetime,
    ) -> Outcome[TraderState]:
        """CC141C answering CC140C: `delivered` is (delivery date, office of destination), None if not delivered.

        Raises UnknownMovement when the holder has no such movement or customs never gave it an MRN.
        """
        movement = _declared(state, holder, reference)
        if movement.mrn is None:
            raise UnknownMovement(f"{holder} has no MRN for movement {reference} to answer an enquiry about")
        delivery_date, office = delivered or (None, None)
        state, message = _send(
            state,
            holder,
            InformationAboutNonArrivedMovement,
            f"NTA.{movement.office[:2]}",
            movement.mrn,
            now,
            mrn=movement.mrn,
            office_of_destination_actual=office,
            office_of_enquiry=movement.office,
            holder=holder,
            delivery_date=delivery_date,
            text=text,
        )
        return Outcome(state, (message,))

    def notify_arrival(
        self, state: TraderState, mrn: str, office: str, trader: str, location: str, now: datetime,
        simplified: bool = False,
    ) -> Outcome[TraderState]:
        """CC007C from the trader at destination to the office where the goods are presented; `simplified`: the
        trader is an authorised consignee, who unloads on the office's permission (CC043C)."""
        state, message = _send(
            state,
            trader,
            ArrivalNotification,
            f"NTA.{office[:2]}",
            mrn,
            now,
            mrn=mrn,
            arrival_notification_date=now,
            office_of_destination_actual=office,
            trader_at_destination=trader,
            location_of_goods=location,
            simplified_procedure=simplified,
        )
        return _arrival_sent(state, message, now)

    def send_unloading_remarks(
        self,
        state: TraderState,
        mrn: str,
        office: str,
        trader: str,
        now: datetime,
        *,
        conform: bool,
        complete: bool,
        seals_ok: bool | None,
        remark: str | None,
    ) -> Outcome[TraderState]:
        """CC044C from the authorised consignee to the office that permitted unloading: what unloading found."""
        state, message = _send(
            state, trader, UnloadingRemarks, f"NTA.{office[:2]}", mrn, now,
            mrn=mrn, office_of_destination_actual=office, trader_at_destination=trader, conform=conform,
            unloading_completion=complete, unloading_date=now.date(), state_of_seals_ok=seals_ok, remark=remark,
        )
        status = "Unloading remarks sent"
        state = _file(state, trader, mrn, TraderMovement(TRADER_AT_DESTINATION, office, None, mrn, status, now))
        return Outcome(state, (message,), (Event("status", trader, mrn, status),))

    def receive(self, state: TraderState, message: CatsMessage, now: datetime) -> Outcome[TraderState]:
        """Record what customs said: the status, and the MRN once CC028C gives it.

        A message for a movement the trader does not know changes nothing and is logged as "unmatched".
        Raises ProtocolError for messages customs never sends to traders (a routing bug).
        """
        if message.code not in TRADER_STATUS:
            raise ProtocolError(f"traders do not receive {message.code}")
        side, status = TRADER_STATUS[message.code]
        trader = message.header.recipient
        mrn = getattr(message, "mrn", None)
        key = self._key(state, trader, side, getattr(message, "lrn", None), mrn)
        if key is None:
            detail = f"{message.code} for a movement {trader} does not know"
            return Outcome(state, (), (Event("unmatched", trader, mrn or getattr(message, "lrn", "") or "", detail),))
        known = state.movements[trader][key]
        updated = replace(known, mrn=known.mrn or mrn, status=status, updated_at=now)
        return Outcome(_file(state, trader, key, updated), (), (Event("status", trader, mrn or key, status),))

    @staticmethod
    def _key(state: TraderState, trader: str, side: str, lrn: str | None, mrn: str | None) -> str | None:
        """The key of the movement on `side` that has the LRN or the MRN the message carries.

        Keys are what the movement was filed under: the LRN for the holder, the MRN at destination.
        """
        movements = state.movements.get(trader, {})
        found = [
            *(select(movements, MOVEMENT_BY_LRN, lrn) if lrn is not None else ()),
            *(select(movements, MOVEMENT_BY_MRN, mrn) if mrn is not None else ()),
        ]
        movement = next((movement for movement in found if movement.side == side), None)
        if movement is None:
            return None
        return movement.lrn if side == HOLDER else movement.mrn
