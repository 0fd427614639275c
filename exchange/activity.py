"""How a component lets a scenario driver wait until it has gone quiet, instead of being polled.

Every hub and node keeps an `Activity`:

1. a change counter, moved by every committed transaction of the component's store (`Database.on_commit`)
   and by every change of the in-memory state that decides what it may still send (the virtual clock, the
   fault plan, an action or a tick under way); committed transactions are counted on their own as well;
2. an `instance` token drawn when the component object is made, so that a restarted component, whose
   counter starts again from zero, never looks unchanged;
3. a long poll on the status endpoint, `GET /status?wait=S`: it answers as soon as the component has
   nothing in flight of its own, or after S seconds, whichever comes first, with what a waiter needs:
   the reading below and the component's marks (the ids of its newest delivery, event, refusal or
   transport line, so the driver fetches a list only when it has something new), and what the query
   asks to have brought along (a node's events after a given id: the list the driver would fetch next).
   Without `wait` it answers at once, and with every count of the component's status besides.

"In flight" is what the component itself still has to move: an inbox row not processed, an outbox row or
a hub delivery not yet acknowledged by its receiver, an action under way. Envelopes a scripted fault holds
are not in flight: only a later step (the clock, a healed fault) can release them.

A node's action (`POST /control/actions?wait=S`, nodes/node.py) can answer with such a reading too, once
the node has nothing in flight after it. Moving the virtual clock (`PUT /control/clock`, exchange/web.py)
answers with such a reading, and with `still`: the move committed nothing and left nothing in flight.
When every component says so, the move set nothing in motion, and a deployment that had settled before it
is still settled.

The answer's `version` ([instance, changes]) and `in_flight` are one consistent reading: the counter is
read before and after the count, and the count is taken again if it moved in between. Because listeners
run before the store's lock is released, a count that saw a commit also sees its change of the counter.
So two answers with the same version mean that nothing changed in the component between them, which is
what the driver's double collect (exchange/settle.py) needs. The marks and counts in the answer are
read just after; once the deployment has settled, nothing moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from exchange.web import json_response

__all__ = ["MAX_ID", "MAX_WAIT", "Activity", "BadQuery", "Reading", "add_status_route", "as_id", "bring_along",
           "listing_handler", "query_id", "quiet_answer", "requested_wait"]

MAX_WAIT = 60.0
"""The longest a status request may be held, in seconds."""

InFlight = Callable[[], Awaitable[int]]
"""Counts what the component still has to move by itself (see the module docstring)."""


@dataclass(frozen=True)
class Reading:
    """The component's version and its in-flight count, read together."""

    instance: str
    changes: int
    in_flight: int

    def as_dict(self) -> dict[str, Any]:
        return {"version": [self.instance, self.changes], "in_flight": self.in_flight, "quiet": self.in_flight == 0}


class Activity:
    """A component's change counter and the long polls waiting on it."""

    def __init__(self) -> None:
        self.instance = secrets.token_hex(8)
        self.busy = 0  # actions and ticks under way: in flight until they have committed what they decided
        self.commits = 0  # transactions the component's store committed
        self._changes = 0
        self._changed = asyncio.Event()
        self._closed = False

    def touch(self) -> None:
        """Something that may matter to a waiter changed: count it and wake every waiter to look again."""
        self._changes += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def committed(self) -> None:
        """The component's store committed a transaction (`Database.on_commit`)."""
        self.commits += 1
        self.touch()

    def enter(self) -> None:
        """An action or a tick starts: the component is busy until `leave`."""
        self.busy += 1
        self.touch()

    def leave(self) -> None:
        self.busy -= 1
        self.touch()

    def close(self) -> None:
        """The server is stopping: answer every waiting request now rather than hold up the shutdown."""
        self._closed = True
        self.touch()

    async def read(self, in_flight: InFlight) -> Reading:
        """One consistent reading: no change was counted while `in_flight` ran."""
        while True:
            before = self._changes
            count = await in_flight()
            if self._changes == before:
                return Reading(self.instance, before, count)

    async def when_quiet(self, in_flight: InFlight, wait: float) -> Reading:
        """The first reading with nothing in flight, or the last one taken before `wait` seconds ran out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            changed = self._changed  # taken before reading: a change during the reading is not missed
            reading = await self.read(in_flight)
            remaining = deadline - loop.time()
            if reading.in_flight == 0 or remaining <= 0 or self._closed:
                return reading
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)


Report = Callable[[], Awaitable[dict[str, Any]]]

News = Callable[[Mapping[str, str]], Awaitable[dict[str, Any]]]
"""What a status request's query asks to bring along, read after the marks; raises ValueError for a bad query."""


def bring_along(parameter: str, key: str, read: Callable[[int], Awaitable[Any]]) -> News:
    """A `News` answering `?PARAMETER=N` with `{KEY: await read(N)}`: the list after id N that the reader would
    fetch next, brought along by its status answer."""

    async def news(query: Mapping[str, str]) -> dict[str, Any]:
        return {} if parameter not in query else {key: await read(query_id(query, parameter))}

    return news


class BadQuery(ValueError):
    """A status query the component cannot answer; `rule` and `path` name what is wrong in it."""

    def __init__(self, rule: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.rule, self.path = rule, path

    def response(self) -> web.Response:
        body = {"error": self.rule, "message": str(self), **({"path": self.path} if self.path else {})}
        return json_response(body, status=400)


MAX_ID = 2**63 - 1
"""The largest id SQLite's INTEGER holds: a store asked about a larger one raises OverflowError."""


def as_id(text: str) -> int | None:
    """A row id as a request writes it: a whole number up to `MAX_ID`; None for anything else (`abc`, `-1`, `²`,
    twenty digits), which a store would answer with an error or an OverflowError."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def query_id(query: Mapping[str, str], parameter: str) -> int:
    """`?after=N` and the like: the id a listing counts from (0 when absent); `BadQuery` for anything but an id
    (`as_id`), which would otherwise end in a 500 from the store."""
    text = query.get(parameter, "0")
    number = as_id(text)
    if number is None:
        raise BadQuery("bad-query", f"query parameter {parameter}={text!r}: give an id (0 or more)", parameter)
    return number


def listing_handler(
    key: str, read: Callable[[int], Awaitable[Any]]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`GET /…?after=N` answering `{KEY: await read(N)}`, the rows after id N (a hub's refusals, a component's
    events or transport lines); an N that is no id is a 400 naming it (`query_id`)."""

    async def handler(request: web.Request) -> web.Response:
        try:
            after = query_id(request.query, "after")
        except BadQuery as exc:
            return exc.response()
        return json_response({key: await read(after)})

    return handler


def requested_wait(query: Mapping[str, str]) -> float | None:
    """The `wait=S` of a query (None without one); `BadQuery` outside 0 to `MAX_WAIT` seconds."""
    if "wait" not in query:
        return None
    try:
        wait = float(query["wait"])
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT:
        raise BadQuery("bad-wait", f"query parameter wait={query['wait']!r}: give seconds from 0 to {MAX_WAIT:.0f}",
                       "wait")
    return wait


async def quiet_answer(activity: Activity, in_flight: InFlight, marks: Report, wait: float,
                       query: Mapping[str, str], news: News | None = None,
                       counts: Report | None = None) -> dict[str, Any]:
    """What a waiter is told once the component has nothing in flight (or `wait` seconds ran out): the
    reading, the `counts` and marks read just after it, and what the query asks to have brought along.
    `BadQuery` for a query whose news the component cannot read."""
    reading = await activity.when_quiet(in_flight, wait)
    answer = {**({} if counts is None else await counts()), **await marks(), **reading.as_dict()}
    try:
        brought = {} if news is None else await news(query)
    except ValueError as exc:
        raise BadQuery("bad-query", str(exc)) from exc
    return {**answer, **brought}


def add_status_route(app: web.Application, activity: Activity, in_flight: InFlight, marks: Report,
                     status: Report, news: News | None = None) -> None:
    """`GET /status[?wait=S]` on `app`, and a shutdown hook that answers the requests still waiting."""

    async def handler(request: web.Request) -> web.Response:
        try:
            wait = requested_wait(request.query)
            return json_response(await quiet_answer(activity, in_flight, marks, wait or 0.0, request.query, news,
                                                    counts=status if wait is None else None))
        except BadQuery as exc:
            return exc.response()

    async def release(app: web.Application) -> None:
        activity.close()

    app.router.add_get("/status", handler)
    app.on_shutdown.append(release)
