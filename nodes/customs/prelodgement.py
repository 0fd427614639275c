"""Pre-lodgement at the office of departure: a declaration lodged before the goods are there (transit.md §1.6).

1. A valid CC015C with additionalDeclarationType D (`PRE_LODGED`) gets only CC928C; the office keeps it,
   unaccepted and without an MRN, for the presentation period (`CustomsConfig.presentation_period`, 30 days).
2. The holder presents the goods with CC170C, which is the declaration's acceptance: CC028C with the MRN and
   the guarantee uses (CD203C) follow, as for a declaration accepted at once.
3. Goods not presented within the period: the declaration is rejected (CC056C) and its LRN stays used up.

While pre-lodged the declaration may still be amended (amendment.py) or cancelled (CC014C).
"""

from __future__ import annotations

from dataclasses import replace

from nodes.customs.acceptance import acknowledge, allocate
from nodes.customs.ledger import DepartureRecord
from nodes.customs.model import PresentationNotification
from nodes.customs.refusals import departure_rejection
from nodes.customs.step import Step

__all__ = ["PRE_LODGED", "not_presented", "pre_lodge", "present"]

PRE_LODGED = "D"
"""CL042 additionalDeclarationType of a declaration lodged before the goods are presented."""


def pre_lodge(step: Step, _: None, record: DepartureRecord) -> DepartureRecord:
    """A pre-lodged CC015C is valid: acknowledged; the MRN waits for the goods, for the presentation period."""
    acknowledged = acknowledge(step, None, record)
    return replace(acknowledged, deadline=step.now + step.config.presentation_period)


def present(step: Step, record: DepartureRecord, _: PresentationNotification) -> DepartureRecord:
    """CC170C: the goods of a pre-lodged declaration are here; accepting it now gives the MRN (transit.md §1.6)."""
    return allocate(step, replace(record, accepted_at=step.now, deadline=None))


def not_presented(step: Step, record: DepartureRecord, _: None) -> DepartureRecord:
    """CC056C: the goods of a pre-lodged declaration were not presented in time; the LRN stays used up and the
    MRN the office kept for it is never given."""
    period = step.config.presentation_period.days
    departure_rejection(
        step,
        "015",
        lrn=record.lrn,
        mrn=None,
        office=record.office,
        holder=record.holder,
        errors=(),
        text=f"Goods not presented within {period} days of pre-lodgement",
    )
    return replace(record, deadline=None)
