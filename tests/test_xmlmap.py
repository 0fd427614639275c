"""The table engine: what a read or a write finds where a table's paths share, repeat or miss elements, and a
`View`: a message read field by field, as `read` would read it whole.

Each table is compiled once (`nodes.xmlmap._plan`): a group several fields share is found once per message, and
these cases pin down that the compiled walk finds what a walk of each field's path on its own would.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from lxml import etree

from exchange.errors import DocumentError
from nodes.xmlmap import DECIMAL, Each, Fixed, Leaf, Part, Struct, View, read, write


@dataclass(frozen=True)
class Line:
    code: str | None


@dataclass(frozen=True)
class Order:
    number: str | None
    note: str | None
    amount: Decimal | None
    lines: tuple[Line, ...]
    tags: tuple[str, ...]
    first: Line | None


ORDER = Struct(
    Order,
    (
        Leaf("Head/number", "number"),
        Fixed("Head/flag", "0"),
        Leaf("Head/Extra/note", "note"),
        Leaf("amount", "amount", DECIMAL),
        Each("Body/Line", "lines", Struct(Line, (Leaf("code", "code"),)), numbered=True),
        Each("Tag", "tags", Leaf("value")),
        Part("Body/Line", "first", Struct(Line, (Leaf("code", "code"),))),
    ),
)


def parse(text: str) -> etree._Element:
    return etree.fromstring(text)


def test_fields_of_a_group_share_its_first_element() -> None:
    """`Head/number` and `Head/Extra/note` read the first Head only, even where a later one has the field."""
    root = parse("<O><Head><number>1</number></Head><Head><number>2</number><Extra><note>n</note></Extra></Head></O>")
    order = read(root, ORDER)
    assert (order.number, order.note, order.amount, order.first) == ("1", None, None, None)


def test_a_repeated_group_is_every_element_of_every_parent() -> None:
    """An `Each` at `Body/Line` collects the lines of every Body, as `findall` does; a `Part` there the first."""
    root = parse("<O><Body><Line><code>a</code></Line><Line/></Body><Body><Line><code>c</code></Line></Body>"
                 "<Tag><value>x</value></Tag><Tag/></O>")
    order = read(root, ORDER)
    assert order.lines == (Line("a"), Line(None), Line("c"))
    assert order.tags == ("x", None)
    assert order.first == Line("a")


def test_a_view_finds_what_read_finds_where_paths_share_and_repeat() -> None:
    root = parse("<O><Head><number>1</number></Head><Head><number>2</number><Extra><note>n</note></Extra></Head>"
                 "<Body><Line><code>a</code></Line><Line/></Body><Body><Line><code>c</code></Line></Body>"
                 "<Tag><value>x</value></Tag><Tag/></O>")
    order, view = read(root, ORDER), View(root, ORDER)
    assert (view.number, view.note, view.amount, view.tags) == (order.number, order.note, order.amount, order.tags)
    assert [line.code for line in view.lines] == [line.code for line in order.lines] == ["a", None, "c"]
    assert view.first.code == order.first.code == "a"


def test_an_unreadable_value_names_its_element() -> None:
    with pytest.raises(DocumentError, match="cannot be read as amount"):
        read(parse("<O><amount>heavy</amount></O>"), ORDER)


def test_write_reuses_the_first_element_of_a_group_and_numbers_repetitions() -> None:
    order = Order("7", "n", Decimal("1.50"), (Line("a"), Line(None)), ("x",), None)
    root = etree.Element("O")
    write(root, order, ORDER)
    assert etree.tostring(root).decode() == (
        "<O><Head><number>7</number><flag>0</flag><Extra><note>n</note></Extra></Head><amount>1.50</amount>"
        "<Body><Line><sequenceNumber>1</sequenceNumber><code>a</code></Line>"
        "<Line><sequenceNumber>2</sequenceNumber></Line></Body><Tag><value>x</value></Tag></O>"
    )
    assert read(root, ORDER) == Order("7", "n", Decimal("1.50"), (Line("a"), Line(None)), ("x",), Line("a"))


def test_write_into_an_element_that_has_the_group_already() -> None:
    """A second table writing under the same element finds the group the first one wrote (the first of its tag)."""
    root = parse("<O><Head><number>1</number></Head><Head/></O>")
    write(root, Order(None, "n", None, (), (), None), ORDER)
    assert etree.tostring(root).decode() == (
        "<O><Head><number>1</number><flag>0</flag><Extra><note>n</note></Extra></Head><Head/></O>"
    )


def test_a_qualified_table() -> None:
    """With a namespace every step is qualified, and unqualified elements are not the table's."""
    ns = "urn:example"
    root = parse(f'<O xmlns="{ns}"><Head><number>1</number></Head><Tag><value>x</value></Tag></O>')
    order = read(root, ORDER, ns)
    assert (order.number, order.tags) == ("1", ("x",))
    assert read(root, ORDER).number is None
    again = etree.Element(f"{{{ns}}}O", nsmap={None: ns})
    write(again, order, ORDER, ns)
    assert read(again, ORDER, ns) == order


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

    def heavier_than(self, mass: Decimal) -> bool:
        return any(line.mass > mass for line in self.lines)


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
    assert View(etree.fromstring(_DOCUMENT.replace("heavy", "2")), _ORDER).heavier_than(Decimal("1.9"))  # a method
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
