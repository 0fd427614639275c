"""The bench's generated scenarios stay complete, valid scenarios (the bench itself runs only by `make bench`)."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from bench.movements import FLOW, STEPS_PER_MOVEMENT, movement_key, write_movements_scenario
from exchange.cli import main
from nodes.language import load_scenario


def test_a_scenario_of_n_movements_has_n_distinct_movements_and_six_steps_each(tmp_path: Path) -> None:
    scenario = load_scenario(write_movements_scenario(3, tmp_path))
    assert len(scenario.movements) == 3 and len(scenario.steps) == 3 * STEPS_PER_MOVEMENT
    assert len({movement["lrn"] for movement in scenario.movements.values()}) == 3
    assert [step.action for step in scenario.steps if step.arguments["movement"] == movement_key(2)] == [
        "declare", "present_at_transit", "present_at_transit", "present_at_transit", "notify_arrival", "record_control"]
    assert scenario.expectations.traffic[FLOW]["departure"] == {"WrittenOff": 3}


def test_one_generated_movement_runs_to_write_off_through_the_runner(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = main(["run", str(write_movements_scenario(1, tmp_path)), "--out", str(out)])
    assert code == 0, stdout.getvalue()
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    [driver] = [event for event in events if event["kind"] == "driver"]
    assert driver["messages"] == 19, "a movement through three offices of transit to write-off is 19 messages"
