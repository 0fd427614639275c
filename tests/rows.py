"""Agency state as rows, for tests that drive desks without a node: in memory, answering queries as a node does.

`MemoryRows` keeps one family's rows the way `nodes.record_store.RecordStore` keeps them in SQLite (every
record through its row's JSON, found by key, by index value or by due timer), so a desk decides on
exactly the rows it would get in a node, round by round (`decide`). `through_rows` writes a whole state
as rows and reads it back, the round trip every record makes through a node's store.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from nodes.desk import Desk, DeskResult, decision_rounds
from nodes.record_store import decode, encode
from nodes.records import Due, Key, Layout, Loaded, Lookup, Put, Query, RecordKind, Trigger

S = TypeVar("S")


def through_rows(layout: Layout[S], state: S) -> S:
    """`state` written as one row per record and read back whole."""
    kinds = layout.kinds
    rows = {put.key: decode(kinds[put.key.kind], encode(put.value)) for put in layout.rows(state)}
    return layout.state(Loaded(rows, complete=True))


class MemoryRows:
    """One family's rows in memory; `loaded` lists every row each decision read, `written` every row it wrote."""

    def __init__(self, kinds: dict[str, RecordKind]) -> None:
        self.kinds = kinds
        self.rows: dict[Key, str] = {}
        self.loaded: list[Key] = []
        self.written: list[Key] = []

    def load(self, queries: Iterable[Query]) -> Loaded:
        asked = tuple(queries)
        found = {key: decode(self.kinds[key.kind], data) for key, data in self.rows.items()
                 if any(self._answers(query, key, data) for query in asked)}
        self.loaded.extend(found)
        return Loaded(found, frozenset(asked))

    def load_all(self) -> Loaded:
        return Loaded({key: decode(self.kinds[key.kind], data) for key, data in self.rows.items()}, complete=True)

    def write(self, puts: Iterable[Put]) -> None:
        for put in puts:
            self.rows[put.key] = encode(put.value)
            self.written.append(put.key)

    def decide(self, desk: Desk, trigger: Trigger, now: datetime) -> DeskResult:
        """The desk's decision, loading round by round as a node's store does, and its changes written."""
        rounds = decision_rounds(desk, trigger, now)
        queries = next(rounds)
        while True:
            try:
                queries = rounds.send(self.load(queries))
            except StopIteration as decided:
                result: DeskResult = decided.value
                self.write(result.changes)
                return result

    def _answers(self, query: Query, key: Key, data: str) -> bool:
        if isinstance(query, Key):
            return query == key
        kind = self.kinds[key.kind]
        value: Any = decode(kind, data)
        if isinstance(query, Lookup):
            return key.kind == query.kind and any(
                index.name == query.index and index.of(value) == query.value for index in kind.indexes
            )
        assert isinstance(query, Due)
        due = kind.due(value) if kind.due is not None else None
        return due is not None and due <= query.at
