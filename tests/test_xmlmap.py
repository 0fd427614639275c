"""`nodes.xmlmap.View`: a message read field by field, as `read` would read it whole."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from lxml import etree

from exchange.errors import DocumentError
from nodes.xmlmap import DECIMAL, Each, Leaf, Part, Struct, View, read


@dataclass(frozen=True)
class _Line:
    mass: Decimal


@dataclass(frozen=True)
class _Order:
    number: str
    lines: tuple[_Line, ...]
    note: str | None
    total: _Line | None
    source: str = "paper"  # held elsewhere: no element maps it
    code = "ORD"

    @property
    def label(self) -> str:
        return f"{self.code} {self.number} ({len(self.lines)} lines)"


_ORDER = Struct(_Order, (
    Leaf("number", "number"),
    Each("Line", "lines", Struct(_Line, (Leaf("mass", "mass", DECIMAL),))),
    Leaf("note", "note"),
    Part("Total", "total", Struct(_Line, (Leaf("mass", "mass", DECIMAL),))),
))

_DOCUMENT = "<Order><number>7</number><Line><mass>1.5</mass></Line><Line><mass>heavy</mass></Line></Order>"


def test_a_view_reads_each_field_as_read_does() -> None:
    root = etree.fromstring(_DOCUMENT.replace("heavy", "2"))
    order, view = read(root, _ORDER), View(root, _ORDER)
    assert (view.number, view.note, view.total) == (order.number, order.note, order.total) == ("7", None, None)
    assert [line.mass for line in view.lines] == [line.mass for line in order.lines] == [Decimal("1.5"), Decimal(2)]


def test_a_view_reads_a_field_only_when_it_is_asked_for() -> None:
    view = View(etree.fromstring(_DOCUMENT), _ORDER)
    assert view.number == "7" and len(view.lines) == 2  # the bad mass is not read for these
    with pytest.raises(DocumentError, match="cannot be read as mass"):
        view.lines[1].mass  # noqa: B018 (read for its error, the one `read` raises)


def test_a_view_answers_what_the_class_holds_itself() -> None:
    view = View(etree.fromstring(_DOCUMENT), _ORDER)
    assert (view.code, view.source, view.label) == ("ORD", "paper", "ORD 7 (2 lines)")  # attribute, default, property
    assert View(etree.fromstring(_DOCUMENT), _ORDER, source="web").source == "web"  # known, as `read` takes it
    with pytest.raises(AttributeError):
        view.missing  # noqa: B018
    assert getattr(view, "missing", None) is None


@dataclass(frozen=True)
class _Checked:
    number: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", self.number.strip())


def test_a_class_that_changes_what_it_is_built_from_is_not_viewed() -> None:
    struct = Struct(_Checked, (Leaf("number", "number"),))
    view = View(etree.fromstring("<Checked><number> 7 </number></Checked>"), struct)
    with pytest.raises(TypeError, match="read it whole"):
        view.number  # noqa: B018
