"""docs/PROTOCOL.md and the OpenAPI documents hold against the code: valid OpenAPI 3, the same routes the hub
and a node serve, every refusal rule the code can raise (with its kind and HTTP status), and a worked curl +
openssl example that a real hub, started from `caravan prepare` output, accepts over mutual TLS."""

from __future__ import annotations

import ast
import json
import re
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from openapi_spec_validator import validate

from exchange import errors
from exchange.clock import VirtualClock
from exchange.hub import Hub
from exchange.pki import ScenarioPKI
from exchange.tls import DRIVER, TlsIdentity
from exchange.web import error_response
from nodes.declarant import Declarants
from nodes.declarant_api import DeclarantApi
from nodes.node import Node
from tests.ports import free_ports
from tests.processes import answers, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "PROTOCOL.md"
HUB_API = ROOT / "docs" / "openapi.yaml"
NODE_API = ROOT / "docs" / "openapi-node.yaml"
CARAVAN = Path(sys.executable).with_name("caravan")
NOW = datetime(2026, 4, 1, 5, 0, tzinfo=timezone.utc)

REFUSING_MODULES = (
    "exchange/hub.py", "exchange/intake.py", "exchange/envelope.py", "exchange/signing.py", "exchange/safexml.py",
    "exchange/pki.py", "exchange/revocation.py", "exchange/web.py", "exchange/validation.py",
    "exchange/transport.py", "exchange/faults.py", "nodes/node.py", "nodes/language.py",
    "nodes/ephyto/nppo.py", "nodes/ephyto/lifecycle.py",  # the NPPO's failed acknowledgement at delivery (admit)
)
"""Every module whose code runs behind the hub's or a node's routes: where a refusal rule can come from."""


def _documented_operations(path: Path) -> set[tuple[str, str]]:
    paths = yaml.safe_load(path.read_text(encoding="utf-8"))["paths"]
    return {(route, method.upper()) for route, item in paths.items() for method in item if method != "parameters"}


def _served_operations(app: web.Application) -> set[tuple[str, str]]:
    """(path, method) of every route the app itself serves; HEAD rides along with GET in aiohttp."""
    return {
        (route.resource.canonical, route.method)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def test_openapi_documents_are_valid_openapi_3() -> None:
    for path in (HUB_API, NODE_API):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        validate(document)
        assert document["openapi"].startswith("3.")


async def test_hub_serves_exactly_the_paths_openapi_yaml_lists(tmp_path: Path) -> None:
    pki = ScenarioPKI.generate(["uz", "az"], valid_from=NOW - timedelta(days=1))
    hub = await Hub.open(tmp_path / "hub.sqlite", pki.trust_store(), {"uz": "https://127.0.0.1:9"}, VirtualClock(NOW))
    try:
        assert _served_operations(hub.application()) == _documented_operations(HUB_API)
    finally:
        await hub.stop()


async def test_node_with_its_trader_api_serves_exactly_the_paths_openapi_node_yaml_lists(tmp_path: Path) -> None:
    pki = ScenarioPKI.generate(["uz", "az"], valid_from=NOW - timedelta(days=1))
    node = await Node.open("uz", tmp_path / "uz.sqlite", pki.trust_store(), pki.credentials("uz"), VirtualClock(NOW),
                           "https://127.0.0.1:9", {})
    node.attach(DeclarantApi(await Declarants.open(node, "UZ", frozenset({"UZ301234567001"}), tmp_path)))
    try:
        assert _served_operations(node.application()) == _documented_operations(NODE_API)
    finally:
        await node.stop()


# -- refusal rules ----------------------------------------------------------------------------------------------


def _rules_in_code() -> dict[str, set[type[errors.CaravanError]]]:
    """Every `rule="..."` literal in the refusing modules, with the error class that carries it."""
    found: dict[str, set[type[errors.CaravanError]]] = {}
    for module in REFUSING_MODULES:
        for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "rule" and isinstance(keyword.value, ast.Constant):
                    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                    kind = errors.ValidationFailed if name == "Issue" else getattr(errors, name)
                    found.setdefault(keyword.value.value, set()).add(kind)
    return found


def _error_bodies_in_code() -> set[str]:
    """`{"error": "..."}` answers written by hand, outside the error hierarchy."""
    found = set()
    for module in REFUSING_MODULES:
        for node in ast.walk(ast.parse((ROOT / module).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "error" and isinstance(value, ast.Constant):
                        found.add(value.value)
    return found


def _documented_rules() -> dict[str, tuple[str, int]]:
    """The refusal table of PROTOCOL.md: rule → (kind, HTTP status)."""
    rows = re.findall(r"^\| `([^`]+)` \| `([a-z-]+)` \| (\d{3}) \|", PROTOCOL.read_text(encoding="utf-8"), re.M)
    return {rule: (kind, int(status)) for rule, kind, status in rows}


def _answer(kind: type[errors.CaravanError]) -> tuple[str, int]:
    error = kind("x", []) if kind is errors.ValidationFailed else kind("x")  # type: ignore[arg-type]
    return error.code, error_response(error).status


def test_every_refusal_rule_in_the_code_is_in_protocol_md_with_its_kind_and_status() -> None:
    in_code = _rules_in_code()
    documented = _documented_rules()
    assert len(in_code) > 30  # the scan sees the modules: a broken scan must not pass by finding nothing
    missing = sorted(set(in_code) - set(documented))
    assert not missing, f"rules the code raises but docs/PROTOCOL.md does not list: {missing}"
    stale = sorted(set(documented) - set(in_code))
    assert not stale, f"rules docs/PROTOCOL.md lists but no code raises: {stale}"
    for rule, kinds in in_code.items():
        answers = {_answer(kind) for kind in kinds}
        assert answers == {documented[rule]}, f"{rule}: the code answers {answers}, the doc {documented[rule]}"


def test_every_hand_written_error_answer_is_named_in_protocol_md() -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    unnamed = sorted(code for code in _error_bodies_in_code() if f"`{code}`" not in text)
    assert not unnamed, f"error answers docs/PROTOCOL.md does not name: {unnamed}"


def test_every_error_kind_and_its_status_is_in_the_kind_table() -> None:
    kinds = dict(re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|$", PROTOCOL.read_text(encoding="utf-8"), re.M))
    for kind in {kind for found in _rules_in_code().values() for kind in found}:
        code, status = _answer(kind)
        assert kinds.get(code) == str(status), f"{code} answers {status}; the kind table says {kinds.get(code)}"


# -- the worked example against a real hub ----------------------------------------------------------------------


def _worked_example() -> str:
    section = PROTOCOL.read_text(encoding="utf-8").split("## Worked example", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match is not None, "PROTOCOL.md's worked example has no ```bash block"
    return match.group(1)


def _call(url: str, context: ssl.SSLContext, *, method: str = "GET", body: bytes | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def _wait_for(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes]) -> None:
    wait_until_ready(partial(answers, url, context), process, f"the hub at {url}")


@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("bash", "curl", "openssl", "xxd")),
                    reason="the worked example needs bash, curl, openssl and xxd")
def test_worked_example_is_accepted_by_a_real_hub_over_mutual_tls(tmp_path: Path) -> None:
    out = tmp_path / "eco"
    prepared = subprocess.run([str(CARAVAN), "prepare", str(ROOT / "scenarios" / "uzb-aze-eco.yaml"), "--out", str(out),
                               "--base-port", str(free_ports(4))], capture_output=True, timeout=120)
    assert prepared.returncode == 0, prepared.stderr.decode()
    listen = yaml.safe_load((out / "hub.yaml").read_text())["listen"]
    hub_url = f"https://{listen['host']}:{listen['port']}"
    driver = TlsIdentity.in_pki(out / "pki", DRIVER).client_context()
    az = TlsIdentity.in_pki(out / "pki", "az").client_context()
    with (tmp_path / "hub.log").open("wb") as log:
        hub = subprocess.Popen([str(CARAVAN), "hub", "--config", str(out / "hub.yaml")], stdout=log,
                               stderr=subprocess.STDOUT)
    try:
        _wait_for(f"{hub_url}/clock", az, hub)
        assert _call(f"{hub_url}/clock", az) == (200, {"now": "2026-04-01T05:00:00Z", "virtual": True,
                                                       "window_seconds": 600})
        work = tmp_path / "work"
        work.mkdir()
        run = subprocess.run(["bash", "-c", _worked_example()], cwd=work, capture_output=True, timeout=60,
                             env={"PATH": "/usr/bin:/bin", "PKI": str(out / "pki"), "HUB": hub_url})
        output = run.stdout.decode()
        assert run.returncode == 0, output + run.stderr.decode()
        answers = re.findall(r"^(\{.*\})\nHTTP (\d{3})$", output, re.M)
        assert [status for _, status in answers] == ["202", "200"], output
        first, second = (json.loads(body) for body, _ in answers)
        assert (first["sender"], first["recipient"], first["message_type"]) == ("az", "uz", "EcoVerificationRequest")
        assert first["duplicate"] is False and second["duplicate"] is True
        assert second["delivery_id"] == first["delivery_id"]
        assert _call(f"{hub_url}/deliveries/{first['delivery_id']}", az)[1]["message_id"] == first["message_id"]

        # The window follows the hub's scenario time, which GET /clock shows: 11 minutes on, the same
        # envelope is stale and refused with the rule PROTOCOL.md names.
        later = {"now": "2026-04-01T05:11:00Z"}
        assert _call(f"{hub_url}/control/clock", driver, method="PUT", body=json.dumps(later).encode())[0] == 200
        assert _call(f"{hub_url}/clock", az)[1]["now"] == "2026-04-01T05:11:00Z"
        envelope = (work / "envelope.xml").read_bytes()
        status, refusal = _call(f"{hub_url}/envelopes", az, method="POST", body=envelope)
        assert (status, refusal["error"], refusal["rule"]) == (422, "protocol-error", "envelope-time-window")
        assert _documented_rules()["envelope-time-window"] == ("protocol-error", 422)

        # Another node's TLS identity cannot submit az's envelope.
        uz = TlsIdentity.in_pki(out / "pki", "uz").client_context()
        status, refusal = _call(f"{hub_url}/envelopes", uz, method="POST", body=envelope)
        assert (status, refusal["rule"]) == (403, "tls-identity")
    finally:
        hub.terminate()
        hub.wait(timeout=10)
