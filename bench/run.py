"""`make bench`: the one-core ceiling, N-movement runs end to end, and peak memory, as a Markdown table.

    python -m bench.run [--movements 10 40 100] [--out out/bench] [--ceiling-seconds 2]

1. For each N it writes a scenario of N complete movements (bench/movements.py) and runs it through the
   real runner as a user would, `python -m exchange.cli run SCENARIO --out DIR`: the hub and three nodes
   in one process, mutual TLS on loopback, every message signed, verified and validated. It records the
   wall time, the CPU time of that process (all its threads), the messages exchanged and the driver's
   HTTP requests (from the run's events.jsonl), and the peak resident memory of that process (hub,
   nodes and driver together), from `wait4`.
2. It measures the one-core ceiling (bench/ceiling.py) on the first run's CC015C envelope with that run's keys.
3. It prints the figures, the ratio t(N2)/t(N1) between consecutive sizes beside N2/N1 (wall and CPU),
   end-to-end messages per CPU second as a share of the ceiling (also in CPU time), and the marginal
   rate between consecutive sizes (extra messages over extra CPU time: start-up costs cancel out); it
   writes them to OUT/results.json as well.

Timing goals live here and nowhere in the test suite: the machine, its load and the date go with them.
On a shared machine the CPU figures are the steadier ones; the wall figures say what a user waits.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.ceiling import Ceiling, measure_ceiling
from bench.corridors import write_corridors_scenario
from bench.movements import write_movements_scenario

__all__ = ["Run", "main"]

ROOT = Path(__file__).resolve().parent.parent
CEILING_AT = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # when the bench scenarios declare their first movement
SCENARIO_WRITERS: dict[int, Callable[[int, Path], Path]] = {3: write_movements_scenario, 11: write_corridors_scenario}
"""Countries → the writer of that bench's scenario of N movements."""


@dataclass(frozen=True)
class Run:
    movements: int
    steps: int
    messages: int
    requests: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    ok: bool
    directory: str  # the run's output: events, messages, keys

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.wall_s

    @property
    def messages_per_cpu_s(self) -> float:
        return self.messages / self.cpu_s


def run_movements(count: int, out: Path, countries: int = 3) -> Run:
    """One end-to-end run of `count` movements across `countries`; the run's files stay under `out`."""
    scenario = SCENARIO_WRITERS[countries](count, out)
    run_dir = out / scenario.stem
    command = [sys.executable, "-m", "exchange.cli", "run", str(scenario), "--out", str(run_dir)]
    with run_dir.with_suffix(".txt").open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    driver = next((event for event in events if event["kind"] == "driver"), {"steps": 0, "messages": 0, "requests": 0})
    return Run(count, driver["steps"], driver["messages"], driver["requests"], wall,
               usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode == 0, str(run_dir))


def report(runs: Sequence[Run], ceiling: Ceiling) -> str:
    lines = [
        f"One-core ceiling (sign + verify + validate a {ceiling.document_bytes:,}-byte CC015C, twice): "
        f"{ceiling.unit_ms:.2f} CPU ms = {ceiling.messages_per_second:.0f} messages per CPU second "
        f"(sign {ceiling.sign_ms:.2f} ms, verify {ceiling.verify_ms:.2f} ms, validate {ceiling.validate_ms:.2f} ms; "
        f"the unit took {ceiling.unit_wall_ms:.2f} ms of wall time)",
        "",
        "| movements | steps | messages | wall time | CPU time | messages/s (wall) | messages per CPU s "
        "| share of ceiling (CPU) | marginal messages per CPU s | driver requests | peak RSS "
        "| t(N)/t(previous N), wall · CPU | expectations |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    previous: Run | None = None
    for run in runs:
        ratio = "" if previous is None else (
            f"{run.wall_s / previous.wall_s:.2f} · {run.cpu_s / previous.cpu_s:.2f} "
            f"for ×{run.movements / previous.movements:g}")
        marginal = "" if previous is None else (
            f"{(run.messages - previous.messages) / (run.cpu_s - previous.cpu_s):.1f}")
        lines.append(
            f"| {run.movements} | {run.steps} | {run.messages} | {run.wall_s:.1f} s | {run.cpu_s:.1f} s "
            f"| {run.messages_per_s:.1f} | {run.messages_per_cpu_s:.1f} "
            f"| {100 * run.messages_per_cpu_s / ceiling.messages_per_second:.1f} % | {marginal} | {run.requests} "
            f"| {run.peak_rss_mb:.0f} MB | {ratio} | {'all hold' if run.ok else 'FAILED'} |"
        )
        previous = run
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, nargs="+", default=[10, 40, 100], help="the sizes N to run")
    parser.add_argument("--countries", type=int, choices=sorted(SCENARIO_WRITERS), default=3,
                        help="3: the pilot's route Tashkent -> Poti; 11: the CAREC corridors 1-6")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    parser.add_argument("--ceiling-seconds", type=float, default=2.0, help="how long each part of the ceiling is timed")
    args = parser.parse_args(argv)
    if any(count < 1 for count in args.movements):
        parser.error("--movements: give whole numbers of movements, 1 or more")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for count in args.movements:
        run = run_movements(count, args.out, args.countries)
        print(f"{count} movements: {run.messages} messages in {run.wall_s:.1f} s", flush=True)
        runs.append(run)
    first = Path(runs[0].directory)
    cc015c = next((first / "messages").glob("*-CC015C-*.envelope.xml"))
    ceiling = measure_ceiling(cc015c, first / "pki", "uz", CEILING_AT, seconds=args.ceiling_seconds)
    table = report(runs, ceiling)
    print()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(table)
    results = {"ceiling": {**asdict(ceiling), "unit_ms": ceiling.unit_ms},
               "runs": [{**asdict(run), "messages_per_s": run.messages_per_s,
                         "messages_per_cpu_s": run.messages_per_cpu_s} for run in runs]}
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
