"""The entries of one run, for pages that read them all and then follow what comes next."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exchange.errors import InputError
from exchange.inputs import read_json_lines

__all__ = ["RunFeed"]


class RunFeed:
    """A growing list of events.jsonl entries; `finished` once the run has written its last one."""

    def __init__(self, run_dir: Path, entries: list[dict[str, Any]] | None = None, *, finished: bool = False) -> None:
        self.run_dir = run_dir
        self.entries: list[dict[str, Any]] = entries or []
        self.finished = finished
        self._changed = asyncio.Event()

    @classmethod
    def replay(cls, run_dir: Path) -> RunFeed:
        """A finished run's entries; InputError names the file and line that cannot be read."""
        log = run_dir / "events.jsonl"
        if not log.is_file():
            raise InputError(f"{run_dir}: no events.jsonl here; give the --out directory of a `caravan run`",
                             document=str(run_dir))
        entries = []
        for number, entry in read_json_lines(log, "run's events.jsonl"):
            if "kind" not in entry:
                raise InputError(f"{log}:{number}: an entry needs a 'kind'", document=str(log))
            entries.append(entry)
        if not entries or entries[0]["kind"] != "scenario":
            raise InputError(f"{log}: the first entry does not outline the scenario (a run from before the view); "
                             "run the scenario again to replay it", document=str(log))
        return cls(run_dir, entries, finished=True)

    def append(self, entry: Mapping[str, Any]) -> None:
        self.entries.append(dict(entry))
        self._wake()

    def finish(self) -> None:
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_beyond(self, count: int, timeout: float) -> None:
        """Return when there are more than `count` entries, the run finished, or `timeout` passed."""
        if len(self.entries) > count or self.finished:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass
