from __future__ import annotations

import pytest

from nodes.customs.mrn import MRN_PATTERN, TO_BE_PATTERN, allocate_mrn, check_digit, is_valid_mrn, procedure_letter

# Real MRNs from HMRC's NCTS Phase 5 trader test pack and test data (GB/XI), plus a German one: their
# check digits were issued by the real systems, so they pin the ISO 6346 variant down.
HMRC_MRNS = [
    "23GB000246YHVFYMJ0",
    "23GB000246ZPABRDJ3",
    "24GB000246J8NY33L7",
    "24XI000081LAQJBTJ2",
    "25GB0002466YBYPKJ0",
    "23DE587500031238M9",
]


@pytest.mark.parametrize("mrn", HMRC_MRNS)
def test_check_digit_matches_real_mrns(mrn: str) -> None:
    assert check_digit(mrn[:17]) == mrn[17]
    assert is_valid_mrn(mrn)


@pytest.mark.parametrize(
    ("mrn", "security"), [("24GB000246J8NY33L7", 1), ("24XI000081LAQJBTJ2", 0), ("25GB0002466YBYPKJ0", 0)]
)
def test_allocate_rebuilds_real_to_be_mrns(mrn: str, security: int) -> None:
    office, serial = mrn[2:10], int(mrn[10:16], 36)
    assert allocate_mrn(2000 + int(mrn[:2]), office, serial, security) == mrn


def test_allocated_mrn_round_trips_and_follows_the_to_be_layout() -> None:
    mrn = allocate_mrn(2026, "UZ000100", 1, 0)
    assert mrn == "26UZ000100000001J" + check_digit("26UZ000100000001J")
    assert TO_BE_PATTERN.fullmatch(mrn)
    assert is_valid_mrn(mrn)


def test_same_serial_in_the_style_of_hmrc_gives_a_valid_mrn() -> None:
    mrn = allocate_mrn(2024, "GB000246", int("YHVFYM", 36), 0)
    assert mrn[:17] == "24GB000246YHVFYMJ"
    assert is_valid_mrn(mrn)


@pytest.mark.parametrize("position", range(17))
def test_changing_a_character_breaks_the_check(position: int) -> None:
    mrn = "24GB000246J8NY33L7"
    replacement = "7" if mrn[position] != "7" else "8"
    if position in (2, 3, 16):  # letters only there
        replacement = "X" if mrn[position] != "X" else "Y"
    altered = mrn[:position] + replacement + mrn[position + 1 :]
    assert not is_valid_mrn(altered)


def test_changed_check_digit_is_invalid() -> None:
    assert not is_valid_mrn("24GB000246J8NY33L8")


@pytest.mark.parametrize(
    "mrn", ["", "24gb000246j8ny33l7", "24GB000246J8NY33L", "24GB000246J8NY33L77", "24GB000246J8NY33Z7"]
)
def test_malformed_mrns_are_invalid(mrn: str) -> None:
    assert not is_valid_mrn(mrn)


@pytest.mark.parametrize(("security", "letter"), [(0, "J"), (1, "L"), (2, "K"), (3, "M"), (9, "J")])
def test_procedure_letter_follows_r0410(security: int, letter: str) -> None:
    assert procedure_letter(security) == letter


def test_serials_are_base36_and_padded() -> None:
    assert allocate_mrn(2026, "UZ000100", 36, 3)[10:17] == "000010M"
    assert allocate_mrn(2026, "UZ000100", 36**6 - 1, 2)[10:17] == "ZZZZZZK"


@pytest.mark.parametrize(
    ("year", "office", "serial"),
    [
        (2023, "GB000246", 1),
        (2026, "uz000100", 1),
        (2026, "UZ0001", 1),
        (2026, "UZ000100", 36**6),
        (2026, "UZ000100", -1),
    ],
)
def test_allocate_refuses_what_cannot_be_an_mrn(year: int, office: str, serial: int) -> None:
    with pytest.raises(ValueError):
        allocate_mrn(year, office, serial, 0)


def test_check_digit_needs_seventeen_valid_characters() -> None:
    with pytest.raises(ValueError):
        check_digit("24GB000246J8NY33")
    with pytest.raises(ValueError):
        check_digit("24GB000246J8NY33-")


def test_legacy_layout_is_still_an_mrn_type() -> None:
    assert MRN_PATTERN.fullmatch("23GB000246YHVFYMJ0")
    assert not TO_BE_PATTERN.fullmatch("23GB000246YHVFYMJ0")
