"""The listening socket of a component, bound before the component opens anything.

A hub or node that finds its port taken must stop before it has opened its store, loaded its keys or
said "listening": the port is most likely taken by a running copy of itself, whose store is not to be
touched. So start-up binds first (`bind_listener`) and hands the bound socket to the HTTP server.
"""

from __future__ import annotations

import errno
import socket

from exchange.errors import InputError, ResourceBusy

__all__ = ["bind_listener", "free_port"]

_BACKLOG = 128


def bind_listener(host: str, port: int) -> socket.socket:
    """A non-blocking TCP socket listening on `host:port`; ResourceBusy when another process has the port.

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
                path="listen.port",
            ) from None
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", path="listen") from None
    listener.setblocking(False)
    return listener


def free_port(host: str) -> int:
    """A port nothing listens on now, for components started in this process (`caravan run`)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
