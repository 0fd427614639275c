"""A started hub and node fed bad queries and bodies: a 4xx naming what is wrong, never a 500 and a traceback in
the component's log (each case below was a 500: an `int()` of the query, an id past SQLite's INTEGER, a body
that was not a JSON object, a step without `do`)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_ports
from tests.processes import announced

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")


@dataclass(frozen=True)
class Started:
    urls: dict[str, str]  # component → its URL
    logs: dict[str, Path]  # component → its stderr


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """The pilot's hub and node uz, prepared on plain HTTP and started as processes, as a user starts them."""
    here = tmp_path_factory.mktemp("http")
    prepared = subprocess.run([str(CARAVAN), "prepare", str(PILOT), "--out", str(here), "--plain-http",
                               "--base-port", str(free_ports(4))], capture_output=True, text=True, timeout=120)
    assert prepared.returncode == 0, prepared.stderr
    processes, urls, logs = [], {}, {}
    try:
        for component, argv in (("hub", ["hub"]), ("uz", ["node"])):
            logs[component] = here / f"{component}.log"
            with logs[component].open("w") as log:
                process = subprocess.Popen([str(CARAVAN), *argv, "--config", str(here / f"{component}.yaml")],
                                           stdout=subprocess.PIPE, stderr=log, text=True)
            processes.append(process)
            urls[component] = announced(process, "listening on", f"caravan {component}").url.rstrip("/")
        yield Started(urls, logs)
    finally:
        for process in processes:
            process.terminate()
            process.communicate(timeout=60)  # waits, and closes its stdout pipe


def call(url: str, method: str, body: bytes | None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read().decode()


STEP = b'{"do": "declare", "arguments": {"movement": "M1"}}'

# (component, method, path, body, status, words the answer must carry)
CASES = {
    "deliveries after a word": ("hub", "GET", "/deliveries?after=abc", None, 400, "after='abc': give an id"),
    "deliveries after -1": ("hub", "GET", "/deliveries?after=-1", None, 400, "after='-1': give an id"),
    "deliveries after 26 digits": ("hub", "GET", "/deliveries?after=" + "9" * 26, None, 400, "give an id"),
    "a delivery id of 26 digits": ("hub", "GET", "/deliveries/" + "9" * 26, None, 404, "no such delivery"),
    "its envelope": ("hub", "GET", "/deliveries/" + "9" * 26 + "/envelope", None, 404, "no such delivery"),
    "a delivery id that is a word": ("hub", "GET", "/deliveries/abc", None, 404, '"error": "unknown-delivery"'),
    "the envelope of a word": ("hub", "GET", "/deliveries/-1/envelope", None, 404, '"error": "unknown-delivery"'),
    "refusals after a word": ("hub", "GET", "/refusals?after=x", None, 400, "after='x': give an id"),
    "transport after a word": ("hub", "GET", "/transport?after=q", None, 400, "after='q': give an id"),
    "status news after 26 digits": ("hub", "GET", "/status?deliveries_after=" + "9" * 26, None, 400,
                                    "deliveries_after='99999999999999999999999999': give an id"),
    "status news after a superscript": ("hub", "GET", "/status?deliveries_after=%C2%B2", None, 400,
                                        "deliveries_after='²': give an id"),
    "the hub's clock set to nothing": ("hub", "PUT", "/control/clock", b"[]", 400, "not a JSON object"),
    "the hub's clock set without now": ("hub", "PUT", "/control/clock", b"{}", 400,
                                        'now=None: send {"now": "2026-03-02T08:00:00Z"}'),
    "node events after a word": ("uz", "GET", "/events?after=abc", None, 400, "after='abc': give an id"),
    "node events after 26 digits": ("uz", "GET", "/events?after=" + "9" * 26, None, 400, "give an id"),
    "node status news after 26 digits": ("uz", "GET", "/status?events_after=" + "9" * 26, None, 400, "give an id"),
    "an action that is not JSON": ("uz", "POST", "/control/actions", b"declare M1", 400,
                                   "POST /control/actions"),
    "an action that is a list": ("uz", "POST", "/control/actions", b"[]", 400, "the body is not a JSON object"),
    "an action of binary bytes": ("uz", "POST", "/control/actions", bytes(range(256)), 400, "not a JSON object"),
    "an action without do": ("uz", "POST", "/control/actions", b'{"arguments": {}}', 400, "do=None: send"),
    "arguments that are text": ("uz", "POST", "/control/actions", b'{"do": "declare", "arguments": "M1"}', 400,
                                "arguments='M1': send"),
    "the node's clock set to text": ("uz", "PUT", "/control/clock", b"x", 400, "PUT /control/clock"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_request_is_answered_4xx_with_what_is_wrong(name: str, started: Started) -> None:
    component, method, path, body, status, words = CASES[name]
    code, text = call(started.urls[component] + path, method, body)
    if status == 400:
        answer = json.loads(text)
        assert answer["error"] and answer["message"], answer
        text = answer["message"] + " " + answer.get("document", "")
    assert (code, words in text) == (status, True), text
    log = started.logs[component].read_text(errors="replace")
    assert "Traceback" not in log and "Error handling request" not in log, log


def test_after_bad_requests_a_good_one_is_answered_as_before(started: Started) -> None:
    for name in CASES:
        component, method, path, body, _, _ = CASES[name]
        call(started.urls[component] + path, method, body)
    code, text = call(started.urls["uz"] + "/control/actions", "POST", STEP)
    assert code == 200 and json.loads(text)["events"], text
