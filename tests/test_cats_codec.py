"""The CATS codec: NCTS-shaped XML out, the same dataclass back, and one readable line per message."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from exchange.errors import DocumentError
from nodes.customs.codec import NCTS_NS, correlation, decode, encode, summary, summary_of
from nodes.customs.model import MESSAGE_NAMES, CatsMessage
from tests import cats_samples


def reparse(root: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(root))


def test_samples_cover_every_message_class() -> None:
    assert sorted(factory().code for factory in cats_samples.FACTORIES) == sorted(MESSAGE_NAMES)


@pytest.mark.parametrize("factory", cats_samples.FACTORIES, ids=lambda factory: factory.__name__)
def test_round_trip_is_exact(factory) -> None:
    message = factory()
    assert decode(reparse(encode(message))) == message


@pytest.mark.parametrize("factory", cats_samples.FACTORIES, ids=lambda factory: factory.__name__)
def test_root_is_qualified_and_children_are_not(factory) -> None:
    message = factory()
    root = encode(message)
    assert root.tag == f"{{{NCTS_NS}}}{message.code}"
    assert root.prefix == "ncts"
    assert root.get("PhaseID") == "NCTS5.1"
    assert all(etree.QName(child).namespace is None for child in root.iter() if child is not root)
    assert [child.tag for child in root[:5]] == [
        "messageSender",
        "messageRecipient",
        "preparationDateAndTime",
        "messageIdentification",
        "messageType",
    ]
    assert root.findtext("messageType") == message.code


def test_times_are_written_in_utc_without_zone_and_read_back_aware() -> None:
    tashkent = timezone(timedelta(hours=5))
    message = cats_samples.transit_declaration()
    local = replace(message, header=replace(message.header, prepared_at=datetime(2026, 3, 2, 13, 0, tzinfo=tashkent)))
    root = encode(local)
    assert root.findtext("preparationDateAndTime") == "2026-03-02T08:00:00"
    back = decode(root)
    assert back.header.prepared_at == datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    assert back.header.prepared_at.tzinfo is timezone.utc


def test_naive_times_are_taken_as_utc() -> None:
    message = cats_samples.notification_crossing_frontier()
    root = encode(replace(message, arrival_date_and_time=datetime(2026, 3, 6, 8, 40)))
    assert root.findtext("TransitOperation/arrivalDateAndTime") == "2026-03-06T08:40:00"


def test_flags_are_zero_and_one() -> None:
    assert encode(cats_samples.transit_declaration()).findtext("Consignment/containerIndicator") == "1"
    root = encode(cats_samples.control_results())
    assert root.findtext("ControlResult/stateOfSeals") == "0"
    assert decode(root).state_of_seals_ok is False


def test_decimals_keep_their_digits() -> None:
    root = encode(cats_samples.transit_declaration())
    assert root.findtext("Guarantee/GuaranteeReference/amountToBeCovered") == "40000.00"
    item = root.findall("Consignment/HouseConsignment/ConsignmentItem")[1]
    assert item.findtext("Commodity/GoodsMeasure/netMass") == "2050.5"
    assert decode(root).declaration.consignment.house_consignments[0].items[1].net_mass == Decimal("2050.5")


def test_optional_data_is_left_out_not_written_empty() -> None:
    rejection = encode(cats_samples.rejection_from_departure())
    assert rejection.find("TransitOperation/MRN") is None
    assert rejection.find("TransitOperation/rejectionReason") is None
    assert rejection.find("FunctionalError[2]/originalAttributeValue") is None
    nack = encode(cats_samples.functional_nack())
    assert nack.find("TransitOperation") is None
    declaration = encode(cats_samples.transit_declaration())
    third = declaration.findall("CustomsOfficeOfTransitDeclared")[2]
    assert third.find("arrivalDateAndTimeEstimated") is None
    assert decode(declaration).declaration.offices_of_transit[2].arrival_estimated is None


def test_released_declaration_interleaves_movement_and_declaration_items_in_p5_order() -> None:
    released = ["LRN", "MRN", "declarationType", "additionalDeclarationType"]
    released += ["declarationAcceptanceDate", "releaseDate"]
    flags = ["security", "reducedDatasetIndicator", "bindingItinerary"]
    root = encode(cats_samples.release_for_transit())
    assert [child.tag for child in root.find("TransitOperation")] == released + flags  # CC029C: no limitDate
    aar = encode(cats_samples.aar())
    assert [child.tag for child in aar.find("TransitOperation")] == [*released, *flags, "limitDate"]
    assert aar.findtext("TransitOperation/limitDate") == "2026-03-10"
    assert encode(cats_samples.transit_declaration()).find("TransitOperation/limitDate") is None
    atr = encode(cats_samples.atr())
    assert atr.find("TransitOperation").getnext().tag == "CustomsOfficeOfTransitAddressed"


def test_routing_countries_are_numbered_in_itinerary_order() -> None:
    root = encode(cats_samples.transit_declaration())
    routing = root.findall("Consignment/CountryOfRoutingOfConsignment")
    assert [(r.findtext("sequenceNumber"), r.findtext("country")) for r in routing] == [
        ("1", "UZ"),
        ("2", "TM"),
        ("3", "AZ"),
        ("4", "GE"),
    ]


def test_guarantee_reasons_come_back_in_order() -> None:
    message = cats_samples.guarantee_not_valid()
    reasons = (*message.reasons, replace(message.reasons[0], code="G03", text="access code not valid"))
    message = replace(message, reasons=reasons)
    assert decode(reparse(encode(message))) == message


@pytest.mark.parametrize(
    "root",
    [
        etree.Element(f"{{{NCTS_NS}}}CC999C"),
        etree.Element("{urn:other}CC015C"),
        etree.Element("CC015C"),
    ],
)
def test_decode_refuses_what_is_not_a_cats_message(root: etree._Element) -> None:
    with pytest.raises(DocumentError):
        decode(root)


def test_summary_of_declaration_names_route_goods_and_guarantee() -> None:
    assert summary(cats_samples.transit_declaration()) == (
        "LRN SFE-2026-0042 T1 UZ000100→GE000510 via AZ000210,AZ000310,GE000110 2 items 18,400 kg "
        "GRN 26UZ0009000000017 40,000.00 USD"
    )


@pytest.mark.parametrize(
    ("factory", "expected"),
    [
        (cats_samples.mrn_allocated, "MRN 26UZ000100000017J4 for LRN SFE-2026-0042 accepted 2026-03-02"),
        (cats_samples.guarantee_not_valid, "GRN 26UZ0009000000017 G09 reference amount insufficient"),
        (
            cats_samples.rejection_from_departure,
            "rejected: R0003 at /CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber (+1 more)",
        ),
        (
            cats_samples.control_results,
            "MRN 26UZ000100000017J4 B1 seals broken: Seal UZ0012346 broken; 12 cartons of apples missing",
        ),
        (cats_samples.notification_crossing_frontier, "MRN 26UZ000100000017J4 crossed AZ000310 at 2026-03-06T08:40:00"),
        (cats_samples.guarantee_use_result, "GRN 26UZ0009000000017 reserved 20,000.00 USD, balance 180,000.00 USD"),
        (
            cats_samples.request_on_non_arrived_movement,
            "MRN 26UZ000100000017J4 not arrived: enquiry 2026-03-11, answer by 2026-04-08",
        ),
        (
            cats_samples.information_about_non_arrived_movement,
            "MRN 26UZ000100000017J4 delivered 2026-03-09 at GE000510: Delivered to Kolkheti Fresh Trade in Poti;"
            " receipt signed by the consignee",
        ),
        (
            cats_samples.recovery_notification,
            "MRN 26UZ000100000017J4 recovery notified 2026-03-13 claims 40,000.00 USD",
        ),
    ],
)
def test_summary_lines(factory, expected: str) -> None:
    assert summary(factory()) == expected


@pytest.mark.parametrize("factory", cats_samples.FACTORIES, ids=lambda factory: factory.__name__)
def test_every_message_has_a_one_line_summary(factory) -> None:
    line = summary(factory())
    assert line and "\n" not in line and "None" not in line


def test_summary_of_refused_guarantee_use() -> None:
    refused = replace(
        cats_samples.guarantee_use_result(),
        accepted=False,
        reason_code="G09",
        reason_text="reference amount insufficient",
    )
    assert summary(refused) == "GRN 26UZ0009000000017 refused G09 reference amount insufficient"


def test_released_declaration_summary_names_the_time_limit() -> None:
    assert summary(cats_samples.aar()).endswith("GRN 26UZ0009000000017 40,000.00 USD limit 2026-03-10")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"delivery_date": None, "office_of_destination_actual": None, "text": None}, "not delivered"),
        ({"delivery_date": None, "office_of_destination_actual": None, "text": "Lost"}, "not delivered: Lost"),
        ({"text": None}, "delivered 2026-03-09 at GE000510"),
        (
            {"delivery_date": None, "office_of_destination_actual": None, "text": "Never presented",
             "consignee_actual": cats_samples.CONSIGNEE},
            "not delivered; consignee (actual) Kolkheti Fresh Trade LLC: Never presented",
        ),
    ],
)
def test_enquiry_answer_optional_data_is_left_out_and_read_back(answer: dict[str, object], expected: str) -> None:
    message = replace(cats_samples.information_about_non_arrived_movement(), **answer)
    root = encode(message)
    assert decode(reparse(root)) == message
    assert message.statement == expected
    assert (root.find("Enquiry") is None) is (message.delivery_date is None and message.text is None)


def test_recovery_without_a_claim_states_zero_in_no_currency() -> None:
    message = replace(cats_samples.recovery_notification(), amount_claimed=None, currency=None, text=None)
    root = encode(message)  # P5 requires amountClaimed and currency: ISO 4217 XXX is "no currency involved"
    assert [child.text for child in root.find("RecoveryNotification")] == ["2026-03-13", "0.00", "XXX"]
    assert decode(reparse(root)) == message
    assert summary(message) == "MRN 26UZ000100000017J4 recovery notified 2026-03-13"


def test_correlation_is_mrn_once_allocated_else_lrn() -> None:
    assert correlation(cats_samples.transit_declaration()) == cats_samples.LRN
    assert correlation(cats_samples.positive_acknowledge()) == cats_samples.LRN
    assert correlation(cats_samples.rejection_from_departure()) == cats_samples.LRN
    assert correlation(cats_samples.mrn_allocated()) == cats_samples.MRN
    assert correlation(cats_samples.control_results()) == cats_samples.MRN


def _variants() -> list[CatsMessage]:
    """Every sample, and the variants whose summary reads a property, a branch or a read-back correction."""
    refused = replace(cats_samples.guarantee_use_result(), accepted=False, reason_code="G09",
                      reason_text="reference amount insufficient")
    unclaimed = replace(cats_samples.recovery_notification(), amount_claimed=None, currency=None, text=None)
    lost = replace(cats_samples.information_about_non_arrived_movement(), delivery_date=None,
                   office_of_destination_actual=None, text="Lost", consignee_actual=cats_samples.CONSIGNEE)
    pre_lodged = replace(cats_samples.declaration_amendment(), mrn=None)
    return [factory() for factory in cats_samples.FACTORIES] + [refused, unclaimed, lost, pre_lodged]


@pytest.mark.parametrize("message", _variants(), ids=lambda message: message.code)
def test_summary_of_a_document_is_the_summary_of_its_decoded_message(message: CatsMessage) -> None:
    root = reparse(encode(message))
    assert summary_of(root) == summary(decode(root, unmapped=False)) == summary(message)


@pytest.mark.parametrize("root", [etree.Element(f"{{{NCTS_NS}}}CC999C"), etree.Element("CC015C")])
def test_summary_of_refuses_what_is_not_a_cats_message(root: etree._Element) -> None:
    with pytest.raises(DocumentError):
        summary_of(root)


def test_summary_of_reads_only_what_the_line_shows() -> None:
    root = reparse(encode(cats_samples.transit_declaration()))
    root.find(".//ConsignmentItem//grossMass").text = "heavy"  # an item's mass: not on the line
    with pytest.raises(DocumentError, match="cannot be read as gross_mass"):
        decode(root, unmapped=False)
    assert summary_of(root) == summary(cats_samples.transit_declaration())
    root.find("Consignment/grossMass").text = "heavy"  # the consignment's: on the line, refused as decode does
    with pytest.raises(DocumentError, match="cannot be read as gross_mass"):
        summary_of(root)
