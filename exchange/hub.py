"""The exchange hub: the regional "information common exchange" between national nodes.

For every envelope a node submits, the hub

1. reads it with the hardened parser and checks the envelope schema,
2. verifies the envelope's XMLDSig signature (which covers every byte of the document it carries, and
   the document's own signature where its family has one: ePhyto) against the scenario trust anchor,
   and requires the signer to be the node named as sender,
3. checks that the signed envelope agrees with the document (message type, message id),
4. validates the document against its XML Schema,
5. commits it to SQLite, and only then answers 202 with a receipt (envelopes checked while a commit is
   under way share the next one: one fsync for all of them, each still committed before its answer),
6. pushes it to the recipient node's inbox, in order, retrying with backoff, and tracks the delivery
   (pending → delivered | failed). Only the acceptance waits for the disk: the mark of a push is
   committed without a sync of its own, since a mark a power cut loses means one more push, which the
   recipient absorbs as a duplicate.

Pushes go through a `Wire` (exchange/transport.py) that applies the scenario's scripted faults
(exchange/faults.py): deliveries a fault holds (recipient offline, partition, latency, reorder) wait
without counting attempts, while other senders' deliveries to the same recipient go on; within one
link (sender → recipient) the order stays first-in first-out.

A duplicate submission (same sender and message id, same bytes) is answered with the original receipt
and is never delivered twice; the same id with other content is refused as NCTS error 26.

The IPPC Hub face (exchange/ippc), when mounted, sees every accepted ePhyto (`accepted`) and every settled
push (`settled`) inside the hub's transactions, and queues what it accepts over SOAP through `relay`: one
delivery table, one forwarder per recipient, one timeline for both faces.

`GET /status?wait=S` answers once the hub has no delivery left to push (exchange/activity.py). Its counts
of deliveries per state and of duplicates absorbed are running totals (exchange/tally.py), moved by every
committed write to the delivery table, all of which are here: a status request does not count the store.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from exchange.activity import Activity, BadQuery, add_status_route, as_id, bring_along, listing_handler, query_id
from exchange.client import MAX_ATTEMPTS, Answer, Forwarder, Outcome, QueueItem, Route
from exchange.clock import Clock, VirtualClock, utc
from exchange.envelope import Envelope
from exchange.errors import CaravanError, DuplicateMessage, ProtocolError, TrustError
from exchange.faults import FaultSwitch, Hold, Leg
from exchange.health import add_health_route
from exchange.intake import open_envelope, read_claim
from exchange.ippc.face import PREFIX as IPPC_PREFIX
from exchange.ippc.face import IppcFace
from exchange.ippc.sending import HELD
from exchange.pki import TrustStore
from exchange.store import Database, Transaction
from exchange.tally import Tally
from exchange.tls import DRIVER, HUB, TlsIdentity
from exchange.transport import TRANSPORT_SCHEMA, TransportLog, Wire, faults_handler, transport_handler
from exchange.web import (
    PEER,
    Access,
    clock_handler,
    error_response,
    json_response,
    party_guard,
    set_clock_handler,
)

__all__ = ["DELIVERY_TRANSITIONS", "DeliveryState", "Hub", "Receipt"]

MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
ENVELOPE_PAGE = 100
"""Deliveries per page of `GET /deliveries?envelopes=base64`: about a megabyte of the pilots' envelopes."""


class DeliveryState(str, Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERY_TRANSITIONS: dict[tuple[DeliveryState, Outcome], DeliveryState] = {
    (DeliveryState.PENDING, Outcome.ACCEPTED): DeliveryState.DELIVERED,
    (DeliveryState.PENDING, Outcome.REFUSED): DeliveryState.FAILED,
    (DeliveryState.PENDING, Outcome.UNREACHABLE): DeliveryState.PENDING,
}
"""How a push attempt moves a delivery. An unreachable recipient keeps it pending until the attempts
run out, and then it fails: that last step is the only transition not driven by an answer."""

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sender TEXT NOT NULL,
        message_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message_type TEXT NOT NULL,
        correlation_id TEXT,
        digest TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        accepted_at TEXT NOT NULL,
        delivered_at TEXT,
        last_error TEXT,
        duplicates INTEGER NOT NULL DEFAULT 0,
        UNIQUE (sender, message_id)
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (recipient, state, id)",
    "CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (id) WHERE state = 'pending'",
    # The envelope's bytes beside its delivery, not in it: a push's mark rewrites the delivery row, and with
    # the envelope inside it rewrote (and logged to the WAL) the envelope's pages too, about 24 KB per mark.
    """CREATE TABLE IF NOT EXISTS envelopes (
        delivery INTEGER PRIMARY KEY REFERENCES deliveries (id),
        body BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS refusals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        peer TEXT,
        sender TEXT,
        message_id TEXT,
        message_type TEXT,
        error TEXT NOT NULL,
        rule TEXT NOT NULL,
        message TEXT NOT NULL
    )""",
    TRANSPORT_SCHEMA,
)

ABSORBED = "duplicates_absorbed"
"""The hub's tally counts the duplicate submissions it absorbed under this name, beside the delivery states."""

REFUSAL_LOG_ROWS = 10_000
"""The refusal log keeps the newest rows only, so a stream of hostile requests cannot fill the disk."""

TIME_WINDOW = timedelta(minutes=10)
"""How far an envelope's Created may stand from the hub's clock. Senders stamp Created at each attempt
(as a WS-Security timestamp is), so an envelope captured and replayed later falls outside it."""

@dataclass(frozen=True)
class Receipt:
    """What the hub answers for an accepted envelope, and what tracking returns later."""

    delivery_id: int
    message_id: str
    sender: str
    recipient: str
    message_type: str
    correlation_id: str | None
    state: str
    attempts: int
    accepted_at: str
    delivered_at: str | None
    last_error: str | None
    duplicate: bool = False  # this answer is to a resubmission: nothing was stored or delivered again

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))  # flat: `asdict`'s deep copy cost more than the rest of the answer


@dataclass(frozen=True)
class _Intake:
    """A checked envelope waiting for the group commit, and where its submitter waits for the outcome."""

    envelope: Envelope
    body: bytes
    receipt: asyncio.Future[Receipt]


class Hub:
    """Accepts, stores, routes and tracks envelopes between nodes."""

    def __init__(
        self,
        database: Database,
        trust: TrustStore,
        directory: Mapping[str, str],
        clock: Clock,
        *,
        tally: Tally,
        max_attempts: int = MAX_ATTEMPTS,
        tls: TlsIdentity | None = None,
        countries: Mapping[str, str] | None = None,
        ippc: IppcFace | None = None,
        faults: FaultSwitch | None = None,
    ) -> None:
        """`tally` holds the totals of `database`'s deliveries (`_read_tally`): status answers from it."""
        self._db = database
        self._tally = tally
        self._activity = Activity()
        database.on_commit(self._activity.committed)
        self._faults = faults or FaultSwitch()  # scripted network faults (scenarios); empty: none
        self._transport = TransportLog(database, clock)
        self._wire: Wire | None = None
        self._ippc = ippc  # the IPPC ePhyto Hub face (exchange/ippc), if this hub serves ePhytos
        self._tls = tls
        self._countries = dict(countries or {})
        self._trust = trust
        self._directory = dict(directory)
        self._clock = clock
        self._max_attempts = max_attempts
        self._forwarders: dict[str, Forwarder] = {}
        self._pushes: Counter[str] = Counter()  # push attempts answered (or given up), per recipient: see `marks`
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._intakes: list[_Intake] = []  # checked envelopes waiting for the next group commit
        self._committing: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        path: Path,
        trust: TrustStore,
        directory: Mapping[str, str],
        clock: Clock,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        tls: TlsIdentity | None = None,
        countries: Mapping[str, str] | None = None,
        ippc: IppcFace | None = None,
    ) -> Hub:
        """`countries` (node → the country it serves) turns on the check that a node speaks only for it."""
        database = await Database.open(path, _SCHEMA, component="hub")
        await _move_envelopes_out(database)
        return cls(
            database, trust, directory, clock, tally=await _read_tally(database), max_attempts=max_attempts,
            tls=tls, countries=countries, ippc=ippc, faults=FaultSwitch.beside(path),
        )

    # -- accepting ------------------------------------------------------------------------------------------

    async def accept(self, body: bytes, peer: str | None = None) -> Receipt:
        """Check and store one submitted envelope; raise a `CaravanError` naming what is wrong.

        `peer` is the TLS identity of the connection (None on plain HTTP); it must be the sender.
        """
        claim = read_claim(body)  # the one parse: the checks below and the signature's all read this tree
        envelope = claim.envelope
        if peer is not None and peer != envelope.sender:
            raise TrustError(
                f"connection authenticated as {peer!r} submits an envelope from {envelope.sender!r}",
                document=envelope.message_type,
                path="/Envelope/Sender",
                rule="tls-identity",
            )
        skew = abs(self._clock.now() - envelope.created)
        if skew > TIME_WINDOW:
            raise ProtocolError(
                f"envelope created {envelope.created.isoformat()} is {skew} away from the hub's time "
                f"{self._clock.now().isoformat()}; the window is {TIME_WINDOW} (replayed or held back)",
                document=envelope.message_type,
                path="/Envelope/Created",
                rule="envelope-time-window",
            )
        if envelope.recipient not in self._directory:
            raise ProtocolError(
                f"recipient node {envelope.recipient!r} is not in the hub's directory",
                document="Envelope",
                path="/Envelope/Recipient",
                rule="unknown-recipient",
            )
        opened = open_envelope(claim, self._trust, at=self._clock.now(),
                               sender_country=self._countries.get(envelope.sender))
        return await self._store(opened.envelope, body)

    async def _store(self, envelope: Envelope, body: bytes) -> Receipt:
        """Commit the envelope, or find it stored already, and only then return its receipt.

        Intakes that arrive while a commit is under way share the next one (group commit): one transaction
        and one fsync for all of them, each in its own savepoint, so that one refused rolls back alone.
        """
        intake = _Intake(envelope, body, asyncio.get_running_loop().create_future())
        self._intakes.append(intake)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(self._commit_intakes(), name="hub-intake-commit")
        return await intake.receipt

    async def _commit_intakes(self) -> None:
        """Commit every waiting intake together; meanwhile the next ones gather for the next commit."""
        while self._intakes:
            batch, self._intakes = self._intakes, []
            outcomes: list[Receipt | CaravanError] = []
            try:
                async with self._db.transaction() as db:
                    for intake in batch:
                        outcomes.append(await self._record(db, intake.envelope, intake.body))
            except Exception as failure:  # the store failed (a statement, the COMMIT): nothing of the batch was kept
                for intake in batch:
                    if not intake.receipt.done():
                        intake.receipt.set_exception(failure)
                continue
            for intake, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Receipt):
                    self.wake(intake.envelope.recipient)
                if intake.receipt.done():  # its submitter went away: stored all the same, as a 202 unheard
                    continue
                if isinstance(outcome, CaravanError):
                    intake.receipt.set_exception(outcome)
                else:
                    intake.receipt.set_result(outcome)

    async def _record(self, db: Transaction, envelope: Envelope, body: bytes) -> Receipt | CaravanError:
        """One intake of a group commit, in its own savepoint: its refusal rolls back only what it wrote (and
        what it told the tally)."""
        try:
            async with db.savepoint("intake"):
                return await self._accept_row(db, envelope, body)
        except CaravanError as refusal:
            return refusal

    async def _accept_row(self, db: Transaction, envelope: Envelope, body: bytes) -> Receipt:
        digest = hashlib.sha256(envelope.document).hexdigest()
        existing = await db.fetch_one(
            "SELECT * FROM deliveries WHERE sender = ? AND message_id = ?", (envelope.sender, envelope.message_id)
        )
        if existing is not None:
            if existing["digest"] != digest:
                raise DuplicateMessage(
                    f"message id {envelope.message_id!r} from {envelope.sender!r} was already used for "
                    "another document (NCTS functional error 26)",
                    document=envelope.message_type,
                    path="/Envelope/MessageId",
                    rule="26",
                )
            await db.execute("UPDATE deliveries SET duplicates = duplicates + 1 WHERE id = ?", (existing["id"],))
            self._tally.added(db, ABSORBED)
            return replace(_receipt(existing), duplicate=True)
        receipt = await self._insert(db, envelope, envelope.message_id, body, DeliveryState.PENDING.value, digest)
        if self._ippc is not None and await self._ippc.accepted(db, envelope, receipt.delivery_id):
            receipt = replace(receipt, state=HELD)  # the face held it for an NPPO that pulls
        return receipt

    async def _insert(
        self, db: Transaction, envelope: Envelope, key: str, body: bytes, state: str, digest: str | None = None
    ) -> Receipt:
        """One delivery row, and its receipt; `key` is unique per sender: the envelope's message id, or a Hub
        delivery number."""
        accepted_at = _stamp(self._clock.now())
        cursor = await db.execute(
            """INSERT INTO deliveries (sender, message_id, recipient, message_type, correlation_id, digest,
                                       state, accepted_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            (envelope.sender, key, envelope.recipient, envelope.message_type, envelope.correlation_id,
             digest or hashlib.sha256(envelope.document).hexdigest(), state, accepted_at),
        )
        assert cursor.lastrowid is not None
        self._tally.added(db, state)
        await db.execute("INSERT INTO envelopes (delivery, body) VALUES (?, ?)", (cursor.lastrowid, body))
        return Receipt(delivery_id=cursor.lastrowid, message_id=key, sender=envelope.sender,
                       recipient=envelope.recipient, message_type=envelope.message_type,
                       correlation_id=envelope.correlation_id, state=state, attempts=0, accepted_at=accepted_at,
                       delivered_at=None, last_error=None)

    # -- the IPPC Hub face's relay (exchange.ippc.service.Relay) ---------------------------------------------

    async def relay(self, db: Transaction, envelope: Envelope, key: str, *, held: bool) -> int:
        """Queue what the IPPC Hub face accepted, in its transaction, keyed by its Hub delivery number: pushed
        by the recipient's forwarder like any envelope, or `held` until the recipient pulls it."""
        state = HELD if held else DeliveryState.PENDING.value
        return (await self._insert(db, envelope, key, envelope.to_xml(), state)).delivery_id

    async def hold(self, db: Transaction, delivery_id: int) -> None:
        """Park a delivery just stored as pending (an ePhyto for an NPPO that pulls): the forwarder leaves it."""
        await db.execute("UPDATE deliveries SET state = ? WHERE id = ?", (HELD, delivery_id))
        self._tally.moved(db, DeliveryState.PENDING.value, HELD)

    async def pulled(
        self, db: Transaction, delivery_id: int, state: str, delivered_at: str | None, error: str | None
    ) -> None:
        """Settle a delivery its NPPO pulled and acknowledged (or reported on), from whatever state it was in."""
        row = await db.fetch_one("SELECT state FROM deliveries WHERE id = ?", (delivery_id,))
        await db.execute("UPDATE deliveries SET state = ?, delivered_at = ?, last_error = ? WHERE id = ?",
                         (state, delivered_at, error, delivery_id))
        if row is not None:
            self._tally.moved(db, row["state"], state)

    def wake(self, node_id: str) -> None:
        forwarder = self._forwarders.get(node_id)
        if forwarder is not None:
            forwarder.wake()

    # -- delivering -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one ordered forwarder per recipient node; pending deliveries resume from the database."""
        connector = aiohttp.TCPConnector(ssl=self._tls.client_context()) if self._tls else None
        self._session = aiohttp.ClientSession(connector=connector)
        if self._ippc is not None:
            await self._ippc.start(self._db, self)
        self._wire = Wire(self._session, self._faults, self._clock, Leg.PUSH, self._transport)
        for node in self._directory:
            forwarder = Forwarder(
                self._session,
                lambda node=node: self._next_delivery(node),
                self._settle,
                max_attempts=self._max_attempts,
                send=self._wire.send,
            )
            self._forwarders[node] = forwarder
            self._tasks.append(asyncio.create_task(forwarder.run(), name=f"hub-forward-{node}"))

    async def stop(self) -> None:
        self._activity.close()
        if self._committing is not None:  # intakes already checked are committed and answered first
            await asyncio.gather(self._committing, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
        await self._db.close()

    async def _next_delivery(self, node: str) -> QueueItem | None:
        row, _ = await self._queue(node, capture=True)
        if row is None:
            return None
        envelope = await self.envelope(row["id"])
        assert envelope is not None
        url = self._directory[node].rstrip("/") + "/inbox"
        if isinstance(self._clock, VirtualClock):  # the scenario's time travels with the push (Node.catch_up)
            url += "?now=" + quote(self._clock.now().isoformat())
        return QueueItem(row["id"], url, envelope, row["attempts"], _route(row))

    async def _queue(self, node: str, *, capture: bool) -> tuple[Any, int]:
        """The oldest pending delivery to `node` that no fault holds, and how many pending ones are held.

        With `capture` (the forwarder asking), a reorder fault takes the envelopes it holds back and each
        newly held envelope is logged; without it (status) nothing changes. Behind a held envelope, the
        rest of its link waits too: first-in first-out per link.
        """
        now = self._clock.now()
        columns = "id, sender, recipient, message_type, message_id, accepted_at, attempts"
        # the state written into the statement, not bound: a value bound where a partial index's condition
        # (deliveries_pending) names the column makes SQLite plan the statement again on every run, 4 -> 19 µs
        pending = DeliveryState.PENDING.value
        query = f"SELECT {columns} FROM deliveries WHERE recipient = ? AND state = '{pending}' ORDER BY id"
        if not self._faults.could_hold(node, now):  # the common case: just the oldest
            return await self._db.fetch_one(query + " LIMIT 1", (node,)), 0
        first, held, blocked = None, 0, {}
        for row in await self._db.fetch_all(query, (node,)):
            route = _route(row)
            hold = blocked.get(route.sender) or await self._hold(row, route, now, capture=capture)
            if hold is not None:
                blocked[route.sender] = hold
                held += 1
                if capture and self._wire is not None:
                    await self._wire.held(row["id"], route, hold)
            elif first is None:
                first = row
                if capture:
                    break
        return first, held

    async def _hold(self, row: Any, route: Route, now: datetime, *, capture: bool) -> Hold | None:
        accepted_at = datetime.fromisoformat(row["accepted_at"])
        hold = self._faults.hold(route, accepted_at, now)
        if hold is not None:
            return hold
        reorder = self._faults.reordered(row["id"], route, now, capture=capture)
        if reorder is None:
            return None
        overtaken = await self._db.fetch_one(
            "SELECT 1 FROM deliveries WHERE recipient = ? AND sender != ? AND id > ? "
            f"AND state = '{DeliveryState.DELIVERED.value}' LIMIT 1",  # written in, not bound: see _queue
            (route.recipient, route.sender, row["id"]),
        )
        return None if overtaken else Hold(reorder, f"held back until later traffic reaches {route.recipient}")

    def _wake_forwarders(self) -> None:
        """A new plan or a new time may release held envelopes: let every forwarder look again."""
        self._activity.touch()
        for forwarder in self._forwarders.values():
            forwarder.wake()

    async def _clock_moved(self) -> None:
        """A new time can release only what a fault holds back (`_queue`). With no fault planned, an idle
        forwarder's queue is empty and a new time leaves it so: waking every forwarder on every clock move
        cost a queue query per recipient per step: 8,797 of them became 3,570 in a 100-movement corridor run."""
        if self._faults.plan:
            self._wake_forwarders()

    async def _settle(self, item: QueueItem, answer: Answer) -> None:
        assert item.route is not None
        self._pushes[item.route.recipient] += 1  # counted while the delivery is still pending: see `marks`
        state = DELIVERY_TRANSITIONS[(DeliveryState.PENDING, answer.outcome)]
        attempts = item.attempts + 1
        if state is DeliveryState.PENDING and attempts >= self._max_attempts:
            state = DeliveryState.FAILED
        error = None if answer.outcome is Outcome.ACCEPTED else answer.describe()
        delivered_at = _stamp(self._clock.now()) if state is DeliveryState.DELIVERED else None
        # Not synced on its own (the next acceptance syncs it): should a power cut lose it, the delivery is
        # pending again and pushed again, and a recipient answers a duplicate push with its original receipt
        # and does not process it twice (docs/PROTOCOL.md, the push contract, 4.); a refusal or a retry count
        # redone is the same answer again.
        async with self._db.transaction(durable=False) as db:
            await db.execute(
                "UPDATE deliveries SET state = ?, attempts = ?, delivered_at = ?, last_error = ? WHERE id = ?",
                (state.value, attempts, delivered_at, error, item.key),
            )
            self._tally.moved(db, DeliveryState.PENDING.value, state.value)  # the forwarder pushes pending ones only
            if self._ippc is not None:
                await self._ippc.settled(db, item.key, state.value, answer)

    # -- tracking -------------------------------------------------------------------------------------------

    async def tracking(self, delivery_id: int) -> Receipt | None:
        row = await self._db.fetch_one("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))
        return None if row is None else _receipt(row)

    async def deliveries(self, after: int = 0, limit: int = 500) -> list[Receipt]:
        rows = await self._db.fetch_all("SELECT * FROM deliveries WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        return [_receipt(row) for row in rows]

    async def deliveries_with_envelopes(self, after: int = 0) -> list[dict[str, Any]]:
        """A page of receipts, each with its envelope exactly as stored (base64): one request per page for a
        reader that keeps every envelope (the scenario driver), not one per delivery."""
        rows = await self._db.fetch_all(
            "SELECT deliveries.*, envelopes.body FROM deliveries JOIN envelopes ON envelopes.delivery = deliveries.id "
            "WHERE deliveries.id > ? ORDER BY deliveries.id LIMIT ?", (after, ENVELOPE_PAGE))
        return [{**_receipt(row).as_dict(), "envelope": base64.b64encode(row["body"]).decode("ascii")} for row in rows]

    async def envelope(self, delivery_id: int) -> bytes | None:
        row = await self._db.fetch_one("SELECT body FROM envelopes WHERE delivery = ?", (delivery_id,))
        return None if row is None else bytes(row["body"])

    async def refusals(self, after: int = 0) -> list[dict[str, Any]]:
        rows = await self._db.fetch_all("SELECT * FROM refusals WHERE id > ? ORDER BY id", (after,))
        return [dict(row) for row in rows]

    async def _log_refusal(self, peer: str | None, body: bytes, error: CaravanError) -> None:
        """Keep an audit line for every refused submission (what a real hub's operators would look at)."""
        try:
            envelope: Envelope | None = Envelope.from_xml(body)
        except CaravanError:
            envelope = None
        async with self._db.transaction() as db:
            await db.execute(
                """INSERT INTO refusals (at, peer, sender, message_id, message_type, error, rule, message)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    _stamp(self._clock.now()),
                    peer,
                    envelope.sender if envelope else None,
                    envelope.message_id if envelope else None,
                    envelope.message_type if envelope else None,
                    error.code,
                    error.rule,
                    error.message[:1000],
                ),
            )
            await db.execute(
                "DELETE FROM refusals WHERE id <= (SELECT MAX(id) FROM refusals) - ?", (REFUSAL_LOG_ROWS,)
            )

    async def status(self) -> dict[str, int]:
        """Every count of the hub's traffic. Deliveries per state and duplicates come from running totals and
        `refused` from an index look-up, whatever the store's size; `held` reads the pending deliveries to the
        recipients a fault may hold now (none without a fault), the IPPC face's counts are its own."""
        tallied = self._tally.counts()
        absorbed = tallied.pop(ABSORBED, 0)
        counts = {state.value: 0 for state in DeliveryState}
        counts.update(tallied)
        refused = await self._db.fetch_one("SELECT COALESCE(MAX(id), 0) AS n FROM refusals")
        counts["duplicates_absorbed"] = absorbed
        counts["refused"] = refused["n"] if refused else 0
        counts["held"] = await self._held()
        if self._ippc is not None:
            counts.update(self._ippc.counts())
        return counts

    async def marks(self) -> dict[str, Any]:
        """The newest delivery, refusal and transport line: a reader that has seen them has nothing to fetch.

        `pushes` counts, per recipient, the push attempts this hub instance has finished. It moves before the
        delivery stops being pending, and after the recipient answered: a driver that saw the hub quiet with
        the same count as before a node's quiet reading knows that no push reached that node since
        (exchange/settle.py).
        """
        newest = await self._db.fetch_one(
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM deliveries) AS delivery, "
            "(SELECT COALESCE(MAX(id), 0) FROM refusals) AS refusal"
        )
        assert newest is not None
        return {"last_delivery": newest["delivery"], "last_refusal": newest["refusal"],
                "last_transport": await self._transport.last_id(), "pushes": dict(self._pushes)}

    async def in_flight(self) -> int:
        """Deliveries the hub still has to push, SOAP ones included (one table): the pending ones no fault holds."""
        # Through the partial index of pending rows: left to itself, SQLite counts them by scanning every delivery
        # in `deliveries_queue` (covering, so it looks cheaper), 22 ms at 190,000 deliveries, after every commit.
        pending = await self._db.fetch_one(
            "SELECT COUNT(*) AS n FROM deliveries INDEXED BY deliveries_pending WHERE state = 'pending'")
        return (pending["n"] if pending else 0) - await self._held()

    async def _held(self) -> int:
        """How many pending deliveries a fault holds now. Every one to a node that is offline is held: those are
        counted in one index range, not judged row by row (7 ms a reading with 1,524 waiting for an offline
        node, and every status reading and commit asks)."""
        now = self._clock.now()
        held = 0
        for node in self._directory:
            if self._faults.offline(node, now) is not None:
                row = await self._db.fetch_one(
                    "SELECT COUNT(*) AS n FROM deliveries WHERE recipient = ? "
                    f"AND state = '{DeliveryState.PENDING.value}'", (node,))  # written in, not bound: see _queue
                held += row["n"] if row else 0
            elif self._faults.could_hold(node, now):
                held += (await self._queue(node, capture=False))[1]
        return held

    # -- HTTP -----------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        middlewares = []
        if self._tls is not None:
            # "/deliveries/" (one delivery: its parties', `_shown_to`) before "/deliveries" (the listing of every
            # administration's traffic, and `/status`, which brings it along: the driver's); the first match rules
            rules = [Access("/deliveries/", None)] + [
                Access(prefix, frozenset({DRIVER}))
                for prefix in ("/control/", "/refusals", "/transport", "/deliveries", "/status")
            ]
            middlewares.append(party_guard(rules, self._tls.revocations(), self._clock, self._log_refusal))
        app = web.Application(client_max_size=MAX_ENVELOPE_BYTES, middlewares=middlewares)
        app.router.add_get("/", self._handle_index)
        app.router.add_post("/envelopes", self._handle_submit)
        app.router.add_get("/refusals", listing_handler("refusals", self.refusals))
        app.router.add_get("/deliveries", self._handle_list)
        app.router.add_get("/deliveries/{delivery_id}", self._handle_tracking)
        app.router.add_get("/deliveries/{delivery_id}/envelope", self._handle_envelope)
        # `?deliveries_after=N`: the next page of deliveries with their envelopes, for a driver waiting for quiet
        add_status_route(app, self._activity, self.in_flight, self.marks, self.status,
                         bring_along("deliveries_after", "deliveries", self.deliveries_with_envelopes))
        add_health_route(app, HUB)
        app.router.add_get("/clock", clock_handler(self._clock, TIME_WINDOW))
        app.router.add_get("/transport", transport_handler(self._transport))
        app.router.add_put("/control/faults", faults_handler(self._faults, self._wake_forwarders))
        if self._ippc is not None:
            app.add_subapp(IPPC_PREFIX, self._ippc.application())
        if isinstance(self._clock, VirtualClock):
            app.router.add_put("/control/clock", set_clock_handler(
                self._clock, self._activity, self.in_flight, self.marks, after=self._clock_moved))
        return app

    async def _handle_index(self, request: web.Request) -> web.Response:
        """`GET /`: what this server is, its time and its traffic so far, for a person who opens it in a browser
        (a trainer, a team connecting a system), instead of a bare 404."""
        counts = await self.status()
        now = utc(self._clock.now()).strftime("%Y-%m-%d %H:%M:%S UTC")
        kind = "scenario time" if isinstance(self._clock, VirtualClock) else "system time"
        rows = "".join(f"<tr><td>{escape(name)}</td><td>{number}</td></tr>" for name, number in counts.items())
        page = _INDEX.format(now=now, kind=kind, rows=rows)
        return web.Response(text=page, content_type="text/html")

    async def _handle_submit(self, request: web.Request) -> web.Response:
        body = await request.read()
        peer = request.get(PEER)
        try:
            receipt = await self.accept(body, peer)
        except CaravanError as exc:
            await self._log_refusal(peer, body, exc)
            return error_response(exc)
        return json_response(receipt.as_dict(), status=200 if receipt.duplicate else 202)

    async def _handle_list(self, request: web.Request) -> web.Response:
        try:
            after = query_id(request.query, "after")
        except BadQuery as exc:
            return exc.response()
        if request.query.get("envelopes") == "base64":
            return json_response({"deliveries": await self.deliveries_with_envelopes(after)})
        return json_response({"deliveries": [receipt.as_dict() for receipt in await self.deliveries(after)]})

    async def _handle_tracking(self, request: web.Request) -> web.Response:
        receipt = await self._shown_receipt(request)
        if receipt is None:
            return _unknown_delivery()
        return json_response(receipt.as_dict())

    async def _handle_envelope(self, request: web.Request) -> web.Response:
        receipt = await self._shown_receipt(request)
        envelope = None if receipt is None else await self.envelope(receipt.delivery_id)
        if envelope is None:
            return _unknown_delivery()
        return web.Response(body=envelope, content_type="application/xml")

    async def _shown_receipt(self, request: web.Request) -> Receipt | None:
        """The delivery the path names, if the caller may see it: its sender, its recipient and the driver may;
        to another node, another administration's traffic does not exist (plain HTTP, a demo, names no caller)."""
        # what is no id (or past what a store holds) is a delivery nobody has: PROTOCOL.md's `unknown-delivery`
        delivery_id = as_id(request.match_info["delivery_id"])
        receipt = None if delivery_id is None else await self.tracking(delivery_id)
        caller = request.get(PEER)
        if receipt is None or caller in (None, DRIVER, receipt.sender, receipt.recipient):
            return receipt
        return None


def _unknown_delivery() -> web.Response:
    return json_response({"error": "unknown-delivery", "message": "no such delivery"}, status=404)


async def _read_tally(database: Database) -> Tally:
    """The deliveries per state and the duplicates absorbed (under `ABSORBED`), counted over the whole store."""
    return await Tally.read(
        database, "SELECT state AS name, COUNT(*) AS n FROM deliveries GROUP BY state",
        f"SELECT '{ABSORBED}' AS name, COALESCE(SUM(duplicates), 0) AS n FROM deliveries")


async def _move_envelopes_out(database: Database) -> None:
    """A store written before envelopes had their own table keeps them in `deliveries.envelope`: move them."""
    columns = {row["name"] for row in await database.fetch_all("PRAGMA table_info(deliveries)")}
    if "envelope" not in columns:
        return
    async with database.transaction() as db:
        await db.execute("INSERT INTO envelopes (delivery, body) SELECT id, envelope FROM deliveries")
        await db.execute("ALTER TABLE deliveries DROP COLUMN envelope")


def _receipt(row: Any) -> Receipt:
    return Receipt(
        delivery_id=row["id"],
        message_id=row["message_id"],
        sender=row["sender"],
        recipient=row["recipient"],
        message_type=row["message_type"],
        correlation_id=row["correlation_id"],
        state=row["state"],
        attempts=row["attempts"],
        accepted_at=row["accepted_at"],
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
    )


def _route(row: Any) -> Route:
    return Route(row["sender"], row["recipient"], row["message_type"], row["message_id"])


def _stamp(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


_INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>caravan exchange hub</title>
<style>body{{font:18px/1.5 system-ui,sans-serif;margin:2em auto;max-width:46em;color:#222}}
td{{padding:.1em 1em .1em 0}}code{{background:#f3f3f3;padding:0 .2em}}</style></head><body>
<h1>caravan exchange hub</h1>
<p>The regional information common exchange of a caravan scenario. Its clock: <b>{now}</b> ({kind}).</p>
<h2>Traffic so far</h2><table>{rows}</table>
<h2>Where to look</h2>
<ul>
<li>The corridor in a browser: <code>caravan run SCENARIO --view 8080</code> while it plays, or
<code>caravan view RUN_DIR</code> afterwards.</li>
<li>Connecting a system: <code>POST /envelopes</code>, <code>GET /clock</code>, <code>GET /deliveries/{{id}}</code>
(the deliveries it sent or receives);
the protocol is docs/PROTOCOL.md, the OpenAPI document docs/openapi.yaml.</li>
</ul>
</body></html>
"""
