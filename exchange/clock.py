"""The one seam through which caravan learns the time.

Domain code (agencies, the hub's tracking, signature checks) asks a `Clock`; it never reads the wall
clock itself. Scenarios run on a `VirtualClock` that the runner moves step by step, so a run is
reproducible and a three-day transit takes milliseconds. `SystemClock` is for long-running nodes
outside scenarios and is the only place that reads real time.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

__all__ = ["Clock", "SystemClock", "VirtualClock", "utc"]


def utc(moment: datetime) -> datetime:
    """Return `moment` as an aware UTC datetime; naive values are taken to be UTC, as NCTS does.

    A time whose UTC lies outside years 1-9999 (9999-12-31T23:59:59-05:00) is a ValueError, as a time that is not
    one is: every reader of a given time (`--at`, a scenario's `start`) refuses those already, and the
    OverflowError `astimezone` raises was a traceback or an internal error."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{moment.isoformat()} is outside the calendar in UTC (years 1 to 9999)") from None


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """Real time, for nodes that run outside a scenario."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(microsecond=0)


_KEPT_WIDTH = 40
"""Bytes of a keep file: every ISO-8601 UTC time (32 characters with microseconds), padded with spaces."""


class VirtualClock:
    """Scenario time: it stands still until the runner sets it, and never goes backwards.

    With a `keep` file the time survives a restart: a hub or node killed mid-scenario comes back at the
    scenario time it had reached, not at the start (which would make every fresh envelope look stale).
    The clock moves at almost every step, so the file is overwritten in place with one `pwrite` of a fixed
    width rather than staged and renamed (a rename costs the driver's process ~0.2 CPU ms a move): a
    SIGKILL lands before or after that one system call, never in it, and the fixed width leaves no tail of
    a longer time behind.
    """

    def __init__(self, start: datetime, keep: Path | None = None) -> None:
        self._keep = keep
        self._now = utc(start)
        if keep is not None and keep.is_file():
            self._now = max(self._now, utc(datetime.fromisoformat(keep.read_text(encoding="utf-8").strip())))

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        moment = utc(moment)
        if moment < self._now:
            raise ValueError(f"virtual time cannot go back from {self._now.isoformat()} to {moment.isoformat()}")
        self._now = moment
        if self._keep is not None:
            kept = os.open(self._keep, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(kept, moment.isoformat().encode("ascii").ljust(_KEPT_WIDTH), 0)
            finally:
                os.close(kept)
