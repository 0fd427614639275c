"""The listening socket of a component, bound before the component opens anything.

A hub or node that finds its port taken must stop before it has opened its store, loaded its keys or
said "listening": the port is most likely taken by a running copy of itself, whose store is not to be
touched. So start-up binds first (`bind_listener`) and hands the bound socket to the HTTP server.

Port 0 asks the kernel for any free port. A component whose peers need not know its port in advance (a view, a
test's component, the whole of a one-process `caravan run`) binds port 0 and tells the port it got
(`bound_port`): a port chosen first and bound later can be taken in between by any process's outgoing connection.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from exchange.errors import InputError, ResourceBusy

__all__ = ["EPHEMERAL_RANGE", "bind_listener", "bound_port", "ephemeral_ports"]

_BACKLOG = 128
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def bind_listener(host: str, port: int, setting: str = "listen.port") -> socket.socket:
    """A non-blocking TCP socket listening on `host:port`; ResourceBusy, naming `setting` (where the port was
    given), when another process has the port. Port 0: any free port (`bound_port` tells which).

    SO_REUSEADDR, as aiohttp's own sites set it on POSIX, lets a restarted component take its port back
    while old connections linger in TIME_WAIT; it never lets two sockets listen on one port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(_BACKLOG)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise ResourceBusy(
                f"port {port} on {host} is in use by another process (a copy of this component already "
                "running?); stop it or choose another port",
                path=setting,
            ) from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", path="listen") from None
    listener.setblocking(False)
    return listener


def bound_port(listener: socket.socket) -> int:
    """The port `listener` listens on: the one the kernel chose, when it was bound to port 0."""
    return int(listener.getsockname()[1])


def ephemeral_ports() -> range | None:
    """The ports the kernel hands out for any process's outgoing connections and binds to port 0 (None where it
    does not say: not Linux). A port chosen in advance and bound later is safe from other processes only outside
    this range: inside it, an outgoing connection made in between can take it."""
    try:
        low, high = EPHEMERAL_RANGE.read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return None
