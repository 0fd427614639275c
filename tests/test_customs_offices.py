from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from exchange.errors import OutOfSequence, ProtocolError, UnknownMovement
from nodes.customs.actions import PresentAtTransit, RecordControl, ResolveDiscrepancies
from nodes.customs.config import CustomsConfig, Office
from nodes.customs.guarantee import GuaranteeAccount, RiskLevel
from nodes.customs.ledger import CUSTOMS_LAYOUT, CustomsState, DepartureRecord
from nodes.customs.model import (
    Address,
    ArrivalAdvice,
    ArrivalNotification,
    CatsMessage,
    Consignment,
    ConsignmentItem,
    ControlResults,
    Declaration,
    FunctionalError,
    FunctionalNack,
    Guarantee,
    GuaranteeReference,
    Header,
    HouseConsignment,
    InformationAboutNonArrivedMovement,
    InvalidationRequest,
    NotificationCrossingFrontier,
    Packaging,
    ReleaseForTransit,
    Seal,
    Trader,
    TransitDeclaration,
    TransitOfficeDeclared,
    TransportEquipment,
)
from nodes.customs.mrn import allocate_mrn
from nodes.customs.offices import CustomsAdministration
from nodes.customs.outcome import Event
from nodes.customs.tables import DepartureState, DestinationState, TransitState
from tests.rows import through_rows

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)

TASHKENT, UZ_GUARANTEE = "UZ000100", "UZ000900"
ALAT, RED_BRIDGE_AZ, RED_BRIDGE_GE, POTI = "AZ000210", "AZ000310", "GE000110", "GE000510"
OFFICES = (
    Office(TASHKENT, "Tashkent-Tovarnaya customs post", "UZ", frozenset({"DEP", "DES"})),
    Office(UZ_GUARANTEE, "Tashkent comprehensive guarantee office", "UZ", frozenset({"GUA"})),
    Office(ALAT, "Alat port customs", "AZ", frozenset({"TRA"})),
    Office(RED_BRIDGE_AZ, "Red Bridge customs post", "AZ", frozenset({"TRA"})),
    Office(RED_BRIDGE_GE, "Red Bridge customs checkpoint", "GE", frozenset({"TRA"})),
    Office(POTI, "Poti port customs", "GE", frozenset({"DEP", "DES"})),
    Office("GE000900", "Tbilisi comprehensive guarantee office", "GE", frozenset({"GUA"})),
)

AEO, FRUIT, CONSIGNEE = "UZ301234567001", "UZ305551112002", "GE204512345"
GRN_AEO, GRN_AEO_SMALL, GRN_FRUIT = "26UZ0009000000011", "26UZ0009000000045", "26UZ0009000000029"
GUARANTEES = (
    GuaranteeAccount(GRN_AEO, AEO, "AC01", Decimal("100000.00"), "USD"),
    GuaranteeAccount(GRN_AEO_SMALL, AEO, "AC02", Decimal("10000.00"), "USD"),
    GuaranteeAccount(GRN_FRUIT, FRUIT, "FR22", Decimal("50000.00"), "USD"),
)


def config(country: str) -> CustomsConfig:
    return CustomsConfig(
        country,
        OFFICES,
        guarantees=tuple(account for account in GUARANTEES if account.grn[2:4] == country),
        risk_levels={AEO: RiskLevel.REDUCED_50},
    )


def trader(identification: str) -> Trader:
    return Trader(
        identification, f"Trader {identification}", Address("1 Main Street", "100000", "City", identification[:2])
    )


def declaration(
    lrn: str = "UZ26TAS0000001",
    *,
    holder: str = AEO,
    references: tuple[tuple[str, str, str], ...] = ((GRN_AEO, "AC01", "40000.00"),),
    guarantee_type: str = "1",
    transit: tuple[str, ...] = (ALAT, RED_BRIDGE_AZ, RED_BRIDGE_GE),
    destination: str = POTI,
    departure: str = TASHKENT,
) -> Declaration:
    item = ConsignmentItem(
        1, 1, "Woven cotton fabric", "520821", Decimal("9200"), Decimal("9000"), (Packaging(1, "BL", 40, "SRT-01"),)
    )
    consignment = Consignment(
        country_of_dispatch="UZ",
        country_of_destination="GE",
        container_indicator=True,
        inland_mode_of_transport="3",
        mode_of_transport_at_the_border="3",
        gross_mass=Decimal("9200"),
        consignor=trader(holder),
        consignee=trader(CONSIGNEE),
        transport_equipment=(TransportEquipment(1, "MSKU1234565", 2, (Seal(1, "UZ-SEAL-1"), Seal(2, "UZ-SEAL-2"))),),
        countries_of_routing=("UZ", "TM", "AZ", "GE"),
        house_consignments=(HouseConsignment(1, Decimal("9200"), (item,)),),
    )
    guarantee_references = tuple(
        GuaranteeReference(index, grn, code, Decimal(amount), "USD")
        for index, (grn, code, amount) in enumerate(references, start=1)
    )
    return Declaration(
        lrn=lrn,
        declaration_type="T1",
        additional_declaration_type="A",
        security=0,
        office_of_departure=departure,
        office_of_destination=destination,
        offices_of_transit=tuple(TransitOfficeDeclared(index, office) for index, office in enumerate(transit, start=1)),
        holder=trader(holder),
        guarantees=(Guarantee(1, guarantee_type, guarantee_references),),
        consignment=consignment,
    )


def header(sender: str, recipient: str, about: str | None = None, message_id: str = "TEST-1") -> Header:
    return Header(sender, recipient, T0, message_id, about)


def codes(messages: Any) -> list[str]:
    return [message.code for message in messages]


def unchanged(before: CustomsState, after: CustomsState) -> bool:
    """Equal but for the message counter, which moves because the refusal is a message too."""
    return replace(after, message_serial=before.message_serial) == before


class Network:
    """Three administrations wired by hand: each message goes to the NTA its header names."""

    def __init__(self) -> None:
        self.admins = {country: CustomsAdministration(config(country)) for country in ("UZ", "AZ", "GE")}
        self.states = {country: admin.initial_state() for country, admin in self.admins.items()}
        self.log: list[CatsMessage] = []
        self.events: list[Event] = []
        self.held: list[CatsMessage] = []

    def deliver(self, *messages: CatsMessage, now: datetime = T0, hold: tuple[str, ...] = ()) -> None:
        """Deliver until quiet; messages with a code in `hold` are kept in `held` instead."""
        queue = list(messages)
        while queue:
            message = queue.pop(0)
            self.log.append(message)
            recipient = message.header.recipient
            if message.code in hold:
                self.held.append(message)
            elif recipient.startswith("NTA."):
                country = recipient.removeprefix("NTA.")
                outcome = self.admins[country].receive(self.states[country], message, now)
                self.states[country] = outcome.state
                self.events.extend(outcome.events)
                queue.extend(outcome.messages)

    def act(self, country: str, action: Any, now: datetime = T0) -> None:
        outcome = self.admins[country].act(self.states[country], action, now)
        self.states[country] = outcome.state
        self.events.extend(outcome.events)
        self.deliver(*outcome.messages, now=now)

    def tick(self, country: str, now: datetime) -> list[str]:
        outcome = self.admins[country].tick(self.states[country], now)
        self.states[country] = outcome.state
        self.events.extend(outcome.events)
        self.deliver(*outcome.messages, now=now)
        return codes(outcome.messages)

    def declare(self, declared: Declaration, now: datetime = T0, hold: tuple[str, ...] = ()) -> str | None:
        """Send CC015C from the holder; return the MRN customs allocated (None if rejected)."""
        holder = declared.holder.identification_number
        message = TransitDeclaration(header(holder, "NTA.UZ", declared.lrn, f"{holder}-{declared.lrn}"), declared)
        start = len(self.log)
        self.deliver(message, now=now, hold=hold)
        allocated = [m for m in self.log[start:] if m.code == "CC028C"]
        return allocated[0].mrn if allocated else None  # type: ignore[union-attr]

    def departure(self, mrn: str) -> DepartureRecord:
        return self.states["UZ"].departures[TASHKENT][mrn]

    def sent(self, code: str) -> list[Any]:
        return [message for message in self.log if message.code == code]

    def available(self, grn: str) -> Decimal:
        return self.states["UZ"].guarantees[grn].available


def travel(net: Network, mrn: str, *, at: datetime = T0) -> None:
    """The truck passes all three offices of transit, arrives in Poti and is controlled."""
    for hours, office, country in ((48, ALAT, "AZ"), (60, RED_BRIDGE_AZ, "AZ"), (62, RED_BRIDGE_GE, "GE")):
        net.act(country, PresentAtTransit(mrn, office), at + timedelta(hours=hours))


def arrive(net: Network, mrn: str, now: datetime) -> None:
    notification = ArrivalNotification(
        header(CONSIGNEE, "NTA.GE", mrn, f"{CONSIGNEE}-{mrn}"), mrn, now, POTI, CONSIGNEE, "GEPTI"
    )
    net.deliver(notification, now=now)


def departure_transitions(events: list[Event]) -> set[tuple[DepartureState | None, str]]:
    """The (state, trigger) pairs that the office of departure logged."""
    pairs = set()
    for event in events:
        if event.kind == "state" and event.office == TASHKENT:
            match = re.fullmatch(r"(\w+) → (\w+) on (.+)", event.detail)
            assert match, event.detail
            source = None if match[1] == "start" else DepartureState(match[1])
            pairs.add((source, match[3]))
    return pairs


# ---------------------------------------------------------------------------------------------------------------
# Flows


def happy_path() -> tuple[Network, str]:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    travel(net, mrn)
    arrive(net, mrn, T0 + timedelta(hours=73))
    net.act("GE", RecordControl(mrn, POTI, seals_ok=True), T0 + timedelta(hours=74))
    return net, mrn


def discrepancy_path() -> tuple[Network, str]:
    """Arrival overtakes the CD118C of the last office of transit; the seals are broken at Poti."""
    net = Network()
    mrn = net.declare(declaration(holder=FRUIT, references=((GRN_FRUIT, "FR22", "45000.00"),)))
    assert mrn is not None
    net.act("AZ", PresentAtTransit(mrn, ALAT), T0 + timedelta(hours=48))
    net.act("AZ", PresentAtTransit(mrn, RED_BRIDGE_AZ), T0 + timedelta(hours=60))
    arrive(net, mrn, T0 + timedelta(hours=61))
    net.act("GE", PresentAtTransit(mrn, RED_BRIDGE_GE), T0 + timedelta(hours=62))
    net.act(
        "GE", RecordControl(mrn, POTI, seals_ok=False, discrepancies="Seal UZ-SEAL-2 missing"), T0 + timedelta(hours=63)
    )
    return net, mrn


def test_happy_path_across_three_administrations() -> None:
    net, mrn = happy_path()
    assert codes(net.log) == [
        "CC015C", "CC928C", "CC028C", "CD203C", "CD205C", "CC029C", "CD050C", "CD050C", "CD050C", "CD001C",
        "CD118C", "CD118C", "CD118C", "CC007C", "CD006C", "CC025C", "CD018C", "CC045C", "CD204C",
    ]  # fmt: skip
    record = net.departure(mrn)
    assert record.state is DepartureState.WRITTEN_OFF
    assert record.passed_offices == (ALAT, RED_BRIDGE_AZ, RED_BRIDGE_GE)
    assert record.arrival_date == (T0 + timedelta(hours=73)).date()
    assert net.states["AZ"].transits[ALAT][mrn].state is TransitState.PASSED
    assert net.states["AZ"].transits[RED_BRIDGE_AZ][mrn].state is TransitState.PASSED
    assert net.states["GE"].transits[RED_BRIDGE_GE][mrn].state is TransitState.PASSED
    assert net.states["GE"].destinations[POTI][mrn].state is DestinationState.GOODS_RELEASED
    assert net.sent("CC025C")[0].release_type == "1"
    assert net.sent("CD018C")[0].control_result_code == "A1"
    assert net.sent("CC045C")[0].released_grns == (GRN_AEO,)
    assert mrn.startswith("26UZ000100") and mrn[16] == "J"


def test_release_sends_one_atr_per_office_of_transit_and_the_aar_to_the_destination_nta() -> None:
    net, _ = happy_path()
    assert [(m.header.recipient, m.office_of_transit) for m in net.sent("CD050C")] == [
        ("NTA.AZ", ALAT), ("NTA.AZ", RED_BRIDGE_AZ), ("NTA.GE", RED_BRIDGE_GE)
    ]  # fmt: skip
    assert [m.header.recipient for m in net.sent("CD001C")] == ["NTA.GE"]
    release = net.sent("CC029C")[0]
    assert isinstance(release, ReleaseForTransit) and release.header.recipient == AEO


def test_headers_name_sender_recipient_correlation_and_unique_ids() -> None:
    net, mrn = happy_path()
    acknowledge, allocated = net.sent("CC928C")[0], net.sent("CC028C")[0]
    assert (acknowledge.header.sender, acknowledge.header.recipient) == ("NTA.UZ", AEO)
    assert acknowledge.header.correlation_id == "UZ26TAS0000001"
    assert allocated.header.correlation_id == mrn
    crossing = net.sent("CD118C")[0]
    assert (crossing.header.sender, crossing.header.recipient) == ("NTA.AZ", "NTA.UZ")
    customs = [m for m in net.log if m.header.sender.startswith("NTA.")]
    ids = [m.header.message_id for m in customs]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"(UZ|AZ|GE)\d{9}", message_id) for message_id in ids)
    assert all(m.header.prepared_at >= T0 for m in customs)


def test_reduced_guarantee_reserves_half_and_write_off_frees_exactly_it() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    result = net.sent("CD205C")[0]
    assert (result.accepted, result.amount_reserved, result.balance_available) == (
        True,
        Decimal("20000.00"),
        Decimal("80000.00"),
    )
    assert net.available(GRN_AEO) == Decimal("80000.00")
    guarantee_events = [e.detail for e in net.events if e.kind == "guarantee"]
    assert guarantee_events == [
        f"reserved 20,000.00 USD (reduced-50 of 40,000.00 USD) on GRN {GRN_AEO}, balance 80,000.00 USD"
    ]
    travel(net, mrn)
    arrive(net, mrn, T0 + timedelta(hours=73))
    net.act("GE", RecordControl(mrn, POTI, seals_ok=True), T0 + timedelta(hours=74))
    assert net.available(GRN_AEO) == Decimal("100000.00")
    assert net.states["UZ"].guarantees[GRN_AEO].reservations == {}
    assert [e.detail for e in net.events if e.kind == "guarantee"][-1] == (
        f"released 20,000.00 USD on GRN {GRN_AEO}, balance 100,000.00 USD"
    )


def test_seal_discrepancies_end_in_pending_then_written_off_when_resolved() -> None:
    net, mrn = discrepancy_path()
    assert net.sent("CC025C")[0].release_type == "2"
    results = net.sent("CD018C")[0]
    assert (results.control_result_code, results.state_of_seals_ok) == ("B1", False)
    assert net.sent("CC019C")[0].discrepancies == "Seal UZ-SEAL-2 missing"
    record = net.departure(mrn)
    assert record.state is DepartureState.DISCREPANCIES_PENDING
    assert record.passed_offices == (ALAT, RED_BRIDGE_AZ, RED_BRIDGE_GE)
    assert net.available(GRN_FRUIT) == Decimal("5000.00")  # still held while discrepancies are pending
    net.act("UZ", ResolveDiscrepancies(mrn, TASHKENT), T0 + timedelta(days=5))
    assert net.departure(mrn).state is DepartureState.WRITTEN_OFF
    assert codes(net.log)[-2:] == ["CC045C", "CD204C"]
    assert net.available(GRN_FRUIT) == Decimal("50000.00")


def test_declaration_without_grn_is_released_at_once() -> None:
    net = Network()
    mrn = net.declare(declaration(guarantee_type="8", references=()))
    assert mrn is not None
    assert codes(net.log) == ["CC015C", "CC928C", "CC028C", "CC029C", "CD050C", "CD050C", "CD050C", "CD001C"]
    assert net.departure(mrn).state is DepartureState.RELEASED


# ---------------------------------------------------------------------------------------------------------------
# Guarantees at departure


def test_insufficient_guarantee_then_amendment_period_expires() -> None:
    net = Network()
    first = net.declare(declaration("UZ26FRG0000001", holder=FRUIT, references=((GRN_FRUIT, "FR22", "45000.00"),)))
    assert first is not None
    start = len(net.log)
    second = net.declare(declaration("UZ26FRG0000002", holder=FRUIT, references=((GRN_FRUIT, "FR22", "12000.00"),)))
    assert second is not None
    assert codes(net.log[start:]) == ["CC015C", "CC928C", "CC028C", "CD203C", "CD205C", "CC055C"]
    invalid = net.sent("CC055C")[0]
    assert [(reason.grn, reason.code) for reason in invalid.reasons] == [(GRN_FRUIT, "G09")]
    record = net.departure(second)
    assert record.state is DepartureState.GUARANTEE_UNDER_AMENDMENT
    assert record.deadline == T0 + timedelta(hours=24)
    assert net.tick("UZ", T0 + timedelta(hours=23, minutes=59)) == []
    assert net.tick("UZ", T0 + timedelta(hours=24)) == ["CC051C"]
    assert net.departure(second).state is DepartureState.NOT_RELEASED
    assert net.departure(second).deadline is None
    assert net.tick("UZ", T0 + timedelta(hours=48)) == []
    assert net.available(GRN_FRUIT) == Decimal("5000.00")


def test_no_release_gives_back_a_partial_reservation() -> None:
    net = Network()
    references = ((GRN_AEO_SMALL, "XXXX", "1000.00"), (GRN_AEO, "AC01", "40000.00"))
    mrn = net.declare(declaration(references=references))
    assert mrn is not None
    assert [(m.grn, m.accepted, m.reason_code) for m in net.sent("CD205C")] == [
        (GRN_AEO_SMALL, False, "G03"), (GRN_AEO, True, None)
    ]  # fmt: skip
    record = net.departure(mrn)
    assert (record.state, record.reserved_grns) == (DepartureState.GUARANTEE_UNDER_AMENDMENT, (GRN_AEO,))
    assert net.available(GRN_AEO) == Decimal("80000.00")
    assert net.tick("UZ", T0 + timedelta(days=1)) == ["CC051C", "CD204C"]
    assert net.available(GRN_AEO) == Decimal("100000.00")


def test_amendment_period_comes_from_the_configuration() -> None:
    admin = CustomsAdministration(replace(config("UZ"), amendment_period=timedelta(hours=2)))
    net = Network()
    net.admins["UZ"] = admin
    mrn = net.declare(declaration(references=((GRN_AEO, "WRONG", "10.00"),)))
    assert mrn is not None
    assert net.departure(mrn).deadline == T0 + timedelta(hours=2)


def test_unknown_grn_is_refused_g01_by_the_office_of_guarantee() -> None:
    net = Network()
    mrn = net.declare(declaration(references=(("26UZ0009999999999", "AC01", "10.00"),)))
    assert mrn is not None
    result = net.sent("CD205C")[0]
    assert (result.accepted, result.reason_code, result.reason_text) == (False, "G01", "Guarantee does not exist")
    assert net.departure(mrn).state is DepartureState.GUARANTEE_UNDER_AMENDMENT


def test_guarantee_use_delivered_twice_reserves_once() -> None:
    net = Network()
    mrn = net.declare(declaration(), hold=("CD203C",))
    assert mrn is not None
    use = net.held[0]
    net.deliver(use, use)
    assert net.available(GRN_AEO) == Decimal("80000.00")
    answers = net.sent("CD906C")
    assert len(answers) == 1 and answers[0].errors[0].error_code == "92"  # the second CD205C, after release
    assert net.departure(mrn).state is DepartureState.RELEASED


def test_guarantee_cancellation_delivered_twice_frees_once() -> None:
    net, _ = happy_path()
    cancellation = net.sent("CD204C")[0]
    before = net.states["UZ"]
    net.deliver(cancellation)
    assert unchanged(before, net.states["UZ"])
    assert net.events[-1].detail == f"nothing reserved (already released) on GRN {GRN_AEO}, balance 100,000.00 USD"


# ---------------------------------------------------------------------------------------------------------------
# Invalidation (CC014C)


def invalidation(mrn: str | None, lrn: str | None = None, holder: str = AEO) -> InvalidationRequest:
    return InvalidationRequest(
        header(holder, "NTA.UZ", mrn or lrn, f"{holder}-inv"),
        lrn,
        mrn,
        T0.date(),
        "Buyer asked to hold the goods",
        TASHKENT,
        holder,
    )


def enquiry_answer(mrn: str, *, delivered: bool, holder: str = AEO) -> InformationAboutNonArrivedMovement:
    """CC141C: delivered in Poti two days after release, or not delivered."""
    return InformationAboutNonArrivedMovement(
        header(holder, "NTA.UZ", mrn, f"{holder}-enq-{delivered:d}"),
        mrn,
        POTI if delivered else None,
        TASHKENT,
        holder,
        (T0 + timedelta(days=2)).date() if delivered else None,
        "Receipt signed in Poti" if delivered else "Truck seized on the way",
    )


def test_invalidation_before_release_cancels_and_gives_back_guarantees() -> None:
    net = Network()
    mrn = net.declare(declaration(), hold=("CD205C",))
    assert mrn is not None and net.available(GRN_AEO) == Decimal("80000.00")
    start = len(net.log)
    net.deliver(invalidation(None, lrn="UZ26TAS0000001"))
    assert codes(net.log[start:]) == ["CC014C", "CC009C", "CD204C"]
    decision = net.sent("CC009C")[0]
    assert (decision.decision, decision.mrn, decision.lrn) == (True, mrn, "UZ26TAS0000001")
    assert net.departure(mrn).state is DepartureState.CANCELLED
    assert net.available(GRN_AEO) == Decimal("100000.00")
    start = len(net.log)
    net.deliver(*net.held)  # the CD205C that was on its way finds the movement cancelled
    assert codes(net.log[start:]) == ["CD205C", "CD906C"]


def test_invalidation_after_release_is_out_of_sequence() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    before = net.states["UZ"]
    net.deliver(invalidation(mrn))
    assert unchanged(before, net.states["UZ"])
    rejection = net.sent("CC056C")[0]
    assert (rejection.business_rejection_type, rejection.rejection_code, rejection.mrn) == ("014", "4", mrn)
    assert rejection.header.recipient == AEO
    assert rejection.errors == (FunctionalError("/CC014C/TransitOperation/MRN", "92", "OUT_SEQ", mrn),)
    assert net.events[-1].kind == "rejected" and "92" in net.events[-1].detail
    assert net.departure(mrn).state is DepartureState.RELEASED


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (invalidation(allocate_mrn(2026, TASHKENT, 999, 0)), "90"),
        (invalidation(None, lrn="UZ26NEVER"), "90"),
        (invalidation("26UZ000100000999J9"), "93"),
    ],
)
def test_invalidation_of_unknown_or_invalid_mrn(request_: InvalidationRequest, code: str) -> None:
    net = Network()
    net.deliver(request_)
    assert codes(net.log) == ["CC014C", "CC056C"]
    assert net.sent("CC056C")[0].errors[0].error_code == code
    assert net.states["UZ"].departures == {}


def test_only_the_holder_may_invalidate() -> None:
    net = Network()
    mrn = net.declare(declaration(), hold=("CD203C",))
    assert mrn is not None
    net.deliver(invalidation(mrn, holder=FRUIT))
    assert net.sent("CC056C")[0].errors[0].error_code == "90"
    assert net.departure(mrn).state is DepartureState.ACCEPTED


# ---------------------------------------------------------------------------------------------------------------
# Declarations refused


def test_rule_violations_reject_the_declaration_and_burn_the_lrn() -> None:
    net = Network()
    violation = FunctionalError("/CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber", "14", "R0003", ALAT)
    message = TransitDeclaration(header(AEO, "NTA.UZ", "UZ26TAS0000002"), declaration("UZ26TAS0000002"))
    outcome = net.admins["UZ"].receive(net.states["UZ"], message, T0, rule_violations=(violation,))
    assert codes(outcome.messages) == ["CC056C"]
    rejection = outcome.messages[0]
    assert (rejection.business_rejection_type, rejection.rejection_code, rejection.lrn, rejection.mrn) == (
        "015", "12", "UZ26TAS0000002", None
    )  # fmt: skip
    assert rejection.errors == (violation,)
    assert rejection.header.correlation_id == "UZ26TAS0000002"
    assert outcome.state.departure_state(AEO, "UZ26TAS0000002") is DepartureState.REJECTED
    assert outcome.state.departures == {} and outcome.state.mrn_serial == 0
    assert [e.kind for e in outcome.events] == ["state", "rejected"]
    assert outcome.events[0].detail == "start → Rejected on CC015C rejected"


def test_office_checks_find_every_error_in_one_declaration() -> None:
    net = Network()
    bad = declaration(destination=ALAT, transit=(ALAT, POTI), references=(("26KZ0009000000011", "AC01", "10.00"),))
    net.declare(replace(bad, guarantees=(*bad.guarantees, Guarantee(2, "1", ()))))
    errors = net.sent("CC056C")[0].errors
    assert [(e.error_pointer, e.error_code, e.error_reason) for e in errors] == [
        ("/CC015C/CustomsOfficeOfDestinationDeclared/referenceNumber", "12", "CL172"),
        ("/CC015C/CustomsOfficeOfTransitDeclared[2]/referenceNumber", "12", "CL173"),
        ("/CC015C/Guarantee[1]/GuaranteeReference[1]/GRN", "12", "G01"),
        ("/CC015C/Guarantee[2]/GuaranteeReference", "13", "C0086"),
    ]


def test_lrn_reuse_is_rejected_even_after_a_rejection() -> None:
    net = Network()
    mrn = net.declare(declaration("UZ26TAS0000001"))
    assert mrn is not None
    before = net.states["UZ"]
    assert net.declare(declaration("UZ26TAS0000001")) is None
    assert net.sent("CC056C")[-1].errors == (
        FunctionalError("/CC015C/TransitOperation/LRN", "14", "BR20006", "UZ26TAS0000001"),
    )
    assert unchanged(before, net.states["UZ"])
    assert net.states["UZ"].lrns[AEO]["UZ26TAS0000001"] == mrn

    assert net.declare(declaration("UZ26TAS0000009", destination="XX000000")) is None  # rejected: burns the LRN
    assert net.declare(declaration("UZ26TAS0000009")) is None
    assert net.sent("CC056C")[-1].errors[0].error_reason == "BR20006"
    assert net.states["UZ"].departure_state(AEO, "UZ26TAS0000009") is DepartureState.REJECTED


def test_same_lrn_for_two_holders_is_two_movements() -> None:
    net = Network()
    assert net.declare(declaration("SHARED-LRN")) is not None
    assert net.declare(declaration("SHARED-LRN", holder=FRUIT, references=((GRN_FRUIT, "FR22", "1.00"),))) is not None


def test_declaration_for_an_office_that_is_not_ours_is_refused_with_code_12() -> None:
    net = Network()
    message = TransitDeclaration(header(AEO, "NTA.UZ", "L1"), declaration("L1", departure=POTI))
    outcome = net.admins["UZ"].receive(net.states["UZ"], message, T0)
    assert codes(outcome.messages) == ["CC056C"]
    assert outcome.messages[0].errors == (
        FunctionalError("/CC015C/CustomsOfficeOfDeparture/referenceNumber", "12", "CL171", POTI),
    )
    assert outcome.state.lrns == {}


# ---------------------------------------------------------------------------------------------------------------
# Messages the table does not allow: never applied, answered with 90 / 92 / 93


def from_ge(message_type: type, mrn: str, **fields: Any) -> Any:
    return message_type(header=header("NTA.GE", "NTA.UZ", mrn, "GE999999999"), mrn=mrn, **fields)


def arrival_advice(mrn: str) -> ArrivalAdvice:
    return from_ge(
        ArrivalAdvice, mrn, arrival_date=T0.date(), office_of_destination_actual=POTI, office_of_departure=TASHKENT
    )


def control_results(mrn: str, code: str = "A1") -> ControlResults:
    return from_ge(
        ControlResults,
        mrn,
        control_date=T0.date(),
        control_result_code=code,
        state_of_seals_ok=True,
        discrepancies=None,
        office_of_destination_actual=POTI,
        office_of_departure=TASHKENT,
    )


def crossing(mrn: str) -> NotificationCrossingFrontier:
    return from_ge(
        NotificationCrossingFrontier,
        mrn,
        arrival_date_and_time=T0,
        office_of_transit_actual=RED_BRIDGE_GE,
        office_of_departure=TASHKENT,
    )


def assert_nack(net: Network, before: CustomsState, message: Any, code: str) -> None:
    outcome = net.admins["UZ"].receive(before, message, T0)
    assert unchanged(before, outcome.state)
    assert codes(outcome.messages) == ["CD906C"]
    nack = outcome.messages[0]
    assert isinstance(nack, FunctionalNack)
    assert (nack.header.recipient, nack.original_message_type, nack.original_message_id) == (
        "NTA.GE",
        message.code,
        "GE999999999",
    )
    assert [(e.error_code, e.error_pointer) for e in nack.errors] == [(code, f"/{message.code}/TransitOperation/MRN")]
    assert [e.kind for e in outcome.events] == ["rejected"]


def test_arrival_advice_before_release_is_out_of_sequence() -> None:
    net = Network()
    mrn = net.declare(declaration(), hold=("CD203C",))
    assert mrn is not None and net.departure(mrn).state is DepartureState.ACCEPTED
    assert_nack(net, net.states["UZ"], arrival_advice(mrn), "92")


def test_control_results_twice_and_crossing_after_write_off_are_out_of_sequence() -> None:
    net, mrn = happy_path()
    assert_nack(net, net.states["UZ"], control_results(mrn), "92")
    assert_nack(net, net.states["UZ"], crossing(mrn), "92")


def test_control_results_before_arrival_are_out_of_sequence() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    assert_nack(net, net.states["UZ"], control_results(mrn), "92")


def test_unknown_control_result_code_is_not_applied() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    net.deliver(arrival_advice(mrn))
    assert_nack(net, net.states["UZ"], control_results(mrn, "Z9"), "92")


def test_unknown_and_invalid_mrns() -> None:
    net = Network()
    assert_nack(net, net.states["UZ"], crossing(allocate_mrn(2026, TASHKENT, 4242, 0)), "90")
    assert_nack(net, net.states["UZ"], crossing("26UZ000100000999J9"), "93")


def test_rule_violations_on_other_messages_refuse_them_unchanged() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    before = net.states["UZ"]
    violation = FunctionalError("/CD006C/TransitOperation/arrivalDate", "14", "R0004")
    outcome = net.admins["UZ"].receive(before, arrival_advice(mrn), T0, rule_violations=(violation,))
    assert unchanged(before, outcome.state)
    assert codes(outcome.messages) == ["CD906C"] and outcome.messages[0].errors == (violation,)


def test_duplicate_atr_is_out_of_sequence_at_the_office_of_transit() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    atr = net.sent("CD050C")[0]
    before = net.states["AZ"]
    outcome = net.admins["AZ"].receive(before, atr, T0)
    assert unchanged(before, outcome.state)
    assert codes(outcome.messages) == ["CD906C"] and outcome.messages[0].header.recipient == "NTA.UZ"
    assert outcome.messages[0].errors[0].error_code == "92"


def test_message_naming_an_office_the_administration_does_not_run() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    atr_for_georgia = net.sent("CD050C")[2]
    outcome = net.admins["AZ"].receive(net.states["AZ"], atr_for_georgia, T0)
    assert unchanged(net.states["AZ"], outcome.state)
    assert outcome.messages[0].errors == (
        FunctionalError("/CD050C/CustomsOfficeOfTransitDeclared/referenceNumber", "12", "CL173", RED_BRIDGE_GE),
    )


def test_arrival_without_aar_and_twice_is_refused_with_cc057c() -> None:
    net = Network()
    mrn = allocate_mrn(2026, TASHKENT, 77, 0)
    arrive(net, mrn, T0)
    rejection = net.sent("CC057C")[0]
    assert (rejection.business_rejection_type, rejection.header.recipient, rejection.office_of_destination) == (
        "007", CONSIGNEE, POTI
    )  # fmt: skip
    assert rejection.errors[0].error_code == "90"
    assert net.states["GE"].destinations == {}

    net, mrn = happy_path()
    before = net.states["GE"]
    arrive(net, mrn, T0 + timedelta(days=5))
    assert net.sent("CC057C")[0].errors[0].error_code == "92"
    assert unchanged(before, net.states["GE"])


def test_received_nack_is_logged_only() -> None:
    net = Network()
    nack = FunctionalNack(
        header("NTA.AZ", "NTA.UZ", "M"), "M", "UZ000000001", "CD050C", (FunctionalError("/x", "92", "OUT_SEQ"),)
    )
    outcome = net.admins["UZ"].receive(net.states["UZ"], nack, T0)
    assert outcome.state == net.states["UZ"] and outcome.messages == ()
    assert [e.kind for e in outcome.events] == ["nack"]


def test_messages_for_traders_are_a_routing_bug() -> None:
    net, mrn = happy_path()
    with pytest.raises(ProtocolError):
        net.admins["UZ"].receive(net.states["UZ"], net.sent("CC029C")[0], T0)


# ---------------------------------------------------------------------------------------------------------------
# Officers' actions that do not fit raise


def test_presenting_goods_without_atr_raises_unknown_movement() -> None:
    net = Network()
    with pytest.raises(UnknownMovement) as raised:
        net.admins["AZ"].act(net.states["AZ"], PresentAtTransit(allocate_mrn(2026, TASHKENT, 5, 0), ALAT), T0)
    assert raised.value.rule == "90"


def test_presenting_twice_raises_out_of_sequence() -> None:
    net, mrn = happy_path()
    with pytest.raises(OutOfSequence):
        net.admins["AZ"].act(net.states["AZ"], PresentAtTransit(mrn, ALAT), T0)


def test_actions_at_offices_that_are_not_ours_or_lack_the_role_raise() -> None:
    net, mrn = happy_path()
    with pytest.raises(ProtocolError):
        net.admins["AZ"].act(net.states["AZ"], PresentAtTransit(mrn, RED_BRIDGE_GE), T0)
    with pytest.raises(ProtocolError):
        net.admins["GE"].act(net.states["GE"], RecordControl(mrn, RED_BRIDGE_GE, seals_ok=True), T0)


def test_control_before_arrival_and_resolving_without_discrepancies_raise() -> None:
    net = Network()
    mrn = net.declare(declaration())
    assert mrn is not None
    with pytest.raises(OutOfSequence):
        net.admins["GE"].act(net.states["GE"], RecordControl(mrn, POTI, seals_ok=True), T0)
    with pytest.raises(OutOfSequence):
        net.admins["UZ"].act(net.states["UZ"], ResolveDiscrepancies(mrn, TASHKENT), T0)


# ---------------------------------------------------------------------------------------------------------------
# Every departure transition, and state that survives JSON


def every_departure_flow() -> list[Event]:
    """The main line's departure transitions; tests/test_customs_trader_flows.py adds the trader flows' and
    checks that together they exercise the whole table."""
    net, _ = happy_path()
    events = net.events
    net, mrn = discrepancy_path()
    net.act("UZ", ResolveDiscrepancies(mrn, TASHKENT), T0 + timedelta(days=5))
    events += net.events
    net = Network()  # rejected; two GRNs reserved; refused then reserved, refused twice; cancelled in both states
    net.declare(declaration("R1", destination="XX000000"))
    net.declare(declaration("G2", references=((GRN_AEO_SMALL, "AC02", "100.00"), (GRN_AEO, "AC01", "100.00"))))
    refused_then_reserved = net.declare(
        declaration("G3", references=((GRN_AEO_SMALL, "BAD", "1.00"), (GRN_AEO, "AC01", "1.00")))
    )
    assert refused_then_reserved is not None
    net.deliver(invalidation(refused_then_reserved))
    net.declare(declaration("G4", references=((GRN_AEO_SMALL, "BAD", "1.00"), (GRN_AEO, "BAD", "1.00"))))
    net.tick("UZ", T0 + timedelta(days=2))
    net.declare(declaration("C1"), hold=("CD203C",))
    net.deliver(invalidation(None, lrn="C1"))
    considered_satisfactory = net.declare(declaration("A2"))
    assert considered_satisfactory is not None
    net.deliver(arrival_advice(considered_satisfactory), control_results(considered_satisfactory, "A2"))
    assert net.departure(considered_satisfactory).state is DepartureState.WRITTEN_OFF
    late, lost = net.declare(declaration("E1")), net.declare(declaration("E2"))  # both miss the time limit
    assert late is not None and lost is not None
    net.tick("UZ", T0 + timedelta(days=9))
    net.deliver(crossing(late), arrival_advice(late))  # late crossing, then late arrival: the enquiry ends
    net.deliver(enquiry_answer(lost, delivered=True), enquiry_answer(lost, delivered=False))
    assert net.departure(lost).state is DepartureState.UNDER_RECOVERY
    return events + net.events


def test_states_round_trip_through_rows() -> None:
    for flow in (happy_path, discrepancy_path):
        net, _ = flow()
        for state in net.states.values():
            assert through_rows(CUSTOMS_LAYOUT, state) == state


def test_state_in_the_middle_of_a_movement_round_trips() -> None:
    net = Network()
    references = ((GRN_AEO_SMALL, "XXXX", "1000.00"), (GRN_AEO, "AC01", "40000.00"))
    net.declare(declaration(references=references))
    state = net.states["UZ"]
    restored = through_rows(CUSTOMS_LAYOUT, state)
    assert restored == state
    record = next(iter(restored.departures[TASHKENT].values()))
    assert record.deadline == T0 + timedelta(hours=24) and record.refusals[0].code == "G03"
    assert restored.guarantees[GRN_AEO].reservations[record.mrn] == Decimal("20000.00")


def test_configuration_refuses_two_offices_of_guarantee_per_country() -> None:
    with pytest.raises(ValueError):
        CustomsConfig("UZ", (*OFFICES, Office("UZ000901", "Second", "UZ", frozenset({"GUA"}))))
    with pytest.raises(ValueError):
        Office("UZ000100", "Wrong country", "AZ", frozenset({"DEP"}))
