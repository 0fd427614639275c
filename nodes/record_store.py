"""A node's agency state in SQLite: one row per aggregate, its index values, its timer.

Three tables, created with the node's schema (`RECORD_SCHEMA`):

- `records (family, kind, owner, id, data)`: one record as JSON (`nodes.jsonable`), keyed by what
  identifies the aggregate (`nodes.records.Key`): a movement at one office is (departure, UZ000100,
  <MRN>), a guarantee account (guarantee, "", <GRN>);
- `record_index (family, kind, owner, id, name, value)`: the value of each secondary key a record kind
  declares, so a `Lookup` (a trader's movement by MRN, every version of a certificate number) is an
  index search, not a scan;
- `timers (family, kind, owner, id, due_at)`: when a record's timer fires, for the kinds that have one;
  a clock move reads `due_at <= now` through the `timers_due` index, never every record.

`decision` runs one desk decision on exactly the rows it needs: it loads what the trigger names, hands
them to the desk, and loads any further row the decision asks for (`nodes.desk.decision_rounds`).
`write` files what the decision changed inside the caller's transaction (the node commits outbox
envelopes, events, the inbox mark and these rows together, or none of them). A store keeps the records
it last wrote or read with their JSON, so a row read back as it was left is not decoded again.
`load_page` reads a family for `GET /state` a page at a time (`nodes.state_pages`). The desk decides;
this module only reads and writes.

A store written before state was kept per aggregate holds each family as one JSON document in a
`desk_state` table. `refuse_whole_state_store` refuses such a store with a clear message instead of
migrating it: stores belong to one run (`caravan run` starts from empty ones), the old documents stay
untouched for the caravan version that wrote them, and no second reader of the old format has to live on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exchange.clock import utc
from exchange.errors import StoreError
from exchange.store import Database, Transaction
from nodes.desk import Desk, DeskResult, decision_rounds
from nodes.jsonable import from_jsonable, to_jsonable
from nodes.records import Due, Key, Loaded, Lookup, Put, Query, RecordKind, Trigger

__all__ = ["RECORD_SCHEMA", "Access", "RecordStore", "decode", "encode", "refuse_whole_state_store"]

RECORD_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        family TEXT NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        id TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (family, kind, owner, id)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS record_index (
        family TEXT NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        id TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (family, kind, owner, id, name)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS record_index_value ON record_index (family, kind, name, value)",
    """CREATE TABLE IF NOT EXISTS timers (
        family TEXT NOT NULL,
        kind TEXT NOT NULL,
        owner TEXT NOT NULL,
        id TEXT NOT NULL,
        due_at TEXT NOT NULL,
        PRIMARY KEY (family, kind, owner, id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS timers_due ON timers (family, due_at)",
)

Access = Callable[[str, str, Key], None]
"""Told of every row read ("read") and written ("write"), with the family: how tests see what a decision touched."""

Kinds = Mapping[str, RecordKind]


_JSON = json.JSONEncoder(separators=(",", ":"))  # what json.dumps builds anew for every call with these options


def encode(value: Any) -> str:
    """A record as the JSON its row holds."""
    return _JSON.encode(to_jsonable(value))


def decode(kind: RecordKind, data: str) -> Any:
    """A record back from its row's JSON."""
    return from_jsonable(kind.type, json.loads(data))


_SELECTS: Mapping[type, str] = {
    Key: "SELECT kind, owner, id, data FROM records WHERE family = ? AND kind = ? AND owner = ? AND id = ?",
    Lookup: "SELECT r.kind, r.owner, r.id, r.data FROM record_index AS i JOIN records AS r "
            "USING (family, kind, owner, id) WHERE i.family = ? AND i.kind = ? AND i.name = ? AND i.value = ?",
    Due: "SELECT r.kind, r.owner, r.id, r.data FROM timers AS t JOIN records AS r "
         "USING (family, kind, owner, id) WHERE t.family = ? AND t.due_at <= ?",
}
"""One point search per query, each through the primary key or an index (never a scan of the family)."""

_PAGE = "SELECT kind, owner, id, data FROM records WHERE family = ?{after} ORDER BY kind, owner, id LIMIT ?"
_AFTER = " AND (kind, owner, id) > (?, ?, ?)"
"""A snapshot's page: a range of the primary key (family, kind, owner, id), never the whole family at once."""

_QUERIES_PER_STATEMENT = 100  # well under SQLite's limit of 500 terms in one compound SELECT

_KEPT_ROWS = 256
"""How many rows a store keeps decoded (`RecordStore._kept`), the least recently used leaving first. On the
11-country corridor traffic a node finds 87 % of its reads kept at 256 rows (1,000 movements; 96 % at 100), 97 %
at 1,024: a movement's rows come back within a few of its steps. Each row kept costs its JSON and its record,
about 2.4 + 7 KB for a departure (tracemalloc): at most 25 MB for eleven busy nodes, against the 300 MB target."""


def _parameters(family: str, query: Query) -> tuple[str, ...]:
    if isinstance(query, Key):
        return (family, query.kind, query.owner, query.id)
    if isinstance(query, Lookup):
        return (family, query.kind, query.index, query.value)
    return (family, _instant(query.at))


def _instant(moment: datetime) -> str:
    """A timer's moment as text that sorts as time does (UTC, fixed width)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%f")


class RecordStore:
    """Loads and writes the aggregates of a node's families in the node's database."""

    def __init__(self, database: Database, access: Access | None = None) -> None:
        self._db = database
        self._access = access
        # (family, kind, owner, id) -> the row's JSON as this store last wrote or read it, and its record: a row
        # read back as it was written is not decoded again. Its JSON decides, never the store's belief: a write
        # whose transaction was rolled back, or a row changed behind the store, reads as a different row and is
        # decoded. Records are immutable (frozen dataclasses, changed by `replace`), so one may serve many
        # decisions.
        self._kept: dict[tuple[str, str, str, str], tuple[str, Any]] = {}

    async def decision(self, desk: Desk, trigger: Trigger, now: datetime) -> DeskResult:
        """`desk`'s decision on `trigger`, given the rows it names and then each further row it asks for."""
        rounds = decision_rounds(desk, trigger, now)
        queries = next(rounds)
        while True:
            loaded = await self.load(desk.family, desk.kinds, queries)
            try:
                queries = rounds.send(loaded)
            except StopIteration as decided:
                result: DeskResult = decided.value
                return result

    async def load(self, family: str, kinds: Kinds, queries: Iterable[Query]) -> Loaded:
        """The rows `queries` name, decoded, in one statement; every query counts as answered, found or not."""
        asked = tuple(dict.fromkeys(queries))
        rows: list[Any] = []
        for start in range(0, len(asked), _QUERIES_PER_STATEMENT):
            chosen = asked[start:start + _QUERIES_PER_STATEMENT]
            statement = " UNION ALL ".join(_SELECTS[type(query)] for query in chosen)
            rows += await self._db.fetch_all(statement, [value for query in chosen
                                                         for value in _parameters(family, query)])
        return Loaded(self._decoded(family, kinds, rows), frozenset(asked))

    async def next_due(self, families: Iterable[str]) -> datetime | None:
        """The earliest timer of these families: a clock move before it finds nothing due."""
        return min(filter(None, (await self.next_due_each(families)).values()), default=None)

    async def next_due_each(self, families: Iterable[str]) -> dict[str, datetime | None]:
        """Each family's earliest timer (None: none set), in one statement: a node's status reading asks for every
        family's, and a clock move before a family's finds nothing due there.

        One index probe per family: each is a scalar subquery of its own, a lone MIN over one family, which
        SQLite answers from the first entry of `timers_due` (a MIN beside other columns or over several
        families would walk their timers)."""
        names = tuple(dict.fromkeys(families))
        if not names:
            return {}
        probes = ", ".join("(SELECT MIN(due_at) FROM timers WHERE family = ?)" for _ in names)
        row = await self._db.fetch_one(f"SELECT {probes}", names)
        assert row is not None  # a SELECT without FROM gives one row
        return {name: None if due is None else datetime.fromisoformat(due).replace(tzinfo=timezone.utc)
                for name, due in zip(names, row, strict=True)}

    async def load_page(self, family: str, kinds: Kinds, after: Key | None, limit: int) -> Loaded:
        """Up to `limit` rows of `family` after `after` (from the first without), in key order: a page of a
        snapshot, never for a decision. The page counts as complete: it builds plain mappings of what it
        holds (`Layout.state`), and a snapshot reads nothing but what is there."""
        if after is None:
            rows = await self._db.fetch_all(_PAGE.format(after=""), (family, limit))
        else:
            rows = await self._db.fetch_all(_PAGE.format(after=_AFTER), (family, after.kind, after.owner, after.id,
                                                                        limit))
        return Loaded(self._decoded(family, kinds, rows), complete=True)

    async def write(self, db: Transaction, family: str, kinds: Kinds, puts: Sequence[Put]) -> None:
        """File `puts` (records with their index values and timers) in the open transaction `db`."""
        if not puts:
            return
        records: list[tuple[str, ...]] = []
        indexed: list[tuple[str, ...]] = []
        unindexed: list[tuple[str, ...]] = []
        timers: list[tuple[str, ...]] = []
        stopped: list[tuple[str, ...]] = []
        for put in puts:
            kind, key = kinds[put.key.kind], put.key
            where = (family, key.kind, key.owner, key.id)
            data = encode(put.value)
            records.append((*where, data))
            self._keep(where, data, put.value)
            for index in kind.indexes:
                value = index.of(put.value)
                if value is None:
                    unindexed.append((*where, index.name))
                else:
                    indexed.append((*where, index.name, value))
            due = None if kind.due is None else kind.due(put.value)
            if due is not None:
                timers.append((*where, _instant(due)))
            elif kind.due is not None:
                stopped.append(where)
            if self._access is not None:
                self._access("write", family, key)
        statements = {
            "INSERT INTO records (family, kind, owner, id, data) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (family, kind, owner, id) DO UPDATE SET data = excluded.data": records,
            "INSERT OR REPLACE INTO record_index (family, kind, owner, id, name, value) VALUES (?, ?, ?, ?, ?, ?)":
                indexed,
            "DELETE FROM record_index WHERE family = ? AND kind = ? AND owner = ? AND id = ? AND name = ?": unindexed,
            "INSERT OR REPLACE INTO timers (family, kind, owner, id, due_at) VALUES (?, ?, ?, ?, ?)": timers,
            "DELETE FROM timers WHERE family = ? AND kind = ? AND owner = ? AND id = ?": stopped,
        }
        for statement, rows in statements.items():
            if rows:
                await db.executemany(statement, rows)

    def _decoded(self, family: str, kinds: Kinds, rows: Iterable[Any]) -> dict[Key, Any]:
        decoded = {}
        for row in rows:
            key = Key(row["kind"], row["id"], row["owner"])
            where, data = (family, key.kind, key.owner, key.id), row["data"]
            kept = self._kept.get(where)
            if kept is not None and kept[0] == data:
                decoded[key] = kept[1]
            else:
                decoded[key] = decode(kinds[key.kind], data)
            self._keep(where, data, decoded[key])
            if self._access is not None:
                self._access("read", family, key)
        return decoded

    def _keep(self, where: tuple[str, str, str, str], data: str, record: Any) -> None:
        """Keep `record` as the row at `where` holding `data`, as the most recently used row."""
        self._kept.pop(where, None)
        self._kept[where] = (data, record)
        if len(self._kept) > _KEPT_ROWS:
            del self._kept[next(iter(self._kept))]


async def refuse_whole_state_store(path: Path) -> None:
    """Refuse a store that keeps a family's state as one document (`desk_state`), naming what to do instead.

    Looked at before the node's schema is applied, so a refused store is left as it was found.
    """
    if not path.exists():
        return
    database = await Database.open(path, ())
    try:
        found = await database.fetch_one(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'desk_state'"
        )
    finally:
        await database.close()
    if found is not None:
        raise StoreError(
            f"{path} keeps agency state as one JSON document per family (table desk_state), as caravan did "
            "before state was kept per aggregate; this version keeps one row per movement, certificate and "
            "guarantee and does not read the old form. Run the scenario again into a fresh directory, or open "
            "this store with the caravan version that wrote it.",
            document=str(path),
            path="desk_state",
            rule="whole-state-store",
        )
