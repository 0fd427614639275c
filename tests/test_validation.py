"""Generic validation: registry by root element, schema issues with clean paths, Schematron rule ids."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import pytest
from lxml import etree

from exchange.errors import DocumentError, ValidationFailed
from exchange.validation import SCHEMAS, check, detect, document_types, validate
from nodes.customs.codec import NCTS_NS, encode
from nodes.customs.model import MESSAGE_NAMES, Declaration, Packaging
from tests import cats_samples

DSIG = "http://www.w3.org/2000/09/xmldsig#"


def declaration_with(change: Callable[[Declaration], Declaration]) -> etree._Element:
    message = cats_samples.transit_declaration()
    return encode(replace(message, declaration=change(message.declaration)))


def consignment_with(**changes) -> etree._Element:
    return declaration_with(lambda d: replace(d, consignment=replace(d.consignment, **changes)))


def items_with(**changes) -> etree._Element:
    """The declaration with the changes applied to its second goods item."""
    house = cats_samples.declaration().consignment.house_consignments[0]
    items = (house.items[0], replace(house.items[1], **changes))
    return consignment_with(house_consignments=(replace(house, items=items),))


# --- registry


def test_every_cats_message_is_a_registered_document_type() -> None:
    cats = {kind.code: kind for kind in document_types().values() if kind.family == "cats"}
    assert set(cats) == set(MESSAGE_NAMES)
    assert all(kind.namespace == NCTS_NS and kind.xsd.parent == SCHEMAS / "cats" for kind in cats.values())
    assert cats["CC015C"].rules == SCHEMAS / "cats" / "rules" / "cc015c.sch"
    assert cats["CC928C"].rules is None


def test_detect_names_code_family_and_files() -> None:
    kind = detect(encode(cats_samples.transit_declaration()))
    assert (kind.code, kind.family, kind.xsd.name) == ("CC015C", "cats", "cc015c.xsd")


def test_detect_refuses_an_unknown_root() -> None:
    with pytest.raises(DocumentError) as raised:
        detect(etree.Element("{urn:example}Invoice"))
    assert raised.value.rule == "unknown-document-type"


# --- valid documents


@pytest.mark.parametrize("factory", cats_samples.FACTORIES, ids=lambda factory: factory.__name__)
def test_every_sample_validates_without_issues(factory) -> None:
    assert validate(encode(factory())) == []


def test_enveloped_signature_is_skipped() -> None:
    root = encode(cats_samples.transit_declaration())
    signature = etree.SubElement(root, f"{{{DSIG}}}Signature", nsmap={"ds": DSIG})
    etree.SubElement(signature, f"{{{DSIG}}}SignedInfo")
    etree.SubElement(signature, f"{{{DSIG}}}SignatureValue").text = "AAAA"
    assert validate(root) == []
    check(root)


# --- schema issues


def test_bad_hs_code_reports_exact_path_and_pattern() -> None:
    [issue] = validate(items_with(harmonized_system_sub_heading_code="52081"))
    assert issue.area == "Schema"
    assert issue.rule == "pattern"
    assert issue.path == (
        "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]"
        "/Commodity/CommodityCode/harmonizedSystemSubHeadingCode"
    )
    assert "52081" in issue.message


def test_missing_lrn_reports_where_it_belongs() -> None:
    root = encode(cats_samples.transit_declaration())
    root.find("TransitOperation").remove(root.find("TransitOperation/LRN"))
    [issue] = validate(root)
    assert (issue.area, issue.path, issue.rule) == ("Schema", "/CC015C/TransitOperation/LRN", "minOccurs")


def test_missing_last_child_is_reported_too() -> None:
    root = encode(cats_samples.transit_declaration())
    root.remove(root.find("Consignment"))
    [issue] = validate(root)
    assert (issue.path, issue.rule) == ("/CC015C/Consignment", "minOccurs")


def test_too_many_offices_of_transit_is_max_occurs() -> None:
    offices = tuple(replace(cats_samples.declaration().offices_of_transit[0], sequence_number=n) for n in range(1, 11))
    [issue] = validate(declaration_with(lambda d: replace(d, offices_of_transit=offices)))
    assert (issue.path, issue.rule) == ("/CC015C/CustomsOfficeOfTransitDeclared[10]", "maxOccurs")


def test_foreign_element_is_a_complex_type_violation() -> None:
    root = encode(cats_samples.transit_declaration())
    etree.SubElement(root.find("Consignment/HouseConsignment"), "remarks").text = "fragile"
    [issue] = validate(root)
    assert (issue.path, issue.rule) == ("/CC015C/Consignment/HouseConsignment[1]/remarks", "cvc-complex-type")


def test_pattern_and_datatype_rules_are_named() -> None:
    root = encode(cats_samples.transit_declaration())
    root.find("Consignment/inlandModeOfTransport").text = "66"
    root.find("Consignment/grossMass").text = "heavy"
    issues = {issue.path: issue.rule for issue in validate(root)}
    assert issues == {
        "/CC015C/Consignment/inlandModeOfTransport": "pattern",
        "/CC015C/Consignment/grossMass": "cvc-datatype-valid",
    }


@pytest.mark.parametrize(
    ("path", "text", "rule"),
    [
        ("TransitOperation/declarationType", "T3", "CL231"),
        ("TransitOperation/additionalDeclarationType", "B", "CL042"),
        ("TransitOperation/security", "4", "CL217"),
        ("Guarantee/guaranteeType", "7", "CL251"),
        ("Guarantee/GuaranteeReference/currency", "usd", "CL048"),
        ("Consignment/inlandModeOfTransport", "6", "CL218"),
        ("Consignment/modeOfTransportAtTheBorder", "0", "CL218"),
    ],
)
def test_code_lists_are_business_rules_named_by_their_list(path: str, text: str, rule: str) -> None:
    root = encode(cats_samples.transit_declaration())
    root.find(path).text = text
    [issue] = validate(root)
    assert (issue.area, issue.rule) == ("Codelist", rule)
    assert issue.path.replace("[1]", "") == f"/CC015C/{path}"


def test_schema_issues_come_before_rules() -> None:
    root = consignment_with(country_of_dispatch="AZ", mode_of_transport_at_the_border="66")
    assert {issue.area for issue in validate(root)} == {"Schema"}


# --- business rules


def duplicate_transit_office(declaration: Declaration) -> Declaration:
    first, second, third = declaration.offices_of_transit
    third = replace(third, reference_number=first.reference_number)
    return replace(declaration, offices_of_transit=(first, second, third))


def three_seals_declared(declaration: Declaration) -> Declaration:
    equipment = replace(declaration.consignment.transport_equipment[0], number_of_seals=3)
    return replace(declaration, consignment=replace(declaration.consignment, transport_equipment=(equipment,)))


SECOND_ITEM = "/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]"


@pytest.mark.parametrize(
    ("root", "rule", "path"),
    [
        pytest.param(
            declaration_with(duplicate_transit_office),
            "R0003",
            "/CC015C/CustomsOfficeOfTransitDeclared[3]/referenceNumber",
            id="R0003",
        ),
        pytest.param(items_with(declaration_goods_item_number=3), "R0007", SECOND_ITEM, id="R0007"),
        pytest.param(
            declaration_with(three_seals_declared), "C0569", "/CC015C/Consignment/TransportEquipment[1]", id="C0569"
        ),
        pytest.param(
            declaration_with(lambda d: replace(d, office_of_destination=d.office_of_departure)),
            "CVR0001",
            "/CC015C",
            id="CVR0001-departure-is-destination",
        ),
        pytest.param(consignment_with(country_of_dispatch="AZ"), "CVR0002", "/CC015C/Consignment", id="CVR0002"),
        pytest.param(items_with(goods_item_number=5), "CVR0003", SECOND_ITEM, id="CVR0003"),
        pytest.param(
            consignment_with(gross_mass=Decimal("18399.999999")), "CVR0004", "/CC015C/Consignment", id="CVR0004"
        ),
        pytest.param(
            items_with(net_mass=Decimal("2200.000001")),
            "CVR0005",
            f"{SECOND_ITEM}/Commodity/GoodsMeasure",
            id="CVR0005-net-over-gross",
        ),
    ],
)
def test_rule_violation_reports_its_id_and_path(root: etree._Element, rule: str, path: str) -> None:
    [issue] = validate(root)
    assert (issue.area, issue.rule, issue.path) == ("Rule", rule, path)
    assert issue.message and "\n" not in issue.message


def test_c0086_needs_grn_and_access_code_for_a_comprehensive_guarantee() -> None:
    root = encode(cats_samples.transit_declaration())
    reference = root.find("Guarantee/GuaranteeReference")
    reference.remove(reference.find("accessCode"))
    [issue] = validate(root)
    assert (issue.rule, issue.path) == ("C0086", "/CC015C/Guarantee[1]")


def test_c0086_does_not_apply_to_cash() -> None:
    root = encode(cats_samples.transit_declaration())
    root.find("Guarantee/guaranteeType").text = "3"
    reference = root.find("Guarantee/GuaranteeReference")
    reference.remove(reference.find("accessCode"))
    assert validate(root) == []


def test_equal_masses_pass_and_decimal_sums_raise_no_false_alarm() -> None:
    house = cats_samples.declaration().consignment.house_consignments[0]
    renumbered = tuple(replace(item, declaration_goods_item_number=n) for n, item in enumerate(house.items, 3))
    houses = (
        replace(house, gross_mass=Decimal("0.1")),
        replace(house, sequence_number=2, gross_mass=Decimal("0.2"), items=renumbered),
    )
    assert validate(consignment_with(gross_mass=Decimal("0.3"), house_consignments=houses)) == []


# --- unknown documents and check()


def test_unknown_root_is_one_issue() -> None:
    [issue] = validate(etree.Element("{urn:example}Invoice"))
    assert (issue.area, issue.rule, issue.path) == ("Schema", "unknown-document-type", "/Invoice")


def test_check_raises_with_document_code_and_every_issue() -> None:
    root = consignment_with(country_of_dispatch="AZ", gross_mass=Decimal("100"))
    with pytest.raises(ValidationFailed) as raised:
        check(root)
    assert raised.value.document == "CC015C"
    assert sorted(issue.rule for issue in raised.value.issues) == ["CVR0002", "CVR0004"]


def test_check_passes_a_valid_document() -> None:
    check(encode(cats_samples.release_for_transit()))


# --- cost


def ten_kilobyte_declaration() -> etree._Element:
    apples = cats_samples.declaration().consignment.house_consignments[0].items[0]
    items = tuple(
        replace(
            apples,
            goods_item_number=n,
            declaration_goods_item_number=n,
            description_of_goods=f"{apples.description_of_goods}, lot {n}",
            gross_mass=Decimal("1840"),
            net_mass=Decimal("1700"),
            packaging=(Packaging(1, "CT", 120, f"SFE/POTI/{n}"),),
        )
        for n in range(1, 11)
    )
    house = replace(cats_samples.declaration().consignment.house_consignments[0], items=items)
    return etree.fromstring(etree.tostring(consignment_with(house_consignments=(house,))))


def test_a_valid_ten_kilobyte_declaration_has_no_findings_twice() -> None:
    """Its cost is measured in bench/ (the one-core ceiling), never asserted here: timing fails on a busy machine."""
    root = ten_kilobyte_declaration()
    assert 9_000 <= len(etree.tostring(root)) <= 12_000
    assert validate(root) == []  # compiles and caches
    assert validate(root) == []  # the cached validators give the same answer
