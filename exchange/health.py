"""Is a component up and serving? The `/health` route of the hub and every node, and the check that asks it.

1. A component serves only once its port is bound, its store open and its forwarders running
   (`nodes.launch`), so any answer from `/health` means it is ready for traffic. The route reads
   nothing, so a busy component still answers at once.
2. The answer names the component and its *instance*: an id drawn at random each time the component's
   application is made, that is each time it starts serving. A driver waiting for a component to be
   restarted from outside (`docker-compose restart hub`) knows it was by a new instance; an open port
   cannot tell an old process from a new one.
3. `check_health` is what container health checks run (`caravan health --config FILE`): it uses the
   standard library's HTTP client, so a check every few seconds does not load the HTTP server stack or
   the document code. Under mutual TLS it presents a party's identity; any party of the scenario CA may
   ask, so a component checks itself with its own.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from exchange.errors import TransportError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["HEALTH_PATH", "Health", "add_health_route", "check_health"]

HEALTH_PATH = "/health"


@dataclass(frozen=True)
class Health:
    """What `/health` says: which component answers, and which start of it."""

    component: str
    instance: str

    def as_dict(self) -> dict[str, str]:
        return {"component": self.component, "instance": self.instance, "status": "serving"}


def add_health_route(app: web.Application, component: str) -> Health:
    """Answer `GET /health` on `app` for this start of `component`; returns what it will answer."""
    from aiohttp import web  # here, not above: the check alone must not load the server stack

    health = Health(component, uuid.uuid4().hex)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response(health.as_dict())

    app.router.add_get(HEALTH_PATH, handler)
    return health


def check_health(url: str, context: ssl.SSLContext | None, *, timeout: float) -> Health:
    """Ask the component at `url`; TransportError when it does not answer, or answers with no health."""
    try:
        with urllib.request.urlopen(f"{url}{HEALTH_PATH}", timeout=timeout, context=context) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise TransportError(f"{url}{HEALTH_PATH} answered HTTP {exc.code}: {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{url} does not answer: {reason}") from None
    except ValueError as exc:
        raise TransportError(f"{url}{HEALTH_PATH} answered something that is not JSON: {exc}") from None
    if not isinstance(body, dict) or not {"component", "instance"} <= body.keys():
        raise TransportError(f"{url}{HEALTH_PATH} answered {body!r}, not a component's health")
    return Health(str(body["component"]), str(body["instance"]))
