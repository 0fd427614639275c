"""The wire as a scenario sees it: scripted faults applied to each transmission, and a log of what happened.

The hub's pushes and a node's submissions go through a `Wire`: it asks the component's `FaultSwitch`
whether this transmission is dropped, sent twice or damaged, sends it (or not), and writes a line to
the component's `TransportLog` for everything a reader of the timeline should see: a retry, an envelope
held by a fault and released again, a drop, a duplicate and how the receiver absorbed it, a corruption
and how the receiver refused it. Domain code never sees any of it.

The log is a table in the component's own database (bounded, like the hub's refusal log), read by the
scenario driver over `GET /transport?after=N`; `PUT /control/faults` installs a plan.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiohttp
from aiohttp import web

from exchange.activity import listing_handler
from exchange.client import Answer, Outcome, QueueItem, Route, post_envelope
from exchange.clock import Clock, utc
from exchange.envelope import Envelope, rewrite_envelope
from exchange.errors import CaravanError
from exchange.faults import Corrupt, Drop, Duplicate, FaultSwitch, Hold, Leg, flip_byte, plan_from_json
from exchange.store import Database
from exchange.web import error_response, json_response

__all__ = [
    "TRANSPORT_LOG_ROWS",
    "TRANSPORT_SCHEMA",
    "TransportEvent",
    "TransportLog",
    "Wire",
    "faults_handler",
    "transport_handler",
]

TRANSPORT_SCHEMA = """CREATE TABLE IF NOT EXISTS transport (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    message_type TEXT NOT NULL,
    message_id TEXT NOT NULL,
    detail TEXT NOT NULL
)"""

TRANSPORT_LOG_ROWS = 10_000
"""The log keeps the newest rows only: a node unreachable for days must not fill the disk with retries."""


class TransportEvent(str, Enum):
    RETRY = "retry"
    HELD = "held"
    RELEASED = "released"
    DROPPED = "dropped"
    DUPLICATED = "duplicated"
    CORRUPTED = "corrupted"


class TransportLog:
    """Appends transport events to the component's database and reads them back in order."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def append(self, event: TransportEvent, route: Route, detail: str) -> None:
        async with self._db.transaction() as db:
            await db.execute(
                """INSERT INTO transport (at, event, sender, recipient, message_type, message_id, detail)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (utc(self._clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ"), event.value, route.sender,
                 route.recipient, route.message_type, route.message_id, detail[:1000]),
            )
            await db.execute(
                "DELETE FROM transport WHERE id <= (SELECT MAX(id) FROM transport) - ?", (TRANSPORT_LOG_ROWS,)
            )

    async def last_id(self) -> int:
        """The id of the newest event (0: none yet); a reader that has seen it has nothing new to fetch."""
        row = await self._db.fetch_one("SELECT COALESCE(MAX(id), 0) AS n FROM transport")
        return row["n"] if row else 0

    async def after(self, after: int = 0) -> list[dict[str, Any]]:
        rows = await self._db.fetch_all("SELECT * FROM transport WHERE id > ? ORDER BY id", (after,))
        return [dict(row) for row in rows]


@dataclass(frozen=True)
class _Sent:
    answer: Answer
    detail: str


class Wire:
    """Puts queue items on the wire for one component, as its fault plan allows; logs what a reader should see.

    `receiver` names the other end in log lines ("hub" for a node's submissions; the recipient node for
    the hub's pushes). `held`/`released` are reported once per envelope, not on every look at the queue.
    """

    def __init__(
        self, session: aiohttp.ClientSession, switch: FaultSwitch, clock: Clock, leg: Leg, log: TransportLog
    ) -> None:
        self._session = session
        self._switch = switch
        self._clock = clock
        self._leg = leg
        self._log = log
        self._held: set[int] = set()

    async def held(self, item_key: int, route: Route, hold: Hold) -> None:
        if item_key not in self._held:
            self._held.add(item_key)
            await self._log.append(TransportEvent.HELD, route, f"holds {_name(route)}: {hold.reason}")

    async def send(self, item: QueueItem) -> Answer:
        route = item.route
        if route is None:
            return await self._post(item.url, item.envelope)
        if item.key in self._held:
            self._held.discard(item.key)
            await self._log.append(TransportEvent.RELEASED, route, f"releases {_name(route)}: the fault is over")
        if item.attempts:
            await self._log.append(TransportEvent.RETRY, route, f"retries {_name(route)} (attempt {item.attempts + 1})")
        fault = self._switch.take(self._leg, route, self._clock.now())
        if fault is None:
            return await self._post(item.url, item.envelope)
        sent = await _MISHAPS[type(fault)](self, item)
        await self._log.append(_EVENTS[type(fault)], route, f"{_name(route)} {sent.detail} [{fault.id}]")
        return sent.answer

    async def _post(self, url: str, body: bytes) -> Answer:
        return await post_envelope(self._session, url, body)

    def _receiver(self, item: QueueItem) -> str:
        assert item.route is not None
        return "hub" if self._leg is Leg.SUBMIT else item.route.recipient

    async def _drop(self, item: QueueItem) -> _Sent:
        lost = Answer(Outcome.UNREACHABLE, None, {"error": "dropped", "message": "lost in transit (scripted fault)"})
        return _Sent(lost, "lost in transit: no answer, the sender will retry")

    async def _duplicate(self, item: QueueItem) -> _Sent:
        first = await self._post(item.url, item.envelope)
        second = await self._post(item.url, item.envelope)
        receiver = self._receiver(item)
        if first.outcome is Outcome.ACCEPTED and second.outcome is Outcome.ACCEPTED and second.body.get("duplicate"):
            return _Sent(first, f"sent twice: {receiver} absorbed the copy with the original receipt")
        return _Sent(first, f"sent twice: {receiver} answered {_verdict(first)}, then {_verdict(second)}")

    async def _corrupt(self, item: QueueItem) -> _Sent:
        damaged, offset = flip_byte(Envelope.from_xml(item.envelope).document)
        answer = await self._post(item.url, rewrite_envelope(item.envelope, document=damaged))
        return _Sent(answer, f"damaged in transit (byte {offset} flipped): {self._receiver(item)} answered "
                             f"{_verdict(answer)}")


_MISHAPS: dict[type, Callable[[Wire, QueueItem], Awaitable[_Sent]]] = {
    Drop: Wire._drop,
    Duplicate: Wire._duplicate,
    Corrupt: Wire._corrupt,
}
_EVENTS: dict[type, TransportEvent] = {
    Drop: TransportEvent.DROPPED,
    Duplicate: TransportEvent.DUPLICATED,
    Corrupt: TransportEvent.CORRUPTED,
}


def _name(route: Route) -> str:
    return f"{route.message_type} {route.sender}→{route.recipient}"


def _verdict(answer: Answer) -> str:
    if answer.status is None:
        return "nothing"
    rule = answer.body.get("rule")
    return f"HTTP {answer.status}" + (f" [{rule}]" if rule else "")


# -- control API --------------------------------------------------------------------------------------------


def faults_handler(
    switch: FaultSwitch, after: Callable[[], None]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`PUT /control/faults {"faults": [...]}`: the driver replaces the component's fault plan.

    `after` wakes the forwarders, so envelopes a healed fault held go at once.
    """

    async def handler(request: web.Request) -> web.Response:
        try:
            switch.install(plan_from_json(await request.json()))
        except ValueError as exc:
            return json_response({"error": "bad-fault-plan", "message": str(exc)}, status=400)
        except CaravanError as exc:
            return error_response(exc)
        after()
        return json_response({"faults": [fault.id for fault in switch.plan]})

    return handler


def transport_handler(log: TransportLog) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`GET /transport?after=N`: the transport events since N, for the driver's timeline."""

    return listing_handler("events", log.after)
