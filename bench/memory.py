"""How a run's memory grows: its resident set sampled while it goes, and where Python allocated it.

A peak from `wait4` says how high a run went, not why: start-up (imports, compiled schemas, TLS contexts,
eleven stores) and a term per message look the same in one number. So the bench

1. waits for the run's process without blocking (`wait4` with WNOHANG) and, every few seconds, reads its
   resident set (`VmRSS` in /proc/PID/status), its CPU time (/proc/PID/stat) and the messages the driver
   has written so far (its `messages/*.envelope.xml`): a curve of RSS against messages, whose slope is the
   cost per message and whose start is the start-up;
2. optionally runs the process under tracemalloc (`bench.traced`), which writes a snapshot of Python's
   allocations once the run is under way and again every interval; the last one against the first gives
   the allocation sites that grew while the messages went, the last alone the largest sites.

The peak still comes from `wait4` (the kernel's high-water mark); the curve only explains it.

A run of several processes (`bench.run --deployed`) is read the same way, all its components at each
instant (`Together`): the sums of their RSS and of their PSS at one time, which `wait4`'s peaks, one per
process and each at its own time, cannot give.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import select
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from exchange.envelope import ENVELOPE_SUFFIX

__all__ = ["Sample", "Site", "Together", "allocation_sites", "curve", "main", "wait_reading", "wait_sampling"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    """One reading of the run's process, `wall_s` after it started."""

    wall_s: float
    cpu_s: float
    rss_mb: float  # MiB, as `wait4`'s peak is given
    messages: int  # envelopes the driver has collected so far


@dataclass(frozen=True)
class Site:
    """One allocation site (file:line) of a tracemalloc snapshot: what it holds, and how much it grew."""

    site: str
    size_mb: float
    blocks: int
    growth_mb: float  # since the first snapshot, taken once the run was under way


def wait_reading(process: subprocess.Popen[bytes], every: float,
                 read: Callable[[], None]) -> tuple[int, os.struct_rusage]:
    """Wait for `process` as `os.wait4` does, calling `read` every `every` seconds: (status, usage);
    `process.returncode` is set.

    Between readings it waits on the process's pidfd, not in a sleep: the caller's wall time ends when the
    process does, not at the next reading (a sleep made every wall time a multiple of `every`)."""
    exited = os.pidfd_open(process.pid)
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: `process` must know
                return status, usage
            read()
            select.select([exited], [], [], every)
    finally:
        os.close(exited)


def wait_sampling(process: subprocess.Popen[bytes], messages: Path,
                  every: float) -> tuple[int, os.struct_rusage, list[Sample]]:
    """`wait_reading`, with a `Sample` of the process (RSS, CPU time, messages so far) at each reading:
    (status, usage, samples)."""
    started = time.perf_counter()
    samples: list[Sample] = []

    def read() -> None:
        sample = _read(process.pid, messages, time.perf_counter() - started)
        if sample is not None:
            samples.append(sample)

    status, usage = wait_reading(process, every, read)
    return status, usage, samples


def _read(pid: int, messages: Path, wall_s: float) -> Sample | None:
    """The process as /proc shows it now; None once it has exited (gone, or a zombie not yet reaped)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss_kb = _kb(status, "VmRSS:")
    if rss_kb is None:  # exited, not yet reaped: a zombie has no memory to read
        return None
    cpu_s = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime (fields 14 and 15 of stat)
    return Sample(round(wall_s, 1), round(cpu_s, 2), round(rss_kb / 1024, 1), _count_messages(messages))


def _kb(text: str, field: str) -> int | None:
    """The kB of `field` (with its colon, e.g. "VmRSS:") in a /proc file of "Field:   N kB" lines; None
    if the file has no such line."""
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith(field)), None)


@dataclass
class Together:
    """The highest sums of RSS and of PSS over several processes, each sum read at one instant.

    Processes started from the same files share their pages: the interpreter, lxml, OpenSSL, the compiled
    schemas. RSS counts a shared page in full in every process that maps it, so a sum of RSS counts it once
    per process (and a sum of `wait4`'s peaks, each at its own time, adds that the peaks need not coincide).
    PSS (proportional set size) counts 1/n of a page in each of the n processes that map it: summed over
    them, each page counts once. Both come from /proc/PID/smaps_rollup (Linux 4.14 and later); where it is
    missing, or no instant read every process, the peaks stay None: unknown, not zero."""

    rss_mb: float | None = None
    pss_mb: float | None = None
    readings: int = 0  # instants at which every process was read
    cpu_s: float = 0.0  # the reader's own CPU time: for each reading the kernel walks every page table

    def read(self, pids: Sequence[int]) -> None:
        """Read every process in `pids` now and keep the sums if they are the highest yet; an instant that
        misses one of them (it has exited, or there is no smaps_rollup) is no sum and is left out."""
        started = time.process_time()
        rollups = [rollup for rollup in map(_rollup, pids) if rollup is not None]
        self.cpu_s += time.process_time() - started
        if len(rollups) < len(pids):
            return
        self.readings += 1
        self.rss_mb = max(sum(rss for rss, _ in rollups) / 1024, self.rss_mb or 0.0)
        self.pss_mb = max(sum(pss for _, pss in rollups) / 1024, self.pss_mb or 0.0)


def _rollup(pid: int) -> tuple[int, int] | None:
    """The process's RSS and PSS now, in kB; None if it has gone, is a zombie, or smaps_rollup is missing."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii")
    except (FileNotFoundError, ProcessLookupError):
        return None
    rss_kb, pss_kb = _kb(text, "Rss:"), _kb(text, "Pss:")
    return None if rss_kb is None or pss_kb is None else (rss_kb, pss_kb)


def _count_messages(messages: Path) -> int:
    try:
        with os.scandir(messages) as entries:
            return sum(entry.name.endswith(ENVELOPE_SUFFIX) for entry in entries)
    except FileNotFoundError:
        return 0


def allocation_sites(first: Path, last: Path, top: int = 15) -> tuple[list[Site], list[Site]]:
    """From two snapshots of one run (`bench.traced`): the `top` largest sites at the last, and the `top`
    sites that grew most from the first to the last."""
    start, end = tracemalloc.Snapshot.load(str(first)), tracemalloc.Snapshot.load(str(last))
    differences = end.compare_to(start, "lineno")
    largest = sorted(differences, key=lambda stat: stat.size, reverse=True)[:top]
    grown = sorted(differences, key=lambda stat: stat.size_diff, reverse=True)[:top]
    return [_site(stat) for stat in largest], [_site(stat) for stat in grown]


def _site(stat: tracemalloc.StatisticDiff) -> Site:
    frame = stat.traceback[0]
    return Site(f"{_short(frame.filename)}:{frame.lineno}", round(stat.size / 2**20, 2), stat.count,
                round(stat.size_diff / 2**20, 2))


def _short(filename: str) -> str:
    """A file name from the checkout or site-packages, without the machine's directories before it."""
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    return re.sub(r"^.*/(site-packages|python3\.\d+)/", "", filename).removeprefix(root)


def curve(samples: Sequence[Sample], probes: Sequence[Mapping[str, float | int | None]], points: int = 10) -> str:
    """The run's memory at every `points`-th part of its messages, as a Markdown table: RSS, SQLite's own
    bytes and Python's blocks at the nearest probe reading, the rest, and CPU time."""
    total = max((sample.messages for sample in samples), default=0)
    if not total:
        return "(no message was sampled)"
    times = [float(probe["wall_s"] or 0.0) for probe in probes]
    lines = ["| messages | CPU time | RSS | SQLite's own | RSS less SQLite | Python's blocks |",
             "|---:|---:|---:|---:|---:|---:|"]
    chosen = dict.fromkeys(next(sample for sample in samples if sample.messages >= total * part / points)
                           for part in range(1, points + 1))  # a short run: one sample may stand for several
    for sample in chosen:
        nearest = min(bisect.bisect_left(times, sample.wall_s), len(times) - 1) if times else None
        probe = {} if nearest is None else probes[nearest]
        sqlite, blocks = probe.get("sqlite_mb"), probe.get("python_blocks")
        rest = "" if sqlite is None else f"{sample.rss_mb - sqlite:.1f} MB"
        lines.append(f"| {sample.messages:,} | {sample.cpu_s:.0f} s | {sample.rss_mb:.1f} MB "
                     f"| {'' if sqlite is None else f'{sqlite:.1f} MB'} | {rest} "
                     f"| {'' if blocks is None else f'{blocks:,}'} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.memory out/bench/results.json`: each run's memory curve, from the bench's results."""
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=main.__doc__)
    parser.add_argument("results", type=Path)
    parser.add_argument("--points", type=int, default=10, help="how many parts of the messages to show")
    args = parser.parse_args(argv)
    for run in json.loads(args.results.read_text(encoding="utf-8"))["runs"]:
        samples = [Sample(**sample) for sample in run.get("samples", ())]
        print(f"{run['movements']} movements, {run['messages']:,} messages, peak {run['peak_rss_mb']:.0f} MB:")
        print(curve(samples, run.get("probes", ()), args.points))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
