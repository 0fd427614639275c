"""Amendment of a declaration at the office of departure (CC013C → CC004C, or CC056C).

Before release the holder may amend its declaration (transit.md §1.6; P5: "only before IE029"):
1. the office checks the amended data against the reference data as it checks a declaration; data it
   refuses gets CC056C and changes nothing (`refuse_amendment`);
2. otherwise it answers CC004C and the amended data becomes the declaration (`amend`, the effect of the
   "CC013C" trigger in DEPARTURE_TRANSITIONS);
3. once the guarantee uses were asked for, the amendment's guarantees are secured afresh: CD203C for the
   uses it adds, CD204C for those it drops. An amendment is how a holder puts a refused guarantee right.
"""

from __future__ import annotations

from dataclasses import replace

from nodes.customs.acceptance import reference_errors, secure
from nodes.customs.ledger import DepartureRecord
from nodes.customs.model import AmendmentAcceptance, DeclarationAmendment
from nodes.customs.refusals import refuse
from nodes.customs.step import Step
from nodes.customs.tables import DepartureState

__all__ = ["amend", "refuse_amendment"]


def refuse_amendment(step: Step, office: str, mrn: str, amendment: DeclarationAmendment) -> bool:
    """CC056C for an amendment whose data the reference data refuses; True when refused (nothing may change)."""
    errors = reference_errors(step.config, amendment.declaration, amendment.code)
    if errors:
        refuse(step, amendment, office, tuple(errors), f"amendment of {mrn} refused with {len(errors)} error(s)")
    return bool(errors)


def amend(step: Step, record: DepartureRecord, amendment: DeclarationAmendment) -> DepartureRecord:
    """CC004C, and the amended data becomes the declaration. Once the guarantee uses were asked for (accepted,
    or a refused guarantee being put right), the amendment's guarantees are secured afresh."""
    mrn = None if record.state is DepartureState.PRE_LODGED else record.mrn  # a pre-lodged one has none yet
    step.send(
        AmendmentAcceptance,
        to=record.holder,
        about=mrn or record.lrn,
        lrn=record.lrn,
        mrn=mrn,
        amendment_submitted_at=amendment.header.prepared_at,
        amendment_accepted_at=step.now,
        office_of_departure=record.office,
        holder=record.holder,
    )
    # An amendment naming the MRN may leave the LRN out (P5: LRN or MRN): the movement keeps the one it has.
    amended = replace(record, declaration=replace(amendment.declaration, lrn=record.lrn, limit_date=None))
    if record.state is DepartureState.PRE_LODGED:
        return amended
    return secure(step, replace(amended, refusals=(), deadline=None))
