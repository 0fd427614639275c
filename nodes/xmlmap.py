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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import Enum
from functools import cache, cached_property
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

    @cached_property
    def mapped(self) -> dict[str, Leaf | Part | Each]:
        """The fields read from the document, by dataclass field name (what a `View` looks a name up in)."""
        if hasattr(self.cls, "__post_init__"):  # its instances are not what its fields read: no view can stand in
            raise TypeError(f"{self.cls.__name__} changes what it is built from; read it whole")
        return {field.attr: field for field in self.fields if not isinstance(field, Fixed)}


@cache
def _qualified(path: str, namespace: str) -> tuple[str, ...]:
    """The steps of `path` as tags; kept per table path, since every message read or written asks again."""
    steps = tuple(step for step in path.split("/") if step)
    return tuple(f"{{{namespace}}}{step}" for step in steps) if namespace else steps


def _child(parent: etree._Element, path: str, namespace: str) -> etree._Element:
    """Find or create the element at `path`; reusing an existing one is what lets two tables share it."""
    for step in _qualified(path, namespace):
        found = next(parent.iterchildren(step), None)
        parent = etree.SubElement(parent, step) if found is None else found
    return parent


def _first(element: etree._Element, path: str, namespace: str) -> etree._Element | None:
    """The first element at `path` under `element` (itself for an empty path), as `find` would give it: step
    by step through the children, which lxml matches in C where `find` goes through its ElementPath."""
    for step in _qualified(path, namespace):
        found = next(element.iterchildren(step), None)
        if found is None:
            return None
        element = found
    return element


def _new_child(parent: etree._Element, path: str, namespace: str) -> etree._Element:
    """Create the last step of `path` afresh (a repetition), finding or creating the steps above it."""
    head, _, last = path.rpartition("/")
    return etree.SubElement(_child(parent, head, namespace), _qualified(last, namespace)[0])


@cache
def _find_path(path: str, namespace: str) -> str:
    return "/".join(_qualified(path, namespace))


def write(element: etree._Element, obj: Any, struct: Struct, namespace: str = "") -> None:
    """Write the fields of `obj` under `element`, in table order."""
    for field in struct.fields:
        if isinstance(field, Fixed):
            _child(element, field.path, namespace).text = field.text
            continue
        value = getattr(obj, field.attr)
        if value is None:
            continue
        if isinstance(field, Leaf):
            _child(element, field.path, namespace).text = field.kind.dump(value)
        elif isinstance(field, Part):
            write(_child(element, field.path, namespace), value, field.struct, namespace)
        else:
            for number, item in enumerate(value, 1):
                target = _new_child(element, field.path, namespace)
                if field.numbered:
                    etree.SubElement(target, _qualified("sequenceNumber", namespace)[0]).text = str(number)
                if isinstance(field.item, Leaf):
                    _child(target, field.item.path, namespace).text = field.item.kind.dump(item)
                else:
                    write(target, item, field.item, namespace)


def _read_leaf(element: etree._Element, leaf: Leaf, namespace: str) -> Any:
    found = _first(element, leaf.path, namespace)
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
    values = dict(known)
    for field in struct.fields:
        if isinstance(field, Leaf):  # most fields: read here, without a call more per field
            values[field.attr] = _read_leaf(element, field, namespace)
        elif not isinstance(field, Fixed):
            values[field.attr] = _read_group(element, field, namespace, read)
    return struct.cls(**values)


def _read_group(element: etree._Element, field: Part | Each, namespace: str,
                make: Callable[[etree._Element, Struct, str], Any]) -> Any:
    """A nested group's value (None when it is left out) or a repetition's tuple, each struct made by `make`."""
    if isinstance(field, Part):
        inner = _first(element, field.path, namespace)
        return None if inner is None else make(inner, field.struct, namespace)
    item = field.item
    return tuple(
        _read_leaf(found, item, namespace) if isinstance(item, Leaf) else make(found, item, namespace)
        for found in element.findall(_find_path(field.path, namespace))
    )


class View:
    """What `read` would build, reading each field from the element only when it is first asked for.

    A reader that wants a few fields of a large message (a timeline's one-line summary wants a declaration's
    route, mass and guarantee, not its every item and party) pays for those alone. Each field reads as `read`
    reads it, from the same table; a name the table does not map is the class's own: a class attribute
    (`code`), a dataclass default or a property, computed on the view. The dataclass's `__init__` does not
    run: a class with a `__post_init__`, which may change what it is given, is refused on the first field.
    """

    __slots__ = ("_element", "_namespace", "_struct", "_values")

    def __init__(self, element: etree._Element, struct: Struct, namespace: str = "", **known: Any) -> None:
        self._element = element
        self._struct = struct
        self._namespace = namespace
        self._values = known

    def __getattr__(self, name: str) -> Any:
        values = self._values
        if name not in values:
            values[name] = self._field(name)
        return values[name]

    def _field(self, name: str) -> Any:
        field = self._struct.mapped.get(name)
        if isinstance(field, Leaf):
            return _read_leaf(self._element, field, self._namespace)
        if field is not None:
            return _read_group(self._element, field, self._namespace, View)
        found = inspect.getattr_static(self._struct.cls, name)  # AttributeError, as the instance would raise
        return found.fget(self) if isinstance(found, property) else found


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
