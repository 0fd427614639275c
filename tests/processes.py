"""Waiting for a process a test started to be ready, the one way every process test does it.

A test that starts a component (`caravan hub`, `caravan node`, `caravan view`, a system under test) waits until
it answers, not for a fixed time: on a quiet machine that is a second or two, on the 2 shared cores of a loaded
one it can be a minute. So the wait ends as soon as the process is ready, fails at once if the process exits,
and gives up only after a ceiling generous enough that reaching it means a hang, never a slow machine.

A process started on port 0 is ready when it says so: its ready line carries the URL with the port it got
(`announced`). Nothing is guessed free and bound later, which another process could take in between.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STARTUP_CEILING = 180.0
"""Seconds a process may take to become ready: a guard against a hang, not a goal (bench/ holds goals)."""


def interruptible() -> None:
    """`preexec_fn` for a process a test will interrupt as Ctrl-C does: SIGINT at its default, whatever the test
    run inherited. A shell's background job (`make test &`, `nohup`) starts with SIGINT ignored, its children
    inherit that, and Python leaves an ignored SIGINT ignored: the interrupt would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


@dataclass(frozen=True)
class Announcement:
    """What a process printed until it said where it serves: the URL on that line, and all it printed so far."""

    url: str
    output: str

    @property
    def port(self) -> int:
        """The port in the URL: the one the kernel chose, for a process started on port 0."""
        port = urllib.parse.urlsplit(self.url).port
        assert port is not None, self.url
        return port


def announced(process: subprocess.Popen[str], marker: str, what: str,
              ceiling: float = STARTUP_CEILING) -> Announcement:
    """Read the process's stdout (a pipe) up to the line holding `marker` and a URL; fail if the output ends first
    or the ceiling passes. Read a byte at a time, straight from the pipe: a buffered read could take lines beyond
    the ready one, which the test's own reads (`communicate`, `readline`) would then never see."""
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    lines: list[str] = []
    found = threading.Event()

    def read_until_ready() -> None:
        line = b""
        while byte := os.read(descriptor, 1):
            line += byte
            if byte == b"\n":
                lines.append(line.decode(errors="replace"))
                line = b""
                if marker in lines[-1] and _URL.search(lines[-1]):
                    found.set()
                    return

    reader = threading.Thread(target=read_until_ready, daemon=True)
    reader.start()
    reader.join(ceiling)
    output = "".join(lines)
    if not found.is_set():
        ended = "ended its output" if not reader.is_alive() else f"said nothing more for {ceiling:.0f} s"
        raise AssertionError(f"{what} {ended} before a line with {marker!r} and its URL:\n{output[-3000:]}")
    match = _URL.search(lines[-1])
    assert match is not None
    return Announcement(match.group(0), output)


_URL = re.compile(r"https?://[^\s/]+/?")


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
