"""Frozen dataclasses to JSON-compatible values and back, driven by their type hints.

Agency records (a movement record holding its whole declaration, a guarantee account, a certificate
version) are kept one per row in SQLite as JSON (`nodes.record_store`), so each must survive a round
trip. Writing `to_dict`/`from_dict` by hand for every class would be a second
copy of each class to keep in step; reading the annotations keeps one. Supported: dataclasses, Enum,
Decimal (as a string, so no float rounding), datetime and date (ISO 8601), str/int/bool, `X | None`,
`tuple[X, ...]` and `Mapping[str, X]` / `dict[str, X]`: what the agency states hold.

Every decision reads and writes its records this way, so the way from a type to its conversion is worked
out once per class or type hint and kept (`_writer`, `_reader`); a value then costs one call per field,
not a walk through the typing module.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

__all__ = ["from_jsonable", "to_jsonable"]

Convert = Callable[[Any], Any]

_PLAIN = (str, int, float, bool, type(None))


def to_jsonable(value: Any) -> Any:
    """`value` as nested dicts, lists, strings, numbers, booleans and None."""
    return _writer(type(value))(value)


def _same(value: Any) -> Any:
    return value


@cache
def _writer(cls: type) -> Convert:
    """How a value of class `cls` is written: chosen by what the value is, in this order."""
    if cls in _PLAIN:
        return _same
    if dataclasses.is_dataclass(cls):
        names = tuple(item.name for item in dataclasses.fields(cls))
        return lambda value: _fields(value, names)
    if issubclass(cls, Enum):
        return lambda value: value.value
    if issubclass(cls, Decimal):
        return str
    if issubclass(cls, (datetime, date)):
        return lambda value: value.isoformat()
    if issubclass(cls, Mapping):
        return lambda value: {str(key): to_jsonable(item) for key, item in value.items()}
    if issubclass(cls, tuple):
        return lambda value: [to_jsonable(item) for item in value]
    return _same


def _fields(value: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """A dataclass's fields written: most hold a plain value or None, kept as they are without a call each."""
    written = {}
    for name in names:
        item = getattr(value, name)
        written[name] = item if type(item) in _PLAIN else _writer(type(item))(item)
    return written


@cache
def _field_type(cls: type, name: str) -> Any:
    """The type of field `name` of dataclass `cls`, its annotation evaluated where it was written, on first use.

    Per field rather than per class (`typing.get_type_hints`), so that a name its module provides on demand
    (a module `__getattr__`, PEP 562: nodes.customs.model and the generated P5 bindings) is imported only when
    a record holds a value of that field, never because the record's class has one."""
    owner = next(base for base in cls.__mro__ if name in vars(base).get("__annotations__", {}))
    annotation = owner.__annotations__[name]
    if not isinstance(annotation, str):  # a module without `from __future__ import annotations`
        return annotation
    module = sys.modules[owner.__module__]
    return eval(annotation, vars(module), _OnDemand(module))  # what typing.get_type_hints does per field


class _OnDemand(Mapping[str, Any]):
    """The names `module` provides through its `__getattr__` only, as the local names of an annotation's
    evaluation: eval looks here first, and anything else falls through to the module's own globals."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module

    def __getitem__(self, name: str) -> Any:
        if name in vars(self._module):
            raise KeyError(name)
        try:
            return getattr(self._module, name)
        except AttributeError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def from_jsonable(kind: Any, data: Any) -> Any:
    """Rebuild a value of type `kind` from what `to_jsonable` produced."""
    if data is None:  # an optional value, or a required one a partial record leaves out (a P5 binding's group)
        return None
    return _reader(kind)(data)


@cache
def _reader(kind: Any) -> Convert:
    """How a value of type `kind` is read back. A dataclass's fields are resolved at its first value, so a
    class may refer to itself (through `X | None` or a tuple) without building its reader forever."""
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in arguments if option is not type(None)]
        if len(options) != 1:
            return _refuse(f"only optional unions can be read back, not {kind}")
        return _optional(options[0])
    if origin is tuple:
        return _items(arguments[0])
    if origin in (dict, Mapping):
        return _entries(arguments[1])
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _record(kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    readers: dict[Any, Convert] = {Decimal: Decimal, datetime: datetime.fromisoformat, date: date.fromisoformat,
                                   str: _same, int: _same, bool: _same}
    reader = readers.get(kind)
    return reader if reader is not None else _refuse(f"cannot read a {kind} back from JSON")


def _refuse(message: str) -> Convert:
    def refuse(data: Any) -> Any:
        raise TypeError(message)

    return refuse


def _optional(kind: Any) -> Convert:
    value = _reader(kind)
    return lambda data: None if data is None else value(data)


def _items(kind: Any) -> Convert:
    item = _reader(kind)
    return lambda data: tuple([item(value) for value in data])


def _entries(kind: Any) -> Convert:
    item = _reader(kind)
    return lambda data: {key: item(value) for key, value in data.items()}


def _record(cls: type) -> Convert:
    """A field's reader is worked out at the field's first value that is not None (`_field_type`), so a record
    whose optional P5 binding is absent never imports the bindings."""
    fields: dict[str, Convert] = {}

    def field(name: str) -> Convert:
        reader = fields.get(name)
        if reader is None:
            reader = fields[name] = _reader(_field_type(cls, name))
        return reader

    def read(data: Any) -> Any:
        values = {}
        for name, value in data.items():
            if value is not None:
                reader = fields.get(name) or field(name)
                if reader is not _same:  # a text, number or flag comes back as it is, without a call
                    value = reader(value)
            values[name] = value
        return cls(**values)

    return read
