"""The terminal timeline for people, through the `caravan` command: 120 columns, parties by name, agency
events with their time, a clock while `--speed` waits (on a terminal only), and Ctrl-C saying where it stopped."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import unicodedata
import urllib.request
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from exchange.cli import INTERRUPTED, main
from exchange.errors import InputError
from exchange.timeline import columns, fit
from exchange.view import RunFeed, view_application
from tests.processes import STARTUP_CEILING, announced, interruptible

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")


def _two_steps(tmp_path: Path, gap: str) -> Path:
    """The pilot's first declaration, then a note `gap` later: a wait `--speed` paces, in a short run."""
    scenario = yaml.safe_load(PILOT.read_text(encoding="utf-8"))
    scenario["steps"] = [scenario["steps"][0], {"at": f"+{gap}", "do": "note", "text": "the goods leave Tashkent"}]
    scenario["expect"] = {"movements": {"M1": {"departure": "Released"}}}
    path = tmp_path / "two-steps.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def narrow_and_wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    here = tmp_path_factory.mktemp("timeline")
    runs = []
    for extra in ([], ["--wide"]):
        done = subprocess.run([str(CARAVAN), "run", str(PILOT), "--out", str(here / f"run{len(extra)}"), *extra],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        runs.append(done.stdout)
    return runs[0], runs[1]


def test_every_line_fits_120_columns_by_default_and_wide_keeps_them_whole(narrow_and_wide: tuple[str, str]) -> None:
    narrow, wide = narrow_and_wide
    assert max(columns(line) for line in narrow.splitlines()) <= 120
    assert max(columns(line) for line in wide.splitlines()) > 120
    assert "CL173 at /CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber" in wide
    assert len(narrow.splitlines()) == len(wide.splitlines())  # cut, never wrapped or dropped


def test_parties_are_named_by_kind_and_code(narrow_and_wide: tuple[str, str]) -> None:
    narrow, _ = narrow_and_wide
    assert "trader UZ301234567001 → office UZ000100       CC015C Declaration data" in narrow
    assert "office UZ000100 → office UZ000900       CD203C Guarantee use" in narrow
    assert "office AZ000210 → office UZ000100       CD118C Notification crossing frontier" in narrow
    assert "trader GE204512345 → office GE000510       CC007C Arrival notification" in narrow
    assert " UZ → UZ " not in narrow


def test_agency_events_carry_their_time(narrow_and_wide: tuple[str, str]) -> None:
    narrow, _ = narrow_and_wide
    assert "2026-03-02 08:00    · office UZ000900: reserved 20,000.00 USD" in narrow
    assert "2026-03-05 10:00    · office UZ000900: released 20,000.00 USD" in narrow


def test_fit_counts_wide_characters_as_two_columns() -> None:
    assert columns("⚔ 🔑") == 4
    assert fit("x" * 130, 120) == "x" * 119 + "…"
    assert columns(fit("🔑" * 100, 120)) <= 120
    assert fit("short", None) == "short"


@pytest.mark.parametrize("width", [0, 1, 2, 3, 5, 8, 13])
def test_fit_keeps_the_longest_prefix_that_leaves_room_for_the_ellipsis(width: int) -> None:
    """The cut found from the wide characters' positions is the one a walk over every character finds."""
    texts = ["", "abc", "ab→cd", "a🔑b", "🔑🔑🔑🔑🔑🔑🔑", "ab 漢字 cd ⚔ ef", "x 🔑" * 4, "\u0378" * 9, "a   🔑   b"]
    for text in texts:
        assert columns(text) == sum(_one_char_columns(char) for char in text)
        kept, used = "", 0
        for char in text:
            used += _one_char_columns(char)
            if used > width - 1:
                break
            kept += char
        walked = text if columns(text) <= width else kept.rstrip() + "…"
        assert fit(text, width) == walked, (text, width)


def _one_char_columns(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _on_a_terminal(command: list[str], until: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `command` with a pseudo-terminal as its stdout; read until `until` appears, which the test then
    knows has happened (a run that is slow to start on a loaded machine is waited for, up to the ceiling)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL,
                               preexec_fn=interruptible)
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + STARTUP_CEILING
    while until.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                seen += os.read(leader, 65536)
            except OSError:
                break
    if until.encode() not in seen:
        process.kill()
        process.wait(timeout=60)
        os.close(leader)
        raise AssertionError(f"{until!r} never appeared (exit {process.returncode}):\n{seen.decode(errors='replace')}")
    process.leader = leader  # type: ignore[attr-defined]
    return process, seen.decode(errors="replace")


def _rest(process: subprocess.Popen[bytes]) -> str:
    leader = process.leader  # type: ignore[attr-defined]
    rest = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 5)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        rest += chunk
    process.wait(timeout=60)
    os.close(leader)
    return rest.decode(errors="replace")


def test_a_clock_line_shows_while_speed_waits_on_a_terminal(tmp_path: Path) -> None:
    scenario = _two_steps(tmp_path, "2h")
    process, seen = _on_a_terminal([str(CARAVAN), "run", str(scenario), "--out", str(tmp_path / "run"),
                                    "--speed", "2400"], "⏱")
    seen += _rest(process)
    assert process.returncode == 0, seen
    assert "⏱ 2026-03-02 08:" in seen and "virtual  ·  step 2/2 at 2026-03-02 10:00" in seen
    assert "\r\x1b[K" in seen  # redrawn in place, then cleared before the next line
    assert "·· the goods leave Tashkent" in seen


def test_no_clock_line_when_the_output_is_not_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run([str(CARAVAN), "run", str(_two_steps(tmp_path, "1h")), "--out", str(tmp_path / "run"),
                           "--speed", "3600"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "⏱" not in done.stdout and "\x1b" not in done.stdout


def test_ctrl_c_prints_where_the_run_stopped_and_exits_130(tmp_path: Path) -> None:
    """The interrupt is sent once the clock line shows the run waiting for step 2, a wait of ten virtual hours
    that `--speed 60` makes ten real minutes: however slow the machine, Ctrl-C arrives in the middle of it."""
    scenario = _two_steps(tmp_path, "10h")
    out = tmp_path / "run"
    process, seen = _on_a_terminal([str(CARAVAN), "run", str(scenario), "--out", str(out), "--speed", "60"],
                                   "step 2/2 at")
    process.send_signal(signal.SIGINT)
    seen += _rest(process)
    assert process.returncode == INTERRUPTED == 130, seen
    assert "⏹ interrupted at step 2/2 (note text=the goods leave Tashkent) at virtual 2026-03-02 18:00" in seen
    assert f"10 messages so far; they and the events are in {out}/" in seen and "Traceback" not in seen
    entries = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert entries[-1] == {"kind": "interrupted", "step": 1, "at": "2026-03-02T18:00:00Z", "messages": 10}


def test_view_refuses_a_directory_that_holds_no_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(tmp_path)]) == 2
    assert "no events.jsonl here" in capsys.readouterr().err
    (tmp_path / "events.jsonl").write_text('{"kind": "step"}\n')
    assert main(["view", str(tmp_path)]) == 2
    assert "does not outline the scenario" in capsys.readouterr().err
    (tmp_path / "events.jsonl").write_text("not json\n")
    assert main(["view", str(tmp_path)]) == 2
    assert "events.jsonl:1: not a JSON entry" in capsys.readouterr().err
    assert main(["view", str(tmp_path / "absent")]) == 2


def test_view_refuses_a_line_that_is_not_utf8_and_replays_one_holding_any_other_line_break(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A byte that is no UTF-8 was an internal error (exit 70); an entry whose text held U+2028 (a scenario note
    may) was cut in two by `str.splitlines`, and a run that had passed could not be replayed."""
    outline = '{"kind": "scenario", "name": "one entry"}\n'
    (tmp_path / "events.jsonl").write_bytes(outline.encode() + b'{"kind": "step", "note": "caf\xe9"}\n')
    assert main(["view", str(tmp_path)]) == 2
    assert "events.jsonl:2: not UTF-8 text" in capsys.readouterr().err
    note = {"kind": "step", "note": "only 5,000 USD left\u2028on the guarantee"}
    (tmp_path / "events.jsonl").write_text(outline + json.dumps(note, ensure_ascii=False) + "\n", encoding="utf-8")
    assert RunFeed.replay(tmp_path).entries[1] == note


def test_view_replays_a_run_whose_last_entry_was_cut_mid_line(tmp_path: Path) -> None:
    """A run killed while writing, or read while it runs, ends in half an entry: the view refused the whole run
    ("not a JSON entry (Unterminated string ...)"); it replays the entries written whole."""
    outline = {"kind": "scenario", "scenario": "cut"}
    step = {"kind": "step", "index": 0, "at": "2026-03-02T08:00:00Z", "do": "note", "arguments": {}}
    whole = json.dumps(outline) + "\n" + json.dumps(step) + "\n"
    (tmp_path / "events.jsonl").write_text(whole + '{"kind": "message", "summary": "MRN 26UZ', encoding="utf-8")
    assert RunFeed.replay(tmp_path).entries == [outline, step]
    (tmp_path / "events.jsonl").write_text(whole + '{"kind": "message"\n' + json.dumps(step) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"events.jsonl:3: not a JSON entry"):  # a broken line before others is
        RunFeed.replay(tmp_path)  # no entry being written: refused as before


def test_view_listens_on_the_address_asked_for(tmp_path: Path) -> None:
    """docker-compose's `view` listens on every interface of its container; here 127.0.0.2 tells the asked-for
    address from the default 127.0.0.1, which alone would not answer there."""
    (tmp_path / "events.jsonl").write_text('{"kind": "scenario", "name": "one entry"}\n')
    view = subprocess.Popen([str(CARAVAN), "view", str(tmp_path), "--host", "127.0.0.2", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ready = announced(view, "caravan view:", "the view")
        port = ready.port
        assert port != 0  # the port the kernel chose for --port 0, not the 0 asked for
        assert ready.output.strip() == f"caravan view: http://127.0.0.2:{port}/ (Ctrl-C stops)"
        with urllib.request.urlopen(f"http://127.0.0.2:{port}/api/entries", timeout=10) as answer:
            assert json.load(answer) == {"entries": [{"kind": "scenario", "name": "one entry"}], "finished": True}
    finally:
        view.terminate()
        view.communicate(timeout=10)


@pytest.mark.parametrize("at", [{}, {"at": "yesterday"}], ids=["no time", "no ISO time"])
async def test_a_message_whose_entry_gives_no_time_opens_with_its_signature_unchecked(
    tmp_path: Path, at: dict[str, str]
) -> None:
    """An events.jsonl edited by hand: the document endpoint answered 500 (KeyError, ValueError) and logged a
    traceback; the page now shows the document and says why its signature was not checked."""
    stem = "0001-CC015C-uz-to-uz"
    (tmp_path / "messages").mkdir()
    (tmp_path / "messages" / f"{stem}.xml").write_bytes(b"<CC015C/>")
    (tmp_path / "messages" / f"{stem}.envelope.xml").write_bytes(b"<Envelope/>")
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.pem").write_bytes(b"")
    feed = RunFeed(tmp_path, [{"kind": "scenario"}, {"kind": "message", "file": f"messages/{stem}.xml", **at}],
                   finished=True)
    async with TestClient(TestServer(view_application(feed))) as client:
        answer = await client.get(f"/api/documents/{stem}.xml")
        assert answer.status == 200, await answer.text()
        signature = (await answer.json())["signature"]
    assert signature["text"] == "signature not checked" and "gives no time it was accepted" in signature["detail"]
