from __future__ import annotations

from decimal import Decimal

import pytest

from nodes.customs.guarantee import RESERVED_SHARE, GuaranteeAccount, RiskLevel, cents, release, reserve

GRN = "26UZ0009000000011"
HOLDER = "UZ301234567001"
MRN_A = "26UZ000100000001J0"
MRN_B = "26UZ000100000002J0"


def account(reference: str = "100000.00") -> GuaranteeAccount:
    return GuaranteeAccount(GRN, HOLDER, "AC01", Decimal(reference), "USD")


def test_standard_reserves_the_declared_amount() -> None:
    updated, result = reserve(account(), MRN_A, Decimal("40000.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    assert result.accepted and result.reason is None
    assert result.amount_reserved == Decimal("40000.00")
    assert result.balance == updated.available == Decimal("60000.00")
    assert updated.reservations == {MRN_A: Decimal("40000.00")}


@pytest.mark.parametrize(
    ("level", "reserved"),
    [
        (RiskLevel.STANDARD, "40000.00"),
        (RiskLevel.REDUCED_50, "20000.00"),
        (RiskLevel.REDUCED_30, "12000.00"),
        (RiskLevel.WAIVER, "0.00"),
    ],
)
def test_risk_level_sets_the_share_reserved(level: RiskLevel, reserved: str) -> None:
    updated, result = reserve(account(), MRN_A, Decimal("40000.00"), HOLDER, "AC01", level)
    assert result.amount_reserved == Decimal(reserved)
    assert updated.available == Decimal("100000.00") - Decimal(reserved)


def test_reduction_table_has_the_four_documented_levels() -> None:
    assert {level.value: share for level, share in RESERVED_SHARE.items()} == {
        "standard": Decimal("1.00"),
        "reduced-50": Decimal("0.50"),
        "reduced-30": Decimal("0.30"),
        "waiver": Decimal("0.00"),
    }


def test_amounts_are_rounded_to_cents_half_up() -> None:
    _, result = reserve(account(), MRN_A, Decimal("1000.05"), HOLDER, "AC01", RiskLevel.REDUCED_30)
    assert result.amount_reserved == Decimal("300.02")  # 300.015 → 300.02
    assert cents(Decimal("2.675")) == Decimal("2.68")


def test_access_code_is_not_case_sensitive() -> None:
    _, result = reserve(account(), MRN_A, Decimal("10.00"), HOLDER, "ac01", RiskLevel.STANDARD)
    assert result.accepted


def test_wrong_access_code_is_g03_and_reserves_nothing() -> None:
    original = account()
    updated, result = reserve(original, MRN_A, Decimal("10.00"), HOLDER, "AC02", RiskLevel.STANDARD)
    assert not result.accepted and result.reason is not None
    assert (result.reason.grn, result.reason.code) == (GRN, "G03")
    assert updated == original


def test_other_holder_is_g04() -> None:
    _, result = reserve(account(), MRN_A, Decimal("10.00"), "UZ305551112002", "AC01", RiskLevel.STANDARD)
    assert result.reason is not None and result.reason.code == "G04"


def test_insufficient_balance_is_g09() -> None:
    first, _ = reserve(account("50000.00"), MRN_A, Decimal("45000.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    second, result = reserve(first, MRN_B, Decimal("12000.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    assert result.reason is not None and result.reason.code == "G09"
    assert result.reason.text == "Reference amount insufficient"
    assert result.balance == Decimal("5000.00")
    assert second == first


def test_exactly_the_balance_can_be_reserved() -> None:
    updated, result = reserve(account("100.00"), MRN_A, Decimal("100.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    assert result.accepted and updated.available == Decimal("0.00")


def test_reserve_is_idempotent_per_mrn() -> None:
    """CD203C may be delivered twice: the second answer is the first reservation, not a G09 for want of a balance
    the first one used (a first that left enough would let a reservation made afresh pass for the same)."""
    once, first = reserve(account("50000.00"), MRN_A, Decimal("40000.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    twice, again = reserve(once, MRN_A, Decimal("40000.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    assert twice == once
    assert again == first and again.accepted
    assert (twice.reserved, twice.available) == (Decimal("40000.00"), Decimal("10000.00"))


def test_release_frees_exactly_what_was_reserved_and_only_once() -> None:
    reserved, _ = reserve(account(), MRN_A, Decimal("40000.00"), HOLDER, "AC01", RiskLevel.REDUCED_50)
    reserved, _ = reserve(reserved, MRN_B, Decimal("1000.00"), HOLDER, "AC01", RiskLevel.STANDARD)
    released, freed = release(reserved, MRN_A)
    assert freed == Decimal("20000.00")
    assert released.available == Decimal("99000.00")
    again, freed_again = release(released, MRN_A)
    assert freed_again == Decimal("0.00")
    assert again == released


def test_releasing_an_unknown_mrn_changes_nothing() -> None:
    original = account()
    assert release(original, MRN_A) == (original, Decimal("0.00"))
