"""The office of destination: expects a movement (CD001C AAR), takes the arrival, controls and releases.

Normal procedure (transit.md §1.6): AAR → CC007C → CD006C to departure → control → CC025C to the trader at
destination and CD018C to departure. The control outcome decides both codes at once.
Simplified procedure (an authorised consignee, CC007C simplifiedProcedure 1): AAR → CC007C → CD006C and
CC043C unloading permission → the consignee unloads and sends CC044C unloading remarks → CC025C and CD018C,
the remarks standing for the office's control (conform and seals intact: A1, else B1). Remarks that say
unloading is not complete are recorded and the permission stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nodes.customs.actions import RecordControl
from nodes.customs.ledger import CustomsState, DestinationRecord
from nodes.customs.model import (
    AAR,
    ArrivalAdvice,
    ArrivalNotification,
    ControlResults,
    GoodsRelease,
    UnloadingPermission,
    UnloadingRemarks,
)
from nodes.customs.step import Effect, Machine, Step, advance, mrn_pointer, nta
from nodes.customs.tables import DESTINATION_TRANSITIONS, DestinationState

__all__ = ["CONTROL_CODES", "DESTINATION", "EFFECTS", "act", "receive"]

CONTROL_CODES: Mapping[bool, tuple[str, str]] = {True: ("1", "A1"), False: ("2", "B1")}
"""Control satisfactory? → (CC025C release type, CD018C control result code)."""


def _trigger(message: AAR | ArrivalNotification | UnloadingRemarks) -> str:
    if isinstance(message, ArrivalNotification) and message.simplified_procedure:
        return "CC007C simplified"
    if isinstance(message, UnloadingRemarks) and not message.unloading_completion:
        return "CC044C unloading not complete"
    return message.code


def receive(
    step: Step, state: CustomsState, office: str, message: AAR | ArrivalNotification | UnloadingRemarks
) -> CustomsState:
    """CD001C from departure, CC007C or CC044C from the trader at destination."""
    return advance(
        step,
        state,
        DESTINATION,
        office=office,
        mrn=message.mrn,
        trigger=_trigger(message),
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


def _permit_unloading(step: Step, record: DestinationRecord, notification: ArrivalNotification) -> DestinationRecord:
    """CD006C as for any arrival, and CC043C: the authorised consignee may unload."""
    record = _arrive(step, record, notification)
    declaration = record.declaration
    step.send(
        UnloadingPermission,
        to=record.trader_at_destination,
        about=record.mrn,
        mrn=record.mrn,
        declaration_type=declaration.declaration_type,
        acceptance_date=None,
        security=declaration.security,
        reduced_dataset_indicator=declaration.reduced_dataset_indicator,
        office_of_destination_actual=record.office,
        trader_at_destination=record.trader_at_destination,
    )
    return record


def _unloaded(step: Step, record: DestinationRecord, remarks: UnloadingRemarks) -> DestinationRecord:
    """The consignee's remarks stand for the control: seals not intact or goods not conform is B1."""
    seals_ok = remarks.state_of_seals_ok is not False
    found = remarks.remark or (None if remarks.conform else "Goods not conform to the declaration")
    return _release_goods(step, record, seals_ok, found)


def _unloading_pending(step: Step, record: DestinationRecord, remarks: UnloadingRemarks) -> DestinationRecord:
    step.note("unloading", record.office, record.mrn, f"unloading not complete: {remarks.remark or 'no remark'}")
    return record


def _release(step: Step, record: DestinationRecord, control: RecordControl) -> DestinationRecord:
    return _release_goods(step, record, control.seals_ok, control.discrepancies)


def _release_goods(
    step: Step, record: DestinationRecord, seals_ok: bool, discrepancies: str | None
) -> DestinationRecord:
    """CC025C to the trader, CD018C to departure: A1 if the seals are intact and nothing is amiss, else B1."""
    satisfactory = seals_ok and not discrepancies
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
        state_of_seals_ok=seals_ok,
        discrepancies=discrepancies or (None if satisfactory else "Seals not intact"),
        office_of_destination_actual=record.office,
        office_of_departure=departure,
    )
    return replace(record, control_result=result)


EFFECTS: Mapping[str, Effect] = {
    "CD001C": _expect,
    "CC007C": _arrive,
    "RecordControl": _release,
    "CC007C simplified": _permit_unloading,
    "CC044C": _unloaded,
    "CC044C unloading not complete": _unloading_pending,
}

DESTINATION = Machine(DESTINATION_TRANSITIONS, EFFECTS, "destinations")
