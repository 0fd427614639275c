"""The CATS transit vocabulary as data: one frozen dataclass per message and per data group.

Names follow the NCTS Phase 5 data groups (reference/transit.md §1.7) so that a reader of the DDNTA
can find each field: `Declaration` is the TRANSIT OPERATION plus the groups of CC015C, `Header` is the
MESSAGE group, and each message class carries the code it is sent as. The codec
(`nodes.customs.codec`) turns these into XML that validates against `schemas/cats/` and back; the
office agencies only ever see these classes. What a declaration holds beyond the named fields the state
machines decide on travels with it as the generated P5 binding (`Declaration.p5`, nodes/customs/p5/).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nodes.customs.p5 import CC015CType

__all__ = [
    "AAR",
    "ATR",
    "Address",
    "AmendmentAcceptance",
    "ArrivalAdvice",
    "ArrivalNotification",
    "CatsMessage",
    "Consignment",
    "ConsignmentItem",
    "ControlDecisionNotification",
    "ControlResults",
    "Declaration",
    "DeclarationAmendment",
    "Discrepancies",
    "ForwardedIncidentNotification",
    "FunctionalError",
    "FunctionalNack",
    "GoodsRelease",
    "Guarantee",
    "GuaranteeNotValid",
    "GuaranteeReference",
    "GuaranteeUse",
    "GuaranteeUseCancellation",
    "GuaranteeUseResult",
    "Header",
    "HouseConsignment",
    "Incident",
    "IncidentNotification",
    "InformationAboutNonArrivedMovement",
    "InvalidGuaranteeReason",
    "InvalidationDecision",
    "InvalidationRequest",
    "MESSAGE_NAMES",
    "MRNAllocated",
    "NoRelease",
    "NotificationCrossingFrontier",
    "Packaging",
    "PositiveAcknowledge",
    "PresentationNotification",
    "RecoveryNotification",
    "RejectionFromDeparture",
    "RejectionFromDestination",
    "ReleaseForTransit",
    "RequestOnNonArrivedMovement",
    "Seal",
    "SupportingDocument",
    "Trader",
    "TransitDeclaration",
    "TransitOfficeDeclared",
    "TransportEquipment",
    "UnloadingPermission",
    "UnloadingRemarks",
    "WriteOffNotification",
]


def __getattr__(name: str) -> Any:
    """`CC015CType`, the annotation of `Declaration.p5`, imported on first use (PEP 562): the generated bindings
    cost a process a noticeable share of its start-up, and most never meet a declaration that needs them.
    `nodes.jsonable` resolves the annotation through here when it reads back a record that holds one."""
    if name == "CC015CType":
        from nodes.customs.p5 import CC015CType

        return CC015CType
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------------------------------------------
# Data groups shared by several messages


@dataclass(frozen=True)
class Header:
    """The NCTS MESSAGE group: who sends to whom, when, and which conversation it belongs to."""

    sender: str  # messageSender, e.g. "NTA.UZ" or a trader's identificationNumber
    recipient: str  # messageRecipient
    prepared_at: datetime  # preparationDateAndTime, UTC, written without zone
    message_id: str  # messageIdentification, an..35, unique per sender
    correlation_id: str | None = None  # correlationIdentifier: the LRN or MRN the message answers


@dataclass(frozen=True)
class Address:
    street_and_number: str
    postcode: str | None  # optional in P5
    city: str
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class Trader:
    """A holder of the transit procedure, consignor, consignee or trader at destination.

    P5 lets an identification number (EORI) stand alone: name and address are then left out."""

    identification_number: str  # an..17, EORI-like
    name: str | None = None
    address: Address | None = None


@dataclass(frozen=True)
class TransitOfficeDeclared:
    sequence_number: int
    reference_number: str  # office pattern [A-Z]{2}[A-Z0-9]{6}
    arrival_estimated: datetime | None = None  # arrivalDateAndTimeEstimated


@dataclass(frozen=True)
class GuaranteeReference:
    sequence_number: int
    grn: str
    access_code: str
    amount_to_be_covered: Decimal
    currency: str


@dataclass(frozen=True)
class Guarantee:
    sequence_number: int
    guarantee_type: str  # CL251: "1" comprehensive, "0" waiver, ...
    references: tuple[GuaranteeReference, ...] = ()


@dataclass(frozen=True)
class Seal:
    sequence_number: int
    identifier: str


@dataclass(frozen=True)
class TransportEquipment:
    sequence_number: int
    container_identification_number: str | None
    number_of_seals: int
    seals: tuple[Seal, ...] = ()


@dataclass(frozen=True)
class Packaging:
    sequence_number: int
    type_of_packages: str  # UN/ECE Rec 21 code, CL017
    number_of_packages: int
    shipping_marks: str | None = None


@dataclass(frozen=True)
class ConsignmentItem:
    goods_item_number: int
    declaration_goods_item_number: int
    description_of_goods: str
    harmonized_system_sub_heading_code: str  # six digits
    gross_mass: Decimal
    net_mass: Decimal | None
    packaging: tuple[Packaging, ...]


@dataclass(frozen=True)
class HouseConsignment:
    sequence_number: int
    gross_mass: Decimal
    items: tuple[ConsignmentItem, ...]


@dataclass(frozen=True)
class SupportingDocument:
    """A document that travels with the goods, e.g. an ePhyto (N851) or a certificate of origin (N954)."""

    sequence_number: int
    type: str
    reference_number: str


@dataclass(frozen=True)
class Consignment:
    country_of_dispatch: str
    country_of_destination: str
    container_indicator: bool
    inland_mode_of_transport: str  # CL218: "3" road, "2" rail, "1" sea
    mode_of_transport_at_the_border: str
    gross_mass: Decimal
    consignor: Trader
    consignee: Trader
    transport_equipment: tuple[TransportEquipment, ...]
    countries_of_routing: tuple[str, ...]  # COUNTRY OF ROUTING OF CONSIGNMENT, in order = the itinerary
    house_consignments: tuple[HouseConsignment, ...]
    supporting_documents: tuple[SupportingDocument, ...] = ()


@dataclass(frozen=True)
class Declaration:
    """The data of a transit declaration (CC015C) that also travels in CC029C, CD001C and CD050C.

    `limit_date` (TransitOperation/limitDate) is the date by which the goods must be presented at the
    office of destination. The office of departure sets it at release, so it is None in a CC015C and
    given in the CC029C, CD050C and CD001C that follow; a movement with no arrival advice by then goes
    to enquiry (CC140C).

    `p5` is the whole declaration as it was lodged (or, at an office of transit or destination, as the
    record it received carries it), bound to the generated CC015C class, when it holds more than the named
    fields: a trader's LocationOfGoods, DepartureTransportMeans, Authorisation, house-consignment parties...
    The codec writes each of its groups into every later message whose schema has that group; the named
    fields, which the offices decide on, win where both state a value.
    """

    lrn: str
    declaration_type: str  # CL231: T1, T2, T, TIR
    additional_declaration_type: str  # CL042: A standard, D pre-lodged
    security: int  # CL217: 0 none .. 3 ENS+EXS
    office_of_departure: str
    office_of_destination: str
    offices_of_transit: tuple[TransitOfficeDeclared, ...]
    holder: Trader
    guarantees: tuple[Guarantee, ...]
    consignment: Consignment
    limit_date: date | None = None
    reduced_dataset_indicator: bool = False  # P5 reducedDatasetIndicator
    binding_itinerary: bool = False  # P5 bindingItinerary: the countries of routing must be kept to
    p5: CC015CType | None = None


@dataclass(frozen=True)
class FunctionalError:
    """One entry of the FunctionalError group of CC056C / CD906C."""

    error_pointer: str  # XPath into the rejected message, e.g. /CC015C/Consignment/...
    error_code: str  # 12 codelist, 13 condition missing, 14 rule, 15 not allowed, 26, 90, 92, 93
    error_reason: str  # the rule or condition, e.g. R0003
    original_attribute_value: str | None = None


@dataclass(frozen=True)
class InvalidGuaranteeReason:
    grn: str
    code: str  # G01 .. G10 (G09 reference amount insufficient)
    text: str


# ---------------------------------------------------------------------------------------------------------------
# Messages. Every message has `header` first and a class-level `code`.


@dataclass(frozen=True)
class TransitDeclaration:
    """CC015C E_DEC_DAT: holder → office of departure."""

    header: Header
    declaration: Declaration
    code = "CC015C"


@dataclass(frozen=True)
class PositiveAcknowledge:
    """CC928C E_POS_ACK: office of departure → holder, after a valid CC015C."""

    header: Header
    lrn: str
    office_of_departure: str
    holder: str
    code = "CC928C"


@dataclass(frozen=True)
class MRNAllocated:
    """CC028C E_MRN_ALL: office of departure → holder."""

    header: Header
    lrn: str
    mrn: str
    acceptance_date: date
    office_of_departure: str
    holder: str
    code = "CC028C"


@dataclass(frozen=True)
class RejectionFromDeparture:
    """CC056C E_DEP_REJ: office of departure → holder, with functional errors pointing into the message."""

    header: Header
    lrn: str | None
    mrn: str | None
    business_rejection_type: str  # the IE number of the rejected message: "015", "014", "013"
    rejection_date_and_time: datetime
    rejection_code: str  # CL226: 12 declaration rejected, 4 cancellation rejected, ...
    rejection_reason: str | None
    office_of_departure: str
    holder: str
    errors: tuple[FunctionalError, ...]
    code = "CC056C"


@dataclass(frozen=True)
class ReleaseForTransit:
    """CC029C E_REL_TRA: office of departure → holder; the movement may start."""

    header: Header
    mrn: str
    release_date: date
    declaration: Declaration
    acceptance_date: date | None = None  # declarationAcceptanceDate; the release date when not given
    code = "CC029C"


@dataclass(frozen=True)
class NoRelease:
    """CC051C E_REL_NOT: office of departure → holder; the movement ends without release."""

    header: Header
    mrn: str
    decision_date: date
    motivation_code: str
    motivation_text: str | None
    office_of_departure: str
    holder: str
    declaration_submitted_at: datetime | None = None  # declarationSubmissionDateAndTime
    code = "CC051C"


@dataclass(frozen=True)
class GuaranteeNotValid:
    """CC055C E_GUA_INV: office of departure → holder; a guarantee reference failed its check."""

    header: Header
    mrn: str
    guarantee_not_valid_date: date
    reasons: tuple[InvalidGuaranteeReason, ...]
    office_of_departure: str
    holder: str
    acceptance_date: date | None = None  # declarationAcceptanceDate
    code = "CC055C"


@dataclass(frozen=True)
class InvalidationRequest:
    """CC014C E_DEC_INV: holder → office of departure; asks to cancel the declaration."""

    header: Header
    lrn: str | None
    mrn: str | None
    request_date: date
    justification: str
    office_of_departure: str
    holder: str
    code = "CC014C"


@dataclass(frozen=True)
class InvalidationDecision:
    """CC009C E_INV_DEC: office of departure → holder; the declaration is (or is not) invalidated."""

    header: Header
    lrn: str | None
    mrn: str | None
    decision: bool
    decision_date: date
    initiated_by_customs: bool
    justification: str | None
    office_of_departure: str
    holder: str
    code = "CC009C"


@dataclass(frozen=True)
class ATR:
    """CD050C ANTICIPATED TRANSIT RECORD: office of departure → one declared office of transit."""

    header: Header
    mrn: str
    release_date: date
    office_of_transit: str
    declaration: Declaration
    acceptance_date: date | None = None  # declarationAcceptanceDate; the release date when not given
    code = "CD050C"


@dataclass(frozen=True)
class AAR:
    """CD001C ANTICIPATED ARRIVAL RECORD: office of departure → declared office of destination."""

    header: Header
    mrn: str
    release_date: date
    declaration: Declaration
    acceptance_date: date | None = None  # declarationAcceptanceDate; the release date when not given
    code = "CD001C"


@dataclass(frozen=True)
class NotificationCrossingFrontier:
    """CD118C NOTIFICATION CROSSING FRONTIER: office of transit → office of departure."""

    header: Header
    mrn: str
    arrival_date_and_time: datetime  # when the goods were presented at the office of transit
    office_of_transit_actual: str
    office_of_departure: str
    code = "CD118C"


@dataclass(frozen=True)
class ArrivalNotification:
    """CC007C E_ARR_NOT: trader at destination → office of destination."""

    header: Header
    mrn: str
    arrival_notification_date: datetime
    office_of_destination_actual: str
    trader_at_destination: str
    location_of_goods: str | None  # UN/LOCODE of the place where the goods are presented
    simplified_procedure: bool = False  # TransitOperation/simplifiedProcedure (authorised consignee)
    incident_flag: bool = False  # TransitOperation/incidentFlag
    type_of_location: str = "A"  # LocationOfGoods/typeOfLocation, CL347: A designated location
    qualifier_of_identification: str = "U"  # CL326: U the location is named by its UN/LOCODE
    code = "CC007C"


@dataclass(frozen=True)
class ArrivalAdvice:
    """CD006C ARRIVAL ADVICE: office of destination → office of departure."""

    header: Header
    mrn: str
    arrival_date: date
    office_of_destination_actual: str
    office_of_departure: str
    code = "CD006C"


@dataclass(frozen=True)
class RejectionFromDestination:
    """CC057C E_DES_REJ: office of destination → trader at destination; the arrival notification is refused."""

    header: Header
    mrn: str
    business_rejection_type: str  # the IE number of the rejected message: "007"
    rejection_date_and_time: datetime
    rejection_code: str  # CL227
    rejection_reason: str | None
    office_of_destination: str
    trader_at_destination: str
    errors: tuple[FunctionalError, ...]
    code = "CC057C"


@dataclass(frozen=True)
class GoodsRelease:
    """CC025C E_GDS_REL: office of destination → trader at destination."""

    header: Header
    mrn: str
    release_date: date
    release_type: str  # releaseIndicator: "1" released, "2" released with discrepancies (seals)
    office_of_destination_actual: str
    trader_at_destination: str
    code = "CC025C"


@dataclass(frozen=True)
class ControlResults:
    """CD018C DESTINATION CONTROL RESULTS: office of destination → office of departure.

    `control_result_code`: A1 satisfactory, B1 not satisfactory (discrepancies found).
    `state_of_seals_ok`: False when the seals found differ from the seals declared.
    """

    header: Header
    mrn: str
    control_date: date
    control_result_code: str
    state_of_seals_ok: bool
    discrepancies: str | None
    office_of_destination_actual: str
    office_of_departure: str
    code = "CD018C"


@dataclass(frozen=True)
class Discrepancies:
    """CC019C E_DIS_SND: office of departure → holder; major discrepancies found at destination."""

    header: Header
    mrn: str
    discrepancies_notification_date: date
    discrepancies: str
    office_of_departure: str
    holder: str
    code = "CC019C"


@dataclass(frozen=True)
class WriteOffNotification:
    """CC045C E_WRT_NOT: office of departure → holder; movement ended, guarantee freed.

    `released_grns` is what the office freed, for its own records: P5's CC045C has no place for it, so it
    does not travel."""

    header: Header
    mrn: str
    write_off_date: date
    office_of_departure: str
    holder: str
    released_grns: tuple[str, ...]
    code = "CC045C"


@dataclass(frozen=True)
class RequestOnNonArrivedMovement:
    """CC140C: office of departure → holder; the time limit passed with no arrival advice, the enquiry starts.

    The holder is asked to say, by `limit_for_response_date`, where the goods are (CC141C). The office
    of departure is also the office of enquiry: the simulator runs no separate enquiry offices.
    """

    header: Header
    mrn: str
    request_date: date  # requestOnNonArrivedMovementDate
    limit_for_response_date: date
    office_of_departure: str
    office_of_enquiry: str  # CustomsOfficeOfEnquiryAtDeparture
    holder: str
    code = "CC140C"


@dataclass(frozen=True)
class InformationAboutNonArrivedMovement:
    """CC141C: holder → office of enquiry at departure; the answer to CC140C.

    As in P5, the goods count as delivered when the holder gives the date on its proof of delivery
    (Enquiry/TC11DeliveryDate) and the office where they were presented; without a date they were not.
    `consignee_actual` (CONSIGNMENT/CONSIGNEE (ACTUAL)) is who actually took the goods, where the holder knows:
    goods handed to a consignee but never presented at an office are still not delivered, and the office of
    departure records whom the holder names. The holder may name itself in full (name, address) as well as by
    its identification number; `holder` is that number, which the office matches against the declaration.
    """

    header: Header
    mrn: str
    office_of_destination_actual: str | None
    office_of_enquiry: str
    holder: str
    delivery_date: date | None  # TC11DeliveryDate
    text: str | None
    consignee_actual: Trader | None = None  # identification number optional here, name and address required
    code = "CC141C"

    @property
    def delivered(self) -> bool:
        return self.delivery_date is not None

    @property
    def statement(self) -> str:
        """The answer in one line, as the office of departure records it and a timeline shows it."""
        said = "not delivered"
        if self.delivered:
            said = f"delivered {self.delivery_date} at {self.office_of_destination_actual}"
        if self.consignee_actual is not None:
            said += f"; consignee (actual) {self.consignee_actual.name}"
        return f"{said}: {self.text}" if self.text else said


@dataclass(frozen=True)
class RecoveryNotification:
    """CC035C E_REC_NOT: office of departure → holder; the debt is recovered, the guarantee stays reserved.

    `amount_claimed` is the amount the declaration's guarantee references cover, as the simulator keeps
    no tariff to compute a debt from; None when no reference states one in a single currency (a waiver).
    """

    header: Header
    mrn: str
    acceptance_date: date  # declarationAcceptanceDate
    notification_date: date
    text: str | None
    amount_claimed: Decimal | None
    currency: str | None
    office_of_departure: str
    office_of_recovery: str  # CustomsOfficeOfRecoveryAtDeparture
    holder: str
    code = "CC035C"


@dataclass(frozen=True)
class GuaranteeUse:
    """CD203C GUARANTEE USE: office of departure → office of guarantee; reserve an amount on a GRN."""

    header: Header
    mrn: str
    grn: str
    access_code: str
    holder: str
    amount: Decimal  # amount to be covered as declared
    currency: str
    office_of_departure: str
    office_of_guarantee: str
    code = "CD203C"


@dataclass(frozen=True)
class GuaranteeUseResult:
    """CD205C GUARANTEE USE RESULT: office of guarantee → office of departure.

    `accepted` with the amount actually reserved (after any risk-based reduction), or refused with an
    invalid-guarantee reason code (G01 .. G10).
    """

    header: Header
    mrn: str
    grn: str
    accepted: bool
    reason_code: str | None
    reason_text: str | None
    amount_reserved: Decimal
    balance_available: Decimal
    currency: str
    office_of_guarantee: str
    office_of_departure: str
    code = "CD205C"


@dataclass(frozen=True)
class GuaranteeUseCancellation:
    """CD204C GUARANTEE USE CANCELLATION: office of departure → office of guarantee; free the reservation."""

    header: Header
    mrn: str
    grn: str
    office_of_departure: str
    office_of_guarantee: str
    code = "CD204C"


@dataclass(frozen=True)
class FunctionalNack:
    """CD906C FUNCTIONAL NACK: answers a common-domain message the receiver cannot process."""

    header: Header
    mrn: str | None
    original_message_id: str
    original_message_type: str
    errors: tuple[FunctionalError, ...]
    code = "CD906C"


@dataclass(frozen=True)
class DeclarationAmendment:
    """CC013C E_DEC_AMD: holder → office of departure; the whole declaration again, as amended (only before
    release). `mrn` is None for a pre-lodged declaration, which the holder names by its LRN."""

    header: Header
    mrn: str | None
    declaration: Declaration
    amendment_type_flag: bool = False  # amendmentTypeFlag 1: the amendment only changes guarantee data
    code = "CC013C"

    @property
    def lrn(self) -> str:
        return self.declaration.lrn

    @property
    def holder(self) -> str:
        return self.declaration.holder.identification_number


@dataclass(frozen=True)
class AmendmentAcceptance:
    """CC004C E_AMD_ACC: office of departure → holder; the amendment (CC013C) is accepted."""

    header: Header
    lrn: str
    mrn: str | None
    amendment_submitted_at: datetime  # amendmentSubmissionDateAndTime: when CC013C was prepared
    amendment_accepted_at: datetime
    office_of_departure: str
    holder: str
    code = "CC004C"


@dataclass(frozen=True)
class ControlDecisionNotification:
    """CC060C E_CTR_DEC: office of departure → holder; the goods will be controlled before release."""

    header: Header
    lrn: str
    mrn: str
    notified_at: datetime  # controlNotificationDateAndTime
    notification_type: str  # "0" decision to control, "2" intention to control (pre-lodged, AEO)
    office_of_departure: str
    holder: str
    code = "CC060C"


@dataclass(frozen=True)
class PresentationNotification:
    """CC170C E_PRE_NOT: holder → office of departure; the goods of a pre-lodged declaration are presented.

    P5 names the declaration by its LRN only: the MRN comes after presentation (CC028C)."""

    header: Header
    lrn: str
    office_of_departure: str
    holder: str
    location_of_goods: str | None  # UN/LOCODE where the goods are presented (P5 allows other identifications)
    house_consignments: tuple[int, ...] = (1,)  # sequence numbers of the house consignments presented
    type_of_location: str = "A"  # CL347: A designated location
    qualifier_of_identification: str = "U"  # CL326: U the location is named by its UN/LOCODE
    code = "CC170C"


@dataclass(frozen=True)
class UnloadingPermission:
    """CC043C E_ULD_PER: office of destination → authorised consignee; the goods may be unloaded."""

    header: Header
    mrn: str
    declaration_type: str
    acceptance_date: date | None
    security: int
    reduced_dataset_indicator: bool
    office_of_destination_actual: str
    trader_at_destination: str
    code = "CC043C"


@dataclass(frozen=True)
class UnloadingRemarks:
    """CC044C E_ULD_REM: authorised consignee → office of destination; what unloading found."""

    header: Header
    mrn: str
    office_of_destination_actual: str
    trader_at_destination: str
    conform: bool  # the goods match the declaration
    unloading_completion: bool  # 0: unloading not finished
    unloading_date: date
    state_of_seals_ok: bool | None  # None: no seals to report on
    remark: str | None = None
    code = "CC044C"


@dataclass(frozen=True)
class Incident:
    """One INCIDENT of CD180C / CC182C: what happened en route, and where."""

    sequence_number: int
    code: str  # CL019 incident code (n1), e.g. "1" the carrier deviated from the itinerary
    text: str
    country: str  # Location/country
    location: str | None = None  # Location/UNLocode
    qualifier_of_identification: str = "U"  # CL326 of Location: U the place is named by its UN/LOCODE


@dataclass(frozen=True)
class IncidentNotification:
    """CD180C INCIDENT NOTIFICATION: office of incident registration → office of departure."""

    header: Header
    mrn: str
    notified_at: datetime  # incidentNotificationDateAndTime
    office_of_departure: str
    office_of_incident_registration: str
    incidents: tuple[Incident, ...]
    code = "CD180C"


@dataclass(frozen=True)
class ForwardedIncidentNotification:
    """CC182C E_INC_NOT: office of departure → holder; an incident was registered en route."""

    header: Header
    mrn: str
    notified_at: datetime
    office_of_departure: str
    office_of_incident_registration: str
    incidents: tuple[Incident, ...]
    code = "CC182C"


CatsMessage = (
    TransitDeclaration
    | PositiveAcknowledge
    | MRNAllocated
    | RejectionFromDeparture
    | ReleaseForTransit
    | NoRelease
    | GuaranteeNotValid
    | InvalidationRequest
    | InvalidationDecision
    | ATR
    | AAR
    | NotificationCrossingFrontier
    | ArrivalNotification
    | RejectionFromDestination
    | ArrivalAdvice
    | GoodsRelease
    | ControlResults
    | Discrepancies
    | WriteOffNotification
    | RequestOnNonArrivedMovement
    | InformationAboutNonArrivedMovement
    | RecoveryNotification
    | GuaranteeUse
    | GuaranteeUseResult
    | GuaranteeUseCancellation
    | FunctionalNack
    | DeclarationAmendment
    | AmendmentAcceptance
    | ControlDecisionNotification
    | PresentationNotification
    | UnloadingPermission
    | UnloadingRemarks
    | IncidentNotification
    | ForwardedIncidentNotification
)

MESSAGE_NAMES: dict[str, str] = {
    "CC015C": "Declaration data",
    "CC928C": "Positive acknowledge",
    "CC028C": "MRN allocated",
    "CC056C": "Rejection from office of departure",
    "CC029C": "Release for transit",
    "CC051C": "No release for transit",
    "CC055C": "Guarantee not valid",
    "CC014C": "Declaration invalidation request",
    "CC009C": "Invalidation decision",
    "CD050C": "Anticipated transit record",
    "CD001C": "Anticipated arrival record",
    "CD118C": "Notification crossing frontier",
    "CC007C": "Arrival notification",
    "CC057C": "Rejection from office of destination",
    "CD006C": "Arrival advice",
    "CC025C": "Goods release notification",
    "CD018C": "Destination control results",
    "CC019C": "Discrepancies",
    "CC045C": "Write-off notification",
    "CC140C": "Request on non-arrived movement",
    "CC141C": "Information about non-arrived movement",
    "CC035C": "Recovery notification",
    "CD203C": "Guarantee use",
    "CD205C": "Guarantee use result",
    "CD204C": "Guarantee use cancellation",
    "CD906C": "Functional NACK",
    "CC013C": "Declaration amendment",
    "CC004C": "Amendment acceptance",
    "CC060C": "Control decision notification",
    "CC170C": "Presentation notification for the pre-lodged declaration",
    "CC043C": "Unloading permission",
    "CC044C": "Unloading remarks",
    "CD180C": "Incident notification",
    "CC182C": "Forwarded incident notification to ED",
}
"""Message names as NCTS lists them (CL060 and the DDNTA XSD headers), for timelines and errors."""
