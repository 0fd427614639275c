"""Every transition of the e-CO state tables, through the desks of an in-memory exchange.

One tour drives the issuing authorities of Uzbekistan and Georgia and the customs of Azerbaijan and
Uzbekistan through every move the tables allow, holding messages back where a move needs a message
not to have arrived yet. The last test compares the transitions logged with the tables themselves, so
a table entry no test reaches fails the suite.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from exchange.errors import ScenarioError
from nodes.origin.tables import INQUIRY, ISSUED, PREFERENCE, RECEIVED, VERIFICATION
from tests.eco_world import World, eco_scenario, variant

BAD_ITEM = {"description": "Cardigans of cotton, knitted", "hs": "611020", "criterion": "RVC", "gross_kg": "900",
            "packages": {"type": "CT", "count": 90}}  # a value rule without its FOB value: ECO-R002


def _certificates(raw: dict[str, Any]) -> None:
    variant(raw, "X1", "C1", "UZ26CCI0000901", items=[BAD_ITEM])
    variant(raw, "X2", "C1", "UZ26CCI0000902", items=[BAD_ITEM])
    variant(raw, "X3", "C3", "UZ26CCI0000903")
    variant(raw, "X4", "C3", "UZ26CCI0000904")
    variant(raw, "X5", "C3", "UZ26CCI0000905")


def _state(world: World, node: str, book: str, key: str, field: str = "state") -> Any:
    return world.snapshot(node)[book][key][field]


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> World:
    world = World(eco_scenario(tmp_path_factory.mktemp("eco"), _certificates))
    uz, az, ge = "uz", "az", "ge"
    # C1: replaced before its acknowledgement arrives (Issued → Replaced), v2 used.
    world.act(uz, "issue_eco", certificate="C1")
    world.run(uz, "replace_eco", certificate="C1", reason="consignee corrected")
    world.run(az, "import_declaration", declaration="D-C1", certificate="C1")
    world.act(uz, "cancel_eco", certificate="C1", reason="too late")  # refused: used
    world.act(uz, "replace_eco", certificate="C1", reason="too late")  # refused: used
    world.act(az, "import_declaration", declaration="D-C1-v1", certificate="C1", version=1)  # replaced: denied
    world.act(az, "import_declaration", declaration="D-C1-again", certificate="C1")  # used for D-C1: denied
    world.deliver()
    # C2: acknowledged, then cancelled; a declaration citing it is denied (Cancelled stays Cancelled).
    world.run(uz, "issue_eco", certificate="C2")
    world.run(uz, "cancel_eco", certificate="C2", reason="sale cancelled")
    world.run(az, "import_declaration", declaration="D-C2", certificate="C2")
    # C3: cancelled before anything arrives (Issued → Cancelled); the late acknowledgement changes nothing.
    world.act(uz, "issue_eco", certificate="C3")
    world.run(uz, "cancel_eco", certificate="C3", reason="issued in error")
    # C4: acknowledged, replaced, v2 granted, verified (suspended) and not confirmed: withdrawn.
    world.run(uz, "issue_eco", certificate="C4")
    world.run(uz, "replace_eco", certificate="C4", reason="invoice date corrected")
    world.run(az, "import_declaration", declaration="D-C4", certificate="C4")
    world.run(az, "request_verification", request="VR-C4", declaration="D-C4", reason="DOUBT_ORIGIN", suspend=True,
              due_days=60)
    world.run(uz, "answer_verification", request="VR-C4", result="ORIGIN_NOT_CONFIRMED", findings="value added 31 %")
    world.act(az, "import_declaration", declaration="D-C4-again", certificate="C4")  # invalidated: denied
    world.deliver()
    # X1: refused by the receiver (ECO-R002), then replaced; X2: refused, then cancelled.
    world.run(uz, "issue_eco", certificate="X1")
    world.run(uz, "replace_eco", certificate="X1", reason="FOB value added",
              changes={"items": [{**BAD_ITEM, "fob": {"amount": "18000.00", "currency": "USD"}}]})
    world.run(uz, "issue_eco", certificate="X2")
    world.run(uz, "cancel_eco", certificate="X2", reason="withdrawn")
    # X3: denied before its acknowledgement arrives (altered copy), then used with the genuine one.
    world.act(uz, "issue_eco", certificate="X3")
    world.deliver("EcoCertificate")
    world.act(az, "import_declaration", declaration="D-X3-altered", certificate="X3",
              altered={"GoodsItem[1]/NetWeight": "9999"})
    world.deliver("EcoUtilisation")
    world.deliver()
    world.run(az, "import_declaration", declaration="D-X3", certificate="X3")
    # X4: acknowledged, denied twice (a wrong issue date), then replaced. X5: denied, then cancelled.
    world.run(uz, "issue_eco", certificate="X4")
    world.act(az, "import_declaration", declaration="D-X4", certificate="X4", issue_date="2026-03-01")
    world.run(az, "import_declaration", declaration="D-X4-again", certificate="X4", issue_date="2026-03-02")
    world.act(uz, "replace_eco", certificate="X4", reason="re-issued")
    world.run(uz, "issue_eco", certificate="X5")
    world.run(az, "import_declaration", declaration="D-X5", certificate="X5", altered={"GoodsItem[1]/HSCode": "630231"})
    world.run(uz, "cancel_eco", certificate="X5", reason="exporter's request")
    # G1: used before its acknowledgement reaches Georgia; then verified without suspension, NOT_AUTHENTIC.
    world.act(ge, "issue_eco", certificate="G1")
    world.deliver("EcoCertificate")
    world.act(uz, "import_declaration", declaration="D-G1", certificate="G1")
    world.deliver("EcoUtilisation")
    world.deliver()
    world.run(uz, "request_verification", request="VR-G1", declaration="D-G1", reason="DOUBT_AUTHENTICITY")
    world.run(ge, "answer_verification", request="VR-G1", result="NOT_AUTHENTIC")
    # D-C1 (granted): confirmed unsuspended, confirmed suspended, overdue then late, overdue while suspended.
    world.run(az, "request_verification", request="VR-1", declaration="D-C1", reason="RANDOM", due_days=30)
    world.run(uz, "answer_verification", request="VR-1", result="CONFIRMED")
    world.run(az, "request_verification", request="VR-2", declaration="D-C1", reason="DOUBT_DATA", suspend=True,
              due_days=30)
    world.run(uz, "answer_verification", request="VR-2", result="CONFIRMED")
    world.run(az, "request_verification", request="VR-3", declaration="D-C1", reason="RANDOM", due_days=10)
    world.at(datetime(2026, 4, 20, tzinfo=timezone.utc))
    world.run(uz, "answer_verification", request="VR-3", result="CONFIRMED")
    world.run(az, "request_verification", request="VR-4", declaration="D-C1", reason="DOUBT_ORIGIN", suspend=True,
              due_days=10)
    world.at(datetime(2026, 5, 10, tzinfo=timezone.utc))
    world.deliver()
    world.act(uz, "answer_verification", request="VR-404", result="CONFIRMED")  # refused: no such request
    return world


# -- the issuing side ---------------------------------------------------------------------------------------


def test_issue_replace_and_the_replaced_version(tour: World) -> None:
    assert tour.snapshot("uz")["issued"]["C1"]["versions"] == {"1": "Replaced", "2": "Invalidated"}
    assert tour.snapshot("az")["received"]["C1"]["versions"] == {"1": "Replaced", "2": "Invalidated"}
    replacement = [d for d in tour.sent("EcoCertificate") if d.root.findtext("{*}Certificate/{*}Kind") == "REPLACEMENT"]
    assert replacement and replacement[0].root.findtext("{*}Certificate/{*}Replaces/{*}Version") == "1"
    statuses = [d.root.findtext("{*}Status") for d in tour.sent("EcoStatusChange")]
    assert "REPLACED" in statuses and "CANCELLED" in statuses


def test_cancel_only_while_unused(tour: World) -> None:
    assert _state(tour, "uz", "issued", "C2") == "Cancelled"
    assert _state(tour, "az", "received", "C2") == "Cancelled"
    assert _state(tour, "uz", "issued", "C3") == "Cancelled"
    refusals = {(e.data.get("rule"), e.data.get("document"), e.data.get("path")) for e in tour.rejected()}
    assert ("ECO-CANCEL-USED", "EcoStatusChange", "/EcoStatusChange/Status") in refusals
    assert ("ECO-REPLACE-USED", "EcoCertificate", "/EcoCertificate/Certificate/Replaces") in refusals


def test_a_certificate_refused_by_the_receiver_names_document_place_and_rule(tour: World) -> None:
    assert tour.snapshot("uz")["issued"]["X1"]["versions"] == {"1": "Replaced", "2": "Acknowledged"}
    assert _state(tour, "uz", "issued", "X2") == "Cancelled"
    rejected = [d for d in tour.sent("EcoAcknowledgement") if d.root.findtext("{*}Result") == "REJECTED"]
    errors = [(d.root.findtext("{*}Error/{*}Document"), d.root.findtext("{*}Error/{*}Path"),
               d.root.findtext("{*}Error/{*}Rule")) for d in rejected]
    assert ("EcoCertificate", "/EcoCertificate/Certificate/GoodsItem[1]", "ECO-R002") in errors
    # the status change for a version customs never took is refused in turn
    assert ("EcoStatusChange", "/EcoStatusChange/Status", "ECO-UNKNOWN") in errors


def test_denied_then_used(tour: World) -> None:
    assert _state(tour, "uz", "issued", "X3") == "Used"
    assert tour.snapshot("az")["declarations"]["D-X3-altered"]["decision"] == "PREFERENCE_DENIED"
    assert tour.snapshot("az")["declarations"]["D-X3"]["decision"] == "PREFERENCE_GRANTED"
    assert tour.snapshot("uz")["issued"]["X4"]["versions"] == {"1": "Replaced", "2": "Acknowledged"}
    assert _state(tour, "uz", "issued", "X5") == "Cancelled"


def test_inquiries_answered_and_an_unknown_one_refused(tour: World) -> None:
    inquiries = tour.snapshot("uz")["inquiries"]
    assert {inquiries[rid]["state"] for rid in ("VR-C4", "VR-1", "VR-2", "VR-3")} == {"Answered"}
    assert inquiries["VR-4"]["state"] == "Requested"
    assert any(event.data.get("rule") == "ECO-UNKNOWN" and event.reference == "VR-404" for event in tour.rejected())
    # decisions on used or ended certificates are taken in, not refused
    assert not [event for event in tour.rejected() if event.data.get("rule") == "ECO-SEQUENCE"]


# -- the importing side -------------------------------------------------------------------------------------


def test_status_failures_are_reported_alone(tour: World) -> None:
    declarations = tour.snapshot("az")["declarations"]
    for number, code in (("D-C1-v1", "DOCUMENT_REPLACED"), ("D-C1-again", "DOCUMENT_USED"),
                         ("D-C2", "DOCUMENT_CANCELLED"), ("D-C4-again", "DOCUMENT_INVALIDATED")):
        checks = declarations[number]["checks"]
        assert (checks["integrity"]["status"], checks["status"]["code"], checks["issuer_identity"]["status"]) == (
            "VALID", code, "VALID"), number


def test_integrity_failures_are_reported_alone(tour: World) -> None:
    declarations = tour.snapshot("az")["declarations"]
    for number, code, path in (
        ("D-X3-altered", "DOCUMENT_TAMPERED", "/EcoCertificate/Certificate/GoodsItem[1]/NetWeight"),
        ("D-X5", "DOCUMENT_TAMPERED", "/EcoCertificate/Certificate/GoodsItem[1]/HSCode"),
        ("D-X4", "DATA_MISMATCH", "/EcoCertificate/Certificate/IssueDateTime"),
    ):
        checks = declarations[number]["checks"]
        assert (checks["integrity"]["code"], checks["integrity"]["path"]) == (code, path)
        assert checks["status"]["status"] == checks["issuer_identity"]["status"] == "VALID"


def test_verification_outcomes(tour: World) -> None:
    az, uz = tour.snapshot("az"), tour.snapshot("uz")
    assert az["declarations"]["D-C4"]["state"] == "Withdrawn"
    assert az["declarations"]["D-C4"]["decision"] == "PREFERENCE_WITHDRAWN"
    assert uz["declarations"]["D-G1"]["decision"] == "USE_WITHDRAWN"
    assert _state(tour, "ge", "issued", "G1") == "Invalidated"
    verifications = az["verifications"]
    assert [verifications[rid]["state"] for rid in ("VR-1", "VR-2", "VR-3", "VR-4")] == [
        "Answered", "Answered", "AnsweredLate", "Overdue"]
    assert verifications["VR-2"]["suspended"] is True
    # VR-4 suspended the preference and went unanswered: withdrawn, and the issuer told so
    assert az["declarations"]["D-C1"]["state"] == "Withdrawn"
    assert any(event.kind == "overdue" and event.reference == "VR-4" for _, event in tour.events)


def test_every_transition_of_every_table_is_taken(tour: World) -> None:
    tables = {"ISSUED": ISSUED, "RECEIVED": RECEIVED, "PREFERENCE": PREFERENCE, "VERIFICATION": VERIFICATION,
              "INQUIRY": INQUIRY}
    expected = {
        (machine, "start" if current is None else current.value, target.value, trigger)
        for machine, table in tables.items()
        for (current, trigger), target in table.items()
    }
    taken = tour.transitions()
    assert expected - taken == set()
    assert taken - expected == set()


def test_an_unanswered_request_that_did_not_suspend_leaves_the_preference(tmp_path: Path) -> None:
    world = World(eco_scenario(tmp_path))
    world.run("ge", "issue_eco", certificate="G1")
    world.act("uz", "import_declaration", declaration="D-G1", certificate="G1")
    world.run("uz", "request_verification", request="VR-UZ-9", declaration="D-G1", reason="RANDOM", due_days=30)
    world.at(datetime(2026, 5, 31, tzinfo=timezone.utc))
    world.at(datetime(2026, 6, 30, tzinfo=timezone.utc))  # a second tick: nothing fires twice
    snapshot = world.snapshot("uz")
    assert snapshot["verifications"]["VR-UZ-9"]["state"] == "Overdue"
    assert snapshot["declarations"]["D-G1"]["state"] == "Accepted"
    assert [event.reference for _, event in world.events if event.kind == "overdue"] == ["VR-UZ-9"]


@pytest.mark.parametrize("path", ["GoodsItem[1/NetWeight", "GoodsItem[1]/NoSuchElement"])
def test_an_altered_copy_naming_no_element_is_refused_in_words(tmp_path: Path, path: str) -> None:
    """A path the importing office could not read was an XPathEvalError: the node answered the step 500 and the
    run ended with exit 3, as if the machine had failed."""
    world = World(eco_scenario(tmp_path))
    world.run("uz", "issue_eco", certificate="C1")
    with pytest.raises(ScenarioError, match=rf"altered: '{re.escape(path)}' names no element of the certificate"):
        world.act("az", "import_declaration", declaration="D-1", certificate="C1", altered={path: "9999"})
