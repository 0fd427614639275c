"""The same N-movement run as `bench.run`, deployed as in docker-compose.yml: one process per component.

`bench.run` puts the hub, the nodes and the driver in one Python process, which can use at most one core:
its messages per CPU second compare like with like against the one-core ceiling. A deployment does not
run that way. Each national single window and the exchange hub are their own processes (their own
containers in docker-compose.yml), so on a machine with several cores they work at the same time. This
module measures that shape, with exactly the commands of the compose file:

    caravan prepare SCENARIO --out DIR --base-port PORT
    caravan hub --config DIR/hub.yaml          (and `caravan node --config DIR/NODE.yaml` for each node)
    caravan run SCENARIO --attach DIR --out DIR/run

It reports the wall time of the driven run (what a user waits for), the CPU time of every process from
`wait4` (the hub, each node, the driver), and each process's peak resident set. The peaks of different
processes are not simultaneous, and each counts in full the pages all processes share (the interpreter,
lxml, OpenSSL, the compiled schemas, mapped from the same files), so their sum overstates what hub and nodes
held together. While the driver runs, the bench therefore also reads every hub and node process at the same
instant, every `READ_EVERY` seconds (bench/memory.py's `Together`): the highest sum of their RSS, and the
highest sum of their PSS, which counts each shared page once. The driver is left out of both sums, so its
share of the shared pages is too: the PSS sum is what hub and nodes hold beside one more Python process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.ceiling import Ceiling, Round, paused_s, read_rounds, sampled_beside
from bench.memory import Together, wait_reading
from exchange.errors import TransportError
from exchange.health import check_health
from exchange.tls import DRIVER, TlsIdentity

__all__ = ["DeployedRun", "Process", "Rates", "deployed_report", "run_deployed"]

ROOT = Path(__file__).resolve().parent.parent
STARTUP_CEILING = 180.0  # seconds a component may take to answer: a guard against a hang, not a goal
READ_EVERY = 2.0
"""Seconds between readings of the components' memory. Each reading costs CPU in the kernel, which walks
every component's page tables: about 20 ms for twelve components of 100 MB each. Every 0.5 s that was 4-8 %
of the run's own CPU time (100 movements, eleven countries); every 2 s it is 1-2 %, and the peaks were
the same within the runs' spread (the components' memory only grows, so the highest sum is near the end).
The table reports the readings' CPU time beside the run's."""


class Rates:
    """Messages per second of wall time and per CPU second, for any run that knows its three totals."""

    messages: int
    wall_s: float
    cpu_s: float

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.wall_s

    @property
    def messages_per_cpu_s(self) -> float:
        return self.messages / self.cpu_s


@dataclass(frozen=True)
class Process:
    """One process of a deployed run, as `wait4` saw it when it ended."""

    name: str  # hub, a node's name, or driver
    cpu_s: float
    peak_rss_mb: float
    exit_code: int


@dataclass(frozen=True)
class DeployedRun(Rates):
    movements: int
    messages: int
    wall_s: float  # the driven run, from `caravan run --attach` starting to its end
    processes: tuple[Process, ...]
    together: Together  # the hub's and nodes' memory, read at the same instants while the driver ran
    ok: bool  # every expectation held and every component stopped cleanly
    directory: str
    ceiling_rounds: tuple[Round, ...] = ()  # the ceiling sampled while the run went on (every process held)

    @property
    def cpu_s(self) -> float:
        """CPU time of every process together: the hub, the nodes and the driver."""
        return sum(process.cpu_s for process in self.processes)

    @property
    def components_rss_mb(self) -> float:
        """The sum of the hub's and the nodes' peaks: an upper bound of what they held at any one time."""
        return sum(process.peak_rss_mb for process in self.processes if process.name != "driver")


def run_deployed(scenario: Path, count: int, out: Path, base_port: int,
                 ceiling_from: Path | None = None) -> DeployedRun:
    """Prepare `scenario` for separate processes under `out`, start them, drive the run, stop them.

    The ceiling is sampled while the driver runs, every process held still for each round (bench/ceiling.py),
    on the first CC015C of the deployed run `ceiling_from` (this one when None); the wall time leaves the
    pauses out."""
    prepared = out / f"{scenario.stem}.deployed"
    _caravan("prepare", str(scenario), "--out", str(prepared), "--base-port", str(base_port))
    hub_config = yaml.safe_load((prepared / "hub.yaml").read_text(encoding="utf-8"))
    urls = {"hub": f"{'https' if hub_config['tls'] else 'http'}://{hub_config['listen']['host']}:"
                   f"{hub_config['listen']['port']}", **hub_config["nodes"]}
    driver_tls = TlsIdentity.in_pki(prepared / "pki", DRIVER)
    context = driver_tls.client_context() if hub_config["tls"] else None
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in urls:
            command = "hub" if name == "hub" else "node"
            with (prepared / f"{name}.log").open("wb") as log:
                started[name] = subprocess.Popen(
                    [sys.executable, "-m", "exchange.cli", command, "--config", str(prepared / f"{name}.yaml")],
                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        for name, url in urls.items():
            _wait_until_healthy(name, url, context, started[name], prepared / f"{name}.log")
        run_dir = prepared / "run"
        together, components = Together(), [process.pid for process in started.values()]
        source, rounds = ceiling_from or prepared, out / f"{scenario.stem}.deployed.ceiling.jsonl"
        began = time.perf_counter()
        with (out / f"{scenario.stem}.deployed.txt").open("wb") as log:
            driver = subprocess.Popen(
                [sys.executable, "-m", "exchange.cli", "run", str(scenario), "--attach", str(prepared),
                 "--out", str(run_dir)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            with sampled_beside(source / "run" / "messages", source / "pki", rounds, [*started.values(), driver], log):
                driven = _reaped("driver", driver, lambda: together.read(components))
        ceiling_rounds = read_rounds(rounds)
        wall = time.perf_counter() - began - paused_s(ceiling_rounds)
        for process in started.values():
            process.terminate()  # a clean stop: each component answers SIGTERM by closing its stores
        stopped = [driven, *(_reaped(name, process) for name, process in started.items())]
    finally:
        for process in started.values():  # only after a failure: nothing left running
            if process.returncode is None:
                process.kill()
                process.wait()
    messages = sum(1 for _ in (run_dir / "messages").glob("*.envelope.xml"))
    ok = all(process.exit_code == 0 for process in stopped)
    return DeployedRun(count, messages, wall, tuple(stopped), together, ok, str(prepared), ceiling_rounds)


def deployed_report(runs: Sequence[DeployedRun], ceilings: Sequence[Ceiling]) -> str:
    """The deployed runs as a Markdown table: wall rate against each run's one-core ceiling (`ceilings[i]`),
    CPU per process, and the hub's and nodes' memory three ways (sum of peaks, peak of the
    simultaneous RSS and PSS sums)."""
    lines = ["| movements | messages | wall time | messages/s (wall) | share of the one-core ceiling (wall) "
             "| CPU time, all processes | of which hub · nodes · driver | messages per CPU s "
             "| peak RSS, hub + nodes (sum of peaks) | peak RSS, hub + nodes (simultaneous) "
             "| peak PSS, hub + nodes (simultaneous) | memory readings (reader's CPU) | expectations |",
             "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    for run, ceiling in zip(runs, ceilings, strict=True):
        by_name = {process.name: process.cpu_s for process in run.processes}
        nodes = sum(cpu for name, cpu in by_name.items() if name not in ("hub", "driver"))
        lines.append(
            f"| {run.movements} | {run.messages} | {run.wall_s:.1f} s | {run.messages_per_s:.1f} "
            f"| {100 * run.messages_per_s / ceiling.messages_per_second:.1f} % | {run.cpu_s:.1f} s "
            f"| {by_name['hub']:.1f} · {nodes:.1f} · {by_name['driver']:.1f} s | {run.messages_per_cpu_s:.1f} "
            f"| {run.components_rss_mb:.0f} MB | {_read_mb(run.together.rss_mb)} | {_read_mb(run.together.pss_mb)} "
            f"| {run.together.readings} ({1000 * run.together.cpu_s:.0f} ms) | {'all hold' if run.ok else 'FAILED'} |")
    return "\n".join(lines)


def _read_mb(value: float | None) -> str:
    """A simultaneous sum, or why there is none: a missing figure is unknown, and 0 would read as a result."""
    return "no smaps_rollup" if value is None else f"{value:.0f} MB"


def _caravan(*arguments: str) -> None:
    done = subprocess.run([sys.executable, "-m", "exchange.cli", *arguments], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"caravan {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")


def _wait_until_healthy(name: str, url: str, context: object, process: subprocess.Popen[bytes],
                        log: Path) -> None:
    deadline = time.monotonic() + STARTUP_CEILING
    while True:
        try:
            check_health(url, context, timeout=1)  # type: ignore[arg-type]
            return
        except TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            told = log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise SystemExit(f"{name} at {url} did not come up:\n{told}")
        time.sleep(0.2)


def _reaped(name: str, process: subprocess.Popen[bytes], read: Callable[[], None] = lambda: None) -> Process:
    """Wait for `process` with `wait4`, which gives its CPU time and peak memory (Popen.wait gives neither),
    calling `read` every `READ_EVERY` seconds until it ends."""
    status, usage = wait_reading(process, READ_EVERY, read)
    return Process(name, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))
