"""The UZ → GE ePhyto scenario through `caravan run`, and every ePhyto it writes through `caravan validate`."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from exchange.cli import main
from nodes.ephyto.validation import validate_phyto

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "uzb-geo-ephyto-transit.yaml"


@pytest.fixture(scope="module")
def ephyto_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("ephyto")
    capture = out / "stdout.txt"
    with capture.open("w") as stream, contextlib.redirect_stdout(stream):
        code = main(["run", str(SCENARIO), "--out", str(out)])
    return out, code, capture.read_text()


def test_scenario_runs_green(ephyto_run: tuple[Path, int, str]) -> None:
    _, code, stdout = ephyto_run
    assert code == 0, stdout
    assert "✗" not in stdout


def test_timeline_shows_every_lifecycle_step(ephyto_run: tuple[Path, int, str]) -> None:
    _, _, stdout = ephyto_run
    assert "UZ-PC-2026-000101 851/70 issued: Fresh apples (Malus domestica), UZ → GE" in stdout
    assert "UZ-PC-2026-000102 851/40 withdrawn" in stdout
    assert "UZ-PC-2026-000104 851/70 issued: Fresh table grapes (Vitis vinifera), UZ → GE, replaces UZ-PC-2026-000103" \
        in stdout
    assert "GE-RX-2026-000031 657/70 issued" in stdout
    assert "UZ-PC-2026-000105 rejected (8): Live larvae" in stdout
    assert "UZ-PC-2026-000101 acknowledged Delivered" in stdout
    assert "CC015C Declaration data" in stdout


def test_every_ephyto_written_validates_in_all_three_areas(ephyto_run: tuple[Path, int, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = ephyto_run
    files = sorted((out / "messages").glob("*-SPS*.xml"))
    assert len(files) == 11
    for path in (path for path in files if "-SPSCertificate-" in path.name):
        assert validate_phyto(path.read_bytes()) == [], path
    assert main(["validate", *map(str, files)]) == 0
    assert capsys.readouterr().out.count(": valid (ephyto ") == len(files)


def test_acknowledgements_are_recorded_for_the_hub(ephyto_run: tuple[Path, int, str]) -> None:
    out, _, _ = ephyto_run
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    acknowledged = [event for event in events if event.get("event") == "acknowledged"]
    assert {event["data"]["acknowledgement"] for event in acknowledged} == {"Delivered"}
    assert {event["data"]["certificate"] for event in acknowledged} >= {"UZ-PC-2026-000101", "GE-RX-2026-000031"}
