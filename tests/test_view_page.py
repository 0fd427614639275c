"""The trainers' view in a real browser: headless Chromium (Debian's `chromium`) driven through Playwright.

One pilot run is made once for the session and replayed with `caravan view`; the live test runs the pilot
again with `caravan run --view`. Screenshots are kept under out/test-artifacts/ for people to look at.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import announced, interruptible
from tests.traffic_scenarios import SOURCE, small_corridor, write

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
EPHYTO = ROOT / "scenarios" / "uzb-geo-ephyto-transit.yaml"
ECO = ROOT / "scenarios" / "uzb-aze-eco.yaml"
FAULTS = ROOT / "scenarios" / "faults-red-bridge.yaml"
CORRIDORS = ROOT / "scenarios" / "carec-corridors.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")
ARTIFACTS = ROOT / "out" / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

playwright_api = pytest.importorskip("playwright.sync_api", reason="the page tests need `pip install playwright`")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (scripts/install-chromium.sh "
                                                         "installs Debian's package); the page tests need it")


def _run(scenario: Path, out: Path) -> Path:
    done = subprocess.run([str(CARAVAN), "run", str(scenario), "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


class Viewer:
    """`caravan view RUN_DIR` on any free port (`--port 0`), at the URL its ready line tells; stopped by the fixture
    that started it."""

    def __init__(self, run_dir: Path) -> None:
        self.process = subprocess.Popen([str(CARAVAN), "view", str(run_dir), "--port", "0"],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = announced(self.process, "caravan view:", "the view").url

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


@pytest.fixture(scope="module")  # not longer: Playwright's sync API holds an event loop while it is open
def browser() -> Iterator[object]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def pilot_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Viewer]:
    viewer = Viewer(_run(PILOT, tmp_path_factory.mktemp("view-pilot")))
    yield viewer
    viewer.stop()


def _page(browser: object, url: str) -> object:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})  # type: ignore[attr-defined]
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def _play_to_the_end(page: object) -> None:
    page.select_option("#speed", "86400")  # type: ignore[attr-defined]
    page.click("#play")  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#progress-text').textContent.startsWith('23/23 steps')",
                           timeout=60_000)  # type: ignore[attr-defined]
    page.wait_for_function("document.querySelector('#progress-bar').style.width === '100%'",
                           timeout=30_000)  # type: ignore[attr-defined]


def test_the_pilot_plays_back_with_its_movements_countries_and_message_types(browser: object,
                                                                             pilot_view: Viewer) -> None:
    page = _page(browser, pilot_view.url)
    assert page.inner_text("#clock").startswith("2026-03-02 06:00")  # nothing played yet: the scenario's start
    assert page.locator(".msg").count() == 0
    _play_to_the_end(page)
    page.screenshot(path=str(ARTIFACTS / "view-pilot-replayed.png"), full_page=True)
    assert page.inner_text("#clock") == "2026-03-08 12:00 UTC"
    cards = page.inner_text("#cards")
    for key in ("M1", "M2", "M3", "M4", "M5"):
        assert key in cards
    assert "GE000510 GoodsReleased" in cards and "UZ000100 Rejected" in cards
    labels = page.locator("#map .country-label").all_text_contents()
    assert {"AZ", "GE", "UZ", "TM (outside)"} <= set(labels)
    assert page.locator("#map .route.outside").count() >= 2  # the Caspian legs of M1, M4 and M2
    types = set(page.locator(".msg").evaluate_all("rows => rows.map(row => row.dataset.type)"))
    assert {"CC015C", "CC029C", "CD050C", "CD118C", "CC007C", "CC025C", "CC045C", "CC056C", "CD205C"} <= types
    assert page.locator(".msg").count() == 65
    heads = page.inner_text("#lane-heads")
    assert "trader" in heads and "office" in heads
    assert "26UZ0009000000029" in page.inner_text("#guarantees") and "5,000.00 USD" in page.inner_text("#guarantees")
    incidents = page.inner_text("#incidents")
    assert "refused" in incidents and "CL173" in incidents
    baseline = page.inner_text("#baseline")
    assert "CAREC CPMM" in baseline and "Tsiteli Khidi" in baseline
    assert re.search(r"GE000110.*1 h 48 min", baseline, re.S)


OVERLAPS = """() => {
  const named = (selector, name) => [...document.querySelectorAll(selector)]
    .map((e) => [name(e), e.getBoundingClientRect()]);
  const labels = named('#map .office text', (t) => t.textContent);
  const others = [...named('#map .office circle', (c) => 'the dot of ' + c.parentNode.textContent.split(' (')[0]),
                  ...named('#map .country-label', (t) => t.textContent)];
  const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  return labels.flatMap(([n, a], i) => [...labels.slice(i + 1), ...others].filter(([, b]) => meet(a, b))
    .map(([m]) => n + ' / ' + m));
}"""


def test_no_office_label_on_the_map_is_printed_over_another(browser: object, pilot_view: Viewer,
                                                             tmp_path: Path) -> None:
    """Poti and Red Bridge lie a few pixels apart at the map's scale: Poti's dot hid Red Bridge's label, and Alat's
    label was printed over Turkmenistan's name; on the eleven countries' corridors sixteen pairs of labels met.
    Each label takes a free place around its dot, with a leader when it had to go further."""
    corridors = Viewer(_run(CORRIDORS, tmp_path / "corridors"))
    try:
        for url, least in ((pilot_view.url, 5), (corridors.url, 15)):
            for width, height in ((1600, 1000), (1280, 800)):
                page = browser.new_page(viewport={"width": width, "height": height})  # type: ignore[attr-defined]
                page.goto(url)
                page.wait_for_selector("body[data-ready=true]")
                assert page.locator("#map .office text").count() >= least
                assert page.evaluate(OVERLAPS) == [], (url, width)
    finally:
        corridors.stop()


def test_step_moves_the_run_one_scenario_step_at_a_time(browser: object, pilot_view: Viewer) -> None:
    page = _page(browser, pilot_view.url)
    page.click("#step")
    assert page.inner_text("#progress-text").startswith("1/23 steps")
    assert page.inner_text("#clock").startswith("2026-03-02 08:00")
    assert page.locator(".msg").count() == 10  # M1's declaration and everything it set off
    page.click("#step")
    assert page.inner_text("#progress-text").startswith("2/23 steps")


def test_a_declaration_opens_as_a_transit_accompanying_document_with_its_checks(browser: object,
                                                                                pilot_view: Viewer) -> None:
    page = _page(browser, pilot_view.url)
    _play_to_the_end(page)
    page.locator(".msg[data-type=CC015C]").first.click()
    page.wait_for_selector("#doc-body .paper.tad")
    body = page.inner_text("#doc-body")
    assert "TRANSIT ACCOMPANYING DOCUMENT" in body and "UZ26TAS0000001" in body and "Silk Road Textiles" in body
    assert "Woven cotton fabric" in body
    badges = page.inner_text("#doc-badges")
    assert "signature valid" in badges and "schema-valid" in badges
    page.screenshot(path=str(ARTIFACTS / "view-document-tad.png"))
    page.click("#doc-raw")
    assert "<ncts:CC015C" in page.inner_text("#doc-xml")


@pytest.mark.parametrize(("scenario", "kind", "layout", "heading"), [
    (EPHYTO, "SPSCertificate", "ippc", "PHYTOSANITARY CERTIFICATE"),
    (ECO, "EcoCertificate", "eco", "CERTIFICATE OF ORIGIN"),
])
def test_certificates_open_in_the_layout_of_their_paper_model(browser: object, tmp_path: Path, scenario: Path,
                                                              kind: str, layout: str, heading: str) -> None:
    viewer = Viewer(_run(scenario, tmp_path / "run"))
    try:
        page = _page(browser, viewer.url)
        page.click("#step")
        while page.locator(f".msg[data-type={kind}]").count() == 0:
            page.click("#step")
        page.locator(f".msg[data-type={kind}]").first.click()
        page.wait_for_selector(f"#doc-body .paper.{layout}")
        assert heading in page.inner_text("#doc-body")
        assert page.locator("#doc-badges .badge").count() == 2
        page.screenshot(path=str(ARTIFACTS / f"view-document-{layout}.png"))
    finally:
        viewer.stop()


def test_faults_and_retries_are_marked_as_faults(browser: object, tmp_path: Path) -> None:
    viewer = Viewer(_run(FAULTS, tmp_path / "run"))
    try:
        page = _page(browser, viewer.url)
        page.select_option("#speed", "86400")
        page.click("#play")
        page.wait_for_function("parseInt(document.querySelector('#progress-text').textContent) >= 19", timeout=60_000)
        faults = page.locator("#incidents li.fault").all_inner_texts()
        assert any("offline window: ge, 2026-03-04 19:00 → 2026-03-05 01:00" in line for line in faults), faults
        assert any("retries CD118C" in line for line in faults) and any("holds CD050C" in line for line in faults)
        assert any("hub stops and starts again" in line for line in faults)
        assert all("fault" in line for line in faults)
        page.screenshot(path=str(ARTIFACTS / "view-faults.png"))
    finally:
        viewer.stop()


def test_the_live_view_follows_a_run_while_it_plays(browser: object, tmp_path: Path) -> None:
    """`--speed 14400` plays the pilot's six virtual days in about 40 s, long enough for the page to open while
    the run plays even when a loaded machine is slow to start the browser (43200 left a loaded run 12 s)."""
    run = subprocess.Popen([str(CARAVAN), "run", str(PILOT), "--out", str(tmp_path), "--view", "0",
                            "--speed", "14400"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           preexec_fn=interruptible)
    try:
        live = announced(run, "live view:", "the live view")
        port = live.port
        assert port != 0  # the port the kernel chose, not the 0 asked for
        page = _page(browser, live.url)
        assert page.inner_text("#mode") == "● live"
        first = page.locator(".msg").count()
        page.wait_for_function(f"document.querySelectorAll('.msg').length > {first}", timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "view-live.png"))
        page.wait_for_function("document.querySelector('#mode').textContent === 'live · finished'", timeout=300_000)
        assert page.locator(".msg").count() == 65
        assert page.inner_text("#clock") == "2026-03-08 12:00 UTC"
        again = _page(browser, f"http://127.0.0.1:{port}/")  # after the run, the page stays up as a replay
        assert again.inner_text("#mode") == "replay"
        run.send_signal(signal.SIGINT)
        rest, _ = run.communicate(timeout=60)
        output = live.output + rest
        assert run.returncode == 0, output  # the run's own code: every expectation held
        assert f"live view: http://127.0.0.1:{port}/" in output
        assert f"the run is over; the view stays at http://127.0.0.1:{port}/ until Ctrl-C" in output
    finally:
        if run.poll() is None:
            run.terminate()
            run.communicate(timeout=10)


def test_a_step_the_run_stopped_on_is_shown_with_its_refusal(browser: object, tmp_path: Path) -> None:
    """The control at Poti is refused (no arrival was notified) and the run stops, exit 2: the view played the run
    to its last step and said nothing of why it ended there."""
    scenario = small_corridor(eastbound=1)
    scenario["movements"] = {"M1": SOURCE["movements"]["M1"]}
    scenario["steps"] = [{"at": "2026-03-02T08:00:00Z", "node": "uz", "do": "declare", "movement": "M1"},
                         {"at": "+1h", "node": "ge", "do": "record_control", "movement": "M1", "seals_ok": True}]
    done = subprocess.run([str(CARAVAN), "run", str(write(tmp_path, scenario)), "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    viewer = Viewer(tmp_path / "run")
    try:
        page = _page(browser, viewer.url)
        page.select_option("#speed", "86400")  # type: ignore[attr-defined]
        page.click("#play")  # type: ignore[attr-defined]
        page.wait_for_function("document.querySelector('#progress-bar').style.width === '100%'",
                               timeout=60_000)  # type: ignore[attr-defined]
        refusals = page.locator("#incidents li.refusal").all_inner_texts()  # type: ignore[attr-defined]
        assert any("step 1 (record_control) refused by ge" in line for line in refusals), refusals
    finally:
        viewer.stop()


def test_a_killed_runs_record_is_said_to_end_without_its_closing_entry(browser: object, pilot_view: Viewer,
                                                                        tmp_path: Path) -> None:
    """A run killed (SIGKILL) leaves an events.jsonl with no closing entry and no word of how it stopped: the view
    replayed it to its last line as if it had finished. Replayed to the end, it now says so; a whole run does not."""
    run = _run(PILOT, tmp_path / "run")
    events = (run / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    (run / "events.jsonl").write_text("".join(events[: len(events) // 2]), encoding="utf-8")  # where the kill came
    killed = Viewer(run)
    try:
        for url, unclosed in ((killed.url, True), (pilot_view.url, False)):
            page = _page(browser, url)
            page.select_option("#speed", "86400")  # type: ignore[attr-defined]
            page.click("#play")  # type: ignore[attr-defined]
            page.wait_for_function("document.querySelector('#progress-bar').style.width === '100%'",
                                   timeout=60_000)  # type: ignore[attr-defined]
            incidents = page.inner_text("#incidents")  # type: ignore[attr-defined]
            assert ("without its closing entry" in incidents) is unclosed, (url, incidents)
    finally:
        killed.stop()
