"""Ports reserved for a test (`tests.ports`): outside the kernel's ephemeral range, never the same port for two
tests at once, even from two processes, and never one something listens on."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.ports import LOWEST, free_ports, release_reserved_ports

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = 40  # per process: more ports than a whole suite run reserves at once
EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")  # read here as written, not through the code tested

_RESERVE_AND_HOLD = f"""
import sys
from tests.ports import free_ports
print(" ".join(str(free_ports(4)) for _ in range({BLOCKS})), flush=True)
sys.stdin.read()  # hold the reservations until the test lets go
"""


def _ports(bases: list[int], count: int = 4) -> set[int]:
    return {base + offset for base in bases for offset in range(count)}


def test_two_processes_reserving_at_once_never_get_the_same_port() -> None:
    holders = [subprocess.Popen([sys.executable, "-c", _RESERVE_AND_HOLD], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        held = [_ports([int(word) for word in holder.stdout.readline().split()]) for holder in holders if holder.stdout]
        mine = _ports([free_ports(4) for _ in range(BLOCKS)])  # while both still hold theirs
    finally:
        for holder in holders:
            holder.communicate("", timeout=30)
    assert [len(ports) for ports in held] == [4 * BLOCKS, 4 * BLOCKS]
    assert not held[0] & held[1] and not mine & (held[0] | held[1])
    assert all(holder.returncode == 0 for holder in holders)


def test_reserved_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    """Outgoing connections and binds to port 0, of any process, take ports only from that range."""
    low, high = (int(word) for word in EPHEMERAL.read_text().split())
    ports = _ports([free_ports(4) for _ in range(BLOCKS)])
    assert ports and not any(low <= port <= high for port in ports)


def test_a_port_something_listens_on_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    base = free_ports(1)
    release_reserved_ports()  # reservable again: only the listener below keeps it from being handed out
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", base))
        listener.listen()
        monkeypatch.setattr(random, "randrange", partial(_index_of, base))  # the search starts at that port
        assert free_ports(1) != base


def test_a_released_port_can_be_reserved_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reservation ends with its test (tests/conftest.py), so the range is never used up; until then, another
    process searching from that very port is given another one."""
    base = free_ports(1)
    search_from_base = f"""
import random
from functools import partial
from tests.ports import free_ports
from tests.test_ports import _index_of
random.randrange = partial(_index_of, {base})
print(free_ports(1))
"""
    while_held = subprocess.run([sys.executable, "-c", search_from_base], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
    release_reserved_ports()
    after = subprocess.run([sys.executable, "-c", search_from_base], cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    assert while_held.stdout.strip() != str(base) and after.stdout.strip() == str(base), (while_held, after)


def _index_of(port: int, candidates: int) -> int:
    """Where `port` stands among the single-port candidates of `free_ports` (from LOWEST, the ephemeral range left
    out), in place of a random start: the search then starts at `port`."""
    low, high = (int(word) for word in EPHEMERAL.read_text().split())
    index = port - LOWEST if port < low else port - LOWEST - (high - low + 1)
    assert 0 <= index < candidates
    return index
