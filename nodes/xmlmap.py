"""Frozen dataclasses to XML and back, driven by one mapping table per class.

A family's codec describes each message once, as a table of (element path, dataclass field, value kind)
entries, and the engine here walks that table in both directions. Encode and decode cannot drift apart,
and the element order of a table is the element order of the family's schema by construction.

Element names in a table are local names; `namespace` qualifies every step when a family's schema uses
`elementFormDefault="qualified"` (e-CO) and is left empty when only the root is qualified (CATS).

Reading never trusts the text it is given: a value its kind cannot load (`heavy` where a decimal
belongs, an altered copy, a document that skipped validation) is a DocumentError naming the element's
path, never a bare ValueError or decimal.InvalidOperation escaping from deep inside a decode.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

from lxml import etree

from exchange.errors import DocumentError
from exchange.validation import pointer

__all__ = [
    "DATE",
    "DECIMAL",
    "INT",
    "TEXT",
    "Each",
    "Fixed",
    "Kind",
    "Leaf",
    "Part",
    "Struct",
    "View",
    "enum_kind",
    "mapped_paths",
    "read",
    "write",
]


@dataclass(frozen=True)
class Kind:
    """How one Python value is written as element text and read back."""

    dump: Callable[[Any], str]
    load: Callable[[str], Any]


TEXT = Kind(str, str)
INT = Kind(str, int)
DECIMAL = Kind(lambda value: format(value, "f"), Decimal)
DATE = Kind(date.isoformat, date.fromisoformat)


def enum_kind(cls: type[Enum]) -> Kind:
    """A code list held as an Enum: its value is the element text."""
    return Kind(lambda member: str(member.value), cls)


@dataclass(frozen=True)
class Leaf:
    """A scalar field at `path` (relative to the current element); None means the element is left out."""

    path: str
    attr: str = ""
    kind: Kind = TEXT


@dataclass(frozen=True)
class Fixed:
    """An element the schema requires whose value caravan always states the same way, e.g. a flag it never
    sets. It is written with `text` and not read back: the dataclass holds no field for it."""

    path: str
    text: str


@dataclass(frozen=True)
class Part:
    """A nested dataclass whose fields live under `path`; an empty path keeps the current element."""

    path: str
    attr: str
    struct: Struct


@dataclass(frozen=True)
class Each:
    """A tuple field: one `path` element per item.

    `numbered` items get a leading sequenceNumber that the dataclass does not hold (NCTS numbers every
    repeated group); an item given as a `Leaf` is a plain value stored at that leaf's path.
    """

    path: str
    attr: str
    item: Struct | Leaf
    numbered: bool = False


@dataclass(frozen=True)
class Struct:
    """A dataclass and where each of its fields lives, in the element order the schema requires."""

    cls: type
    fields: tuple[Leaf | Fixed | Part | Each, ...]


@cache
def _qualified(path: str, namespace: str) -> tuple[str, ...]:
    """The steps of `path` as tags."""
    steps = tuple(step for step in path.split("/") if step)
    return tuple(f"{{{namespace}}}{step}" for step in steps) if namespace else steps


def _first(element: etree._Element, tags: tuple[str, ...]) -> etree._Element | None:
    """The first element at the path of `tags` under `element` (itself for none), as `find` would give it: step
    by step through the children, which lxml matches in C where `find` goes through its ElementPath."""
    for tag in tags:
        found = next(element.iterchildren(tag), None)
        if found is None:
            return None
        element = found
    return element


def _child(parent: etree._Element, tags: tuple[str, ...]) -> etree._Element:
    """Find or create the element at the path of `tags`; reusing an existing one is what lets two tables share it."""
    for tag in tags:
        found = next(parent.iterchildren(tag), None)
        parent = etree.SubElement(parent, tag) if found is None else found
    return parent


class _Places:
    """The element paths a table reads below the element it is read from, numbered once per table: place 0 is
    that element, and every other place is one tag under an earlier one (its parent). Fields sharing a group
    (the seven TransitOperation items of a declaration) then find the group once per message, not once per
    field."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._numbers: dict[tuple[str, ...], int] = {(): 0}
        self.steps: list[tuple[int, str]] = []  # (parent place, tag) of places 1, 2, ...

    def of(self, path: str) -> int:
        """The number of the place at `path`, and of each place above it."""
        tags = _qualified(path, self._namespace)
        number = 0
        for depth in range(1, len(tags) + 1):
            known = self._numbers.get(tags[:depth])
            if known is None:
                self.steps.append((number, tags[depth - 1]))
                known = self._numbers[tags[:depth]] = len(self.steps)
            number = known
        return number


_LEAF, _FIXED, _PART, _EACH = range(4)


@dataclass(frozen=True)
class _Repeat:
    """An `Each` compiled: its items' tags, the tag each new item gets, the tag of its sequenceNumber (None: not
    numbered), and an item as a `Leaf` at `item_tags` under it or as the plan of its table."""

    tags: tuple[str, ...]
    last: str
    sequence: str | None
    item: Leaf | _Plan
    item_tags: tuple[str, ...]


@dataclass(frozen=True)
class _Plan:
    """A table compiled for one namespace, so that every message read or written walks tags and operations worked
    out once instead of the table. One operation per field, in table order: (what, attr, where, and what the
    field needs besides), where is the field's place number to read (`steps`: `_Places`) and its tags to write."""

    struct: Struct  # compiled; held here, it stays alive, so its id is never another table's
    steps: tuple[tuple[int, str], ...]
    read: tuple[tuple[Any, ...], ...]
    written: tuple[tuple[Any, ...], ...]
    by_name: Mapping[str, tuple[Any, ...]]  # the read operation of each field, by its name (what a `View` asks)


_PLANS: dict[tuple[int, str], _Plan] = {}


def _plan(struct: Struct, namespace: str) -> _Plan:
    """The plan of `struct`, compiled at its first message. A table is a constant, found by identity: hashing a
    frozen table would walk the whole of it every time."""
    plan = _PLANS.get((id(struct), namespace))
    if plan is None:
        plan = _PLANS[(id(struct), namespace)] = _compile(struct, namespace)
    return plan


def _compile(struct: Struct, namespace: str) -> _Plan:
    places = _Places(namespace)
    read: list[tuple[Any, ...]] = []
    written: list[tuple[Any, ...]] = []
    for field in struct.fields:
        if isinstance(field, Fixed):
            written.append((_FIXED, "", _qualified(field.path, namespace), field.text))
            continue
        if isinstance(field, (Leaf, Part)):
            what, extra = (_LEAF, field) if isinstance(field, Leaf) else (_PART, _plan(field.struct, namespace))
            read.append((what, field.attr, places.of(field.path), extra))
            written.append((what, field.attr, _qualified(field.path, namespace), extra))
            continue
        head, _, last = field.path.rpartition("/")
        item = field.item
        repeat = _Repeat(
            _qualified(field.path, namespace),
            _qualified(last, namespace)[0],
            _qualified("sequenceNumber", namespace)[0] if field.numbered else None,
            item if isinstance(item, Leaf) else _plan(item, namespace),
            _qualified(item.path, namespace) if isinstance(item, Leaf) else (),
        )
        read.append((_EACH, field.attr, 0, repeat))  # its items are all found from the element itself
        written.append((_EACH, field.attr, _qualified(head, namespace), repeat))
    return _Plan(struct, tuple(places.steps), tuple(read), tuple(written), {op[1]: op for op in read})


def write(element: etree._Element, obj: Any, struct: Struct, namespace: str = "") -> None:
    """Write the fields of `obj` under `element`, in table order."""
    _write(element, obj, _plan(struct, namespace))


def _write(element: etree._Element, obj: Any, plan: _Plan) -> None:
    for what, attr, tags, extra in plan.written:
        if what == _FIXED:
            _child(element, tags).text = extra
            continue
        value = getattr(obj, attr)
        if value is None:
            continue
        if what == _LEAF:
            _child(element, tags).text = extra.kind.dump(value)
        elif what == _PART:
            _write(_child(element, tags), value, extra)
        else:
            item = extra.item
            for counted, one in enumerate(value, 1):
                target = etree.SubElement(_child(element, tags), extra.last)
                if extra.sequence is not None:
                    etree.SubElement(target, extra.sequence).text = str(counted)
                if isinstance(item, Leaf):
                    _child(target, extra.item_tags).text = item.kind.dump(one)
                else:
                    _write(target, one, item)


def _load(found: etree._Element | None, leaf: Leaf) -> Any:
    if found is None:
        return None
    try:
        return leaf.kind.load(found.text or "")
    except (ValueError, ArithmeticError) as error:  # decimal.InvalidOperation is an ArithmeticError
        place = _place(found)
        reason = "not a number" if isinstance(error, ArithmeticError) else str(error)
        raise DocumentError(
            f"{place}: {found.text!r} cannot be read as {leaf.attr}: {reason}", path=place, rule="cvc-datatype-valid"
        ) from None


def _place(element: etree._Element) -> str:
    """The element's path as validation names places, or lxml's own for a document no schema declares."""
    try:
        return pointer(element)
    except DocumentError:
        return element.getroottree().getpath(element)


def read(element: etree._Element, struct: Struct, namespace: str = "", **known: Any) -> Any:
    """Build `struct.cls` from the elements under `element`; `known` supplies fields held elsewhere."""
    return _read(element, _plan(struct, namespace), known)


def _read(element: etree._Element, plan: _Plan, known: dict[str, Any]) -> Any:
    """Every place is looked up first, each once (reading looks at every one; a lookup changes nothing), then
    each field is read from its place in table order."""
    places: list[etree._Element | None] = [element]
    for parent_number, tag in plan.steps:
        parent = places[parent_number]
        places.append(None if parent is None else next(parent.iterchildren(tag), None))
    values = dict(known)
    for what, attr, number, extra in plan.read:
        if what == _LEAF:  # most fields: read here, without a call more per field
            values[attr] = _load(places[number], extra)
        else:
            values[attr] = _group(element, places[number], what, extra, _read)
    return plan.struct.cls(**values)


def _group(element: etree._Element, place: etree._Element | None, what: int, extra: Any,
           make: Callable[[etree._Element, _Plan, dict[str, Any]], Any]) -> Any:
    """A nested group's value (None where it is left out) or a repetition's tuple, each table's part made by
    `make`: built whole by `read`, or viewed by a `View`."""
    if what == _PART:
        return None if place is None else make(place, extra, {})
    item = extra.item
    return tuple(
        _load(_first(found, extra.item_tags), item) if isinstance(item, Leaf) else make(found, item, {})
        for found in _all(element, extra.tags)
    )


def _all(element: etree._Element, tags: tuple[str, ...]) -> list[etree._Element]:
    """Every element at the path of `tags`, in document order, as `findall` gives them."""
    found = [element]
    for tag in tags:
        found = [child for parent in found for child in parent.iterchildren(tag)]
    return found


class View:
    """What `read` would build, reading each field from the element only when it is first asked for.

    A reader that wants a few fields of a large message (a timeline's one-line summary wants a declaration's
    route, mass and guarantee, not its every item and party) pays for those alone. Each field reads as `read`
    reads it, with the same compiled table; a name the table does not map is the class's own: a class attribute
    (`code`), a dataclass default, a property or a method, computed on the view. The dataclass's `__init__` does not
    run: a class with a `__post_init__`, which may change what it is given, is refused on the first field.
    """

    __slots__ = ("_places", "_plan", "_values")

    def __init__(self, element: etree._Element, struct: Struct, namespace: str = "", **known: Any) -> None:
        self._plan = _plan(struct, namespace)
        self._places: dict[int, etree._Element | None] = {0: element}
        self._values = known

    @classmethod
    def _of(cls, element: etree._Element, plan: _Plan, known: dict[str, Any]) -> View:
        view = cls.__new__(cls)
        view._plan, view._places, view._values = plan, {0: element}, known
        return view

    def __getattr__(self, name: str) -> Any:
        values = self._values
        if name not in values:
            values[name] = self._field(name)
        return values[name]

    def _field(self, name: str) -> Any:
        cls = self._plan.struct.cls
        if hasattr(cls, "__post_init__"):  # its instances are not what its fields read: no view can stand in
            raise TypeError(f"{cls.__name__} changes what it is built from; read it whole")
        operation = self._plan.by_name.get(name)
        if operation is None:  # the class's own: bound to the view as to an instance (a property computed on it)
            found = inspect.getattr_static(cls, name)  # AttributeError, as the instance would raise
            return found.__get__(self, cls) if hasattr(found, "__get__") else found
        what, _, number, extra = operation
        place = self._place(number)
        return _load(place, extra) if what == _LEAF else _group(self._places[0], place, what, extra, View._of)

    def _place(self, number: int) -> etree._Element | None:
        """The element at place `number` of the plan, found through its parents as `_read` finds it."""
        places = self._places
        if number not in places:
            parent_number, tag = self._plan.steps[number - 1]
            parent = self._place(parent_number)
            places[number] = None if parent is None else next(parent.iterchildren(tag), None)
        return places[number]


def mapped_paths(struct: Struct, prefix: str = "") -> frozenset[str]:
    """The element paths (below the element `struct` is read from) whose text the table maps.

    A document with a data element outside them holds more than the dataclass: its reader can tell, and
    keep the rest some other way, rather than drop it unseen."""
    found: set[str] = set()
    for field in struct.fields:
        path = "/".join(step for step in (prefix, field.path) if step)
        if isinstance(field, (Leaf, Fixed)):
            found.add(path)
        elif isinstance(field, Part):
            found |= mapped_paths(field.struct, path)
        else:
            if field.numbered:
                found.add(f"{path}/sequenceNumber")
            item = field.item
            if isinstance(item, Leaf):
                found.add("/".join(step for step in (path, item.path) if step))
            else:
                found |= mapped_paths(item, path)
    return frozenset(found)
