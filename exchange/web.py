"""HTTP plumbing shared by the hub and the nodes: JSON answers, error bodies, the scenario clock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from exchange.clock import VirtualClock
from exchange.errors import (
    CaravanError,
    DocumentError,
    DuplicateMessage,
    ProtocolError,
    TrustError,
    ValidationFailed,
)

__all__ = ["error_response", "json_response", "set_clock_handler"]

_STATUS_BY_ERROR: tuple[tuple[type[CaravanError], int], ...] = (
    (DocumentError, 400),
    (ValidationFailed, 422),
    (TrustError, 403),
    (DuplicateMessage, 409),
    (ProtocolError, 422),
)


def json_response(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body, default=str), status=status, content_type="application/json")


def error_response(error: CaravanError) -> web.Response:
    """Answer with the error's machine-readable body and the HTTP status its kind implies."""
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 400)
    return json_response(error.as_dict(), status=status)


def set_clock_handler(
    clock: VirtualClock, after: Callable[[], Awaitable[None]] | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """`PUT /control/clock {"now": ISO-8601}`: the scenario driver moves a component's virtual time.

    `after` runs once the clock has moved, so a node can let deadlines fire before it answers.
    """

    async def handler(request: web.Request) -> web.Response:
        body = await request.json()
        try:
            clock.set(datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")))
        except (KeyError, ValueError) as exc:
            return json_response({"error": "bad-clock", "message": str(exc)}, status=400)
        if after is not None:
            await after()
        return json_response({"now": clock.now().isoformat()})

    return handler
