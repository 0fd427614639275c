"""The office of destination: expects a movement (CD001C AAR), takes the arrival, controls and releases.

Normal procedure only (transit.md §1.6): AAR → CC007C → CD006C to departure → control → CC025C to the
trader at destination and CD018C to departure. The control outcome decides both codes at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nodes.customs.actions import RecordControl
from nodes.customs.ledger import CustomsState, DestinationRecord
from nodes.customs.model import AAR, ArrivalAdvice, ArrivalNotification, ControlResults, GoodsRelease
from nodes.customs.step import Effect, Machine, Step, advance, mrn_pointer, nta
from nodes.customs.tables import DESTINATION_TRANSITIONS, DestinationState

__all__ = ["CONTROL_CODES", "DESTINATION", "EFFECTS", "act", "receive"]

CONTROL_CODES: Mapping[bool, tuple[str, str]] = {True: ("1", "A1"), False: ("2", "B1")}
"""Control satisfactory? → (CC025C release type, CD018C control result code)."""


def receive(step: Step, state: CustomsState, office: str, message: AAR | ArrivalNotification) -> CustomsState:
    """CD001C from departure or CC007C from the trader at destination."""
    return advance(
        step,
        state,
        DESTINATION,
        office=office,
        mrn=message.mrn,
        trigger=message.code,
        cause=message,
        pointer=mrn_pointer(message.code),
    )


def act(step: Step, state: CustomsState, action: RecordControl) -> CustomsState:
    return advance(
        step, state, DESTINATION, office=action.office, mrn=action.mrn, trigger="RecordControl", cause=action
    )


def _expect(step: Step, _: None, aar: AAR) -> DestinationRecord:
    office = aar.declaration.office_of_destination
    return DestinationRecord(aar.mrn, office, DestinationState.AAR_RECEIVED, aar.declaration, step.now)


def _arrive(step: Step, record: DestinationRecord, notification: ArrivalNotification) -> DestinationRecord:
    """CD006C to the office of departure: the goods are here."""
    departure = record.declaration.office_of_departure
    step.send(
        ArrivalAdvice,
        to=nta(departure),
        about=record.mrn,
        mrn=record.mrn,
        arrival_date=step.now.date(),
        office_of_destination_actual=record.office,
        office_of_departure=departure,
    )
    return replace(record, arrived_at=step.now, trader_at_destination=notification.trader_at_destination)


def _release(step: Step, record: DestinationRecord, control: RecordControl) -> DestinationRecord:
    """CC025C to the trader, CD018C to departure: A1 if the seals are intact and nothing is amiss, else B1."""
    satisfactory = control.seals_ok and not control.discrepancies
    release_type, result = CONTROL_CODES[satisfactory]
    trader = record.trader_at_destination
    departure = record.declaration.office_of_departure
    step.send(
        GoodsRelease,
        to=trader,
        about=record.mrn,
        mrn=record.mrn,
        release_date=step.now.date(),
        release_type=release_type,
        office_of_destination_actual=record.office,
        trader_at_destination=trader,
    )
    step.send(
        ControlResults,
        to=nta(departure),
        about=record.mrn,
        mrn=record.mrn,
        control_date=step.now.date(),
        control_result_code=result,
        state_of_seals_ok=control.seals_ok,
        discrepancies=control.discrepancies or (None if satisfactory else "Seals not intact"),
        office_of_destination_actual=record.office,
        office_of_departure=departure,
    )
    return replace(record, control_result=result)


EFFECTS: Mapping[str, Effect] = {"CD001C": _expect, "CC007C": _arrive, "RecordControl": _release}

DESTINATION = Machine(DESTINATION_TRANSITIONS, EFFECTS, "destinations")
