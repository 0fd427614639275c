"""The office of guarantee's register of comprehensive guarantees, and the risk-based reservation rule.

A comprehensive guarantee (CL251 type 1) is one GRN with a reference amount. Each movement reserves
part of it when the office of departure asks (CD203C) and gives it back at write-off, cancellation or
no release (CD204C); what is left is the balance the next movement can use (transit.md §1.9). CATS
promises a "risk-based affordable guarantee mechanism" without publishing the formula, so the
reduction below follows the Union Customs Code model for comprehensive guarantees.

Everything here is pure: functions take an account and return a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from nodes.customs.model import InvalidGuaranteeReason

__all__ = [
    "GUARANTEE_REASONS",
    "RESERVED_SHARE",
    "GuaranteeAccount",
    "Reservation",
    "RiskLevel",
    "cents",
    "refusal",
    "release",
    "reserve",
]

_CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """`amount` rounded half-up to two decimal places, the precision of NCTS amounts (n..16,2)."""
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


class RiskLevel(Enum):
    """How far customs trusts the holder of the transit procedure, as the office of guarantee knows it."""

    STANDARD = "standard"
    REDUCED_50 = "reduced-50"
    REDUCED_30 = "reduced-30"
    WAIVER = "waiver"


RESERVED_SHARE: Mapping[RiskLevel, Decimal] = {
    RiskLevel.STANDARD: Decimal("1.00"),
    RiskLevel.REDUCED_50: Decimal("0.50"),
    RiskLevel.REDUCED_30: Decimal("0.30"),
    RiskLevel.WAIVER: Decimal("0.00"),
}
"""Share of the declared amount that a movement actually reserves, by the holder's risk level.

These are the UCC-style reduction levels for comprehensive guarantees: a holder that meets no extra
criteria secures 100 %; an operator meeting increasing criteria (AEO status, solvency, record of
compliance) may secure 50 % or 30 %; the most trusted get a guarantee waiver (0 %). The UCC applies the
reduction to the reference amount lodged; applying it to each movement's reservation has the same
effect on the balance and lets one GRN serve holders the simulator rates differently.
"""

GUARANTEE_REASONS: Mapping[str, str] = {
    "G01": "Guarantee does not exist",
    "G02": "Guarantee exists, but not valid",
    "G03": "Access code not valid",
    "G04": "Principal (holder) is not the owner of the guarantee",
    "G05": "Voucher already used",
    "G06": "Guarantee not valid for suspended goods",
    "G07": "Guarantee not valid for sensitive goods",
    "G08": "Guarantee not valid for the country of transit or destination",
    "G09": "Reference amount insufficient",
    "G10": "Individual guarantee already used",
}
"""Invalid-guarantee reasons of CC055C / CD205C (CL252), worded as in transit.md §1.9."""


@dataclass(frozen=True)
class GuaranteeAccount:
    """One comprehensive guarantee: who owns it, its PIN, its reference amount and what is reserved.

    `reservations` maps each MRN to the amount it holds; functions here always build a new mapping,
    never change one in place.
    """

    grn: str
    holder: str  # identification number of the guarantee's owner
    access_code: str  # an..4 PIN, not case sensitive
    reference_amount: Decimal
    currency: str
    reservations: Mapping[str, Decimal] = field(default_factory=dict)

    @property
    def reserved(self) -> Decimal:
        return cents(sum(self.reservations.values(), Decimal("0")))

    @property
    def available(self) -> Decimal:
        """The balance: reference amount minus everything reserved."""
        return cents(self.reference_amount - self.reserved)


@dataclass(frozen=True)
class Reservation:
    """The answer to one guarantee use: reserved (with the amount and the balance after) or refused."""

    accepted: bool
    amount_reserved: Decimal
    balance: Decimal
    reason: InvalidGuaranteeReason | None = None


def refusal(grn: str, code: str, balance: Decimal) -> Reservation:
    """A refused reservation with the CL252 wording of `code`; the register uses it for G01 too."""
    return Reservation(False, cents(Decimal("0")), balance, InvalidGuaranteeReason(grn, code, GUARANTEE_REASONS[code]))


def reserve(
    account: GuaranteeAccount, mrn: str, declared_amount: Decimal, holder: str, access_code: str, level: RiskLevel
) -> tuple[GuaranteeAccount, Reservation]:
    """Reserve the risk-adjusted share of `declared_amount` for `mrn`, or refuse with a G-code.

    The PIN is compared case-insensitively (it is "not case sensitive"). Checks run access code (G03),
    then owner (G04), so a wrong PIN never learns whether the holder matches. Asking again for an MRN
    that already holds a reservation returns that reservation unchanged: CD203C may be delivered twice.
    """
    if access_code.casefold() != account.access_code.casefold():
        return account, refusal(account.grn, "G03", account.available)
    if holder != account.holder:
        return account, refusal(account.grn, "G04", account.available)
    if mrn in account.reservations:
        return account, Reservation(True, account.reservations[mrn], account.available)
    amount = cents(declared_amount * RESERVED_SHARE[level])
    if amount > account.available:
        return account, refusal(account.grn, "G09", account.available)
    updated = replace(account, reservations={**account.reservations, mrn: amount})
    return updated, Reservation(True, amount, updated.available)


def release(account: GuaranteeAccount, mrn: str) -> tuple[GuaranteeAccount, Decimal]:
    """Free what `mrn` holds and return the amount freed; releasing twice frees once (0.00 the second time)."""
    if mrn not in account.reservations:
        return account, cents(Decimal("0"))
    remaining = {held_by: amount for held_by, amount in account.reservations.items() if held_by != mrn}
    return replace(account, reservations=remaining), account.reservations[mrn]
