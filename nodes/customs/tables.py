"""The customs offices' protocol as data: states, transition tables, timers and message routes.

Rule (after h11's `_state.py`): every state an office of departure, transit or destination can be in,
and every move between them, is written here and nowhere else. Each office keeps one record per MRN;
an incoming message, an officer's action or a deadline becomes a *trigger*, and a trigger may only
move a record if `(state, trigger)` is a key of the table; `None` stands for "no record yet". Anything
else is never applied: a record that does not exist gives functional error 90 (unknown MRN), one in
the wrong state gives 92 (message out of sequence), as NCTS does (transit.md §1.6, §1.10). A script
can print these tables to draw the diagrams in the docs.

Triggers are message codes where the message alone decides, and short phrases where its content
does ("guarantee refused" is a CD205C that refuses; "CD018C B1" is control results with
discrepancies).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from exchange.errors import OutOfSequence, ProtocolError, UnknownMovement
from nodes.customs.mrn import is_valid_mrn

__all__ = [
    "DEPARTURE_TIMERS",
    "DEPARTURE_TRANSITIONS",
    "DESTINATION_TRANSITIONS",
    "RECEIVE_ROUTES",
    "TRANSIT_TRANSITIONS",
    "DepartureState",
    "DestinationState",
    "Route",
    "TransitState",
    "next_state",
    "require_valid_mrn",
]


class DepartureState(Enum):
    """A movement at its office of departure (transit.md §1.6; names as in the scenario expectations)."""

    PRE_LODGED = "PreLodged"  # CC015C with additionalDeclarationType D: CC928C sent, the goods are not presented yet
    ACCEPTED = "Accepted"  # CC028C sent, guarantee reservations asked for (CD203C)
    UNDER_CONTROL = "UnderControl"  # CC060C sent: the office controls the goods before it releases them
    REJECTED = "Rejected"  # CC056C sent; no MRN given, the LRN is used up
    GUARANTEE_UNDER_AMENDMENT = "GuaranteeUnderAmendment"  # CC055C sent, the amendment period runs
    RELEASED = "Released"  # CC029C, CD050C and CD001C sent
    NOT_RELEASED = "NotReleased"  # CC051C sent; ends
    CANCELLED = "Cancelled"  # CC009C sent; ends
    ARRIVED = "Arrived"  # CD006C received
    UNDER_ENQUIRY = "UnderEnquiry"  # time limit passed with no CD006C: CC140C sent, the holder is asked
    UNDER_RECOVERY = "UnderRecovery"  # the holder says the goods were not delivered: CC035C, guarantee kept
    DISCREPANCIES_PENDING = "DiscrepanciesPending"  # CC019C sent, waiting for the discrepancies to be solved
    WRITTEN_OFF = "WrittenOff"  # CC045C sent, guarantee freed; ends


class TransitState(Enum):
    """A movement at one declared office of transit."""

    ATR_RECEIVED = "ATRReceived"
    PASSED = "Passed"


class DestinationState(Enum):
    """A movement at its office of destination: normal procedure (Arrived, then control), or simplified, at an
    authorised consignee (UnloadingPermitted, then the consignee's unloading remarks)."""

    AAR_RECEIVED = "AARReceived"
    ARRIVED = "Arrived"
    UNLOADING_PERMITTED = "UnloadingPermitted"  # CC043C sent to the authorised consignee
    GOODS_RELEASED = "GoodsReleased"


_D = DepartureState

DEPARTURE_TRANSITIONS: Mapping[tuple[DepartureState | None, str], DepartureState] = {
    (None, "CC015C"): _D.ACCEPTED,
    (None, "CC015C rejected"): _D.REJECTED,
    (None, "CC015C pre-lodged"): _D.PRE_LODGED,
    # Pre-lodged: amended or cancelled while the goods are not there; presenting them (CC170C) is acceptance.
    (_D.PRE_LODGED, "CC013C"): _D.PRE_LODGED,
    (_D.PRE_LODGED, "CC014C"): _D.CANCELLED,
    (_D.PRE_LODGED, "CC170C"): _D.ACCEPTED,
    (_D.PRE_LODGED, "presentation period expired"): _D.REJECTED,  # CC056C; the LRN stays used up
    (_D.ACCEPTED, "guarantee reserved"): _D.ACCEPTED,
    (_D.ACCEPTED, "guarantees complete"): _D.RELEASED,
    (_D.ACCEPTED, "guarantees complete, control"): _D.UNDER_CONTROL,
    (_D.ACCEPTED, "guarantee refused"): _D.GUARANTEE_UNDER_AMENDMENT,
    (_D.ACCEPTED, "CC013C"): _D.ACCEPTED,
    (_D.ACCEPTED, "CC014C"): _D.CANCELLED,
    (_D.GUARANTEE_UNDER_AMENDMENT, "guarantee reserved"): _D.GUARANTEE_UNDER_AMENDMENT,
    (_D.GUARANTEE_UNDER_AMENDMENT, "guarantee refused"): _D.GUARANTEE_UNDER_AMENDMENT,
    (_D.GUARANTEE_UNDER_AMENDMENT, "CC013C"): _D.ACCEPTED,  # the holder puts the guarantee right in time
    (_D.GUARANTEE_UNDER_AMENDMENT, "CC014C"): _D.CANCELLED,
    (_D.GUARANTEE_UNDER_AMENDMENT, "amendment period expired"): _D.NOT_RELEASED,
    (_D.UNDER_CONTROL, "RecordDepartureControl satisfactory"): _D.RELEASED,
    (_D.UNDER_CONTROL, "RecordDepartureControl not satisfactory"): _D.NOT_RELEASED,
    (_D.UNDER_CONTROL, "CC014C"): _D.CANCELLED,
    (_D.RELEASED, "CD118C"): _D.RELEASED,
    (_D.RELEASED, "CD180C"): _D.RELEASED,  # an incident en route: forwarded to the holder (CC182C)
    (_D.RELEASED, "CD006C"): _D.ARRIVED,
    (_D.RELEASED, "time limit expired"): _D.UNDER_ENQUIRY,
    # The enquiry ends when the goods turn up late; a crossing on the way is still recorded.
    (_D.UNDER_ENQUIRY, "CD118C"): _D.UNDER_ENQUIRY,
    (_D.UNDER_ENQUIRY, "CD180C"): _D.UNDER_ENQUIRY,
    (_D.UNDER_ENQUIRY, "CD006C"): _D.ARRIVED,
    (_D.UNDER_ENQUIRY, "CC141C delivered"): _D.UNDER_ENQUIRY,  # recorded; only an arrival advice discharges
    (_D.UNDER_ENQUIRY, "CC141C not delivered"): _D.UNDER_RECOVERY,
    # CD118C and CD006C come from different administrations and may overtake each other.
    (_D.ARRIVED, "CD118C"): _D.ARRIVED,
    (_D.ARRIVED, "CD018C A1"): _D.WRITTEN_OFF,  # satisfactory
    (_D.ARRIVED, "CD018C A2"): _D.WRITTEN_OFF,  # considered satisfactory
    (_D.ARRIVED, "CD018C B1"): _D.DISCREPANCIES_PENDING,
    (_D.DISCREPANCIES_PENDING, "ResolveDiscrepancies"): _D.WRITTEN_OFF,
}
"""Office of departure. Guarantee triggers come from CD205C: "guarantees complete" is the acceptance
that leaves nothing pending and nothing refused, which releases the goods, unless the office decided to
control them ("guarantees complete, control": CC060C, then its officer's control results). An amendment
(CC013C) is taken only before release (P5: "only before IE029"); in any other state it is out of sequence
(92). "CC141C delivered" and "CC141C not delivered" are the holder's answer to the enquiry, with or
without a date of delivery."""

DEPARTURE_TIMERS: Mapping[DepartureState, str] = {
    _D.PRE_LODGED: "presentation period expired",
    _D.GUARANTEE_UNDER_AMENDMENT: "amendment period expired",
    _D.RELEASED: "time limit expired",
}
"""States whose record deadline, once passed, fires the trigger named here (see `tick`). The effect of
every timer clears the deadline, so each fires once however often the clock moves."""

TRANSIT_TRANSITIONS: Mapping[tuple[TransitState | None, str], TransitState] = {
    (None, "CD050C"): TransitState.ATR_RECEIVED,
    (TransitState.ATR_RECEIVED, "PresentAtTransit"): TransitState.PASSED,
    # The office registers an incident of a movement it expects or has seen pass (CD180C to departure).
    (TransitState.ATR_RECEIVED, "RecordIncident"): TransitState.ATR_RECEIVED,
    (TransitState.PASSED, "RecordIncident"): TransitState.PASSED,
}

DESTINATION_TRANSITIONS: Mapping[tuple[DestinationState | None, str], DestinationState] = {
    (None, "CD001C"): DestinationState.AAR_RECEIVED,
    (DestinationState.AAR_RECEIVED, "CC007C"): DestinationState.ARRIVED,
    (DestinationState.ARRIVED, "RecordControl"): DestinationState.GOODS_RELEASED,
    # Simplified procedure: the authorised consignee unloads, then reports (CC044C); unloading not complete
    # leaves the permission standing for the next remarks.
    (DestinationState.AAR_RECEIVED, "CC007C simplified"): DestinationState.UNLOADING_PERMITTED,
    (DestinationState.UNLOADING_PERMITTED, "CC044C"): DestinationState.GOODS_RELEASED,
    (DestinationState.UNLOADING_PERMITTED, "CC044C unloading not complete"): DestinationState.UNLOADING_PERMITTED,
}


@dataclass(frozen=True)
class Route:
    """Which office of an administration takes a message: the role it must have, where it is named."""

    role: str  # "DEP", "DES", "TRA" or "GUA" (CS/RD2 roles)
    field: str  # attribute path of the office reference number in the message dataclass
    element: str  # the XML data group that names it, for the functional error pointer


RECEIVE_ROUTES: Mapping[str, Route] = {
    "CC015C": Route("DEP", "declaration.office_of_departure", "CustomsOfficeOfDeparture"),
    "CC014C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CC013C": Route("DEP", "declaration.office_of_departure", "CustomsOfficeOfDeparture"),
    "CC170C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CD180C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CC141C": Route("DEP", "office_of_enquiry", "CustomsOfficeOfEnquiryAtDeparture"),
    "CD205C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CD118C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CD006C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CD018C": Route("DEP", "office_of_departure", "CustomsOfficeOfDeparture"),
    "CD203C": Route("GUA", "office_of_guarantee", "CustomsOfficeOfGuarantee"),
    "CD204C": Route("GUA", "office_of_guarantee", "CustomsOfficeOfGuarantee"),
    "CD050C": Route("TRA", "office_of_transit", "CustomsOfficeOfTransitDeclared"),
    "CD001C": Route("DES", "declaration.office_of_destination", "CustomsOfficeOfDestinationDeclared"),
    "CC007C": Route("DES", "office_of_destination_actual", "CustomsOfficeOfDestinationActual"),
    "CC044C": Route("DES", "office_of_destination_actual", "CustomsOfficeOfDestinationActual"),
}
"""Message code → the office that handles it. CD906C is not here: it answers a message we sent and is
only logged."""

S = TypeVar("S", bound=Enum)


def next_state(
    table: Mapping[tuple[S | None, str], S], current: S | None, trigger: str, *, mrn: str, pointer: str
) -> S:
    """The state `trigger` moves a record to, or the NCTS error that refuses it (raised, never applied).

    `pointer` says where in the refused message the MRN sits, for the functional error.
    """
    target = table.get((current, trigger))
    if target is not None:
        return target
    if current is None:
        raise UnknownMovement(f"{trigger}: MRN {mrn} is not known here", path=pointer, rule="90")
    raise OutOfSequence(f"{trigger} is not allowed in state {current.value}", path=pointer, rule="92")


def require_valid_mrn(mrn: str, *, pointer: str) -> None:
    """Refuse an MRN whose layout or check digit is wrong (functional error 93) before looking it up."""
    if not is_valid_mrn(mrn):
        raise ProtocolError(f"{mrn!r} is not a valid MRN", path=pointer, rule="93")
