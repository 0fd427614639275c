"""The office of departure: accepts or rejects a declaration, secures its guarantee, releases, writes off.

The moves are `DEPARTURE_TRANSITIONS` (tables.py); this module says what each move *does* (the
`EFFECTS` table: which messages go out, what the record remembers) and how a message becomes a
trigger. Flow (transit.md §1.5): CC015C → CC928C + CC028C + CD203C per GRN → CD205C → CC029C + CD050C
per office of transit + CD001C → CD118C … → CD006C → CD018C → CC045C + CD204C (or CC019C first).
Release sets the time limit (limitDate); without CD006C by then, CC140C opens an enquiry (§1.6), which
a late CD006C ends and a holder's "not delivered" (CC141C) turns into recovery (CC035C).

Around that line (§1.6):
1. a pre-lodged declaration (additionalDeclarationType D) waits for its goods (CC170C) before it is accepted:
   prelodgement.py;
2. before release the holder may amend (CC013C → CC004C, or CC056C): amendment.py; what accepting a
   declaration does (reference-data checks, CC928C, CC028C, guarantee uses) is shared: acceptance.py;
3. a movement the office decided to control (its plan: `CustomsConfig.controls`) is not released when its
   guarantees are in place: CC060C tells the holder, and the officer's results release it or refuse (CC051C);
4. an incident registered en route (CD180C) is forwarded to the holder (CC182C).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from exchange.errors import UnknownMovement
from nodes.customs.acceptance import acknowledge, allocate, give_back_guarantees, guarantee_uses, reference_errors
from nodes.customs.actions import RecordDepartureControl, ResolveDiscrepancies
from nodes.customs.amendment import amend, refuse_amendment
from nodes.customs.config import CustomsConfig
from nodes.customs.ledger import CustomsState, DepartureRecord, file, lookup
from nodes.customs.model import (
    AAR,
    ATR,
    ArrivalAdvice,
    ControlDecisionNotification,
    ControlResults,
    Declaration,
    DeclarationAmendment,
    Discrepancies,
    ForwardedIncidentNotification,
    FunctionalError,
    GuaranteeNotValid,
    GuaranteeUseResult,
    IncidentNotification,
    InformationAboutNonArrivedMovement,
    InvalidationDecision,
    InvalidationRequest,
    InvalidGuaranteeReason,
    NoRelease,
    NotificationCrossingFrontier,
    PresentationNotification,
    RecoveryNotification,
    ReleaseForTransit,
    RequestOnNonArrivedMovement,
    TransitDeclaration,
    WriteOffNotification,
)
from nodes.customs.mrn import allocate_mrn
from nodes.customs.prelodgement import PRE_LODGED, not_presented, pre_lodge, present
from nodes.customs.refusals import refuse
from nodes.customs.step import Effect, Machine, Step, advance, fire, mrn_pointer, nta
from nodes.customs.tables import DEPARTURE_TIMERS, DEPARTURE_TRANSITIONS, DepartureState, next_state
from nodes.records import at_hand

__all__ = [
    "CONTROL_DECISION",
    "DEPARTURE",
    "EFFECTS",
    "NO_RELEASE_CONTROL",
    "NO_RELEASE_GUARANTEE",
    "act",
    "declare",
    "receive",
    "tick",
]

NO_RELEASE_GUARANTEE = "GU"
"""CC051C noReleaseMotivationCode (CL211, an2) when the guarantee was not put right in time. CL211 is a CS/RD2
list of 12 codes (G2 is "Cash guarantee not provided") whose values for this case no source at hand gives, so
the code is caravan's own; docs/CATALOGUE.md lists it as an assumption."""

NO_RELEASE_CONTROL = "CT"
"""CC051C noReleaseMotivationCode when the control at departure was not satisfactory (caravan's own, as above)."""

CONTROL_DECISION = "0"
"""CC060C notificationType (CL384): decision to control (2, intention to control, is for AEO pre-lodgement)."""


def _errors(config: CustomsConfig, state: CustomsState, declaration: Declaration) -> list[FunctionalError]:
    """What the office of departure itself checks in a CC015C, beyond the rules the codec already ran."""
    errors: list[FunctionalError] = []
    holder = declaration.holder.identification_number
    if declaration.lrn in state.lrns.get(holder, {}):
        errors.append(FunctionalError("/CC015C/TransitOperation/LRN", "14", "BR20006", declaration.lrn))
    return errors + reference_errors(config, declaration, "CC015C")


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
    pre_lodged = declaration.additional_declaration_type == PRE_LODGED
    to_control = (holder, declaration.lrn) in step.config.controls
    lodged = DepartureRecord(mrn, office, DepartureState.ACCEPTED, declaration, step.now, to_control=to_control)
    trigger = "CC015C pre-lodged" if pre_lodged else "CC015C"
    record: DepartureRecord = fire(step, DEPARTURE, office=office, mrn=mrn, record=None, trigger=trigger, cause=lodged)
    record = _settle(step, office, record)
    state = _register_lrn(state, holder, declaration.lrn, mrn)
    return replace(state, mrn_serial=serial, departures=file(state.departures, office, mrn, record))


def _release_trigger(record: DepartureRecord) -> str:
    """What the last guarantee in place does: release, or, for a movement the office controls, CC060C."""
    return "guarantees complete, control" if record.to_control else "guarantees complete"


def _settle(step: Step, office: str, record: DepartureRecord) -> DepartureRecord:
    """An accepted movement with every guarantee use answered and none refused goes on to release at once:
    after acceptance with no GRN to reserve, or after an amendment that changed no guarantee."""
    if record.state is DepartureState.ACCEPTED and not record.awaiting_grns and not record.refusals:
        trigger = _release_trigger(record)
        return fire(step, DEPARTURE, office=office, mrn=record.mrn, record=record, trigger=trigger, cause=None)
    return record


def _register_lrn(state: CustomsState, holder: str, lrn: str, mrn: str | None) -> CustomsState:
    return replace(state, lrns=file(state.lrns, holder, lrn, mrn))


HolderMessage = (
    InvalidationRequest | InformationAboutNonArrivedMovement | DeclarationAmendment | PresentationNotification
)
"""What a holder sends about a movement it declared: only that holder may, so the MRN is checked against it."""


def _holder_mrn(state: CustomsState, office: str, message: HolderMessage) -> str:
    """The MRN a holder's message means (a CC014C may name only the LRN); only the holder may speak for it."""
    lrn, named = getattr(message, "lrn", None), getattr(message, "mrn", None)
    mrn = named or state.lrns.get(message.holder, {}).get(lrn or "")
    record = lookup(state.departures, office, mrn) if mrn else None
    if mrn is None or (record is not None and record.holder != message.holder):
        pointer = mrn_pointer(message.code) if named else f"/{message.code}/TransitOperation/LRN"
        text = f"{message.code}: no movement {named or lrn} of {message.holder}"
        raise UnknownMovement(text, path=pointer, rule="90")
    return mrn


def _guarantee_trigger(record: DepartureRecord, result: GuaranteeUseResult) -> str:
    if not result.accepted:
        return "guarantee refused"
    pending = [grn for grn in record.awaiting_grns if grn != result.grn]
    return "guarantee reserved" if pending or record.refusals else _release_trigger(record)


_TRIGGERS: Mapping[str, Callable[[DepartureRecord, Any], str]] = {
    "CC014C": lambda record, message: "CC014C",
    "CC013C": lambda record, message: "CC013C",
    "CC170C": lambda record, message: "CC170C",
    "CD180C": lambda record, message: "CD180C",
    "CD205C": _guarantee_trigger,
    "CD118C": lambda record, message: "CD118C",
    "CD006C": lambda record, message: "CD006C",
    "CD018C": lambda record, results: f"CD018C {results.control_result_code}",
    "CC141C": lambda record, answer: "CC141C delivered" if answer.delivered else "CC141C not delivered",
}
"""How each message the office of departure receives after CC015C becomes a trigger."""


def receive(step: Step, state: CustomsState, office: str, message: Any) -> CustomsState:
    """Apply one message (other than CC015C) to the movement it names, or raise its functional error.

    An amendment whose data the reference data refuses is answered with CC056C and changes nothing.
    """
    mrn = _holder_mrn(state, office, message) if isinstance(message, HolderMessage) else message.mrn
    if isinstance(message, DeclarationAmendment) and refuse_amendment(step, office, mrn, message):
        return state
    record = lookup(state.departures, office, mrn)
    trigger = message.code if record is None else _TRIGGERS[message.code](record, message)
    state = advance(
        step,
        state,
        DEPARTURE,
        office=office,
        mrn=mrn,
        trigger=trigger,
        cause=message,
        pointer=mrn_pointer(message.code),
    )
    moved = lookup(state.departures, office, mrn)
    assert moved is not None  # advance filed it
    return replace(state, departures=file(state.departures, office, mrn, _settle(step, office, moved)))


def act(step: Step, state: CustomsState, action: ResolveDiscrepancies | RecordDepartureControl) -> CustomsState:
    if isinstance(action, RecordDepartureControl):
        trigger = f"RecordDepartureControl {'satisfactory' if action.satisfactory else 'not satisfactory'}"
    else:
        trigger = "ResolveDiscrepancies"
    return advance(step, state, DEPARTURE, office=action.office, mrn=action.mrn, trigger=trigger, cause=action)


def tick(step: Step, state: CustomsState) -> CustomsState:
    """Fire the timer of every record at hand whose deadline has passed, earliest first.

    A whole state has every record at hand; a node gives a clock move only the records whose timer is due.
    """
    due = sorted(
        (
            record
            for record in at_hand(state.departures, shelved=True)
            if record.state in DEPARTURE_TIMERS and record.deadline is not None and record.deadline <= step.now
        ),
        key=lambda record: (record.deadline, record.mrn, record.office),
    )
    for record in due:
        state = advance(
            step, state, DEPARTURE, office=record.office, mrn=record.mrn, trigger=DEPARTURE_TIMERS[record.state],
            cause=None,
        )
    return state


# ---------------------------------------------------------------------------------------------------------------
# Effects: (step, record, cause) → record. The state itself is set by `fire` from the table.


def _tell_holder(step: Step, record: DepartureRecord, kind: Callable[..., Any], **fields: Any) -> None:
    """Send `kind` to the holder about the movement: every such message names the MRN, the office of
    departure and the holder the same way, so only what is particular to it is given here."""
    step.send(
        kind,
        to=record.holder,
        about=record.mrn,
        mrn=record.mrn,
        office_of_departure=record.office,
        holder=record.holder,
        **fields,
    )


def _accept(step: Step, _: None, record: DepartureRecord) -> DepartureRecord:
    """CC015C valid: acknowledge, give the MRN, ask each office of guarantee to reserve (cause: the new record)."""
    return allocate(step, acknowledge(step, None, record))


def _decide_control(step: Step, record: DepartureRecord, result: GuaranteeUseResult | None) -> DepartureRecord:
    """Every guarantee is in place, but the office controls the goods before it releases them: CC060C."""
    record = record if result is None else _reserved(step, record, result)
    _tell_holder(
        step,
        record,
        ControlDecisionNotification,
        lrn=record.lrn,
        notified_at=step.now,
        notification_type=CONTROL_DECISION,
    )
    return record


def _controlled(step: Step, record: DepartureRecord, control: RecordDepartureControl) -> DepartureRecord:
    return _release(step, replace(record, control_text=control.text), None)


def _control_failed(step: Step, record: DepartureRecord, control: RecordDepartureControl) -> DepartureRecord:
    """CC051C: the control at departure was not satisfactory; the reserved guarantees are given back."""
    _tell_holder(
        step,
        record,
        NoRelease,
        decision_date=step.now.date(),
        motivation_code=NO_RELEASE_CONTROL,
        motivation_text=control.text or "Control at departure not satisfactory",
    )
    return give_back_guarantees(step, replace(record, control_text=control.text))


def _forward_incident(step: Step, record: DepartureRecord, notification: IncidentNotification) -> DepartureRecord:
    """CC182C: the holder learns of the incident the office of incident registration notified (P5's CC182C
    names no holder: it goes to the holder all the same)."""
    step.send(
        ForwardedIncidentNotification,
        to=record.holder,
        about=record.mrn,
        mrn=record.mrn,
        office_of_departure=record.office,
        notified_at=notification.notified_at,
        office_of_incident_registration=notification.office_of_incident_registration,
        incidents=notification.incidents,
    )
    offices = (*record.incidents, notification.office_of_incident_registration)
    return replace(record, incidents=offices)


def _reserved(step: Step, record: DepartureRecord, result: GuaranteeUseResult) -> DepartureRecord:
    return replace(
        record,
        awaiting_grns=tuple(grn for grn in record.awaiting_grns if grn != result.grn),
        reserved_grns=tuple(dict.fromkeys((*record.reserved_grns, result.grn))),
    )


def _expiry(limit: date) -> datetime:
    """When a time limit has passed: limitDate is a date, so goods presented on that day are in time."""
    return datetime.combine(limit + timedelta(days=1), time(), tzinfo=timezone.utc)


def _release(step: Step, record: DepartureRecord, result: GuaranteeUseResult | None) -> DepartureRecord:
    """Every guarantee is in place (`result` is the last CD205C, None without GRNs): release for transit.

    The time limit is set now and travels as limitDate in CC029C, CD050C and CD001C; its expiry is the
    record's deadline, the timer of the Released state.
    """
    record = record if result is None else _reserved(step, record, result)
    mrn, today = record.mrn, step.now.date()
    limit = step.config.limit_date(record.holder, record.lrn, step.now)
    declaration = replace(record.declaration, limit_date=limit)
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
    return replace(record, declaration=declaration, released_at=step.now, deadline=_expiry(limit))


def _guarantee_refused(step: Step, record: DepartureRecord, result: GuaranteeUseResult) -> DepartureRecord:
    """CC055C; the amendment period starts at the first refusal and is not extended by later ones."""
    reason = InvalidGuaranteeReason(result.grn, result.reason_code or "", result.reason_text or "")
    _tell_holder(step, record, GuaranteeNotValid, guarantee_not_valid_date=step.now.date(), reasons=(reason,))
    return replace(
        record,
        awaiting_grns=tuple(grn for grn in record.awaiting_grns if grn != result.grn),
        refusals=(*record.refusals, reason),
        deadline=record.deadline or step.now + step.config.amendment_period,
    )


def _cancel(step: Step, record: DepartureRecord, request: InvalidationRequest) -> DepartureRecord:
    _tell_holder(
        step,
        record,
        InvalidationDecision,
        lrn=record.lrn,
        decision=True,
        decision_date=step.now.date(),
        initiated_by_customs=False,
        justification=request.justification,
    )
    return give_back_guarantees(step, record)


def _no_release(step: Step, record: DepartureRecord, _: None) -> DepartureRecord:
    refused = ", ".join(f"{reason.grn} {reason.code}" for reason in record.refusals)
    _tell_holder(
        step,
        record,
        NoRelease,
        decision_date=step.now.date(),
        motivation_code=NO_RELEASE_GUARANTEE,
        motivation_text=f"Guarantee not amended within {step.config.amendment_period} ({refused})",
    )
    return give_back_guarantees(step, record)


def _record_passage(step: Step, record: DepartureRecord, notification: NotificationCrossingFrontier) -> DepartureRecord:
    passed = tuple(dict.fromkeys((*record.passed_offices, notification.office_of_transit_actual)))
    return replace(record, passed_offices=passed)


def _record_arrival(step: Step, record: DepartureRecord, advice: ArrivalAdvice) -> DepartureRecord:
    """The goods are at destination: the time limit no longer runs, and an enquiry, if any, is over."""
    return replace(record, arrival_date=advice.arrival_date, deadline=None)


def _start_enquiry(step: Step, record: DepartureRecord, _: None) -> DepartureRecord:
    """CC140C: the time limit passed with no arrival advice; the holder is asked where the goods are."""
    today = step.now.date()
    _tell_holder(
        step,
        record,
        RequestOnNonArrivedMovement,
        request_date=today,
        limit_for_response_date=today + step.config.enquiry_response_period,
        office_of_enquiry=record.office,
    )
    return replace(record, deadline=None)


def _record_answer(step: Step, record: DepartureRecord, answer: InformationAboutNonArrivedMovement) -> DepartureRecord:
    return replace(record, enquiry_answer=answer.statement)


def _claim(declaration: Declaration) -> tuple[Decimal | None, str | None]:
    """What recovery claims: the amount the guarantee references cover, the simulator keeping no tariff.

    Nothing when no reference states an amount (a waiver) or when they state it in several currencies.
    """
    uses = guarantee_uses(declaration).values()
    currencies = {use.currency for use in uses}
    if len(currencies) != 1:
        return None, None
    return sum((use.amount for use in uses), Decimal("0")), currencies.pop()


def _recover(step: Step, record: DepartureRecord, answer: InformationAboutNonArrivedMovement) -> DepartureRecord:
    """CC035C: the holder says the goods never arrived. The guarantee stays reserved for the debt (no CD204C)."""
    declaration = record.declaration
    amount, currency = _claim(declaration)
    reason = f"Goods not presented at {declaration.office_of_destination} by {declaration.limit_date}"
    _tell_holder(
        step,
        record,
        RecoveryNotification,
        acceptance_date=record.accepted_at.date(),
        notification_date=step.now.date(),
        text=f"{reason}; holder: {answer.statement}"[:512],
        amount_claimed=amount,
        currency=currency,
        office_of_recovery=record.office,
    )
    return _record_answer(step, record, answer)


def _write_off(step: Step, record: DepartureRecord, _: object) -> DepartureRecord:
    """CC045C naming the GRNs freed, then CD204C for each: after CD018C A1 or resolved discrepancies."""
    _tell_holder(
        step, record, WriteOffNotification, write_off_date=step.now.date(), released_grns=record.reserved_grns
    )
    return give_back_guarantees(step, record)


def _notify_discrepancies(step: Step, record: DepartureRecord, results: ControlResults) -> DepartureRecord:
    text = results.discrepancies or "Control results not satisfactory"
    _tell_holder(step, record, Discrepancies, discrepancies_notification_date=step.now.date(), discrepancies=text)
    return replace(record, discrepancies=text)


EFFECTS: Mapping[str, Effect] = {
    "CC015C": _accept,
    "CC015C pre-lodged": pre_lodge,
    "presentation period expired": not_presented,
    "CC170C": present,
    "CC013C": amend,
    "guarantee reserved": _reserved,
    "guarantees complete": _release,
    "guarantees complete, control": _decide_control,
    "RecordDepartureControl satisfactory": _controlled,
    "RecordDepartureControl not satisfactory": _control_failed,
    "CD180C": _forward_incident,
    "guarantee refused": _guarantee_refused,
    "CC014C": _cancel,
    "amendment period expired": _no_release,
    "CD118C": _record_passage,
    "CD006C": _record_arrival,
    "time limit expired": _start_enquiry,
    "CC141C delivered": _record_answer,
    "CC141C not delivered": _recover,
    "CD018C A1": _write_off,
    "CD018C A2": _write_off,
    "CD018C B1": _notify_discrepancies,
    "ResolveDiscrepancies": _write_off,
}
"""What each trigger of DEPARTURE_TRANSITIONS does besides moving the state."""

DEPARTURE = Machine(DEPARTURE_TRANSITIONS, EFFECTS, "departures")
