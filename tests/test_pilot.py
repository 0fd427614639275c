"""The AZ-GE-UZ pilot through the public surface: `caravan run`, `caravan validate`, `caravan verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from exchange.cli import main
from tests.test_p5_oracle import OFFICIAL, official_errors, without_signature
from tests.test_settle import request_bound

PILOT = Path(__file__).resolve().parent.parent / "scenarios" / "aze-geo-uzb-transit.yaml"


@pytest.fixture(scope="module")
def pilot_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("pilot")
    capture = out / "stdout.txt"
    with capture.open("w") as stream:
        import contextlib

        with contextlib.redirect_stdout(stream):
            code = main(["run", str(PILOT), "--out", str(out), "--wide"])
    return out, code, capture.read_text()


def test_pilot_exits_zero_with_every_expectation_holding(pilot_run: tuple[Path, int, str]) -> None:
    out, code, stdout = pilot_run
    assert code == 0, stdout
    assert "✗" not in stdout
    held = [line for line in stdout.splitlines() if line.startswith("Expectations:")]
    assert held and held[0].split()[1].split("/")[0] == held[0].split()[1].split("/")[1]


def test_timeline_names_messages_mrn_and_key_data(pilot_run: tuple[Path, int, str]) -> None:
    _, _, stdout = pilot_run
    assert "CC015C Declaration data" in stdout
    assert "CD118C Notification crossing frontier" in stdout
    assert "office UZ000100 → office AZ000210" in stdout  # parties by office and trader, not "UZ → AZ"
    assert "trader UZ301234567001 → office UZ000100" in stdout
    assert "G09" in stdout
    assert "CL173 at /CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber" in stdout


def test_outputs_written_as_promised(pilot_run: tuple[Path, int, str]) -> None:
    out, _, _ = pilot_run
    pki = out / "pki"
    for name in ("ca.pem", "uz.pem", "uz-key.pem", "az.pem", "az-key.pem", "ge.pem", "ge-key.pem"):
        assert (pki / name).is_file(), name
    files = sorted((out / "messages").iterdir())
    assert len(files) > 40
    first = files[0].name
    assert first.startswith("0001-CC015C-uz-to-uz")
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    kinds = {event["kind"] for event in events}
    assert {"step", "message", "node-event", "expectation"} <= kinds
    messages = [event for event in events if event["kind"] == "message"]
    assert len(messages) == len(files)
    assert all(event["delivery"] == "delivered" for event in messages)


def test_every_message_validates_and_verifies(
    pilot_run: tuple[Path, int, str], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _, _ = pilot_run
    files = sorted(str(path) for path in (out / "messages").iterdir())
    assert main(["validate", *files]) == 0
    for path in files:
        assert main(["verify", path, "--ca", str(out / "pki" / "ca.pem")]) == 0, path
    captured = capsys.readouterr().out
    assert captured.count("signature valid") == len(files)


def test_a_changed_byte_fails_verification(pilot_run: tuple[Path, int, str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = pilot_run
    original = next((out / "messages").glob("*-CC015C-*")).read_bytes()
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(original.replace(b"<grossMass>", b"<grossMass>1", 1))
    assert tampered.read_bytes() != original
    assert main(["verify", str(tampered), "--ca", str(out / "pki" / "ca.pem")]) == 1
    assert "NOT VERIFIED" in capsys.readouterr().out


def test_a_foreign_trust_anchor_fails_verification(pilot_run: tuple[Path, int, str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime, timezone

    from exchange.pki import ScenarioPKI

    out, _, _ = pilot_run
    other = ScenarioPKI.generate(["uz"], valid_from=datetime(2026, 1, 1, tzinfo=timezone.utc))
    other.write(tmp_path)
    message = next((out / "messages").glob("*-CD001C-*"))
    assert main(["verify", str(message), "--ca", str(tmp_path / "ca.pem")]) == 1
    assert "NOT VERIFIED [ca-untrusted]" in capsys.readouterr().out


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL}")
def test_every_trader_message_of_the_pilot_is_valid_against_the_official_p5_schema(
    pilot_run: tuple[Path, int, str],
) -> None:
    out, _, _ = pilot_run
    checked = []
    for path in sorted((out / "messages").glob("*-CC*.xml")):
        root = etree.parse(str(path)).getroot()
        if (OFFICIAL / f"{etree.QName(root).localname.lower()}.xsd").is_file():  # CC140C/CC141C: caravan's own
            assert official_errors(without_signature(root)) == [], path.name
            checked.append(path.name)
    assert len(checked) >= 20


def test_the_driver_waits_on_the_components_not_on_a_timer(pilot_run: tuple[Path, int, str]) -> None:
    """Its HTTP requests, as its client counted them, stay within 2.5 per component for each step and message."""
    out, _, stdout = pilot_run
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    [driver] = [event for event in events if event["kind"] == "driver"]
    components = 4  # the hub and three nodes
    assert driver["steps"] == 23 and driver["messages"] == sum(event["kind"] == "message" for event in events)
    assert 0 < driver["requests"] <= request_bound(components, driver["steps"], driver["messages"])
    assert f"The driver made {driver['requests']} HTTP requests for 23 steps." in stdout
