"""The P5 trader flows around the main line, through the offices' transition tables (transit.md §1.5, §1.6).

1. amendment: CC013C → CC004C before release (pre-lodged, accepted, guarantee under amendment), CC056C with
   the reference-data error, or CC056C code 92 after release;
2. pre-lodged declaration (additionalDeclarationType D): CC928C only, then CC170C → CC028C → release;
3. control at departure: CC060C when the guarantees are in place, then the officer's results release or refuse;
4. authorised consignee: CC007C simplified → CC043C (+ CD006C), CC044C → CC025C + CD018C;
5. incident en route: an office of transit registers it (CD180C to departure), departure forwards CC182C.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from lxml import etree
from test_customs_offices import (
    AEO,
    ALAT,
    CONSIGNEE,
    FRUIT,
    GRN_AEO,
    GRN_AEO_SMALL,
    GRN_FRUIT,
    POTI,
    T0,
    TASHKENT,
    Network,
    arrive,
    config,
    declaration,
    departure_transitions,
    every_departure_flow,
    header,
    invalidation,
    travel,
)

from exchange.validation import validate
from nodes.customs.actions import PresentAtTransit, RecordDepartureControl, RecordIncident
from nodes.customs.codec import encode
from nodes.customs.ledger import CUSTOMS_LAYOUT
from nodes.customs.model import (
    ArrivalNotification,
    CatsMessage,
    Declaration,
    DeclarationAmendment,
    PresentationNotification,
    UnloadingRemarks,
)
from nodes.customs.offices import CustomsAdministration
from nodes.customs.tables import DEPARTURE_TRANSITIONS, DepartureState, DestinationState, TransitState
from tests.rows import through_rows


def amendment(declared: Declaration, mrn: str | None, message_id: str = "AMD-1") -> DeclarationAmendment:
    holder = declared.holder.identification_number
    return DeclarationAmendment(header(holder, "NTA.UZ", mrn or declared.lrn, message_id), mrn, declared)


def presentation(lrn: str, holder: str = AEO) -> PresentationNotification:
    return PresentationNotification(header(holder, "NTA.UZ", lrn, f"PRE-{lrn}"), lrn, TASHKENT, holder, "UZTAS")


def pre_lodged(lrn: str = "P1", **changes: object) -> Declaration:
    return replace(declaration(lrn, **changes), additional_declaration_type="D")  # type: ignore[arg-type]


def controlling(*lrns: str) -> Network:
    """A network whose office of departure has decided to control the movements `lrns` of AEO."""
    net = Network()
    net.admins["UZ"] = CustomsAdministration(replace(config("UZ"), controls=frozenset((AEO, lrn) for lrn in lrns)))
    return net


def mrn_of(net: Network, lrn: str, holder: str = AEO) -> str:
    return str(net.states["UZ"].lrns[holder][lrn])


def assert_valid(message: CatsMessage) -> None:
    """What the office sends is valid against caravan's schema (the official one: tests/test_p5_oracle.py)."""
    root = etree.fromstring(etree.tostring(encode(message)))
    assert [issue for issue in validate(root) if issue.level == "SEVERE"] == []


# ---------------------------------------------------------------------------------------------------------------
# 1. Amendment


def test_amendment_puts_a_refused_guarantee_right_and_the_movement_is_released() -> None:
    net = Network()
    exhausted = declaration("A1", references=((GRN_AEO_SMALL, "AC02", "30000.00"),))  # 15 000 of 10 000
    mrn = net.declare(exhausted)
    assert mrn is not None and net.departure(mrn).state is DepartureState.GUARANTEE_UNDER_AMENDMENT
    fixed = declaration("A1", references=((GRN_AEO, "AC01", "20000.00"),))
    start = len(net.log)
    net.deliver(amendment(fixed, mrn))
    assert [m.code for m in net.log[start:start + 5]] == ["CC013C", "CC004C", "CD203C", "CD205C", "CC029C"]
    record = net.departure(mrn)
    assert record.state is DepartureState.RELEASED
    assert record.reserved_grns == (GRN_AEO,) and record.refusals == ()
    assert record.declaration.guarantees == fixed.guarantees
    acceptance = net.sent("CC004C")[0]
    assert (acceptance.mrn, acceptance.lrn, acceptance.holder) == (mrn, "A1", AEO)
    assert_valid(acceptance)
    assert net.tick("UZ", T0 + timedelta(days=2)) == []  # the amendment period no longer runs


def test_amendment_dropping_a_reserved_grn_gives_it_back() -> None:
    net = Network()
    two = declaration("A2", references=((GRN_AEO_SMALL, "BAD", "1.00"), (GRN_AEO, "AC01", "100.00")))
    mrn = net.declare(two)
    assert mrn is not None and net.departure(mrn).reserved_grns == (GRN_AEO,)
    before = net.available(GRN_AEO)
    net.deliver(amendment(declaration("A2", references=((GRN_AEO_SMALL, "AC02", "100.00"),)), mrn))
    assert net.sent("CD204C")[-1].grn == GRN_AEO and net.available(GRN_AEO) == before + 50  # AEO reserves half
    assert net.departure(mrn).state is DepartureState.RELEASED
    assert net.departure(mrn).reserved_grns == (GRN_AEO_SMALL,)


def test_amendment_naming_an_unknown_office_is_rejected_and_changes_nothing() -> None:
    net = Network()
    mrn = net.declare(declaration("A3", references=((GRN_AEO_SMALL, "AC02", "30000.00"),)))
    assert mrn is not None
    before = net.states["UZ"].departures
    net.deliver(amendment(declaration("A3", destination="GE999999"), mrn))
    rejection = net.sent("CC056C")[-1]
    assert (rejection.business_rejection_type, rejection.mrn) == ("013", mrn)
    assert [(e.error_pointer, e.error_code, e.error_reason) for e in rejection.errors] == [
        ("/CC013C/CustomsOfficeOfDestinationDeclared/referenceNumber", "12", "CL172")
    ]
    assert net.states["UZ"].departures == before
    assert_valid(rejection)


def test_amendment_after_release_is_out_of_sequence_92() -> None:
    net = Network()
    mrn = net.declare(declaration("A4"))
    assert mrn is not None and net.departure(mrn).state is DepartureState.RELEASED
    net.deliver(amendment(declaration("A4"), mrn))
    rejection = net.sent("CC056C")[-1]
    assert [(e.error_code, e.error_pointer) for e in rejection.errors] == [("92", "/CC013C/TransitOperation/MRN")]
    assert net.sent("CC004C") == [] and net.departure(mrn).state is DepartureState.RELEASED


def test_an_amendment_naming_only_the_mrn_keeps_the_movements_lrn() -> None:
    net = Network()
    mrn = net.declare(declaration("A6", references=((GRN_AEO_SMALL, "AC02", "30000.00"),)))
    assert mrn is not None
    without_lrn = replace(declaration("A6"), lrn=None)  # type: ignore[arg-type]  # P5: LRN or MRN
    net.deliver(amendment(without_lrn, mrn))
    assert net.departure(mrn).declaration.lrn == "A6" and net.departure(mrn).state is DepartureState.RELEASED
    assert net.states["UZ"].lrns[AEO]["A6"] == mrn


def test_only_the_holder_may_amend() -> None:
    net = Network()
    mrn = net.declare(declaration("A5", references=((GRN_AEO_SMALL, "AC02", "30000.00"),)))
    assert mrn is not None
    other = declaration("A5", holder=FRUIT, references=((GRN_FRUIT, "FR22", "1.00"),))
    net.deliver(amendment(other, mrn))
    assert net.sent("CC056C")[-1].errors[0].error_code == "90"
    assert net.departure(mrn).state is DepartureState.GUARANTEE_UNDER_AMENDMENT


# ---------------------------------------------------------------------------------------------------------------
# 2. Pre-lodged declaration


def test_pre_lodged_declaration_is_acknowledged_and_waits_for_the_goods() -> None:
    net = Network()
    assert net.declare(pre_lodged("P1")) is None  # no CC028C yet
    assert [m.code for m in net.log] == ["CC015C", "CC928C"]
    mrn = mrn_of(net, "P1")
    assert net.departure(mrn).state is DepartureState.PRE_LODGED
    net.deliver(presentation("P1"))
    assert [m.code for m in net.log[2:6]] == ["CC170C", "CC028C", "CD203C", "CD205C"]
    assert net.sent("CC028C")[0].mrn == mrn and net.departure(mrn).state is DepartureState.RELEASED
    assert_valid(net.sent("CC170C")[0])


def test_pre_lodged_declaration_may_be_amended_by_its_lrn_then_presented() -> None:
    net = Network()
    net.declare(pre_lodged("P2"))
    amended = pre_lodged("P2", transit=(ALAT,))
    net.deliver(amendment(amended, None))
    acceptance = net.sent("CC004C")[0]
    assert (acceptance.lrn, acceptance.mrn) == ("P2", None)  # the holder has no MRN yet
    assert net.sent("CD203C") == []  # the guarantee is used only once the goods are presented
    net.deliver(presentation("P2"))
    assert [atr.office_of_transit for atr in net.sent("CD050C")] == [ALAT]


def test_presentation_of_a_standard_declaration_or_twice_is_out_of_sequence() -> None:
    net = Network()
    net.declare(declaration("S1"))
    net.deliver(presentation("S1"))
    assert net.sent("CC056C")[-1].errors[0].error_code == "92"
    net.declare(pre_lodged("P3"))
    net.deliver(presentation("P3"), presentation("P3"))
    rejection = net.sent("CC056C")[-1]
    assert (rejection.business_rejection_type, rejection.errors[0].error_code) == ("170", "92")
    net.deliver(presentation("NOPE"))
    assert net.sent("CC056C")[-1].errors[0].error_pointer == "/CC170C/TransitOperation/LRN"


def test_pre_lodged_goods_not_presented_in_time_reject_the_declaration() -> None:
    net = Network()
    net.declare(pre_lodged("P5"))
    mrn = mrn_of(net, "P5")
    assert net.tick("UZ", T0 + timedelta(days=29)) == []
    assert net.tick("UZ", T0 + timedelta(days=30)) == ["CC056C"]
    rejection = net.sent("CC056C")[0]
    assert (rejection.lrn, rejection.mrn, rejection.errors) == ("P5", None, ())
    assert "not presented within 30 days" in (rejection.rejection_reason or "")
    assert net.departure(mrn).state is DepartureState.REJECTED
    assert net.tick("UZ", T0 + timedelta(days=31)) == []  # fires once
    net.deliver(presentation("P5"))
    assert net.sent("CC056C")[-1].errors[0].error_code == "92"
    assert_valid(rejection)


def test_pre_lodged_declaration_may_be_invalidated() -> None:
    net = Network()
    net.declare(pre_lodged("P4"))
    net.deliver(invalidation(None, lrn="P4"))
    net.declare(pre_lodged("P5"))
    assert net.departure(mrn_of(net, "P4")).state is DepartureState.CANCELLED


# ---------------------------------------------------------------------------------------------------------------
# 3. Control decision at departure


def test_controlled_movement_gets_cc060c_and_is_released_after_a_satisfactory_control() -> None:
    net = controlling("K1")
    mrn = net.declare(declaration("K1"))
    assert mrn is not None and net.departure(mrn).state is DepartureState.UNDER_CONTROL
    notification = net.sent("CC060C")[0]
    assert (notification.notification_type, notification.mrn, notification.holder) == ("0", mrn, AEO)
    assert net.sent("CC029C") == []
    assert_valid(notification)
    net.act("UZ", RecordDepartureControl(mrn, TASHKENT, satisfactory=True, text="Seals checked"))
    assert net.departure(mrn).state is DepartureState.RELEASED and len(net.sent("CD050C")) == 3


def test_unsatisfactory_control_refuses_release_and_frees_the_guarantee() -> None:
    net = controlling("K2")
    mrn = net.declare(declaration("K2"))
    assert mrn is not None
    net.act("UZ", RecordDepartureControl(mrn, TASHKENT, satisfactory=False, text="Undeclared goods found"))
    assert net.departure(mrn).state is DepartureState.NOT_RELEASED
    no_release = net.sent("CC051C")[0]
    assert (no_release.motivation_code, no_release.motivation_text) == ("CT", "Undeclared goods found")
    assert net.sent("CD204C")[0].grn == GRN_AEO and net.available(GRN_AEO) == 100000


def test_a_movement_under_control_cannot_be_amended_but_can_be_cancelled() -> None:
    net = controlling("K3")
    mrn = net.declare(declaration("K3"))
    assert mrn is not None
    net.deliver(amendment(declaration("K3"), mrn))
    assert net.sent("CC056C")[-1].errors[0].error_code == "92"
    net.deliver(invalidation(mrn))
    assert net.departure(mrn).state is DepartureState.CANCELLED


# ---------------------------------------------------------------------------------------------------------------
# 4. Authorised consignee at destination


def notify_simplified(net: Network, mrn: str) -> None:
    notification = ArrivalNotification(
        header(CONSIGNEE, "NTA.GE", mrn, f"{CONSIGNEE}-{mrn}"), mrn, T0, POTI, CONSIGNEE, "GEPTI",
        simplified_procedure=True,
    )
    net.deliver(notification)


def remarks(mrn: str, *, conform: bool = True, complete: bool = True, seals_ok: bool | None = True,
            remark: str | None = None) -> UnloadingRemarks:
    return UnloadingRemarks(header(CONSIGNEE, "NTA.GE", mrn, f"ULR-{mrn}-{complete}"), mrn, POTI, CONSIGNEE, conform,
                            complete, T0.date(), seals_ok, remark)


def test_authorised_consignee_gets_unloading_permission_and_its_remarks_release_the_goods() -> None:
    net = Network()
    mrn = net.declare(declaration("U1"))
    assert mrn is not None
    travel(net, mrn)
    notify_simplified(net, mrn)
    assert [m.code for m in net.log[-3:]] == ["CC007C", "CD006C", "CC043C"]
    permission = net.sent("CC043C")[0]
    assert (permission.trader_at_destination, permission.office_of_destination_actual) == (CONSIGNEE, POTI)
    assert_valid(permission)
    assert net.states["GE"].destinations[POTI][mrn].state is DestinationState.UNLOADING_PERMITTED
    net.deliver(remarks(mrn, complete=False, remark="Half unloaded"))
    assert net.states["GE"].destinations[POTI][mrn].state is DestinationState.UNLOADING_PERMITTED
    net.deliver(remarks(mrn))
    assert [m.code for m in net.log[-5:]] == ["CC044C", "CC025C", "CD018C", "CC045C", "CD204C"]
    assert net.departure(mrn).state is DepartureState.WRITTEN_OFF
    assert_valid(net.sent("CC044C")[0])


def test_remarks_of_broken_seals_mean_discrepancies_at_departure() -> None:
    net = Network()
    mrn = net.declare(declaration("U2"))
    assert mrn is not None
    travel(net, mrn)
    notify_simplified(net, mrn)
    net.deliver(remarks(mrn, conform=False, seals_ok=False, remark="Seal UZ-SEAL-2 missing"))
    assert net.sent("CD018C")[0].control_result_code == "B1"
    assert net.sent("CC025C")[0].release_type == "2"
    assert net.departure(mrn).state is DepartureState.DISCREPANCIES_PENDING


def test_unloading_remarks_without_permission_are_refused_with_cc057c() -> None:
    net = Network()
    mrn = net.declare(declaration("U3"))
    assert mrn is not None
    arrive(net, mrn, T0)  # normal procedure: no unloading permission
    net.deliver(remarks(mrn))
    rejection = net.sent("CC057C")[-1]
    assert (rejection.business_rejection_type, rejection.errors[0].error_code) == ("044", "92")


# ---------------------------------------------------------------------------------------------------------------
# 5. Incident en route


def test_incident_registered_at_transit_reaches_the_holder_through_departure() -> None:
    net = Network()
    mrn = net.declare(declaration("I1"))
    assert mrn is not None
    net.act("AZ", PresentAtTransit(mrn, ALAT))
    net.act("AZ", RecordIncident(mrn, ALAT, "1", "Ferry diverted to Sangachal", "AZSGC"))
    assert [m.code for m in net.log[-2:]] == ["CD180C", "CC182C"]
    forwarded = net.sent("CC182C")[0]
    assert forwarded.header.recipient == AEO and forwarded.incidents == net.sent("CD180C")[0].incidents
    assert (forwarded.incidents[0].code, forwarded.incidents[0].country) == ("1", "AZ")
    assert net.states["AZ"].transits[ALAT][mrn].state is TransitState.PASSED
    assert net.departure(mrn).incidents == (ALAT,) and net.departure(mrn).state is DepartureState.RELEASED
    assert_valid(forwarded)
    assert_valid(net.sent("CD180C")[0])


def test_incident_after_arrival_is_refused_by_departure_with_a_nack() -> None:
    net = Network()
    mrn = net.declare(declaration("I2"))
    assert mrn is not None
    travel(net, mrn)
    arrive(net, mrn, T0 + timedelta(hours=73))
    net.act("AZ", RecordIncident(mrn, ALAT, "1", "Late report"))
    assert net.sent("CC182C") == [] and net.sent("CD906C")[-1].errors[0].error_code == "92"


# ---------------------------------------------------------------------------------------------------------------
# The whole table


def every_new_departure_flow() -> Network:
    net = controlling("K1", "K2", "K3")
    mrn = net.declare(declaration("K1"))
    assert mrn is not None
    net.act("UZ", RecordDepartureControl(mrn, TASHKENT, satisfactory=True))
    net.act("AZ", RecordIncident(mrn, ALAT, "1", "Diverted"))
    refused = net.declare(declaration("K2"))
    assert refused is not None
    net.act("UZ", RecordDepartureControl(refused, TASHKENT, satisfactory=False))
    cancelled = net.declare(declaration("K3"))
    net.deliver(invalidation(cancelled))
    net.declare(pre_lodged("P1"))
    net.deliver(amendment(pre_lodged("P1"), None), presentation("P1"))
    net.declare(pre_lodged("P4"))
    net.deliver(invalidation(None, lrn="P4"))
    net.declare(pre_lodged("P5"))
    accepted = net.declare(declaration("A0"), hold=("CD203C",))
    assert accepted is not None
    net.deliver(amendment(declaration("A0"), accepted))
    fixed = net.declare(declaration("A1", references=((GRN_AEO_SMALL, "AC02", "30000.00"),)))
    assert fixed is not None
    net.deliver(amendment(declaration("A1"), fixed))
    late = net.declare(declaration("E1"))
    assert late is not None
    net.tick("UZ", T0 + timedelta(days=30))  # E1's time limit, and P5's presentation period
    net.act("AZ", RecordIncident(late, ALAT, "1", "Truck broke down"))
    assert net.departure(late).state is DepartureState.UNDER_ENQUIRY
    return net


def test_every_departure_transition_is_exercised() -> None:
    events = [*every_departure_flow(), *every_new_departure_flow().events]
    assert departure_transitions(events) == set(DEPARTURE_TRANSITIONS)


def test_states_of_the_new_flows_round_trip_through_rows() -> None:
    for state in every_new_departure_flow().states.values():
        assert through_rows(CUSTOMS_LAYOUT, state) == state
