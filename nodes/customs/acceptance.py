"""Accepting a declaration at the office of departure, and securing the guarantee uses it states.

A declaration (CC015C) and an amendment of one (CC013C) are checked against the same reference data
(offices, GRNs); an accepted one is acknowledged (CC928C), gets its MRN (CC028C) and asks each office of
guarantee to reserve its share (CD203C). Lodging, presenting a pre-lodged declaration and amending one all
end up here, so the guarantee uses are asked for and given back (CD204C) in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from nodes.customs.config import OFFICE_CODE_LISTS, CustomsConfig
from nodes.customs.ledger import DepartureRecord
from nodes.customs.model import (
    Declaration,
    FunctionalError,
    GuaranteeUse,
    GuaranteeUseCancellation,
    MRNAllocated,
    PositiveAcknowledge,
)
from nodes.customs.step import Step, nta

__all__ = [
    "GRN_GUARANTEE_TYPES",
    "GuaranteeShare",
    "acknowledge",
    "allocate",
    "give_back",
    "give_back_guarantees",
    "guarantee_uses",
    "office_of_guarantee",
    "reference_errors",
    "secure",
]

GRN_GUARANTEE_TYPES = frozenset({"0", "1", "2", "4", "9"})
"""CL286 GuaranteeTypeWithGRN: these guarantee types need a GRN and access code (condition C0086)."""


@dataclass(frozen=True)
class GuaranteeShare:
    """One GRN's share of a declaration: what CD203C asks the office of guarantee to reserve."""

    grn: str
    access_code: str
    amount: Decimal
    currency: str


def guarantee_uses(declaration: Declaration) -> dict[str, GuaranteeShare]:
    """The guarantee uses to ask for, one per GRN: references naming the same GRN add up."""
    uses: dict[str, GuaranteeShare] = {}
    for guarantee in declaration.guarantees:
        for reference in guarantee.references:
            known = uses.get(reference.grn)
            amount = reference.amount_to_be_covered + (known.amount if known else Decimal("0"))
            uses[reference.grn] = GuaranteeShare(reference.grn, reference.access_code, amount, reference.currency)
    return uses


def office_of_guarantee(config: CustomsConfig, grn: str) -> str | None:
    """GRN positions 3-4 are the country that issued it; that country's office of guarantee manages it."""
    return config.office_of_guarantee(grn[2:4])


def reference_errors(config: CustomsConfig, declaration: Declaration, root: str) -> list[FunctionalError]:
    """Offices and guarantees a declaration (CC015C) or its amendment (CC013C) names, against the reference data."""
    errors: list[FunctionalError] = []
    if config.office(declaration.office_of_destination, "DES") is None:
        pointer = f"/{root}/CustomsOfficeOfDestinationDeclared/referenceNumber"
        errors.append(FunctionalError(pointer, "12", OFFICE_CODE_LISTS["DES"], declaration.office_of_destination))
    for index, transit in enumerate(declaration.offices_of_transit, start=1):
        if config.office(transit.reference_number, "TRA") is None:
            pointer = f"/{root}/CustomsOfficeOfTransitDeclared[{index}]/referenceNumber"
            errors.append(FunctionalError(pointer, "12", OFFICE_CODE_LISTS["TRA"], transit.reference_number))
    for index, guarantee in enumerate(declaration.guarantees, start=1):
        if guarantee.guarantee_type in GRN_GUARANTEE_TYPES and not guarantee.references:
            errors.append(FunctionalError(f"/{root}/Guarantee[{index}]/GuaranteeReference", "13", "C0086"))
        for number, reference in enumerate(guarantee.references, start=1):
            if office_of_guarantee(config, reference.grn) is None:
                pointer = f"/{root}/Guarantee[{index}]/GuaranteeReference[{number}]/GRN"
                errors.append(FunctionalError(pointer, "12", "G01", reference.grn))
    return errors


def acknowledge(step: Step, _: None, record: DepartureRecord) -> DepartureRecord:
    """CC015C valid: acknowledge it (cause: the new record)."""
    holder, lrn = record.holder, record.lrn
    step.send(PositiveAcknowledge, to=holder, about=lrn, lrn=lrn, office_of_departure=record.office, holder=holder)
    return record


def allocate(step: Step, record: DepartureRecord) -> DepartureRecord:
    """CC028C with the MRN, and CD203C to each office of guarantee for the uses the declaration states."""
    holder, lrn, mrn = record.holder, record.lrn, record.mrn
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
    return secure(step, record)


def secure(step: Step, record: DepartureRecord) -> DepartureRecord:
    """Ask for each guarantee use of the declaration not yet reserved or asked for (CD203C), and give back the
    reservations of GRNs it no longer names (CD204C). A reserved GRN whose amount changed keeps its reservation."""
    uses = guarantee_uses(record.declaration)
    dropped = tuple(grn for grn in record.reserved_grns if grn not in uses)
    for grn in dropped:
        give_back(step, record, grn)
    asked = [use for grn, use in uses.items() if grn not in record.reserved_grns and grn not in record.awaiting_grns]
    for use in asked:
        step.send(
            GuaranteeUse,
            to=nta(use.grn[2:4]),
            about=record.mrn,
            mrn=record.mrn,
            grn=use.grn,
            access_code=use.access_code,
            holder=record.holder,
            amount=use.amount,
            currency=use.currency,
            office_of_departure=record.office,
            office_of_guarantee=office_of_guarantee(step.config, use.grn),
        )
    awaiting = tuple(grn for grn in (*record.awaiting_grns, *(use.grn for use in asked)) if grn in uses)
    reserved = tuple(grn for grn in record.reserved_grns if grn not in dropped)
    return replace(record, awaiting_grns=awaiting, reserved_grns=reserved)


def give_back(step: Step, record: DepartureRecord, grn: str) -> None:
    """CD204C: the office of guarantee frees what the movement reserved (or is about to) on `grn`."""
    step.send(
        GuaranteeUseCancellation,
        to=nta(grn[2:4]),
        about=record.mrn,
        mrn=record.mrn,
        grn=grn,
        office_of_departure=record.office,
        office_of_guarantee=office_of_guarantee(step.config, grn),
    )


def give_back_guarantees(step: Step, record: DepartureRecord) -> DepartureRecord:
    """CD204C for every GRN the movement holds or may still hold (a CD205C can be on its way)."""
    for grn in (*record.reserved_grns, *record.awaiting_grns):
        give_back(step, record, grn)
    return replace(record, reserved_grns=(), awaiting_grns=(), deadline=None)
