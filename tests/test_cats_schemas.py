"""The CATS XSDs: they compile, each declares exactly its message, and their simple types hold the NCTS shapes."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from lxml import etree

from nodes.customs.codec import encode
from nodes.customs.model import MESSAGE_NAMES
from tests import cats_samples

CATS = Path(__file__).resolve().parent.parent / "schemas" / "cats"
XS = "{http://www.w3.org/2001/XMLSchema}"


@cache
def schema(code: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(CATS / f"{code.lower()}.xsd")))


def errors(root: etree._Element) -> list[str]:
    checker = schema(etree.QName(root).localname)
    checker.validate(root)
    return [entry.message for entry in checker.error_log]


def test_one_file_per_message_and_nothing_else() -> None:
    messages = {path.stem.upper() for path in CATS.glob("c[cd]*.xsd")}
    assert messages == set(MESSAGE_NAMES)
    shared = {"cats-types.xsd", "cats-groups.xsd", "cats-common-domain.xsd"}
    assert {path.name for path in CATS.glob("cats-*.xsd")} == shared


@pytest.mark.parametrize("code", sorted(MESSAGE_NAMES))
def test_message_file_declares_only_its_root(code: str) -> None:
    document = etree.parse(str(CATS / f"{code.lower()}.xsd"))
    comment = document.getroot().getprevious()
    assert isinstance(comment, etree._Comment) and code[2:5] in comment.text and "caravan" in comment.text
    assert [element.get("name") for element in document.getroot().iterfind(f"{XS}element")] == [code]
    schema(code)  # compiles with libxml2


def test_shared_files_declare_no_root() -> None:
    for name in ("cats-types.xsd", "cats-groups.xsd", "cats-common-domain.xsd"):
        assert etree.parse(str(CATS / name)).getroot().find(f"{XS}element") is None


def test_xmlschema_reads_the_declaration_schema_as_xsd_1_0() -> None:
    xmlschema.XMLSchema10(str(CATS / "cc015c.xsd")).validate(encode(cats_samples.transit_declaration()))


@pytest.mark.parametrize("factory", cats_samples.FACTORIES, ids=lambda factory: factory.__name__)
def test_every_sample_is_valid_against_its_own_schema(factory) -> None:
    assert errors(encode(factory())) == []


def test_a_root_is_not_valid_against_another_message_schema() -> None:
    root = encode(cats_samples.positive_acknowledge())
    assert not schema("CC015C").validate(root)


def with_text(root: etree._Element, path: str, text: str) -> etree._Element:
    root.find(path).text = text
    return root


@pytest.mark.parametrize(
    "mrn",
    ["26UZ000100000017J4", "26GE000510ABC123M7", "23GB000246YHVFYMJ0"],  # to-be layouts and a legacy one
)
def test_mrn_type_accepts_p5_layouts(mrn: str) -> None:
    assert errors(encode(replace(cats_samples.mrn_allocated(), mrn=mrn))) == []


@pytest.mark.parametrize(
    "mrn",
    [
        "26UZ000100000017X4",  # procedure letter outside J..M in the to-be layout
        "26UZ00010000001J7",  # 17 characters
        "26uz000100000017J4",  # lower-case country
        "23GB000246YHVFYMJA",  # legacy layout ends in a digit
    ],
)
def test_mrn_type_rejects(mrn: str) -> None:
    assert errors(encode(replace(cats_samples.mrn_allocated(), mrn=mrn)))


@pytest.mark.parametrize("grn", ["26UZ0009000000017", "01GB1234567890120A123456"])
def test_grn_type_accepts_plain_and_voucher_forms(grn: str) -> None:
    assert errors(encode(replace(cats_samples.guarantee_use_cancellation(), grn=grn))) == []


@pytest.mark.parametrize("grn", ["26UZ000900000001X0", "26UZ00090000001", "01GB1234567890120A12345"])
def test_grn_type_rejects(grn: str) -> None:
    assert errors(encode(replace(cats_samples.guarantee_use_cancellation(), grn=grn)))


def test_phase_id_is_one_of_the_p5_phases() -> None:
    root = encode(cats_samples.positive_acknowledge())
    root.set("PhaseID", "NCTS5.0")
    assert errors(root) == []
    root.set("PhaseID", "NCTS6.0")
    assert errors(root)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("preparationDateAndTime", "2026-03-02T08:00:00Z"),  # NCTS writes UTC without a zone
        ("preparationDateAndTime", "2026-03-02T08:00"),
        ("TransitOperation/LRN", "L" * 23),  # an..22
        ("TransitOperation/declarationType", "T2SMXX"),  # an..5; which codes is a rule (CL231)
        ("Guarantee/guaranteeType", "77"),  # an1
        ("Guarantee/GuaranteeReference/amountToBeCovered", "40000.001"),  # n..16,2
        ("Guarantee/GuaranteeReference/currency", "US"),  # a3
        ("CustomsOfficeOfDeparture/referenceNumber", "UZ00010"),
        ("Consignment/inlandModeOfTransport", "33"),  # n1
        ("Consignment/containerIndicator", "true"),
        ("Consignment/grossMass", "18400.0000001"),  # n..16,6
        ("Consignment/HouseConsignment/ConsignmentItem/Packaging/typeOfPackages", "CTN"),
        ("Consignment/HouseConsignment/ConsignmentItem/Commodity/CommodityCode/harmonizedSystemSubHeadingCode", "0808"),
    ],
)
def test_declaration_simple_types_reject(path: str, text: str) -> None:
    assert errors(with_text(encode(cats_samples.transit_declaration()), path, text))


def test_functional_error_codes_are_the_ncts_ones() -> None:
    root = encode(cats_samples.rejection_from_departure())
    assert errors(with_text(root, "FunctionalError/errorCode", "26")) == []
    assert errors(with_text(root, "FunctionalError/errorCode", "11"))


@pytest.mark.parametrize(("code", "valid"), [("G01", True), ("G10", True), ("G100", False), ("", False)])
def test_invalid_guarantee_reason_code_is_an_3(code: str, valid: bool) -> None:
    root = with_text(encode(cats_samples.guarantee_not_valid()), "GuaranteeReference/InvalidGuaranteeReason/code", code)
    assert (errors(root) == []) is valid


def test_control_result_code_is_an_2() -> None:
    root = encode(cats_samples.control_results())
    assert errors(with_text(root, "ControlResult/code", "A2")) == []
    assert errors(with_text(root, "ControlResult/code", "A21"))


def test_limit_date_is_an_optional_date_at_the_end_of_transit_operation() -> None:
    assert errors(encode(cats_samples.transit_declaration())) == []  # a declaration leaves it out
    assert errors(with_text(encode(cats_samples.aar()), "TransitOperation/limitDate", "2026-03-10T00:00:00"))
    root = encode(cats_samples.aar())
    operation = root.find("TransitOperation")
    operation.insert(0, operation.find("limitDate"))
    assert errors(root)
    release = encode(cats_samples.release_for_transit())  # P5's CC029C has no limitDate at all
    release.find("TransitOperation").append(etree.fromstring("<limitDate>2026-03-10</limitDate>"))
    assert errors(release)


def test_enquiry_answer_needs_no_enquiry_data_but_the_enquiry_office() -> None:
    root = encode(cats_samples.information_about_non_arrived_movement())
    root.remove(root.find("Enquiry"))
    root.remove(root.find("CustomsOfficeOfDestinationActual"))
    assert errors(root) == []
    root.remove(root.find("CustomsOfficeOfEnquiryAtDeparture"))
    assert errors(root)


def test_enquiry_answer_may_name_the_holder_in_full_and_the_consignee_who_took_the_goods() -> None:
    """As HMRC's 51.8.0 CC141C: the holder's name and address beside its number, CONSIGNMENT/CONSIGNEE (ACTUAL)
    last, its name and address required; CC140C names the holder the same way."""
    answer = replace(cats_samples.information_about_non_arrived_movement(), consignee_actual=cats_samples.CONSIGNEE)
    root = encode(answer)
    holder = root.find("HolderOfTheTransitProcedure")
    holder.append(etree.fromstring("<name>Samarkand Fruit Export LLC</name>"))
    holder.append(etree.fromstring("<Address><streetAndNumber>Amir Temur 12</streetAndNumber><city>Samarkand</city>"
                                   "<country>UZ</country></Address>"))
    assert errors(root) == []
    assert root[-1].tag == "Consignment"
    root.find("Consignment/ConsigneeActual").remove(root.find("Consignment/ConsigneeActual/name"))
    assert errors(root)
    request = encode(cats_samples.request_on_non_arrived_movement())
    request.find("HolderOfTheTransitProcedure").append(etree.fromstring("<name>Samarkand Fruit Export LLC</name>"))
    assert errors(request) == []


def test_signature_may_follow_the_content_but_nothing_else() -> None:
    root = encode(cats_samples.arrival_advice())
    root.append(etree.Element("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    assert errors(root) == []
    root.append(etree.Element("{urn:example}Extension"))
    assert errors(root)
