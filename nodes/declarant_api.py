"""The trader API of a node, after HMRC's CTC Traders API for P5: the declarant channel over HTTP.

| route | what |
|---|---|
| `POST /movements/departures` | a departure declaration (CC015C) → 202 with the movement id |
| `POST /movements/arrivals` | an arrival notification (CC007C) → 202 |
| `GET /movements/{departures,arrivals}` | the trader's movements |
| `GET /movements/{kind}/{movementId}` | one movement (its LRN, and its MRN once customs gave one) |
| `POST /movements/{kind}/{movementId}/messages` | a follow-up (CC013C, CC014C, CC141C, CC170C; CC044C) → 202 |
| `GET /movements/{kind}/{movementId}/messages` | what the trader sent and what customs answered, in order |
| `GET /movements/{kind}/{movementId}/messages/{messageId}` | one message, as P5 XML |

Bodies are `application/xml`; answers about movements are JSON with HAL-style `_links`, as HMRC's are.
The caller is the trader whose EORI is the common name of its client certificate (`Declarants`). Refusals
carry caravan's error body (document, path, rule): 400 unreadable, schema-invalid, wrong type or
recipient for the route, or over `MAX_MESSAGE_BYTES`; 403 not the trader's own; 404 no such movement
of the trader, or no such kind of movement; 409 a used messageIdentification (NCTS error 26); 415 not
XML; 501 a valid message this node's customs do not process yet. The HTTP layer's own refusals (a
route, a media type, a body it stopped reading) are given in the same body, never as plain text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from exchange.errors import (
    CaravanError,
    DocumentError,
    DuplicateMessage,
    InputError,
    NotSupported,
    TrustError,
    UnknownMovement,
    ValidationFailed,
)
from exchange.web import PEER, Access, json_response
from nodes.declarant import ARRIVALS, DEPARTURES, Declarants
from nodes.node import Service

__all__ = ["MAX_MESSAGE_BYTES", "DeclarantApi"]

MAX_MESSAGE_BYTES = 5 * 1024 * 1024
"""HMRC's limit for a message sent in the request body (larger ones go through an upload)."""

_STATUS: tuple[tuple[type[CaravanError], int], ...] = (
    (ValidationFailed, 400),
    (DocumentError, 400),
    (InputError, 400),
    (TrustError, 403),
    (UnknownMovement, 404),
    (DuplicateMessage, 409),
    (NotSupported, 501),
)

_XML_TYPES = frozenset({"application/xml", "text/xml"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _refusal(error: CaravanError) -> web.Response:
    status = next((code for kind, code in _STATUS if isinstance(error, kind)), 400)
    return json_response(error.as_dict(), status=status)


def _answer(status: type[web.HTTPException], error: str, message: str, path: str, rule: str) -> web.HTTPException:
    """A refusal of the HTTP layer's (a route, a media type) in caravan's error body, not aiohttp's plain text."""
    body = {"error": error, "message": message, "path": path, "rule": rule}
    return status(text=json.dumps(body), content_type="application/json")


def _kind(request: web.Request) -> str:
    kind = request.match_info["kind"]
    if kind not in (DEPARTURES, ARRIVALS):
        raise _answer(web.HTTPNotFound, "not-found", f"no /movements/{kind}: the trader API serves "
                      f"/movements/{DEPARTURES} and /movements/{ARRIVALS}", "kind", "route")
    return kind


class DeclarantApi:
    """The node's channel for declarants (see `nodes.node.Channel`)."""

    def __init__(self, declarants: Declarants) -> None:
        self._declarants = declarants
        self.access = (Access("/movements", declarants.traders),)
        self.services: Mapping[str, Service] = {"submit": declarants.submit_step}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/movements/{kind}", self._guarded(self._submit))
        app.router.add_get("/movements/{kind}", self._guarded(self._list))
        app.router.add_get("/movements/{kind}/{movementId}", self._guarded(self._movement))
        app.router.add_post("/movements/{kind}/{movementId}/messages", self._guarded(self._follow_up))
        app.router.add_get("/movements/{kind}/{movementId}/messages", self._guarded(self._messages))
        app.router.add_get("/movements/{kind}/{movementId}/messages/{messageId}", self._guarded(self._message))

    @staticmethod
    def _guarded(handler: Callable[[web.Request, str], Awaitable[web.StreamResponse]]) -> Handler:
        """Every route: the caller is a trader (its certificate's EORI), and refusals are error bodies."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            trader = request.get(PEER)
            try:
                if trader is None:
                    raise TrustError("the trader API needs a trader's client certificate (mutual TLS)",
                                     rule="tls-identity")
                return await handler(request, trader)
            except CaravanError as error:
                return _refusal(error)

        return guarded

    async def _body(self, request: web.Request) -> bytes:
        if request.content_type not in _XML_TYPES:
            raise _answer(web.HTTPUnsupportedMediaType, "unsupported-media-type",
                          f"send application/xml, not {request.content_type}", "Content-Type", "media-type")
        if request.content_length is not None and request.content_length > MAX_MESSAGE_BYTES:
            raise DocumentError(f"the message is {request.content_length} bytes; the limit is {MAX_MESSAGE_BYTES}",
                                rule="too-large")
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:  # sent without a length: the HTTP layer stopped reading it
            raise DocumentError(f"the message is more than {MAX_MESSAGE_BYTES} bytes, the limit",
                                rule="too-large") from None

    async def _submit(self, request: web.Request, trader: str) -> web.StreamResponse:
        await self._declarants.take_hub_time()
        lodged = await self._declarants.lodge(trader, await self._body(request), _kind(request))
        return json_response(lodged.as_dict(), status=200 if lodged.duplicate else 202)

    async def _follow_up(self, request: web.Request, trader: str) -> web.StreamResponse:
        await self._declarants.take_hub_time()
        lodged = await self._declarants.lodge(trader, await self._body(request), _kind(request),
                                              request.match_info["movementId"])
        return json_response(lodged.as_dict(), status=200 if lodged.duplicate else 202)

    async def _list(self, request: web.Request, trader: str) -> web.StreamResponse:
        movements = await self._declarants.movements(trader, _kind(request))
        return json_response({"movements": [movement.as_dict() for movement in movements]})

    async def _movement(self, request: web.Request, trader: str) -> web.StreamResponse:
        movement = await self._declarants.movement(trader, _kind(request), request.match_info["movementId"])
        return json_response(movement.as_dict())

    async def _messages(self, request: web.Request, trader: str) -> web.StreamResponse:
        kind = _kind(request)
        movement = await self._declarants.movement(trader, kind, request.match_info["movementId"])
        base = f"/movements/{kind}/{movement.movement_id}"
        messages = await self._declarants.messages(movement)
        return json_response({"messages": [message.as_dict(base) for message in messages]})

    async def _message(self, request: web.Request, trader: str) -> web.StreamResponse:
        kind, wanted = _kind(request), request.match_info["messageId"]
        movement = await self._declarants.movement(trader, kind, request.match_info["movementId"])
        for message in await self._declarants.messages(movement):
            if message.message_id == wanted:
                return web.Response(body=message.document, content_type="application/xml")
        raise UnknownMovement(f"movement {movement.movement_id} has no message {wanted}", path="messageId",
                              rule="not-found")
