"""Generated traffic (`traffic:`): deterministic from its seed, checked before it runs, and accounted for after."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from exchange.cli import main
from exchange.errors import ScenarioError
from nodes.customs import traffic
from nodes.language import check_scenario, load_scenario
from tests.traffic_scenarios import CORRIDOR, SOURCE, small_corridor, write


def plan(path: Path) -> list[tuple[str, str, str, str]]:
    scenario = load_scenario(path)
    return [(step.at.isoformat(), step.action, step.node, json.dumps(dict(step.arguments), sort_keys=True))
            for step in scenario.steps]


def test_the_same_seed_generates_the_same_movements_and_steps(tmp_path: Path) -> None:
    first = write(tmp_path, small_corridor(7, eastbound=30, broken=0.3), "a.yaml")
    second = write(tmp_path, small_corridor(7, eastbound=30, broken=0.3), "b.yaml")
    assert plan(first) == plan(second)
    assert load_scenario(first).movements == load_scenario(second).movements


def test_another_seed_generates_other_times_holders_and_controls(tmp_path: Path) -> None:
    seven = load_scenario(write(tmp_path, small_corridor(7, eastbound=30, broken=0.3), "a.yaml"))
    eight = load_scenario(write(tmp_path, small_corridor(8, eastbound=30, broken=0.3), "b.yaml"))
    assert [step.at for step in seven.steps] != [step.at for step in eight.steps]
    assert [m["holder"] for m in seven.movements.values()] != [m["holder"] for m in eight.movements.values()]


def test_generated_steps_interleave_with_scripted_ones_in_time_order(tmp_path: Path) -> None:
    scenario = load_scenario(CORRIDOR)
    times = [step.at for step in scenario.steps]
    assert times == sorted(times)
    scripted = [step for step in scenario.steps if step.note != "traffic"]
    assert [step.index for step in scripted] == list(range(len(scripted)))  # scripted steps keep their index
    assert {len(keys) for keys in scenario.traffic.values()} == {8, 4}
    first_scripted, last_scripted = scenario.steps.index(scripted[0]), scenario.steps.index(scripted[-1])
    between = scenario.steps[first_scripted:last_scripted]
    assert any(step.note == "traffic" for step in between)  # traffic runs while the scripted movement does
    movements = {step.arguments["movement"] for step in scenario.steps if step.note == "traffic"}
    assert movements == set(scenario.traffic["tashkent-poti"]) | set(scenario.traffic["poti-tashkent"])


def test_a_generated_movement_follows_its_flow(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, small_corridor(3, eastbound=40, broken=0.5)))
    actions = [step.action for step in scenario.steps if step.arguments.get("movement") == "tashkent-poti-00001"]
    assert actions == ["declare", "present_at_transit", "present_at_transit", "present_at_transit",
                       "notify_arrival", "record_control"]
    controls = [step.arguments["seals_ok"] for step in scenario.steps if step.action == "record_control"]
    assert 5 < controls.count(False) < 35  # about half of 40 arrivals find a broken seal
    holders = {movement["holder"] for movement in scenario.movements.values()}
    assert holders == {"UZ301234567001", "UZ305551112002"}  # aeo_share 0.5: AEO and standard holders both


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(departure="UZ000199"),
     "traffic.flows.tashkent-poti.departure", "in no node's offices"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(destination="AZ000210"),
     "traffic.flows.tashkent-poti.destination", "has no role DES"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(holders=["GE206789012"]),
     "traffic.flows.tashkent-poti.holders[0]", "not of 'uz'"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(legs=["1h", "2h"]),
     "traffic.flows.tashkent-poti.legs", "one per leg"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(seal_discrepancy=0.1),
     "traffic.flows.tashkent-poti.seal_discrepancy", "did you mean 'seal_discrepancies'"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(aeo_share=1.5),
     "traffic.flows.tashkent-poti.aeo_share", "less than or equal to 1"),
    (lambda s: s["expect"]["traffic"]["tashkent-poti"].update(departure={"WrittenOff": 1}),
     "expect.traffic.tashkent-poti.departure", "the flow has 2"),
    (lambda s: s["expect"].update(traffic={}, deliveries={"failed": 0}),
     "traffic.flows.tashkent-poti", "has no outcome under expect.traffic"),
    (lambda s: s["expect"]["traffic"].update(westbound={"departure": {"WrittenOff": 1}}),
     "expect.traffic.westbound", "no flow under traffic.flows"),
    # values `run` met with an internal error (exit 70) after `check` had called them valid
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(interval="0s"),
     "traffic.flows.tashkent-poti.interval", "a mean time above zero"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(legs=["0m"]),
     "traffic.flows.tashkent-poti.legs[0]", "a mean time above zero"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(clearance="0h"),
     "traffic.flows.tashkent-poti.clearance", "a mean time above zero"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(daily=[float("nan")] + [1] * 23),
     "traffic.flows.tashkent-poti.daily[0]", "finite number"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(interval="999999999d"),
     "traffic.flows.tashkent-poti", "past the calendar's end (year 9999)"),
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(legs=["99999999999d"]),
     "traffic.flows.tashkent-poti.legs[0]", "longer than any span of time"),
    (lambda s: s["expect"]["traffic"]["tashkent-poti"].update(departure={"WrittenOff": 3, "Released": -1}),
     "expect.traffic.tashkent-poti.departure.Released", "greater than or equal to 0"),
    # the hub refused every generated CC015C as schema-invalid, and the run stopped on "az holds no MRN"
    (lambda s: s["traffic"]["flows"]["tashkent-poti"].update(route=["UZB", "TM", "AZ", "GE"]),
     "traffic.flows.tashkent-poti.route[0]", "String should match pattern"),
    # a run could only fail it, every movement "absent" at transit
    (lambda s: (s["traffic"]["flows"]["tashkent-poti"].update(transit=[], legs=["2d"]),
                s["expect"]["traffic"]["tashkent-poti"].update(transit={"Passed": 2})),
     "expect.traffic.tashkent-poti.transit", "the flow declares none"),
    # a scripted movement under a generated movement's key or LRN: `check` called it valid, and the run let the
    # generated movement take its place, so a step failed mid-run ("not allowed in state Passed", exit 2)
    (lambda s: s.update(movements={"tashkent-poti-00002": SOURCE["movements"]["M1"]}),
     "movements.tashkent-poti-00002", "the key of a movement that traffic flow tashkent-poti generates"),
    (lambda s: s.update(movements={"M1": {**SOURCE["movements"]["M1"], "lrn": "UZTR010000002"}}),
     "movements.M1.lrn", "the LRN of a movement that traffic flow tashkent-poti generates"),
])
def test_check_refuses_a_traffic_block_that_does_not_fit(tmp_path: Path, change: Any, field: str, words: str) -> None:
    scenario = small_corridor()
    change(scenario)
    findings = check_scenario(write(tmp_path, scenario))
    assert any(finding.field == field and words in finding.message for finding in findings), findings


def _messages(run: Path) -> list[tuple[Any, ...]]:
    events = [json.loads(line) for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    return [(e["at"], e["sender"], e["recipient"], e["type"], e["correlation"], e["summary"])
            for e in events if e["kind"] == "message"]


def test_runs_with_the_same_seed_exchange_the_same_messages_and_another_seed_others(tmp_path: Path) -> None:
    path = write(tmp_path, small_corridor(11))
    assert main(["run", str(path), "--out", str(tmp_path / "one")]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "two")]) == 0
    one, two = _messages(tmp_path / "one"), _messages(tmp_path / "two")
    assert len(one) == 2 * 19 and one == two
    other = write(tmp_path, small_corridor(12), "other.yaml")
    assert main(["run", str(other), "--out", str(tmp_path / "three")]) == 0
    three = _messages(tmp_path / "three")
    assert sorted(m[3] for m in three) == sorted(m[3] for m in one)  # the same work ...
    assert three != one  # ... at other times, for other holders and goods


def test_a_traffic_run_fails_when_its_movements_end_elsewhere_than_stated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = small_corridor(5, broken=1.0)  # every seal broken, nobody resolves: no write-off
    path = write(tmp_path, scenario)
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 1
    out = capsys.readouterr().out
    assert "✗ traffic tashkent-poti: movements WrittenOff at departure  expected '2', got '0'" in out
    assert "DiscrepanciesPending 2" in out


@pytest.mark.parametrize("flow", [{"interval": "0s"}, {"legs": ["0s"]}, {"interval": "999999999d"}],
                         ids=["zero interval", "zero legs", "beyond the calendar"])
def test_run_refuses_traffic_it_cannot_generate_as_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             flow: dict[str, Any]) -> None:
    """These ran into ZeroDivisionError, gammavariate's ValueError and OverflowError: exit 70, internal error."""
    scenario = small_corridor()
    scenario["traffic"]["flows"]["tashkent-poti"].update(flow)
    assert main(["run", str(write(tmp_path, scenario)), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("caravan: ") and "traffic.flows.tashkent-poti" in err and "internal error" not in err


def test_draws_that_run_past_the_calendar_are_refused_not_an_overflow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check leaves the draws a margin around the means; were they to go past it anyway, loading says so."""
    monkeypatch.setattr(traffic, "CALENDAR_MARGIN", 0)
    scenario = small_corridor(eastbound=1)
    remaining = datetime(9999, 12, 31, tzinfo=timezone.utc) - datetime(2026, 3, 2, tzinfo=timezone.utc)
    legs = [f"{remaining.days // 2}d"]  # every leg half way to the calendar's end: their sum runs past it
    scenario["traffic"]["flows"]["tashkent-poti"].update(legs=legs)
    with pytest.raises(ScenarioError, match="its movements run past the calendar's end") as caught:
        load_scenario(write(tmp_path, scenario))
    assert caught.value.path == "traffic.flows.tashkent-poti"
