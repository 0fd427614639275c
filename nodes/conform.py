"""`caravan conform`: judge a national system under test against conformance scenarios, and write the verdict.

1. The prepared directory (`caravan prepare SCENARIO --out DIR --external NODE=INBOX_URL`) says which
   nodes are external (DIR/external.yaml). Every scenario given must have exactly the prepared nodes, and
   each must start no earlier than the one before ends: components keep their scenario time.
2. The hub and every node that is not external start as separate processes (`caravan hub --config`,
   `caravan node --config`), as `run --attach` and docker-compose run them; each must answer `/health`
   within a minute. Their logs go to OUT/logs/. Nodes are started from configs that name the
   scenario being run (its movements and certificates), on their own stores, so their message ids go
   on from one scenario to the next and the system under test never sees one twice.
3. Each scenario runs as a test suite (`exchange.runner.Driver`): its expectations are its cases, and
   for every external node the checks of its traffic at the hub (`exchange.conformance`): every message
   it sent passed the hub's checks, every push to it was answered 2xx, it sent anything at all, and
   every MRN it sent has a valid check digit. A scenario that cannot go on (a step refused, a component
   out of reach) is a failed case that says why; the next scenario still runs.
4. OUT/junit.xml, OUT/report.html and OUT/report.json hold the verdict (`exchange.reports`); the exit
   code is 0 only when every case of every suite holds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO

from exchange import eventloop
from exchange.conformance import Check, DocumentTexts, WireMessage, pushes_answered, refused_from, sent_anything
from exchange.errors import CaravanError, InputError, TransportError
from exchange.health import check_health
from exchange.reports import Case, Suite, Verdict, write_reports
from exchange.runner import Driver
from exchange.scenario import Scenario
from exchange.tls import DRIVER, HUB, TlsIdentity
from nodes.configs import load_hub_config, load_node_config, write_node_config
from nodes.customs.mrn import is_valid_mrn
from nodes.external import read_external
from nodes.families import describe_document
from nodes.language import load_scenario
from nodes.launch import attached_deployment

__all__ = ["conform"]

STOP_GRACE = 10.0
"""Seconds a component gets to stop after SIGTERM before it is killed."""
START_TIMEOUT = 60.0
"""Seconds a component gets to answer `/health` after it is started (a loaded machine imports slowly)."""


def conform(
    scenario_paths: Sequence[Path], prepared: Path, out: Path, *, wait: float, answer_wait: float,
    printer: IO[str] | None = None,
) -> Verdict:
    """Run every scenario against the prepared deployment and write the reports; the verdict."""
    scenarios = [load_scenario(path) for path in scenario_paths]
    hub_config = load_hub_config(prepared / "hub.yaml")
    external = read_external(prepared, hub_config.nodes)
    if not external:  # caravan's own nodes judged against themselves: a PASS that says nothing of any system
        raise InputError(f"--prepared {prepared}: names no system under test; prepare it with `caravan prepare "
                         f"SCENARIO --out {prepared} --external NODE=INBOX_URL` (to run caravan's own nodes as "
                         "separate processes, `caravan run --attach`)", document=str(prepared), path="--external")
    _check_fits(scenarios, set(hub_config.nodes), prepared)
    say: Callable[[str], None] = (lambda line: print(line, file=printer, flush=True)) if printer else (lambda _: None)
    for node, url in external.items():
        say(f"system under test: {node} at {url}")
    suites: list[Suite] = []
    with _Components(prepared, out / "logs", START_TIMEOUT) as components:
        for scenario in scenarios:
            suites.append(_run_suite(scenario, prepared, out, components, external, wait, answer_wait, printer))
    verdict = Verdict(suites, external)
    for path in write_reports(verdict, out):
        say(f"wrote {path}")
    say(f"verdict: {'PASS' if verdict.passed else 'FAIL'}")
    return verdict


def _check_fits(scenarios: Sequence[Scenario], nodes: set[str], prepared: Path) -> None:
    """Every scenario has the prepared nodes, and starts no earlier than the one before it ends."""
    previous: Scenario | None = None
    for scenario in scenarios:
        if set(scenario.nodes) != nodes:
            raise InputError(f"{scenario.path}: its nodes ({', '.join(scenario.nodes)}) are not those prepared in "
                             f"{prepared} ({', '.join(sorted(nodes))}); prepare it, or a scenario with the same nodes",
                             document=str(scenario.path), path="nodes")
        if previous is not None:
            end = max([previous.start, *(step.at for step in previous.steps)])
            if scenario.start < end:
                raise InputError(f"{scenario.path}: starts {scenario.start:%Y-%m-%dT%H:%M}Z, before "
                                 f"{previous.path} ends ({end:%Y-%m-%dT%H:%M}Z); components keep their scenario "
                                 "time, so give the scenarios in the order of their times", document=str(scenario.path),
                                 path="start")
        previous = scenario


def _run_suite(
    scenario: Scenario, prepared: Path, out: Path, components: _Components, external: dict[str, str],
    wait: float, answer_wait: float, printer: IO[str] | None,
) -> Suite:
    run_dir = out / "runs" / scenario.name
    suite = Suite(scenario.name, scenario.title, str(scenario.path), output=str(run_dir))
    try:
        components.start({HUB: prepared / "hub.yaml", **{node: _node_config(prepared, out, scenario, node)
                                                         for node in scenario.nodes if node not in external}})
        driver = Driver(scenario, attached_deployment(prepared), run_dir, describe_document, printer=printer,
                        settle_timeout=wait, answer_wait=answer_wait)
        report = eventloop.run(driver.run())
    except CaravanError as exc:
        suite.cases.append(Case("the scenario runs to its end", False, "every step carried out", exc.message,
                                exc.rule or exc.code))
        return suite
    checks = list(report.checks)
    for node in external:  # the run's own traffic: the hub's from earlier suites is not this suite's to judge
        checks += traffic_checks(node, report.wire, report.refusals, report.refusals_expected)
    suite.cases.extend(Case(check.what, check.holds, check.expected, check.actual, check.rule) for check in checks)
    return suite


def traffic_checks(node: str, wire: Sequence[WireMessage], refusals: Sequence[dict[str, object]],
                   refusals_expected: Collection[int] = ()) -> list[Check]:
    """What is judged of every external node, whatever the scenario says: its traffic at the hub (the pushes
    it must refuse, `refusals_expected`, are the scenario's own cases)."""
    return [sent_anything(node, wire), refused_from(node, refusals), pushes_answered(node, wire, refusals_expected),
            _references(node, wire)]


QUOTING = frozenset({"CD906C"})
"""Messages that quote the reference of the message they refuse, valid or not: a NACK of error 93 must."""


def _references(node: str, wire: Sequence[WireMessage]) -> Check:
    """Every MRN `node` sent has the layout and check digit of ISO 6346 (NCTS functional error 93 otherwise)."""
    wrong = [f"{message.label}: MRN {mrn}" for message in wire if message.sender == node
             and message.code not in QUOTING
             for mrn in sorted(DocumentTexts(message.document).at("MRN")) if not is_valid_mrn(mrn)]
    return Check(f"every MRN {node} sent has a valid check digit", "valid MRNs", "; ".join(wrong) or "all valid",
                 not wrong, "93")


def _node_config(prepared: Path, out: Path, scenario: Scenario, node: str) -> Path:
    """The prepared node config, naming `scenario` for its movements and certificates; same store, same port."""
    config = load_node_config(prepared / f"{node}.yaml")
    if config.scenario.resolve() == scenario.path.resolve():
        return prepared / f"{node}.yaml"
    path = out / "configs" / scenario.name / f"{node}.yaml"
    write_node_config(path, replace(config, scenario=scenario.path))
    return path


class _Components:
    """The hub and the caravan nodes as child processes; a node restarts when its config changes."""

    def __init__(self, prepared: Path, logs: Path, wait: float) -> None:
        self._logs = logs
        self._wait = wait
        self._driver = TlsIdentity.in_pki(prepared / "pki", DRIVER) if load_hub_config(prepared / "hub.yaml").tls \
            else None
        self._running: dict[str, tuple[Path, subprocess.Popen[bytes]]] = {}

    def __enter__(self) -> _Components:
        self._logs.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in [name for name in self._running if name != HUB] + [HUB]:
            if name in self._running:
                self._stop(name)

    def start(self, configs: Mapping[str, Path]) -> None:
        """Start every component of `configs` not already running with that config, together; wait until each
        serves. A component running with another config (a node for the scenario before) is restarted."""
        starting = {}
        for name, config in configs.items():
            running = self._running.get(name)
            if running is not None and running[0] == config and running[1].poll() is None:
                continue
            if running is not None:
                self._stop(name)
            kind = "hub" if name == HUB else "node"
            url = load_hub_config(config).url if name == HUB else load_node_config(config).url
            with (self._logs / f"{name}.log").open("ab") as log:
                process = subprocess.Popen([sys.executable, "-m", "exchange.cli", kind, "--config", str(config)],
                                           stdout=log, stderr=subprocess.STDOUT)
            self._running[name] = (config, process)
            starting[name] = (url, process)
        for name, (url, process) in starting.items():
            self._wait_until_up(name, url, process)

    def _wait_until_up(self, name: str, url: str, process: subprocess.Popen[bytes]) -> None:
        context = self._driver.client_context() if self._driver else None
        deadline = time.monotonic() + self._wait
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = (self._logs / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:]
                raise TransportError(f"{name} exited with code {process.returncode} on start: "
                                     f"{tail[0] if tail else 'no output'} (log: {self._logs / f'{name}.log'})")
            try:
                check_health(url, context, timeout=1.0)
                return
            except TransportError:
                time.sleep(0.1)
        raise TransportError(f"{name} did not answer at {url} within {self._wait:.0f} s "
                             f"(log: {self._logs / f'{name}.log'})")

    def _stop(self, name: str) -> None:
        _, process = self._running.pop(name)
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
