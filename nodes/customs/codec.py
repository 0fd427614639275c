"""CATS messages as NCTS-shaped XML, and back.

Every message is described once, as a table of (element path, dataclass field, value kind) entries,
and the engine of `nodes.xmlmap` walks that table in both directions. That keeps encode and decode from
drifting apart, and makes the element order of the table the element order of `schemas/cats/` by
construction.
The groups several messages share (the MESSAGE header, the whole declaration, functional errors) are
defined once and referenced from each message's table.

XML conventions are NCTS's: the root is qualified (`ncts:CC015C`), its children are not; dates and
times are UTC without a zone designator, to the second; flags are 0/1; optional data is left out
rather than written empty.

The XML is NCTS P5 (51.8.6) as written: names, order and cardinalities of `schemas/cats/`, which follow
the official schemas. Where P5 requires data the domain classes do not hold yet (a flag caravan never
sets, the acceptance date of a release), `_COMPLETE` fills it in before writing and `_FROM_HEADER` gives
back on reading what P5 does not carry; both say what they assume.

A declaration carries more P5 groups than its named fields (a trader's LocationOfGoods, transport means,
parties...): reading one whose document has data elements the tables do not map keeps the whole of it as
the generated binding (`Declaration.p5`, `nodes.customs.binding`), and writing a message that carries such
a declaration completes what the tables wrote with every group of it that the message's schema has.
The bindings are imported by the first message that needs them: the generated classes cost a process a
noticeable share of its start-up, and most processes (the hub, a run of the pilot) never bind at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timezone
from decimal import Decimal
from functools import cache
from typing import Any

from lxml import etree

from exchange.clock import utc
from exchange.errors import DocumentError
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
from nodes.xmlmap import DATE, DECIMAL, INT, Each, Fixed, Kind, Leaf, Part, Struct, View, mapped_paths, read, write

__all__ = ["NCTS_NS", "PHASE_ID", "correlation", "decode", "encode", "summary", "summary_of"]

NCTS_NS = "http://ncts.dgtaxud.ec"
PHASE_ID = "NCTS5.1"


# ---------------------------------------------------------------------------------------------------------------
# NCTS value kinds beyond the shared ones (nodes.xmlmap): times without a zone designator, flags as 0/1.


def _dump_datetime(moment: datetime) -> str:
    return utc(moment).replace(tzinfo=None).isoformat(timespec="seconds")


def _load_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


DATETIME = Kind(_dump_datetime, _load_datetime)
FLAG = Kind(lambda value: "1" if value else "0", lambda text: text == "1")
DAY = Kind(
    lambda day: _dump_datetime(datetime.combine(day, time(), timezone.utc)), lambda text: _load_datetime(text).date()
)
"""A P5 date-and-time item held as a date by the domain class: written at 00:00:00 UTC."""


# ---------------------------------------------------------------------------------------------------------------
# Shared groups


_HEADER = Struct(
    Header,
    (
        Leaf("messageSender", "sender"),
        Leaf("messageRecipient", "recipient"),
        Leaf("preparationDateAndTime", "prepared_at", DATETIME),
        Leaf("messageIdentification", "message_id"),
        Leaf("correlationIdentifier", "correlation_id"),
    ),
)
"""The MESSAGE group. messageType is the message's own code rather than a header field, so `encode`
places it after messageIdentification, where the schema wants it, and `decode` reads it from the root."""

_TRADER = Struct(
    Trader,
    (
        Leaf("identificationNumber", "identification_number"),
        Leaf("name", "name"),
        Part(
            "Address",
            "address",
            Struct(
                Address,
                (
                    Leaf("streetAndNumber", "street_and_number"),
                    Leaf("postcode", "postcode"),
                    Leaf("city", "city"),
                    Leaf("country", "country"),
                ),
            ),
        ),
    ),
)

_CONSIGNMENT_ITEM = Struct(
    ConsignmentItem,
    (
        Leaf("goodsItemNumber", "goods_item_number", INT),
        Leaf("declarationGoodsItemNumber", "declaration_goods_item_number", INT),
        Leaf("Commodity/descriptionOfGoods", "description_of_goods"),
        Leaf("Commodity/CommodityCode/harmonizedSystemSubHeadingCode", "harmonized_system_sub_heading_code"),
        Leaf("Commodity/GoodsMeasure/grossMass", "gross_mass", DECIMAL),
        Leaf("Commodity/GoodsMeasure/netMass", "net_mass", DECIMAL),
        Each(
            "Packaging",
            "packaging",
            Struct(
                Packaging,
                (
                    Leaf("sequenceNumber", "sequence_number", INT),
                    Leaf("typeOfPackages", "type_of_packages"),
                    Leaf("numberOfPackages", "number_of_packages", INT),
                    Leaf("shippingMarks", "shipping_marks"),
                ),
            ),
        ),
    ),
)

_CONSIGNMENT = Struct(
    Consignment,
    (
        Leaf("countryOfDispatch", "country_of_dispatch"),
        Leaf("countryOfDestination", "country_of_destination"),
        Leaf("containerIndicator", "container_indicator", FLAG),
        Leaf("inlandModeOfTransport", "inland_mode_of_transport"),
        Leaf("modeOfTransportAtTheBorder", "mode_of_transport_at_the_border"),
        Leaf("grossMass", "gross_mass", DECIMAL),
        Part("Consignor", "consignor", _TRADER),
        Part("Consignee", "consignee", _TRADER),
        Each(
            "TransportEquipment",
            "transport_equipment",
            Struct(
                TransportEquipment,
                (
                    Leaf("sequenceNumber", "sequence_number", INT),
                    Leaf("containerIdentificationNumber", "container_identification_number"),
                    Leaf("numberOfSeals", "number_of_seals", INT),
                    Each(
                        "Seal",
                        "seals",
                        Struct(
                            Seal,
                            (Leaf("sequenceNumber", "sequence_number", INT), Leaf("identifier", "identifier")),
                        ),
                    ),
                ),
            ),
        ),
        Each("CountryOfRoutingOfConsignment", "countries_of_routing", Leaf("country"), numbered=True),
        Each(
            "SupportingDocument",
            "supporting_documents",
            Struct(
                SupportingDocument,
                (
                    Leaf("sequenceNumber", "sequence_number", INT),
                    Leaf("type", "type"),
                    Leaf("referenceNumber", "reference_number"),
                ),
            ),
        ),
        Each(
            "HouseConsignment",
            "house_consignments",
            Struct(
                HouseConsignment,
                (
                    Leaf("sequenceNumber", "sequence_number", INT),
                    Leaf("grossMass", "gross_mass", DECIMAL),
                    Each("ConsignmentItem", "items", _CONSIGNMENT_ITEM),
                ),
            ),
        ),
    ),
)

_DECLARATION = Struct(
    Declaration,
    (
        Leaf("TransitOperation/LRN", "lrn"),
        Leaf("TransitOperation/declarationType", "declaration_type"),
        Leaf("TransitOperation/additionalDeclarationType", "additional_declaration_type"),
        Leaf("TransitOperation/security", "security", INT),
        Leaf("TransitOperation/reducedDatasetIndicator", "reduced_dataset_indicator", FLAG),
        Leaf("TransitOperation/bindingItinerary", "binding_itinerary", FLAG),
        Leaf("TransitOperation/limitDate", "limit_date", DATE),
        Leaf("CustomsOfficeOfDeparture/referenceNumber", "office_of_departure"),
        Leaf("CustomsOfficeOfDestinationDeclared/referenceNumber", "office_of_destination"),
        Each(
            "CustomsOfficeOfTransitDeclared",
            "offices_of_transit",
            Struct(
                TransitOfficeDeclared,
                (
                    Leaf("sequenceNumber", "sequence_number", INT),
                    Leaf("referenceNumber", "reference_number"),
                    Leaf("arrivalDateAndTimeEstimated", "arrival_estimated", DATETIME),
                ),
            ),
        ),
        Part("HolderOfTheTransitProcedure", "holder", _TRADER),
        Each(
            "Guarantee",
            "guarantees",
            Struct(
                Guarantee,
                (
                    Leaf("sequenceNumber", "sequence_number", INT),
                    Leaf("guaranteeType", "guarantee_type"),
                    Each(
                        "GuaranteeReference",
                        "references",
                        Struct(
                            GuaranteeReference,
                            (
                                Leaf("sequenceNumber", "sequence_number", INT),
                                Leaf("GRN", "grn"),
                                Leaf("accessCode", "access_code"),
                                Leaf("amountToBeCovered", "amount_to_be_covered", DECIMAL),
                                Leaf("currency", "currency"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
        Part("Consignment", "consignment", _CONSIGNMENT),
    ),
)

_FUNCTIONAL_ERRORS = Each(
    "FunctionalError",
    "errors",
    Struct(
        FunctionalError,
        (
            Leaf("errorPointer", "error_pointer"),
            Leaf("errorCode", "error_code"),
            Leaf("errorReason", "error_reason"),
            Leaf("originalAttributeValue", "original_attribute_value"),
        ),
    ),
)

# Fields that many messages carry under the same names.
_MRN = Leaf("TransitOperation/MRN", "mrn")
_LRN = Leaf("TransitOperation/LRN", "lrn")
_DEPARTURE = Leaf("CustomsOfficeOfDeparture/referenceNumber", "office_of_departure")
_DESTINATION_ACTUAL = Leaf("CustomsOfficeOfDestinationActual/referenceNumber", "office_of_destination_actual")
_GUARANTEE_OFFICE = Leaf("CustomsOfficeOfGuarantee/referenceNumber", "office_of_guarantee")
_ENQUIRY_OFFICE = Leaf("CustomsOfficeOfEnquiryAtDeparture/referenceNumber", "office_of_enquiry")
_HOLDER_ID = Leaf("HolderOfTheTransitProcedure/identificationNumber", "holder")
_TRADER_AT_DESTINATION = Leaf("TraderAtDestination/identificationNumber", "trader_at_destination")
_RELEASED = (
    _MRN,
    Leaf("TransitOperation/declarationAcceptanceDate", "acceptance_date", DATE),
    Leaf("TransitOperation/releaseDate", "release_date", DATE),
)
_REJECTION = (
    Leaf("TransitOperation/businessRejectionType", "business_rejection_type"),
    Leaf("TransitOperation/rejectionDateAndTime", "rejection_date_and_time", DATETIME),
    Leaf("TransitOperation/rejectionCode", "rejection_code"),
    Leaf("TransitOperation/rejectionReason", "rejection_reason"),
)
_WHOLE_DECLARATION = Part("", "declaration", _DECLARATION)
_INCIDENT_REGISTRATION = (
    _MRN,
    Leaf("TransitOperation/incidentNotificationDateAndTime", "notified_at", DATETIME),
    _DEPARTURE,
    Leaf("CustomsOfficeOfIncidentRegistration/referenceNumber", "office_of_incident_registration"),
    Each(
        "Consignment/Incident",
        "incidents",
        Struct(
            Incident,
            (
                Leaf("sequenceNumber", "sequence_number", INT),
                Leaf("code", "code"),
                Leaf("text", "text"),
                Leaf("Location/qualifierOfIdentification", "qualifier_of_identification"),
                Leaf("Location/UNLocode", "location"),
                Leaf("Location/country", "country"),
            ),
        ),
    ),
)
"""CD180C and the CC182C that forwards it carry the same data under the same names."""


# ---------------------------------------------------------------------------------------------------------------
# One table per message; the header is handled apart because messageType is not a dataclass field.

_MESSAGES: dict[str, Struct] = {
    struct.cls.code: struct  # type: ignore[attr-defined]
    for struct in (
        Struct(TransitDeclaration, (_WHOLE_DECLARATION,)),
        Struct(PositiveAcknowledge, (_LRN, _DEPARTURE, _HOLDER_ID)),
        Struct(
            MRNAllocated,
            (
                _LRN,
                _MRN,
                Leaf("TransitOperation/declarationAcceptanceDate", "acceptance_date", DATE),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            RejectionFromDeparture,
            (_LRN, _MRN, *_REJECTION, _DEPARTURE, _HOLDER_ID, _FUNCTIONAL_ERRORS),
        ),
        Struct(
            RejectionFromDestination,
            (
                _MRN,
                *_REJECTION,
                Leaf("CustomsOfficeOfDestinationActual/referenceNumber", "office_of_destination"),
                _TRADER_AT_DESTINATION,
                _FUNCTIONAL_ERRORS,
            ),
        ),
        Struct(ReleaseForTransit, (*_RELEASED, _WHOLE_DECLARATION)),
        Struct(
            NoRelease,
            (
                _MRN,
                Leaf("TransitOperation/declarationSubmissionDateAndTime", "declaration_submitted_at", DATETIME),
                Leaf("TransitOperation/noReleaseMotivationCode", "motivation_code"),
                Leaf("TransitOperation/noReleaseMotivationText", "motivation_text"),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            GuaranteeNotValid,
            (
                _MRN,
                Leaf("TransitOperation/declarationAcceptanceDate", "acceptance_date", DATE),
                _DEPARTURE,
                _HOLDER_ID,
                Each(
                    "GuaranteeReference",
                    "reasons",
                    Struct(
                        InvalidGuaranteeReason,
                        (
                            Leaf("GRN", "grn"),
                            Fixed("InvalidGuaranteeReason/sequenceNumber", "1"),
                            Leaf("InvalidGuaranteeReason/code", "code"),
                            Leaf("InvalidGuaranteeReason/text", "text"),
                        ),
                    ),
                    numbered=True,
                ),
            ),
        ),
        Struct(
            InvalidationRequest,
            (
                _LRN,
                _MRN,
                Leaf("Invalidation/requestDateAndTime", "request_date", DAY),
                Fixed("Invalidation/initiatedByCustoms", "0"),
                Leaf("Invalidation/justification", "justification"),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            InvalidationDecision,
            (
                _LRN,
                _MRN,
                Leaf("Invalidation/decisionDateAndTime", "decision_date", DAY),
                Leaf("Invalidation/decision", "decision", FLAG),
                Leaf("Invalidation/initiatedByCustoms", "initiated_by_customs", FLAG),
                Leaf("Invalidation/justification", "justification"),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            ATR,
            (
                *_RELEASED,
                Leaf("CustomsOfficeOfTransitAddressed/referenceNumber", "office_of_transit"),
                _WHOLE_DECLARATION,
            ),
        ),
        Struct(AAR, (*_RELEASED, _WHOLE_DECLARATION)),
        Struct(
            NotificationCrossingFrontier,
            (
                _MRN,
                Leaf("TransitOperation/arrivalDateAndTime", "arrival_date_and_time", DATETIME),
                Leaf("CustomsOfficeOfTransitActual/referenceNumber", "office_of_transit_actual"),
                _DEPARTURE,
            ),
        ),
        Struct(
            ArrivalNotification,
            (
                _MRN,
                Leaf("TransitOperation/arrivalNotificationDateAndTime", "arrival_notification_date", DATETIME),
                Leaf("TransitOperation/simplifiedProcedure", "simplified_procedure", FLAG),
                Leaf("TransitOperation/incidentFlag", "incident_flag", FLAG),
                _DESTINATION_ACTUAL,
                _TRADER_AT_DESTINATION,
                Leaf("Consignment/LocationOfGoods/typeOfLocation", "type_of_location"),
                Leaf("Consignment/LocationOfGoods/qualifierOfIdentification", "qualifier_of_identification"),
                Leaf("Consignment/LocationOfGoods/UNLocode", "location_of_goods"),
            ),
        ),
        Struct(
            ArrivalAdvice,
            (_MRN, Leaf("TransitOperation/arrivalDate", "arrival_date", DATE), _DESTINATION_ACTUAL, _DEPARTURE),
        ),
        Struct(
            GoodsRelease,
            (
                _MRN,
                Leaf("TransitOperation/releaseDate", "release_date", DATE),
                Leaf("TransitOperation/releaseIndicator", "release_type"),
                _DESTINATION_ACTUAL,
                _TRADER_AT_DESTINATION,
            ),
        ),
        Struct(
            ControlResults,
            (
                _MRN,
                _DESTINATION_ACTUAL,
                _DEPARTURE,
                Leaf("ControlResult/code", "control_result_code"),
                Leaf("ControlResult/date", "control_date", DATE),
                Leaf("ControlResult/stateOfSeals", "state_of_seals_ok", FLAG),
                Leaf("ControlResult/text", "discrepancies"),
            ),
        ),
        Struct(
            Discrepancies,
            (
                _MRN,
                Leaf("TransitOperation/discrepanciesNotificationDate", "discrepancies_notification_date", DATE),
                Leaf("TransitOperation/discrepanciesNotificationText", "discrepancies"),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            WriteOffNotification,
            (
                _MRN,
                Leaf("TransitOperation/writeOffDate", "write_off_date", DATE),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            RequestOnNonArrivedMovement,
            (
                _MRN,
                Leaf("TransitOperation/requestOnNonArrivedMovementDate", "request_date", DATE),
                Leaf("TransitOperation/limitForResponseDate", "limit_for_response_date", DATE),
                _DEPARTURE,
                _ENQUIRY_OFFICE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            InformationAboutNonArrivedMovement,
            (
                _MRN,
                _DESTINATION_ACTUAL,
                _ENQUIRY_OFFICE,
                _HOLDER_ID,
                Leaf("Enquiry/TC11DeliveryDate", "delivery_date", DATE),
                Leaf("Enquiry/text", "text"),
                Part("Consignment/ConsigneeActual", "consignee_actual", _TRADER),
            ),
        ),
        Struct(
            RecoveryNotification,
            (
                _MRN,
                Leaf("TransitOperation/declarationAcceptanceDate", "acceptance_date", DATE),
                Leaf("RecoveryNotification/recoveryNotificationDate", "notification_date", DATE),
                Leaf("RecoveryNotification/recoveryNotificationText", "text"),
                Leaf("RecoveryNotification/amountClaimed", "amount_claimed", DECIMAL),
                Leaf("RecoveryNotification/currency", "currency"),
                _DEPARTURE,
                Leaf("CustomsOfficeOfRecoveryAtDeparture/referenceNumber", "office_of_recovery"),
                _HOLDER_ID,
            ),
        ),
        Struct(
            GuaranteeUse,
            (
                _MRN,
                _DEPARTURE,
                _GUARANTEE_OFFICE,
                _HOLDER_ID,
                Leaf("GuaranteeReference/GRN", "grn"),
                Leaf("GuaranteeReference/accessCode", "access_code"),
                Leaf("GuaranteeReference/amountToBeCovered", "amount", DECIMAL),
                Leaf("GuaranteeReference/currency", "currency"),
            ),
        ),
        Struct(
            GuaranteeUseResult,
            (
                _MRN,
                _GUARANTEE_OFFICE,
                _DEPARTURE,
                Leaf("GuaranteeReference/GRN", "grn"),
                Leaf("GuaranteeReference/accepted", "accepted", FLAG),
                Leaf("GuaranteeReference/amountReserved", "amount_reserved", DECIMAL),
                Leaf("GuaranteeReference/balanceAvailable", "balance_available", DECIMAL),
                Leaf("GuaranteeReference/currency", "currency"),
                Leaf("GuaranteeReference/InvalidGuaranteeReason/code", "reason_code"),
                Leaf("GuaranteeReference/InvalidGuaranteeReason/text", "reason_text"),
            ),
        ),
        Struct(
            GuaranteeUseCancellation,
            (_MRN, _DEPARTURE, _GUARANTEE_OFFICE, Leaf("GuaranteeReference/GRN", "grn")),
        ),
        Struct(
            DeclarationAmendment,
            (_MRN, Leaf("TransitOperation/amendmentTypeFlag", "amendment_type_flag", FLAG), _WHOLE_DECLARATION),
        ),
        Struct(
            AmendmentAcceptance,
            (
                _LRN,
                _MRN,
                Leaf("TransitOperation/amendmentSubmissionDateAndTime", "amendment_submitted_at", DATETIME),
                Leaf("TransitOperation/amendmentAcceptanceDateAndTime", "amendment_accepted_at", DATETIME),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            ControlDecisionNotification,
            (
                _LRN,
                _MRN,
                Leaf("TransitOperation/controlNotificationDateAndTime", "notified_at", DATETIME),
                Leaf("TransitOperation/notificationType", "notification_type"),
                _DEPARTURE,
                _HOLDER_ID,
            ),
        ),
        Struct(
            PresentationNotification,
            (
                _LRN,
                _DEPARTURE,
                _HOLDER_ID,
                Leaf("Consignment/LocationOfGoods/typeOfLocation", "type_of_location"),
                Leaf("Consignment/LocationOfGoods/qualifierOfIdentification", "qualifier_of_identification"),
                Leaf("Consignment/LocationOfGoods/UNLocode", "location_of_goods"),
                Each("Consignment/HouseConsignment", "house_consignments", Leaf("sequenceNumber", kind=INT)),
            ),
        ),
        Struct(
            UnloadingPermission,
            (
                _MRN,
                Leaf("TransitOperation/declarationType", "declaration_type"),
                Leaf("TransitOperation/declarationAcceptanceDate", "acceptance_date", DATE),
                Leaf("TransitOperation/security", "security", INT),
                Leaf("TransitOperation/reducedDatasetIndicator", "reduced_dataset_indicator", FLAG),
                _DESTINATION_ACTUAL,
                _TRADER_AT_DESTINATION,
            ),
        ),
        Struct(
            UnloadingRemarks,
            (
                _MRN,
                _DESTINATION_ACTUAL,
                _TRADER_AT_DESTINATION,
                Leaf("UnloadingRemark/conform", "conform", FLAG),
                Leaf("UnloadingRemark/unloadingCompletion", "unloading_completion", FLAG),
                Leaf("UnloadingRemark/unloadingDate", "unloading_date", DATE),
                Leaf("UnloadingRemark/stateOfSeals", "state_of_seals_ok", FLAG),
                Leaf("UnloadingRemark/unloadingRemark", "remark"),
            ),
        ),
        Struct(IncidentNotification, _INCIDENT_REGISTRATION),
        Struct(ForwardedIncidentNotification, _INCIDENT_REGISTRATION),
        Struct(
            FunctionalNack,
            (
                _MRN,
                Leaf("OriginalMessage/messageIdentification", "original_message_id"),
                Leaf("OriginalMessage/messageType", "original_message_type"),
                _FUNCTIONAL_ERRORS,
            ),
        ),
    )
}


# ---------------------------------------------------------------------------------------------------------------
# What P5 requires that the domain classes do not (yet) hold, and what they hold that P5 does not carry.

_NO_CURRENCY = "XXX"
"""ISO 4217 "no currency involved": the CC035C amount of a movement whose guarantee states none."""


def _released(message: Any) -> Any:
    return replace(message, acceptance_date=message.acceptance_date or message.release_date)


def _p5_reasons(errors: tuple[FunctionalError, ...]) -> tuple[FunctionalError, ...]:
    """errorReason is an..7 in P5: a rule id (R0003, BR20006) fits; a longer schema constraint name is cut."""
    return tuple(replace(error, error_reason=error.error_reason[:7]) for error in errors)


_COMPLETE: dict[str, Callable[[Any], Any]] = {
    # CC029C has no limitDate: the holder learns the time limit from the transit accompanying document.
    "CC029C": lambda m: replace(_released(m), declaration=replace(m.declaration, limit_date=None)),
    "CD001C": _released,
    "CD050C": _released,
    "CC051C": lambda m: replace(
        m,
        declaration_submitted_at=m.declaration_submitted_at or datetime.combine(m.decision_date, time(), timezone.utc),
        motivation_text=m.motivation_text or m.motivation_code,
    ),
    "CC055C": lambda m: replace(m, acceptance_date=m.acceptance_date or m.guarantee_not_valid_date),
    "CC035C": lambda m: (
        m
        if m.amount_claimed is not None and m.currency
        else replace(m, amount_claimed=Decimal("0.00"), currency=_NO_CURRENCY)
    ),
    "CC056C": lambda m: replace(m, errors=_p5_reasons(m.errors)),
    "CC057C": lambda m: replace(m, errors=_p5_reasons(m.errors)),
    "CD906C": lambda m: replace(m, errors=_p5_reasons(m.errors)),
}
"""Before writing: data P5 requires, stated from what the message holds (each entry says its assumption)."""

_FROM_HEADER: dict[str, Callable[[Header], dict[str, Any]]] = {
    "CC051C": lambda header: {"decision_date": header.prepared_at.date()},
    "CC055C": lambda header: {"guarantee_not_valid_date": header.prepared_at.date()},
    "CC045C": lambda header: {"released_grns": ()},
}
"""On reading: domain fields P5 does not carry. A decision is dated by the message that states it."""

_READ_BACK: dict[str, Callable[[Any], Any]] = {
    "CC035C": lambda m: replace(m, amount_claimed=None, currency=None) if m.currency == _NO_CURRENCY else m,
}

_TRANSIT_OPERATION_ORDER = {
    name: rank
    for rank, name in enumerate(
        (
            "LRN",
            "MRN",
            "declarationType",
            "additionalDeclarationType",
            "TIRCarnetNumber",
            "declarationAcceptanceDate",
            "releaseDate",
            "presentationOfTheGoodsDateAndTime",
            "security",
            "reducedDatasetIndicator",
            "specificCircumstanceIndicator",
            "communicationLanguageAtDeparture",
            "bindingItinerary",
            "amendmentTypeFlag",
            "limitDate",
        )
    )
}
"""P5's order of the TRANSIT OPERATION items of a declaration, before (CC015C) and after release (CC029C):
the movement's own items (MRN, dates) and the declaration's interleave, so they are put in order after
the tables have written them."""


def _order_transit_operation(root: etree._Element) -> None:
    operation = root.find("TransitOperation")
    if operation is not None:
        operation[:] = sorted(operation, key=lambda item: _TRANSIT_OPERATION_ORDER[item.tag])


# ---------------------------------------------------------------------------------------------------------------
# Public API


def encode(message: CatsMessage) -> etree._Element:
    """Build the NCTS XML of `message`: a `ncts:<code>` root with PhaseID, header, then the message data,
    and every group of its declaration's P5 binding that the tables do not write."""
    root = etree.Element(f"{{{NCTS_NS}}}{message.code}", nsmap={"ncts": NCTS_NS})
    root.set("PhaseID", PHASE_ID)
    write(root, message.header, _HEADER)
    message_type = etree.Element("messageType")
    message_type.text = message.code
    root.find("messageIdentification").addnext(message_type)
    message = _COMPLETE.get(message.code, lambda same: same)(message)
    write(root, message, _MESSAGES[message.code])
    declaration: Declaration | None = getattr(message, "declaration", None)
    if declaration is not None and declaration.p5 is not None:
        from nodes.customs.binding import bind, complete, render

        return render(complete(bind(root), declaration.p5))  # the binding writes P5's order
    if declaration is not None:
        _order_transit_operation(root)
    return root


def decode(root: etree._Element, *, unmapped: bool = True) -> CatsMessage:
    """Read a CATS message back into its dataclass; the caller validates first, this only maps.

    `unmapped=False` reads the named fields alone, without the walk of the whole tree that finds (and binds)
    data the tables do not name: enough for a timeline's summary line, a third of the cost of a declaration.
    """
    code, struct = _message_struct(root)
    header = read(root, _HEADER)
    known = _FROM_HEADER.get(code, lambda _: {})(header)
    message = read(root, struct, header=header, **known)
    declaration: Declaration | None = getattr(message, "declaration", None)
    if declaration is not None and unmapped and _holds_unmapped_data(root, code):
        from nodes.customs.binding import bind, carry
        from nodes.customs.p5 import CC015CType

        message = replace(message, declaration=replace(declaration, p5=carry(bind(root), CC015CType)))
    return _READ_BACK.get(code, lambda same: same)(message)


def summary_of(root: etree._Element) -> str:
    """`summary(decode(root, unmapped=False))`, reading from the document only the elements the line shows.

    A timeline summarises every message, and a declaration's line names its route, mass and guarantee, not
    its items and parties: the message is a `View` of the same tables, each field read when the summary
    asks for it (80-110 us against 210-220 us for a message that carries a declaration). A type whose reading
    ends with a correction (`_READ_BACK`) is decoded whole, so the correction applies as it does there.
    """
    code, struct = _message_struct(root)
    if code in _READ_BACK:
        return summary(decode(root, unmapped=False))
    header = View(root, _HEADER)
    return summary(View(root, struct, header=header, **_FROM_HEADER.get(code, lambda _: {})(header)))


def _message_struct(root: etree._Element) -> tuple[str, Struct]:
    """The message type of a CATS document and its table, or a DocumentError for any other document."""
    name = etree.QName(root)
    struct = _MESSAGES.get(name.localname) if name.namespace == NCTS_NS else None
    if struct is None:
        raise DocumentError(f"not a CATS message: {name.text}", document=name.localname, rule="unknown-document-type")
    return name.localname, struct


@cache
def _mapped_paths(code: str) -> frozenset[str]:
    return mapped_paths(_HEADER) | {"messageType"} | mapped_paths(_MESSAGES[code])


def _holds_unmapped_data(root: etree._Element, code: str) -> bool:
    """Whether the document has a data element the tables of its message do not read: binding it costs a
    walk of the tree, so only a declaration richer than its named fields is bound."""
    return _unmapped_below(root, _mapped_paths(code), "")


def _unmapped_below(element: etree._Element, mapped: frozenset[str], prefix: str) -> bool:
    """Whether a data (leaf) element under `element`, its path starting with `prefix`, is not in `mapped`; the first
    one ends the walk. Elements in a namespace (a ds:Signature) are no CATS data, comments and processing
    instructions none at all. A plain recursion: a generator of paths would hand each one up every level."""
    for child in element:
        tag = child.tag
        if not isinstance(tag, str) or tag.startswith("{"):
            continue
        if len(child):
            if _unmapped_below(child, mapped, f"{prefix}{tag}/"):
                return True
        elif f"{prefix}{tag}" not in mapped:
            return True
    return False


def correlation(message: CatsMessage) -> str:
    """The movement a message belongs to: its MRN once allocated, else its LRN."""
    declaration = getattr(message, "declaration", None)
    return (
        getattr(message, "mrn", None)
        or getattr(message, "lrn", None)
        or (declaration.lrn if declaration is not None else None)
        or message.header.correlation_id
        or ""
    )


# --- summaries: one line of key data per message, for timelines and logs.

_CONTROL_RESULTS = {"A1": "satisfactory", "A2": "considered satisfactory", "B1": "not satisfactory"}
_CONTROL_NOTIFICATIONS = {"0": "decision to control", "2": "intention to control"}


def _kg(mass: Decimal) -> str:
    return f"{mass.normalize():,f} kg"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def _declaration(declaration: Declaration) -> str:
    consignment = declaration.consignment
    transit = ",".join(office.reference_number for office in declaration.offices_of_transit)
    items = sum(len(house.items) for house in consignment.house_consignments)
    guarantees = " ".join(
        f"GRN {reference.grn} {_money(reference.amount_to_be_covered, reference.currency)}"
        for guarantee in declaration.guarantees
        for reference in guarantee.references
    )
    parts = [
        f"LRN {declaration.lrn} {declaration.declaration_type}",
        f"{declaration.office_of_departure}→{declaration.office_of_destination}",
        f"via {transit}" if transit else "",
        f"{items} item{'s' if items != 1 else ''} {_kg(consignment.gross_mass)}",
        guarantees,
        f"limit {declaration.limit_date}" if declaration.limit_date else "",
    ]
    return " ".join(part for part in parts if part)


def _errors(errors: tuple[FunctionalError, ...]) -> str:
    if not errors:
        return ""
    first = errors[0]
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first.error_reason} at {first.error_pointer}{more}"


def _rejection(message: RejectionFromDeparture | RejectionFromDestination) -> str:
    reason = _errors(message.errors) or f"code {message.rejection_code} {message.rejection_reason or ''}".rstrip()
    return f"rejected: {reason}"


def _control(message: ControlResults) -> str:
    verdict = "seals broken" if not message.state_of_seals_ok else _CONTROL_RESULTS.get(message.control_result_code, "")
    text = f": {message.discrepancies}" if message.discrepancies else ""
    return f"MRN {message.mrn} {message.control_result_code} {verdict}{text}"


def _use_result(message: GuaranteeUseResult) -> str:
    if message.accepted:
        return (
            f"GRN {message.grn} reserved {_money(message.amount_reserved, message.currency)},"
            f" balance {_money(message.balance_available, message.currency)}"
        )
    return f"GRN {message.grn} refused {message.reason_code} {message.reason_text or ''}".rstrip()


def _recovery(message: RecoveryNotification) -> str:
    claim = (
        f" claims {_money(message.amount_claimed, message.currency)}"
        if message.amount_claimed is not None and message.currency
        else ""
    )
    return f"MRN {message.mrn} recovery notified {message.notification_date}{claim}"


def _unloading(message: UnloadingRemarks) -> str:
    verdict = "conform" if message.conform else "not conform"
    seals = {True: ", seals intact", False: ", seals not intact", None: ""}[message.state_of_seals_ok]
    done = "" if message.unloading_completion else " (unloading not complete)"
    remark = f": {message.remark}" if message.remark else ""
    return f"MRN {message.mrn} unloaded {message.unloading_date} {verdict}{seals}{done}{remark}"


def _incidents(message: IncidentNotification | ForwardedIncidentNotification) -> str:
    listed = "; ".join(f"{incident.code} {incident.text} ({incident.location or incident.country})"
                       for incident in message.incidents)
    return f"MRN {message.mrn} incident at {message.office_of_incident_registration}: {listed}"


def _invalidation(message: InvalidationDecision) -> str:
    verdict = "invalidated" if message.decision else "invalidation refused"
    by = " by customs" if message.initiated_by_customs else ""
    return f"{correlation(message)} {verdict}{by}"


_SUMMARIES: dict[str, Callable[[Any], str]] = {
    "CC015C": lambda m: _declaration(m.declaration),
    "CC928C": lambda m: f"LRN {m.lrn} acknowledged by {m.office_of_departure}",
    "CC028C": lambda m: f"MRN {m.mrn} for LRN {m.lrn} accepted {m.acceptance_date}",
    "CC056C": _rejection,
    "CC057C": _rejection,
    "CC029C": lambda m: f"MRN {m.mrn} released {m.release_date}: {_declaration(m.declaration)}",
    "CC051C": lambda m: f"MRN {m.mrn} not released: {m.motivation_code} {m.motivation_text or ''}".rstrip(),
    "CC055C": lambda m: "; ".join(f"GRN {r.grn} {r.code} {r.text}".rstrip() for r in m.reasons),
    "CC014C": lambda m: f"{correlation(m)} invalidation requested: {m.justification}",
    "CC009C": _invalidation,
    "CD050C": lambda m: f"MRN {m.mrn} ATR to {m.office_of_transit}: {_declaration(m.declaration)}",
    "CD001C": lambda m: f"MRN {m.mrn} AAR: {_declaration(m.declaration)}",
    "CD118C": lambda m: f"MRN {m.mrn} crossed {m.office_of_transit_actual} at {DATETIME.dump(m.arrival_date_and_time)}",
    "CC007C": lambda m: f"MRN {m.mrn} arrived at {m.office_of_destination_actual} ({m.location_of_goods})",
    "CD006C": lambda m: f"MRN {m.mrn} arrived at {m.office_of_destination_actual} on {m.arrival_date}",
    "CC025C": lambda m: f"MRN {m.mrn} goods released (type {m.release_type}) at {m.office_of_destination_actual}",
    "CD018C": _control,
    "CC019C": lambda m: f"MRN {m.mrn} discrepancies: {m.discrepancies}",
    "CC045C": lambda m: (
        f"MRN {m.mrn} written off {m.write_off_date}"
        + (f", freed GRN {', '.join(m.released_grns)}" if m.released_grns else "")
    ),
    "CC140C": lambda m: f"MRN {m.mrn} not arrived: enquiry {m.request_date}, answer by {m.limit_for_response_date}",
    "CC141C": lambda m: f"MRN {m.mrn} {m.statement}",
    "CC035C": _recovery,
    "CD203C": lambda m: f"GRN {m.grn} reserve {_money(m.amount, m.currency)} for MRN {m.mrn}",
    "CD205C": _use_result,
    "CD204C": lambda m: f"GRN {m.grn} release the reservation for MRN {m.mrn}",
    "CD906C": lambda m: f"NACK of {m.original_message_type} {m.original_message_id}: {_errors(m.errors)}",
    "CC013C": lambda m: f"{m.mrn or m.declaration.lrn} amended: {_declaration(m.declaration)}",
    "CC004C": lambda m: f"{correlation(m)} amendment accepted {DATETIME.dump(m.amendment_accepted_at)}",
    "CC060C": lambda m: f"MRN {m.mrn} {_CONTROL_NOTIFICATIONS.get(m.notification_type, m.notification_type)}",
    "CC170C": lambda m: f"LRN {m.lrn} presented at {m.location_of_goods} ({m.office_of_departure})",
    "CC043C": lambda m: f"MRN {m.mrn} unloading permitted at {m.office_of_destination_actual}",
    "CC044C": _unloading,
    "CD180C": _incidents,
    "CC182C": _incidents,
}


def summary(message: CatsMessage) -> str:
    """One line of the key data of `message`, in the words a customs officer would scan a timeline for."""
    return _SUMMARIES[message.code](message)
