"""Bring your own system (issue 10): `prepare --external`, `caravan conform`, its reports, and what it judges.

Every conform run here is real: `caravan prepare` and `caravan conform` as commands, the hub and caravan's
counterpart nodes as separate processes, mutual TLS everywhere. The system under test is either caravan's
own node started from DIR/NODE.yaml (it must pass every suite) or the faulty stand-in in tests/standin/
(it must fail the right cases, with the right evidence).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import junitparser
import pytest
import yaml
from cryptography import x509

from exchange.cli import main
from exchange.errors import TransportError
from exchange.health import check_health
from exchange.tls import DRIVER, TlsIdentity
from tests.ports import free_ports
from tests.processes import wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
CARAVAN = [sys.executable, "-m", "exchange.cli"]
SUITES = ROOT / "scenarios" / "conformance"
STANDIN = ROOT / "tests" / "standin" / "standin.py"
DEPARTURE, TRANSIT_DESTINATION = "cats-departure", "cats-transit-destination"
RUN_LIMIT = 240  # seconds: a conform run that takes longer hangs, which is a failure of its own
COMPONENTS = 4  # prepare numbers the hub and up to three nodes from the base port


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def _caravan(*args: str, limit: float | None = None) -> Done:
    """`caravan ARGS` in this process (the command is the same; a process start less per call on a busy machine);
    with a time `limit`, as a process of its own that must end within it (no hang). Either way the hub and the
    nodes conform starts are separate processes."""
    if limit is not None:
        done = subprocess.run([*CARAVAN, *args], cwd=ROOT, capture_output=True, text=True, timeout=limit)
        return Done(done.returncode, done.stdout, done.stderr)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return Done(code, out.getvalue(), err.getvalue())


def _prepare(tmp_path: Path, suite: str, **external: str) -> Path:
    prepared = tmp_path / "prepared"
    options = [f"--external={node}={url}" for node, url in external.items()]
    done = _caravan("prepare", str(SUITES / f"{suite}.yaml"), "--out", str(prepared),
                    "--base-port", str(free_ports(COMPONENTS)), *options)  # never an inbox's: those are reserved too
    assert done.returncode == 0, done.stderr
    return prepared


def _inbox() -> str:
    return f"https://127.0.0.1:{free_ports(1)}"


@contextmanager
def _running(command: list[str], url: str | None, prepared: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A system under test as its own process; up once it answers at `url`, or (None: it does not serve health)
    once it says it is ready: its sockets listen before the hub's first push, so a push never races its start."""
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(partial(_up, url, prepared, log), process, url or " ".join(command), log)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


def _up(url: str | None, prepared: Path, log: Path) -> bool:
    if url is None:
        return "ready" in log.read_text(errors="replace")
    try:
        check_health(url, TlsIdentity.in_pki(prepared / "pki", DRIVER).client_context(), timeout=1)
    except TransportError:
        return False
    return True


def _own_node(prepared: Path, node: str, log: Path) -> AbstractContextManager[subprocess.Popen[bytes]]:
    url = yaml.safe_load((prepared / "external.yaml").read_text())["external"][node]
    return _running([*CARAVAN, "node", "--config", str(prepared / f"{node}.yaml")], url, prepared, log)


def _standin(
    prepared: Path, node: str, fault: str, log: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    url = yaml.safe_load((prepared / "external.yaml").read_text())["external"][node]
    serves = fault not in ("silent", "close", "foreign-cert")
    return _running([sys.executable, str(STANDIN), "--prepared", str(prepared), "--node", node, "--fault", fault],
                    url if serves else None, prepared, log)


Cases = dict[str, dict[str, str]]


def _conform(
    prepared: Path, report: Path, suite: str, *, wait: str = "20", limit: float | None = None
) -> tuple[Done, Cases]:
    done = _caravan("conform", str(SUITES / f"{suite}.yaml"), "--prepared", str(prepared), "--report", str(report),
                    "--wait", wait, "--answer-wait", "1", limit=limit)
    assert "Traceback" not in done.stdout + done.stderr
    verdict = json.loads((report / "report.json").read_text())
    cases = {case["name"]: case for suite_result in verdict["suites"] for case in suite_result["cases"]}
    return done, cases


def _failed(cases: Cases) -> Cases:
    return {name: case for name, case in cases.items() if not case["holds"]}


# -- prepare --external --------------------------------------------------------------------------------------


def test_prepare_external_issues_credentials_points_the_hub_at_the_inbox_and_writes_a_readme(tmp_path: Path) -> None:
    prepared = _prepare(tmp_path, DEPARTURE, uz="https://sut.example:9443")

    hub = yaml.safe_load((prepared / "hub.yaml").read_text())
    assert hub["nodes"]["uz"] == "https://sut.example:9443"
    assert yaml.safe_load((prepared / "external.yaml").read_text()) == {"external": {"uz": "https://sut.example:9443"}}
    own = yaml.safe_load((prepared / "uz.yaml").read_text())  # caravan's own node can stand in, listening there
    assert own["listen"] == {"host": "sut.example", "port": 9443}
    for path in ("pki/uz.pem", "pki/uz-key.pem", "pki/tls/uz.pem", "pki/tls/uz-key.pem", "pki/tls/ca.pem"):
        assert (prepared / path).is_file(), path
    certificate = x509.load_pem_x509_certificate((prepared / "pki/tls/uz.pem").read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    assert "sut.example" in names  # the hub's host name check holds where the system really runs
    readme = (prepared / "uz-README").read_text()
    hub_url = f"https://127.0.0.1:{hub['listen']['port']}"
    for needed in (f"POST {hub_url}/envelopes", f"GET {hub_url}/clock", "pki/tls/uz-key.pem", "pki/uz-key.pem",
                   "docs/PROTOCOL.md", "https://sut.example:9443/inbox"):
        assert needed in readme, needed
    assert not (prepared / "az-README").exists()


@pytest.mark.parametrize(("value", "says"), [
    ("xx=https://127.0.0.1:9443", "'xx' is not a node of the scenario"),
    ("uz", "write NODE=INBOX_URL"),
    ("uz=ftp://127.0.0.1:9443", "must be http(s)://HOST:PORT"),
    ("uz=http://127.0.0.1:9443", "use an https:// inbox URL"),
    ("uz=https://127.0.0.1:9443/inbox", "give the base URL only"),
])
def test_prepare_refuses_an_external_node_it_cannot_use(tmp_path: Path, value: str, says: str) -> None:
    done = _caravan("prepare", str(SUITES / f"{DEPARTURE}.yaml"), "--out", str(tmp_path / "p"), f"--external={value}")
    error = done.stderr
    assert done.returncode == 2
    assert says in error and "Traceback" not in error
    assert len(error.strip().splitlines()) == 1
    assert not (tmp_path / "p" / "hub.yaml").exists()  # refused before anything is written


def test_conform_refuses_a_scenario_with_other_nodes_than_prepared_before_starting_anything(tmp_path: Path) -> None:
    prepared = _prepare(tmp_path, DEPARTURE, uz=_inbox())
    done = _caravan("conform", str(SUITES / "eco-issuing.yaml"), "--prepared", str(prepared),
                    "--report", str(tmp_path / "report"))
    assert done.returncode == 2
    assert "are not those prepared" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report" / "logs").exists()  # nothing was started
    done = _caravan("conform", str(SUITES / f"{DEPARTURE}.yaml"), "--prepared", str(tmp_path), "--report",
                    str(tmp_path / "report"))
    assert done.returncode == 2 and "holds no hub.yaml" in done.stderr


def test_conform_refuses_a_prepared_directory_with_no_system_under_test(tmp_path: Path) -> None:
    """Prepared without --external, conform started caravan's own nodes, judged them against themselves and said
    `verdict: PASS` (exit 0): a green verdict about no system at all."""
    prepared = _prepare(tmp_path, DEPARTURE)
    done = _caravan("conform", str(SUITES / f"{DEPARTURE}.yaml"), "--prepared", str(prepared),
                    "--report", str(tmp_path / "report"))
    assert done.returncode == 2, done.stdout
    assert "names no system under test" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report" / "logs").exists()  # nothing was started


@pytest.mark.parametrize(("listed", "says"), [
    ("external: {zz: https://127.0.0.1:9443}\n", "'zz', which is no node of the prepared hub (az, ge, uz)"),
    ("externals: {uz: https://127.0.0.1:9443}\n", "'externals' is no key of an external nodes list"),
    ("external: {uz: https://127.0.0.1:9443}\nnote: x\n", "'note' is no key of an external nodes list"),
])
def test_conform_refuses_an_external_nodes_list_it_cannot_use_before_starting_anything(
        tmp_path: Path, listed: str, says: str) -> None:
    prepared = _prepare(tmp_path, DEPARTURE, uz=_inbox())
    (prepared / "external.yaml").write_text(listed)
    done = _caravan("conform", str(SUITES / f"{DEPARTURE}.yaml"), "--prepared", str(prepared),
                    "--report", str(tmp_path / "report"))
    assert done.returncode == 2, done.stdout
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "report" / "logs").exists()  # nothing was started


# -- caravan's own node passes every suite -------------------------------------------------------------------


@pytest.mark.parametrize(("suite", "node"), [(DEPARTURE, "uz"), (TRANSIT_DESTINATION, "ge"), ("ephyto-export", "uz"),
                                             ("ephyto-import", "ge"), ("eco-issuing", "uz")])
def test_caravans_own_node_as_the_system_under_test_passes_the_suite(tmp_path: Path, suite: str, node: str) -> None:
    prepared = _prepare(tmp_path, suite, **{node: _inbox()})
    report = tmp_path / "report"
    with _own_node(prepared, node, tmp_path / "sut.log"):
        done, cases = _conform(prepared, report, suite)
    assert done.returncode == 0, done.stdout[-3000:]
    assert not _failed(cases)
    assert f"external node {node} at" in done.stdout and "offers caravan's control API" in done.stdout
    assert {f"{node} sent messages the hub accepted", f"the hub accepted every message {node} sent",
            f"every MRN {node} sent has a valid check digit"} <= set(cases)
    assert any(name.startswith(f"{node} answered every push 2xx") for name in cases)

    xml = junitparser.JUnitXml.fromfile(str(report / "junit.xml"))  # what a CI test view reads
    suites = list(xml)
    assert len(suites) == 1 and suites[0].tests == len(cases) and suites[0].failures == 0
    assert {case.name for case in suites[0]} == set(cases)
    page = (report / "report.html").read_text()
    assert "PASS" in page and "<script" not in page


# -- the faulty stand-in fails the right cases, with the right evidence --------------------------------------


def _run_standin(tmp_path: Path, suite: str, node: str, fault: str) -> Cases:
    prepared = _prepare(tmp_path, suite, **{node: _inbox()})
    with _standin(prepared, node, fault, tmp_path / "standin.log"):
        done, cases = _conform(prepared, tmp_path / "report", suite)
    assert done.returncode == 1, done.stdout[-3000:]
    ended = cases.get("the scenario runs to its end")
    assert ended is None, f"the run ended before its verdict: {ended}\n{done.stdout[-3000:]}"
    return cases


def test_a_late_answer_fails_only_its_time_limit_with_how_late_it_was(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, DEPARTURE, "uz", "late-answer"))
    assert list(failed) == ["uz answers the unknown MRN with a functional NACK, error 90, within 1h"], failed
    case = failed["uz answers the unknown MRN with a functional NACK, error 90, within 1h"]
    assert case["rule"] == "exchange-time-limit" and "2:00:00 later" in case["seen"]


def test_a_missing_answer_fails_the_cases_that_wait_for_it(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, DEPARTURE, "uz", "missing-answer"))
    assert set(failed) == {"uz refuses the message out of sequence with a functional NACK, error 92",
                           "uz answers the unknown MRN with a functional NACK, error 90, within 1h"}
    assert all(case["seen"].startswith("none") for case in failed.values())


def test_messages_out_of_order_fail_the_order_case_naming_both(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, TRANSIT_DESTINATION, "ge", "out-of-order"))
    name = "ge advises the arrival (CD006C) to the office of departure, after its crossing notification"
    assert list(failed) == [name]
    assert failed[name]["rule"] == "exchange-order"
    seen = failed[name]["seen"]
    assert "CD006C" in seen and "came first" in seen and "CD118C" in seen


def test_an_unsigned_answer_is_refused_at_the_hub_and_reported_with_its_rule(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, DEPARTURE, "uz", "unsigned"))
    refused = failed["the hub accepted every message uz sent"]
    assert refused["rule"] == "signature-missing"
    assert "CD050C" in refused["seen"] and "CD001C" in refused["seen"]
    assert "uz sends the anticipated arrival record (CD001C) to the office of destination" in failed


def test_a_wrong_mrn_check_digit_is_caught_in_the_messages_it_sent(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, DEPARTURE, "uz", "wrong-mrn"))
    wrong = failed["every MRN uz sent has a valid check digit"]
    assert wrong["rule"] == "93"
    assert "CD050C" in wrong["seen"] and "MRN 26UZ000100000001J6" in wrong["seen"]  # J5 is the right digit
    assert "the hub accepted every message uz sent" not in failed  # re-signed: only the content gives it away


def test_a_system_that_never_refuses_fails_the_ephyto_failed_acknowledgement_cases(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, "ephyto-export", "uz", "never-refuses"))
    assert set(failed) == {
        "uz refuses a decision on a certificate it never issued (failed acknowledgement, unknown-certificate)",
        "uz refuses a decision on the withdrawn PC2 (failed acknowledgement, out-of-sequence)",
    }, failed
    for case in failed.values():
        assert case["rule"] == "push-refusal" and "SPSAcknowledgement" in case["seen"]
        assert "taken (2xx)" in case["seen"] and "refused with a 4xx naming rule" in case["expected"]


def test_a_system_that_never_refuses_fails_the_e_co_refusal_cases(tmp_path: Path) -> None:
    failed = _failed(_run_standin(tmp_path, "eco-issuing", "uz", "never-refuses"))
    sequence = "uz refuses the answered request sent again (out of sequence) with an EcoRefusal, rule ECO-SEQUENCE"
    invalid = ("uz refuses an invalid request (answer due before it was sent) with an EcoRefusal, rule ECO-V001, "
               "within 1h")
    assert set(failed) == {sequence, invalid}, failed
    assert failed[sequence]["seen"] == "0: none" and failed[sequence]["rule"] == "exchange-count"
    assert failed[invalid]["seen"].startswith("none; uz sent") and failed[invalid]["rule"] == "exchange-sent"


def test_a_system_that_answers_200_to_everything_and_sends_nothing_fails(tmp_path: Path) -> None:
    cases = _run_standin(tmp_path, DEPARTURE, "uz", "silent")
    failed = _failed(cases)
    assert failed["uz sent messages the hub accepted"]["seen"] == "nothing"
    assert "uz sends the anticipated transit record (CD050C) to the office of transit" in failed
    assert cases["uz answered every push 2xx (0 pushed)"]["holds"]  # answering is not conforming
    # the run goes on past the steps the silence made impossible, each a failed case with its reason
    steps = {name: case["seen"] for name, case in failed.items() if case["rule"] == "step"}
    assert steps["step 1 (present_at_transit az) can be carried out"] == (
        "step 1 (present_at_transit) refused by az: az holds no MRN for movement M1 (LRN UZ26TAS0000101)")
    assert steps["step 5 (send_variant) can be carried out"].startswith("no message crossed the wire yet")


# -- bad input: a failed case with a clear reason, never a hang or a traceback -------------------------------


def _case_starting(cases: dict[str, Any], prefix: str, stdout: str) -> Any:
    """The one case whose name starts with `prefix`; a run that never reached that verdict fails with its output."""
    found = [case for name, case in cases.items() if name.startswith(prefix)]
    assert len(found) == 1, f"no single verdict {prefix!r}…: {sorted(cases)}\n{stdout[-3000:]}"
    return found[0]


def test_an_unreachable_inbox_and_one_that_closes_connections_fail_with_the_reason(tmp_path: Path) -> None:
    """uz is caravan's own node; az is nowhere (nothing listens); ge accepts TCP and closes it."""
    prepared = _prepare(tmp_path, DEPARTURE, uz=_inbox(), az=_inbox(), ge=_inbox())
    with _own_node(prepared, "uz", tmp_path / "uz.log"), _standin(prepared, "ge", "close", tmp_path / "ge.log"):
        done, cases = _conform(prepared, tmp_path / "report", DEPARTURE, wait="1", limit=RUN_LIMIT)
    assert done.returncode == 1
    # how many pushes a party got by the verdict follows the run's timing; that each one is judged does not
    unreachable = _case_starting(cases, "az answered every push 2xx (", done.stdout)
    assert not unreachable["holds"] and "pending" in unreachable["seen"]
    assert "Cannot connect" in unreachable["seen"] or "Connect call failed" in unreachable["seen"]
    closing = _case_starting(cases, "ge answered every push 2xx (", done.stdout)
    assert not closing["holds"] and "no answer" in closing["seen"]
    assert "Server disconnected" in closing["seen"] or "ConnectionResetError" in closing["seen"]
    assert "no control API" in done.stdout  # neither is sent a control call


def test_an_inbox_with_a_certificate_the_hub_does_not_know_fails_with_the_reason(tmp_path: Path) -> None:
    prepared = _prepare(tmp_path, TRANSIT_DESTINATION, ge=_inbox())
    with _standin(prepared, "ge", "foreign-cert", tmp_path / "ge.log"):
        done, cases = _conform(prepared, tmp_path / "report", TRANSIT_DESTINATION, wait="1", limit=RUN_LIMIT)
    assert done.returncode == 1
    pushes = _case_starting(cases, "ge answered every push", done.stdout)
    assert not pushes["holds"] and "certificate verify failed" in pushes["seen"]


# -- several scenarios in one call ---------------------------------------------------------------------------


def _later_export_suite(tmp_path: Path, status: str) -> Path:
    """A second exporting-NPPO suite on the same nodes, after the first ends: the system issues PC3, which the
    first suite never used (the system knows its certificates from the scenario it was prepared with), and
    the importer rejects it. `status` is the StatusCode the suite expects of the certificate (70 holds)."""
    raw = yaml.safe_load((SUITES / "ephyto-export.yaml").read_text())
    raw.update(scenario="conformance-ephyto-export-later", title="Conformance: ePhyto exporting NPPO, later",
               start="2026-03-10T06:00:00Z")
    raw["steps"] = [
        {"at": "2026-03-10T07:00:00Z", "node": "uz", "do": "issue_ephyto", "certificate": "PC3"},
        {"at": "+2h", "node": "ge", "do": "decide_ephyto", "certificate": "PC3", "decision": "reject",
         "reason": "Live larvae of Grapholita funebrana found"},
        {"at": "+1h", "do": "note", "text": "the suite ends"},
    ]
    raw["expect"] = {
        "exchanges": [{"name": f"uz issues PC3 with status {status}", "from": "uz", "to": "ge",
                       "type": "SPSCertificate", "about": "UZ-PC-2026-000903", "contains": {"StatusCode": status}}],
        "values": [{"node": "ge", "path": "ephyto/received/PC3/status", "equals": "Rejected"}],
    }
    path = tmp_path / f"later-{status}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.mark.parametrize(("status", "code"), [("70", 0), ("40", 1)])
def test_several_scenarios_in_one_conform_call_make_one_report_and_exit_0_only_if_every_case_holds(
    tmp_path: Path, status: str, code: int
) -> None:
    prepared = _prepare(tmp_path, "ephyto-export", uz=_inbox())
    later = _later_export_suite(tmp_path, status)
    report = tmp_path / "report"
    with _own_node(prepared, "uz", tmp_path / "sut.log"):
        done = _caravan("conform", str(SUITES / "ephyto-export.yaml"), str(later), "--prepared", str(prepared),
                        "--report", str(report), "--wait", "20", "--answer-wait", "1", limit=RUN_LIMIT)
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == code, done.stdout[-3000:]

    verdict = json.loads((report / "report.json").read_text())
    assert [suite["scenario"] for suite in verdict["suites"]] == ["conformance-ephyto-export",
                                                                 "conformance-ephyto-export-later"]
    first, second = verdict["suites"]
    assert first["passed"] and first["failed"] == 0 and len(first["cases"]) > 4
    failed = [case for case in second["cases"] if not case["holds"]]
    assert {case["name"] for case in second["cases"]} >= {f"uz issues PC3 with status {status}",
                                                         "uz sent messages the hub accepted"}
    if code == 0:
        assert not failed and verdict["verdict"] == "pass"
    else:
        assert [case["name"] for case in failed] == ["uz issues PC3 with status 40"]
        assert failed[0]["rule"] == "exchange-content" and "StatusCode=70" in failed[0]["seen"]
        assert verdict["verdict"] == "fail"
    xml = junitparser.JUnitXml.fromfile(str(report / "junit.xml"))
    assert [suite.name for suite in xml] == ["conformance-ephyto-export", "conformance-ephyto-export-later"]
    assert sum(suite.failures for suite in xml) == len(failed)


def test_a_later_suite_judges_only_its_own_traffic_so_a_system_silent_in_it_fails(tmp_path: Path) -> None:
    """The hub keeps every suite's deliveries: a suite in which the system sends nothing fails, though what it
    sent in the suite before would hold its expectations (an exchange with no `about`, 'sent anything')."""
    prepared = _prepare(tmp_path, "ephyto-export", uz=_inbox())
    raw = yaml.safe_load((SUITES / "ephyto-export.yaml").read_text())
    raw.update(scenario="conformance-ephyto-export-silent", title="Conformance: ePhyto exporting NPPO, silent",
               start="2026-03-10T06:00:00Z", steps=[{"at": "2026-03-10T07:00:00Z", "do": "note", "text": "nothing"}],
               expect={"exchanges": [{"name": "uz issues a certificate, status 70", "from": "uz", "to": "ge",
                                      "type": "SPSCertificate", "contains": {"StatusCode": "70"}}]})
    silent = tmp_path / "silent.yaml"
    silent.write_text(yaml.safe_dump(raw, sort_keys=False))
    report = tmp_path / "report"
    with _own_node(prepared, "uz", tmp_path / "sut.log"):
        done = _caravan("conform", str(SUITES / "ephyto-export.yaml"), str(silent), "--prepared", str(prepared),
                        "--report", str(report), "--wait", "20", "--answer-wait", "1", limit=RUN_LIMIT)
    assert "Traceback" not in done.stdout + done.stderr
    first, second = json.loads((report / "report.json").read_text())["suites"]
    assert first["passed"], done.stdout[-3000:]
    failed = {case["name"]: case for case in second["cases"] if not case["holds"]}
    assert set(failed) == {"uz issues a certificate, status 70", "uz sent messages the hub accepted"}, failed
    assert failed["uz sent messages the hub accepted"]["seen"] == "nothing"
    assert done.returncode == 1
