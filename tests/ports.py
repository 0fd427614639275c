"""Free loopback ports for tests that start components, so parallel runs on one machine never collide."""
from __future__ import annotations

import socket


def free_ports(count: int = 1) -> int:
    """The first of `count` consecutive loopback ports nothing listens on now (prepare numbers components from it)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65536 and all(_free(base + offset) for offset in range(count)):
            return base
    raise AssertionError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
