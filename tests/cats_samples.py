"""Realistic CATS messages for one pilot movement: apples and cotton fabric from Tashkent to Poti.

Route: Tashkent (UZ000100, departure) → ferry → Alat port (AZ000210) → Red Bridge, Qırmızı Körpü
(AZ000310) / Tsiteli Khidi (GE000110) → Poti (GE000510, destination). Office codes are synthetic (no
AZ/GE/UZ office list is public) but follow the NCTS pattern; the MRN carries a valid check digit.
One factory per message class, so a test can take any of them and change one field with `replace`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

from nodes.customs.model import (
    AAR,
    ATR,
    Address,
    AmendmentAcceptance,
    ArrivalAdvice,
    ArrivalNotification,
    CatsMessage,
    Consignment,
    ConsignmentItem,
    ControlDecisionNotification,
    ControlResults,
    Declaration,
    DeclarationAmendment,
    Discrepancies,
    ForwardedIncidentNotification,
    FunctionalError,
    FunctionalNack,
    GoodsRelease,
    Guarantee,
    GuaranteeNotValid,
    GuaranteeReference,
    GuaranteeUse,
    GuaranteeUseCancellation,
    GuaranteeUseResult,
    Header,
    HouseConsignment,
    Incident,
    IncidentNotification,
    InformationAboutNonArrivedMovement,
    InvalidationDecision,
    InvalidationRequest,
    InvalidGuaranteeReason,
    MRNAllocated,
    NoRelease,
    NotificationCrossingFrontier,
    Packaging,
    PositiveAcknowledge,
    PresentationNotification,
    RecoveryNotification,
    RejectionFromDeparture,
    RejectionFromDestination,
    ReleaseForTransit,
    RequestOnNonArrivedMovement,
    Seal,
    SupportingDocument,
    Trader,
    TransitDeclaration,
    TransitOfficeDeclared,
    TransportEquipment,
    UnloadingPermission,
    UnloadingRemarks,
    WriteOffNotification,
)

TASHKENT = "UZ000100"
GUARANTEE_OFFICE = "UZ000900"
ALAT_PORT = "AZ000210"
RED_BRIDGE_AZ = "AZ000310"  # Qırmızı Körpü
RED_BRIDGE_GE = "GE000110"  # Tsiteli Khidi
POTI = "GE000510"

LRN = "SFE-2026-0042"
MRN = "26UZ000100000017J4"  # to-be layout, procedure letter J (no security), ISO 6346 check digit 4
GRN = "26UZ0009000000017"
HOLDER_ID = "UZ301234567"
CONSIGNEE_ID = "GE204567890"


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc)


def header(message_id: str, sender: str = "NTA.UZ", recipient: str = HOLDER_ID, *, day: int = 2, hour: int = 9,
           correlation_id: str | None = LRN) -> Header:
    return Header(sender, recipient, _at(day, hour), message_id, correlation_id)


HOLDER = Trader(
    HOLDER_ID,
    "Samarkand Fruit Export LLC",
    Address("Amir Temur ko'chasi 108", "100084", "Tashkent", "UZ"),
)
CONSIGNEE = Trader(
    CONSIGNEE_ID,
    "Kolkheti Fresh Trade LLC",
    Address("Davit Aghmashenebeli St 15", "4400", "Poti", "GE"),
)


def declaration() -> Declaration:
    apples = ConsignmentItem(
        goods_item_number=1,
        declaration_goods_item_number=1,
        description_of_goods="Fresh apples, Golden Delicious, in cartons",
        harmonized_system_sub_heading_code="080810",
        gross_mass=Decimal("16200"),
        net_mass=Decimal("15000"),
        packaging=(Packaging(1, "CT", 1200, "SFE/POTI/1-1200"),),
    )
    cotton = ConsignmentItem(
        goods_item_number=2,
        declaration_goods_item_number=2,
        description_of_goods="Woven cotton fabric, bleached, under 200 g/m2",
        harmonized_system_sub_heading_code="520812",
        gross_mass=Decimal("2200"),
        net_mass=Decimal("2050.5"),
        packaging=(Packaging(1, "BL", 40),),
    )
    return Declaration(
        lrn=LRN,
        declaration_type="T1",
        additional_declaration_type="A",
        security=0,
        office_of_departure=TASHKENT,
        office_of_destination=POTI,
        offices_of_transit=(
            TransitOfficeDeclared(1, ALAT_PORT, _at(5, 14)),
            TransitOfficeDeclared(2, RED_BRIDGE_AZ, _at(6, 8)),
            TransitOfficeDeclared(3, RED_BRIDGE_GE),
        ),
        holder=HOLDER,
        guarantees=(Guarantee(1, "1", (GuaranteeReference(1, GRN, "7319", Decimal("40000.00"), "USD"),)),),
        consignment=Consignment(
            country_of_dispatch="UZ",
            country_of_destination="GE",
            container_indicator=True,
            inland_mode_of_transport="3",
            mode_of_transport_at_the_border="3",
            gross_mass=Decimal("18400"),
            consignor=HOLDER,
            consignee=CONSIGNEE,
            transport_equipment=(
                TransportEquipment(1, "MSKU1234565", 2, (Seal(1, "UZ0012345"), Seal(2, "UZ0012346"))),
            ),
            countries_of_routing=("UZ", "TM", "AZ", "GE"),
            house_consignments=(HouseConsignment(1, Decimal("18400"), (apples, cotton)),),
            supporting_documents=(
                SupportingDocument(1, "N851", "UZ/PC/2026/000417"),
                SupportingDocument(2, "N954", "UZ-CO-2026-118203"),
            ),
        ),
    )


def released_declaration() -> Declaration:
    """The declaration as the office of departure sends it on: with the time limit it set at release."""
    return replace(declaration(), limit_date=date(2026, 3, 10))


def transit_declaration() -> TransitDeclaration:
    return TransitDeclaration(header("SFE-MSG-0001", HOLDER_ID, "NTA.UZ", hour=8), declaration())


def positive_acknowledge() -> PositiveAcknowledge:
    return PositiveAcknowledge(header("UZ-DEP-000101"), LRN, TASHKENT, HOLDER_ID)


def mrn_allocated() -> MRNAllocated:
    return MRNAllocated(header("UZ-DEP-000102"), LRN, MRN, date(2026, 3, 2), TASHKENT, HOLDER_ID)


def rejection_from_departure() -> RejectionFromDeparture:
    return RejectionFromDeparture(
        header=header("UZ-DEP-000103"),
        lrn=LRN,
        mrn=None,
        business_rejection_type="015",
        rejection_date_and_time=datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc),
        rejection_code="12",
        rejection_reason=None,
        office_of_departure=TASHKENT,
        holder=HOLDER_ID,
        errors=(
            FunctionalError("/CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber", "14", "R0003", ALAT_PORT),
            FunctionalError("/CC015C/Consignment/TransportEquipment[1]/numberOfSeals", "14", "C0569"),
        ),
    )


def release_for_transit() -> ReleaseForTransit:
    return ReleaseForTransit(
        header("UZ-DEP-000104", correlation_id=MRN),
        MRN,
        date(2026, 3, 2),
        replace(released_declaration(), limit_date=None),  # CC029C carries no time limit
        date(2026, 3, 2),
    )


def no_release() -> NoRelease:
    return NoRelease(
        header("UZ-DEP-000105", correlation_id=MRN),
        MRN,
        date(2026, 3, 2),  # P5 dates the decision by the message itself
        "GU",
        "Guarantee not valid and not amended in time",
        TASHKENT,
        HOLDER_ID,
        _at(2, 8),
    )


def guarantee_not_valid() -> GuaranteeNotValid:
    return GuaranteeNotValid(
        header("UZ-DEP-000106", correlation_id=MRN),
        MRN,
        date(2026, 3, 2),
        (InvalidGuaranteeReason(GRN, "G09", "reference amount insufficient"),),
        TASHKENT,
        HOLDER_ID,
        date(2026, 3, 2),
    )


def invalidation_request() -> InvalidationRequest:
    return InvalidationRequest(
        header("SFE-MSG-0002", HOLDER_ID, "NTA.UZ", correlation_id=MRN),
        LRN,
        MRN,
        date(2026, 3, 2),
        "Buyer in Poti cancelled the order",
        TASHKENT,
        HOLDER_ID,
    )


def invalidation_decision() -> InvalidationDecision:
    return InvalidationDecision(
        header("UZ-DEP-000107", correlation_id=MRN),
        LRN,
        MRN,
        True,
        date(2026, 3, 2),
        False,
        None,
        TASHKENT,
        HOLDER_ID,
    )


def atr() -> ATR:
    return ATR(header("UZ-DEP-000108", "NTA.UZ", "NTA.AZ", correlation_id=MRN), MRN, date(2026, 3, 2), ALAT_PORT,
               released_declaration(), date(2026, 3, 2))


def aar() -> AAR:
    return AAR(
        header("UZ-DEP-000109", "NTA.UZ", "NTA.GE", correlation_id=MRN),
        MRN,
        date(2026, 3, 2),
        released_declaration(),
        date(2026, 3, 2),
    )


def notification_crossing_frontier() -> NotificationCrossingFrontier:
    return NotificationCrossingFrontier(
        header("AZ-TRA-000310", "NTA.AZ", "NTA.UZ", day=6, hour=9, correlation_id=MRN),
        MRN,
        _at(6, 8, 40),
        RED_BRIDGE_AZ,
        TASHKENT,
    )


def arrival_notification() -> ArrivalNotification:
    return ArrivalNotification(
        header("KFT-ARR-0007", CONSIGNEE_ID, "NTA.GE", day=7, hour=11, correlation_id=MRN),
        MRN,
        _at(7, 10, 55),
        POTI,
        CONSIGNEE_ID,
        "GEPTI",
    )


def arrival_advice() -> ArrivalAdvice:
    return ArrivalAdvice(
        header("GE-DES-000511", "NTA.GE", "NTA.UZ", day=7, hour=12, correlation_id=MRN),
        MRN,
        date(2026, 3, 7),
        POTI,
        TASHKENT,
    )


def rejection_from_destination() -> RejectionFromDestination:
    return RejectionFromDestination(
        header=header("GE-DES-000510", "NTA.GE", CONSIGNEE_ID, day=7, hour=11, correlation_id=MRN),
        mrn=MRN,
        business_rejection_type="007",
        rejection_date_and_time=datetime(2026, 3, 7, 10, 0, tzinfo=timezone.utc),
        rejection_code="12",
        rejection_reason="Arrival notified at an office that holds no AAR for this MRN",
        office_of_destination=POTI,
        trader_at_destination=CONSIGNEE_ID,
        errors=(FunctionalError("/CC007C/TransitOperation/MRN", "90", "UNK_MRN", MRN),),
    )


def goods_release() -> GoodsRelease:
    return GoodsRelease(
        header("GE-DES-000512", "NTA.GE", CONSIGNEE_ID, day=7, hour=15, correlation_id=MRN),
        MRN,
        date(2026, 3, 7),
        "1",
        POTI,
        CONSIGNEE_ID,
    )


def control_results() -> ControlResults:
    return ControlResults(
        header("GE-DES-000513", "NTA.GE", "NTA.UZ", day=7, hour=16, correlation_id=MRN),
        MRN,
        date(2026, 3, 7),
        "B1",
        False,
        "Seal UZ0012346 broken; 12 cartons of apples missing",
        POTI,
        TASHKENT,
    )


def discrepancies() -> Discrepancies:
    return Discrepancies(
        header("UZ-DEP-000110", day=8, correlation_id=MRN),
        MRN,
        date(2026, 3, 8),
        "Seal UZ0012346 broken; 12 cartons of apples missing",
        TASHKENT,
        HOLDER_ID,
    )


def write_off_notification() -> WriteOffNotification:
    return WriteOffNotification(
        header("UZ-DEP-000111", day=8, correlation_id=MRN), MRN, date(2026, 3, 8), TASHKENT, HOLDER_ID, ()
    )


def request_on_non_arrived_movement() -> RequestOnNonArrivedMovement:
    return RequestOnNonArrivedMovement(
        header("UZ-DEP-000114", day=11, correlation_id=MRN),
        MRN,
        date(2026, 3, 11),
        date(2026, 4, 8),
        TASHKENT,
        TASHKENT,
        HOLDER_ID,
    )


def information_about_non_arrived_movement() -> InformationAboutNonArrivedMovement:
    return InformationAboutNonArrivedMovement(
        header("SFE-MSG-0003", HOLDER_ID, "NTA.UZ", day=12, correlation_id=MRN),
        MRN,
        POTI,
        TASHKENT,
        HOLDER_ID,
        date(2026, 3, 9),
        "Delivered to Kolkheti Fresh Trade in Poti; receipt signed by the consignee",
    )


def recovery_notification() -> RecoveryNotification:
    return RecoveryNotification(
        header("UZ-DEP-000115", day=13, correlation_id=MRN),
        MRN,
        date(2026, 3, 2),
        date(2026, 3, 13),
        "Goods not presented at GE000510 by 2026-03-10; holder: not delivered: container lost at sea",
        Decimal("40000.00"),
        "USD",
        TASHKENT,
        TASHKENT,
        HOLDER_ID,
    )


def guarantee_use() -> GuaranteeUse:
    return GuaranteeUse(
        header("UZ-DEP-000112", "NTA.UZ", "GMS.UZ", correlation_id=MRN),
        MRN,
        GRN,
        "7319",
        HOLDER_ID,
        Decimal("40000.00"),
        "USD",
        TASHKENT,
        GUARANTEE_OFFICE,
    )


def guarantee_use_result() -> GuaranteeUseResult:
    return GuaranteeUseResult(
        header("UZ-GUA-000901", "GMS.UZ", "NTA.UZ", correlation_id=MRN),
        MRN,
        GRN,
        True,
        None,
        None,
        Decimal("20000.00"),
        Decimal("180000.00"),
        "USD",
        GUARANTEE_OFFICE,
        TASHKENT,
    )


def guarantee_use_cancellation() -> GuaranteeUseCancellation:
    return GuaranteeUseCancellation(
        header("UZ-DEP-000113", "NTA.UZ", "GMS.UZ", day=8, correlation_id=MRN), MRN, GRN, TASHKENT, GUARANTEE_OFFICE
    )


def functional_nack() -> FunctionalNack:
    return FunctionalNack(
        header("AZ-TRA-000311", "NTA.AZ", "NTA.UZ", day=6, hour=9, correlation_id=MRN),
        None,
        "UZ-DEP-000108",
        "CD050C",
        (FunctionalError("/CD050C/TransitOperation/MRN", "90", "UNK_MRN", MRN),),
    )


def declaration_amendment() -> DeclarationAmendment:
    more = replace(declaration().guarantees[0].references[0], amount_to_be_covered=Decimal("45000.00"))
    amended = replace(declaration(), guarantees=(replace(declaration().guarantees[0], references=(more,)),))
    return DeclarationAmendment(header("SFE-MSG-0003", HOLDER_ID, "NTA.UZ", correlation_id=MRN), MRN, amended, True)


def amendment_acceptance() -> AmendmentAcceptance:
    return AmendmentAcceptance(
        header("UZ-DEP-000115", correlation_id=MRN), LRN, MRN, _at(2, 9), _at(2, 9, 5), TASHKENT, HOLDER_ID
    )


def control_decision_notification() -> ControlDecisionNotification:
    return ControlDecisionNotification(header("UZ-DEP-000116", correlation_id=MRN), LRN, MRN, _at(2, 9), "0",
                                       TASHKENT, HOLDER_ID)


def presentation_notification() -> PresentationNotification:
    return PresentationNotification(header("SFE-MSG-0004", HOLDER_ID, "NTA.UZ"), LRN, TASHKENT, HOLDER_ID, "UZTAS")


def unloading_permission() -> UnloadingPermission:
    return UnloadingPermission(
        header("GE-DES-000510", "NTA.GE", CONSIGNEE_ID, day=5, correlation_id=MRN),
        MRN, "T1", date(2026, 3, 2), 0, False, POTI, CONSIGNEE_ID,
    )


def unloading_remarks() -> UnloadingRemarks:
    return UnloadingRemarks(
        header("GE-KFT-000044", CONSIGNEE_ID, "NTA.GE", day=5, correlation_id=MRN),
        MRN, POTI, CONSIGNEE_ID, conform=False, unloading_completion=True, unloading_date=date(2026, 3, 5),
        state_of_seals_ok=False, remark="Seal UZ-SEAL-000302 missing",
    )


INCIDENTS = (Incident(1, "1", "Diverted via Gardabani: Red Bridge closed", "GE", "GEGRB"),)


def incident_notification() -> IncidentNotification:
    return IncidentNotification(
        header("GE-TRA-000111", "NTA.GE", "NTA.UZ", day=4, correlation_id=MRN),
        MRN, _at(4, 22), TASHKENT, RED_BRIDGE_GE, INCIDENTS,
    )


def forwarded_incident_notification() -> ForwardedIncidentNotification:
    return ForwardedIncidentNotification(
        header("UZ-DEP-000117", day=4, correlation_id=MRN), MRN, _at(4, 22), TASHKENT, RED_BRIDGE_GE, INCIDENTS
    )


FACTORIES: tuple[Callable[[], CatsMessage], ...] = (
    transit_declaration,
    positive_acknowledge,
    mrn_allocated,
    rejection_from_departure,
    release_for_transit,
    no_release,
    guarantee_not_valid,
    invalidation_request,
    invalidation_decision,
    atr,
    aar,
    notification_crossing_frontier,
    arrival_notification,
    rejection_from_destination,
    arrival_advice,
    goods_release,
    control_results,
    discrepancies,
    write_off_notification,
    request_on_non_arrived_movement,
    information_about_non_arrived_movement,
    recovery_notification,
    guarantee_use,
    guarantee_use_result,
    guarantee_use_cancellation,
    functional_nack,
    declaration_amendment,
    amendment_acceptance,
    control_decision_notification,
    presentation_notification,
    unloading_permission,
    unloading_remarks,
    incident_notification,
    forwarded_incident_notification,
)
"""One factory per message class of `nodes.customs.model`, in flow order."""
