"""e-CO schemas and codec: every message round-trips and validates; each business rule fails on its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest
from lxml import etree

from exchange.validation import detect, validate
from nodes.origin.codec import ECO_NS, decode, encode, summary
from nodes.origin.describe import describe
from nodes.origin.model import (
    MESSAGE_NAMES,
    Acknowledgement,
    AckResult,
    CertificateKind,
    CertificateMessage,
    CheckName,
    Decision,
    EcoMessage,
    StatusChange,
    StatusCode,
    UtilisationDecision,
    VerificationReason,
    VerificationRequest,
)
from tests import eco_samples
from tests.eco_samples import T0, certificate, every_message, header, item, ref


@pytest.mark.parametrize("message", every_message(), ids=lambda m: f"{m.code}-{m.header.message_id}")
def test_round_trip_and_valid(message: EcoMessage) -> None:
    root = encode(message)
    assert validate(root) == []
    again = decode(etree.fromstring(etree.tostring(root)))
    assert again == message
    kind = detect(root)
    assert (kind.family, kind.code) == ("eco", message.code)
    assert kind.message_id(root) == message.header.message_id
    assert describe(root).name == MESSAGE_NAMES[message.code]
    assert summary(message)


def test_every_message_type_has_a_sample_a_name_and_a_summary() -> None:
    assert {message.code for message in every_message()} == set(MESSAGE_NAMES)


def test_elements_are_qualified_and_in_schema_order() -> None:
    root = encode(CertificateMessage(header(), certificate()))
    assert all(etree.QName(element).namespace == ECO_NS for element in root.iter() if isinstance(element.tag, str))
    names = [etree.QName(child).localname for child in root.find(f"{{{ECO_NS}}}Certificate")]
    assert names[:5] == ["CertificateNumber", "Version", "Kind", "Preferential", "FormCode"]
    assert names[-2:] == ["ExporterDeclaration", "Certification"]


def _certificate(**changes: object) -> EcoMessage:
    return CertificateMessage(header(), certificate(**changes))


RULES: dict[str, Callable[[], EcoMessage]] = {
    "ECO-R001": lambda: _certificate(agreement=None),
    "ECO-R002": lambda: _certificate(items=(item(criterion="RVC", fob=None),)),
    "ECO-R003": lambda: _certificate(kind=CertificateKind.REPLACEMENT),
    "ECO-R004": lambda: _certificate(items=(item(sequence_number=2),)),
    "ECO-R005": lambda: _certificate(items=(item(net_weight=item().gross_weight + 1),)),
    "ECO-R006": lambda: _certificate(import_country="UZ", consignee=certificate().exporter),
    "ECO-R007": lambda: _certificate(exporter=certificate().consignee),
    "ECO-R008": lambda: _certificate(items=(item(invoice_number="NO-SUCH-INVOICE"),)),
    "ECO-R009": lambda: _certificate(valid_until=date(2026, 3, 1)),
    "ECO-S001": lambda: StatusChange(header(), ref(1), StatusCode.REPLACED, "no successor named", T0),
    "ECO-A001": lambda: Acknowledgement(header(), "UZCCI-000001", "EcoCertificate", ref(), AckResult.REJECTED),
    "ECO-U001": lambda: UtilisationDecision(header(), ref(), "D1", T0, Decision.PREFERENCE_DENIED,
                                            eco_samples.checks()[:2] + eco_samples.checks()[:1]),
    "ECO-U002": lambda: UtilisationDecision(header(), ref(), "D1", T0, Decision.PREFERENCE_GRANTED,
                                            eco_samples.checks(CheckName.STATUS)),
    "ECO-V001": lambda: VerificationRequest(header(), "VR-1", ref(), VerificationReason.RANDOM,
                                            T0.date(), False),
    "ECO-V002": lambda: VerificationRequest(header(), "VR-1", ref(), VerificationReason.RANDOM,
                                            date(2026, 6, 1), True),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_business_rule_fails_on_its_own(rule: str) -> None:
    issues = validate(encode(RULES[rule]()))
    assert [issue.rule for issue in issues if issue.level == "SEVERE"] == [rule]
    assert all(issue.path.startswith("/Eco") for issue in issues)


def test_goods_of_another_origin_are_a_warning_only() -> None:
    issues = validate(encode(_certificate(items=(item(origin_country="TM"),))))
    assert [(issue.rule, issue.level) for issue in issues] == [("ECO-R010", "WARNING")]
    assert issues[0].path == "/EcoCertificate/Certificate/GoodsItem[1]"


def test_schema_errors_name_the_place_and_the_facet() -> None:
    root = encode(_certificate(items=(item(hs_code="61091"),)))
    issues = validate(root)
    assert [(issue.area, issue.path, issue.rule) for issue in issues] == [
        ("Schema", "/EcoCertificate/Certificate/GoodsItem[1]/HSCode", "pattern")]


def test_a_non_preferential_certificate() -> None:
    nonpref = replace(certificate(), preferential=False, form="NONPREF", agreement=None, valid_until=None)
    root = encode(CertificateMessage(header(), nonpref))
    assert validate(root) == []
    assert "non-preferential" in summary(decode(root))
