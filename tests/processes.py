"""Waiting for a process a test started to be ready, the one way every process test does it.

A test that starts a component (`caravan hub`, `caravan node`, `caravan view`, a system under test) waits until
it answers, not for a fixed time: on a quiet machine that is a second or two, on the 2 shared cores of a loaded
one it can be a minute. So the wait ends as soon as the process is ready, fails at once if the process exits,
and gives up only after a ceiling generous enough that reaching it means a hang, never a slow machine.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

STARTUP_CEILING = 180.0
"""Seconds a process may take to become ready: a guard against a hang, not a goal (bench/ holds goals)."""


def wait_until_ready(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path | None = None,
                     ceiling: float = STARTUP_CEILING) -> None:
    """Return once `ready()` is true; fail, with the process's log, if it exits first or the ceiling passes."""
    deadline = time.monotonic() + ceiling
    while not ready():
        told = f":\n{log.read_text(errors='replace')[-3000:]}" if log is not None and log.exists() else ""
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode} before it was ready{told}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} was not ready after {ceiling:.0f} s{told}")
        time.sleep(0.1)


def answers(url: str, context: ssl.SSLContext | None = None) -> bool:
    """Whether an HTTP(S) server answers `url` at all (any status: it is up)."""
    try:
        urllib.request.urlopen(url, timeout=5, context=context).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False
    return True


def listens(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on `port`."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True
