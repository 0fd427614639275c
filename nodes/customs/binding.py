"""CATS messages through the data bindings generated from caravan's schemas (nodes/customs/p5/, `make bindings`).

The domain classes (`nodes.customs.model`) hold what the state machines decide on; a P5 message holds far
more (a CC015C has 313 element paths: LocationOfGoods, DepartureTransportMeans, Authorisation, the house
consignments' parties...). The bindings hold all of it, so nothing a trader or an office sends is lost:

1. `bind` reads an already parsed message into its generated class, walking the lxml tree the node parsed
   once at intake (the tree stays intact: the desk still points into it and forwards it as written).
2. `carry` copies a bound object into another generated class by the P5 names the two share. The schema of
   the target decides what travels: a CC015C's groups carried into a CC029C keep exactly those the CC029C
   schema has, and each class keeps the schema's element order.
3. `complete` fills what one bound message leaves out from another: the domain's own message (MRN, dates,
   decisions) stays as the office wrote it, and every group the domain does not hold comes from the
   declaration as lodged.
4. `render` writes a bound message back as an lxml tree.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, TypeVar

from lxml import etree
from xsdata.formats.dataclass.context import XmlContext
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.handlers import LxmlEventHandler
from xsdata.formats.dataclass.serializers import TreeSerializer

from nodes.customs import p5

__all__ = ["MESSAGE_HEADER", "bind", "carry", "complete", "render"]

NCTS_NS = "http://ncts.dgtaxud.ec"

MESSAGE_HEADER = frozenset(
    {
        "message_sender",
        "message_recipient",
        "preparation_date_and_time",
        "message_identification",
        "message_type",
        "correlation_identifier",
        "phase_id",
    }
)
"""The MESSAGE group and PhaseID: each message states its own, never one carried from another message."""

_SKIPPED = MESSAGE_HEADER | {"other_element"}
"""Not carried: the header, and the enveloped-signature wildcard (signatures travel in the envelope)."""

_CONTEXT = XmlContext()
"""xsdata's per-class metadata cache, built once per process and shared by every parse and render."""

Bound = TypeVar("Bound")


class _Ended:
    """What xsdata's parser reads of an element at its end event, without the element itself."""

    __slots__ = ("tag", "text", "tail")

    def __init__(self, element: etree._Element) -> None:
        self.tag, self.text, self.tail = element.tag, element.text, element.tail

    def clear(self) -> None:
        """xsdata clears each element it has read, to save memory while streaming a file; here the tree
        is the node's own (still needed for pointers and forwarding), so the clearing is of this copy."""


class _TreeHandler(LxmlEventHandler):
    """xsdata's lxml handler over a tree already parsed, leaving the tree as it was."""

    def parse(self, source: Any, ns_map: dict[str | None, str]) -> Any:
        return self.process_context(_elements_only(etree.iterwalk(source, ("start", "end", "start-ns"))), ns_map)


def _elements_only(events: Iterable[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    for event, element in events:
        if event == "start-ns":
            yield event, element
        elif isinstance(element.tag, str):  # comments and processing instructions are no data
            yield event, (_Ended(element) if event == "end" else element)


def bind(root: etree._Element) -> Any:
    """The message `root` as its generated class (`p5.CC015C` for a `ncts:CC015C` root)."""
    message_class = getattr(p5, etree.QName(root).localname)
    return XmlParser(context=_CONTEXT, handler=_TreeHandler).parse(root, message_class)


def render(message: Any) -> etree._Element:
    """The bound `message` as an lxml tree, the root qualified (`ncts:`) and its children not, as P5 writes."""
    return TreeSerializer(context=_CONTEXT).render(message, ns_map={"ncts": NCTS_NS}).getroot()


@cache
def _element_classes(cls: type) -> dict[str, type | None]:
    """For each field of a generated class: the generated class of its elements, or None for a value."""
    found: dict[str, type | None] = {}
    for name, hint in typing.get_type_hints(cls).items():
        inner = [arg for arg in _flatten(hint) if dataclasses.is_dataclass(arg)]
        found[name] = inner[0] if inner else None
    return found


def _flatten(hint: Any) -> Iterator[Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType, tuple):
        for argument in typing.get_args(hint):
            yield from _flatten(argument)
    else:
        yield hint


def _empty(value: Any) -> bool:
    return value is None or value == ()


def carry(source: Any, target: type[Bound]) -> Bound:
    """`source` as an instance of the generated class `target`: each field `target` shares by name with
    `source`, converted to the target's own classes; a field `target` has and `source` lacks is None or
    empty (a required one too: the object is a store of groups, `complete` decides what is written)."""
    values: dict[str, Any] = {}
    for field in dataclasses.fields(target):  # type: ignore[arg-type]
        value = None if field.name in _SKIPPED else getattr(source, field.name, None)
        values[field.name] = _convert(value, _element_classes(target)[field.name])
    return target(**values)


def _convert(value: Any, element_class: type | None) -> Any:
    if isinstance(value, tuple):
        return tuple(_convert(item, element_class) for item in value)
    if element_class is not None and dataclasses.is_dataclass(value):
        return carry(value, element_class)
    return value


def complete(message: Bound, lodged: Any) -> Bound:
    """`message` with each field it leaves empty taken from `lodged`, where its schema has that field.

    What `message` states wins: it is the office's decision (an MRN, a release date, an amended route).
    Groups present in both are completed field by field; repeated groups pair by position when both have
    the same number, which they do when the domain's message was made from the lodged one."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(message):  # type: ignore[arg-type]
        if field.name in _SKIPPED:
            continue
        ours, theirs = getattr(message, field.name), getattr(lodged, field.name, None)
        if _empty(theirs):
            continue
        element_class = _element_classes(type(message))[field.name]
        if _empty(ours):
            changes[field.name] = _convert(theirs, element_class)
        elif element_class is None:
            continue
        elif isinstance(ours, tuple) and isinstance(theirs, tuple) and len(ours) == len(theirs):
            changes[field.name] = tuple(complete(mine, one) for mine, one in zip(ours, theirs, strict=True))
        elif dataclasses.is_dataclass(ours) and dataclasses.is_dataclass(theirs):
            changes[field.name] = complete(ours, theirs)
    return dataclasses.replace(message, **changes) if changes else message  # type: ignore[type-var]
