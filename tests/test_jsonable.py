"""Records survive their round trip through a row's JSON, whatever their fields hold."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from enum import Enum

import pytest

from nodes.jsonable import from_jsonable, to_jsonable


class Status(str, Enum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Line:
    amount: Decimal
    note: str | None = None


@dataclass(frozen=True)
class Account:
    number: str
    status: Status
    opened: datetime
    due: date | None
    lines: tuple[Line, ...]
    by_office: Mapping[str, Line]
    counts: dict[str, int] = field(default_factory=dict)
    closed: bool = False
    previous: Account | None = None  # a record that refers to its own kind


def _account() -> Account:
    first = Account("GRN1", Status.CLOSED, datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), None, (), {})
    return Account(
        "GRN2", Status.OPEN, datetime(2026, 12, 1, 0, 0, tzinfo=timezone.utc), date(2026, 12, 31),
        (Line(Decimal("1000.10")), Line(Decimal("0.01"), "rounding")), {"UZ000100": Line(Decimal("5"))},
        {"CC015C": 2}, False, first,
    )


def test_a_record_comes_back_equal_after_its_json_round_trip() -> None:
    account = _account()
    data = json.loads(json.dumps(to_jsonable(account)))
    assert from_jsonable(Account, data) == account
    assert data["lines"][0]["amount"] == "1000.10"  # a Decimal stays exact, as text
    assert data["status"] == "open" and data["previous"]["previous"] is None


def test_a_field_the_json_leaves_out_takes_its_default() -> None:
    data = to_jsonable(_account())
    del data["closed"], data["counts"]
    restored = from_jsonable(Account, data)
    assert restored.closed is False and restored.counts == {}


def test_a_type_json_cannot_carry_back_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="only optional unions"):
        from_jsonable(int | str, 1)
    with pytest.raises(TypeError, match="cannot read a <class 'complex'>"):
        from_jsonable(complex, 1)
