"""Sending envelopes over HTTP, and draining an ordered queue of them with retries.

The hub pushing to a node's inbox and a node relaying its outbox to the hub are the same problem: take
the oldest undelivered envelope, POST it, and decide from the answer whether it is done (2xx), refused
for good (4xx: resending the same bytes cannot help), or worth retrying later (5xx, timeouts, refused
connections). `Forwarder` keeps that loop and its backoff in one place; the queue itself stays in the
caller's SQLite tables, so nothing is lost when a process dies between two attempts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import aiohttp

__all__ = ["Answer", "Forwarder", "Outcome", "QueueItem", "post_envelope"]

ENVELOPE_CONTENT_TYPE = "application/xml"


class Outcome(Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: int | None
    body: dict[str, Any]


async def post_envelope(session: aiohttp.ClientSession, url: str, envelope: bytes, *, timeout: float = 10.0) -> Answer:
    """POST one envelope and classify the answer; never raises for network trouble."""
    try:
        async with session.post(
            url,
            data=envelope,
            headers={"Content-Type": ENVELOPE_CONTENT_TYPE},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            text = await response.text()
            body = _json_or_text(text)
            if 200 <= response.status < 300:
                return Answer(Outcome.ACCEPTED, response.status, body)
            if 400 <= response.status < 500 and response.status not in (408, 429):
                return Answer(Outcome.REFUSED, response.status, body)
            return Answer(Outcome.UNREACHABLE, response.status, body)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return Answer(Outcome.UNREACHABLE, None, {"error": "transport-failed", "message": repr(exc)})


def _json_or_text(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"message": text[:500]}
    return value if isinstance(value, dict) else {"value": value}


@dataclass(frozen=True)
class QueueItem:
    """One envelope waiting in a durable queue."""

    key: int
    url: str
    envelope: bytes
    attempts: int


class Forwarder:
    """Drains one ordered queue: one envelope at a time, in order, retrying with capped backoff.

    Order matters: NCTS offices expect an anticipated record before the notifications that refer to
    it, so a queue is never overtaken by its own later messages while an earlier one is retried.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        next_item: Callable[[], Awaitable[QueueItem | None]],
        settle: Callable[[QueueItem, Answer], Awaitable[None]],
        *,
        max_attempts: int,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
    ) -> None:
        self._session = session
        self._next_item = next_item
        self._settle = settle
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._wake = asyncio.Event()

    @property
    def max_attempts(self) -> int:
        return self._max_attempts

    def wake(self) -> None:
        """Tell the forwarder that a new item may be waiting."""
        self._wake.set()

    def delay(self, attempts: int) -> float:
        return min(self._max_delay, self._base_delay * (2 ** max(0, attempts - 1)))

    async def run(self) -> None:
        """Forward until cancelled."""
        while True:
            self._wake.clear()
            item = await self._next_item()
            if item is None:
                await self._wake.wait()
                continue
            answer = await post_envelope(self._session, item.url, item.envelope)
            await self._settle(item, answer)
            if answer.outcome is Outcome.UNREACHABLE:
                await asyncio.sleep(self.delay(item.attempts + 1))
