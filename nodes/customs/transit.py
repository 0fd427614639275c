"""An office of transit: expects a movement (CD050C ATR), records the passage when the goods are presented,
and registers incidents en route, which it notifies to the office of departure (CD180C): the office of
transit acts as the office of incident registration for the movements it knows.

Presenting goods for which no ATR arrived is not a message anyone sent, so there is no one to answer:
`act` raises UnknownMovement (error 90) and the scenario runner reports it. NCTS would ask the office
of departure for the record (CD114C/CD115C); the simulator does not model undeclared offices of transit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from nodes.customs.actions import PresentAtTransit, RecordIncident
from nodes.customs.ledger import CustomsState, TransitRecord
from nodes.customs.model import ATR, Incident, IncidentNotification, NotificationCrossingFrontier
from nodes.customs.step import Effect, Machine, Step, advance, mrn_pointer, nta
from nodes.customs.tables import TRANSIT_TRANSITIONS, TransitState

__all__ = ["EFFECTS", "TRANSIT", "act", "receive"]


def receive(step: Step, state: CustomsState, office: str, message: ATR) -> CustomsState:
    """CD050C: the only message an office of transit receives."""
    return advance(
        step,
        state,
        TRANSIT,
        office=office,
        mrn=message.mrn,
        trigger=message.code,
        cause=message,
        pointer=mrn_pointer(message.code),
    )


def act(step: Step, state: CustomsState, action: PresentAtTransit | RecordIncident) -> CustomsState:
    trigger = "RecordIncident" if isinstance(action, RecordIncident) else "PresentAtTransit"
    return advance(step, state, TRANSIT, office=action.office, mrn=action.mrn, trigger=trigger, cause=action)


def _expect(step: Step, _: None, atr: ATR) -> TransitRecord:
    return TransitRecord(atr.mrn, atr.office_of_transit, TransitState.ATR_RECEIVED, atr.declaration, step.now)


def _pass(step: Step, record: TransitRecord, _: PresentAtTransit) -> TransitRecord:
    """CD118C to the office of departure: the goods crossed here, now."""
    departure = record.declaration.office_of_departure
    step.send(
        NotificationCrossingFrontier,
        to=nta(departure),
        about=record.mrn,
        mrn=record.mrn,
        arrival_date_and_time=step.now,
        office_of_transit_actual=record.office,
        office_of_departure=departure,
    )
    return replace(record, passed_at=step.now)


def _notify_incident(step: Step, record: TransitRecord, action: RecordIncident) -> TransitRecord:
    """CD180C to the office of departure, which forwards it to the holder (CC182C)."""
    departure = record.declaration.office_of_departure
    incident = Incident(1, action.code, action.text, record.office[:2], action.location)
    step.send(
        IncidentNotification,
        to=nta(departure),
        about=record.mrn,
        mrn=record.mrn,
        notified_at=step.now,
        office_of_departure=departure,
        office_of_incident_registration=record.office,
        incidents=(incident,),
    )
    return record


EFFECTS: Mapping[str, Effect] = {"CD050C": _expect, "PresentAtTransit": _pass, "RecordIncident": _notify_incident}

TRANSIT = Machine(TRANSIT_TRANSITIONS, EFFECTS, "transits")
