"""The CATS part of the scenario language: offices, traders, guarantees, movements, their steps and
expectations, typed, and checked against each other before anything runs.

Reference checks follow who does what in NCTS: a declaration is lodged by a holder who is a trader of
the declaring node, at an office of departure of that node's country; goods are presented at an
office of transit that the acting node runs and that the movement declares; arrival, control and
release happen at an office of destination of the acting node. Expected states are the states of the
customs state tables (`nodes.customs.tables`), message codes those of the CATS message set.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from lxml import etree
from pydantic import Field

from exchange.errors import DocumentError
from exchange.language import (
    Amount,
    Check,
    Code,
    Count,
    DayOrDate,
    IsoDate,
    Moment,
    Record,
    StepAction,
    Text,
    repeated,
    suggest,
)
from exchange.safexml import parse_document
from exchange.scenario import ExpectSection, NodeBase, known_elements
from exchange.yamlmarks import KeyPath
from nodes.customs.config import ROLES
from nodes.customs.forms import (
    AccessCode,
    City,
    Container,
    Country,
    GuaranteeType,
    Locode,
    Lrn,
    Name,
    PackageType,
    Postcode,
    Seal,
    TransportMode,
)
from nodes.customs.guarantee import RiskLevel
from nodes.customs.model import MESSAGE_NAMES
from nodes.customs.tables import DepartureState, DestinationState, TransitState
from nodes.customs.traffic import TrafficOutcome, TrafficSection, check_traffic
from nodes.declarant import FOLLOW_UPS, OPENERS

__all__ = ["CATS_ACTIONS", "CATS_CHECKS", "CatsDocument", "CatsExpect", "CatsNode"]

Role = Literal[tuple(sorted(ROLES))]  # type: ignore[valid-type]
Risk = Literal[tuple(level.value for level in RiskLevel)]  # type: ignore[valid-type]
MessageCode = Literal[tuple(sorted(MESSAGE_NAMES))]  # type: ignore[valid-type]
OfficeCode = Code


# -- node sections -------------------------------------------------------------------------------------------


class OfficeEntry(Record):
    reference: OfficeCode = Field(pattern=r"^[A-Z]{2}[A-Z0-9]{6}$", description="customs office reference number "
                                  "(CL141 pattern: country + 6 characters)")
    name: Text | None = Field(None, description="the office's usual name")
    roles: list[Role] = Field(min_length=1, description="DEP, DES, TRA, GUA (departure, destination, transit, "
                              "guarantee)")
    unlocode: Locode | None = Field(None, description="UN/LOCODE of its place (used as location of goods)")
    synthetic: bool = Field(False, description="true: an invented code, not a real office")


class TraderEntry(Record):
    id: Code = Field(description="EORI/TIN identification number")
    name: Name = Field(description="the trader's name (up to 70 characters)")
    street: Name | None = Field(None, description="street and number (up to 70 characters)")
    postcode: Postcode | None = Field(None, description="postcode (quote it; up to 17 characters)")
    city: City | None = Field(None, description="city (up to 35 characters)")
    risk: Risk = Field("standard", description="AEO level: standard, reduced-50, reduced-30 or waiver")
    note: Text | None = Field(None, description="a remark for people")


class GuaranteeEntry(Record):
    grn: Code = Field(pattern=r"^\d{2}[A-Z]{2}[A-Z0-9]{12}\d$", description="guarantee reference number (quote it)")
    holder: Code = Field(description="the trader id of the holder of the guarantee")
    access_code: AccessCode = Field(description="the access code the declaration must quote (4 characters)")
    reference_amount: Amount = Field(description="the comprehensive guarantee's reference amount")
    currency: Code = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency")
    office: OfficeCode | None = Field(None, description="the office of guarantee")


class CatsNode(NodeBase):
    offices: list[OfficeEntry] = Field(default_factory=list, description="customs offices (CATS)")
    traders: list[TraderEntry] = Field(default_factory=list, description="traders established here (CATS)")
    guarantees: list[GuaranteeEntry] = Field(default_factory=list, description="guarantees registered here (CATS)")


# -- movements -----------------------------------------------------------------------------------------------


class TransitEntry(Record):
    office: OfficeCode = Field(description="a declared office of transit")
    eta: Moment | None = Field(None, description="expected arrival there (ISO-8601)")


class Packages(Record):
    type: PackageType = Field("PK", description="UN/ECE Rec 21 package type (CL017, 2 characters)")
    count: int = Field(1, ge=0, description="number of packages")
    marks: Text | None = Field(None, description="shipping marks")


class ItemEntry(Record):
    description: Text = Field(description="description of goods")
    hs: Code = Field(pattern=r"^\d{6}$", description="HS sub-heading, 6 digits (quote it)")
    gross_kg: Amount = Field(description="gross mass in kg")
    net_kg: Amount | None = Field(None, description="net mass in kg")
    packages: Packages | None = Field(None, description="packaging")


class EquipmentEntry(Record):
    container: Container | None = Field(None, description="container identification number (up to 17 printable "
                                        "characters)")
    seals: list[Seal] = Field(default_factory=list, description="seal identifiers (up to 20 characters each)")


class GuaranteeUse(Record):
    type: GuaranteeType = Field("1", description="guarantee type (CL251): 1 comprehensive, 0 waiver, ...")
    grn: Code = Field(description="the guarantee reference number used")
    access_code: AccessCode = Field(description="its access code (4 characters)")
    amount: Amount = Field(description="amount to be covered")
    currency: Code = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency")


class Transport(Record):
    inland: TransportMode = Field("3", description="inland mode of transport (CL018): 3 road, 1 sea, 2 rail, ...")
    border: TransportMode = Field("3", description="mode of transport at the border (CL018)")


class SupportingDocumentEntry(Record):
    type: Code = Field(description="supporting document type (CL213), e.g. N851 for a phytosanitary certificate")
    reference: Code = Field(description="its reference number")


class LegOutside(Record):
    """A leg the administrations do not see (the Caspian ferry): shown to people, not sent to anyone."""

    origin: Code = Field(alias="from", description="where the leg starts (an office or a place)")
    destination: Code = Field(alias="to", description="where it ends")
    via: Text | None = Field(None, description="how")
    countries: list[Code] = Field(default_factory=list, description="the countries crossed")
    outside_administrations: bool = Field(True, description="true: no scenario administration sees this leg")


class MovementEntry(Record):
    title: Text | None = Field(None, description="one line for people")
    lrn: Lrn = Field(description="local reference number (unique per holder): up to 22 characters as P5 has it, "
                     "spaces and slashes inside allowed, none blank at either end")
    holder: Code = Field(description="trader id of the holder of the transit procedure")
    consignee: Code = Field(description="trader id of the consignee")
    departure: OfficeCode = Field(description="office of departure")
    destination: OfficeCode = Field(description="office of destination")
    transit: list[TransitEntry] = Field(default_factory=list, description="offices of transit, in route order")
    route: list[Country] = Field(default_factory=list, description="countries of routing (ISO alpha-2)")
    transport: Transport = Field(default_factory=Transport, description="modes of transport")
    equipment: list[EquipmentEntry] = Field(default_factory=list, description="containers and seals")
    guarantee: GuaranteeUse = Field(description="the guarantee the declaration uses")
    items: list[ItemEntry] = Field(min_length=1, description="goods items")
    documents: list[SupportingDocumentEntry] = Field(default_factory=list, description="supporting documents")
    declaration_type: Literal["T1", "T2", "T2F", "TIR", "T"] = Field("T1", description="declaration type (CL231)")
    additional_declaration_type: Literal["A", "D"] = Field("A", description="A standard, D pre-lodged")
    security: Literal[0, 1, 2, 3] = Field(0, description="safety and security (CL217)")
    time_limit: DayOrDate | None = Field(None, description="transit time limit: days from release (5d) or a date")
    control: bool = Field(False, description="true: the office of departure controls the goods before release "
                          "(CC060C, then a record_departure_control step)")
    leg_outside: LegOutside | None = Field(None, description="a leg outside the administrations, for the timeline")


# -- expectations --------------------------------------------------------------------------------------------


class MovementStates(Record):
    departure: Literal[tuple(state.value for state in DepartureState)] | None = Field(  # type: ignore[valid-type]
        None, description="state at the office of departure")
    destination: Literal[tuple(state.value for state in DestinationState)] | None = Field(  # type: ignore[valid-type]
        None, description="state at the office of destination")
    transit: Literal[tuple(state.value for state in TransitState)] | None = Field(  # type: ignore[valid-type]
        None, description="state at every office of transit (all must agree)")


class GuaranteeFigures(Record):
    reserved: Code | None = Field(None, description="amount reserved at the end, as written (\"0.00\")")
    available: Code | None = Field(None, description="amount available at the end")
    reference: Code | None = Field(None, description="reference amount")
    currency: Code | None = Field(None, description="currency")
    holder: Code | None = Field(None, description="holder's trader id")


class DocumentExpectation(Record):
    movement: Code = Field(description="movement key")
    type: MessageCode = Field(description="message type, e.g. CC056C")
    contains: dict[str, Text] = Field(default_factory=dict, description="element local name, or the end of its path "
                                      "(`FunctionalError/errorCode`) → text one of them must carry")


class CatsExpect(ExpectSection):
    movements: dict[Code, MovementStates] = Field(default_factory=dict, description="movement key → states")
    guarantees: dict[Code, GuaranteeFigures] = Field(default_factory=dict, description="GRN → figures")
    messages: dict[Code, list[MessageCode]] = Field(default_factory=dict,
                                                    description="movement key → message types in this order")
    message_counts: dict[Code, dict[MessageCode, Count]] = Field(
        default_factory=dict, description="movement key → type → how many the hub accepted")
    documents: list[DocumentExpectation] = Field(default_factory=list, description="documents with given content")
    traffic: dict[Code, TrafficOutcome] = Field(
        default_factory=dict, description="traffic flow → where its generated movements end, counted by state")


class CatsDocument(Record):
    movements: dict[Code, MovementEntry] = Field(default_factory=dict, description="movement key → movement (CATS)")
    legs: dict[Code, Any] = Field(default_factory=dict, description="a place for YAML anchors of legs outside the "
                                  "administrations (read where a movement refers to them)")
    traffic: TrafficSection | None = Field(None, description="generated movements (nodes/customs/traffic.py)")


# -- step actions --------------------------------------------------------------------------------------------


class MovementStep(Record):
    movement: Code = Field(description="movement key")


class InvalidateArguments(MovementStep):
    justification: Text | None = Field(None, description="why the holder asks to invalidate (CC014C)")


class AnswerEnquiryArguments(MovementStep):
    delivered: bool = Field(description="true: the goods were delivered; false: they were not")
    delivered_on: IsoDate | None = Field(None, description="when they were delivered (default: the step's day)")
    office: OfficeCode | None = Field(None, description="where they were delivered (default: the destination)")
    text: Text | None = Field(None, description="what the holder says (CC141C)")


class NotifyArrivalArguments(MovementStep):
    office: OfficeCode | None = Field(None, description="office of destination (default: the declared one)")
    trader: Code | None = Field(None, description="trader at destination (default: the consignee)")
    location: Locode | None = Field(None, description="location of goods (default: the office's UN/LOCODE)")
    simplified: bool = Field(False, description="true: the trader is an authorised consignee (simplified procedure:"
                             " CC043C unloading permission, then an unloading_remarks step)")


class AmendArguments(MovementStep):
    """What the amendment gives anew; every other entry of the movement is declared again as it was."""

    destination: OfficeCode | None = Field(None, description="office of destination")
    transit: list[TransitEntry] | None = Field(None, description="offices of transit, in route order")
    route: list[Country] | None = Field(None, description="countries of routing (ISO alpha-2)")
    transport: Transport | None = Field(None, description="modes of transport")
    equipment: list[EquipmentEntry] | None = Field(None, description="containers and seals")
    guarantee: GuaranteeUse | None = Field(None, description="the guarantee the declaration uses")
    items: list[ItemEntry] | None = Field(None, description="goods items")
    documents: list[SupportingDocumentEntry] | None = Field(None, description="supporting documents")


class PresentGoodsArguments(MovementStep):
    location: Locode | None = Field(None, description="UN/LOCODE where the goods are (default: the office's)")


class UnloadingRemarksArguments(MovementStep):
    conform: bool = Field(description="true: the goods match the declaration")
    seals_ok: bool | None = Field(None, description="state of seals: true intact, false not (leave out: no seals)")
    complete: bool = Field(True, description="false: unloading is not finished, the permission stands")
    remark: Text | None = Field(None, description="what the consignee reports")
    office: OfficeCode | None = Field(None, description="office of destination (default: the declared one)")
    trader: Code | None = Field(None, description="authorised consignee (default: the consignee)")


class DepartureControlArguments(MovementStep):
    satisfactory: bool = Field(description="true: release (CC029C); false: no release (CC051C)")
    text: Text | None = Field(None, description="what the control found")
    office: OfficeCode | None = Field(None, description="office of departure (default: the declared one)")


class IncidentArguments(MovementStep):
    office: OfficeCode = Field(description="the office of transit that registers the incident")
    code: Code = Field(pattern=r"^[0-9]$", description="incident code (CL019, n1; quote it)")
    text: Text = Field(description="what happened")
    location: Locode | None = Field(None, description="UN/LOCODE of where it happened")


class PresentArguments(MovementStep):
    office: OfficeCode = Field(description="the office of transit where the goods are presented")


class RecordControlArguments(MovementStep):
    office: OfficeCode | None = Field(None, description="office of destination (default: the declared one)")
    seals_ok: bool = Field(description="true: seals intact; false: a discrepancy")
    discrepancies: Text | None = Field(None, description="what was found")


class ResolveArguments(MovementStep):
    office: OfficeCode | None = Field(None, description="office of departure (default: the declared one)")


class SubmitArguments(Record):
    file: Text = Field(description="a P5 message as a trader's system writes it (CC015C, CC007C, or a follow-up: "
                       "CC013C, CC014C, CC141C, CC170C, CC044C), relative to the scenario")


def _offices(document: Any) -> dict[str, tuple[str, OfficeEntry]]:
    return {office.reference: (node_id, office) for node_id, node in document.nodes.items()
            for office in node.offices}


def _traders(document: Any) -> dict[str, str]:
    return {trader.id: node_id for node_id, node in document.nodes.items() for trader in node.traders}


def _movement(document: Any, key: str) -> tuple[MovementEntry | None, list[tuple[KeyPath, str]]]:
    movement = document.movements.get(key)
    if movement is None:
        known = list(document.movements)
        return None, [(("movement",), f"is {key!r}{suggest(key, known)}: no such movement under 'movements'"
                                      f" (known: {', '.join(known) or 'none'})")]
    return movement, []


def _office_of_node(document: Any, step: Any, office: str, role: str, where: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    found = _offices(document).get(office)
    if found is None:
        yield where, f"office {office} is in no node's offices"
        return
    node_id, entry = found
    if node_id != step.node:
        yield where, f"office {office} belongs to node {node_id!r}, but the step's node is {step.node!r}"
    elif role not in entry.roles:
        yield where, f"office {office} has no role {role} (roles: {', '.join(entry.roles)})"


def _holder_step(document: Any, step: Any, arguments: MovementStep) -> Iterator[tuple[KeyPath, str]]:
    movement, problems = _movement(document, arguments.movement)
    yield from problems
    if movement is not None and _traders(document).get(movement.holder) != step.node:
        yield ("node",), f"the holder of {arguments.movement} ({movement.holder}) is no trader of node {step.node!r}"


def _check_declare(document: Any, step: Any, arguments: MovementStep) -> Iterator[tuple[KeyPath, str]]:
    yield from _holder_step(document, step, arguments)
    movement = document.movements.get(arguments.movement)
    if movement is not None:
        yield from _office_of_node(document, step, movement.departure, "DEP", ("movement",))


def _submitted(document: Any, file: str) -> tuple[etree._Element | None, str | None]:
    """The root of a file a `submit` step names, or why it cannot be read."""
    try:
        return parse_document((document.directory / file).read_bytes()), None
    except OSError as error:
        return None, f"{file} is no file beside the scenario ({document.directory}): {error.strerror}"
    except DocumentError as error:
        return None, f"{file}: {error.message}"


def _check_submit(document: Any, step: Any, arguments: SubmitArguments) -> Iterator[tuple[KeyPath, str]]:
    """The file is a message a trader sends, and its sender is a trader of the step's node."""
    root, problem = _submitted(document, arguments.file)
    if root is None:
        yield ("file",), str(problem)
        return
    code = etree.QName(root).localname
    sendable = {*OPENERS, *(code for codes in FOLLOW_UPS.values() for code in codes)}
    if code not in sendable:
        yield ("file",), f"{arguments.file} is a {code}; a trader sends {', '.join(sorted(sendable))}"
    sender = (root.findtext("messageSender") or "").strip()
    if _traders(document).get(sender) != step.node:
        yield ("file",), f"{arguments.file} is sent by {sender or 'nobody'}, who is no trader of node {step.node!r}"


def _submitted_lrns(document: Any) -> set[str]:
    """The LRNs of declarations that `submit` steps lodge: expectations may name those movements by them."""
    lrns = set()
    for step in document.steps:
        if getattr(step, "do", None) == "submit" and getattr(step, "file", None):
            root, _ = _submitted(document, str(step.file))
            if root is not None and etree.QName(root).localname == "CC015C":
                lrns.add((root.findtext("TransitOperation/LRN") or "").strip())
    return lrns


def _check_present(
    document: Any, step: Any, arguments: PresentArguments | IncidentArguments
) -> Iterator[tuple[KeyPath, str]]:
    movement, problems = _movement(document, arguments.movement)
    yield from problems
    yield from _office_of_node(document, step, arguments.office, "TRA", ("office",))
    if movement is not None and arguments.office not in [entry.office for entry in movement.transit]:
        yield ("office",), f"{arguments.office} is not an office of transit declared for {arguments.movement}"


def _at_office(role: str, declared: str) -> Check:
    """The step's office (by default the movement's `declared` one) is the acting node's, in `role`."""

    def check(document: Any, step: Any, arguments: Any) -> Iterator[tuple[KeyPath, str]]:
        movement, problems = _movement(document, arguments.movement)
        yield from problems
        if movement is not None:
            where: KeyPath = ("office",) if arguments.office else ("movement",)
            office = arguments.office or getattr(movement, declared)
            yield from _office_of_node(document, step, office, role, where)

    return check


_at_destination = _at_office("DES", "destination")


CATS_ACTIONS: tuple[StepAction, ...] = (
    StepAction("declare", "cats", MovementStep, "the holder lodges the movement's transit declaration (CC015C)",
               check=_check_declare),
    StepAction("amend", "cats", AmendArguments, "the holder amends the declaration before release (CC013C; "
               "CC004C or CC056C back)", check=_holder_step),
    StepAction("present", "cats", PresentGoodsArguments, "the holder presents the goods of a pre-lodged "
               "declaration (CC170C; CC028C back)", check=_holder_step),
    StepAction("submit", "cats", SubmitArguments, "a trader's own system lodges a P5 message through the node's "
               "declarant channel (the trader API's path; answers go back to the trader)", check=_check_submit),
    StepAction("invalidate", "cats", InvalidateArguments, "the holder asks to invalidate the declaration (CC014C)",
               check=_holder_step),
    StepAction("answer_enquiry", "cats", AnswerEnquiryArguments, "the holder answers an enquiry (CC141C)",
               check=_holder_step),
    StepAction("present_at_transit", "cats", PresentArguments, "the goods are presented at an office of transit "
               "(CD118C to departure)", check=_check_present),
    StepAction("notify_arrival", "cats", NotifyArrivalArguments, "the trader at destination notifies arrival "
               "(CC007C)", check=_at_destination),
    StepAction("record_control", "cats", RecordControlArguments, "the office of destination records its control "
               "(CC025C release, CD018C results)", check=_at_destination),
    StepAction("unloading_remarks", "cats", UnloadingRemarksArguments, "the authorised consignee reports on "
               "unloading (CC044C; CC025C and CD018C follow)", check=_at_destination),
    StepAction("record_departure_control", "cats", DepartureControlArguments, "the office of departure records "
               "the control it notified (CC060C): release or not", check=_at_office("DEP", "departure")),
    StepAction("record_incident", "cats", IncidentArguments, "an office of transit registers an incident en route "
               "(CD180C to departure, CC182C to the holder)", check=_check_present),
    StepAction("resolve_discrepancies", "cats", ResolveArguments, "the office of departure clears up discrepancies "
               "found at destination (write-off)", check=_at_office("DEP", "departure")),
)


# -- whole-document checks -----------------------------------------------------------------------------------


def _check_references(document: Any) -> Iterator[tuple[KeyPath, str]]:
    """Offices, traders and guarantees named anywhere exist; codes are unique."""
    offices, traders = _offices(document), _traders(document)
    for section, key in (("offices", "reference"), ("traders", "id"), ("guarantees", "grn")):
        yield from repeated((("nodes", node_id, section, index, key), getattr(entry, key))
                            for node_id, node in document.nodes.items()
                            for index, entry in enumerate(getattr(node, section)))
    # the offices of transit and destination find a movement by its LRN, whoever holds it: one LRN, one movement
    yield from repeated((("movements", key, "lrn"), movement.lrn) for key, movement in document.movements.items())
    for node_id, node in document.nodes.items():
        for index, office in enumerate(node.offices):
            where: KeyPath = ("nodes", node_id, "offices", index, "reference")
            if office.reference[:2] != node.country:
                yield where, (f"{office.reference} starts with {office.reference[:2]}, "
                              f"not the node's country {node.country}")
        for index, guarantee in enumerate(node.guarantees):
            if guarantee.holder not in traders:
                yield ("nodes", node_id, "guarantees", index, "holder"), f"{guarantee.holder} is no trader of any node"
            yield from _office_of_guarantee(offices, node.country, guarantee, ("nodes", node_id, "guarantees", index))
    grns = {guarantee.grn for node in document.nodes.values() for guarantee in node.guarantees}
    for key, movement in document.movements.items():
        base: KeyPath = ("movements", key)
        for name in ("holder", "consignee"):
            trader = getattr(movement, name)
            if trader not in traders:
                yield (*base, name), f"{trader}{suggest(trader, traders)} is no trader of any node"
        for name, role in (("departure", "DEP"), ("destination", "DES")):
            yield from _declared_office(offices, getattr(movement, name), role, (*base, name))
        for index, entry in enumerate(movement.transit):
            yield from _declared_office(offices, entry.office, "TRA", (*base, "transit", index, "office"))
        if movement.guarantee.grn not in grns:
            yield (*base, "guarantee", "grn"), f"{movement.guarantee.grn} is registered at no node's guarantees"
    for index, crossing in enumerate(document.baseline.crossings if document.baseline else ()):
        if crossing.office not in offices:
            yield ("baseline", "crossings", index, "office"), (f"{crossing.office}{suggest(crossing.office, offices)} "
                                                               "is in no node's offices")


def _office_of_guarantee(offices: Mapping[str, tuple[str, OfficeEntry]], country: str, guarantee: GuaranteeEntry,
                         where: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """A GRN is managed by the office with role GUA of the country it was issued in (GRN positions 3-4), which
    keeps the register of its node: the guarantee is that country's node's, and `office`, when given, is that
    office (it was read nowhere, so a wrong one went unnoticed)."""
    issued = guarantee.grn[2:4]
    managers = [reference for reference, (_, entry) in offices.items() if reference[:2] == issued
                and "GUA" in entry.roles]
    if issued != country:
        yield (*where, "grn"), (f"{guarantee.grn} was issued in {issued} (GRN positions 3-4): register it at the "
                                f"node of {issued}, not of {country}")
    elif not managers:
        yield (*where, "grn"), (f"{guarantee.grn} was issued in {issued}, where no office has role GUA to manage it "
                                "(CD203C goes there)")
    elif guarantee.office is not None and guarantee.office not in managers:
        yield (*where, "office"), (f"is {guarantee.office}: GRNs issued in {issued} are managed by {managers[0]}, its "
                                   "office with role GUA")


def _declared_office(offices: Mapping[str, tuple[str, OfficeEntry]], office: str, role: str,
                     where: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """An office the scenario does not know is allowed when it looks real: the declaration is then refused
    by customs as the reference data says (CC056C, CL173), which is what a scenario may want to show."""
    found = offices.get(office)
    if found is not None and role not in found[1].roles:
        yield where, f"office {office} has no role {role} (roles: {', '.join(found[1].roles)})"


def _check_expectations(document: Any) -> Iterator[tuple[KeyPath, str]]:
    grns = {guarantee.grn for node in document.nodes.values() for guarantee in node.guarantees}
    expect = document.expect
    known = {*document.movements, *_submitted_lrns(document)}
    for section in ("movements", "messages", "message_counts"):
        for key in getattr(expect, section):
            if key not in known:
                hint = suggest(key, known)
                yield ("expect", section, key), f"{key}{hint} is no movement of the scenario"
    for key, states in expect.movements.items():
        movement = document.movements.get(key)
        if states.transit is not None and movement is not None and not movement.transit:
            yield ("expect", "movements", key, "transit"), f"expects a state at offices of transit; {key} declares none"
    for index, wanted in enumerate(expect.documents):
        if wanted.movement not in known:
            yield ("expect", "documents", index, "movement"), f"{wanted.movement} is no movement of the scenario"
        yield from known_elements(("expect", "documents", index, "contains"), wanted.type, wanted.contains)
    for grn in expect.guarantees:
        if grn not in grns:
            yield ("expect", "guarantees", grn), f"{grn}{suggest(grn, grns)} is registered at no node's guarantees"


CATS_CHECKS = (_check_references, _check_expectations, check_traffic)
