"""The event loop every caravan process runs on: uvloop's, where it exists.

A run's hub, nodes and driver spend about a quarter of their CPU time in the event loop, its selector and
asyncio's TLS layer (`asyncio.sslproto`, pure Python): each message costs two mutual-TLS requests between
components and about two more of the driver. uvloop does the same work in C on libuv, with its own TLS
layer over the same `ssl.SSLContext`s: the same aiohttp server and client, the same certificates checked the
same way, for about a fifth fewer instructions per request (a loopback mTLS POST of an envelope and its JSON
answer: 1.14 M against 0.93 M), about 4 % fewer for each further message of a whole run.

uvloop builds for Linux and macOS only; elsewhere (Windows) the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["new_loop", "run"]

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the fastest loop this platform has; Ctrl-C and cancellation behave as there."""
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(main)


def new_loop() -> asyncio.AbstractEventLoop:
    """A loop of the kind `run` runs, for a caller that runs it itself (on a thread of its own)."""
    factory = _loop_factory()
    return factory() if factory is not None else asyncio.new_event_loop()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if sys.platform == "win32":
        return None
    import uvloop

    return uvloop.new_event_loop
