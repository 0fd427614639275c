"""`caravan figures RUN_DIR`: corridor figures from a real run's events, as tables, CSV, Markdown and a PNG."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from exchange.cli import main
from nodes.customs.figures import Distribution, corridor_figures
from tests.traffic_scenarios import SOURCE, small_corridor, write

MOVEMENTS = 4


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run of four generated movements Tashkent → Poti, one with a broken seal."""
    tmp_path = tmp_path_factory.mktemp("figures")
    scenario = small_corridor(21, eastbound=MOVEMENTS, broken=0.3, expect={"destination": {"GoodsReleased": 4}})
    out = tmp_path / "run"
    assert main(["run", str(write(tmp_path, scenario)), "--out", str(out)]) == 0
    return out


def _steps(run_dir: Path) -> list[dict[str, object]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [event for event in map(json.loads, lines) if event["kind"] == "step"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_figures_prints_the_tables_and_writes_csv_markdown_and_a_png(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["figures", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for title in ("End to end, per corridor", "Border crossings, per country pair", "Legs and time at offices"):
        assert title in out
    assert f"{MOVEMENTS} movements, {MOVEMENTS} controlled at destination" in out
    figures = run_dir / "figures"
    png = (figures / "figures.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    markdown = (figures / "figures.md").read_text(encoding="utf-8")
    assert "| UZ-AZ-GE | end to end | 4 |" in markdown and "![" in markdown


def test_end_to_end_times_are_the_time_from_declaration_to_control_in_the_events(run_dir: Path, tmp_path: Path) -> None:
    assert main(["figures", str(run_dir), "--out", str(tmp_path)]) == 0
    rows = {row["movement"]: row for row in _rows(tmp_path / "movements.csv")}
    assert len(rows) == MOVEMENTS
    for key, row in rows.items():
        times = {step["do"]: datetime.fromisoformat(str(step["at"]).replace("Z", "+00:00"))
                 for step in _steps(run_dir) if step["arguments"].get("movement") == key}  # type: ignore[union-attr]
        hours = (times["record_control"] - times["declare"]).total_seconds() / 3600
        assert float(row["hours"]) == pytest.approx(hours, abs=0.01)
        assert row["corridor"] == "UZ-AZ-GE"
    [corridor] = _rows(tmp_path / "corridors.csv")
    spread = sorted(float(row["hours"]) for row in rows.values())
    assert corridor["movements"] == str(MOVEMENTS)
    assert float(corridor["max h"]) == pytest.approx(spread[-1], abs=0.05)
    assert float(corridor["p50 h"]) == pytest.approx(spread[1], abs=0.05)  # nearest rank of 4: the 2nd


def test_border_crossings_are_grouped_by_country_pair_and_offices_by_place(run_dir: Path, tmp_path: Path) -> None:
    assert main(["figures", str(run_dir), "--out", str(tmp_path)]) == 0
    crossings = {row["what"]: row for row in _rows(tmp_path / "crossings.csv")}
    assert set(crossings) == {"UZ → AZ", "AZ → GE"} and crossings["AZ → GE"]["movements"] == str(MOVEMENTS)
    legs = {row["what"]: row for row in _rows(tmp_path / "legs.csv")}
    assert legs["AZ000310 → GE000110"]["kind"] == "border crossing"
    assert legs["AZ000210 → AZ000310"]["kind"] == "inland"
    assert legs["at GE000510 (arrived → controlled)"]["kind"] == "at office"
    for row in legs.values():
        assert float(row["p50 h"]) <= float(row["p90 h"]) <= float(row["max h"])


def test_percentiles_are_nearest_rank_so_each_is_a_time_some_movement_took() -> None:
    hours = Distribution("x", "end to end", tuple(float(n) for n in range(10, 0, -1)))
    assert (hours.p50, hours.p90, hours.max, hours.count) == (5.0, 9.0, 10.0, 10)


def test_a_movement_never_controlled_is_counted_but_left_out_of_end_to_end() -> None:
    run = {"kind": "scenario", "scenario": "s", "countries": {"uz": "UZ"}, "routes": {"M": {"departure": "UZ000100"}}}
    steps = [{"kind": "step", "at": "2026-03-02T08:00:00Z", "do": "declare", "node": "uz",
              "arguments": {"movement": "M"}}]
    figures = corridor_figures(run, steps)
    assert figures.incomplete == 1 and figures.corridors == ()


@pytest.mark.parametrize(("prepare", "words"), [
    (lambda path: None, "does not exist"),
    (lambda path: path.mkdir(), "is no run directory"),
    (lambda path: (path.mkdir(), (path / "events.jsonl").write_text('{"kind": "scenario"}\n{not json\n')),
     ":2: not a JSON"),
    (lambda path: (path.mkdir(), (path / "events.jsonl").write_text('{"kind": "step"}\n')), "has no scenario record"),
    # a byte that is no UTF-8 (a disk error, an editor's Latin-1) was an internal error, exit 70
    (lambda path: (path.mkdir(), (path / "events.jsonl").write_bytes(b'{"kind": "scenario"}\n{"note": "caf\xe9"}\n')),
     ":2: not UTF-8 text (byte 14 of the line is 0xe9)"),
])
def test_figures_refuses_what_is_no_run_in_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prepare: object, words: str
) -> None:
    target = tmp_path / "run"
    prepare(target)  # type: ignore[operator]
    assert main(["figures", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("caravan: ") and words in err and "Traceback" not in err


def test_an_output_the_figures_cannot_write_is_refused_before_anything_is_written(
        run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory where a figures file must go printed the tables, wrote the files before it, then ended on the
    operating system's words, exit 3; an --out below a file said only "Not a directory". Both are one line, exit 2,
    and nothing is printed or written."""
    out = tmp_path / "figures"
    (out / "legs.csv").mkdir(parents=True)
    assert main(["figures", str(run_dir), "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and f"{out / 'legs.csv'}: is a directory" in printed.err
    assert sorted(path.name for path in out.iterdir()) == ["legs.csv"]
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["figures", str(run_dir), "--out", str(tmp_path / "a-file" / "figures")]) == 2
    assert "cannot be made the directory for the output" in capsys.readouterr().err


def test_a_border_crossing_is_the_time_between_the_presentations_on_either_side_in_the_events(
    run_dir: Path, tmp_path: Path
) -> None:
    """One crossing worked out by hand from events.jsonl: the first movement presented at Red Bridge (AZ), then at
    Red Bridge (GE); legs.csv gives the time between, and with one sample per movement its max is the largest."""
    assert main(["figures", str(run_dir), "--out", str(tmp_path)]) == 0
    presented: dict[str, dict[str, datetime]] = {}
    for step in _steps(run_dir):
        arguments = step["arguments"]
        if step["do"] == "present_at_transit":
            at = datetime.fromisoformat(str(step["at"]).replace("Z", "+00:00"))
            presented.setdefault(arguments["movement"], {})[arguments["office"]] = at  # type: ignore[index]
    hours = sorted((offices["GE000110"] - offices["AZ000310"]).total_seconds() / 3600
                   for offices in presented.values())
    assert len(hours) == MOVEMENTS and hours[0] > 0
    crossing = {row["what"]: row for row in _rows(tmp_path / "legs.csv")}["AZ000310 → GE000110"]
    assert crossing["movements"] == str(MOVEMENTS)
    assert float(crossing["max h"]) == pytest.approx(hours[-1], abs=0.05)
    assert float(crossing["p50 h"]) == pytest.approx(hours[1], abs=0.05)  # nearest rank of 4: the 2nd
    pair = {row["what"]: row for row in _rows(tmp_path / "crossings.csv")}["AZ → GE"]
    assert float(pair["max h"]) == pytest.approx(hours[-1], abs=0.05)


def test_a_run_a_refused_step_stopped_is_figured_as_unfinished_and_without_that_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control at Poti is refused (no arrival was notified) and the run stops, exit 2. Its events recorded the
    step and nothing more, so figures took M1 as controlled at destination, with an end-to-end time, and the run
    as whole."""
    scenario = small_corridor(eastbound=1)
    scenario["movements"] = {"M1": SOURCE["movements"]["M1"]}
    scenario["steps"] = [{"at": "2026-03-02T08:00:00Z", "node": "uz", "do": "declare", "movement": "M1"},
                         {"at": "+1h", "node": "ge", "do": "record_control", "movement": "M1", "seals_ok": True}]
    run = tmp_path / "run"
    assert main(["run", str(write(tmp_path, scenario)), "--out", str(run)]) == 2
    capsys.readouterr()
    assert main(["figures", str(run), "--out", str(tmp_path / "figures")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The run did not finish: it stopped: step 1 (record_control) refused by ge"), out
    assert "These figures are of what it did until then." in out
    rows = {row["movement"]: row for row in _rows(tmp_path / "figures" / "movements.csv")}
    assert rows["M1"]["controlled"] == "" and rows["M1"]["hours"] == ""
    assert "**The run did not finish" in (tmp_path / "figures" / "figures.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("cut", "words"), [
    (lambda lines: lines[: len(lines) // 2] + [lines[len(lines) // 2][:40]],
     "its events.jsonl ends before the run did: the run is still going, or it was killed"),
    (lambda lines: [*lines[: len(lines) // 2], json.dumps({"kind": "interrupted", "step": 4,
                                                           "at": "2026-03-02T18:00:00Z", "messages": 9})],
     "it was interrupted (Ctrl-C) at step 5 at virtual 2026-03-02T18:00:00Z"),
], ids=["cut mid-line", "interrupted"])
def test_a_run_cut_short_shows_what_there_is_and_says_so(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: Any, words: str
) -> None:
    """A run killed while writing (or read while it runs) ends in half a line: figures refused the whole run
    ("not a JSON entry (Unterminated string ...)"); an interrupted run's figures were printed as the whole run's."""
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").split("\n")
    short = tmp_path / "run"
    short.mkdir()
    (short / "events.jsonl").write_text("\n".join(cut(lines)), encoding="utf-8")
    assert main(["figures", str(short)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"The run did not finish: {words}. These figures are of what it did until then.\n"), out
    assert "movements," in out
