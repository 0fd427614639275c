"""HTTP plumbing shared by the hub and the nodes: JSON answers, error bodies, the scenario clock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exchange.clock import Clock, VirtualClock, utc
from exchange.errors import (
    CaravanError,
    DocumentError,
    DuplicateMessage,
    InputError,
    ProtocolError,
    TrustError,
    ValidationFailed,
)
from exchange.revocation import RevocationList
from exchange.tls import peer

if TYPE_CHECKING:  # exchange.activity answers with this module's json_response
    from exchange.activity import Activity, InFlight, Report

__all__ = ["PEER", "Access", "clock_handler", "error_response", "json_object", "json_response", "party_guard",
           "set_clock_handler"]

PEER: web.RequestKey[str | None] = web.RequestKey("caravan.peer", str)
"""Where `party_guard` leaves the TLS identity of a request (None on plain HTTP)."""

_STATUS_BY_ERROR: tuple[tuple[type[CaravanError], int], ...] = (
    (DocumentError, 400),
    (ValidationFailed, 422),
    (TrustError, 403),
    (DuplicateMessage, 409),
    (ProtocolError, 422),
)


_JSON = json.JSONEncoder(default=str)
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def json_response(body: Any, *, status: int = 200) -> web.Response:
    """`body` as JSON (what it cannot encode, as text). Every answer of every component comes through here: the
    encoder and the header are made once, and the bytes given as they are, not as text to encode again and a
    content type to parse (4 against 6 us an answer)."""
    return web.Response(body=_JSON.encode(body).encode(), status=status, headers=_JSON_HEADERS)


def error_response(error: CaravanError) -> web.Response:
    """Answer with the error's machine-readable body and the HTTP status its kind implies."""
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 400)
    return json_response(error.as_dict(), status=status)


async def json_object(request: web.Request, example: str) -> dict[str, Any]:
    """A control request's body, which is a JSON object; InputError naming the request and showing `example`
    otherwise (a body that was not JSON, or was a list, ended in a 500 and a traceback in the log)."""
    try:
        body = json.loads(await request.read())
    except ValueError:  # not JSON, or not text: json's and the codec's errors are both ValueErrors
        body = None
    if not isinstance(body, dict):
        raise InputError(f"the body is not a JSON object; send {example}", document=f"{request.method} {request.path}",
                         rule="json-body")
    return body


_CLOCK_BODY = '{"now": "2026-03-02T08:00:00Z"}'


def set_clock_handler(
    clock: VirtualClock,
    activity: Activity,
    in_flight: InFlight,
    marks: Report | None = None,
    after: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`PUT /control/clock {"now": ISO-8601}`: the scenario driver moves a component's virtual time.

    `after` runs once the clock has moved, so a node can let deadlines fire before it answers. The answer
    carries the component's activity reading and its `marks`, as a status answer does (the clock move is
    the driver's first reading of the components, exchange/settle.py), and `still`: the move committed
    nothing and left nothing in flight (exchange/activity.py).
    """

    async def handler(request: web.Request) -> web.Response:
        try:
            now = (await json_object(request, _CLOCK_BODY)).get("now")
        except InputError as exc:
            return error_response(exc)
        commits = activity.commits
        try:
            if not isinstance(now, str):
                raise ValueError(f"now={now!r}: send {_CLOCK_BODY}")
            clock.set(datetime.fromisoformat(now.replace("Z", "+00:00")))
        except ValueError as exc:
            return json_response({"error": "bad-clock", "message": str(exc)}, status=400)
        if after is not None:
            await after()
        reading = await activity.read(in_flight)
        still = activity.commits == commits and reading.in_flight == 0
        seen = {} if marks is None else await marks()
        return json_response({"now": clock.now().isoformat(), **seen, **reading.as_dict(), "still": still})

    return handler


def clock_handler(clock: Clock, window: timedelta) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`GET /clock`: the time an envelope's Created is checked against, and the window around it.

    A scenario hub runs on virtual time, which no wall clock shows; an outside system reads it here
    before it stamps an envelope, instead of learning it from a refusal.
    """

    async def handler(request: web.Request) -> web.Response:
        return json_response({
            "now": utc(clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "virtual": isinstance(clock, VirtualClock),
            "window_seconds": int(window.total_seconds()),
        })

    return handler


@dataclass(frozen=True)
class Access:
    """Who may call the routes under `prefix`: a set of TLS identities, or None for any authenticated party."""

    prefix: str
    parties: frozenset[str] | None


def party_guard(
    rules: Sequence[Access],
    revocations: RevocationList | None,
    clock: Clock,
    on_refusal: Callable[[str | None, bytes, CaravanError], Awaitable[None]] | None = None,
) -> Callable[[web.Request, Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[web.StreamResponse]]:
    """Middleware: identify the TLS peer (CRL-checked, in scenario time) and enforce the first matching rule.

    On plain HTTP there is no peer and nothing is enforced: plain HTTP is only for demos that ask for it.
    `on_refusal(peer, body, error)` lets the hub keep refused connections in its audit log.
    """

    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        caller = peer(request)
        identity = None if caller is None else caller.party
        rule = next((rule for rule in rules if request.path.startswith(rule.prefix)), None)
        try:
            if caller is not None and revocations is not None:
                revocations.check(caller.certificate, clock.now())
            if identity is not None and rule is not None and rule.parties is not None and identity not in rule.parties:
                allowed = ", ".join(sorted(rule.parties))
                message = f"{request.path} is for {allowed}; this connection is {identity!r}"
                raise TrustError(message, rule="tls-identity")
        except TrustError as exc:
            if on_refusal is not None:
                await on_refusal(identity, await request.read(), exc)
            return error_response(exc)
        request[PEER] = identity
        return await handler(request)

    return guard
