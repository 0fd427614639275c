"""validate_phyto: the IPPC Hub's three areas, each failing on its own, plus unreadable input."""

from __future__ import annotations

import base64
from dataclasses import replace
from decimal import Decimal

from nodes.ephyto.model import Measure, Note, Package
from nodes.ephyto.validation import validate_phyto
from tests.ephyto_samples import APPLES, REAL_WORLD, issued, xml


def _areas(data: bytes) -> set[tuple[str, str, str]]:
    return {(issue.area, issue.level, issue.rule) for issue in validate_phyto(data)}


def test_a_complete_certificate_has_no_findings() -> None:
    assert validate_phyto(xml(issued())) == []


def test_schema_layer_alone() -> None:
    data = xml(issued()).replace(b"<ram:TypeCode>851</ram:TypeCode>", b"<ram:Colour>green</ram:Colour>")
    issues = validate_phyto(data)
    assert issues and {issue.area for issue in issues} == {"Schema"}
    assert all(issue.level == "SEVERE" for issue in issues)
    assert issues[0].path.startswith("/SPSCertificate/SPSExchangedDocument")


def test_mandatory_layer_alone() -> None:
    certificate = replace(issued(), issuer=None, items=(replace(APPLES, origins=()),))
    issues = validate_phyto(xml(certificate))
    assert {(issue.area, issue.rule) for issue in issues} == {("MandatoryElements", "EPH-M05"),
                                                              ("MandatoryElements", "EPH-M19")}
    paths = {issue.path for issue in issues}
    assert "/SPSCertificate/SPSExchangedDocument" in paths
    assert "/SPSCertificate/SPSConsignment/IncludedSPSConsignmentItem[1]/IncludedSPSTradeLineItem[1]" in paths


def test_mapping_layer_alone() -> None:
    line = replace(APPLES, net_weight=Measure(Decimal("18000"), "KILO"), packages=(Package("1", "XYZ", Decimal(1)),))
    certificate = replace(issued(), status_code="71", import_country=replace(issued().import_country, id="XX"),
                          items=(line,))
    issues = validate_phyto(xml(certificate))
    assert {issue.area for issue in issues} == {"Mapping"}
    assert {issue.rule for issue in issues if issue.level == "SEVERE"} == {"EPH-C02", "EPH-C03", "EPH-C04", "EPH-C05"}
    assert "/SPSCertificate/SPSConsignment/ImportSPSCountry/ID" in {issue.path for issue in issues}


def test_mapping_of_type_treatment_and_note_codes() -> None:
    line = replace(APPLES, treatments=(replace(APPLES.treatments[0], type_code="T1"),),
                   notes=(Note("FOO", ("x",)),))
    certificate = replace(issued(), type_code="852", items=(line,))
    found = _areas(xml(certificate))
    assert ("Mapping", "SEVERE", "EPH-C01") in found
    assert ("Mapping", "SEVERE", "EPH-C06") in found
    assert ("Mapping", "WARNING", "EPH-C10") in found


def test_expected_but_not_required_elements_warn() -> None:
    line = replace(APPLES, scientific_names=(), classifications=())
    found = _areas(xml(replace(issued(), items=(line,))))
    assert found == {("MandatoryElements", "WARNING", "EPH-M21"), ("MandatoryElements", "WARNING", "EPH-M23")}


def test_replacement_block_needs_the_replaced_number() -> None:
    certificate = replace(issued(), notes=(Note("ADRP", ("4",)),))
    assert ("MandatoryElements", "SEVERE", "EPH-M24") in _areas(xml(certificate))


def test_reexport_needs_the_original_number_and_warns_without_attachment() -> None:
    found = _areas(xml(replace(issued(), type_code="657")))
    assert ("MandatoryElements", "SEVERE", "EPH-M25") in found
    assert ("MandatoryElements", "WARNING", "EPH-M26") in found


def test_real_world_style_certificate_passes_with_warnings() -> None:
    issues = validate_phyto(REAL_WORLD.read_bytes())
    assert issues and {issue.level for issue in issues} == {"WARNING"}


def test_base64_content_is_decoded_first() -> None:
    assert validate_phyto(base64.b64encode(xml(issued()))) == []


def test_unreadable_and_foreign_input_is_one_severe_schema_issue() -> None:
    (broken,) = validate_phyto(b"<rsm:SPSCertificate")
    assert (broken.area, broken.level, broken.path) == ("Schema", "SEVERE", "/")
    (foreign,) = validate_phyto(b"<Invoice/>")
    assert foreign.area == "Schema" and foreign.rule == "unknown-document-type"
