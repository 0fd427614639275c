"""Waiting until nothing is in flight anywhere in a deployment, asking only what can have changed.

A scenario step may start only when no component has work in flight: no inbox row unprocessed, no
outbox row it may send, no hub delivery pending. Every component answers a long poll, `GET /status?wait=S`,
when it has nothing in flight of its own (exchange/activity.py). Asking each one on its own is not enough:
when one goes quiet, a message it just handed on may be on its way to another that was quiet a moment ago.
Asking all of them in every round (a double collect) is enough but costs a request per component per hop,
twelve per hop with eleven nodes. A `Quiescence` asks, in each round,

1. the nodes whose last reading is not known to be current (below), all at once, each answering when quiet;
2. then, once every one of them has answered, the hub, answering when quiet; its answer carries `pushes`,
   per recipient node, the push attempts this hub instance has finished (exchange/hub.py `marks`).

A node's quiet reading is *current* while the hub's count of pushes to it equals the count the hub gave
in its last answer before that reading (the *baseline*: the hub answer of the previous round, or of the
clock move that preceded the reading), from the same hub instance. The settle ends after a round whose
hub answer is quiet and leaves every node's reading current. Steps begin with the readings of the last
settle: only the node the driver acted upon (`stir`; the action's own answer may carry the node's reading
taken once it went quiet, `observe`), or every node after a step the driver cannot bound (a fault, a
restart, a drill: `stir_all`), must be asked again.

Why that is enough: let H be the last hub answer, quiet. Every node n was quiet at its reading r(n),
which came before H (its round's nodes answer before its hub is asked). A node that is quiet starts work
only through the driver (an action, a clock move, a fault plan, a restart: each one stirs it, so it is
asked again) or through a push from the hub: the only other party that calls a node. Suppose a push
changed n after r(n). The node commits before it answers, so the hub counts that attempt after r(n),
hence after the baseline, which came before r(n). If it counted it by H, the count differs from the
baseline and n is not current. If not, the attempt was still open at H, and the hub counts an attempt
before its delivery stops being pending, so the hub had a delivery pending at H: not quiet. So at the
moment H every node was still in its quiet state, the hub was quiet, and a message between two
components is always counted by its sender until the receiver has committed it: nothing was in flight.
A hub that restarts comes back with a new instance and counts from zero: no reading is current against
it, and every node is asked again.

A round costs one request to the hub and one to each node a push reached or the driver stirred: the
number of requests follows the hops a step causes, not the components the deployment has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from exchange.errors import TransportError

__all__ = ["LONG_POLL", "Quiescence", "ReadStatus"]

LONG_POLL = 10.0
"""How long one status request may be held, in seconds; the settle timeout is checked between rounds."""

ReadStatus = Callable[[str, float], Awaitable[Mapping[str, Any]]]
"""`(component, wait)`: one `GET /status?wait=…` of that component, its JSON answer."""

_Baseline = tuple[str, int]
"""(hub instance, pushes the hub had finished to a node) in the hub answer before that node's reading."""


class Quiescence:
    """The driver's knowledge of every component's last reading, kept from one settle to the next.

    `always` are nodes asked in every round whatever the counts say: nodes of another operator, whose
    only ways to start work caravan cannot vouch for.
    """

    def __init__(self, hub: str, nodes: Sequence[str], always: Iterable[str] = ()) -> None:
        self._hub = hub
        self._nodes = list(nodes)
        self._always = set(always)
        self._readings: dict[str, Mapping[str, Any]] = {}
        self._baselines: dict[str, _Baseline | None] = dict.fromkeys(self._nodes)
        self._hub_reading: Mapping[str, Any] | None = None

    def stir(self, *nodes: str) -> None:
        """The driver is about to set these nodes in motion (an action): their readings no longer hold."""
        for node in nodes:
            if node in self._baselines:
                self._baselines[node] = None

    def stir_all(self) -> None:
        """A step whose reach the driver cannot bound (a fault plan, a restart, a drill): ask everything again."""
        self.stir(*self._nodes)

    def observe(self, readings: Mapping[str, Mapping[str, Any]]) -> None:
        """Readings taken one after another, in the mapping's order, the hub's first (the clock move's answers,
        or a node's answer to an action, taken after the last hub reading)."""
        for component, reading in readings.items():
            if component == self._hub:
                self._hub_reading = reading
            else:
                self._note(component, reading)

    def reading(self, node: str) -> Mapping[str, Any]:
        """The node's last reading; empty before the first."""
        return self._readings.get(node, {})

    def readings(self) -> dict[str, Mapping[str, Any]]:
        """The last reading of every component, the hub's first."""
        assert self._hub_reading is not None, "no reading of the hub yet"
        return {self._hub: self._hub_reading, **{node: self._readings[node] for node in self._nodes}}

    async def settle(self, read: ReadStatus, timeout: float) -> dict[str, Mapping[str, Any]]:
        """Return once nothing is in flight anywhere, with every component's last reading (current until the
        driver acts again: nothing was in flight to change them).

        Raises `TransportError` when the deployment is still busy after `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TransportError(f"components did not settle within {timeout:.0f} s")
            wait = min(LONG_POLL, remaining)
            asked = [node for node in self._nodes if node in self._always or not self._current(node)]
            answers = await asyncio.gather(*(read(node, wait) for node in asked))
            for node, answer in zip(asked, answers, strict=True):
                self._note(node, answer)
            self._hub_reading = await read(self._hub, wait)
            if self._hub_reading.get("quiet") and all(self._current(node) for node in self._nodes):
                return self.readings()

    def _note(self, node: str, reading: Mapping[str, Any]) -> None:
        self._readings[node] = reading
        self._baselines[node] = _pushes_to(node, self._hub_reading) if reading.get("quiet") else None

    def _current(self, node: str) -> bool:
        """Whether the node's quiet reading still holds by the hub's last answer (see the module docstring)."""
        baseline = self._baselines[node]
        return baseline is not None and baseline == _pushes_to(node, self._hub_reading)


def _pushes_to(node: str, hub: Mapping[str, Any] | None) -> _Baseline | None:
    if hub is None or "pushes" not in hub:
        return None
    return str(hub["version"][0]), int(hub["pushes"].get(node, 0))
