"""Event-driven settling: components answer a long poll when they go quiet, and the driver asks only what can
have changed (the hub, and the nodes it pushed to since their last quiet reading).

The unit tests drive `Activity` with a stand-in for a component's in-flight count; the HTTP tests run the
pilot's hub and nodes in this process. No test waits for a length of time: each waits for an answer.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange.activity import Activity
from exchange.clock import VirtualClock
from exchange.envelope import ENVELOPE_SUFFIX, Envelope
from exchange.pki import ScenarioPKI
from exchange.runner import Deployment, Driver, RunReport
from exchange.scenario import Expectations
from exchange.settle import Quiescence
from exchange.store import Database
from exchange.web import set_clock_handler
from nodes.families import describe_document
from nodes.language import load_scenario
from nodes.launch import local_deployment
from nodes.node import Node
from tests.traffic_scenarios import small_corridor, write

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"


class Work:
    """A stand-in for a component's in-flight count, changed the way a commit changes it."""

    def __init__(self, activity: Activity, count: int) -> None:
        self.activity = activity
        self.count = count
        self.reads = 0

    async def in_flight(self) -> int:
        self.reads += 1
        return self.count

    def finish(self, left: int = 0) -> None:
        self.count = left
        self.activity.touch()


async def _yield_to_others() -> None:
    """Let every ready task run until it waits (scheduling only: no time passes for the test)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_waiting_status_is_answered_once_the_last_work_is_done() -> None:
    activity = Activity()
    work = Work(activity, 2)
    waiting = asyncio.create_task(activity.when_quiet(work.in_flight, wait=60))
    await _yield_to_others()
    assert not waiting.done()
    work.finish(left=1)  # a change that leaves work in flight is looked at, not answered
    await _yield_to_others()
    assert not waiting.done() and work.reads == 2
    work.finish()
    reading = await waiting
    assert (reading.in_flight, reading.changes, reading.instance) == (0, 2, activity.instance)
    assert reading.as_dict() == {"version": [activity.instance, 2], "in_flight": 0, "quiet": True}


async def test_a_reading_during_which_something_changed_is_taken_again() -> None:
    activity = Activity()
    counts = iter([1, 0])

    async def in_flight() -> int:
        count = next(counts)
        if count == 1:
            activity.touch()  # a commit lands while the count is being taken
        return count

    reading = await activity.read(in_flight)
    assert (reading.changes, reading.in_flight) == (1, 0)


async def test_a_stopping_component_answers_its_waiting_readers_at_once() -> None:
    activity = Activity()
    work = Work(activity, 1)
    waiting = asyncio.create_task(activity.when_quiet(work.in_flight, wait=60))
    await _yield_to_others()
    activity.close()
    assert (await waiting).in_flight == 1


async def test_every_commit_moves_the_counter_and_a_rollback_does_not(tmp_path: Path) -> None:
    database = await Database.open(tmp_path / "store.sqlite", ["CREATE TABLE t (x INTEGER)"])
    activity = Activity()
    database.on_commit(activity.touch)
    try:
        async with database.transaction() as db:
            await db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError):
            async with database.transaction() as db:
                await db.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("abandoned")
        await database.fetch_all("SELECT * FROM t")
        assert (await activity.read(lambda: asyncio.sleep(0, result=0))).changes == 1
    finally:
        await database.close()


class Script:
    """Readings answered from a script, one list per component, recording who was asked in what order."""

    def __init__(self, **answers: list[dict[str, Any]]) -> None:
        self.answers = {component: iter(script) for component, script in answers.items()}
        self.asked: list[str] = []

    async def read(self, component: str, wait: float) -> dict[str, Any]:
        self.asked.append(component)
        return next(self.answers[component])


def _hub(instance: str = "h1", **pushes: int) -> dict[str, Any]:
    return {"quiet": True, "version": [instance, 1], "pushes": pushes}


QUIET = {"quiet": True, "version": ["n", 1]}
BUSY = {"quiet": False, "version": ["n", 1]}


async def test_a_node_quiet_before_a_push_reached_it_is_asked_again_before_the_settle_ends() -> None:
    quiescence = Quiescence("hub", ["a", "b", "c"])
    quiescence.observe({"hub": _hub(), "a": QUIET, "b": QUIET, "c": QUIET})
    quiescence.stir("a")
    # a acts and is quiet once its envelope is in; the hub, quiet too, has pushed it to b meanwhile
    script = Script(a=[QUIET, QUIET], b=[BUSY, QUIET], hub=[_hub(b=1), _hub(b=1, a=1), _hub(b=1, a=1)])
    await quiescence.settle(script.read, timeout=60)
    # b was busy at its first reading, its answer went to a: each is asked again; c, untouched, never
    assert script.asked == ["a", "hub", "b", "hub", "a", "b", "hub"]


async def test_a_restarted_hub_makes_every_node_be_asked_again() -> None:
    quiescence = Quiescence("hub", ["a", "b"])
    quiescence.observe({"hub": _hub(b=4), "a": QUIET, "b": QUIET})
    script = Script(a=[QUIET], b=[QUIET], hub=[_hub("h2"), _hub("h2")])
    await quiescence.settle(script.read, timeout=60)
    assert script.asked == ["hub", "a", "b", "hub"], "counts of another hub instance say nothing"


async def test_a_settle_with_nothing_stirred_asks_the_hub_alone() -> None:
    quiescence = Quiescence("hub", ["a", "b"])
    quiescence.observe({"hub": _hub(a=2), "a": QUIET, "b": QUIET})
    script = Script(hub=[_hub(a=2)])
    settled = await quiescence.settle(script.read, timeout=60)
    assert script.asked == ["hub"] and settled["a"] is QUIET


async def test_a_hub_still_delivering_when_its_long_poll_ran_out_keeps_the_settle_going() -> None:
    """Every node's reading is current, but the hub answered busy (its wait ran out with a delivery pending): the
    settle goes on until the hub answers quiet, and asks again the node its last push reached meanwhile."""
    quiescence = Quiescence("hub", ["a", "b"])
    quiescence.observe({"hub": _hub(a=1), "a": QUIET, "b": QUIET})
    script = Script(a=[QUIET], hub=[{**_hub(a=1), "quiet": False}, _hub(a=2), _hub(a=2)])
    settled = await quiescence.settle(script.read, timeout=60)
    assert script.asked == ["hub", "hub", "a", "hub"] and settled["hub"]["quiet"] is True


async def test_a_node_of_another_operator_is_asked_in_every_settle() -> None:
    """Nodes caravan does not run may start work on their own: their readings are never taken as current."""
    quiescence = Quiescence("hub", ["a", "sut"], always=["sut"])
    quiescence.observe({"hub": _hub(), "a": QUIET, "sut": QUIET})
    script = Script(sut=[QUIET, QUIET], hub=[_hub(), _hub()])
    await quiescence.settle(script.read, timeout=60)
    await quiescence.settle(script.read, timeout=60)
    assert script.asked == ["sut", "hub", "sut", "hub"]


# -- over HTTP ----------------------------------------------------------------------------------------------


@pytest.fixture
async def pilot(tmp_path: Path) -> AsyncIterator[tuple[Deployment, aiohttp.ClientSession]]:
    async with local_deployment(load_scenario(PILOT), tmp_path, tls=False) as deployment:
        async with aiohttp.ClientSession() as session:
            yield deployment, session


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_status_answers_with_a_version_and_refuses_a_bad_wait(
    pilot: tuple[Deployment, aiohttp.ClientSession],
) -> None:
    deployment, session = pilot
    status, quiet = await _get(session, f"{deployment.node_urls['ge']}/status?wait=30")
    assert status == 200 and quiet["quiet"] is True and quiet["in_flight"] == 0
    instance, changes = quiet["version"]
    for wait in ("soon", "61", "-1", "nan"):
        status, refused = await _get(session, f"{deployment.node_urls['ge']}/status?wait={wait}")
        assert status == 400 and refused["error"] == "bad-wait" and refused["path"] == "wait", wait
    async with session.put(f"{deployment.node_urls['ge']}/control/clock", json={"now": "2026-03-02T09:00:00Z"}) as r:
        moved = await r.json()
    assert moved["quiet"] is True and moved["version"][0] == instance and moved["version"][1] > changes
    assert deployment.restart is not None
    await deployment.restart("ge")
    _, restarted = await _get(session, f"{deployment.node_urls['ge']}/status")
    assert restarted["version"][0] != instance, "a restarted component never looks unchanged"


async def test_after_settling_nothing_is_pending_anywhere(
    pilot: tuple[Deployment, aiohttp.ClientSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A declaration fans out to three nodes and their answers come back; settling waits for all of it, though
    every node was quiet when the driver last read it and only the hub's count of pushes says who got work."""
    deployment, session = pilot
    process = Node._process

    async def slowly(node: Node, received: Any) -> None:
        await asyncio.sleep(0.05)  # a slow desk: a settle that ended early would find inbox rows left
        await process(node, received)

    monkeypatch.setattr(Node, "_process", slowly)
    urls = {"hub": deployment.hub_url, **deployment.node_urls}
    asked: list[str] = []

    async def read(component: str, wait: float) -> Any:
        asked.append(component)
        return (await _get(session, f"{urls[component]}/status?wait={wait}"))[1]

    body = {"do": "declare", "arguments": {"movement": "M1"}}
    moved = {}
    for component, url in urls.items():  # the hub first, as the driver moves clocks: its answer comes before theirs
        async with session.put(f"{url}/control/clock", json={"now": "2026-03-02T08:00:00Z"}) as response:
            moved[component] = await response.json()
    quiescence = Quiescence("hub", list(deployment.node_urls))
    quiescence.observe(moved)
    quiescence.stir("uz")
    async with session.post(f"{deployment.node_urls['uz']}/control/actions", json=body) as response:
        assert response.status == 200
    settled = await quiescence.settle(read, timeout=60)
    assert set(settled["hub"]) == {"last_delivery", "last_refusal", "last_transport", "pushes", "version",
                                   "in_flight", "quiet"}
    statuses = {component: (await _get(session, f"{url}/status"))[1] for component, url in urls.items()}
    hub = statuses["hub"]
    assert hub["pending"] == 0 and hub["delivered"] == hub["last_delivery"] == settled["hub"]["last_delivery"] >= 5
    for node in deployment.node_urls:
        assert (statuses[node]["inbox_pending"], statuses[node]["outbox_pending"]) == (0, 0), node
        assert statuses[node]["version"] == settled[node]["version"], "settled means nothing moves any more"
    _, deliveries = await _get(session, f"{deployment.hub_url}/deliveries")
    assert {d["state"] for d in deliveries["deliveries"]} == {"delivered"}
    assert asked[-1] == "hub" and asked.count("hub") <= 1 + hub["last_delivery"]
    assert len(asked) - asked.count("hub") <= 1 + hub["last_delivery"], "a node is asked once per push it got"


async def test_a_clock_move_is_still_only_when_it_commits_nothing_and_leaves_nothing_in_flight() -> None:
    """The driver skips settling after a move that every component calls still: so each must mean it."""
    activity = Activity()
    clock = VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    deadline_fires = False

    async def tick() -> None:
        if deadline_fires:
            activity.committed()  # a deadline that fired committed its decision

    work = Work(activity, 0)
    app = web.Application()
    app.router.add_put("/control/clock", set_clock_handler(clock, activity, work.in_flight, after=tick))
    async with TestServer(app) as server, aiohttp.ClientSession() as session:

        async def move(now: str) -> dict[str, Any]:
            async with session.put(server.make_url("/control/clock"), json={"now": now}) as response:
                answer: dict[str, Any] = await response.json()
                return answer

        assert (await move("2026-03-02T09:00:00Z"))["still"] is True
        deadline_fires = True
        assert (await move("2026-03-02T10:00:00Z"))["still"] is False
        deadline_fires, work.count = False, 1  # a released envelope: nothing committed, but in flight
        moved = await move("2026-03-02T11:00:00Z")
        assert (moved["still"], moved["quiet"], moved["in_flight"]) == (False, False, 1)


# -- the driver ---------------------------------------------------------------------------------------------


def request_bound(components: int, steps: int, messages: int) -> float:
    """What the driver may spend: two and a half requests per component for each step and each message."""
    return 2.5 * components * (steps + messages)


async def _drive(scenario_steps: int, out: Path) -> tuple[RunReport, int]:
    pilot = load_scenario(PILOT)
    scenario = replace(pilot, steps=pilot.steps[:scenario_steps], expectations=Expectations())
    async with local_deployment(scenario, out, tls=False) as deployment:
        report = await Driver(scenario, deployment, out, describe_document).run()
    return report, len(scenario.steps)


async def test_the_driver_asks_no_more_when_the_work_takes_longer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A driver polling on a timer asks more the longer a step takes; one waiting on events does not."""
    quick, steps = await _drive(4, tmp_path / "quick")
    process = Node._process

    async def slowly(node: Node, received: Any) -> None:
        await asyncio.sleep(0.2)  # a slow desk: each inbound message takes a fifth of a second longer
        await process(node, received)

    monkeypatch.setattr(Node, "_process", slowly)
    slow, _ = await _drive(4, tmp_path / "slow")
    assert slow.messages == quick.messages >= 10
    components = 4
    assert quick.requests <= request_bound(components, steps, quick.messages)
    assert slow.requests <= request_bound(components, steps, slow.messages)
    assert slow.requests <= quick.requests + 2 * components * steps, (quick.requests, slow.requests)


async def test_a_node_whose_clock_the_driver_skips_never_stamps_a_message_with_a_stale_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Generated traffic has no fault or drill: the driver moves only the hub's clock and those of nodes with a
    timer due; the others learn the time from the action or the push that sets them working."""
    scenario = load_scenario(write(tmp_path, small_corridor(11)))
    moved: list[str] = []
    call = Driver._call

    async def spy(driver: Driver, method: str, url: str, body: Any = None) -> dict[str, Any]:
        if url.endswith("/control/clock"):
            moved.append(url)
        return await call(driver, method, url, body)

    monkeypatch.setattr(Driver, "_call", spy)
    async with local_deployment(scenario, tmp_path / "run", tls=False) as deployment:
        report = await Driver(scenario, deployment, tmp_path / "run", describe_document).run()
    assert report.ok and report.messages == 2 * 19
    moves = len({step.at for step in scenario.steps})
    components = 1 + len(scenario.nodes)
    assert len(moved) < components * moves / 2, "most nodes' clocks were left alone"
    for line in (tmp_path / "run" / "events.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["kind"] == "message":
            sealed = (tmp_path / "run" / entry["file"].replace(".xml", ENVELOPE_SUFFIX)).read_bytes()
            created = Envelope.from_xml(sealed).created
            assert created.strftime("%Y-%m-%dT%H:%M:%SZ") == entry["at"], entry["file"]


async def test_a_time_that_is_no_time_is_refused_with_its_rule(pilot: tuple[Deployment, aiohttp.ClientSession]) -> None:
    deployment, session = pilot
    body = {"do": "declare", "arguments": {"movement": "M1"}, "now": "soon"}
    async with session.post(f"{deployment.node_urls['uz']}/control/actions", json=body) as response:
        answer = await response.json()
    assert response.status == 422 and (answer["rule"], answer["path"]) == ("bad-clock", "now"), answer
    async with session.post(f"{deployment.node_urls['uz']}/inbox?now=later", data=b"<x/>") as response:
        assert response.status == 422 and (await response.json())["rule"] == "bad-clock"
    async with session.get(f"{deployment.node_urls['uz']}/status?wait=1&events_after=first") as response:
        assert response.status == 400 and (await response.json())["error"] == "bad-query"


async def _declare_m1(session: aiohttp.ClientSession, node: str, key: str, query: str) -> tuple[int, Any]:
    """The pilot's first step, `declare M1` at 08:00 with idempotency `key`, posted to `node` with `query`."""
    body = {"do": "declare", "arguments": {"movement": "M1"}, "key": key, "now": "2026-03-02T08:00:00Z"}
    async with session.post(f"{node}/control/actions?{query}", json=body) as response:
        return response.status, await response.json()


async def test_an_action_with_wait_answers_once_the_node_is_quiet_with_its_reading(
    pilot: tuple[Deployment, aiohttp.ClientSession],
) -> None:
    deployment, session = pilot
    uz = deployment.node_urls["uz"]
    status, refused = await _declare_m1(session, uz, "wait-test#1", "wait=soon")
    assert status == 400 and (refused["error"], refused["path"]) == ("bad-wait", "wait")
    _, before = await _get(session, f"{uz}/status")
    assert before["last_event"] == 0, "a refused wait must not have carried out the action"

    status, answer = await _declare_m1(session, uz, "wait-test#1", "wait=30&events_after=0")

    reading = answer["reading"]
    assert status == 200 and reading["quiet"] is True and reading["in_flight"] == 0, answer
    _, status = await _get(session, f"{uz}/status")
    assert status["outbox_pending"] == 0, "quiet: the declaration left the node before the answer"
    assert reading["last_event"] == status["last_event"] > 0
    assert [event["id"] for event in reading["events"]] == list(range(1, status["last_event"] + 1))
    assert reading["version"][0] == status["version"][0]


async def test_an_action_sent_again_with_its_key_gets_the_first_answer_and_is_not_carried_out_twice(
    pilot: tuple[Deployment, aiohttp.ClientSession],
) -> None:
    """A driver that lost an answer (the node killed after its commit) sends the step again with the same key."""
    deployment, session = pilot
    answers, marks = [], []
    for _ in range(2):
        status, answer = await _declare_m1(session, deployment.node_urls["uz"], "again#1", "wait=30")
        assert status == 200, answer
        answers.append(answer["events"])
        marks.append((await _get(session, f"{deployment.node_urls['uz']}/status"))[1]["last_event"])
    assert answers[0] == answers[1]
    assert [(event["kind"], event["detail"]) for event in answers[0]] == [("status", "Declaration sent")]
    assert marks[0] == marks[1] > 0, "the second call committed nothing"


async def test_a_nodes_status_readings_search_its_queues_and_never_scan_them(tmp_path: Path) -> None:
    """A node's readings (`in_flight` after every commit while a driver waits, the marks, `GET /status`'s counts)
    stay cheap as the outbox grows: every plan searches, or scans only a partial index of the rows it counts.
    A full scan of the outbox reads every envelope's overflow pages: 17 ms at 5,900 rows."""
    pki = ScenarioPKI.generate(["uz"], valid_from=datetime(2026, 3, 1, tzinfo=timezone.utc))
    node = await Node.open("uz", tmp_path / "uz.sqlite", pki.trust_store(), pki.credentials("uz"),
                           VirtualClock(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)), "https://127.0.0.1:9", {})
    statements: list[str] = []
    node._db._reader.set_trace_callback(statements.append)
    try:
        await node.in_flight()
        await node.marks()
        await node.status()
    finally:
        node._db._reader.set_trace_callback(None)
        await node.stop()
    partial = ("USING INDEX inbox_waiting", "USING INDEX outbox_waiting", "USING INDEX outbox_failed")
    with sqlite3.connect(tmp_path / "uz.sqlite") as store:
        plans = [detail for statement in statements for *_, detail in store.execute(f"EXPLAIN QUERY PLAN {statement}")]
    store.close()
    scans = [plan for plan in plans
             if plan.startswith("SCAN") and plan != "SCAN CONSTANT ROW" and not plan.endswith(partial)]
    assert statements and not scans, plans
