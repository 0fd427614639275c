"""The office of departure: accepts or rejects a declaration, secures its guarantee, releases, writes off.

The moves are `DEPARTURE_TRANSITIONS` (tables.py); this module says what each move *does* (the
`EFFECTS` table: which messages go out, what the record remembers) and how a message becomes a
trigger. Flow (transit.md §1.5): CC015C → CC928C + CC028C + CD203C per GRN → CD205C → CC029C + CD050C
per office of transit + CD001C → CD118C … → CD006C → CD018C → CC045C + CD204C (or CC019C first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from exchange.errors import UnknownMovement
from nodes.customs.actions import ResolveDiscrepancies
from nodes.customs.config import OFFICE_CODE_LISTS, CustomsConfig
from nodes.customs.ledger import CustomsState, DepartureRecord, file, lookup
from nodes.customs.model import (
    AAR,
    ATR,
    ArrivalAdvice,
    ControlResults,
    Declaration,
    Discrepancies,
    FunctionalError,
    GuaranteeNotValid,
    GuaranteeUse,
    GuaranteeUseCancellation,
    GuaranteeUseResult,
    InvalidationDecision,
    InvalidationRequest,
    InvalidGuaranteeReason,
    MRNAllocated,
    NoRelease,
    NotificationCrossingFrontier,
    PositiveAcknowledge,
    ReleaseForTransit,
    TransitDeclaration,
    WriteOffNotification,
)
from nodes.customs.mrn import allocate_mrn
from nodes.customs.refusals import refuse
from nodes.customs.step import Effect, Machine, Step, advance, fire, mrn_pointer, nta
from nodes.customs.tables import DEPARTURE_TIMERS, DEPARTURE_TRANSITIONS, DepartureState, next_state

__all__ = ["DEPARTURE", "EFFECTS", "GRN_GUARANTEE_TYPES", "NO_RELEASE_GUARANTEE", "act", "declare", "receive", "tick"]

GRN_GUARANTEE_TYPES = frozenset({"0", "1", "2", "4", "9"})
"""CL286 GuaranteeTypeWithGRN: these guarantee types need a GRN and access code (condition C0086)."""

NO_RELEASE_GUARANTEE = "GU"
"""CC051C motivation when the guarantee was not put right in time. CL211's values are not public, so
this code is synthetic."""


@dataclass(frozen=True)
class _Use:
    """One GRN's share of a declaration: what CD203C asks the office of guarantee to reserve."""

    grn: str
    access_code: str
    amount: Decimal
    currency: str


def _uses(declaration: Declaration) -> dict[str, _Use]:
    """The guarantee uses to ask for, one per GRN: references naming the same GRN add up."""
    uses: dict[str, _Use] = {}
    for guarantee in declaration.guarantees:
        for reference in guarantee.references:
            known = uses.get(reference.grn)
            amount = reference.amount_to_be_covered + (known.amount if known else Decimal("0"))
            uses[reference.grn] = _Use(reference.grn, reference.access_code, amount, reference.currency)
    return uses


def _office_of_guarantee(config: CustomsConfig, grn: str) -> str | None:
    """GRN positions 3-4 are the country that issued it; that country's office of guarantee manages it."""
    return config.office_of_guarantee(grn[2:4])


def _errors(config: CustomsConfig, state: CustomsState, declaration: Declaration) -> list[FunctionalError]:
    """What the office of departure itself checks in a CC015C, beyond the rules the codec already ran."""
    errors: list[FunctionalError] = []
    holder = declaration.holder.identification_number
    if declaration.lrn in state.lrns.get(holder, {}):
        errors.append(FunctionalError("/CC015C/TransitOperation/LRN", "14", "BR20006", declaration.lrn))
    if config.office(declaration.office_of_destination, "DES") is None:
        pointer = "/CC015C/CustomsOfficeOfDestinationDeclared/referenceNumber"
        errors.append(FunctionalError(pointer, "12", OFFICE_CODE_LISTS["DES"], declaration.office_of_destination))
    for index, transit in enumerate(declaration.offices_of_transit, start=1):
        if config.office(transit.reference_number, "TRA") is None:
            pointer = f"/CC015C/CustomsOfficeOfTransitDeclared[{index}]/referenceNumber"
            errors.append(FunctionalError(pointer, "12", OFFICE_CODE_LISTS["TRA"], transit.reference_number))
    for index, guarantee in enumerate(declaration.guarantees, start=1):
        if guarantee.guarantee_type in GRN_GUARANTEE_TYPES and not guarantee.references:
            errors.append(FunctionalError(f"/CC015C/Guarantee[{index}]/GuaranteeReference", "13", "C0086"))
        for number, reference in enumerate(guarantee.references, start=1):
            if _office_of_guarantee(config, reference.grn) is None:
                pointer = f"/CC015C/Guarantee[{index}]/GuaranteeReference[{number}]/GRN"
                errors.append(FunctionalError(pointer, "12", "G01", reference.grn))
    return errors


def declare(
    step: Step, state: CustomsState, office: str, message: TransitDeclaration, violations: tuple[FunctionalError, ...]
) -> CustomsState:
    """CC015C: accept (MRN, guarantee uses) or reject (CC056C). Either way the LRN is used up."""
    declaration = message.declaration
    holder = declaration.holder.identification_number
    errors = (*violations, *_errors(step.config, state, declaration))
    fresh = declaration.lrn not in state.lrns.get(holder, {})
    if errors:
        rejected = next_state(DEPARTURE_TRANSITIONS, None, "CC015C rejected", mrn=declaration.lrn, pointer="")
        step.moved(office, declaration.lrn, None, rejected, "CC015C rejected")
        refuse(
            step,
            message,
            office,
            errors,
            f"declaration {declaration.lrn} rejected with {len(errors)} functional error(s)",
        )
        return _register_lrn(state, holder, declaration.lrn, None) if fresh else state
    serial = state.mrn_serial + 1
    mrn = allocate_mrn(step.now.year, office, serial, declaration.security)
    accepted = DepartureRecord(mrn, office, DepartureState.ACCEPTED, declaration, accepted_at=step.now)
    record: DepartureRecord = fire(
        step, DEPARTURE, office=office, mrn=mrn, record=None, trigger="CC015C", cause=accepted
    )
    if not record.awaiting_grns:
        record = fire(step, DEPARTURE, office=office, mrn=mrn, record=record, trigger="guarantees complete", cause=None)
    state = _register_lrn(state, holder, declaration.lrn, mrn)
    return replace(state, mrn_serial=serial, departures=file(state.departures, office, mrn, record))


def _register_lrn(state: CustomsState, holder: str, lrn: str, mrn: str | None) -> CustomsState:
    return replace(state, lrns={**state.lrns, holder: {**state.lrns.get(holder, {}), lrn: mrn}})


def _invalidation_mrn(state: CustomsState, office: str, request: InvalidationRequest) -> str:
    """The MRN a CC014C means (it may name only the LRN); only the holder may invalidate a movement."""
    mrn = request.mrn or state.lrns.get(request.holder, {}).get(request.lrn or "")
    record = lookup(state.departures, office, mrn) if mrn else None
    if mrn is None or (record is not None and record.holder != request.holder):
        pointer = mrn_pointer("CC014C") if request.mrn else "/CC014C/TransitOperation/LRN"
        raise UnknownMovement(
            f"CC014C: no movement {request.mrn or request.lrn} of {request.holder}", path=pointer, rule="90"
        )
    return mrn


def _guarantee_trigger(record: DepartureRecord, result: GuaranteeUseResult) -> str:
    if not result.accepted:
        return "guarantee refused"
    pending = [grn for grn in record.awaiting_grns if grn != result.grn]
    return "guarantee reserved" if pending or record.refusals else "guarantees complete"


_TRIGGERS: Mapping[str, Callable[[DepartureRecord, Any], str]] = {
    "CC014C": lambda record, message: "CC014C",
    "CD205C": _guarantee_trigger,
    "CD118C": lambda record, message: "CD118C",
    "CD006C": lambda record, message: "CD006C",
    "CD018C": lambda record, results: f"CD018C {results.control_result_code}",
}
"""How each message the office of departure receives after CC015C becomes a trigger."""


def receive(step: Step, state: CustomsState, office: str, message: Any) -> CustomsState:
    """Apply one message (other than CC015C) to the movement it names, or raise its functional error."""
    mrn = _invalidation_mrn(state, office, message) if isinstance(message, InvalidationRequest) else message.mrn
    record = lookup(state.departures, office, mrn)
    trigger = message.code if record is None else _TRIGGERS[message.code](record, message)
    return advance(
        step,
        state,
        DEPARTURE,
        office=office,
        mrn=mrn,
        trigger=trigger,
        cause=message,
        pointer=mrn_pointer(message.code),
    )


def act(step: Step, state: CustomsState, action: ResolveDiscrepancies) -> CustomsState:
    return advance(
        step, state, DEPARTURE, office=action.office, mrn=action.mrn, trigger="ResolveDiscrepancies", cause=action
    )


def tick(step: Step, state: CustomsState) -> CustomsState:
    """Fire the timer of every record whose deadline has passed, earliest first."""
    due = sorted(
        (record.deadline, record.mrn, office)
        for office, book in state.departures.items()
        for record in book.values()
        if record.state in DEPARTURE_TIMERS and record.deadline is not None and record.deadline <= step.now
    )
    for _, mrn, office in due:
        record = state.departures[office][mrn]
        state = advance(
            step, state, DEPARTURE, office=office, mrn=mrn, trigger=DEPARTURE_TIMERS[record.state], cause=None
        )
    return state


# ---------------------------------------------------------------------------------------------------------------
# Effects: (step, record, cause) → record. The state itself is set by `fire` from the table.


def _accept(step: Step, _: None, record: DepartureRecord) -> DepartureRecord:
    """CC015C valid: acknowledge, give the MRN, ask each office of guarantee to reserve (cause: the new record)."""
    holder, lrn, mrn = record.holder, record.lrn, record.mrn
    step.send(PositiveAcknowledge, to=holder, about=lrn, lrn=lrn, office_of_departure=record.office, holder=holder)
    step.send(
        MRNAllocated,
        to=holder,
        about=mrn,
        lrn=lrn,
        mrn=mrn,
        acceptance_date=step.now.date(),
        office_of_departure=record.office,
        holder=holder,
    )
    uses = _uses(record.declaration)
    for use in uses.values():
        step.send(
            GuaranteeUse,
            to=nta(use.grn[2:4]),
            about=mrn,
            mrn=mrn,
            grn=use.grn,
            access_code=use.access_code,
            holder=holder,
            amount=use.amount,
            currency=use.currency,
            office_of_departure=record.office,
            office_of_guarantee=_office_of_guarantee(step.config, use.grn),
        )
    return replace(record, awaiting_grns=tuple(uses))


def _reserved(step: Step, record: DepartureRecord, result: GuaranteeUseResult) -> DepartureRecord:
    return replace(
        record,
        awaiting_grns=tuple(grn for grn in record.awaiting_grns if grn != result.grn),
        reserved_grns=tuple(dict.fromkeys((*record.reserved_grns, result.grn))),
    )


def _release(step: Step, record: DepartureRecord, result: GuaranteeUseResult | None) -> DepartureRecord:
    """Every guarantee is in place (`result` is the last CD205C, None without GRNs): release for transit."""
    record = record if result is None else _reserved(step, record, result)
    declaration, mrn, today = record.declaration, record.mrn, step.now.date()
    step.send(ReleaseForTransit, to=record.holder, about=mrn, mrn=mrn, release_date=today, declaration=declaration)
    for transit in declaration.offices_of_transit:
        step.send(
            ATR,
            to=nta(transit.reference_number),
            about=mrn,
            mrn=mrn,
            release_date=today,
            office_of_transit=transit.reference_number,
            declaration=declaration,
        )
    step.send(
        AAR, to=nta(declaration.office_of_destination), about=mrn, mrn=mrn, release_date=today, declaration=declaration
    )
    return replace(record, released_at=step.now)


def _guarantee_refused(step: Step, record: DepartureRecord, result: GuaranteeUseResult) -> DepartureRecord:
    """CC055C; the amendment period starts at the first refusal and is not extended by later ones."""
    reason = InvalidGuaranteeReason(result.grn, result.reason_code or "", result.reason_text or "")
    step.send(
        GuaranteeNotValid,
        to=record.holder,
        about=record.mrn,
        mrn=record.mrn,
        guarantee_not_valid_date=step.now.date(),
        reasons=(reason,),
        office_of_departure=record.office,
        holder=record.holder,
    )
    return replace(
        record,
        awaiting_grns=tuple(grn for grn in record.awaiting_grns if grn != result.grn),
        refusals=(*record.refusals, reason),
        deadline=record.deadline or step.now + step.config.amendment_period,
    )


def _give_back_guarantees(step: Step, record: DepartureRecord) -> DepartureRecord:
    """CD204C for every GRN the movement holds or may still hold (a CD205C can be on its way)."""
    for grn in (*record.reserved_grns, *record.awaiting_grns):
        step.send(
            GuaranteeUseCancellation,
            to=nta(grn[2:4]),
            about=record.mrn,
            mrn=record.mrn,
            grn=grn,
            office_of_departure=record.office,
            office_of_guarantee=_office_of_guarantee(step.config, grn),
        )
    return replace(record, reserved_grns=(), awaiting_grns=(), deadline=None)


def _cancel(step: Step, record: DepartureRecord, request: InvalidationRequest) -> DepartureRecord:
    step.send(
        InvalidationDecision,
        to=record.holder,
        about=record.mrn,
        lrn=record.lrn,
        mrn=record.mrn,
        decision=True,
        decision_date=step.now.date(),
        initiated_by_customs=False,
        justification=request.justification,
        office_of_departure=record.office,
        holder=record.holder,
    )
    return _give_back_guarantees(step, record)


def _no_release(step: Step, record: DepartureRecord, _: None) -> DepartureRecord:
    refused = ", ".join(f"{reason.grn} {reason.code}" for reason in record.refusals)
    step.send(
        NoRelease,
        to=record.holder,
        about=record.mrn,
        mrn=record.mrn,
        decision_date=step.now.date(),
        motivation_code=NO_RELEASE_GUARANTEE,
        motivation_text=f"Guarantee not amended within {step.config.amendment_period} ({refused})",
        office_of_departure=record.office,
        holder=record.holder,
    )
    return _give_back_guarantees(step, record)


def _record_passage(step: Step, record: DepartureRecord, notification: NotificationCrossingFrontier) -> DepartureRecord:
    passed = tuple(dict.fromkeys((*record.passed_offices, notification.office_of_transit_actual)))
    return replace(record, passed_offices=passed)


def _record_arrival(step: Step, record: DepartureRecord, advice: ArrivalAdvice) -> DepartureRecord:
    return replace(record, arrival_date=advice.arrival_date)


def _write_off(step: Step, record: DepartureRecord, _: object) -> DepartureRecord:
    """CC045C naming the GRNs freed, then CD204C for each: after CD018C A1 or resolved discrepancies."""
    step.send(
        WriteOffNotification,
        to=record.holder,
        about=record.mrn,
        mrn=record.mrn,
        write_off_date=step.now.date(),
        office_of_departure=record.office,
        holder=record.holder,
        released_grns=record.reserved_grns,
    )
    return _give_back_guarantees(step, record)


def _notify_discrepancies(step: Step, record: DepartureRecord, results: ControlResults) -> DepartureRecord:
    text = results.discrepancies or "Control results not satisfactory"
    step.send(
        Discrepancies,
        to=record.holder,
        about=record.mrn,
        mrn=record.mrn,
        discrepancies_notification_date=step.now.date(),
        discrepancies=text,
        office_of_departure=record.office,
        holder=record.holder,
    )
    return replace(record, discrepancies=text)


EFFECTS: Mapping[str, Effect] = {
    "CC015C": _accept,
    "guarantee reserved": _reserved,
    "guarantees complete": _release,
    "guarantee refused": _guarantee_refused,
    "CC014C": _cancel,
    "amendment period expired": _no_release,
    "CD118C": _record_passage,
    "CD006C": _record_arrival,
    "CD018C A1": _write_off,
    "CD018C A2": _write_off,
    "CD018C B1": _notify_discrepancies,
    "ResolveDiscrepancies": _write_off,
}
"""What each trigger of DEPARTURE_TRANSITIONS does besides moving the state."""

DEPARTURE = Machine(DEPARTURE_TRANSITIONS, EFFECTS, "departures")
