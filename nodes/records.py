"""State per aggregate: the rows one decision loads, the partial state agencies read, the rows they write.

A node keeps each family's state as one row per aggregate (a movement at one office, a guarantee
account, a trader's movement, a certificate version, a verification request, a counter), never as one
document. A decision touches only the aggregates its trigger names:

1. The desk says what a trigger needs (`Trigger.needs`): `Key`s (one aggregate by its key: an MRN at an
   office, a GRN, a certificate number), `Lookup`s (the aggregates an index value names: a trader's
   movement by MRN, every version of a certificate number) and `Due` (every aggregate whose timer has
   passed; timers are kept in an indexed table, so a clock move reads only what is due).
2. The node loads exactly those rows (`Loaded`), and the desk builds its agencies' state from them with a
   `Layout`: the state's mappings are `Rows` and `Shelves` that hold only what was loaded. Reading a key
   that was not loaded raises `Unloaded`: the node loads that too and asks again (a data-dependent step,
   e.g. an answer names a request, and the request names the declaration it was made for).
   Scanning a partial mapping is a bug and raises TypeError: a partial state is never taken for a whole
   one. "Loaded and absent" is a real answer: the aggregate does not exist.
3. The agencies decide as they always did, state in and state out, sans-IO. `put` files a record in a
   partial mapping and remembers it, so the desk returns exactly the records that changed (`Put`) and the
   node writes them in the same transaction as the outbox, the events and the inbox mark.

A `Loaded` with `complete=True` holds every row of a family: `GET /state` uses it, and the layout builds
plain dicts from it. The hot paths (receive, act, tick) never ask for it. Agencies keep working on whole
states too (plain dicts): their own tests build them so, and `put`, `select` and `at_hand` serve both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

__all__ = [
    "COUNTER",
    "Counter",
    "Due",
    "Index",
    "Key",
    "Layout",
    "Loaded",
    "Lookup",
    "Put",
    "Query",
    "RecordKind",
    "Rows",
    "Shelved",
    "Shelves",
    "Table",
    "Trigger",
    "Unloaded",
    "at_hand",
    "put",
    "select",
]

V = TypeVar("V")


# -- what a decision asks for -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One aggregate: its kind, its id, and the office, holder or trader it is filed under ("" for none)."""

    kind: str
    id: str
    owner: str = ""


@dataclass(frozen=True)
class Lookup:
    """Every aggregate of `kind` whose `index` has `value`, under any owner."""

    kind: str
    index: str
    value: str


@dataclass(frozen=True)
class Due:
    """Every aggregate of the family whose timer is due at `at` or earlier."""

    at: datetime


Query = Key | Lookup | Due


@dataclass(frozen=True)
class Trigger:
    """A message, a scenario step or a clock move, as a desk read it, with the rows its decision needs.

    `subject` is the desk's own: the decoded message, the action and its arguments, the time. The node
    only loads `needs` and hands the trigger back to the desk with them.
    """

    needs: tuple[Query, ...]
    subject: Any


class Unloaded(Exception):
    """Raised by a decision that reads a row it was not given: the node loads `query` and asks again."""

    def __init__(self, query: Query) -> None:
        super().__init__(f"not loaded: {query}")
        self.query = query


# -- what a family keeps ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    """A secondary key of a record kind: `of(record)` is the value a `Lookup` finds it by (None: not indexed)."""

    name: str
    of: Callable[[Any], str | None]


@dataclass(frozen=True)
class RecordKind:
    """One kind of aggregate: its dataclass (for JSON), its indexes, and when its timer is due (None: no timer)."""

    name: str
    type: Any
    indexes: tuple[Index, ...] = ()
    due: Callable[[Any], datetime | None] | None = None


COUNTER = RecordKind("counter", int)
"""Sequence numbers (message serials, MRN serials), one row each, id = the counter's name."""


@dataclass(frozen=True)
class Put:
    """A record a decision created or changed; the node writes it (and its index values and timer)."""

    key: Key
    value: Any


# -- what the node loaded ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """The rows the node read for one decision, and the queries they answer.

    A `Key` in `answered` without a row in `rows` is known to be absent. `complete` means every row of
    the family is here (a snapshot): nothing is unknown.
    """

    rows: Mapping[Key, Any] = field(default_factory=dict)
    answered: frozenset[Query] = frozenset()
    complete: bool = False

    def merged(self, other: Loaded) -> Loaded:
        return Loaded({**self.rows, **other.rows}, self.answered | other.answered, self.complete or other.complete)

    def knows(self, key: Key) -> bool:
        """Whether `key`'s row, present or absent, is known: asked for, found by a lookup, or all is here."""
        return self.complete or key in self.rows or key in self.answered

    def of_kind(self, kind: str) -> Iterator[tuple[Key, Any]]:
        return ((key, value) for key, value in self.rows.items() if key.kind == kind)


# -- partial state ----------------------------------------------------------------------------------------


class Rows(Mapping[str, V]):
    """The records of one kind (under one owner, inside `Shelves`) that one decision loaded or wrote.

    Reads follow the loaded rows: a key asked for and absent is absent (or its `defaults` entry, a record
    the configuration starts with); a key never asked for raises `Unloaded`. Iterating raises TypeError:
    only part of the kind is here. Use `select` (by an index the node can load) or `at_hand`.
    """

    def __init__(
        self,
        kind: RecordKind,
        loaded: Loaded,
        owner: str = "",
        written: Mapping[str, V] | None = None,
        defaults: Mapping[str, V] | None = None,
    ) -> None:
        self.kind = kind
        self.owner = owner
        self._loaded = loaded
        self._written: Mapping[str, V] = written or {}
        self._defaults: Mapping[str, V] = defaults or {}

    def __getitem__(self, id: str) -> V:
        if id in self._written:
            return self._written[id]
        key = Key(self.kind.name, id, self.owner)
        if key in self._loaded.rows:
            value: V = self._loaded.rows[key]
            return value
        if not self._loaded.knows(key):
            raise Unloaded(key)
        if id in self._defaults:
            return self._defaults[id]
        raise KeyError(id)

    def __iter__(self) -> Iterator[str]:
        raise TypeError(f"only some {self.kind.name} records are loaded: select them by an index, not by a scan")

    def __len__(self) -> int:
        raise TypeError(f"only some {self.kind.name} records are loaded: they cannot be counted")

    def put(self, id: str, value: V) -> Rows[V]:
        return Rows(self.kind, self._loaded, self.owner, {**self._written, id: value}, self._defaults)

    def written(self) -> tuple[Put, ...]:
        return tuple(Put(Key(self.kind.name, id, self.owner), value) for id, value in self._written.items())

    def at_hand(self) -> list[V]:
        """The records this decision holds: those loaded (by key, lookup or due timer) as this decision left them."""
        held = {key.id: value for key, value in self._loaded.of_kind(self.kind.name) if key.owner == self.owner}
        return list({**held, **self._written}.values())

    def select(self, index: Index, value: str) -> list[V]:
        """The records whose `index` is `value`; `Unloaded` until the node has run that lookup."""
        _require(self._loaded, Lookup(self.kind.name, index.name, value))
        return [record for record in self.at_hand() if index.of(record) == value]


class Shelves(Mapping[str, Rows[V]]):
    """Records of one kind filed by owner and id (`book[office][mrn]`), partially loaded: one `Rows` per owner.

    Any owner reads as a `Rows` (its records may simply not be loaded); iterating owners raises TypeError.
    """

    def __init__(self, kind: RecordKind, loaded: Loaded, shelves: Mapping[str, Rows[V]] | None = None) -> None:
        self.kind = kind
        self._loaded = loaded
        self._shelves: Mapping[str, Rows[V]] = shelves or {}

    def __getitem__(self, owner: str) -> Rows[V]:
        shelf = self._shelves.get(owner)
        return Rows(self.kind, self._loaded, owner) if shelf is None else shelf

    def __iter__(self) -> Iterator[str]:
        raise TypeError(f"only some {self.kind.name} records are loaded: their owners cannot be listed")

    def __len__(self) -> int:
        raise TypeError(f"only some {self.kind.name} records are loaded: they cannot be counted")

    def put(self, owner: str, rows: Rows[V]) -> Shelves[V]:
        return Shelves(self.kind, self._loaded, {**self._shelves, owner: rows})

    def written(self) -> tuple[Put, ...]:
        return tuple(change for rows in self._shelves.values() for change in rows.written())

    def at_hand(self) -> list[V]:
        owners = {key.owner for key, _ in self._loaded.of_kind(self.kind.name)} | set(self._shelves)
        return [record for owner in sorted(owners) for record in self[owner].at_hand()]

    def select(self, index: Index, value: str) -> list[V]:
        """The records of any owner whose `index` is `value`; `Unloaded` until the node has run that lookup."""
        _require(self._loaded, Lookup(self.kind.name, index.name, value))
        return [record for record in self.at_hand() if index.of(record) == value]


def _require(loaded: Loaded, lookup: Lookup) -> None:
    if not loaded.complete and lookup not in loaded.answered:
        raise Unloaded(lookup)


def put(mapping: Mapping[str, V], key: str, value: V) -> Mapping[str, V]:
    """`mapping` with `key` set to `value`, the original untouched; a partial mapping remembers the write."""
    if isinstance(mapping, (Rows, Shelves)):
        return mapping.put(key, value)  # type: ignore[arg-type, return-value]
    return {**mapping, key: value}


def select(mapping: Mapping[str, Any], index: Index, value: str, *, shelved: bool = False) -> list[Any]:
    """The records of `mapping` whose `index` is `value`: a scan of a whole mapping, a lookup of a partial one.

    `shelved`: `mapping` files records by owner first (`book[office][mrn]`); records of every owner count.
    """
    if isinstance(mapping, (Rows, Shelves)):
        return mapping.select(index, value)
    return [record for record in at_hand(mapping, shelved=shelved) if index.of(record) == value]


def at_hand(mapping: Mapping[str, Any], *, shelved: bool = False) -> list[Any]:
    """Every record of a whole mapping, or the records a partial one holds (what a timer check looks at)."""
    if isinstance(mapping, (Rows, Shelves)):
        return mapping.at_hand()
    if shelved:
        return [record for shelf in mapping.values() for record in shelf.values()]
    return list(mapping.values())


# -- layouts: an agency state dataclass ↔ rows ------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A state field `Mapping[id, record]`: one row per record."""

    field: str
    kind: RecordKind


@dataclass(frozen=True)
class Shelved:
    """A state field `Mapping[owner, Mapping[id, record]]`: one row per record, filed under its owner."""

    field: str
    kind: RecordKind


@dataclass(frozen=True)
class Counter:
    """A state field holding a sequence number: one `counter` row named `name`; every decision loads it."""

    field: str
    name: str

    @property
    def key(self) -> Key:
        return Key(COUNTER.name, self.name)


Part = Table | Shelved | Counter

S = TypeVar("S")


@dataclass(frozen=True)
class Layout(Generic[S]):
    """Where every field of an agency's state dataclass is kept, so that the state can be built from rows
    (partial for a decision, whole for a snapshot) and the rows a decision changed read off it."""

    type: Callable[..., S]
    parts: tuple[Part, ...]

    @property
    def kinds(self) -> dict[str, RecordKind]:
        kinds = {part.kind.name: part.kind for part in self.parts if not isinstance(part, Counter)}
        return {**kinds, COUNTER.name: COUNTER} if self.counters else kinds

    @property
    def counters(self) -> tuple[Key, ...]:
        """The counter rows: needed by every decision, since any decision may number a message."""
        return tuple(part.key for part in self.parts if isinstance(part, Counter))

    def state(self, loaded: Loaded, defaults: Mapping[str, Mapping[str, Any]] | None = None) -> S:
        """The state the loaded rows make: partial mappings, or plain dicts when `loaded` is complete.

        `defaults` gives, per field, the records the configuration starts with (a guarantee register)
        until a decision writes them.
        """
        defaults = defaults or {}
        fields: dict[str, Any] = {}
        for part in self.parts:
            if isinstance(part, Counter):
                if not loaded.knows(part.key):
                    raise Unloaded(part.key)
                fields[part.field] = loaded.rows.get(part.key, 0)
            elif loaded.complete:
                fields[part.field] = _whole(part, loaded, defaults.get(part.field, {}))
            elif isinstance(part, Table):
                fields[part.field] = Rows(part.kind, loaded, defaults=defaults.get(part.field))
            else:
                fields[part.field] = Shelves(part.kind, loaded)
        return self.type(**fields)

    def changes(self, before: S, after: S) -> tuple[Put, ...]:
        """The rows a decision wrote, from the partial state it started with and the one it returned."""
        changes: list[Put] = []
        for part in self.parts:
            value = getattr(after, part.field)
            if isinstance(part, Counter):
                if value != getattr(before, part.field):
                    changes.append(Put(part.key, value))
            elif isinstance(value, (Rows, Shelves)):
                changes.extend(value.written())
            else:
                raise TypeError(f"{part.field} was replaced by a whole mapping: write records with put()")
        return tuple(changes)

    def rows(self, state: S) -> tuple[Put, ...]:
        """Every row of a whole state (plain mappings): what a node would hold after the same decisions."""
        changes: list[Put] = []
        for part in self.parts:
            value = getattr(state, part.field)
            if isinstance(part, Counter):
                changes.append(Put(part.key, value))
            elif isinstance(part, Table):
                changes.extend(Put(Key(part.kind.name, id), record) for id, record in value.items())
            else:
                changes.extend(
                    Put(Key(part.kind.name, id, owner), record)
                    for owner, shelf in value.items()
                    for id, record in shelf.items()
                )
        return tuple(changes)


def _whole(part: Table | Shelved, loaded: Loaded, defaults: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(part, Table):
        return {**defaults, **{key.id: value for key, value in loaded.of_kind(part.kind.name)}}
    shelves: dict[str, dict[str, Any]] = {}
    for key, value in loaded.of_kind(part.kind.name):
        shelves.setdefault(key.owner, {})[key.id] = value
    return shelves
