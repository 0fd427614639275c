"""Frozen dataclasses to JSON-compatible values and back, driven by their type hints.

Agency records (a movement record holding its whole declaration, a guarantee account, a certificate
version) are kept one per row in SQLite as JSON (`nodes.record_store`), so each must survive a round
trip. Writing `to_dict`/`from_dict` by hand for every class would be a second
copy of each class to keep in step; reading the annotations keeps one. Supported: dataclasses, Enum,
Decimal (as a string, so no float rounding), datetime and date (ISO 8601), str/int/bool, `X | None`,
`tuple[X, ...]` and `Mapping[str, X]` / `dict[str, X]`: what the agency states hold.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

__all__ = ["from_jsonable", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """`value` as nested dicts, lists, strings, numbers, booleans and None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: to_jsonable(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [to_jsonable(item) for item in value]
    return value


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


def _read_field(cls: type, name: str, data: Any) -> Any:
    """A field's value read back; an absent value (None) never needs, so never resolves, the field's type."""
    return None if data is None else from_jsonable(_field_type(cls, name), data)


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
    origin = typing.get_origin(kind)
    arguments = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in arguments if option is not type(None)]
        if len(options) != 1:
            raise TypeError(f"only optional unions can be read back, not {kind}")
        return from_jsonable(options[0], data)
    if origin is tuple:
        return tuple(from_jsonable(arguments[0], item) for item in data)
    if origin in (dict, Mapping):
        return {key: from_jsonable(arguments[1], item) for key, item in data.items()}
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return kind(**{name: _read_field(kind, name, item) for name, item in data.items()})
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(data)
    if kind is Decimal:
        return Decimal(data)
    if kind is datetime:
        return datetime.fromisoformat(data)
    if kind is date:
        return date.fromisoformat(data)
    if kind in (str, int, bool):
        return data
    raise TypeError(f"cannot read a {kind} back from JSON")
