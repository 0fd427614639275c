"""Loopback ports reserved for tests whose components must know each other's ports before any of them starts.

A component whose peers need not know its port in advance is started on port 0 and tells the port it got on its
ready line (`caravan hub`, `caravan node`, `caravan view`, `caravan run --view`): nothing to reserve, no race.
`caravan prepare` is different: it writes every URL into every config before anything runs, so its ports are
chosen first and bound later, often more than once (a test stops and restarts components on them). In between,
two kinds of taker could take a chosen port, and each is shut out:

1. the kernel, for any process's outgoing connection or bind to port 0. It takes those ports only from its
   ephemeral range (`exchange.listener.ephemeral_ports`), so reserved ports are chosen outside it;
2. another test: a second xdist worker, or another checkout's suite on the same machine. Each reserved port is
   locked (flock) through a file under one directory shared by every checkout, held by the reserving process
   until its test ends. The kernel drops the lock if that process dies, so no reservation outlives its holder.

Why a lock and not a socket kept bound until the component starts: the lock covers the test's whole life,
restarts included, while a held socket would cover only the time before the first start; and a lock takes no
kernel port state that could make the component's own bind fail. A port something already listens on (a demo
on 8700, a service) is skipped: every port is test-bound before it is handed out.
"""

from __future__ import annotations

import fcntl
import os
import random
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from exchange.listener import EPHEMERAL_RANGE, ephemeral_ports

__all__ = ["free_ports", "release_reserved_ports", "RESERVATIONS"]

RESERVATIONS = Path(tempfile.gettempdir()) / "caravan-test-ports"
"""One lock file per port, shared by every checkout's tests on this machine (never deleted: flock on a file that
could be unlinked and created anew would let two holders lock two different files for one port)."""

LOWEST = 20000
"""Below this lie the ports services and demos commonly take (8080, caravan's own 8700, databases)."""


@dataclass(frozen=True)
class _Reservation:
    port: int
    lock: int  # the open lock file's descriptor: closing it ends the reservation


_held: list[_Reservation] = []


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive loopback ports reserved for the calling test (prepare numbers components
    from it): outside the kernel's ephemeral range, locked against every other test, and not listened on now."""
    RESERVATIONS.mkdir(exist_ok=True)
    ephemeral = ephemeral_ports()
    assert ephemeral is not None, f"{EPHEMERAL_RANGE} does not say which ports the kernel hands out"
    low, high = ephemeral.start, ephemeral.stop - 1
    candidates = [port for port in range(LOWEST, 65536 - count + 1) if port + count - 1 < low or port > high]
    if not candidates:
        raise AssertionError(f"no {count} consecutive ports from {LOWEST} lie outside the ephemeral range "
                             f"{low}-{high} of this machine")
    start = random.randrange(len(candidates))  # workers that start together spread out instead of contending
    for base in candidates[start:] + candidates[:start]:
        block = _reserve_block(base, count)
        if block:
            _held.extend(block)
            return base
    raise AssertionError(f"no {count} consecutive ports free outside the ephemeral range {low}-{high}")


def release_reserved_ports() -> None:
    """End every reservation this process holds (tests/conftest.py calls it when a test ends)."""
    while _held:
        os.close(_held.pop().lock)


def _reserve_block(base: int, count: int) -> list[_Reservation]:
    """All `count` ports from `base` reserved, or none (an empty list) if any one is held or in use."""
    block: list[_Reservation] = []
    for port in range(base, base + count):
        reservation = _reserve(port)
        if reservation is None:
            for taken in block:
                os.close(taken.lock)
            return []
        block.append(reservation)
    return block


def _reserve(port: int) -> _Reservation | None:
    lock = os.open(RESERVATIONS / f"{port}.lock", os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock)
        return None
    if not _bindable(port):
        os.close(lock)
        return None
    return _Reservation(port, lock)


def _bindable(port: int) -> bool:
    """Whether a component could listen on `port` now; SO_REUSEADDR as the components set it, so that connections
    of an earlier test lingering in TIME_WAIT do not count, while a listener does."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
