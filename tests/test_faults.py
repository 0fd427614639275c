"""Fault scripting: the plan in and out of its windows, each fault over real HTTP, and the Red Bridge scenario.

The HTTP tests run the hub and the three pilot nodes in this process (plain HTTP on loopback) and use the
CATS traffic a declaration causes: UZ's declaration of M1 sends anticipated records to AZ (two CD050C) and
to GE (a CD050C and a CD001C); a presentation at an office of transit sends a CD118C to UZ. Every wait
is for quiet (nothing in flight), never for a length of time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from lxml import etree

from exchange.cli import main
from exchange.client import Answer, Forwarder, Outcome, QueueItem, Route
from exchange.envelope import Envelope
from exchange.errors import ScenarioError, TrustError
from exchange.faults import (
    Corrupt,
    Drop,
    Duplicate,
    Fault,
    FaultBook,
    FaultSwitch,
    Latency,
    Leg,
    Link,
    Offline,
    Partition,
    Reorder,
    fault_from_dict,
    fault_from_step,
    flip_byte,
    plan_to_json,
)
from exchange.pki import ScenarioPKI
from exchange.runner import Deployment, Driver
from exchange.settle import Quiescence
from exchange.signing import sign_document, verify_document
from nodes.configs import load_node_config
from nodes.customs.codec import encode
from nodes.families import describe_document
from nodes.language import load_scenario
from nodes.launch import local_deployment, open_node
from tests import cats_samples

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ROOT / "scenarios" / "faults-red-bridge.yaml"
T0 = datetime(2026, 3, 4, 19, 0, tzinfo=timezone.utc)
NODES = ("uz", "az", "ge")


def route(sender: str = "az", recipient: str = "uz", message_type: str = "CD118C", message_id: str = "m") -> Route:
    return Route(sender, recipient, message_type, message_id)


# -- the plan, in and out of its windows --------------------------------------------------------------------


def test_offline_holds_both_directions_only_inside_its_window() -> None:
    switch = FaultSwitch()
    switch.install([Offline("f", T0, T0 + timedelta(hours=2), node="ge")])
    assert switch.offline("ge", T0) is not None
    assert switch.offline("ge", T0 - timedelta(seconds=1)) is None
    assert switch.offline("ge", T0 + timedelta(hours=2)) is None
    assert switch.offline("az", T0) is None
    assert switch.hold(route("uz", "ge"), T0, T0) is not None  # the hub holds pushes to it
    assert switch.hold(route("ge", "uz"), T0, T0) is None  # what already reached the hub may go


def test_partition_holds_the_pair_both_ways_and_nothing_else() -> None:
    switch = FaultSwitch()
    switch.install([Partition("f", T0, None, nodes=("az", "ge"))])
    assert switch.hold(route("az", "ge"), T0, T0) is not None
    assert switch.hold(route("ge", "az"), T0, T0) is not None
    for other in (route("az", "uz"), route("uz", "ge"), route("ge", "ge")):
        assert switch.hold(other, T0, T0) is None
    assert switch.hold(route("az", "ge"), T0, T0 - timedelta(minutes=1)) is None


def test_latency_holds_each_message_until_accepted_plus_delay() -> None:
    switch = FaultSwitch()
    switch.install([Latency("f", T0, T0 + timedelta(hours=1), link=Link("az", "uz", "CD118C"),
                            delay=timedelta(minutes=30))])
    accepted = T0 + timedelta(minutes=10)
    assert switch.hold(route(), accepted, accepted + timedelta(minutes=29)) is not None
    assert switch.hold(route(), accepted, accepted + timedelta(minutes=30)) is None
    assert switch.hold(route(message_type="CD006C"), accepted, accepted) is None
    assert switch.hold(route(), accepted, T0 + timedelta(hours=1)) is None  # the window closed: released


def test_reorder_captures_the_next_count_messages_of_its_link() -> None:
    switch = FaultSwitch()
    switch.install([Reorder("f", T0, None, link=Link("az", "uz"), count=1)])
    assert switch.reordered(1, route(), T0, capture=False) is None  # status never captures
    assert switch.reordered(1, route(), T0, capture=True) is not None
    assert switch.reordered(1, route(), T0, capture=False) is not None
    assert switch.reordered(2, route(), T0, capture=True) is None  # the count is used up
    assert switch.reordered(3, route("ge", "uz"), T0, capture=True) is None
    switch.install([])
    assert switch.reordered(1, route(), T0, capture=False) is None


@pytest.mark.parametrize("kind", [Drop, Duplicate, Corrupt])
def test_counted_faults_hit_the_next_n_transmissions_of_their_leg(kind: type[Drop]) -> None:
    switch = FaultSwitch()
    fault = kind("f", T0, T0 + timedelta(hours=1), link=Link("az", "uz"), count=2, leg=Leg.PUSH)
    switch.install([fault])
    assert switch.take(Leg.SUBMIT, route(), T0) is None
    assert switch.take(Leg.PUSH, route("ge", "uz"), T0) is None
    assert switch.take(Leg.PUSH, route(), T0 - timedelta(minutes=1)) is None
    assert switch.take(Leg.PUSH, route(), T0) == fault
    assert switch.take(Leg.PUSH, route(), T0) == fault
    assert switch.take(Leg.PUSH, route(), T0) is None
    switch.install([fault])  # the driver re-sends the plan: a spent fault stays spent
    assert switch.take(Leg.PUSH, route(), T0) is None


def test_the_switch_survives_a_restart_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "hub.sqlite"
    first = FaultSwitch.beside(database)
    first.install([Drop("f", T0, None, link=Link("az", "uz"), count=1), Offline("g", T0, None, node="ge")])
    assert first.take(Leg.SUBMIT, route(), T0) is not None
    again = FaultSwitch.beside(database)
    assert again.plan == first.plan
    assert again.take(Leg.SUBMIT, route(), T0) is None
    assert again.offline("ge", T0) is not None


def test_step_syntax_reads_every_kind_and_round_trips_through_json() -> None:
    steps: list[tuple[str, dict[str, Any]]] = [
        ("ge", {"kind": "offline", "for": "2h"}),
        ("", {"kind": "partition", "between": ["az", "ge"], "for": "30m"}),
        ("", {"kind": "latency", "from": "az", "to": "uz", "delay": "15m"}),
        ("", {"kind": "reorder", "from": "az", "to": "uz", "count": 2}),
        ("", {"kind": "drop", "from": "az", "to": "uz"}),
        ("", {"kind": "duplicate", "from": "ge", "to": "ge", "type": "CC007C"}),
        ("", {"kind": "corrupt", "from": "ge", "to": "uz", "leg": "push", "count": 3}),
    ]
    faults = [fault_from_step(f"s{n}", T0, node, arguments, NODES) for n, (node, arguments) in enumerate(steps)]
    assert faults[0] == Offline("s0", T0, T0 + timedelta(hours=2), node="ge")
    assert faults[6] == Corrupt("s6", T0, None, link=Link("ge", "uz"), count=3, leg=Leg.PUSH)
    for fault in faults:
        assert fault_from_dict(json.loads(json.dumps(plan_to_json([fault])))["faults"][0]) == fault


@pytest.mark.parametrize(
    ("node", "arguments", "complaint"),
    [
        ("", {"kind": "flood"}, "unknown"),
        ("xx", {"kind": "offline"}, "not one of the nodes"),
        ("", {"kind": "drop", "from": "az", "to": "uz", "times": 2}, "takes no ['times']"),
        ("", {"kind": "drop", "from": "az", "to": "uz", "count": 0}, "at least 1"),
        ("", {"kind": "drop", "from": "az", "to": "uz", "leg": "sideways"}, "submit"),
        ("", {"kind": "latency", "from": "az", "to": "uz"}, "needs a delay"),
        ("", {"kind": "partition", "between": ["az", "az"]}, "two different nodes"),
        ("ge", {"kind": "offline", "for": "two hours"}, "not a duration"),
        # an internal error (OverflowError) in caravan check, and a window of no time at all
        ("ge", {"kind": "offline", "for": "99999999d"}, "runs past the calendar's end"),
        ("ge", {"kind": "offline", "for": "0s"}, "a fault lasts some time"),
    ],
)
def test_a_mistyped_fault_step_is_refused_with_a_reason(node: str, arguments: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ScenarioError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        fault_from_step("s", T0, node, arguments, NODES)


def test_a_fault_window_past_the_calendar_is_found_at_its_own_step_not_the_start(tmp_path: Path) -> None:
    """`check` built each fault at the scenario's start: a six-hour window opened on 31 December 9999 passed it, and
    the run could not build it."""
    last = "  - {at: +1m, do: heal, note: the plan is cleared; every counted fault was spent and the window is over}\n"
    text = FAULTS.read_text()
    assert last in text
    broken = tmp_path / "late.yaml"
    broken.write_text(text.replace(last, last + "  - {at: 9999-12-31T20:00:00Z, do: fault, kind: offline, node: ge, "
                                               "for: 6h}\n"))
    with pytest.raises(ScenarioError, match=r"steps\[\d+\].*for '6h' runs past the calendar's end"):
        load_scenario(broken)


def test_a_mistyped_fault_step_stops_the_scenario_before_it_runs(tmp_path: Path) -> None:
    text = FAULTS.read_text().replace("kind: offline, node: ge, for: 6h", "kind: offline, node: ge, for: 6 hours")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    with pytest.raises(ScenarioError, match=r"steps\[3\].*not a duration"):
        load_scenario(broken)


@pytest.mark.parametrize(("scenario", "written", "mistyped", "where"), [
    ("faults-red-bridge.yaml", "type: CC007C, note: the arrival", "type: CC007X, note: the arrival",
     r"steps\[9\]\.type"),
    ("faults-red-bridge.yaml", "kind: corrupt, from: ge, to: uz, type: CD018C", "kind: corrupt, from: ge, to: uz, "
     "type: CD18C", r"steps\[11\]\.type"),
    ("security-drills.yaml", "kind: tamper, message: {type: CD001C}", "kind: tamper, message: {type: CD01C}",
     r"steps\[1\]\.message\.type"),
])
def test_a_message_type_no_schema_declares_is_refused_where_a_step_selects_by_it(
    tmp_path: Path, scenario: str, written: str, mistyped: str, where: str
) -> None:
    """A fault or a drill on a type no envelope can carry would never fire, and the run would pass untried."""
    text = (ROOT / "scenarios" / scenario).read_text()
    assert written in text
    broken = tmp_path / scenario
    broken.write_text(text.replace(written, mistyped))
    with pytest.raises(ScenarioError, match=where + r".*no schema in schemas/ declares that message type"):
        load_scenario(broken)


def test_the_book_heals_what_a_step_names_and_announces_each_window_end_once() -> None:
    book = FaultBook()
    offline = fault_from_step("a", T0, "ge", {"kind": "offline", "for": "1h"}, NODES)
    drop = fault_from_step("b", T0, "", {"kind": "drop", "from": "az", "to": "uz"}, NODES)
    book.install(offline, {"kind": "offline", "node": "ge", "for": "1h"})
    book.install(drop, {"kind": "drop", "from": "az", "to": "uz"})
    assert book.ended(T0 + timedelta(minutes=59)) == []
    assert book.ended(T0 + timedelta(hours=2)) == [offline]
    assert book.ended(T0 + timedelta(hours=3)) == []
    assert book.heal({"kind": "drop"}) == [drop]
    assert book.heal({}) == [offline] and book.plan == ()


def test_a_flipped_byte_breaks_the_digest_and_nothing_else() -> None:
    pki = ScenarioPKI.generate(["uz"], valid_from=datetime(2026, 3, 1, tzinfo=timezone.utc))
    document = sign_document(encode(cats_samples.aar()), pki.credentials("uz"))
    damaged, offset = flip_byte(document)
    assert sum(a != b for a, b in zip(document, damaged, strict=True)) == 1 and damaged[offset] != document[offset]
    etree.fromstring(damaged)  # still well-formed
    with pytest.raises(TrustError) as refused:
        verify_document(damaged, pki.trust_store(), at=T0)
    assert refused.value.rule == "signature-digest"


# -- the forwarder's one resend after an integrity refusal --------------------------------------------------


async def _forward(answers: list[Answer]) -> list[Answer]:
    """Run a forwarder over one queued item against scripted answers; return what it settled with."""
    settled: list[Answer] = []
    done = asyncio.Event()
    attempts = 0

    async def next_item() -> QueueItem | None:
        return None if done.is_set() else QueueItem(7, "http://unused", b"<e/>", attempts)

    async def settle(item: QueueItem, answer: Answer) -> None:
        nonlocal attempts
        attempts += 1
        settled.append(answer)
        if answer.outcome is not Outcome.UNREACHABLE or len(settled) == len(answers):
            done.set()

    async def send(item: QueueItem) -> Answer:
        return answers[len(settled)]

    async with aiohttp.ClientSession() as session:
        forwarder = Forwarder(session, next_item, settle, max_attempts=10, base_delay=0, send=send)
        task = asyncio.create_task(forwarder.run())
        await done.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return settled


async def test_an_integrity_refusal_is_retried_exactly_once() -> None:
    damaged = Answer(Outcome.REFUSED, 403, {"rule": "signature-digest"})
    settled = await _forward([damaged, damaged])
    assert [answer.outcome for answer in settled] == [Outcome.UNREACHABLE, Outcome.REFUSED]
    settled = await _forward([damaged, Answer(Outcome.ACCEPTED, 202, {})])
    assert [answer.outcome for answer in settled] == [Outcome.UNREACHABLE, Outcome.ACCEPTED]


async def test_any_other_refusal_stays_final() -> None:
    settled = await _forward([Answer(Outcome.REFUSED, 403, {"rule": "sender-mismatch"})])
    assert [answer.outcome for answer in settled] == [Outcome.REFUSED]


# -- each fault over real HTTP ------------------------------------------------------------------------------


@dataclass
class Lab:
    """The hub and the pilot's nodes in this process, driven as the scenario driver drives them."""

    deployment: Deployment
    session: aiohttp.ClientSession
    work: Path
    now: datetime = T0

    @property
    def urls(self) -> dict[str, str]:
        return {"hub": self.deployment.hub_url, **self.deployment.node_urls}

    async def call(self, method: str, component: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, f"{self.urls[component]}{path}", json=body) as response:
            answer = await response.json(content_type=None)
            assert response.status < 300, answer
            return answer

    async def install(self, *faults: Fault) -> None:
        for component in self.urls:
            await self.call("PUT", component, "/control/faults", plan_to_json(faults))

    async def at(self, moment: datetime) -> None:
        self.now = moment
        for component in self.urls:
            await self.call("PUT", component, "/control/clock", {"now": moment.isoformat()})
        await self.quiet()

    async def act(self, node: str, action: str, **arguments: Any) -> None:
        await self.call("POST", node, "/control/actions", {"do": action, "arguments": arguments})
        await self.quiet()

    async def quiet(self) -> None:
        """Until nothing is in flight (held envelopes are not), waited for as the scenario driver waits."""

        async def read(component: str, wait: float) -> Any:
            return await self.call("GET", component, f"/status?wait={wait}")

        nodes = [component for component in self.urls if component != "hub"]
        await Quiescence("hub", nodes).settle(read, timeout=60)

    async def deliveries(self, message_type: str, recipient: str) -> list[dict[str, Any]]:
        listing = await self.call("GET", "hub", "/deliveries")
        return [d for d in listing["deliveries"] if (d["message_type"], d["recipient"]) == (message_type, recipient)]

    async def transport(self, component: str) -> list[str]:
        events = (await self.call("GET", component, "/transport"))["events"]
        return [f"{event['event']} {event['message_type']}" for event in events]

    def inbox(self, node: str) -> list[tuple[str, str]]:
        """(sender, message type) of every envelope the node took, in the order it took them."""
        with contextlib.closing(sqlite3.connect(self.work / "db" / f"{node}.sqlite")) as db:
            return db.execute("SELECT sender, message_type FROM inbox ORDER BY id").fetchall()


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    async with local_deployment(load_scenario(FAULTS), tmp_path, tls=False) as deployment:
        async with aiohttp.ClientSession() as session:
            lab = Lab(deployment, session, tmp_path)
            await lab.at(T0)
            yield lab


async def _declare_m1(lab: Lab) -> None:
    await lab.act("uz", "declare", movement="M1")


async def _crossings(lab: Lab, first: Callable[[], Awaitable[None]] | None = None) -> None:
    """M1 declared, then AZ and GE each report a crossing to UZ (two links into one recipient)."""
    await _declare_m1(lab)
    if first is not None:
        await first()
    await lab.act("az", "present_at_transit", movement="M1", office="AZ000210")
    await lab.act("ge", "present_at_transit", movement="M1", office="GE000110")


async def test_a_dropped_transmission_is_retried_and_delivered_once(lab: Lab) -> None:
    await lab.install(Drop("d1", T0, None, link=Link("uz", "ge", "CD050C"), leg=Leg.SUBMIT),
                      Drop("d2", T0, None, link=Link("uz", "ge", "CD001C"), leg=Leg.PUSH))
    await _declare_m1(lab)
    [atr] = await lab.deliveries("CD050C", "ge")
    [aar] = await lab.deliveries("CD001C", "ge")
    assert (atr["state"], atr["attempts"]) == ("delivered", 1)  # the node's first submission was the lost one
    assert (aar["state"], aar["attempts"]) == ("delivered", 2)
    assert {"dropped CD050C", "retry CD050C"} <= set(await lab.transport("uz"))
    assert {"dropped CD001C", "retry CD001C"} <= set(await lab.transport("hub"))
    assert sorted(lab.inbox("ge")) == [("uz", "CD001C"), ("uz", "CD050C")]


async def test_a_duplicate_is_absorbed_by_the_hub_and_by_the_node(lab: Lab) -> None:
    await lab.install(Duplicate("d1", T0, None, link=Link("uz", "ge", "CD050C"), leg=Leg.SUBMIT),
                      Duplicate("d2", T0, None, link=Link("uz", "ge", "CD001C"), leg=Leg.PUSH))
    await _declare_m1(lab)
    assert (await lab.call("GET", "hub", "/status"))["duplicates_absorbed"] == 1
    assert len(await lab.deliveries("CD050C", "ge")) == 1
    assert sorted(lab.inbox("ge")) == [("uz", "CD001C"), ("uz", "CD050C")]
    events = (await lab.call("GET", "hub", "/transport"))["events"]
    assert any(e["event"] == "duplicated" and "ge absorbed the copy" in e["detail"] for e in events)


async def test_a_corrupted_transmission_is_refused_then_delivered_from_the_intact_copy(lab: Lab) -> None:
    await lab.install(Corrupt("c1", T0, None, link=Link("uz", "ge", "CD050C"), leg=Leg.SUBMIT),
                      Corrupt("c2", T0, None, link=Link("uz", "ge", "CD001C"), leg=Leg.PUSH))
    await _declare_m1(lab)
    refusals = (await lab.call("GET", "hub", "/refusals"))["refusals"]
    assert [(r["rule"], r["message_type"]) for r in refusals] == [("signature-digest", "CD050C")]
    [atr] = await lab.deliveries("CD050C", "ge")
    [aar] = await lab.deliveries("CD001C", "ge")
    assert atr["state"] == "delivered" and (aar["state"], aar["attempts"]) == ("delivered", 2)
    assert sorted(lab.inbox("ge")) == [("uz", "CD001C"), ("uz", "CD050C")]
    assert {"corrupted CD001C", "retry CD001C"} <= set(await lab.transport("hub"))


async def test_a_second_corruption_of_the_same_message_is_final(lab: Lab) -> None:
    await lab.install(Corrupt("c", T0, None, link=Link("uz", "ge", "CD001C"), count=2, leg=Leg.PUSH))
    await _declare_m1(lab)
    [aar] = await lab.deliveries("CD001C", "ge")
    assert (aar["state"], aar["attempts"]) == ("failed", 2)
    assert "changed after it was signed" in aar["last_error"]
    assert ("uz", "CD001C") not in lab.inbox("ge")


async def test_an_offline_node_works_locally_and_its_queues_drain_when_it_returns(lab: Lab) -> None:
    await _declare_m1(lab)
    await lab.install(Offline("off", T0, T0 + timedelta(hours=2), node="ge"))
    await lab.act("ge", "present_at_transit", movement="M1", office="GE000110")
    assert (await lab.call("GET", "ge", "/status"))["outbox_held"] == 1
    assert await lab.deliveries("CD118C", "uz") == []
    await lab.act("uz", "declare", movement="M2")
    assert (await lab.call("GET", "hub", "/status"))["held"] == 2  # M2's CD050C and CD001C for GE
    assert all(d["state"] == "delivered" for d in await lab.deliveries("CD050C", "az"))
    assert {"held CD118C"} <= set(await lab.transport("ge"))
    await lab.at(T0 + timedelta(hours=2))
    [crossing] = await lab.deliveries("CD118C", "uz")
    assert crossing["state"] == "delivered"
    assert all(d["state"] == "delivered" for d in await lab.deliveries("CD001C", "ge"))
    assert (await lab.call("GET", "hub", "/status"))["held"] == 0
    assert {"released CD001C", "released CD050C"} <= set(await lab.transport("hub"))


async def test_a_restarted_node_still_knows_it_is_offline_and_drains_when_the_window_ends(lab: Lab) -> None:
    await _declare_m1(lab)
    await lab.install(Offline("off", T0, T0 + timedelta(hours=1), node="ge"))
    await lab.act("ge", "present_at_transit", movement="M1", office="GE000110")
    assert lab.deployment.restart is not None
    await lab.deployment.restart("ge")  # no plan is sent again: it is kept beside the node's store
    assert (await lab.call("GET", "ge", "/status"))["outbox_held"] == 1
    await lab.at(T0 + timedelta(hours=1))
    [crossing] = await lab.deliveries("CD118C", "uz")
    assert crossing["state"] == "delivered"


async def test_a_partition_holds_only_the_partitioned_pair(lab: Lab) -> None:
    await _crossings(lab, first=lambda: lab.install(Partition("p", T0, None, nodes=("az", "uz"))))
    assert lab.inbox("uz")[-1] == ("ge", "CD118C")  # GE's report went through
    assert ("az", "CD118C") not in lab.inbox("uz")
    assert (await lab.call("GET", "hub", "/status"))["held"] == 1
    await lab.install()  # healed
    await lab.quiet()
    assert lab.inbox("uz")[-1] == ("az", "CD118C")


async def test_latency_on_one_link_lets_another_link_overtake_it(lab: Lab) -> None:
    await lab.install(Latency("l", T0, None, link=Link("az", "uz"), delay=timedelta(minutes=30)))
    await _crossings(lab)
    assert lab.inbox("uz")[-1] == ("ge", "CD118C")
    await lab.at(T0 + timedelta(minutes=30))
    assert lab.inbox("uz")[-2:] == [("ge", "CD118C"), ("az", "CD118C")]


async def test_reorder_holds_a_link_back_until_later_traffic_has_arrived(lab: Lab) -> None:
    await lab.install(Reorder("r", T0, None, link=Link("az", "uz"), count=1))
    await _crossings(lab)
    assert lab.inbox("uz")[-2:] == [("ge", "CD118C"), ("az", "CD118C")]
    [az] = [d for d in await lab.deliveries("CD118C", "uz") if d["sender"] == "az"]
    assert (az["state"], az["attempts"]) == ("delivered", 1)  # held, not retried


# -- the scenario -------------------------------------------------------------------------------------------


def test_red_bridge_scenario_exits_zero_and_its_timeline_shows_faults_and_retries(tmp_path: Path) -> None:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["run", str(FAULTS), "--out", str(tmp_path)])
    timeline = stdout.getvalue()
    assert code == 0, timeline
    assert "⚡ fault offline ge until 2026-03-05 01:00" in timeline
    assert "⚡ offline ge: over" in timeline
    assert "⟳ hub stops and starts again" in timeline
    for mark in ("↯ hub: CD118C az→uz lost", "↻ hub: retries CD118C", "⏸ ge: holds CD118C", "⏵ hub: releases",
                 "⧉ ge: CC007C ge→ge sent twice: hub absorbed the copy", "≠ ge: CD018C", "↻ ge: retries CD018C"):
        assert mark in timeline, mark
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert {"fault", "transport"} <= {event["kind"] for event in events}
    assert all(event["holds"] for event in events if event["kind"] == "expectation")


async def test_restart_needs_a_deployment_that_can_restart(lab: Lab, tmp_path: Path) -> None:
    """Attached components were started by someone else: the driver says so instead of guessing."""
    scenario = load_scenario(FAULTS)
    restart = next(step for step in scenario.steps if step.action == "restart")
    attached = replace(lab.deployment, restart=None)
    driver = Driver(replace(scenario, steps=(restart,)), attached, tmp_path / "run", describe_document)
    with pytest.raises(ScenarioError, match="restart needs components this run started"):
        await driver.run()


# -- a node's backlog -----------------------------------------------------------------------------------------


async def test_a_restarted_node_decides_its_waiting_deliveries_in_the_order_they_arrived(lab: Lab) -> None:
    """A backlog is decided oldest first. UZ, the office of departure of M1, is cut off while M1 crosses AZ and GE,
    arrives and is controlled: the hub holds the five notifications for it. They are filed in UZ's inbox as the
    node files a delivery that has to wait (`received`), in the order the hub took them: the rows a node stopped
    before deciding leaves behind. The node does not look at its inbox until something wakes it; restarted, it
    decides on the rows it finds. In arrival order M1 passes its three offices in turn, arrives and is written
    off; in any other, a crossing is recorded out of turn or a notification comes before the movement is ready
    for it (CD018C before CD006C is refused, 92 out of sequence)."""
    await _declare_m1(lab)
    await lab.install(Offline("off", T0, None, node="uz"))
    for office in ("AZ000210", "AZ000310"):
        await lab.act("az", "present_at_transit", movement="M1", office=office)
    await lab.act("ge", "present_at_transit", movement="M1", office="GE000110")
    await lab.act("ge", "notify_arrival", movement="M1")
    await lab.act("ge", "record_control", movement="M1", seals_ok=True)
    held = [Envelope.from_xml(base64.b64decode(d["envelope"]))
            for d in (await lab.call("GET", "hub", "/deliveries?envelopes=base64"))["deliveries"]
            if (d["recipient"], d["state"]) == ("uz", "pending")]
    assert [envelope.message_type for envelope in held] == ["CD118C", "CD118C", "CD118C", "CD006C", "CD018C"]
    before = (await lab.call("GET", "uz", "/status"))["last_event"]
    with contextlib.closing(sqlite3.connect(lab.work / "db" / "uz.sqlite")) as db, db:
        db.executemany(
            "INSERT INTO inbox (sender, message_id, message_type, document, state, received_at) "
            "VALUES (?, ?, ?, ?, 'received', ?)",
            [(e.sender, e.message_id, e.message_type, e.document, lab.now.strftime("%Y-%m-%dT%H:%M:%SZ"))
             for e in held])
    assert lab.deployment.restart is not None
    await lab.deployment.restart("uz")
    await lab.quiet()
    events = (await lab.call("GET", "uz", f"/events?after={before}"))["events"]
    assert [(event["kind"], event["detail"]) for event in events] == [
        *[("state", "Released → Released on CD118C")] * 3,
        ("state", "Released → Arrived on CD006C"),
        ("state", "Arrived → WrittenOff on CD018C A1"),
    ]
    assert (await lab.call("GET", "uz", "/state"))["cats"]["movements"]["M1"]["departure"] == "WrittenOff"
    with contextlib.closing(sqlite3.connect(lab.work / "db" / "uz.sqlite")) as db:
        filed = db.execute("SELECT message_id, state FROM inbox ORDER BY id DESC LIMIT 5").fetchall()
        [(record,)] = db.execute("SELECT data FROM records WHERE kind = 'departure'").fetchall()
    assert filed[::-1] == [(envelope.message_id, "processed") for envelope in held]
    assert json.loads(record)["passed_offices"] == ["AZ000210", "AZ000310", "GE000110"], "the crossings in order"


# -- a node's outbox gives up -------------------------------------------------------------------------------


BUSY = {"error": "unavailable", "message": "the hub is busy"}


@dataclass
class BusyHub:
    """A stand-in hub that answers 503 to the first message a node submits, every time it comes, and takes
    every other; the first answer waits for `queued`, so the node's later messages queue behind the first."""

    queued: asyncio.Event = field(default_factory=asyncio.Event)
    submitted: list[str] = field(default_factory=list)  # message ids, one a submission

    def application(self) -> web.Application:
        async def envelopes(request: web.Request) -> web.Response:
            message_id = Envelope.from_xml(await request.read()).message_id
            self.submitted.append(message_id)
            if message_id != self.submitted[0]:
                return web.json_response({"state": "pending"}, status=202)
            await self.queued.wait()
            return web.json_response(BUSY, status=503)

        app = web.Application()
        app.router.add_post("/envelopes", envelopes)
        return app


async def test_a_nodes_outbox_gives_up_on_a_message_after_its_last_attempt_and_sends_the_next(tmp_path: Path) -> None:
    """A node retries a submission the hub cannot take (5xx) up to the limit of attempts its config sets
    (`retry: {max_attempts: 3}`), then marks the row failed with the hub's last answer as its error and a
    `not-sent` event (the hub refused nothing), and does not send it again; its outbox goes on: the message
    queued behind it, which never overtakes it while it is retried, is sent."""
    scenario = load_scenario(FAULTS)
    assert main(["prepare", str(FAULTS), "--out", str(tmp_path), "--plain-http"]) == 0
    config = tmp_path / "uz.yaml"
    hub = BusyHub()
    async with TestServer(hub.application()) as hub_server:
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
        config.write_text(yaml.safe_dump({**settings, "hub": str(hub_server.make_url("")).rstrip("/"),
                                          "retry": {"max_attempts": 3}}), encoding="utf-8")
        node = await open_node(load_node_config(config), scenario)  # as `caravan node --config` opens it
        store = load_node_config(config).database
        try:
            async with TestServer(node.application()) as node_server, aiohttp.ClientSession() as session:

                async def call(method: str, path: str, body: Any = None) -> Any:
                    async with session.request(method, node_server.make_url(path), json=body) as response:
                        assert response.status < 300
                        return await response.json()

                for movement in ("M1", "M2"):  # each declaration queues its CC015C for the office of departure
                    await call("POST", "/control/actions", {"do": "declare", "arguments": {"movement": movement}})
                hub.queued.set()
                await call("GET", "/status?wait=30")
                await call("PUT", "/control/faults", {"faults": []})  # wakes the outbox: a failed row stays failed
                quiet = await call("GET", "/status?wait=30")
                status = await call("GET", "/status")
                events = (await call("GET", "/events"))["events"]
                transport = (await call("GET", "/transport"))["events"]
        finally:
            await node.stop()
    first, second = hub.submitted[0], hub.submitted[-1]
    assert hub.submitted == [first] * 3 + [second], "three attempts, then the next row"
    assert quiet["quiet"] and (status["outbox_pending"], status["outbox_failed"]) == (0, 1), status
    with contextlib.closing(sqlite3.connect(store)) as db:
        rows = db.execute("SELECT message_id, state, attempts, last_error FROM outbox ORDER BY id").fetchall()
    assert rows == [(first, "failed", 3, json.dumps(BUSY)), (second, "sent", 1, None)]
    assert [(event["kind"], event["reference"], event["detail"], event["data"]) for event in events[2:]] == [
        ("not-sent", first, f"gave up sending CC015C {first} after 3 attempts; the hub's last answer: HTTP 503: "
                            "the hub is busy", BUSY)]
    assert [event["detail"] for event in transport] == [
        "retries CC015C uz→uz (attempt 2)", "retries CC015C uz→uz (attempt 3)"]
