"""How an office says "not applied": CC056C to a holder, CC057C to a trader at destination, CD906C to an NTA.

Which answer fits depends only on the refused message (NCTS has one rejection message per office
for its traders and one functional NACK for the common domain), so the choice is a table by message
code. Every refusal carries functional errors: a pointer into the refused message, the NCTS error code
(12, 13, 14, 90, 92, 93 …) and an an..7 reason (a rule id, a role, or one of `ERROR_REASONS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

from exchange.errors import ProtocolError
from nodes.customs.model import (
    ArrivalNotification,
    FunctionalError,
    FunctionalNack,
    RejectionFromDeparture,
    RejectionFromDestination,
    TransitDeclaration,
    UnloadingRemarks,
)
from nodes.customs.step import Step

__all__ = [
    "ERROR_REASONS",
    "REFUSED_WITH",
    "REJECTION_CODES",
    "departure_rejection",
    "functional_error",
    "reference_of",
    "refuse",
]

REJECTION_CODES: Mapping[str, str] = {
    "015": "12", "013": "12", "014": "4", "141": "12", "170": "12", "007": "12", "044": "12"
}
"""Business rejection type (IE number refused) → rejection code: CL226 "12" a message with functional
errors (CS/RD2's own meaning of 12), "4" an invalidation (cancellation) refused; CL227 "12" for the arrival
notification and the unloading remarks. "4" and CL227's "12" are caravan's assumptions (docs/CATALOGUE.md,
"Code values caravan chooses")."""

Refuser = Callable[[Step, Any, tuple[FunctionalError, ...], str], None]
"""Answers a refused message: (step, message, functional errors, reason text)."""

ERROR_REASONS: Mapping[str, str] = {"90": "UNK_MRN", "92": "OUT_SEQ", "93": "INV_MRN"}
"""Error reasons for errors that no rule id names (errorReason is an..7)."""


def functional_error(error: ProtocolError, original_value: str | None) -> FunctionalError:
    """The FunctionalError group for a protocol error raised while applying a message."""
    return FunctionalError(error.path, error.rule, ERROR_REASONS.get(error.rule, error.rule), original_value)


def reference_of(message: Any) -> str:
    """The MRN a message is about, else its LRN (a declaration, an invalidation asked by LRN)."""
    if getattr(message, "mrn", None):
        return str(message.mrn)
    if isinstance(message, TransitDeclaration):
        return message.declaration.lrn
    return str(getattr(message, "lrn", "") or "")


def refuse(step: Step, message: Any, office: str, errors: tuple[FunctionalError, ...], text: str) -> None:
    """Answer `message` with the refusal its sender understands, and log it; nothing else changes."""
    _REFUSERS.get(message.code, _nack)(step, message, errors, text)
    listed = "; ".join(f"{error.error_code} {error.error_reason} at {error.error_pointer}" for error in errors)
    step.note("rejected", office, reference_of(message), f"{message.code} not applied: {text} [{listed}]")


def departure_rejection(
    step: Step,
    rejected_type: str,
    *,
    lrn: str | None,
    mrn: str | None,
    office: str,
    holder: str,
    errors: tuple[FunctionalError, ...],
    text: str,
) -> None:
    """CC056C to the holder: `rejected_type` is the IE number refused (CL226 gives the rejection code)."""
    step.send(
        RejectionFromDeparture,
        to=holder,
        about=mrn or lrn,
        lrn=lrn,
        mrn=mrn,
        business_rejection_type=rejected_type,
        rejection_date_and_time=step.now,
        rejection_code=REJECTION_CODES[rejected_type],
        rejection_reason=text,
        office_of_departure=office,
        holder=holder,
        errors=errors,
    )


def _reject_declaration(
    step: Step, message: TransitDeclaration, errors: tuple[FunctionalError, ...], text: str
) -> None:
    declaration = message.declaration
    departure_rejection(
        step,
        "015",
        lrn=declaration.lrn,
        mrn=None,
        office=declaration.office_of_departure,
        holder=declaration.holder.identification_number,
        errors=errors,
        text=text,
    )


def _reject_holder_message(rejected_type: str, office: Callable[[Any], str]) -> Refuser:
    """CC056C for a holder's message about a declared movement (CC014C, CC141C); `office` finds who refuses."""

    def reject(step: Step, message: Any, errors: tuple[FunctionalError, ...], text: str) -> None:
        departure_rejection(
            step,
            rejected_type,
            lrn=getattr(message, "lrn", None),
            mrn=getattr(message, "mrn", None),
            office=office(message),
            holder=message.holder,
            errors=errors,
            text=text,
        )

    return reject


def _reject_arrival(rejected_type: str) -> Refuser:
    """CC057C for what a trader at destination sends: the arrival notification or the unloading remarks."""

    def reject(
        step: Step, message: ArrivalNotification | UnloadingRemarks, errors: tuple[FunctionalError, ...], text: str
    ) -> None:
        step.send(
            RejectionFromDestination,
            to=message.trader_at_destination,
            about=message.mrn,
            mrn=message.mrn,
            business_rejection_type=rejected_type,
            rejection_date_and_time=step.now,
            rejection_code=REJECTION_CODES[rejected_type],
            rejection_reason=text,
            office_of_destination=message.office_of_destination_actual,
            trader_at_destination=message.trader_at_destination,
            errors=errors,
        )

    return reject


def _nack(step: Step, message: Any, errors: tuple[FunctionalError, ...], text: str) -> None:
    """CD906C back to the NTA that sent a common-domain message."""
    mrn = getattr(message, "mrn", None)
    step.send(
        FunctionalNack,
        to=message.header.sender,
        about=mrn,
        mrn=mrn,
        original_message_id=message.header.message_id,
        original_message_type=message.code,
        errors=errors,
    )


_REFUSERS: Mapping[str, Refuser] = {
    "CC015C": _reject_declaration,
    "CC014C": _reject_holder_message("014", attrgetter("office_of_departure")),
    "CC141C": _reject_holder_message("141", attrgetter("office_of_enquiry")),
    "CC013C": _reject_holder_message("013", attrgetter("declaration.office_of_departure")),
    "CC170C": _reject_holder_message("170", attrgetter("office_of_departure")),
    "CC007C": _reject_arrival("007"),
    "CC044C": _reject_arrival("044"),
}
"""Trader messages and their refusals; every other (common-domain) message is answered by CD906C."""

REFUSED_WITH: Mapping[str, str] = {
    code: "CC057C" if code in ("CC007C", "CC044C") else "CC056C" for code in _REFUSERS
}
"""Trader message → the message that refuses it: the rejection of the office the trader sent it to."""
