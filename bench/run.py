"""`make bench`: the one-core ceiling, N-movement runs end to end, and peak memory, as a Markdown table.

    python -m bench.run [--movements 10 40 100] [--out out/bench] [--ceiling-seconds 2] [--tracemalloc]
    python -m bench.run --deployed [--base-port 18700] ...

1. For each N it writes a scenario of N complete movements (bench/movements.py) and runs it through the
   real runner as a user would, `python -m exchange.cli run SCENARIO --out DIR`: the hub and three nodes
   in one process, mutual TLS on loopback, every message signed, verified and validated. It records the
   wall time, the CPU time of that process (all its threads), the messages exchanged and the driver's
   HTTP requests (from the run's events.jsonl), and the peak resident memory of that process (hub,
   nodes and driver together), from `wait4`. While it runs, that process's resident set, CPU time and
   messages so far are sampled every few seconds (bench/memory.py): the curve separates start-up from
   growth per message. The run goes through bench/probe.py, which reads from inside it the bytes SQLite
   and (with `--tracemalloc`) Python hold; with `--tracemalloc` the results name the largest allocation
   sites and those that grew most while the messages went.
2. While each run goes on, a process beside it samples the one-core ceiling (bench/ceiling.py) every few
   seconds on the first run's first CC015C envelope, with that run's keys, holding the run still for each
   round; each run is set against the mean rate of its own rounds, and its wall time leaves the pauses out. The
   host's own speed drifts by up to a factor of two within a minute (docs/bench-history.md, sessions 8 and 10): a
   ceiling timed for two seconds after the run is one draw from that drift, while the run's CPU time is
   spent across all of it. The two-second ceiling is still measured right after each run and printed
   beside; a run too short to sample is set against it.
3. It prints the figures, the ratio t(N2)/t(N1) between consecutive sizes beside N2/N1 (wall, CPU, and CPU
   in units of each run's own ceiling), end-to-end messages per CPU second as a share of the run's ceiling,
   and the marginal rate between consecutive sizes (extra messages over extra CPU time: start-up costs
   cancel out); it writes them to OUT/results.json as well.

With `--deployed` each run goes through bench/deployed.py instead: one process per component, started with
the commands of docker-compose.yml, its wall rate set against the one-core ceiling measured right after it (as
in 2.), its CPU time and peak memory counted per process; the hub's and nodes' RSS and PSS are also summed
at the same instants while the driver runs (PSS counts the pages the processes share once).

Timing goals live here and nowhere in the test suite: the machine, its load and the date go with them.
On a shared machine the CPU figures are the steadier ones; the wall figures say what a user waits.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.ceiling import (
    CEILING_AT,
    Ceiling,
    Round,
    first_cc015c,
    mean_ceiling,
    measure_ceiling,
    paused_s,
    read_rounds,
    sampled_beside,
)
from bench.corridors import write_corridors_scenario
from bench.deployed import DeployedRun, Rates, deployed_report, run_deployed
from bench.memory import Sample, Site, allocation_sites, curve, wait_sampling
from bench.movements import write_movements_scenario

__all__ = ["Run", "main", "report", "sampled_lines", "set_against"]

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("exchange", "nodes")
"""caravan's own code, which an editable install leaves uncompiled until something imports it."""
SCENARIO_WRITERS: dict[int, Callable[[int, Path], Path]] = {3: write_movements_scenario, 11: write_corridors_scenario}
"""Countries → the writer of that bench's scenario of N movements."""


@dataclass(frozen=True)
class Run(Rates):
    movements: int
    steps: int
    messages: int
    requests: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    ok: bool
    directory: str  # the run's output: events, messages, keys
    samples: tuple[Sample, ...] = ()  # the process read every few seconds while it ran
    probes: tuple[dict[str, float | int | None], ...] = ()  # read from inside: RSS, SQLite's and Python's memory
    largest: tuple[Site, ...] = ()  # with --tracemalloc: the largest allocation sites near the end
    grown: tuple[Site, ...] = ()  # with --tracemalloc: the sites that grew most once the run was under way
    ceiling_rounds: tuple[Round, ...] = ()  # the ceiling sampled while the run went on (held still for each)

    @property
    def growth_mb_per_1000_messages(self) -> float | None:
        """RSS growth per 1,000 messages, from the first sample past a tenth of the messages to the last
        sample: the slope once start-up is over; None for a run too short to tell (under 1,000 messages,
        start-up is still going on at a tenth of them)."""
        if self.messages < 1000:
            return None
        under_way = [sample for sample in self.samples if sample.messages >= self.messages / 10]
        if len(under_way) < 2 or under_way[-1].messages == under_way[0].messages:
            return None
        first, last = under_way[0], under_way[-1]
        return 1000 * (last.rss_mb - first.rss_mb) / (last.messages - first.messages)


def compile_packages(root: Path = ROOT) -> None:
    """Write the bytecode of caravan's own modules before anything is timed, as a user's second run finds it.

    A shell or image that sets PYTHONDONTWRITEBYTECODE (the Dockerfile does; so may a developer's) never
    writes it, and each run then compiles every module it imports again: about 0.35 CPU s of start-up that
    no user pays twice on a machine that writes bytecode. Up-to-date files are left alone."""
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def run_movements(count: int, out: Path, countries: int = 3, sample_every: float = 5.0,
                  traced: bool = False, ceiling_from: Path | None = None) -> Run:
    """One end-to-end run of `count` movements across `countries`; the run's files stay under `out`.

    `traced` runs it under tracemalloc; the probe's readings and snapshots go to `out/SCENARIO.probe/`.
    The ceiling is sampled beside it on the first CC015C of the run directory `ceiling_from` (this run's own
    when None), so that runs of one bench differ only by the host's speed."""
    scenario = SCENARIO_WRITERS[countries](count, out)
    run_dir = out / scenario.stem
    probe = run_dir.with_suffix(".probe")
    rounds = run_dir.with_suffix(".ceiling.jsonl")
    for previous in (probe, run_dir / "messages"):  # the sampler counts this run's messages, none left over
        shutil.rmtree(previous, ignore_errors=True)
    options = ["--every", str(sample_every), *(["--tracemalloc"] if traced else [])]
    command = [sys.executable, "-m", "bench.probe", str(probe), *options,
               "exchange.cli", "run", str(scenario), "--out", str(run_dir)]
    source = ceiling_from or run_dir
    with run_dir.with_suffix(".txt").open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        with sampled_beside(source / "messages", source / "pki", rounds, [process], log):
            _, usage, samples = wait_sampling(process, run_dir / "messages", sample_every)
        elapsed = time.perf_counter() - started
    ceiling_rounds = read_rounds(rounds)
    wall = elapsed - paused_s(ceiling_rounds)  # the run's own: held still for the rounds
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    driver = next((event for event in events if event["kind"] == "driver"), {"steps": 0, "messages": 0, "requests": 0})
    largest, grown = ([], [])
    if traced and (probe / "last.tracemalloc").exists():
        largest, grown = allocation_sites(probe / "first.tracemalloc", probe / "last.tracemalloc")
    readings = (probe / "probe.jsonl").read_text(encoding="utf-8").splitlines() if probe.exists() else []
    return Run(count, driver["steps"], driver["messages"], driver["requests"], wall,
               usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode == 0, str(run_dir),
               tuple(samples), tuple(json.loads(line) for line in readings), tuple(largest), tuple(grown),
               ceiling_rounds)


def _ceiling(messages: Path, pki: Path, seconds: float) -> Ceiling:
    """The one-core ceiling on a run's first CC015C envelope, with that run's keys."""
    found = first_cc015c(messages)
    if found is None:
        raise SystemExit(f"bench.run: no CC015C envelope in {messages}: the run ended before its first declaration "
                         "(its log is beside it, SCENARIO.txt)")
    cc015c, sender = found
    return measure_ceiling(cc015c, pki, sender, CEILING_AT, seconds=seconds)


def set_against(rounds: Sequence[Round], after: Ceiling) -> Ceiling:
    """The ceiling a run is measured against: the mean of the `rounds` sampled while it went on, or, for a run too
    short to sample, `after`, the one measured right after it."""
    return mean_ceiling(rounds) if rounds else after


def _ceiling_line(ceiling: Ceiling) -> str:
    return (f"One-core ceiling (sign + verify + validate a {ceiling.document_bytes:,}-byte CC015C, twice): "
            f"{ceiling.unit_ms:.2f} CPU ms = {ceiling.messages_per_second:.0f} messages per CPU second "
            f"(sign {ceiling.sign_ms:.2f} ms, verify {ceiling.verify_ms:.2f} ms, "
            f"validate {ceiling.validate_ms:.2f} ms; the unit took {ceiling.unit_wall_ms:.2f} ms of wall time)")


def _ceiling_lines(movements: Sequence[int], ceilings: Sequence[Ceiling]) -> list[str]:
    """The first run's ceiling in full, then, with more than one run, each run's own."""
    lines = [_ceiling_line(ceilings[0])]
    if len(ceilings) > 1:
        lines.append("Each run's own: " + ", ".join(
            f"{count} movements {ceiling.unit_ms:.2f} ms" for count, ceiling in zip(movements, ceilings, strict=True)))
    return lines


def sampled_lines(runs: Sequence[Run | DeployedRun], afters: Sequence[Ceiling]) -> list[str]:
    """What each run is set against: the mean rate of the rounds sampled while it went on, and their spread,
    beside the two-second ceiling measured right after it; or that one, for a run over before its first round."""
    lines = ["Each run is set against the ceiling sampled while it went on (the mean rate of its rounds):"]
    for run, after in zip(runs, afters, strict=True):
        units = [each.ceiling.unit_ms for each in run.ceiling_rounds]
        if not units:
            lines.append(f"- {run.movements} movements: over before a first round; set against the two-second "
                         f"ceiling measured right after it, {after.unit_ms:.2f} ms")
            continue
        rounds = f"{len(units)} round" + ("s" if len(units) > 1 else "")
        lines.append(f"- {run.movements} movements: {mean_ceiling(run.ceiling_rounds).unit_ms:.2f} ms over {rounds} "
                     f"({min(units):.2f} to {max(units):.2f} ms); right after it, for two seconds: "
                     f"{after.unit_ms:.2f} ms")
    return lines


def report(runs: Sequence[Run], ceilings: Sequence[Ceiling]) -> str:
    """The runs as a Markdown table, each set against `ceilings[i]`, its own (`set_against`)."""
    lines = [*_ceiling_lines([run.movements for run in runs], ceilings),
        "",
        "| movements | steps | messages | wall time | CPU time | messages/s (wall) | messages per CPU s "
        "| share of ceiling (CPU) | marginal messages per CPU s | driver requests | peak RSS "
        "| t(N)/t(previous N), wall · CPU · CPU in ceilings | expectations |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    previous: tuple[Run, Ceiling] | None = None
    for run, ceiling in zip(runs, ceilings, strict=True):
        ratio = marginal = ""
        if previous is not None:
            before, its_ceiling = previous
            in_ceilings = (run.cpu_s / ceiling.unit_ms) / (before.cpu_s / its_ceiling.unit_ms)
            ratio = (f"{run.wall_s / before.wall_s:.2f} · {run.cpu_s / before.cpu_s:.2f} · {in_ceilings:.2f} "
                     f"for ×{run.movements / before.movements:g}")
            marginal = f"{(run.messages - before.messages) / (run.cpu_s - before.cpu_s):.1f}"
        lines.append(
            f"| {run.movements} | {run.steps} | {run.messages} | {run.wall_s:.1f} s | {run.cpu_s:.1f} s "
            f"| {run.messages_per_s:.1f} | {run.messages_per_cpu_s:.1f} "
            f"| {100 * run.messages_per_cpu_s / ceiling.messages_per_second:.1f} % | {marginal} | {run.requests} "
            f"| {run.peak_rss_mb:.0f} MB | {ratio} | {'all hold' if run.ok else 'FAILED'} |"
        )
        previous = run, ceiling
    return "\n".join(lines)


def memory_report(runs: Sequence[Run]) -> str:
    """Each run's resident set: at its first message, its highest reading, the peak, the growth per
    message once under way, and (traced runs) the allocation sites that grew most."""
    lines = ["| movements | RSS at first message | highest sample | peak (wait4) | growth once under way "
             "| SQLite's own, highest |",
             "|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        started = next((sample.rss_mb for sample in run.samples if sample.messages), None)
        highest = max((sample.rss_mb for sample in run.samples), default=None)
        growth = run.growth_mb_per_1000_messages
        sqlite = max((probe["sqlite_mb"] or 0.0 for probe in run.probes), default=None)
        lines.append(f"| {run.movements} | {_mb(started)} | {_mb(highest)} | {run.peak_rss_mb:.0f} MB "
                     f"| {'' if growth is None else f'{growth:.2f} MB per 1,000 messages'} | {_mb(sqlite)} |")
    for run in runs:
        lines += ["", f"{run.movements} movements, the curve (`python -m bench.memory results.json` prints it again):",
                  curve(run.samples, run.probes)]
        if run.grown:
            lines += ["", f"{run.movements} movements under tracemalloc, the sites that grew most once under way:"]
            lines += [f"  {site.growth_mb:+8.2f} MB  {site.size_mb:8.2f} MB  {site.blocks:>9,} blocks  {site.site}"
                      for site in run.grown]
            lines += ["", "the largest sites near the end:"]
            lines += [f"  {site.size_mb:8.2f} MB  {site.blocks:>9,} blocks  {site.site}" for site in run.largest]
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} MB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, nargs="+", default=[10, 40, 100], help="the sizes N to run")
    parser.add_argument("--countries", type=int, choices=sorted(SCENARIO_WRITERS), default=3,
                        help="3: the pilot's route Tashkent -> Poti; 11: the CAREC corridors 1-6")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench")
    parser.add_argument("--ceiling-seconds", type=float, default=2.0, help="how long each part of the ceiling is timed")
    parser.add_argument("--sample-every", type=float, default=5.0,
                        help="seconds between readings of the run's RSS, CPU time and messages")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="run under tracemalloc and report the largest allocation sites and those that grew "
                             "(slower: for finding what grows, not for timing)")
    parser.add_argument("--deployed", action="store_true",
                        help="one process per component, as docker-compose.yml runs them (bench/deployed.py)")
    parser.add_argument("--base-port", type=int, default=18700,
                        help="with --deployed: the hub's port; the nodes take the ports after it")
    args = parser.parse_args(argv)
    if any(count < 1 for count in args.movements):
        parser.error("--movements: give whole numbers of movements, 1 or more")
    args.out.mkdir(parents=True, exist_ok=True)
    compile_packages()
    if args.deployed:
        return _main_deployed(args)
    runs: list[Run] = []
    afters: list[Ceiling] = []
    for count in args.movements:
        first = Path(runs[0].directory) if runs else None  # every ceiling on the same document and keys
        run = run_movements(count, args.out, args.countries, args.sample_every, args.tracemalloc, first)
        print(f"{count} movements: {run.messages} messages in {run.wall_s:.1f} s", flush=True)
        runs.append(run)
        first = Path(runs[0].directory)
        afters.append(_ceiling(first / "messages", first / "pki", args.ceiling_seconds))
    ceilings = [set_against(run.ceiling_rounds, after) for run, after in zip(runs, afters, strict=True)]
    table = report(runs, ceilings)
    print()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print("\n".join(sampled_lines(runs, afters)))
    print(table)
    print()
    print(memory_report(runs))
    results = {"ceiling": _ceiling_json(ceilings[0]),
               "runs": [{**asdict(run), "messages_per_s": run.messages_per_s,
                         "messages_per_cpu_s": run.messages_per_cpu_s,
                         "growth_mb_per_1000_messages": run.growth_mb_per_1000_messages,
                         "ceiling": _ceiling_json(ceiling), "ceiling_after": _ceiling_json(after)}
                        for run, ceiling, after in zip(runs, ceilings, afters, strict=True)]}
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if all(run.ok for run in runs) else 1


def _main_deployed(args: argparse.Namespace) -> int:
    runs: list[DeployedRun] = []
    afters: list[Ceiling] = []
    for count in args.movements:
        scenario = SCENARIO_WRITERS[args.countries](count, args.out)
        first = Path(runs[0].directory) if runs else None  # as in `main`: every ceiling on the same document and keys
        run = run_deployed(scenario, count, args.out, args.base_port, first)
        print(f"{count} movements, one process per component: {run.messages} messages in {run.wall_s:.1f} s",
              flush=True)
        runs.append(run)
        first = Path(runs[0].directory)
        afters.append(_ceiling(first / "run" / "messages", first / "pki", args.ceiling_seconds))
    ceilings = [set_against(run.ceiling_rounds, after) for run, after in zip(runs, afters, strict=True)]
    print()
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print("\n".join(sampled_lines(runs, afters)))
    print("\n".join(_ceiling_lines(args.movements, ceilings)))
    print()
    print(deployed_report(runs, ceilings))
    results = {"ceiling": _ceiling_json(ceilings[0]),
               "deployed": [{**asdict(run), "cpu_s": run.cpu_s, "messages_per_s": run.messages_per_s,
                             "components_rss_mb": run.components_rss_mb, "ceiling": _ceiling_json(ceiling),
                             "ceiling_after": _ceiling_json(after)}
                            for run, ceiling, after in zip(runs, ceilings, afters, strict=True)]}
    (args.out / "results-deployed.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0 if all(run.ok for run in runs) else 1


def _ceiling_json(ceiling: Ceiling) -> dict[str, float]:
    return {**asdict(ceiling), "unit_ms": ceiling.unit_ms}


if __name__ == "__main__":
    sys.exit(main())
