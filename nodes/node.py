"""A national single-window node: inbox, outbox and the agencies behind them.

Inbound, the hub pushes an envelope to `POST /inbox`. The node verifies the envelope's signature against
the scenario trust anchor, requires the signer to be the envelope's sender, validates the document it carries,
and commits it to its inbox before answering 200; a duplicate gets the original receipt. A desk that refuses
at the door (the ePhyto NPPO's failed acknowledgement at delivery) first judges a new delivery against the
records every earlier one left, and a refusal is the push's 4xx answer, with nothing stored. A delivery goes
to its family's desk with the rows of state its decision needs (one per aggregate: this movement at this
office, this certificate; `RecordStore`); the records the desk changed, the documents it answers with (in
signed envelopes, queued in the outbox) and its events are committed in one transaction together with the
inbox row, filed processed. When nothing waits in the inbox before it, that is one transaction with the
delivery itself, before the push is answered (one commit per message); otherwise the delivery is filed
`received` and a separate task decides on the waiting rows in order, marking each processed with its
decision. The outbox is relayed to the hub in order, with retries.

Scenario drivers use the control API: `POST /control/actions` for a step, `PUT /control/clock` to move
virtual time (deadlines fire; an action's `now` and the hub's push `?now=` move it forward too, so a driver
moves only the clocks of nodes whose `next_due` timer has come), `PUT /control/faults` to script network
faults, `GET /status?wait=S` to wait until no work is in flight (exchange/activity.py), `GET /state`,
`GET /events` and `GET /transport` to read what happened.
While a scripted `offline` fault cuts the node off, it keeps working locally: actions commit and the
outbox waits until the link is back.
A channel (`attach`) opens the node to other parties: the declarant channel's trader API
(nodes/declarant_api.py) takes traders' own messages, which reach the desks through `decide`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiohttp import web
from lxml import etree

from exchange.activity import (
    Activity,
    BadQuery,
    add_status_route,
    bring_along,
    listing_handler,
    quiet_answer,
    requested_wait,
)
from exchange.client import MAX_ATTEMPTS, Answer, Forwarder, Outcome, QueueItem, Route
from exchange.clock import Clock, VirtualClock, utc
from exchange.envelope import Envelope, carried
from exchange.errors import CaravanError, InputError, Issue, ProtocolError, ScenarioError, ValidationFailed
from exchange.faults import FaultSwitch, Hold, Leg
from exchange.health import add_health_route
from exchange.intake import Opened, UnsignedPolicy, open_envelope, unsigned_finding
from exchange.pki import Credentials, TrustStore
from exchange.signing import sign_document
from exchange.store import Database, Transaction
from exchange.tls import DRIVER, HUB, TlsIdentity
from exchange.transport import TRANSPORT_SCHEMA, TransportLog, Wire, faults_handler, transport_handler
from exchange.validation import detect, validate
from exchange.web import Access, error_response, json_object, json_response, party_guard, set_clock_handler
from nodes.desk import AdmittingDesk, Desk, DeskResult, NodeEvent
from nodes.language import check_arguments
from nodes.record_store import RECORD_SCHEMA, RecordStore, refuse_whole_state_store
from nodes.state_pages import Cursor, StatePage, page_limit, read_state_page, read_whole_state

__all__ = ["Node", "Service"]

Service = Callable[["Node", Mapping[str, Any]], Awaitable[list[dict[str, Any]]]]
"""A step a node carries out with I/O of its own rather than through a sans-IO desk, e.g. pulling its
ePhytos from the IPPC Hub face; it answers with events in the control API's shape."""


class Channel(Protocol):
    """A way into the node for parties other than the hub and the driver (the declarants' trader API).

    It brings its routes, who may call them, and the scenario steps it carries out; what it lodges
    goes to the desks through `Node.decide`, as a driver's step does.
    """

    access: Sequence[Access]
    services: Mapping[str, Service]

    def add_routes(self, app: web.Application) -> None: ...

MAX_ENVELOPE_BYTES = 8 * 1024 * 1024

_EVENT_DATA = json.JSONEncoder(default=str)  # an event's data as json.dumps(..., default=str) writes it, built once

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sender TEXT NOT NULL,
        message_id TEXT NOT NULL,
        message_type TEXT NOT NULL,
        document BLOB NOT NULL,
        state TEXT NOT NULL,
        received_at TEXT NOT NULL,
        signature TEXT NOT NULL DEFAULT 'signed',
        UNIQUE (sender, message_id)
    )""",
    """CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL UNIQUE,
        recipient TEXT NOT NULL,
        message_type TEXT NOT NULL,
        envelope BLOB NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS actions (
        key TEXT PRIMARY KEY,
        events TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        agency TEXT NOT NULL,
        reference TEXT NOT NULL,
        detail TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS inbox_waiting ON inbox (id) WHERE state = 'received'",
    "CREATE INDEX IF NOT EXISTS outbox_waiting ON outbox (id) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS outbox_failed ON outbox (id) WHERE state = 'failed'",  # counted by GET /status
    TRANSPORT_SCHEMA,
    *RECORD_SCHEMA,
)


@dataclass(frozen=True)
class _Delivery:
    """A pushed envelope's document as the inbox keeps it."""

    sender: str
    message_id: str
    message_type: str
    document: bytes
    received_at: str
    signature: str  # "signed", or "unsigned" where the node's policy for the family took it so

    async def insert(self, db: Transaction, state: str) -> int:
        """File it in the inbox, `received` (for the inbox task) or already `processed`; its inbox id."""
        cursor = await db.execute(
            """INSERT INTO inbox (sender, message_id, message_type, document, state, received_at, signature)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (self.sender, self.message_id, self.message_type, self.document, state, self.received_at, self.signature),
        )
        key: int = cursor.lastrowid
        return key


@dataclass(frozen=True)
class _Received:
    key: int
    sender: str
    message_type: str
    document: bytes
    signature: str  # "signed", or "unsigned" where the node's policy for the family took it so


class Node:
    """One country's single window: verifies, stores, dispatches to desks, relays answers."""

    def __init__(
        self,
        node_id: str,
        database: Database,
        trust: TrustStore,
        credentials: Credentials,
        clock: Clock,
        hub_url: str,
        desks: Mapping[str, Desk],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        tls: TlsIdentity | None = None,
        reload_credentials: Callable[[], Credentials] | None = None,
        services: Mapping[str, Service] | None = None,
        faults: FaultSwitch | None = None,
        unsigned: Mapping[str, UnsignedPolicy] | None = None,
    ) -> None:
        self.node_id = node_id
        self._unsigned = dict(unsigned or {})  # family -> what to do with its documents that carry no signature
        self._faults = faults or FaultSwitch()  # scripted network faults (scenarios); empty: none
        self._transport = TransportLog(database, clock)
        self._wire: Wire | None = None
        self._services = dict(services or {})
        self._tls = tls
        self._reload_credentials = reload_credentials
        self._db = database
        self._records = RecordStore(database)
        self._trust = trust
        self._credentials = credentials
        self._rotated_at: datetime | None = None  # when `_credentials` were last reloaded (a scenario's rotation)
        self._clock = clock
        self._hub_url = hub_url.rstrip("/")
        self._desks = dict(desks)
        # a runtime Protocol check walks every member: asked once per desk, not once per push
        self._admitting = {family: desk for family, desk in self._desks.items() if isinstance(desk, AdmittingDesk)}
        self._max_attempts = max_attempts
        self._processing = asyncio.Event()
        self._inbox_idle = asyncio.Event()  # set when the inbox task found nothing left to process
        self._deciding = asyncio.Lock()  # one load → decide → commit at a time, or decisions overwrite each other
        # what the process already knows about rows it wrote, so the hot path reads no document twice; after a
        # restart both are empty and the rows themselves are read
        self._taken: dict[int, tuple[etree._Element, tuple[Issue, ...]]] = {}  # inbox id -> document, findings
        self._created: dict[str, str] = {}  # outbox message id -> the Created its stored envelope was signed with
        self._activity = Activity()
        # `?events_after=N` of a status or action answer: the events after N, for a driver waiting for quiet
        self._event_news = bring_along("events_after", "events", self.events)
        database.on_commit(self._activity.committed)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._forwarder: Forwarder | None = None
        self._channels: list[Channel] = []

    @classmethod
    async def open(
        cls,
        node_id: str,
        path: Path,
        trust: TrustStore,
        credentials: Credentials,
        clock: Clock,
        hub_url: str,
        desks: Mapping[str, Desk],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        tls: TlsIdentity | None = None,
        reload_credentials: Callable[[], Credentials] | None = None,
        services: Mapping[str, Service] | None = None,
        unsigned: Mapping[str, UnsignedPolicy] | None = None,
    ) -> Node:
        await refuse_whole_state_store(path)
        database = await Database.open(path, _SCHEMA, component=node_id)
        return cls(
            node_id, database, trust, credentials, clock, hub_url, desks, max_attempts=max_attempts,
            tls=tls, reload_credentials=reload_credentials, services=services, faults=FaultSwitch.beside(path),
            unsigned=unsigned,
        )

    @property
    def session(self) -> aiohttp.ClientSession:
        """The node's client session (mutual TLS as the node), for services that talk to the hub."""
        assert self._session is not None, "the node is not started"
        return self._session

    @property
    def database(self) -> Database:
        """The node's store, for channels that keep their own tables beside the node's."""
        return self._db

    def attach(self, channel: Channel) -> None:
        """Open a channel into the node: its routes join the application, its steps the node's services."""
        self._channels.append(channel)
        self._services.update(channel.services)

    @property
    def hub_url(self) -> str:
        return self._hub_url

    @property
    def clock(self) -> Clock:
        return self._clock

    async def start(self) -> None:
        """Start the inbox processor and the outbox relay; both resume whatever the database holds."""
        connector = aiohttp.TCPConnector(ssl=self._tls.client_context()) if self._tls else None
        self._session = aiohttp.ClientSession(connector=connector)
        self._wire = Wire(self._session, self._faults, self._clock, Leg.SUBMIT, self._transport)
        self._forwarder = Forwarder(self._session, self._next_outgoing, self._settle, max_attempts=self._max_attempts,
                                    send=self._wire.send)
        self._tasks = [
            asyncio.create_task(self._process_inbox(), name=f"{self.node_id}-inbox"),
            asyncio.create_task(self._forwarder.run(), name=f"{self.node_id}-outbox"),
        ]
        self._processing.set()

    async def stop(self) -> None:
        self._activity.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
        await self._db.close()

    # -- inbound --------------------------------------------------------------------------------------------

    async def receive(self, body: bytes) -> dict[str, Any]:
        """Verify, validate and commit one pushed envelope; answer with the (original) receipt."""
        opened = open_envelope(body, self._trust, at=self._clock.now(), unsigned=self._unsigned)
        envelope = opened.envelope
        if envelope.recipient != self.node_id:
            raise ProtocolError(
                f"envelope for {envelope.recipient!r} pushed to node {self.node_id!r}",
                document=envelope.message_type,
                path="/Envelope/Recipient",
                rule="wrong-recipient",
            )
        await self._admit(envelope, opened.root)
        async with self._deciding:  # every inbox row is filed under it: no second copy slips in between
            known = await self._db.fetch_one(
                "SELECT id, received_at FROM inbox WHERE sender = ? AND message_id = ?",
                (envelope.sender, envelope.message_id),
            )
            if known is None:
                delivery = _Delivery(envelope.sender, envelope.message_id, envelope.message_type,
                                     etree.tostring(opened.root, encoding="UTF-8"), _stamp(self._clock.now()),
                                     opened.signature)
                key, received_at = await self._take(delivery, opened), delivery.received_at
            else:
                key, received_at = known["id"], known["received_at"]
        return {
            "node": self.node_id,
            "inboxId": key,
            "messageId": envelope.message_id,
            "sender": envelope.sender,
            "receivedAt": received_at,
            "duplicate": known is not None,  # already in the inbox: absorbed, not processed again
            "signature": opened.signature,
            **_unsigned_answer(opened.finding()),
        }

    async def _take(self, delivery: _Delivery, opened: Opened) -> int:
        """File a new delivery (under `_deciding`). When nothing waits in the inbox before it and its family has
        a desk, it is decided at once and filed `processed` in the decision's own transaction: one commit per
        message, and the push is answered once both are kept, or neither is (the hub pushes again). Otherwise
        it waits `received`, in order, for the inbox task."""
        root = opened.root
        family = detect(root).family
        desk = self._desks.get(family)
        waiting = await self._db.fetch_one("SELECT 1 FROM inbox WHERE state = 'received' LIMIT 1")
        if desk is None or waiting is not None:
            async with self._db.transaction() as db:
                key = await delivery.insert(db, "received")
            self._taken[key] = (root, opened.findings)
            self._processing.set()
            return key
        now = self._clock.now()
        issues = self._findings(family, delivery.message_type, delivery.signature, opened.findings)
        result = await self._records.decision(desk, desk.on_message(root, issues), now)
        key = await self._commit(desk, result, delivery=delivery)
        assert key is not None
        return key

    def _findings(self, family: str, message_type: str, signature: str, findings: Sequence[Issue]) -> list[Issue]:
        """What a desk is told of a document beside it: its business-rule findings, and that it came unsigned
        where the family's policy let it in so."""
        issues = list(findings)
        policy = self._unsigned.get(family)
        if signature == "unsigned" and policy is not None:
            issues.insert(0, unsigned_finding(message_type, policy))
        return issues

    async def _admit(self, envelope: Envelope, root: etree._Element) -> None:
        """A desk that refuses at the door (`AdmittingDesk`) judges the delivery against the records that every
        delivery taken before it left: the push is answered with its refusal, and nothing is stored. A
        duplicate is not judged again: it gets its original receipt."""
        desk = self._admitting.get(detect(root).family)
        if desk is None or await self._db.fetch_one(
                "SELECT 1 FROM inbox WHERE sender = ? AND message_id = ?", (envelope.sender, envelope.message_id)):
            return
        while await self._db.fetch_one("SELECT 1 FROM inbox WHERE state = 'received' LIMIT 1") is not None:
            self._inbox_idle.clear()
            self._processing.set()
            await self._inbox_idle.wait()
        trigger = desk.on_message(root, [])
        async with self._deciding:
            desk.admit(trigger, await self._records.load(desk.family, desk.kinds, trigger.needs))

    async def _process_inbox(self) -> None:
        while True:
            self._processing.clear()
            row = await self._db.fetch_one(
                "SELECT id, sender, message_type, document, signature FROM inbox WHERE state = 'received' "
                "ORDER BY id LIMIT 1"
            )
            if row is None:
                self._inbox_idle.set()
                await self._processing.wait()
                continue
            await self._process(_Received(row["id"], row["sender"], row["message_type"], bytes(row["document"]),
                                          row["signature"]))

    async def _process(self, received: _Received) -> None:
        root, findings = self._taken.pop(received.key, None) or _read_again(received.document)
        family = detect(root).family
        desk = self._desks.get(family)
        now = self._clock.now()
        if desk is None:
            event = NodeEvent("rejected", self.node_id, received.message_type, f"no desk for family {family!r}")
            await self._commit(None, DeskResult(events=(event,)), inbox=(received.key, "failed"))
            return
        issues = self._findings(family, received.message_type, received.signature, findings)
        async with self._deciding:
            result = await self._records.decision(desk, desk.on_message(root, issues), now)
            await self._commit(desk, result, inbox=(received.key, "processed"))

    # -- actions and time -----------------------------------------------------------------------------------

    async def act(self, action: str, arguments: Mapping[str, Any], key: str | None = None) -> list[dict[str, Any]]:
        """Carry out one scenario step through the desk that knows the action, and commit what it decided.

        `key` makes the call idempotent: a driver that lost the answer (say, the node was killed after
        committing) may send the same step again and gets the first answer, not a second declaration.
        """
        check_arguments(action, arguments)
        service = self._services.get(action)
        if service is not None:
            events = await service(self, arguments)
            async with self._db.transaction() as db:
                await db.executemany(
                    "INSERT INTO events (at, kind, agency, reference, detail, data) VALUES (?, ?, ?, ?, ?, ?)",
                    [(_stamp(self._clock.now()), e["kind"], e["agency"], e["reference"], e["detail"],
                      json.dumps(e.get("data", {}))) for e in events],
                )
            return events
        return await self.decide(action, arguments, key)

    async def decide(self, action: str, arguments: Mapping[str, Any], key: str | None = None) -> list[dict[str, Any]]:
        """Have the desk that knows `action` decide on it and commit the decision; `key` as for `act`.

        The entry for the node's own channels (the declarant channel's submissions), whose arguments they
        have checked themselves: a driver's step comes through `act`, which checks it against the language.
        """
        desk = next((desk for desk in self._desks.values() if action in desk.actions), None)
        if desk is None:
            known = sorted(name for desk in self._desks.values() for name in desk.actions)
            raise ScenarioError(
                f"node {self.node_id!r} knows no action {action!r}; known: {', '.join(known)}", rule="unknown-action"
            )
        self._activity.enter()
        try:
            async with self._deciding:
                if key is not None:
                    done = await self._db.fetch_one("SELECT events FROM actions WHERE key = ?", (key,))
                    if done is not None:
                        return list(json.loads(done["events"]))
                result = await self._records.decision(desk, desk.on_action(action, arguments), self._clock.now())
                events = [_event_dict(event) for event in result.events]
                await self._commit(desk, result, action=None if key is None else (key, events))
        finally:
            self._activity.leave()
        return events

    async def tick(self) -> None:
        """Let every desk's deadlines that have passed take effect: only the records whose timer is due are read,
        and a family with none due is not asked (most clock moves find nothing due at most nodes)."""
        self._activity.enter()
        try:
            due_each = await self._records.next_due_each(self._desks)
            for desk in self._desks.values():
                due = due_each[desk.family]
                if due is None or due > self._clock.now():
                    continue
                async with self._deciding:
                    now = self._clock.now()
                    due = await self._records.next_due((desk.family,))  # again, under the lock
                    if due is None or due > now:
                        continue
                    result = await self._records.decision(desk, desk.on_clock(now), now)
                    if result.changes or result.outgoing or result.events:
                        await self._commit(desk, result)
        finally:
            self._activity.leave()

    # -- committing -----------------------------------------------------------------------------------------

    async def _commit(
        self,
        desk: Desk | None,
        result: DeskResult,
        *,
        inbox: tuple[int, str] | None = None,
        delivery: _Delivery | None = None,
        action: tuple[str, list[dict[str, Any]]] | None = None,
    ) -> int | None:
        """Persist a desk's decision atomically: changed records, signed answers in the outbox, events, inbox mark
        (or the delivery decided on, filed processed: its inbox id is returned)."""
        now = self._clock.now()
        stamp = _stamp(now)  # the envelopes' Created and the events' time: one strftime per commit
        self._created.update((outgoing.message_id, stamp) for outgoing in result.outgoing)
        envelopes = [
            (
                outgoing.message_id,
                outgoing.recipient,
                outgoing.message_type,
                Envelope(
                    message_id=outgoing.message_id,
                    correlation_id=carried(outgoing.correlation_id),
                    sender=self.node_id,
                    recipient=outgoing.recipient,
                    message_type=outgoing.message_type,
                    created=now,
                    document=self._written(outgoing.root),
                ).signed(self._credentials),
            )
            for outgoing in result.outgoing
        ]
        async with self._db.transaction() as db:
            if desk is not None:
                await self._records.write(db, desk.family, desk.kinds, result.changes)
            await db.executemany(
                "INSERT INTO outbox (message_id, recipient, message_type, envelope, state) "
                "VALUES (?, ?, ?, ?, 'pending')",
                envelopes,
            )
            await db.executemany(
                "INSERT INTO events (at, kind, agency, reference, detail, data) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (stamp, e.kind, e.agency, e.reference, e.detail, _EVENT_DATA.encode(dict(e.data)))
                    for e in result.events
                ],
            )
            if inbox is not None:
                await db.execute("UPDATE inbox SET state = ? WHERE id = ?", (inbox[1], inbox[0]))
            key = None if delivery is None else await delivery.insert(db, "processed")
            if action is not None:
                await db.execute("INSERT INTO actions (key, events) VALUES (?, ?)", (action[0], json.dumps(action[1])))
        if envelopes and self._forwarder is not None:
            self._forwarder.wake()
        return key

    # -- outbound -------------------------------------------------------------------------------------------

    async def _next_outgoing(self) -> QueueItem | None:
        offline = self._faults.offline(self.node_id, self._clock.now())
        if offline is not None:
            await self._hold_outbox(offline)
            return None
        row = await self._db.fetch_one(
            "SELECT id, envelope, attempts, recipient, message_type, message_id FROM outbox "
            "WHERE state = 'pending' ORDER BY id LIMIT 1"
        )
        if row is None:
            return None
        envelope = self._restamp(bytes(row["envelope"]), row["message_id"])
        return QueueItem(row["id"], f"{self._hub_url}/envelopes", envelope, row["attempts"], self._route(row))

    async def _hold_outbox(self, hold: Hold) -> None:
        """Cut off from the exchange: everything queued waits (and the timeline says so, once per envelope)."""
        assert self._wire is not None
        rows = await self._db.fetch_all(
            "SELECT id, recipient, message_type, message_id FROM outbox WHERE state = 'pending' ORDER BY id"
        )
        for row in rows:
            await self._wire.held(row["id"], self._route(row), hold)

    def _route(self, row: Any) -> Route:
        return Route(self.node_id, row["recipient"], row["message_type"], row["message_id"])

    async def catch_up(self, now: str | None) -> None:
        """Time that came with a request (an action's `now`, the hub's push `?now=`): a scenario driver moves only
        the clocks of nodes with a timer due, so a node learns the time of a step from what reaches it, before
        it decides or stamps anything. Only forward, and only on virtual time."""
        if now is None or not isinstance(self._clock, VirtualClock):
            return
        try:
            moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError as exc:
            raise ProtocolError(f"now={now!r} is not an ISO-8601 time: {exc}", path="now", rule="bad-clock") from exc
        if moment > self._clock.now():
            self._clock.set(moment)
            await self._clock_moved()

    async def catch_up_with_hub(self) -> None:
        """Take the hub's time (`GET /clock`) before work that reaches the node through neither the hub nor the
        driver (a trader's own system lodging through the declarant channel between steps). If the hub does
        not answer, the node goes on with its own time: it keeps working while cut off."""
        if not isinstance(self._clock, VirtualClock):
            return
        try:
            async with self.session.get(f"{self._hub_url}/clock", timeout=aiohttp.ClientTimeout(total=5)) as answer:
                clock = await answer.json(content_type=None) if answer.status == 200 else {}
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return
        if isinstance(clock, dict) and clock.get("virtual"):
            await self.catch_up(str(clock.get("now")))

    async def _clock_moved(self) -> None:
        """Deadlines that passed take effect, and an offline window that ended lets the outbox go."""
        self._activity.touch()
        await self.tick()
        self._wake_forwarder()

    def _wake_forwarder(self) -> None:
        self._activity.touch()  # a new plan or a new time may release or hold the outbox
        if self._forwarder is not None:
            self._forwarder.wake()

    def _restamp(self, stored: bytes, message_id: str) -> bytes:
        """Stamp Created afresh for each attempt, as a WS-Security timestamp is: the hub refuses stale envelopes,
        and a message that waited out an outage is not stale, only late. The document is untouched; the envelope,
        whose signature covers Created, is signed again.

        An envelope sent in the second it was signed already says now (Created has whole seconds), so it goes
        as stored: most messages leave in the step that made them, and signing each twice cost a signature
        per message. Not when the node's key was rotated in that second: it may have been signed with the old one.
        The node remembers when it signed what it queued, so the stored envelope is parsed only to be re-signed
        (or when it was queued before a restart).
        """
        now = self._clock.now()
        stamp = _stamp(now)
        rotated = self._rotated_at is not None and _stamp(self._rotated_at) == stamp
        created = self._created.get(message_id)
        try:
            if created is None:
                created = _stamp(Envelope.from_xml(stored).created)
            if created == stamp and not rotated:
                return stored
            return replace(Envelope.from_xml(stored), created=now).signed(self._credentials)
        except ValidationFailed:  # an envelope the envelope schema refuses: the hub says so, and the row fails
            return stored

    def _written(self, root: etree._Element) -> bytes:
        """A document as it goes out: as its standard writes it, signed inside only where that standard says so
        (ePhyto); its exchange signature is the envelope's."""
        if detect(root).signed_inside:
            return sign_document(root, self._credentials)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    async def _settle(self, item: QueueItem, answer: Answer) -> None:
        """Mark the outbox row as the hub answered. A "sent" mark is committed without waiting for the disk: lost
        to a power failure (a killed process loses nothing), the row is pending again and goes once more, and
        the hub answers the re-send with the original receipt (same sender, message id and document: it is
        never delivered twice), which marks it sent."""
        attempts = item.attempts + 1
        if answer.outcome is Outcome.ACCEPTED:
            state, error = "sent", None
        elif answer.outcome is Outcome.REFUSED or attempts >= self._max_attempts:
            state, error = "failed", json.dumps(answer.body)[:2000]
        else:
            state, error = "pending", json.dumps(answer.body)[:2000]
        if state != "pending" and item.route is not None:
            self._created.pop(item.route.message_id, None)
        async with self._db.transaction(durable=state != "sent") as db:
            await db.execute(
                "UPDATE outbox SET state = ?, attempts = ?, last_error = ? WHERE id = ?",
                (state, attempts, error, item.key),
            )
            if state == "failed":  # named by its route, not its envelope: one the hub refused may not parse
                assert item.route is not None, "every outbox item carries its route (_next_outgoing)"
                kind, detail = _failure(item.route, answer, attempts)
                await db.execute(
                    "INSERT INTO events (at, kind, agency, reference, detail, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (_stamp(self._clock.now()), kind, self.node_id, item.route.message_id, detail,
                     json.dumps(answer.body)),
                )

    # -- reading --------------------------------------------------------------------------------------------

    async def status(self) -> dict[str, int]:
        inbox = await self._db.fetch_one("SELECT COUNT(*) AS n FROM inbox WHERE state = 'received'")
        outbox = await self._db.fetch_one("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        failed = await self._db.fetch_one("SELECT COUNT(*) AS n FROM outbox WHERE state = 'failed'")
        pending = outbox["n"] if outbox else 0
        return {
            "inbox_pending": inbox["n"] if inbox else 0,
            "outbox_pending": pending,
            "outbox_held": pending if self._faults.offline(self.node_id, self._clock.now()) else 0,
            "outbox_failed": failed["n"] if failed else 0,
            "busy": self._activity.busy,
        }

    async def marks(self) -> dict[str, Any]:
        """The newest event and transport line: a reader that has seen them has nothing to fetch. And `next_due`,
        the node's earliest timer: a driver need not move the clock of a node before it (`PUT /control/clock`)."""
        newest = await self._db.fetch_one("SELECT COALESCE(MAX(id), 0) AS n FROM events")
        due = await self._records.next_due(self._desks)
        return {"last_event": newest["n"] if newest else 0, "last_transport": await self._transport.last_id(),
                "next_due": None if due is None else due.isoformat()}

    async def in_flight(self) -> int:
        """Work the node still has to do by itself: inbox rows to process, outbox rows it may send, actions."""
        # one statement, not two: a waiting status request reads this after every commit of the node
        counts = await self._db.fetch_one(
            "SELECT (SELECT COUNT(*) FROM inbox WHERE state = 'received') AS inbox,"
            " (SELECT COUNT(*) FROM outbox WHERE state = 'pending') AS outbox")
        inbox, outbox = (counts["inbox"], counts["outbox"]) if counts else (0, 0)
        sendable = 0 if self._faults.offline(self.node_id, self._clock.now()) else outbox
        return inbox + sendable + self._activity.busy

    async def state(self) -> dict[str, Any]:
        """Every family's snapshot, from all its rows, read a page at a time: for people, not for decisions."""
        return await read_whole_state(self._records, self._desks)

    async def state_page(self, after: str | None, limit: str | None) -> StatePage:
        """One page of the snapshot (`nodes.state_pages`): from the start, or from a page's `next` token."""
        cursor = None if after is None else Cursor.read(after, self._desks)
        return await read_state_page(self._records, self._desks, cursor, page_limit(limit))

    async def events(self, after: int = 0) -> list[dict[str, Any]]:
        rows = await self._db.fetch_all("SELECT * FROM events WHERE id > ? ORDER BY id", (after,))
        return [
            {
                "id": row["id"],
                "at": row["at"],
                "node": self.node_id,
                "kind": row["kind"],
                "agency": row["agency"],
                "reference": row["reference"],
                "detail": row["detail"],
                "data": json.loads(row["data"]),
            }
            for row in rows
        ]

    # -- HTTP -----------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        middlewares = []
        if self._tls is not None:
            driver = frozenset({DRIVER})
            rules = [Access("/inbox", frozenset({HUB}))] + [
                Access(prefix, driver) for prefix in ("/control/", "/state", "/events", "/status", "/transport")
            ] + [rule for channel in self._channels for rule in channel.access]
            middlewares.append(party_guard(rules, self._tls.revocations(), self._clock))
        app = web.Application(client_max_size=MAX_ENVELOPE_BYTES, middlewares=middlewares)
        app.router.add_post("/inbox", self._handle_inbox)
        app.router.add_post("/control/credentials", self._handle_credentials)
        add_status_route(app, self._activity, self.in_flight, self.marks, self.status, self._event_news)
        add_health_route(app, self.node_id)
        app.router.add_get("/state", self._handle_state)
        app.router.add_get("/events", listing_handler("events", self.events))
        app.router.add_post("/control/actions", self._handle_action)
        app.router.add_get("/transport", transport_handler(self._transport))
        app.router.add_put("/control/faults", faults_handler(self._faults, self._wake_forwarder))
        if isinstance(self._clock, VirtualClock):
            app.router.add_put("/control/clock", set_clock_handler(
                self._clock, self._activity, self.in_flight, self.marks, after=self._clock_moved))
        for channel in self._channels:
            channel.add_routes(app)
        return app

    async def _handle_inbox(self, request: web.Request) -> web.Response:
        try:
            await self.catch_up(request.query.get("now"))  # only the hub may push (`party_guard`)
            receipt = await self.receive(await request.read())
        except CaravanError as exc:
            return error_response(exc)
        return json_response(receipt)

    async def _handle_credentials(self, request: web.Request) -> web.Response:
        """A scenario step rotated this node's certificate: sign from now on with the new key."""
        if self._reload_credentials is None:
            body = {"error": "not-supported", "message": "this node cannot reload credentials"}
            return json_response(body, status=400)
        self._credentials = self._reload_credentials()
        self._rotated_at = self._clock.now()
        serial = f"{self._credentials.certificate.serial_number:x}"
        return json_response({"node": self.node_id, "serial": serial})

    async def _handle_state(self, request: web.Request) -> web.Response:
        """The whole state; with `limit` or `after`, one page of it and the `next` page's token."""
        query = request.query
        if "limit" not in query and "after" not in query:
            return json_response(await self.state())
        try:
            page = await self.state_page(query.get("after"), query.get("limit"))
        except CaravanError as exc:
            return error_response(exc)
        return json_response(page.as_dict())

    async def _handle_action(self, request: web.Request) -> web.Response:
        """`POST /control/actions[?wait=S]`; with `wait`, the answer comes once the node has nothing in flight
        and carries, as `reading`, what `GET /status?wait=S` would answer then: a driver that settles after
        the action needs no long poll of its own for the node it acted on."""
        try:
            body = await json_object(request, _ACTION_BODY)
            action, arguments = body.get("do"), body.get("arguments", {})
            if not isinstance(action, str) or not isinstance(arguments, dict):
                wrong = "arguments" if isinstance(action, str) else "do"
                raise InputError(f"{wrong}={body.get(wrong)!r}: send {_ACTION_BODY}",
                                 document=f"{request.method} {request.path}", path=wrong, rule="json-body")
            wait = requested_wait(request.query)
            await self.catch_up(body.get("now"))
            events = await self.act(action, arguments, body.get("key"))
            if wait is None:
                return json_response({"events": events})
            reading = await quiet_answer(self._activity, self.in_flight, self.marks, wait, request.query,
                                         self._event_news)
        except CaravanError as exc:
            return error_response(exc)
        except BadQuery as exc:
            return exc.response()
        return json_response({"events": events, "reading": reading})


_ACTION_BODY = '{"do": "declare", "arguments": {"movement": "M1"}}'
"""What `POST /control/actions` takes: the step's action and its arguments (and `now`, `key` if the driver has them)."""


def _read_again(document: bytes) -> tuple[etree._Element, tuple[Issue, ...]]:
    """A document taken before the process restarted, parsed and validated again as at its intake: it and its
    business-rule findings."""
    root = etree.fromstring(document)
    return root, tuple(issue for issue in validate(root) if issue.area != "Schema")


def _unsigned_answer(finding: Issue | None) -> dict[str, str]:
    """A push answer's word on an unsigned document the node's policy warns about, in the Hub's terms."""
    if finding is None or finding.level != "WARNING":
        return {}
    return {"HUBTrackingInfo": "DeliveredWithWarnings", "hubDeliveryErrorMessage": finding.message}


def _event_dict(event: NodeEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "agency": event.agency,
        "reference": event.reference,
        "detail": event.detail,
        "data": dict(event.data),
    }


def _failure(route: Route, answer: Answer, attempts: int) -> tuple[str, str]:
    """The event of an outbox row that failed: the hub refused it (`refused-by-hub`, its rule), or the node gave up
    after its last attempt at a hub that never took it (`not-sent`, the hub's last answer): the hub refused
    nothing then, and the event must not say it did."""
    what = f"{route.message_type} {route.message_id}"
    if answer.outcome is Outcome.REFUSED:
        rule, words = answer.body.get("rule", answer.body.get("error", "?")), answer.body.get("message", "")
        return "refused-by-hub", f"hub refused {what}: [{rule}] {words}"
    return "not-sent", f"gave up sending {what} after {attempts} attempts; the hub's last answer: {answer.describe()}"


def _stamp(moment: datetime) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
