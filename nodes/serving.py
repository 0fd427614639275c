"""Serving one component behind a socket its caller bound, until it is told to stop; and opening the hub.

`caravan hub` needs this and nothing of the nodes' or the driver's code, which `nodes.launch` loads for
`caravan node` and `caravan run` (the agencies' desks, the scenario language, the driver): kept apart, a hub
process starts in about 0.4 CPU s less. `nodes.launch` builds every way of running a scenario on it.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exchange.client import MAX_ATTEMPTS
from exchange.clock import Clock, SystemClock, VirtualClock
from exchange.hub import Hub
from exchange.ippc.directory import Directory
from exchange.ippc.entities import ChannelRule, Direction, Receive, RuleType
from exchange.ippc.face import IppcFace
from exchange.pki import TrustStore
from exchange.tls import HUB, TlsIdentity
from nodes.configs import HubConfig
from nodes.ephyto.validation import validate_phyto

if TYPE_CHECKING:  # a hub process never loads the nodes' code
    from nodes.node import Node

__all__ = [
    "SHUTDOWN_GRACE", "attempts_limit", "component_clock", "open_and_serve", "open_hub", "serve_app", "serve_hub",
    "serve_until_stopped", "tls_identity",
]

SHUTDOWN_GRACE = 0.5
"""Seconds a stopping server gives requests in flight (a long poll, say) before it closes their connections."""


def component_clock(start: datetime | None, database: Path) -> Clock:
    """The system clock, or scenario time kept beside the database so that it survives a restart."""
    return SystemClock() if start is None else VirtualClock(start, keep=database.with_suffix(".clock"))


def attempts_limit(configured: int | None) -> int:
    """A config's `retry.max_attempts`, or the forwarders' own default when it gives none."""
    return MAX_ATTEMPTS if configured is None else configured


def tls_identity(enabled: bool, pki: Path, party: str) -> TlsIdentity | None:
    return TlsIdentity.in_pki(pki, party) if enabled else None


async def open_hub(config: HubConfig) -> Hub:
    trust = TrustStore.from_file(config.pki / "ca.pem")
    tls = tls_identity(config.tls, config.pki, HUB)
    clock = component_clock(config.clock_start, config.database)
    directory = _directory(config, clock)
    ippc = IppcFace(directory, clock, trust, validator=validate_phyto)
    hub = await Hub.open(
        config.database, trust, config.nodes, clock, tls=tls, countries=config.countries, ippc=ippc,
        max_attempts=attempts_limit(config.max_attempts),
    )
    await hub.start()
    return hub


def _directory(config: HubConfig, clock: Clock) -> Directory:
    """The IPPC Hub face's directory: every node an NPPO, with the settings its scenario gives it."""
    nppos = config.nppos or {}

    def rules(settings: Mapping[str, Any]) -> tuple[ChannelRule, ...]:
        return tuple(
            ChannelRule(index, RuleType(str(rule["rule"]).upper()), Direction(str(rule["direction"]).upper()),
                        int(rule.get("type", 851)), int(rule.get("status", 70)), str(rule["country"]).upper(),
                        bool(rule.get("active", True)))
            for index, rule in enumerate(settings.get("rules") or (), start=1)
        )

    return Directory.from_pki(
        config.pki, config.nodes, clock,
        receive={node: Receive(str(s.get("receive", "push")).upper()) for node, s in nppos.items()},
        names={node: str(s.get("name") or "") for node, s in nppos.items()},
        rules={node: rules(s) for node, s in nppos.items()},
    )


async def serve_app(app: web.Application, listener: socket.socket, tls: TlsIdentity | None) -> web.AppRunner:
    """Serve `app` on an already bound socket; the server owns the socket from here and closes it."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE)
    await runner.setup()
    try:
        await web.SockSite(runner, listener, ssl_context=tls.server_context() if tls else None).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


async def open_and_serve(
    listener: socket.socket, open_component: Callable[[], Awaitable[Hub | Node]], tls: TlsIdentity | None
) -> tuple[Hub | Node, web.AppRunner]:
    """Open a component behind a bound `listener` and serve it; on failure close what was opened."""
    try:
        component: Hub | Node = await open_component()
    except BaseException:
        listener.close()
        raise
    try:
        runner = await serve_app(component.application(), listener, tls)
    except BaseException:
        listener.close()
        await component.stop()  # its store and tasks are open: close them, or the process cannot exit
        raise
    return component, runner


async def serve_hub(config: HubConfig, listener: socket.socket, announce: Callable[[], None]) -> None:
    """Run the hub behind `listener` (bound by the caller, first) until cancelled; `announce` once it serves."""
    hub, runner = await open_and_serve(listener, partial(open_hub, config), tls_identity(config.tls, config.pki, HUB))
    await serve_until_stopped(hub, runner, announce)


async def serve_until_stopped(component: Hub | Node, runner: web.AppRunner, announce: Callable[[], None]) -> None:
    """Serve until SIGTERM (a clean stop: return) or cancellation (Ctrl-C); either way close server and store."""
    loop = asyncio.get_running_loop()
    terminated = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, terminated.set)
    try:
        announce()
        await terminated.wait()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await runner.cleanup()
        await component.stop()
