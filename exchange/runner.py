"""Drive a scenario against a running hub and nodes, and report what crossed the wire.

The driver talks to the components only over their HTTP APIs, so the same code drives a pilot started
in one process on loopback ports and one spread over several processes or containers. For each step
it moves every component's virtual clock (deadlines fire), asks the step's node to act, waits until no
message is in flight anywhere, then reads from the hub every envelope that was accepted and writes the
signed document, byte for byte, to `messages/`. At the end it checks the scenario's expectations
against the nodes' state and the hub's tracking.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import aiohttp
from lxml import etree

from exchange.conformance import Check, DocumentTexts, WireMessage, judge_exchange, judge_push, pushes_of
from exchange.drills import RELOADING_ACTIONS, Captured, attack, authority_action, send_variant
from exchange.driver_actions import DRIVER_ACTIONS, FAULT_ACTIONS, HUB_TARGET, NOTE
from exchange.envelope import ENVELOPE_SUFFIX, Envelope
from exchange.errors import InputError, ScenarioError, TransportError
from exchange.faults import FaultBook, fault_from_step, plan_to_json
from exchange.inputs import foreign_entry
from exchange.language import shown, suggest
from exchange.safexml import parse_document
from exchange.scenario import Scenario, Step
from exchange.settle import LONG_POLL, Quiescence
from exchange.signing import carries_signature
from exchange.snapshots import PAGE_RECORDS, merge_page
from exchange.timeline import DEFAULT_WIDTH, PartyBook, Ticker, fit
from exchange.tls import TlsIdentity

__all__ = ["Check", "Deployment", "Description", "Driver", "RunReport", "scenario_outline"]


@dataclass(frozen=True)
class Deployment:
    """Where the components of one scenario run, and how the driver authenticates to them."""

    hub_url: str
    node_urls: Mapping[str, str]
    pki: Path | None = None  # the scenario PKI directory, for steps the scenario CA takes
    driver_tls: TlsIdentity | None = None  # None: plain HTTP
    restart: Callable[[str], Awaitable[None]] | None = None  # stop and start "hub" or a node (local runs only)
    external: Mapping[str, str] = field(default_factory=dict)  # nodes caravan did not start → their inbox URL


@dataclass(frozen=True)
class Description:
    """How a document reads in a timeline: its name, one line of key data, and the parties it names."""

    name: str
    summary: str
    sender: str = ""  # the sending party's identification (office, trader, NTA.UZ); "" when only the node is known
    recipient: str = ""


_MESSAGE_FILES = re.compile(r"\d{4,}-[\w.-]+\.xml")
"""What a run writes into messages/: NNNN-CODE-SENDER-to-RECIPIENT.xml, and .envelope.xml beside it."""


def _refuse_foreign_output(out: Path) -> None:
    """A run empties `out`/messages/ and writes `out`/events.jsonl afresh: InputError when either holds what no run
    wrote (`--out .` in a project, a typo), which the run would destroy. An earlier run's are replaced."""
    foreign = foreign_entry(out / "messages", _MESSAGE_FILES)
    log = out / "events.jsonl"
    if foreign is None and log.is_file() and not _opens_a_run(log):
        foreign = log
    if foreign is not None:
        raise InputError(f"{foreign}: was not written by a caravan run, and a run writes {out}/messages/ and "
                         f"{out}/events.jsonl afresh; give --out a run's directory, or a new one",
                         document=str(foreign))


def _opens_a_run(log: Path) -> bool:
    """Whether `log`'s first line is a run's outline of its scenario (`scenario_outline`)."""
    with log.open("rb") as lines:
        first = lines.readline()
    try:
        entry = json.loads(first)
    except ValueError:
        return False
    return isinstance(entry, dict) and entry.get("kind") == "scenario"


@dataclass
class RunReport:
    messages: int = 0
    checks: list[Check] = field(default_factory=list)
    requests: int = 0  # HTTP requests the driver made, counted by its client sessions (bench and tests read it)
    wire: list[WireMessage] = field(default_factory=list)  # every envelope the hub accepted, as tracked at the end
    refusals: list[dict[str, Any]] = field(default_factory=list)  # every submission the hub refused
    refusals_expected: set[int] = field(default_factory=set)  # deliveries `expect: pushes` says must be refused

    @property
    def ok(self) -> bool:
        """Every check holds, and there is one: a run that checked nothing proves nothing (`caravan conform`'s
        suites judge the same way), whatever let its expectations come to none."""
        return bool(self.checks) and all(check.holds for check in self.checks)


@dataclass(frozen=True, slots=True)  # slots, shared names: a 10,000-movement run keeps ~190,000 of these
class _Message:
    seq: int
    at: str
    sender: str
    recipient: str
    code: str
    correlation: str | None
    state: str
    signed: bool  # its envelope (or, for a certificate the IPPC face took, the document itself) carries a signature

    @property
    def stem(self) -> str:
        return f"{self.seq:04d}-{self.code}-{self.sender}-to-{self.recipient}"

    @property
    def file(self) -> str:
        """The document, relative to the run directory: read back when an expectation needs it."""
        return f"messages/{self.stem}.xml"


class _MessageBook:
    """The messages the driver collected. Every one is kept when something reads them back at the end (an
    expectation about a movement's messages or documents, the judged wire); otherwise only those since the
    last `forget`, and the counts: a run of generated traffic then holds no record per message."""

    def __init__(self, keep_all: bool) -> None:
        self._keep_all = keep_all
        self._kept: list[_Message] = []
        self.count = self.unsigned = self.last_seq = 0

    def add(self, message: _Message) -> None:
        self._kept.append(message)
        self.count += 1
        self.unsigned += not message.signed
        self.last_seq = message.seq

    def forget(self) -> None:
        """A settle begins: what came before it is needed no more, unless every message is kept."""
        if not self._keep_all:
            self._kept.clear()

    def since(self, count: int) -> list[_Message]:
        """The messages added after the first `count`."""
        return self._kept[len(self._kept) - (self.count - count):]

    def all(self) -> list[_Message]:
        if not self._keep_all:
            raise AssertionError("the driver kept only a count of messages; it must keep them all to read them back")
        return self._kept


class _Brought:
    """What the status answers of a settle brought along and the driver has not collected yet: deliveries
    from quiet hub answers, events from node answers. The next answer is asked only for what is newer, so a
    step of ten hops carries its first envelope once, not ten times.

    Only a quiet hub answer's deliveries are kept: nothing of the hub is in flight then, so each delivery's
    state holds until the driver acts again (a push ends it, a fault's hold ends only with a clock move or a
    heal), and the settle's last answer would report the same. A node's events never change once logged.
    """

    def __init__(self) -> None:
        self.deliveries: dict[int, Mapping[str, Any]] = {}
        self.events: dict[str, dict[int, Mapping[str, Any]]] = {}

    def deliveries_after(self, collected: int) -> int:
        return max(self.deliveries, default=collected)

    def events_after(self, node: str, collected: int) -> int:
        return max(self.events.get(node, ()), default=collected)

    def note(self, component: str, answer: Mapping[str, Any]) -> None:
        if component == HUB_TARGET:
            if answer.get("quiet"):
                self.deliveries.update((delivery["delivery_id"], delivery) for delivery in answer.get("deliveries", ()))
        elif "events" in answer:
            self.events.setdefault(component, {}).update((event["id"], event) for event in answer["events"])

    def forget_deliveries(self) -> None:
        self.deliveries.clear()

    def take_deliveries(self, hub: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Those kept and those the settled hub answer brought, in order; none is kept afterwards."""
        taken = {**self.deliveries, **{delivery["delivery_id"]: delivery for delivery in hub.get("deliveries", ())}}
        self.deliveries.clear()
        return [taken[seq] for seq in sorted(taken)]

    def take_events(self, node: str, reading: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        taken = {**self.events.pop(node, {}), **{event["id"]: event for event in reading.get("events", ())}}
        return [taken[seq] for seq in sorted(taken)]


class Driver:
    """Runs one scenario's steps against a deployment and checks its expectations."""

    def __init__(
        self,
        scenario: Scenario,
        deployment: Deployment,
        out: Path,
        describe: Callable[[etree._Element], Description],
        *,
        speed: float | None = None,
        printer: IO[str] | None = None,
        settle_timeout: float = 60.0,
        answer_wait: float = 0.0,
        wide: bool = False,
        listener: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._scenario = scenario
        self._deployment = deployment
        self._out = out
        self._directory = str(out)  # the messages' paths are made as text: a Path join costs ~20 us, 4 per message
        self._describe = describe
        self._speed = speed
        self._printer = printer
        self._settle_timeout = settle_timeout
        self._answer_wait = answer_wait
        # external nodes (systems under test) are judged by their traffic alone: never read, and sent control
        # calls only when they offer caravan's control API (`_probe_external`)
        self._observed = {n: url for n, url in deployment.node_urls.items() if n not in deployment.external}
        self._controlled = dict(self._observed)
        expect = scenario.expectations
        # the wire is read back at the end when it is judged: exchanges expected, or a system under test
        self._judged = bool(expect.exchanges or expect.pushes) or len(self._observed) < len(deployment.node_urls)
        self._messages = _MessageBook(keep_all=self._judged or bool(expect.messages or expect.message_counts
                                                                      or expect.documents))
        self._step_failures: list[Check] = []
        self._refusals_expected: set[int] = set()
        self._event_marks: dict[str, int] = {node: 0 for node in self._observed}
        self._brought = _Brought()
        self._session: aiohttp.ClientSession | None = None
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._captured: list[Captured] = []
        # envelopes are kept in memory only for a scenario that replays them (attack steps): a run of
        # thousands of movements would otherwise hold every document twice
        self._replays = any(step.action in ("attack", "send_variant") for step in scenario.steps)
        self._refusals: list[dict[str, Any]] = []
        self._refusals_before = 0  # the hub's last refusal before this run (`_begin_after_earlier_runs`)
        self._log: IO[str] | None = None
        self._faults = FaultBook()
        self._transport_marks: dict[str, int] = {HUB_TARGET: 0, **{node: 0 for node in self._observed}}
        self._requests = 0
        self._quiescence = Quiescence(HUB_TARGET, list(self._controlled))  # again once externals are probed
        # every node's clock moves at every step when a step may depend on a node's time without reaching it
        # through an action or a push: a fault window, a revocation or an attack, a system under test
        self._every_clock = bool(deployment.external) or any(
            step.action in DRIVER_ACTIONS - {NOTE} for step in scenario.steps)
        self._width = None if wide else DEFAULT_WIDTH
        self._parties = PartyBook(scenario.raw.get("nodes") or {})
        self._ticker = Ticker(printer, len(scenario.steps))
        self._listener = listener  # the live view: every entry of events.jsonl as it is written
        self._position: Step | None = None

    async def run(self) -> RunReport:
        _refuse_foreign_output(self._out)
        shutil.rmtree(self._out / "messages", ignore_errors=True)  # only this run's messages, none left over
        (self._out / "messages").mkdir(parents=True)
        report = RunReport()
        tls = self._deployment.driver_tls
        connector = aiohttp.TCPConnector(ssl=tls.client_context()) if tls else None
        async with aiohttp.ClientSession(connector=connector, trace_configs=[self._request_counter()]) as session:
            self._session = session
            with (self._out / "events.jsonl").open("w", encoding="utf-8") as log:
                self._log = log
                self._say(f"{self._scenario.title}  [{self._scenario.name}]")
                self._say(f"virtual time starts {self._scenario.start:%Y-%m-%d %H:%M} UTC; nodes: "
                          + ", ".join(f"{n} ({spec.country})" for n, spec in self._scenario.nodes.items()))
                self._record({"kind": "scenario", **scenario_outline(self._scenario)})
                await self._probe_external()
                await self._begin_after_earlier_runs()
                self._quiescence = Quiescence(HUB_TARGET, list(self._controlled),
                                              always=set(self._controlled) & set(self._deployment.external))
                previous = self._scenario.start
                await self._set_clocks(previous, every=True)
                try:
                    for step in self._scenario.steps:
                        self._position = step
                        await self._pace(previous, step)
                        previous = step.at
                        await self._run_step_judged(step)
                except asyncio.CancelledError:  # Ctrl-C: say where the run stopped, keep what it wrote
                    self._say_interrupted()
                    raise
                report.messages = self._messages.count
                report.wire = await self._final_wire() if self._judged else []  # documents read back: only when judged
                report.checks = await self._check_expectations(report.wire)
                report.refusals_expected = set(self._refusals_expected)
                report.refusals = list(self._refusals)
                for extra in self._sessions.values():
                    await extra.close()
                report.requests = self._requests
                for check in report.checks:
                    self._record({"kind": "expectation", **asdict(check)})
                self._record({"kind": "driver", "requests": report.requests, "steps": len(self._scenario.steps),
                              "messages": report.messages})
                self._print_summary(report)
        return report

    # -- steps ----------------------------------------------------------------------------------------------

    def _say_interrupted(self) -> None:
        step = self._position
        where = (f"step {step.index + 1}/{len(self._scenario.steps)} ({step.action} {_arguments(step)}) at virtual "
                 f"{step.at:%Y-%m-%d %H:%M}") if step else "before the first step"
        self._record({"kind": "interrupted", "step": step.index if step else None,
                      "at": _iso(step.at) if step else None, "messages": self._messages.count})
        self._say(f"⏹ interrupted at {where}")
        self._say(f"{self._messages.count} messages so far; they and the events are in {self._out}/", whole=True)

    async def _pace(self, previous: datetime, step: Step) -> None:
        at = step.at
        if self._speed and at > previous:
            await self._ticker.wait(previous, at, self._speed, step.index)
        if at > previous:
            moved = await self._set_clocks(at, every=self._every_clock)
            for fault in self._faults.ended(at):
                self._say(f"{fault.until:%Y-%m-%d %H:%M}  ⚡ {fault.describe()}: over, the wire works again")
            # the last step left the deployment settled; a move that set nothing in motion anywhere leaves it so,
            # with nothing new to collect (only components caravan drives answer for themselves like this)
            if self._deployment.external or not all(answer.get("still") for answer in moved.values()):
                await self._settle(at)

    async def _set_clocks(self, at: datetime, *, every: bool) -> dict[str, dict[str, Any]]:
        """The hub first (it must not find the nodes' new envelopes in its future), then the nodes that need it.

        Unless `every`, a node's clock is moved only when its earliest timer (`next_due` in its last reading,
        current since the last settle) is due by `at`: moving it would fire nothing else, and the node learns
        the time from what can set it working, before it decides or stamps anything: an action carries the
        step's time and the hub's pushes carry the hub's (`Node.catch_up`). `every` holds for scenarios whose
        steps act on a node's time by other ways (fault windows, revocations, attacks, systems under test).

        Each answer carries the component's activity reading, taken after its deadlines fired, one after
        another: the settle that follows asks again only the nodes that were not quiet or got a push since.
        """
        body = {"now": at.isoformat()}
        nodes = {node: url for node, url in self._controlled.items() if every or self._timer_due(node, at)}
        urls = {HUB_TARGET: self._deployment.hub_url, **nodes}
        moved = {component: await self._call("PUT", f"{url}/control/clock", body) for component, url in urls.items()}
        self._quiescence.observe(moved)
        return moved

    def _timer_due(self, node: str, at: datetime) -> bool:
        due = self._quiescence.reading(node).get("next_due", at.isoformat())
        return due is not None and datetime.fromisoformat(due) <= at

    async def _run_step_judged(self, step: Step) -> None:
        """A step; with external nodes, one that cannot be carried out (a counterpart holds no MRN because the
        system under test never sent it) is a failed check with its reason, and the run goes on to gather the
        rest of the evidence."""
        try:
            await self._run_step(step)
        except ScenarioError as exc:
            if not self._deployment.external:  # the run stops here; its events say why (figures, the view)
                self._record({"kind": "step-failed", "index": step.index, "detail": exc.message})
                raise
            if step.node in self._deployment.external:  # what the system under test declines is its own affair:
                self._say(f"{step.at:%Y-%m-%d %H:%M}  ·· {step.node} (external) declined: {exc.message}")
                self._record({"kind": "step-declined", "index": step.index, "detail": exc.message})
                return  # it is judged by what it sends, not by what its control API answers
            self._say(f"{step.at:%Y-%m-%d %H:%M}  ✗ step {step.index} ({step.action}) could not be carried out: "
                      f"{exc.message}")
            self._record({"kind": "step-failed", "index": step.index, "detail": exc.message})
            done_by = " ".join(part for part in (step.action, step.node) if part)
            self._step_failures.append(Check(f"step {step.index} ({done_by}) can be carried out", "carried out",
                                             exc.message, False, "step"))

    async def _run_step(self, step: Step) -> None:
        self._record({"kind": "step", "index": step.index, "at": _iso(step.at), "do": step.action, "node": step.node,
                      "arguments": dict(step.arguments), "note": step.note})
        if step.action == NOTE:
            self._say(f"{step.at:%Y-%m-%d %H:%M}  ·· {step.arguments.get('text', step.note)}")
            return
        if step.action in FAULT_ACTIONS:
            await self._run_fault(step)
            return
        if step.action in DRIVER_ACTIONS:
            await self._run_drill(step)
            return
        label = _arguments(step)
        note = f"  ({step.note})" if step.note else ""
        if step.node not in self._controlled:
            self._say(f"{step.at:%Y-%m-%d %H:%M}  ☞ {step.node} (external): its operator must now: {step.action} "
                      f"{label}{note}")
            self._record({"kind": "operator-step", "index": step.index, "node": step.node, "do": step.action,
                          "arguments": dict(step.arguments)})
            await self._settle(step.at, answers_awaited=True)
            return
        self._say(f"{step.at:%Y-%m-%d %H:%M}  ▶ {step.node}: {step.action} {label}{note}")
        body = {"do": step.action, "arguments": dict(step.arguments), "key": f"{self._scenario.name}#{step.index}",
                "now": step.at.isoformat()}
        self._quiescence.stir(step.node)
        # the node answers once it has nothing in flight, with the reading a settle's first long poll of it would
        # take (a node that does not offer it, an external one, is asked by the settle as before)
        news = self._event_news(step.node)
        answer = await self._call("POST", f"{self._controlled[step.node]}/control/actions?wait={LONG_POLL:.0f}{news}",
                                  body)
        if "error" in answer:
            raise ScenarioError(f"step {step.index} ({step.action}) refused by {step.node}: {answer.get('message')}",
                                path=f"steps[{step.index}]")
        if "reading" in answer:
            self._brought.note(step.node, answer["reading"])
            self._quiescence.observe({step.node: answer["reading"]})
        await self._settle(step.at)

    async def _run_drill(self, step: Step) -> None:
        """The scenario CA's actions and security drills: the driver takes them itself."""
        self._quiescence.stir_all()  # an attack or a reloaded key may reach any component
        if step.action == "attack":
            result = await attack(step.arguments, self._captured, self._deployment.pki, self._deployment.hub_url,
                                  step.at, self._session_for)
            mark = "⚔"
        elif step.action == "send_variant":
            result = await send_variant(step.arguments, self._captured, self._deployment.pki,
                                        self._deployment.hub_url, step.at, f"V{step.index}", self._session_for)
            mark = "✎"
        else:
            result = authority_action(step.action, self._deployment.pki, step.arguments, step.at)
            mark = "🔑"
            target = str(step.arguments.get("target", ""))
            if step.action in RELOADING_ACTIONS and target in self._controlled:
                await self._call("POST", f"{self._controlled[target]}/control/credentials", {})
        note = f"  ({step.note})" if step.note else ""
        self._say(f"{step.at:%Y-%m-%d %H:%M}  {mark} {result.summary}{note}")
        answer = result.answer
        self._record({"kind": "drill", "index": step.index, "action": result.action, "summary": result.summary,
                      "status": answer.status if answer else None, "body": answer.body if answer else None})
        await self._settle(step.at, answers_awaited=True)

    async def _run_fault(self, step: Step) -> None:
        """Install a fault on every component, heal faults, or restart a component, then let things settle."""
        note = f"  ({step.note})" if step.note else ""
        said = {**step.arguments, **({"node": step.node} if step.node else {})}
        self._quiescence.stir_all()  # a fault plan or a restart changes what any component may do next
        if step.action == "restart":
            target = str(step.arguments.get("target", ""))
            if self._deployment.restart is None:
                raise ScenarioError(f"step {step.index}: restart needs components this run started itself "
                                    "(caravan run without --attach), or --external-restarts",
                                    path=f"steps[{step.index}]")
            self._say(f"{step.at:%Y-%m-%d %H:%M}  ⟳ {target} stops and starts again (same store, same port){note}")
            await self._deployment.restart(target)
        elif step.action == "fault":
            fault = fault_from_step(f"steps[{step.index}]", step.at, step.node, step.arguments, self._scenario.nodes)
            self._faults.install(fault, said)
            window = f" until {fault.until:%Y-%m-%d %H:%M}" if fault.until else ""
            self._say(f"{step.at:%Y-%m-%d %H:%M}  ⚡ fault {fault.describe()}{window}{note}")
        else:
            healed = self._faults.heal(said)
            what = ", ".join(fault.describe() for fault in healed) or "nothing to heal"
            self._say(f"{step.at:%Y-%m-%d %H:%M}  ⚡ healed: {what}{note}")
        self._record({"kind": "fault", "index": step.index, "action": step.action, "arguments": said,
                      "plan": plan_to_json(self._faults.plan)["faults"]})
        body = plan_to_json(self._faults.plan)
        for url in [self._deployment.hub_url, *self._observed.values()]:  # the hub scripts the pushes to external nodes
            await self._call("PUT", f"{url}/control/faults", body)
        await self._settle(step.at)

    async def _collect_transport(self, settled: Mapping[str, Mapping[str, Any]]) -> None:
        """Retries, held and released envelopes, drops, duplicates and corruptions, as each component logged them."""
        urls = {HUB_TARGET: self._deployment.hub_url, **self._observed}
        for component, url in urls.items():
            if settled[component]["last_transport"] <= self._transport_marks[component]:
                continue
            listing = await self._call("GET", f"{url}/transport?after={self._transport_marks[component]}")
            for event in listing.get("events", []):
                self._transport_marks[component] = event["id"]
                self._record({**event, "kind": "transport", "component": component})
                mark = _TRANSPORT_MARKS.get(event["event"], "·")
                self._say(f"{event['at'][:10]} {event['at'][11:16]}  {mark} {component}: {event['detail']}")

    async def _session_for(self, identity: TlsIdentity | None) -> aiohttp.ClientSession:
        """A client session with `identity`'s TLS credentials (attacks speak as the party they abuse)."""
        key = identity.party if identity else ""
        if key not in self._sessions:
            connector = aiohttp.TCPConnector(ssl=identity.client_context()) if identity else None
            self._sessions[key] = aiohttp.ClientSession(connector=connector, trace_configs=[self._request_counter()])
        return self._sessions[key]

    def _request_counter(self) -> aiohttp.TraceConfig:
        """Count every request the client library starts (retries included), not the calls the driver meant."""

        async def count(session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
            self._requests += 1

        trace = aiohttp.TraceConfig()
        trace.on_request_start.append(count)
        return trace

    async def _settle(self, at: datetime, *, answers_awaited: bool = False) -> None:
        """Wait until nothing is in flight, then log every message and event that the step caused.

        The settled statuses say what is new (the newest delivery, event, refusal and transport line of
        each component), so a list is fetched only when it has something to add.

        An external node that offers no control API cannot say when it is done: when the step pushed it
        something or asked its operator to act (`answers_awaited`), its answers are given `answer_wait`
        seconds to arrive. One that does not answer a push keeps the hub busy: past the settle timeout the
        run goes on, and the pending pushes are judged at the end.
        """
        self._messages.forget()
        known = self._messages.count
        try:
            settled = await self._wait_quiet()
        except TransportError as exc:
            if not self._deployment.external:
                raise
            self._say(f"{at:%Y-%m-%d %H:%M}  ⌛ not settled: {exc.message} (a push to an external node is still "
                      "unanswered); going on")
            self._record({"kind": "unsettled", "at": _iso(at), "detail": exc.message})
            settled = await self._readings()
            self._brought.forget_deliveries()  # the hub is busy: read every delivery's state as it stands now
            answers_awaited = False  # it had the settle timeout to answer
        await self._collect_messages(settled[HUB_TARGET])
        await self._collect_events(settled)
        await self._collect_refusals(settled[HUB_TARGET]["last_refusal"])
        await self._collect_transport(settled)
        silent = set(self._deployment.external) - set(self._controlled)
        pushed = any(m.recipient in silent for m in self._messages.since(known))
        if self._answer_wait and silent and (answers_awaited or pushed):
            await asyncio.sleep(self._answer_wait)
            await self._settle(at)

    async def _readings(self) -> dict[str, Mapping[str, Any]]:
        """One status reading of every component, without waiting for quiet."""
        urls = {HUB_TARGET: self._deployment.hub_url, **self._controlled}
        readings = {component: await self._call("GET", f"{url}/status") for component, url in urls.items()}
        self._quiescence.observe(readings)
        return readings

    async def _probe_external(self) -> None:
        """An external node gets control calls only if it offers caravan's control API: its `GET /status`
        answers the driver's TLS identity with caravan's activity reading. Anything else (no answer, a TLS
        refusal, another body) makes it a node whose steps its operator takes."""
        assert self._session is not None
        for node, url in self._deployment.external.items():
            try:
                async with self._session.get(f"{url}/status", timeout=aiohttp.ClientTimeout(total=5)) as response:
                    body = await response.json(content_type=None) if response.status == 200 else {}
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, OSError) as exc:
                body, reason = {}, f"{type(exc).__name__}: {exc}"
            else:
                reason = "its GET /status is not caravan's"
            offers = isinstance(body, dict) and {"quiet", "version"} <= set(body)
            if offers:
                self._controlled[node] = url
            how = ("offers caravan's control API: steps that name it are sent to it" if offers else
                   f"no control API ({reason}): steps that name it are printed for its operator")
            self._say(f"external node {node} at {url}: {how}")
            self._record({"kind": "external", "node": node, "url": url, "control_api": offers})

    async def _begin_after_earlier_runs(self) -> None:
        """A hub that served earlier runs keeps their deliveries and refusals (conform's suites one after another,
        `run --attach`): this run collects, writes and judges only those after its start, or a system under
        test silent in this run would be judged by what it sent in the one before."""
        hub = await self._call("GET", f"{self._deployment.hub_url}/status")
        self._messages.last_seq = int(hub["last_delivery"])
        self._refusals_before = int(hub["last_refusal"])

    async def _collect_refusals(self, newest: int) -> None:
        after = self._refusals[-1]["id"] if self._refusals else self._refusals_before
        if newest <= after:
            return
        listing = await self._call("GET", f"{self._deployment.hub_url}/refusals?after={after}")
        for refusal in listing.get("refusals", []):
            self._refusals.append(refusal)
            self._record({**refusal, "kind": "refusal"})
            who = refusal.get("sender") or refusal.get("peer") or "?"
            what = refusal.get("message_type") or "request"
            self._say(f"{refusal['at'][:10]} {refusal['at'][11:16]}  ⛔ hub refused {what} from {who}: "
                      f"[{refusal['rule']}] {refusal['message']}")

    async def _wait_quiet(self) -> dict[str, Mapping[str, Any]]:
        """Until nothing is in flight anywhere: long polls of the hub and the nodes that can have changed.

        Envelopes a scripted fault holds are not in flight: they wait for the fault to end, which only a
        later step (moving the clock, healing) can bring about.
        """
        urls = {HUB_TARGET: self._deployment.hub_url, **self._controlled}

        async def read(component: str, wait: float) -> dict[str, Any]:
            if component == HUB_TARGET:
                news = f"&deliveries_after={self._brought.deliveries_after(self._messages.last_seq)}"
            else:
                news = self._event_news(component)
            answer = await self._call("GET", f"{urls[component]}/status?wait={wait:.3f}{news}")
            self._brought.note(component, answer)
            return answer

        return await self._quiescence.settle(read, self._settle_timeout)

    def _event_news(self, node: str) -> str:
        """The query that asks a node's answer to bring its events not yet brought ("" for a node without events)."""
        if node not in self._event_marks:
            return ""
        return f"&events_after={self._brought.events_after(node, self._event_marks[node])}"

    async def _collect_messages(self, hub: Mapping[str, Any]) -> None:
        """Every delivery up to the hub's newest: those brought along by its quiet answers during the settle
        (`deliveries_after`, `_Brought`), then pages fetched until none is missing."""
        for delivery in self._brought.take_deliveries(hub):
            if delivery["delivery_id"] > self._messages.last_seq:
                self._collect_message(delivery, base64.b64decode(delivery["envelope"], validate=True))
        while (after := self._messages.last_seq) < hub["last_delivery"]:
            listing = await self._call("GET", f"{self._deployment.hub_url}/deliveries?after={after}&envelopes=base64")
            if not listing["deliveries"]:
                return
            for delivery in listing["deliveries"]:
                self._collect_message(delivery, base64.b64decode(delivery["envelope"], validate=True))

    def _collect_message(self, delivery: Mapping[str, Any], envelope_bytes: bytes) -> None:
        sealed = parse_document(envelope_bytes)  # parsed once: the envelope's fields and whether it is signed
        envelope = Envelope.from_element(sealed)
        seq = delivery["delivery_id"]
        root = etree.fromstring(envelope.document)
        message = _Message(seq, delivery["accepted_at"], sys.intern(envelope.sender), sys.intern(envelope.recipient),
                           sys.intern(envelope.message_type), envelope.correlation_id, sys.intern(delivery["state"]),
                           carries_signature(sealed) or carries_signature(root))
        file = message.file
        _write_file(f"{self._directory}/{file}", envelope.document)  # the document, byte for byte
        _write_file(f"{self._directory}/messages/{message.stem}{ENVELOPE_SUFFIX}", envelope_bytes)  # as it crossed
        if self._replays:
            self._captured.append(Captured(seq, envelope, envelope_bytes))
        self._messages.add(message)
        description = self._describe(root)
        sender = self._parties.label(description.sender, message.sender)
        recipient = self._parties.label(description.recipient, message.recipient)
        self._record({"kind": "message", "seq": seq, "at": message.at, "sender": message.sender,
                      "recipient": message.recipient, "type": message.code, "name": description.name,
                      "correlation": message.correlation, "summary": description.summary,
                      "delivery": message.state, "file": file,
                      "from": sender, "to": recipient})
        failed = "" if message.state == "delivered" else f"[{message.state.upper()}]"
        parties = PartyBook.aligned(sender, recipient)
        if self._width is None:  # the full form: the administrations too, the name in its column
            self._say(f"{message.at[:10]} {message.at[11:16]}  {message.sender.upper():>2} {parties} "
                      f"{message.recipient.upper():<2}  {message.code} {description.name:<34} "
                      f"{description.summary}{'  ' + failed if failed else ''}")
        else:  # the delivery state first: it must survive the cut
            state = f"{failed} " if failed else ""
            self._say(f"{message.at[:10]} {message.at[11:16]}  {parties} {message.code} {state}"
                      f"{description.name}: {description.summary}")

    async def _collect_events(self, settled: Mapping[str, Mapping[str, Any]]) -> None:
        """The events each node logged since the last collect: brought along by its status answers during the
        settle (`events_after`, `_Brought`), else fetched."""
        for node, url in self._observed.items():
            mark = self._event_marks[node]
            brought = self._brought.take_events(node, settled[node])
            if settled[node]["last_event"] <= mark:
                continue
            if "events" not in settled[node]:  # a reading that brought none (a clock move's answer): the rest
                after = max(mark, brought[-1]["id"] if brought else mark)
                brought += (await self._call("GET", f"{url}/events?after={after}"))["events"]
            for event in (event for event in brought if event["id"] > mark):
                self._event_marks[node] = event["id"]
                self._record({**event, "kind": "node-event", "event": event["kind"]})
                if event["kind"] in ("rejected", "guarantee", "refused-by-hub", "not-sent", "acknowledged", "pulled",
                                     "overdue"):
                    agency = self._parties.label(event["agency"], node)
                    self._say(f"{event['at'][:10]} {event['at'][11:16]}    · {agency}: {event['detail']}")

    # -- expectations ---------------------------------------------------------------------------------------

    async def _check_expectations(self, wire: list[WireMessage]) -> list[Check]:
        expect = self._scenario.expectations
        movements: dict[str, dict[str, Any]] = {}
        guarantees: dict[str, dict[str, Any]] = {}
        wholly = {str(wanted.get("node")) for wanted in expect.values}  # nodes whose state a value path reads
        states: dict[str, dict[str, Any]] = {}
        for node, url in self._observed.items():  # page by page: no node's whole state held, unless a value needs it
            async for page in self._state_pages(url):
                _add_movements(movements, page)
                _add_guarantees(guarantees, page)
                if node in wholly:
                    merge_page(states.setdefault(node, {}), page)
        checks: list[Check] = list(self._step_failures)
        for key, roles in expect.movements.items():
            actual = movements.get(key, {})
            for role, expected in roles.items():
                found = _role_state(actual, role)
                checks.append(Check(f"movement {key} at {role}", str(expected), found, found == str(expected)))
        for grn, fields in expect.guarantees.items():
            actual_account = guarantees.get(grn, {})
            for name, expected in fields.items():
                found = str(actual_account.get(name, "absent"))
                checks.append(Check(f"guarantee {grn} {name}", str(expected), found, found == str(expected)))
        for key, codes in expect.messages.items():
            sequence = [m.code for m in self._movement_messages(movements.get(key, {}))]
            holds = _is_subsequence(list(codes), sequence)
            checks.append(Check(f"messages of {key} (in order)", " ".join(codes), " ".join(sequence), holds))
        for key, counts in expect.message_counts.items():
            found = self._movement_messages(movements.get(key, {}))
            for code, expected in counts.items():
                seen = sum(message.code == code for message in found)
                checks.append(Check(f"{code} messages of {key}", str(expected), str(seen), seen == int(expected)))
        for flow, roles in expect.traffic.items():
            checks.extend(self._check_traffic(flow, roles, movements))
        for index, wanted in enumerate(expect.documents):
            checks.append(self._check_document(index, wanted, movements))
        for wanted in expect.values:
            checks.append(await self._check_value(wanted, states))
        for wanted in expect.refusals:
            checks.append(self._check_refusal(wanted))
        for wanted in expect.exchanges:
            checks.append(judge_exchange(wanted, wire, self._references(wanted.get("about"), movements)))
        for wanted in expect.pushes:
            references = self._references(wanted.get("about"), movements)
            checks.append(judge_push(wanted, wire, references))
            if str(wanted.get("answer", "refused")) == "refused":  # judged here, not as pushes left unanswered
                self._refusals_expected |= {message.seq for message in pushes_of(wanted, wire, references)}
        if expect.deliveries:
            status = await self._call("GET", f"{self._deployment.hub_url}/status")
            for state, expected in expect.deliveries.items():
                found = status.get(state, 0)
                checks.append(Check(f"hub deliveries {state}", str(expected), str(found), found == int(expected)))
        return checks

    async def _state_pages(self, url: str) -> AsyncIterator[dict[str, Any]]:
        """A node's state a page at a time: `GET /state?limit=N`, then each page's `next` (exchange/snapshots.py)."""
        query = f"limit={PAGE_RECORDS}"
        while True:
            page = await self._call("GET", f"{url}/state?{query}")
            yield page["state"]
            if page["next"] is None:
                return
            query = f"after={page['next']}&limit={PAGE_RECORDS}"

    def _check_traffic(self, flow: str, roles: Mapping[str, Mapping[str, int]],
                       movements: Mapping[str, Any]) -> list[Check]:
        """`{departure: {WrittenOff: 38, DiscrepanciesPending: 2}}`: how many of a flow's movements end where."""
        keys = self._scenario.traffic.get(flow, ())
        checks = []
        for role, counts in roles.items():
            found = Counter(_role_state(movements.get(key, {}), role) for key in keys)
            for state, expected in counts.items():
                checks.append(Check(f"traffic {flow}: movements {state} at {role}", str(expected),
                                    str(found[state]), found[state] == int(expected)))
            others = {state: n for state, n in found.items() if state not in counts}
            if others:
                listed = ", ".join(f"{state} {n}" for state, n in sorted(others.items()))
                checks.append(Check(f"traffic {flow}: no movement in another state at {role}", "none", listed, False))
        return checks

    async def _check_value(self, wanted: Mapping[str, Any], states: Mapping[str, Any]) -> Check:
        """`{node: ge, path: ephyto/certificates/X/status, equals: Accepted}`, or `{…, path: cats/movements,
        lacks: M2}`; node `hub` reads the hub's status. A path that leads nowhere fails either way: a misspelt step
        must not pass for a value that is absent."""
        node = str(wanted.get("node", ""))
        path = wanted.get("path", "")
        steps = [str(step) for step in path] if isinstance(path, list) else str(path).split("/")
        if node == "hub":
            value: Any = await self._call("GET", f"{self._deployment.hub_url}/status")
        else:
            value = states.get(node, {})
        lacks = wanted.get("lacks")
        what = f"{node}: {'/'.join(steps)}" + ("" if lacks is None else f" lacks {lacks}")
        expected = f"no {lacks}" if lacks is not None else str(wanted.get("equals"))
        for depth, step in enumerate(steps):
            if not isinstance(value, Mapping) or step not in value:
                return Check(what, expected, _nothing_at(steps[:depth], step, value), False)
            value = value[step]
        if lacks is None:
            return Check(what, expected, str(value), str(value) == expected)
        if not isinstance(value, Mapping):
            return Check(what, expected, f"{shown(value)}, which has no keys", False)
        found = f"{lacks}: {shown(value[lacks])}" if lacks in value else f"{len(value)} other keys"
        return Check(what, expected, found, lacks not in value)

    def _check_refusal(self, wanted: Mapping[str, Any]) -> Check:
        """`{rule: cert-revoked, sender: uz}`: some refusal in the hub's log has every field given."""
        fields = {str(key): str(value) for key, value in wanted.items()}
        what = "hub refused " + ", ".join(f"{key}={value}" for key, value in fields.items())
        for refusal in self._refusals:
            if all(str(refusal.get(key)) == value for key, value in fields.items()):
                return Check(what, "refused", f"refusal #{refusal['id']}: {refusal['message']}", True)
        seen = "; ".join(f"{r.get('rule')} ({r.get('sender') or r.get('peer')})" for r in self._refusals)
        return Check(what, "refused", seen or "no refusals", False)

    def _references(self, about: Any, movements: Mapping[str, Any]) -> set[str]:
        """What `about` stands for in correlation ids: a movement's LRN and MRN (as the nodes caravan runs know
        them), else the text itself (a certificate number); empty for no `about`."""
        if about is None:
            return set()
        key = str(about)
        movement = {**(self._scenario.movements.get(key) or {}), **movements.get(key, {})}
        return {key} | {str(value) for value in (movement.get("lrn"), movement.get("mrn")) if value}

    async def _final_wire(self) -> list[WireMessage]:
        """Every message the hub accepted, with its delivery state now (a push may have been answered since)."""
        tracked: dict[int, Mapping[str, Any]] = {}
        while True:
            after = max(tracked, default=0)
            listing = await self._call("GET", f"{self._deployment.hub_url}/deliveries?after={after}")
            if not listing.get("deliveries"):
                break
            tracked.update({delivery["delivery_id"]: delivery for delivery in listing["deliveries"]})
        wire = []
        for message in self._messages.all():
            delivery = tracked.get(message.seq, {})
            wire.append(WireMessage(message.seq, message.at, message.sender, message.recipient, message.code,
                                    message.correlation, (self._out / message.file).read_bytes(),
                                    delivery.get("state", message.state),
                                    delivery.get("last_error"), int(delivery.get("attempts", 0))))
        return wire

    def _movement_messages(self, movement: Mapping[str, Any]) -> list[_Message]:
        references = {value for value in (movement.get("lrn"), movement.get("mrn")) if value}
        return [m for m in self._messages.all() if m.correlation in references]

    def _check_document(self, index: int, wanted: Mapping[str, Any], movements: Mapping[str, Any]) -> Check:
        key, code = str(wanted.get("movement", "")), str(wanted.get("type", ""))
        contains = {str(name): str(value) for name, value in (wanted.get("contains") or {}).items()}
        what = f"document {code} of {key} contains " + ", ".join(f"{n}={v}" for n, v in contains.items())
        candidates = [m for m in self._movement_messages(movements.get(key, {})) if m.code == code]
        for message in candidates:
            if DocumentTexts((self._out / message.file).read_bytes()).hold(contains):
                return Check(what, "present", message.file, True)
        found = ", ".join(m.file for m in candidates) or f"no {code} for {key}"
        return Check(what, "present", found, False)

    def _print_summary(self, report: RunReport) -> None:
        held = sum(check.holds for check in report.checks)
        self._say("")
        unsigned = self._messages.unsigned
        if unsigned:
            self._say(f"{report.messages} messages exchanged: {report.messages - unsigned} signed and verified at the "
                      f"hub, {unsigned} unsigned (ePhytos whose sender the IPPC Hub face authenticated by TLS).")
        else:
            self._say(f"{report.messages} messages exchanged, every one signed, verified and schema-valid at the hub.")
        self._say(f"Expectations: {held}/{len(report.checks)} hold" if report.checks else
                  "Expectations: none was checked, so the run does not pass")
        self._say(f"The driver made {report.requests} HTTP requests for {len(self._scenario.steps)} steps.")
        for check in report.checks:
            mark = "✓" if check.holds else "✗"
            detail = f"  expected {check.expected!r}, got {check.actual!r}" if not check.holds else (
                f": {check.actual}" if _scalar(check.actual) else "")
            self._say(f"  {mark} {check.what}{detail}")
        self._say(f"Messages, events and credentials are in {self._out}/", whole=True)

    # -- plumbing -------------------------------------------------------------------------------------------

    async def _call(self, method: str, url: str, body: Any = None) -> dict[str, Any]:
        """One control call, its JSON answer; see `_request` for components that are down."""
        answer: dict[str, Any] = await self._request(method, url, body, _json)
        return answer

    async def _request(self, method: str, url: str, body: Any, read: Callable[[aiohttp.ClientResponse], Any]) -> Any:
        """A component that is down (restarting, killed mid-answer) is waited for, up to the settle timeout.

        Every call the driver makes may be repeated safely: reads, setting the clock to the same time, and
        actions, which carry an idempotency key.
        """
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settle_timeout
        while True:
            try:
                async with self._session.request(method, url, json=body) as response:
                    return await read(response)
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:  # down, or cut off mid-answer
                if loop.time() > deadline:
                    raise TransportError(f"{method} {url} failed: {exc}") from exc
                await asyncio.sleep(0.2)
            except (aiohttp.ClientError, ValueError) as exc:
                raise TransportError(f"{method} {url} failed: {exc}") from exc

    def _say(self, line: str, *, whole: bool = False) -> None:
        """Print one timeline line, cut to the width unless it is `whole` (a path a person copies)."""
        if self._printer is not None:
            self._ticker.clear()
            print(line if whole else fit(line, self._width), file=self._printer, flush=True)

    def _record(self, entry: Mapping[str, Any]) -> None:
        assert self._log is not None
        line = _EVENTS_JSON.encode(entry)
        self._log.write(line + "\n")
        if self._listener is not None:
            self._listener(json.loads(line))  # as written: what a live page sees is what a replay reads


_EVENTS_JSON = json.JSONEncoder(default=str, ensure_ascii=False)
"""How events.jsonl writes an entry: `json.dumps` with these options makes an encoder afresh for each of
a run's thousands of entries (7 us an entry where the one kept here takes 5)."""

_TRANSPORT_MARKS = {"retry": "↻", "held": "⏸", "released": "⏵", "dropped": "↯", "duplicated": "⧉",
                    "corrupted": "≠"}
"""How each transport event reads in the timeline."""


def _scalar(found: str) -> bool:
    """Whether a check that holds shows what was found: a state, an amount, a count ("hub deliveries failed: 0",
    where the name alone reads as if deliveries had failed), not a list of messages or a refusal's text."""
    return 0 < len(found) <= 24 and found.split() == [found]


def _write_file(path: str, data: bytes) -> None:
    """One file of `messages/`, in three system calls: `Path.write_bytes` wraps each in a buffered writer and
    costs twice the CPU (84 against 169 us for a message's two files), twice per message of a run."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
    finally:
        os.close(descriptor)


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json(content_type=None)


def _add_movements(merged: dict[str, dict[str, Any]], state: Mapping[str, Any]) -> None:
    """Each node knows its own offices' view of a movement, each page of it some records: a movement's full
    picture is their union."""
    for key, view in state.get("cats", {}).get("movements", {}).items():
        target = merged.setdefault(key, {"transit": {}})
        for name, value in view.items():
            if name == "transit":
                target["transit"].update(value)
            elif value is not None:
                target[name] = value


def _add_guarantees(merged: dict[str, dict[str, Any]], state: Mapping[str, Any]) -> None:
    """A later page's account replaces an earlier one's: the written row after the configured start."""
    merged.update(state.get("cats", {}).get("guarantees", {}))


def _nothing_at(reached: list[str], step: str, there: Any) -> str:
    """Where a path stops leading anywhere, and what is there instead: what a misspelt step was meant to be."""
    where = "/".join(reached) or "the top"
    if not isinstance(there, Mapping):
        return f"no such path: {where} is {shown(there)}, not a mapping with {step!r}"
    keys = sorted(map(str, there))
    listed = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "") or "none"
    return f"no such path: {where} has no {step!r}{suggest(step, keys)}; its keys: {listed}"


def _role_state(movement: Mapping[str, Any], role: str) -> str:
    """`transit` holds when every office of transit agrees; other roles are one value each."""
    if role == "transit":
        values = set(movement.get("transit", {}).values())
        return values.pop() if len(values) == 1 else (", ".join(sorted(values)) or "absent")
    return str(movement.get(role) or "absent")


def _is_subsequence(wanted: list[str], sequence: list[str]) -> bool:
    remaining = iter(sequence)
    return all(code in remaining for code in wanted)


def _arguments(step: Step) -> str:
    return " ".join(f"{key}={value}" for key, value in step.arguments.items())


def scenario_outline(scenario: Scenario) -> dict[str, Any]:
    """What a reader of the run needs of its scenario: parties, places, movements' routes, the baseline.

    It is the first entry of events.jsonl, so a run directory can be replayed (`caravan view`) and measured
    (`caravan figures`) without the scenario file and the sample files beside it. `countries` and `routes`
    cover generated traffic too, which the scenario's own text does not list.
    """
    raw = scenario.raw
    return {"scenario": scenario.name, "title": scenario.title, "start": _iso(scenario.start),
            "nodes": raw.get("nodes") or {}, "movements": raw.get("movements") or {},
            "baseline": raw.get("baseline"), "steps": len(scenario.steps),
            "countries": {node: spec.country for node, spec in scenario.nodes.items()},
            "routes": {key: {"departure": movement.get("departure"), "destination": movement.get("destination")}
                       for key, movement in scenario.movements.items()}}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

