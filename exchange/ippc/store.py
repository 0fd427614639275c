"""The Hub's deliveries and NPPO profiles, in the hub's own SQLite database.

One row per delivery: the Hub header, the content, how it reaches the importer (`route`: pushed or
pulled, fixed when it is accepted), its tracking state, and, when it travelled as a caravan envelope,
the id of the hub's own delivery row, so that one delivery is never tracked twice.
Writers take the aiosqlite connection of a transaction the caller holds, so a Hub state change commits
together with whatever caused it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from exchange.clock import utc
from exchange.ippc.entities import EnvelopeHeader, HubEnvelope, Receive, TrackingInfo
from exchange.store import Database

__all__ = ["SCHEMA", "Delivery", "IppcStore", "stamp"]

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ippc_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        number TEXT UNIQUE,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        certificate_type INTEGER NOT NULL,
        certificate_status INTEGER NOT NULL,
        certificate_number TEXT NOT NULL,
        content TEXT,
        route TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        caravan_delivery INTEGER UNIQUE,
        attempts INTEGER NOT NULL DEFAULT 0,
        accepted_at TEXT NOT NULL,
        settled_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ippc_queue ON ippc_deliveries (recipient, state, route, id)",
    """CREATE TABLE IF NOT EXISTS ippc_profiles (
        node_id TEXT PRIMARY KEY,
        receive TEXT NOT NULL
    )""",
)

NUMBER_PREFIX = "HUB"


@dataclass(frozen=True)
class Delivery:
    key: int
    number: str
    header: EnvelopeHeader  # with number, tracking state and error
    content: str | None
    route: Receive
    caravan_delivery: int | None
    attempts: int

    @property
    def envelope(self) -> HubEnvelope:
        return HubEnvelope(self.header, self.content)

    @property
    def state(self) -> TrackingInfo:
        assert self.header.tracking is not None
        return self.header.tracking


class IppcStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    @property
    def database(self) -> Database:
        return self._db

    async def create(self) -> None:
        async with self._db.transaction() as db:
            for statement in SCHEMA:
                await db.execute(statement)

    # -- writing (inside the caller's transaction) -----------------------------------------------------------

    async def insert(
        self,
        db: aiosqlite.Connection,
        header: EnvelopeHeader,
        content: str | None,
        *,
        route: Receive,
        state: TrackingInfo,
        at: datetime,
        error: str | None = None,
        caravan_delivery: int | None = None,
    ) -> Delivery:
        """Store a new delivery and give it its hub delivery number."""
        cursor = await db.execute(
            """INSERT INTO ippc_deliveries (sender, recipient, certificate_type, certificate_status,
                   certificate_number, content, route, state, error, caravan_delivery, accepted_at, settled_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (header.sender, header.recipient, header.certificate_type, header.certificate_status,
             header.certificate_number, content, route.value, state.value, error, caravan_delivery, stamp(at),
             None if state is TrackingInfo.PENDING_DELIVERY else stamp(at)),
        )
        key = cursor.lastrowid
        assert key is not None
        number = f"{NUMBER_PREFIX}{key:012d}"
        await db.execute("UPDATE ippc_deliveries SET number = ? WHERE id = ?", (number, key))
        return _delivery(await _one(db, "SELECT * FROM ippc_deliveries WHERE id = ?", (key,)))

    async def settle(
        self, db: aiosqlite.Connection, key: int, state: TrackingInfo, error: str | None, at: datetime,
        *, attempts: int | None = None,
    ) -> None:
        final = state is not TrackingInfo.PENDING_DELIVERY
        await db.execute(
            "UPDATE ippc_deliveries SET state = ?, error = ?, settled_at = ?, attempts = COALESCE(?, attempts) "
            "WHERE id = ?",
            (state.value, error, stamp(at) if final else None, attempts, key),
        )

    async def by_caravan(self, db: aiosqlite.Connection, caravan_delivery: int) -> Delivery | None:
        row = await _one(db, "SELECT * FROM ippc_deliveries WHERE caravan_delivery = ?", (caravan_delivery,))
        return None if row is None else _delivery(row)

    async def locked(self, db: aiosqlite.Connection, number: str) -> Delivery | None:
        row = await _one(db, "SELECT * FROM ippc_deliveries WHERE number = ?", (number.strip(),))
        return None if row is None else _delivery(row)

    # -- reading ---------------------------------------------------------------------------------------------

    async def get(self, number: str) -> Delivery | None:
        row = await self._db.fetch_one("SELECT * FROM ippc_deliveries WHERE number = ?", (number.strip(),))
        return None if row is None else _delivery(row)

    async def sent_pending(self, sender: str) -> list[Delivery]:
        return await self._many("sender = ? AND state = ?", (sender, TrackingInfo.PENDING_DELIVERY.value))

    async def awaiting_pull(self, recipient: str, sender: str | None = None) -> list[Delivery]:
        where = "recipient = ? AND route = ? AND state = ?"
        parameters: tuple[str, ...] = (recipient, Receive.PULL.value, TrackingInfo.PENDING_DELIVERY.value)
        if sender:
            where, parameters = where + " AND sender = ?", (*parameters, sender)
        return await self._many(where, parameters)

    async def next_push(self, recipient: str) -> Delivery | None:
        """The oldest delivery the hub itself must push to `recipient` (those not already caravan envelopes)."""
        rows = await self._many(
            "recipient = ? AND route = ? AND state = ? AND caravan_delivery IS NULL",
            (recipient, Receive.PUSH.value, TrackingInfo.PENDING_DELIVERY.value),
            limit=1,
        )
        return rows[0] if rows else None

    async def counts(self) -> dict[str, int]:
        rows = await self._db.fetch_all("SELECT state, COUNT(*) AS n FROM ippc_deliveries GROUP BY state")
        return {row["state"]: row["n"] for row in rows}

    async def _many(self, where: str, parameters: Iterable[str], *, limit: int = 1000) -> list[Delivery]:
        rows = await self._db.fetch_all(
            f"SELECT * FROM ippc_deliveries WHERE {where} ORDER BY id LIMIT ?", (*parameters, limit)
        )
        return [_delivery(row) for row in rows]

    # -- profiles --------------------------------------------------------------------------------------------

    async def receive_modes(self) -> dict[str, Receive]:
        rows = await self._db.fetch_all("SELECT node_id, receive FROM ippc_profiles")
        return {row["node_id"]: Receive(row["receive"]) for row in rows}

    async def set_receive(self, node_id: str, receive: Receive) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO ippc_profiles (node_id, receive) VALUES (?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET receive = excluded.receive",
                (node_id, receive.value),
            )


async def _one(db: aiosqlite.Connection, sql: str, parameters: tuple[object, ...]) -> aiosqlite.Row | None:
    async with db.execute(sql, parameters) as cursor:
        return await cursor.fetchone()


def _delivery(row: aiosqlite.Row) -> Delivery:
    header = EnvelopeHeader(
        sender=row["sender"],
        recipient=row["recipient"],
        certificate_type=row["certificate_type"],
        certificate_status=row["certificate_status"],
        certificate_number=row["certificate_number"],
        delivery_number=row["number"],
        tracking=TrackingInfo(row["state"]),
        error=row["error"],
    )
    return Delivery(row["id"], row["number"], header, row["content"], Receive(row["route"]),
                    row["caravan_delivery"], row["attempts"])


def stamp(moment: datetime) -> str:
    """The hub's timestamp format (UTC, seconds), as in its own delivery table."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
