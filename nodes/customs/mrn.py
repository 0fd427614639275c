"""Movement Reference Numbers: how an office of departure numbers a movement, and how anyone checks one.

An MRN is 18 characters (reference/transit.md §1.8): two digits of year, the ISO country code, twelve
characters that make it unique, a procedure letter (rule R0410) and a check digit. The check digit is
the ISO 6346 variant NCTS uses, so any office can refuse a mistyped MRN (functional error 93) before
looking it up. HMRC puts the six-character office number first in the unique part and we do the same
(`23GB000246YHVFYMJ0`), followed by a base-36 serial, so MRNs are deterministic in a scenario.
"""

from __future__ import annotations

import re
import string

__all__ = ["MRN_PATTERN", "TO_BE_PATTERN", "allocate_mrn", "check_digit", "is_valid_mrn", "procedure_letter"]

TO_BE_PATTERN = re.compile(r"([2][4-9]|[3-9][0-9])[A-Z]{2}[A-Z0-9]{12}[J-M][0-9]")
"""The P5 "to-be" layout, which every MRN allocated from 2024 on follows."""

MRN_PATTERN = re.compile(r"([0-1][0-9]|[2][0-4])[A-Z]{2}[A-Z0-9]{13}[0-9]|" + TO_BE_PATTERN.pattern)
"""The XSD `MRNType`: the legacy layout or the to-be one, so older MRNs still validate."""

_OFFICE = re.compile(r"[A-Z]{2}[A-Z0-9]{6}")
_BASE36 = string.digits + string.ascii_uppercase
_SERIAL_WIDTH = 6


def _character_values() -> dict[str, int]:
    """ISO 6346 values: digits are themselves, letters count up from A=10 skipping multiples of 11.

    Skipping 11, 22, 33 keeps every letter distinct after `mod 11`, so a single wrong letter always
    changes the check digit.
    """
    values = {digit: int(digit) for digit in string.digits}
    value = 10
    for letter in string.ascii_uppercase:
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    return values


_VALUES = _character_values()

_LETTERS_BY_SECURITY = {1: "L", 2: "K", 3: "M"}
"""Rule R0410: the procedure letter names the security data (CL217) the declaration carries."""


def check_digit(first17: str) -> str:
    """The 18th character of an MRN: Σ value(cᵢ)·2^i over the first 17, mod 11, mod 10."""
    if len(first17) != 17 or any(char not in _VALUES for char in first17):
        raise ValueError(f"an MRN check digit needs 17 characters 0-9A-Z, got {first17!r}")
    total = sum(_VALUES[char] << position for position, char in enumerate(first17))
    return str(total % 11 % 10)


def procedure_letter(security: int) -> str:
    """R0410: security 1 (ENS) → L, 2 (EXS) → K, 3 (both) → M, anything else (0) → J."""
    return _LETTERS_BY_SECURITY.get(security, "J")


def allocate_mrn(year: int, office: str, serial: int, security: int) -> str:
    """The MRN of the `serial`-th movement an administration accepts in `year` at `office`.

    Layout: yy + office country + the six characters after it + `serial` as six base-36 characters
    + procedure letter + check digit. The serial space (36⁶ ≈ 2.2 billion) outlasts any scenario.
    """
    if not _OFFICE.fullmatch(office):
        raise ValueError(f"office reference number must match [A-Z]{{2}}[A-Z0-9]{{6}}, got {office!r}")
    if not 0 <= serial < len(_BASE36) ** _SERIAL_WIDTH:
        raise ValueError(f"MRN serial {serial} does not fit in {_SERIAL_WIDTH} base-36 characters")
    digits = ""
    for _ in range(_SERIAL_WIDTH):
        serial, remainder = divmod(serial, len(_BASE36))
        digits = _BASE36[remainder] + digits
    first17 = f"{year % 100:02d}{office}{digits}{procedure_letter(security)}"
    mrn = first17 + check_digit(first17)
    if not TO_BE_PATTERN.fullmatch(mrn):
        raise ValueError(f"{mrn} does not follow the P5 to-be MRN layout (years 2024 and later)")
    return mrn


def is_valid_mrn(mrn: str) -> bool:
    """True when `mrn` has the XSD layout and its check digit holds (else NCTS error 93)."""
    return MRN_PATTERN.fullmatch(mrn) is not None and check_digit(mrn[:17]) == mrn[17]
