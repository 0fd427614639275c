"""The three checks, each failing on its own, and the ERROR cases; refusals at receipt name place and rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from exchange.errors import ProtocolError, TrustError
from nodes.origin import authority, customs
from nodes.origin.checks import digest, integrity_of_copy, integrity_of_signature, issuer_identity, status_of
from nodes.origin.codec import encode
from nodes.origin.ledger import OriginState, StatusView
from nodes.origin.model import (
    CertificateMessage,
    CheckStatus,
    Decision,
    PartyRef,
    UtilisationDecision,
    VerificationReason,
    VerificationRequest,
)
from nodes.origin.scenario import OriginScenario
from nodes.origin.step import Step
from nodes.origin.tables import ReceivedState
from nodes.origin.trust import Authority, TrustEntry, TrustList
from tests import eco_samples
from tests.eco_world import World, eco_scenario

AT = datetime(2026, 4, 6, 8, 0, tzinfo=timezone.utc)
UZCCI = Authority("UZCCI", "Chamber of Commerce and Industry of Uzbekistan", "UZ", "uz")
TRUST = TrustList("AZ", (TrustEntry("CIS-FTA-1994", "UZ", "UZCCI"),), {"UZCCI": UZCCI})


def _checks(world: World, node: str, declaration: str) -> dict[str, Any]:
    return world.snapshot(node)["declarations"][declaration]["checks"]


def _statuses(checks: dict[str, Any]) -> tuple[str, str, str]:
    return checks["integrity"]["status"], checks["status"]["status"], checks["issuer_identity"]["status"]


def _issued_and_received(world: World, key: str = "C1") -> None:
    world.act("uz", "issue_eco", certificate=key)
    world.deliver()


# -- through the desks --------------------------------------------------------------------------------------


def test_all_three_hold_and_the_preference_is_granted(tmp_path: Path) -> None:
    world = World(eco_scenario(tmp_path))
    _issued_and_received(world)
    world.act("az", "import_declaration", declaration="D1", certificate="C1", issue_date="2026-04-01")
    checks = _checks(world, "az", "D1")
    assert _statuses(checks) == ("VALID", "VALID", "VALID")
    assert (checks["integrity"]["code"], checks["status"]["code"], checks["issuer_identity"]["code"]) == (
        "DOCUMENT_INTACT", "ISSUED", "AUTHORITY_LISTED")
    assert world.snapshot("az")["declarations"]["D1"]["decision"] == "PREFERENCE_GRANTED"


def test_status_alone_fails_when_the_certificate_has_expired(tmp_path: Path) -> None:
    world = World(eco_scenario(tmp_path))
    _issued_and_received(world)
    world.at(datetime(2027, 4, 2, 9, 0, tzinfo=timezone.utc))  # ST-1: 12 months from 2026-04-01
    world.act("az", "import_declaration", declaration="D1", certificate="C1")
    checks = _checks(world, "az", "D1")
    assert _statuses(checks) == ("VALID", "INVALID", "VALID")
    assert (checks["status"]["code"], checks["status"]["path"]) == (
        "DOCUMENT_EXPIRED", "/EcoCertificate/Certificate/ValidUntil")


def test_issuer_identity_alone_fails_for_an_authority_off_the_trust_list(tmp_path: Path) -> None:
    def untrusting(raw: dict[str, Any]) -> None:
        raw["nodes"]["az"]["eco"]["trust"] = [{"agreement": "NONPREF", "country": "UZ", "authorities": ["UZCCI"]}]

    world = World(eco_scenario(tmp_path, untrusting))
    _issued_and_received(world)
    world.act("az", "import_declaration", declaration="D1", certificate="C1")
    checks = _checks(world, "az", "D1")
    assert _statuses(checks) == ("VALID", "VALID", "INVALID")
    assert (checks["issuer_identity"]["code"], checks["issuer_identity"]["path"]) == (
        "AUTHORITY_NOT_LISTED", "/EcoCertificate/Certificate/IssuingAuthority/ID")
    assert "CIS-FTA-1994" in checks["issuer_identity"]["detail"]
    decision = world.pending[-1][1]
    assert decision.message_type == "EcoUtilisation"
    assert decision.root.findtext("{*}Decision") == "PREFERENCE_DENIED"


def test_no_data_received_is_an_error_on_every_check_and_nothing_is_sent(tmp_path: Path) -> None:
    world = World(eco_scenario(tmp_path))
    world.act("az", "import_declaration", declaration="D1", certificate="C1")
    checks = _checks(world, "az", "D1")
    assert _statuses(checks) == ("ERROR", "ERROR", "ERROR")
    assert {check["code"] for check in checks.values()} == {"NOT_RECEIVED"}
    assert world.snapshot("az")["declarations"]["D1"]["decision"] == "PREFERENCE_DENIED"
    assert world.pending == []


def test_a_declaration_number_is_decided_once(tmp_path: Path) -> None:
    world = World(eco_scenario(tmp_path))
    _issued_and_received(world)
    world.act("az", "import_declaration", declaration="D1", certificate="C1")
    events = world.act("az", "import_declaration", declaration="D1", certificate="C1")
    assert [event.data["rule"] for event in events] == ["ECO-DUPLICATE-DECLARATION"]


def test_a_version_is_received_once(tmp_path: Path) -> None:
    world = World(eco_scenario(tmp_path))
    world.act("uz", "issue_eco", certificate="C1")
    certificate = world.pending[0][1]
    world.deliver()
    world.receive(certificate)  # the same certificate pushed again
    ack = world.pending[-1][1].root
    assert ack.findtext("{*}Result") == "REJECTED"
    assert (ack.findtext("{*}Error/{*}Rule"), ack.findtext("{*}Error/{*}Path")) == (
        "ECO-DUPLICATE-VERSION", "/EcoCertificate/Certificate/Version")


# -- the agencies directly ----------------------------------------------------------------------------------


def _customs(tmp_path: Path) -> customs.CustomsConfig:
    return OriginScenario(eco_scenario(tmp_path)).customs_config("az")


def test_a_certificate_sent_by_another_party_than_its_issuer_is_rejected(tmp_path: Path) -> None:
    message = CertificateMessage(eco_samples.header(sender=PartyRef("UZ", "UZCC")), eco_samples.certificate())
    step = Step(OriginState(), AT)
    state = customs.receive(step, OriginState(), _customs(tmp_path), message, encode(message), [])
    outcome = step.outcome(state)
    assert state.received == {}
    (ack,) = outcome.messages
    assert [(e.rule, e.path) for e in ack.errors] == [
        ("ECO-SENDER-NOT-ISSUER", "/EcoCertificate/Header/Sender/PartyID")]


def test_a_certificate_for_another_country_is_rejected(tmp_path: Path) -> None:
    message = CertificateMessage(eco_samples.header(), eco_samples.certificate(import_country="KZ"))
    step = Step(OriginState(), AT)
    customs.receive(step, OriginState(), _customs(tmp_path), message, encode(message), [])
    (ack,) = step.outcome(OriginState()).messages
    assert [error.rule for error in ack.errors] == ["ECO-NOT-FOR-US"]


def test_an_inquiry_about_a_certificate_never_issued_is_answered_no_record() -> None:
    request = VerificationRequest(
        eco_samples.header(eco_samples.AZ_CUSTOMS, eco_samples.UZCCI, "AZSCC-000009"), "VR-9", eco_samples.ref(),
        VerificationReason.DOUBT_AUTHENTICITY, date(2026, 6, 1), False,
    )
    step = Step(OriginState(), AT)
    state = authority.receive(step, OriginState(), request)
    (response,) = step.outcome(state).messages
    assert response.result.value == "NO_RECORD"
    assert state.inquiries["VR-9"].state.value == "Answered"


# -- the check functions ------------------------------------------------------------------------------------


def test_integrity_of_a_copy_names_the_first_change_and_the_digest_rule() -> None:
    signed = encode(CertificateMessage(eco_samples.header(), eco_samples.certificate()))
    copy = etree.fromstring(etree.tostring(signed))
    copy.find("{*}Certificate/{*}GoodsItem/{*}OriginCriterion").text = "WO"
    check = integrity_of_copy(signed, digest(signed), "uz", copy, None)
    assert (check.status, check.code) == (CheckStatus.INVALID, "DOCUMENT_TAMPERED")
    assert check.path == "/EcoCertificate/Certificate/GoodsItem[1]/OriginCriterion"
    assert "signed 'CTH', presented 'WO'" in (check.detail or "") and "[signature-digest]" in (check.detail or "")
    assert integrity_of_copy(signed, digest(signed), "uz", None, date(2026, 4, 1)).valid


def test_integrity_of_a_signature_maps_the_signing_rules() -> None:
    assert integrity_of_signature("uz", None).code == "DOCUMENT_INTACT"
    cases = {"signature-digest": "DOCUMENT_TAMPERED", "signature-missing": "UNSIGNED",
             "cert-untrusted": "SIGNATURE_INVALID", "cert-expired": "SIGNATURE_INVALID",
             "ca-untrusted": "SIGNATURE_INVALID"}
    for rule, code in cases.items():
        check = integrity_of_signature(None, TrustError("no", rule=rule))
        assert (check.status, check.code) == (CheckStatus.INVALID, code), rule


def test_status_codes() -> None:
    view = StatusView("UZ26CCI0000101", 1, ReceivedState.RECEIVED, date(2027, 4, 1))
    assert status_of(view, AT).code == "ISSUED"
    assert status_of(view, datetime(2027, 4, 1, 23, 59, tzinfo=timezone.utc)).code == "ISSUED"  # its last day
    assert status_of(view, datetime(2027, 4, 2, tzinfo=timezone.utc)).code == "DOCUMENT_EXPIRED"
    used = replace(view, state=ReceivedState.USED, used_by="D1")
    assert status_of(used, AT, "D1").valid and status_of(used, AT).valid
    assert status_of(used, AT, "D2").code == "DOCUMENT_USED"
    replaced = status_of(replace(view, state=ReceivedState.REPLACED, replaced_by=2), AT)
    assert (replaced.code, "by v2" in (replaced.detail or "")) == ("DOCUMENT_REPLACED", True)


def test_issuer_identity_binds_the_signer_to_the_listed_authority() -> None:
    certificate = eco_samples.certificate()
    assert issuer_identity(certificate, TRUST, "uz").code == "AUTHORITY_LISTED"
    mismatch = issuer_identity(certificate, TRUST, "ge")
    assert (mismatch.status, mismatch.code) == (CheckStatus.INVALID, "SIGNER_MISMATCH")
    assert issuer_identity(certificate, None, "uz").code == "TRUST_LIST_MISSING"
    nonpref = replace(certificate, preferential=False, form="NONPREF", agreement=None)
    assert issuer_identity(nonpref, TRUST, "uz").code == "AUTHORITY_NOT_LISTED"  # listed for the FTA only


def test_only_the_importing_customs_decides_on_a_certificate(tmp_path: Path) -> None:
    config = OriginScenario(eco_scenario(tmp_path)).authority_config("uz")
    step = Step(OriginState(), AT)
    state = authority.issue(step, OriginState(), config, eco_samples.certificate())
    decision = UtilisationDecision(
        eco_samples.header(PartyRef("GE", "GERS"), eco_samples.UZCCI, "GERS-000001"), eco_samples.ref(), "D9", AT,
        Decision.PREFERENCE_GRANTED, eco_samples.checks(),
    )
    with pytest.raises(ProtocolError) as refused:
        authority.receive(Step(state, AT), state, decision)
    assert (refused.value.rule, refused.value.path) == ("ECO-WRONG-PARTY", "/EcoUtilisation/Header/Sender/Country")
