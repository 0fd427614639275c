"""The judge of a system under test and its reports, without processes: `expect: exchanges`, the traffic checks,
the scenario language's checks of them, and the JUnit / HTML / JSON verdict."""

from __future__ import annotations

import json
from pathlib import Path

import junitparser
import pytest

from exchange.client import Answer, Outcome
from exchange.conformance import WireMessage, judge_exchange, judge_push, pushes_answered, refused_from, sent_anything
from exchange.reports import Case, Suite, Verdict, write_reports
from nodes.language import check_scenario

ROOT = Path(__file__).resolve().parent.parent
NACK_90 = b"<CD906C><MRN>26UZ000100000099J9</MRN><FunctionalError><errorCode>90</errorCode></FunctionalError></CD906C>"


def _message(seq: int, at: str, sender: str, recipient: str, code: str, correlation: str | None = "MRN1",
             document: bytes = b"<x/>", state: str = "delivered", last_error: str | None = None) -> WireMessage:
    return WireMessage(seq, f"2026-03-04T{at}:00Z", sender, recipient, code, correlation, document, state,
                       last_error, 1)


WIRE = [
    _message(1, "08:00", "az", "uz", "CD118C"),
    _message(2, "08:30", "uz", "az", "CD906C", document=NACK_90),
    _message(3, "09:00", "uz", "ge", "CD006C"),
    _message(4, "10:00", "uz", "ge", "CD118C"),
]


def test_an_answer_within_its_limit_holds_and_names_the_message() -> None:
    check = judge_exchange({"from": "uz", "type": "CD906C", "answers": "CD118C", "within": "1h",
                            "contains": {"errorCode": "90"}}, WIRE, set())
    assert check.holds and "CD906C #2" in check.actual


def test_an_answer_past_its_limit_fails_with_how_late_it_was() -> None:
    check = judge_exchange({"from": "uz", "type": "CD906C", "answers": "CD118C", "within": "15m"}, WIRE, set())
    assert not check.holds and check.rule == "exchange-time-limit" and "0:30:00 later" in check.actual


def test_an_answer_holding_other_values_fails_showing_what_it_held() -> None:
    check = judge_exchange({"from": "uz", "type": "CD906C", "contains": {"errorCode": "92"}}, WIRE, set())
    assert not check.holds and check.rule == "exchange-content" and "errorCode=90" in check.actual


def test_a_message_that_must_not_be_sent_fails_when_it_was() -> None:
    check = judge_exchange({"from": "uz", "to": "az", "type": "CD906C", "count": 0}, WIRE, set())
    assert not check.holds and check.rule == "exchange-count" and "CD906C #2" in check.actual
    assert judge_exchange({"from": "uz", "to": "ge", "type": "CD906C", "count": 0}, WIRE, set()).holds


def test_contains_given_a_path_looks_only_under_its_parent() -> None:
    """`contains: {code: B1}` holds when any `code` holds B1; a control result of A1 beside an incident coded B1
    then passed as B1. `ControlResult/code` names the one under ControlResult."""
    results = (b"<CD018C><Incident><code>B1</code></Incident><ControlResult><code>A1</code></ControlResult>"
               b"<FunctionalError><errorCode>90</errorCode></FunctionalError></CD018C>")
    wire = [_message(1, "08:00", "uz", "ge", "CD018C", document=results)]
    assert judge_exchange({"from": "uz", "type": "CD018C", "contains": {"code": "B1"}}, wire, set()).holds
    check = judge_exchange({"from": "uz", "type": "CD018C", "contains": {"ControlResult/code": "B1"}}, wire, set())
    assert not check.holds and check.rule == "exchange-content" and "ControlResult/code=A1" in check.actual
    assert judge_exchange({"from": "uz", "type": "CD018C", "contains": {"ControlResult/code": "A1"}}, wire, set()).holds
    assert judge_exchange({"from": "uz", "type": "CD018C",
                           "contains": {"CD018C/FunctionalError/errorCode": "90"}}, wire, set()).holds
    assert not judge_exchange({"from": "uz", "type": "CD018C", "contains": {"Incident/errorCode": "90"}}, wire,
                              set()).holds


def test_a_message_its_recipient_refused_or_never_took_is_not_an_exchange() -> None:
    """Sent is not exchanged: a CD006C that the office of departure refused at delivery (its last answer a 4xx
    naming the rule), or that is still pending after its attempts, does not make `uz sends CD006C` hold; a later
    one that was taken does."""
    refused = _message(3, "09:00", "uz", "ge", "CD006C", state="failed",
                       last_error="HTTP 422: unknown MRN [rule 90 at /CD006C/TransitOperation/MRN]")
    pending = _message(5, "11:00", "uz", "ge", "CD006C", state="pending", last_error="no answer: timeout")
    wire = [*WIRE[:2], refused, WIRE[3], pending]
    check = judge_exchange({"from": "uz", "type": "CD006C"}, wire, set())
    assert not check.holds and check.rule == "exchange-refused"
    assert "CD006C #3 uz→ge" in check.actual and "[rule 90" in check.actual
    assert "pending after 1 attempt" in check.actual
    taken = _message(6, "12:00", "uz", "ge", "CD006C")
    check = judge_exchange({"from": "uz", "type": "CD006C", "follows": "CD118C"}, [*wire, taken], set())
    assert check.holds and "CD006C #6" in check.actual and "#3" not in check.actual
    # a count is of what was sent, taken or not: `count: 0` still fails on the refused one
    assert not judge_exchange({"from": "uz", "type": "CD006C", "count": 0}, wire, set()).holds


def test_messages_in_the_wrong_order_fail_naming_both() -> None:
    check = judge_exchange({"from": "uz", "type": "CD006C", "follows": "CD118C"}, WIRE, set())
    assert not check.holds and check.rule == "exchange-order"
    assert "CD006C #3" in check.actual and "CD118C #4" in check.actual


def test_about_keeps_only_the_messages_of_that_reference() -> None:
    assert not judge_exchange({"from": "uz", "type": "CD006C", "about": "M9"}, WIRE, {"M9", "OTHER"}).holds
    assert judge_exchange({"from": "uz", "type": "CD006C", "about": "M1"}, WIRE, {"M1", "MRN1"}).holds


def test_no_message_to_answer_is_its_own_failure() -> None:
    check = judge_exchange({"from": "uz", "type": "CD906C", "answers": "CD050C"}, WIRE, set())
    assert not check.holds and check.rule == "exchange-trigger" and "no CD050C reached uz" in check.actual


def test_only_a_message_after_the_latest_trigger_answers_it() -> None:
    """uz answered the first CD118C but not the second: what it sent before the one it answers counts for nothing."""
    wire = [*WIRE[:2], _message(5, "09:00", "az", "uz", "CD118C")]
    check = judge_exchange({"from": "uz", "type": "CD906C", "answers": "CD118C", "within": "1h"}, wire, set())
    assert not check.holds and check.rule == "exchange-sent"
    assert check.expected == "CD906C from uz after CD118C #5 az→uz at 2026-03-04T09:00:00Z"
    assert check.actual == "none; uz sent nothing"


def test_traffic_checks_name_refusals_unanswered_pushes_and_silence() -> None:
    refusals = [{"sender": "uz", "peer": "uz", "message_type": "CD050C", "message_id": "UZ1",
                 "rule": "signature-missing", "message": "no ds:Signature"}]
    refused = refused_from("uz", refusals)
    assert not refused.holds and refused.rule == "signature-missing" and "CD050C UZ1" in refused.actual
    assert refused_from("ge", refusals).holds
    posing = [{"sender": "az", "peer": "uz", "message_type": "CD050C", "message_id": "AZ1", "rule": "tls-identity",
               "message": "connection authenticated as 'uz' submits an envelope from 'az'"}]
    assert not refused_from("uz", posing).holds, "what a node's connection submitted is its own, whoever it names"
    assert refused_from("uz", posing).rule == "tls-identity"
    pending = [*WIRE, _message(5, "11:00", "ge", "uz", "CD018C", state="pending",
                               last_error="no answer: ClientConnectorError: Connection refused")]
    pushes = pushes_answered("uz", pending)
    assert not pushes.holds and "Connection refused" in pushes.actual and "pending after 1 attempt" in pushes.actual
    assert not sent_anything("ge", WIRE).holds and sent_anything("uz", WIRE).holds


REFUSAL = Answer(Outcome.REFUSED, 422, {"error": "protocol-error", "message": "import decision on certificate X, "
                                         "which this NPPO did not issue", "rule": "unknown-certificate",
                                         "path": "/SPSAcknowledgement/SPSAcknowledgementDocument/"
                                                 "ReferenceSPSReferencedDocument/ID"}).describe()


def test_the_hub_keeps_a_refusals_rule_and_place_in_the_deliverys_last_error() -> None:
    assert REFUSAL.startswith("HTTP 422: import decision on certificate X")
    assert REFUSAL.endswith("[rule unknown-certificate at /SPSAcknowledgement/SPSAcknowledgementDocument/"
                            "ReferenceSPSReferencedDocument/ID]")
    assert Answer(Outcome.UNREACHABLE, None, {"message": "Connection refused"}).describe() == \
        "no answer: Connection refused"


def _ack(seq: int, correlation: str, state: str, last_error: str | None = None) -> WireMessage:
    return _message(seq, "12:00", "ge", "uz", "SPSAcknowledgement", correlation, state=state, last_error=last_error)


def test_a_push_the_standard_says_to_refuse_holds_only_when_refused_with_a_4xx_naming_its_rule() -> None:
    wanted = {"to": "uz", "type": "SPSAcknowledgement", "about": "X", "rule": "unknown-certificate"}
    refused = judge_push(wanted, [_ack(7, "X", "failed", REFUSAL)], {"X"})
    assert refused.holds and refused.rule == "push-refusal" and "[rule unknown-certificate" in refused.actual
    taken = judge_push(wanted, [_ack(7, "X", "delivered")], {"X"})
    assert not taken.holds and "SPSAcknowledgement #7 ge→uz" in taken.actual and "taken (2xx)" in taken.actual
    other_rule = judge_push({**wanted, "rule": "out-of-sequence"}, [_ack(7, "X", "failed", REFUSAL)], {"X"})
    assert not other_rule.holds and "unknown-certificate" in other_rule.actual
    gave_up = judge_push({**wanted, "rule": None}, [_ack(7, "X", "failed", "no answer: Connection refused")], {"X"})
    assert not gave_up.holds  # running out of attempts is no refusal
    none = judge_push(wanted, [_ack(7, "Y", "failed", REFUSAL)], {"X"})
    assert not none.holds and none.rule == "push-sent"
    assert none.actual == "no SPSAcknowledgement about X was pushed to uz"
    assert judge_push({**wanted, "answer": "taken", "rule": None}, [_ack(7, "X", "delivered")], {"X"}).holds


def _refusal(status: int, rule: str, message: str = "refused") -> str:
    return Answer(Outcome.REFUSED, status, {"error": "protocol-error", "message": message, "rule": rule,
                                             "path": "/SPSAcknowledgement"}).describe()


@pytest.mark.parametrize(("last_error", "rule"), [
    (_refusal(429, "unknown-certificate"), "unknown-certificate"),  # too many requests: retried, never final
    (_refusal(408, "unknown-certificate"), None),  # a timeout: retried until the attempts ran out
    (_refusal(422, "unknown-certificate-number"), "unknown-certificate"),  # another rule, however it starts
    (_refusal(422, "out-of-sequence", "as in [rule unknown-certificate]"), "unknown-certificate"),  # words, no rule
])
def test_a_push_holds_as_refused_only_for_a_final_4xx_naming_exactly_the_rule(last_error: str, rule: str | None
                                                                               ) -> None:
    wanted = {"to": "uz", "type": "SPSAcknowledgement", "about": "X", "rule": rule}
    assert not judge_push(wanted, [_ack(7, "X", "failed", last_error)], {"X"}).holds


def test_a_refusals_rule_survives_a_long_message_in_last_error() -> None:
    last_error = _refusal(422, "unknown-certificate", "x" * 600)
    assert last_error.endswith("[rule unknown-certificate at /SPSAcknowledgement]") and len(last_error) <= 500
    wanted = {"to": "uz", "type": "SPSAcknowledgement", "about": "X", "rule": "unknown-certificate"}
    assert judge_push(wanted, [_ack(7, "X", "failed", last_error)], {"X"}).holds
    pointer = Answer(Outcome.REFUSED, 422, {"message": "no such office", "rule": "12",
                                            "path": "/CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber"})
    assert judge_push({**wanted, "rule": "12"}, [_ack(7, "X", "failed", pointer.describe())], {"X"}).holds


def test_a_push_refused_as_expected_is_not_held_against_the_pushes_answered_check() -> None:
    wire = [*WIRE, _ack(7, "X", "failed", REFUSAL)]
    assert not pushes_answered("uz", wire).holds
    assert pushes_answered("uz", wire, {7}).holds


def test_every_conformance_suite_is_valid_scenario_language() -> None:
    suites = sorted((ROOT / "scenarios" / "conformance").glob("*.yaml"))
    assert len(suites) >= 2
    for suite in suites:
        assert check_scenario(suite) == [], suite


@pytest.mark.parametrize(("entry", "says"), [
    ("{from: uz, type: CD906C, within: 1h}", "give `answers` too"),
    ("{from: xx, type: CD906C}", "'xx'"),
    ("{from: uz, type: CD906C, answer: CD118C}", "did you mean 'answers'"),
    ("{from: uz, type: CD906C, count: -1}", "greater than or equal to 0"),
])
def test_the_language_refuses_an_exchange_it_cannot_judge(tmp_path: Path, entry: str, says: str) -> None:
    text = (ROOT / "scenarios" / "conformance" / "cats-departure.yaml").read_text()
    head = text[:text.index("expect:")]
    path = tmp_path / "bad.yaml"
    path.write_text(f"{head}expect:\n  exchanges:\n    - {entry}\n")
    findings = check_scenario(path)
    assert findings and any(says in str(finding) for finding in findings), findings


@pytest.mark.parametrize(("entry", "says"), [
    ("{to: xx, type: SPSAcknowledgement}", "'xx'"),
    ("{to: uz, type: SPSAcknowledgement, answer: taken, rule: out-of-sequence}", "give it with answer: refused"),
    ("{to: uz, type: SPSAcknowledgement, answer: lost}", "refused"),
])
def test_the_language_refuses_a_push_expectation_it_cannot_judge(tmp_path: Path, entry: str, says: str) -> None:
    text = (ROOT / "scenarios" / "conformance" / "cats-departure.yaml").read_text()
    path = tmp_path / "bad.yaml"
    path.write_text(f"{text[:text.index('expect:')]}expect:\n  pushes:\n    - {entry}\n")
    findings = check_scenario(path)
    assert findings and any(says in str(finding) for finding in findings), findings


def test_the_reports_carry_the_verdict_and_every_failures_evidence(tmp_path: Path) -> None:
    suite = Suite("s1", "Suite one", "s1.yaml", [
        Case("uz sends CD001C", True, "≥1 × CD001C", "CD001C #8"),
        Case("uz answers in time", False, "CD906C within 1h", "CD906C #19: 2:00:00 later <late>",
             "exchange-time-limit"),
    ])
    paths = write_reports(Verdict([suite], {"uz": "https://127.0.0.1:9443"}), tmp_path)
    assert [path.name for path in paths] == ["junit.xml", "report.html", "report.json"]

    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "junit.xml"))
    (read,) = list(xml)
    assert read.name == "s1" and read.tests == 2 and read.failures == 1
    failing = next(case for case in read if case.name == "uz answers in time")
    (failure,) = failing.result
    assert failure.type == "exchange-time-limit" and "2:00:00 later" in failure.message

    page = (tmp_path / "report.html").read_text()
    assert "FAIL: 1 of 2 checks hold" in page and "&lt;late&gt;" in page and "exchange-time-limit" in page
    assert "<script" not in page
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["verdict"] == "fail" and data["suites"][0]["failed"] == 1


def test_a_verdict_with_nothing_judged_is_no_pass(tmp_path: Path) -> None:
    """No failure is not enough: a suite that judged no case, or a run with no suite, conforms to nothing."""
    assert not Verdict([], {}).passed
    idle = Verdict([Suite("s1", "Suite one", "s1.yaml"), Suite("s2", "Suite two", "s2.yaml",
                                                               [Case("uz sends CD001C", True, "≥1", "CD001C #8")])], {})
    assert not idle.passed
    write_reports(idle, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["verdict"] == "fail" and [suite["passed"] for suite in data["suites"]] == [False, True]
    assert "FAIL: 1 of 1 checks hold" in (tmp_path / "report.html").read_text()
