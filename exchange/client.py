"""Sending envelopes over HTTP, and draining an ordered queue of them with retries.

The hub pushing to a node's inbox and a node relaying its outbox to the hub are the same problem: take
the oldest undelivered envelope, POST it, and decide from the answer whether it is done (2xx), refused
for good (4xx: resending the same bytes cannot help), or worth retrying later (5xx, timeouts, refused
connections). `Forwarder` keeps that loop and its backoff in one place; the queue itself stays in the
caller's SQLite tables, so nothing is lost when a process dies between two attempts.

One kind of 4xx is not final: a refusal on integrity (`INTEGRITY_RULES`: the digest does not match, the
XML is not well-formed) says the bytes were damaged on the way, not that the message is wrong. The
sender's stored copy is intact, so the forwarder sends it once more; a second integrity refusal of the
same message is final, so a sender that really signs broken documents does not loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import aiohttp

__all__ = ["INTEGRITY_RULES", "MAX_ATTEMPTS", "Answer", "Forwarder", "Outcome", "QueueItem", "Route", "post_envelope"]

ENVELOPE_CONTENT_TYPE = "application/xml"

INTEGRITY_RULES = frozenset({"signature-digest", "xml-malformed"})
"""Refusals that mean "damaged in transit": worth one more attempt from the sender's intact copy."""


class Outcome(Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    status: int | None
    body: dict[str, Any]

    def describe(self) -> str:
        """The answer in a line for a delivery's `last_error`: the HTTP outcome, the receiver's words and, for a
        refusal, the rule and the place it names, so that whoever tracks the delivery learns why."""
        status = f"HTTP {self.status}" if self.status is not None else "no answer"
        rule = ""
        if self.body.get("rule"):
            rule = f" [rule {self.body['rule']}" + (f" at {self.body['path']}]" if self.body.get("path") else "]")
        words = str(self.body.get("message", self.body.get("error", "")))
        return f"{status}: {words[:max(0, 498 - len(status) - len(rule))]}{rule}"[:500]  # a long message keeps the rule


async def post_envelope(session: aiohttp.ClientSession, url: str, envelope: bytes, *, timeout: float = 10.0) -> Answer:
    """POST one envelope and classify the answer; never raises for network trouble. A redirect is not followed:
    the envelope goes only where it is addressed, and a 3xx, no answer of the push contract, is retried."""
    try:
        async with session.post(
            url,
            data=envelope,
            headers={"Content-Type": ENVELOPE_CONTENT_TYPE},
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            body = _json_or_text((await _answer_bytes(response)).decode("utf-8", errors="replace"))
            if 200 <= response.status < 300:
                return Answer(Outcome.ACCEPTED, response.status, body)
            if 400 <= response.status < 500 and response.status not in (408, 429):
                return Answer(Outcome.REFUSED, response.status, body)
            return Answer(Outcome.UNREACHABLE, response.status, body)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return Answer(Outcome.UNREACHABLE, None, {"error": "transport-failed", "message": _reason(exc)})


ANSWER_BYTES = 1024 * 1024
"""The most of an answer's body a sender reads: a receipt, or a refusal listing every schema finding of a large
document, fits; a peer (a system under test's inbox) that answers with more cannot make the hub hold it all."""


async def _answer_bytes(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body up to `ANSWER_BYTES`; the rest is left unread (the connection is then not reused)."""
    body = bytearray()
    while len(body) < ANSWER_BYTES and (chunk := await response.content.read(ANSWER_BYTES - len(body))):
        body.extend(chunk)
    return bytes(body)


def _reason(exc: BaseException) -> str:
    """Why a push got no answer, in words an operator can act on: the error's kind, its text, and its cause
    (`Connection reset by peer`, `certificate verify failed`), without the client library's internals."""
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and str(cause) and str(cause) not in text:
        text = f"{text} ({type(cause).__name__}: {cause})"
    elif cause is not None and not str(cause):
        text = f"{text} ({type(cause).__name__})"
    return f"{type(exc).__name__}: {text}"


def _json_or_text(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"message": text[:500]}
    return value if isinstance(value, dict) else {"value": value}


@dataclass(frozen=True)
class Route:
    """Where an envelope goes, as the transport sees it (what fault scripting and transport logs name)."""

    sender: str
    recipient: str
    message_type: str
    message_id: str


@dataclass(frozen=True)
class QueueItem:
    """One envelope waiting in a durable queue."""

    key: int
    url: str
    envelope: bytes
    attempts: int
    route: Route | None = None


MAX_ATTEMPTS = 1000
"""Attempts at the head of a queue before it is given up and the next one goes: at the backoff's cap of 2 s,
about half an hour of a peer that answers nothing or 5xx. A component's config sets its own
(`retry: {max_attempts: N}`): a team whose system is down for a day on purpose raises it."""

Send = Callable[[QueueItem], Awaitable[Answer]]
"""How a forwarder puts one item on the wire (a plain POST, or one that scripted faults may disturb)."""


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
        send: Send | None = None,
    ) -> None:
        self._session = session
        self._next_item = next_item
        self._settle = settle
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._send = send or self._post
        self._wake = asyncio.Event()
        self._resent: set[int] = set()  # keys that had their one resend after an integrity refusal

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
            answer = self._judge(item, await self._send(item))
            await self._settle(item, answer)
            if answer.outcome is Outcome.UNREACHABLE:
                await asyncio.sleep(self.delay(item.attempts + 1))

    async def _post(self, item: QueueItem) -> Answer:
        return await post_envelope(self._session, item.url, item.envelope)

    def _judge(self, item: QueueItem, answer: Answer) -> Answer:
        """Turn the first integrity refusal of an item into "try again"; every other answer stands.

        The resend is remembered in memory: a restarted process may grant one more, which is harmless
        because every resend carries the sender's stored, intact copy.
        """
        damaged = answer.outcome is Outcome.REFUSED and answer.body.get("rule") in INTEGRITY_RULES
        if damaged and item.key not in self._resent:
            self._resent.add(item.key)
            return replace(answer, outcome=Outcome.UNREACHABLE)
        if answer.outcome is not Outcome.UNREACHABLE:
            self._resent.discard(item.key)
        return answer
