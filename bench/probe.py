"""Run a module as `python -m` would, reading from inside the process what /proc cannot tell apart.

    python -m bench.probe DIRECTORY [--every 5] [--tracemalloc [--warm-up 60]] MODULE [ARGUMENTS...]

`bench.run` starts its runs this way. A daemon thread appends a reading to DIRECTORY/probe.jsonl every
`--every` seconds: the resident set, the bytes SQLite holds (`sqlite3_memory_used`: page caches,
statements, schemas of every connection in the process), the memory blocks Python has allocated
(`sys.getallocatedblocks`, free to read) and, under `--tracemalloc`, their bytes. The resident set less
SQLite and Python is native memory of other libraries (OpenSSL, libxml2), the interpreter and the
allocator's free lists.

With `--tracemalloc` it also writes snapshots of Python's allocations: `first.tracemalloc` once the run
has been going `--warm-up` seconds (imports, schemas, components listening: start-up done), then
`last.tracemalloc` as often (60 s by default), replaced each time, so the last one is taken while
the run still holds what it built (at exit the components are closed already).
`bench.memory.allocation_sites` compares the two. Tracing costs time and memory of its own (a trace per
allocated block): a traced run shows where memory goes, not how big or fast an untraced run is.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import runpy
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

FRAMES = 1  # one frame per block: the allocating line, which is what `allocation_sites` groups by


def sqlite_memory() -> Callable[[], int] | None:
    """SQLite's own count of the bytes it holds, from the library the sqlite3 module uses; None without it."""
    name = ctypes.util.find_library("sqlite3")
    if name is None:
        return None
    function = ctypes.CDLL(name).sqlite3_memory_used
    function.restype = ctypes.c_int64
    return function  # type: ignore[no-any-return]


def read_process(started: float, sqlite_used: Callable[[], int] | None) -> dict[str, float | int | None]:
    status = Path("/proc/self/status").read_text(encoding="ascii")
    rss_kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return {
        "wall_s": round(time.monotonic() - started, 1),
        "rss_mb": round(rss_kb / 1024, 1),
        "sqlite_mb": None if sqlite_used is None else round(sqlite_used() / 2**20, 2),
        "python_mb": round(tracemalloc.get_traced_memory()[0] / 2**20, 2) if tracemalloc.is_tracing() else None,
        "python_blocks": sys.getallocatedblocks(),  # untraced too: Python's objects, counted, not weighed
    }


def probe(directory: Path, every: float, warm_up: float, stop: threading.Event) -> None:
    """A reading every `every` seconds; under tracemalloc, the snapshots every `warm_up` seconds as well;
    until `stop` is set."""
    started, sqlite_used = time.monotonic(), sqlite_memory()
    snapshots = ("first.tracemalloc", started + warm_up)
    with (directory / "probe.jsonl").open("a", encoding="utf-8") as readings:
        while not stop.wait(every):
            readings.write(json.dumps(read_process(started, sqlite_used)) + "\n")
            readings.flush()
            name, due = snapshots
            if tracemalloc.is_tracing() and time.monotonic() >= due:
                _dump(directory / name)
                snapshots = ("last.tracemalloc", time.monotonic() + warm_up)


def _dump(path: Path) -> None:
    snapshot = tracemalloc.take_snapshot().filter_traces((tracemalloc.Filter(False, tracemalloc.__file__),))
    partial = path.with_suffix(".partial")
    snapshot.dump(str(partial))
    partial.replace(path)  # a reader never finds half a snapshot


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where probe.jsonl and the snapshots go")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between readings")
    parser.add_argument("--tracemalloc", action="store_true", help="trace Python's allocations, with snapshots")
    parser.add_argument("--warm-up", type=float, default=60.0,
                        help="seconds before the first snapshot, and between the later ones")
    parser.add_argument("module", help="the module to run, as python -m would")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="its arguments")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    sys.argv = [args.module, *args.arguments]
    if args.tracemalloc:
        tracemalloc.start(FRAMES)
    stop = threading.Event()
    reader = threading.Thread(target=probe, args=(args.directory, args.every, args.warm_up, stop), daemon=True)
    reader.start()
    try:
        runpy.run_module(args.module, run_name="__main__", alter_sys=True)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
