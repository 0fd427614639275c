"""Waiting until nothing is in flight anywhere in a deployment, without polling on a timer.

A scenario step may start only when no component has work in flight: no inbox row unprocessed, no
outbox row it may send, no hub delivery pending. Asking each component on its own is not enough: when
one goes quiet, a message it just handed on may be on its way to another that was quiet a moment ago.
The driver therefore takes a double collect over the components' long polls (exchange/activity.py):

1. In one round it asks every component at once, `GET /status?wait=S`; each answers when it has
   nothing in flight of its own (or after S seconds), with its version ([instance, changes]).
2. It starts the next round only after every answer of the previous one is in, and stops when two
   rounds running find every component quiet with the same version as before.

Why that is enough: every answer of round k was read before any answer of round k+1. With its version
unchanged, no component changed between its two readings, so at the moment the last answer of round k
was read, every component was in the state it reported then: quiet. A message between two components
is always still counted by its sender (an outbox row stays pending, a hub delivery stays pending, until
the receiver has committed it and said so), so quiet everywhere at one moment means nothing in flight.
A component that restarts comes back with a new instance token, so it never looks unchanged.

Each round costs one request per component, and a component that is busy holds its request instead of
being asked again: the number of requests follows the hops a step causes, not the time it takes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from exchange.errors import TransportError

__all__ = ["LONG_POLL", "ReadStatus", "wait_until_settled"]

LONG_POLL = 10.0
"""How long one status request may be held, in seconds; the settle timeout is checked between rounds."""

ReadStatus = Callable[[str, float], Awaitable[Mapping[str, Any]]]
"""`(component, wait)`: one `GET /status?wait=…` of that component, its JSON answer."""


async def wait_until_settled(
    read: ReadStatus,
    components: Sequence[str],
    timeout: float,
    first: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Mapping[str, Any]]:
    """Return when two rounds running find every component quiet and unchanged, with the last round's answers.

    `first` is a round already taken, one reading of every component (the answers to moving the clocks,
    which carry the same reading as a status). The answers returned are current until someone acts again:
    nothing was in flight to change them.

    Raises `TransportError` when the deployment is still busy after `timeout` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    previous = None if first is None else _versions([first[component] for component in components])
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TransportError(f"components did not settle within {timeout:.0f} s")
        wait = min(LONG_POLL, remaining)
        answers = await asyncio.gather(*(read(component, wait) for component in components))
        versions = _versions(answers)
        if versions is not None and versions == previous:
            return dict(zip(components, answers, strict=True))
        previous = versions


def _versions(answers: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]] | None:
    """Every component's version, if every one of them is quiet; None if any has work in flight."""
    if not all(answer.get("quiet") for answer in answers):
        return None
    return [tuple(answer["version"]) for answer in answers]
