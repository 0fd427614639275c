"""The Hub's deliveries and NPPO profiles, in the hub's own SQLite database.

One row per delivery: the Hub header, the content, how it reaches the importer (`route`: pushed or
pulled, fixed when it is accepted), its tracking state, what the hub found about the content's own
signature, the delivery it is a forwarded copy of (if any), and the id of the caravan hub's delivery row
that carries it to the importer's node, so that one delivery is never tracked twice.
Writers take the `Transaction` the caller holds, so a Hub state change commits
together with whatever caused it. They are the only writers of the table: they keep the running counts
per tracking state and per signature state (exchange/tally.py) that the hub's status reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from exchange.clock import utc
from exchange.ippc.entities import EnvelopeHeader, Forwarding, HubEnvelope, Receive, Signature, TrackingInfo
from exchange.store import Database, Row, Transaction
from exchange.tally import Tally

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
        signature TEXT NOT NULL,
        forwarded_from INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        accepted_at TEXT NOT NULL,
        settled_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ippc_queue ON ippc_deliveries (recipient, state, route, id)",
    "CREATE INDEX IF NOT EXISTS ippc_copies ON ippc_deliveries (forwarded_from)",
    # every settled push of the caravan hub looks its delivery up here (`by_caravan`): no scan per push
    "CREATE INDEX IF NOT EXISTS ippc_caravan ON ippc_deliveries (caravan_delivery)",
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
    header: EnvelopeHeader  # with number, tracking state, error and the forwarded copies
    content: str | None
    route: Receive
    caravan_delivery: int | None
    attempts: int
    signature: Signature
    forwarded_from: int | None = None

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
        self._tally = Tally({})  # deliveries per tracking state and per signature state: read by `create`

    @property
    def database(self) -> Database:
        return self._db

    async def create(self) -> None:
        """Create the tables, and count the deliveries once: every write below keeps the counts from then on."""
        async with self._db.transaction() as db:
            for statement in SCHEMA:
                await db.execute(statement)
        self._tally = await Tally.read(
            self._db, "SELECT state AS name, COUNT(*) AS n FROM ippc_deliveries GROUP BY state",
            "SELECT signature AS name, COUNT(*) AS n FROM ippc_deliveries GROUP BY signature")

    # -- writing (inside the caller's transaction) -----------------------------------------------------------

    async def insert(
        self,
        db: Transaction,
        header: EnvelopeHeader,
        content: str | None,
        *,
        route: Receive,
        state: TrackingInfo,
        at: datetime,
        signature: Signature,
        error: str | None = None,
        caravan_delivery: int | None = None,
        forwarded_from: int | None = None,
    ) -> Delivery:
        """Store a new delivery and give it its hub delivery number."""
        cursor = await db.execute(
            """INSERT INTO ippc_deliveries (sender, recipient, certificate_type, certificate_status,
                   certificate_number, content, route, state, error, caravan_delivery, signature, forwarded_from,
                   accepted_at, settled_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (header.sender, header.recipient, header.certificate_type, header.certificate_status,
             header.certificate_number, content, route.value, state.value, error, caravan_delivery, signature.value,
             forwarded_from, stamp(at), None if state is TrackingInfo.PENDING_DELIVERY else stamp(at)),
        )
        key = cursor.lastrowid
        assert key is not None
        self._tally.added(db, state.value, signature.value)
        number = f"{NUMBER_PREFIX}{key:012d}"
        await db.execute("UPDATE ippc_deliveries SET number = ? WHERE id = ?", (number, key))
        return _delivery(await _one(db, "SELECT * FROM ippc_deliveries WHERE id = ?", (key,)))

    async def link(self, db: Transaction, key: int, caravan_delivery: int) -> None:
        """Record the caravan delivery row that carries this delivery to its importer's node."""
        await db.execute("UPDATE ippc_deliveries SET caravan_delivery = ? WHERE id = ?", (caravan_delivery, key))

    async def settle(
        self, db: Transaction, delivery: Delivery, state: TrackingInfo, error: str | None, at: datetime,
        *, attempts: int | None = None,
    ) -> None:
        """Move `delivery`, as read in this transaction, to `state`."""
        final = state is not TrackingInfo.PENDING_DELIVERY
        await db.execute(
            "UPDATE ippc_deliveries SET state = ?, error = ?, settled_at = ?, attempts = COALESCE(?, attempts) "
            "WHERE id = ?",
            (state.value, error, stamp(at) if final else None, attempts, delivery.key),
        )
        self._tally.moved(db, delivery.state.value, state.value)

    async def by_caravan(self, db: Transaction, caravan_delivery: int) -> Delivery | None:
        row = await _one(db, "SELECT * FROM ippc_deliveries WHERE caravan_delivery = ?", (caravan_delivery,))
        return None if row is None else _delivery(row)

    async def locked(self, db: Transaction, number: str) -> Delivery | None:
        row = await _one(db, "SELECT * FROM ippc_deliveries WHERE number = ?", (number.strip(),))
        return None if row is None else _delivery(row)

    # -- reading ---------------------------------------------------------------------------------------------

    async def get(self, number: str) -> Delivery | None:
        row = await self._db.fetch_one("SELECT * FROM ippc_deliveries WHERE number = ?", (number.strip(),))
        return None if row is None else await self.with_forwardings(_delivery(row))

    async def with_forwardings(self, delivery: Delivery, db: Transaction | None = None) -> Delivery:
        """The delivery with its forwarded copies (code and delivery number) in its header's Forwardings."""
        query = "SELECT recipient, number FROM ippc_deliveries WHERE forwarded_from = ? ORDER BY id"
        if db is None:
            rows = await self._db.fetch_all(query, (delivery.key,))
        else:
            rows = await db.fetch_all(query, (delivery.key,))
        if not rows:
            return delivery
        forwardings = tuple(Forwarding(row["recipient"], row["number"]) for row in rows)
        return replace(delivery, header=replace(delivery.header, forwardings=forwardings))

    async def sent_pending(self, sender: str) -> list[Delivery]:
        return await self._many("sender = ? AND state = ?", (sender, TrackingInfo.PENDING_DELIVERY.value))

    async def awaiting_pull(self, recipients: Iterable[str], sender: str | None = None) -> list[Delivery]:
        """Pending pulled deliveries to any of `recipients` (an NPPO and those it is delegated to act for)."""
        codes = list(recipients)
        where = f"recipient IN ({', '.join('?' for _ in codes)}) AND route = ? AND state = ?"
        parameters: tuple[str, ...] = (*codes, Receive.PULL.value, TrackingInfo.PENDING_DELIVERY.value)
        if sender:
            where, parameters = where + " AND sender = ?", (*parameters, sender)
        return await self._many(where, parameters)

    def counts(self) -> dict[str, int]:
        """Deliveries per tracking state, and per signature state (the ones that have any), as committed:
        running totals (exchange/tally.py), not a count over every delivery."""
        return self._tally.counts()

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


async def _one(db: Transaction, sql: str, parameters: tuple[object, ...]) -> Row | None:
    return await db.fetch_one(sql, parameters)


def _delivery(row: Row) -> Delivery:
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
                    row["caravan_delivery"], row["attempts"], Signature(row["signature"]), row["forwarded_from"])


def stamp(moment: datetime) -> str:
    """The hub's timestamp format (UTC, seconds), as in its own delivery table."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
