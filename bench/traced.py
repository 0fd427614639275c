"""Run a module as `python -m` would, under tracemalloc, writing snapshots of its allocations as it goes.

    python -m bench.traced DIRECTORY MODULE [ARGUMENTS...]

`bench.run --tracemalloc` starts its runs this way. The snapshots go to DIRECTORY: `first.tracemalloc`
once the run has been going `WARM_UP_S` seconds (start-up done: imports, schemas, components listening),
then `last.tracemalloc` every `EVERY_S` seconds, replaced each time, from a daemon thread. The last one
is taken while the run still holds what it built: a snapshot at exit would see the components already
closed. `bench.memory.allocation_sites` compares the two.

Tracing costs time and memory of its own (a traceback per allocated block): a traced run measures where
memory goes, not how fast or how big an untraced run is.
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
import tracemalloc
from pathlib import Path

WARM_UP_S = 60.0
EVERY_S = 60.0
FRAMES = 1  # one frame per block: the allocating line, which is what `allocation_sites` groups by


def dump_snapshots(directory: Path, stop: threading.Event) -> None:
    """The first snapshot after the warm-up, then the last one every interval, until `stop` is set."""
    if stop.wait(WARM_UP_S):
        return
    _dump(directory / "first.tracemalloc")
    while not stop.wait(EVERY_S):
        _dump(directory / "last.tracemalloc")


def _dump(path: Path) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
    partial = path.with_suffix(".partial")
    snapshot.dump(str(partial))
    partial.replace(path)  # a reader never finds half a snapshot


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: python -m bench.traced DIRECTORY MODULE [ARGUMENTS...]")
    directory, module = Path(sys.argv[1]), sys.argv[2]
    directory.mkdir(parents=True, exist_ok=True)
    sys.argv = [module, *sys.argv[3:]]
    tracemalloc.start(FRAMES)
    stop = threading.Event()
    threading.Thread(target=dump_snapshots, args=(directory, stop), name="tracemalloc", daemon=True).start()
    started = time.monotonic()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        stop.set()
        if time.monotonic() - started > WARM_UP_S and not (directory / "last.tracemalloc").exists():
            _dump(directory / "last.tracemalloc")  # a run shorter than two intervals: at least its end


if __name__ == "__main__":
    main()
