"""Time limits of transit: release sets one, and a movement with no arrival advice by then goes to enquiry.

Flow under test (transit.md §1.6): Released —time limit, no CD006C→ UnderEnquiry (CC140C to the holder);
a late CD006C → Arrived → written off as usual; the holder's CC141C "not delivered" → UnderRecovery
(CC035C, the guarantee stays reserved).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from test_customs_offices import (
    AEO,
    ALAT,
    FRUIT,
    GRN_AEO,
    POTI,
    T0,
    TASHKENT,
    Network,
    arrival_advice,
    arrive,
    codes,
    config,
    crossing,
    declaration,
    enquiry_answer,
    travel,
    unchanged,
)

from exchange.cli import main
from exchange.errors import ScenarioError, UnknownMovement
from nodes.customs.actions import PresentAtTransit, RecordControl
from nodes.customs.desk import CatsDesk
from nodes.customs.ledger import CUSTOMS_LAYOUT
from nodes.customs.model import RecoveryNotification, RequestOnNonArrivedMovement
from nodes.customs.offices import CustomsAdministration
from nodes.customs.scenario import CatsScenario
from nodes.customs.tables import DEPARTURE_TIMERS, DEPARTURE_TRANSITIONS, DepartureState
from nodes.customs.trader import TraderDesk
from nodes.language import load_scenario
from tests.rows import MemoryRows, through_rows

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "enquiry-no-arrival.yaml"
EXPIRY = datetime(2026, 3, 11, tzinfo=timezone.utc)
"""T0 is 2026-03-02 08:00; the default eight days give limitDate 2026-03-10, over at midnight."""


def released(net: Network, lrn: str = "UZ26TAS0000001") -> str:
    mrn = net.declare(declaration(lrn))
    assert mrn is not None and net.departure(mrn).state is DepartureState.RELEASED
    return mrn


def under_enquiry() -> tuple[Network, str]:
    net = Network()
    mrn = released(net)
    assert net.tick("UZ", EXPIRY) == ["CC140C"]
    return net, mrn


def departure_events(net: Network, mrn: str) -> list[str]:
    """What the office of departure logged for `mrn`, in order."""
    return [e.detail for e in net.events if e.kind == "state" and e.office == TASHKENT and e.reference == mrn]


# ---------------------------------------------------------------------------------------------------------------
# The tables


def test_the_tables_name_every_enquiry_move() -> None:
    d = DepartureState
    assert DEPARTURE_TIMERS[d.RELEASED] == "time limit expired"
    assert DEPARTURE_TRANSITIONS[(d.RELEASED, "time limit expired")] is d.UNDER_ENQUIRY
    assert DEPARTURE_TRANSITIONS[(d.UNDER_ENQUIRY, "CD006C")] is d.ARRIVED
    assert DEPARTURE_TRANSITIONS[(d.UNDER_ENQUIRY, "CD118C")] is d.UNDER_ENQUIRY
    assert DEPARTURE_TRANSITIONS[(d.UNDER_ENQUIRY, "CC141C delivered")] is d.UNDER_ENQUIRY
    assert DEPARTURE_TRANSITIONS[(d.UNDER_ENQUIRY, "CC141C not delivered")] is d.UNDER_RECOVERY
    assert d.UNDER_ENQUIRY not in DEPARTURE_TIMERS and d.UNDER_RECOVERY not in DEPARTURE_TIMERS


# ---------------------------------------------------------------------------------------------------------------
# Release sets the time limit


def test_release_sets_the_limit_date_in_every_record_it_sends_and_the_deadline() -> None:
    net = Network()
    mrn = released(net)
    limit = date(2026, 3, 10)
    record = net.departure(mrn)
    assert (record.declaration.limit_date, record.deadline) == (limit, EXPIRY)
    assert [m.declaration.limit_date for m in (*net.sent("CC029C"), *net.sent("CD050C"), *net.sent("CD001C"))] == [
        limit
    ] * 5
    assert net.states["GE"].destinations[POTI][mrn].declaration.limit_date == limit
    assert net.sent("CC015C")[0].declaration.limit_date is None  # the holder does not set it


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(timedelta(days=3), date(2026, 3, 5)), (date(2026, 3, 4), date(2026, 3, 4)), (timedelta(hours=12), T0.date())],
)
def test_a_planned_time_limit_overrides_the_default(limit: timedelta | date, expected: date) -> None:
    net = Network()
    planned = replace(config("UZ"), time_limits={(AEO, "UZ26TAS0000003"): limit})
    net.admins["UZ"] = CustomsAdministration(planned)
    other, planned_mrn = released(net, "UZ26TAS0000002"), released(net, "UZ26TAS0000003")
    assert net.departure(planned_mrn).declaration.limit_date == expected
    assert net.departure(other).declaration.limit_date == date(2026, 3, 10)


def test_the_default_comes_from_the_configuration() -> None:
    net = Network()
    net.admins["UZ"] = CustomsAdministration(replace(config("UZ"), transit_time_limit=timedelta(days=2)))
    assert net.departure(released(net)).deadline == datetime(2026, 3, 5, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------------------------------------
# The timer


def test_no_arrival_by_the_time_limit_opens_an_enquiry_once() -> None:
    net = Network()
    mrn = released(net)
    net.act("AZ", PresentAtTransit(mrn, ALAT), T0 + timedelta(days=2))  # a crossing does not stop the clock
    assert net.tick("UZ", EXPIRY - timedelta(seconds=1)) == []  # goods presented on the limit date are in time
    assert net.tick("UZ", EXPIRY) == ["CC140C"]
    record = net.departure(mrn)
    assert (record.state, record.deadline) == (DepartureState.UNDER_ENQUIRY, None)
    assert departure_events(net, mrn)[-1] == "Released → UnderEnquiry on time limit expired"
    request = net.sent("CC140C")[0]
    assert isinstance(request, RequestOnNonArrivedMovement)
    assert (request.header.recipient, request.mrn, request.office_of_departure, request.office_of_enquiry) == (
        AEO, mrn, TASHKENT, TASHKENT
    )  # fmt: skip
    assert (request.request_date, request.limit_for_response_date) == (date(2026, 3, 11), date(2026, 4, 8))
    for later in (EXPIRY, EXPIRY + timedelta(days=1), EXPIRY + timedelta(days=60)):
        assert net.tick("UZ", later) == []
    assert len(net.sent("CC140C")) == 1
    assert net.available(GRN_AEO) == Decimal("80000.00")  # the guarantee stays reserved


def test_one_tick_opens_every_enquiry_that_is_due() -> None:
    net = Network()
    first, second = released(net, "UZ26TAS0000001"), released(net, "UZ26TAS0000002")
    assert net.tick("UZ", EXPIRY + timedelta(days=3)) == ["CC140C", "CC140C"]
    assert {m.mrn for m in net.sent("CC140C")} == {first, second}


def test_arrival_in_time_stops_the_clock() -> None:
    net = Network()
    mrn = released(net)
    net.deliver(arrival_advice(mrn))
    assert net.departure(mrn).deadline is None
    assert net.tick("UZ", EXPIRY + timedelta(days=30)) == []
    assert net.departure(mrn).state is DepartureState.ARRIVED


# ---------------------------------------------------------------------------------------------------------------
# Leaving the enquiry


def test_late_arrival_ends_the_enquiry_and_the_movement_is_written_off() -> None:
    net, mrn = under_enquiry()
    late = EXPIRY + timedelta(days=1)
    travel(net, mrn, at=late)
    arrive(net, mrn, late + timedelta(hours=73))
    assert net.departure(mrn).state is DepartureState.ARRIVED
    net.act("GE", RecordControl(mrn, POTI, seals_ok=True), late + timedelta(hours=74))
    assert net.departure(mrn).state is DepartureState.WRITTEN_OFF
    assert departure_events(net, mrn)[-5:] == [
        "UnderEnquiry → UnderEnquiry on CD118C",
        "UnderEnquiry → UnderEnquiry on CD118C",
        "UnderEnquiry → UnderEnquiry on CD118C",
        "UnderEnquiry → Arrived on CD006C",
        "Arrived → WrittenOff on CD018C A1",
    ]
    assert codes(net.log)[-2:] == ["CC045C", "CD204C"]
    assert net.available(GRN_AEO) == Decimal("100000.00")


def test_holder_says_delivered_the_answer_is_recorded_and_the_enquiry_goes_on() -> None:
    net, mrn = under_enquiry()
    start = len(net.log)
    net.deliver(enquiry_answer(mrn, delivered=True), now=EXPIRY)
    assert codes(net.log[start:]) == ["CC141C"]
    record = net.departure(mrn)
    assert record.state is DepartureState.UNDER_ENQUIRY
    assert record.enquiry_answer == "delivered 2026-03-04 at GE000510: Receipt signed in Poti"
    net.deliver(arrival_advice(mrn))  # only the arrival advice discharges
    assert net.departure(mrn).state is DepartureState.ARRIVED


def test_holder_says_not_delivered_recovery_starts_and_the_guarantee_stays_reserved() -> None:
    net, mrn = under_enquiry()
    start = len(net.log)
    net.deliver(enquiry_answer(mrn, delivered=False), now=EXPIRY)
    assert codes(net.log[start:]) == ["CC141C", "CC035C"]  # no CD204C
    record = net.departure(mrn)
    assert record.state is DepartureState.UNDER_RECOVERY
    assert record.enquiry_answer == "not delivered: Truck seized on the way"
    recovery = net.sent("CC035C")[0]
    assert isinstance(recovery, RecoveryNotification)
    assert (recovery.amount_claimed, recovery.currency) == (Decimal("40000.00"), "USD")  # declared, not reserved
    assert (recovery.acceptance_date, recovery.notification_date) == (T0.date(), EXPIRY.date())
    assert recovery.text == (
        "Goods not presented at GE000510 by 2026-03-10; holder: not delivered: Truck seized on the way"
    )
    assert (recovery.header.recipient, recovery.office_of_recovery) == (AEO, TASHKENT)
    assert net.available(GRN_AEO) == Decimal("80000.00")
    assert net.tick("UZ", EXPIRY + timedelta(days=60)) == []


def test_recovery_claims_nothing_without_a_guarantee_reference() -> None:
    net = Network()
    mrn = net.declare(declaration(guarantee_type="8", references=()))
    assert mrn is not None
    net.tick("UZ", EXPIRY)
    net.deliver(enquiry_answer(mrn, delivered=False))
    recovery = net.sent("CC035C")[0]
    assert (recovery.amount_claimed, recovery.currency) == (None, None)


# ---------------------------------------------------------------------------------------------------------------
# Answers that do not fit are refused with CC056C


def test_an_answer_before_any_enquiry_is_out_of_sequence() -> None:
    net = Network()
    mrn = released(net)
    before = net.states["UZ"]
    net.deliver(enquiry_answer(mrn, delivered=False))
    assert unchanged(before, net.states["UZ"])
    rejection = net.sent("CC056C")[0]
    assert (rejection.business_rejection_type, rejection.rejection_code) == ("141", "12")
    assert rejection.header.recipient == AEO
    assert [(e.error_code, e.error_pointer) for e in rejection.errors] == [("92", "/CC141C/TransitOperation/MRN")]


def test_only_the_holder_may_answer() -> None:
    net, mrn = under_enquiry()
    net.deliver(enquiry_answer(mrn, delivered=False, holder=FRUIT))
    rejection = net.sent("CC056C")[0]
    assert (rejection.header.recipient, rejection.errors[0].error_code) == (FRUIT, "90")
    assert net.departure(mrn).state is DepartureState.UNDER_ENQUIRY


def test_a_crossing_or_an_arrival_after_recovery_is_out_of_sequence() -> None:
    net, mrn = under_enquiry()
    net.deliver(enquiry_answer(mrn, delivered=False))
    net.deliver(crossing(mrn), arrival_advice(mrn))
    assert [nack.errors[0].error_code for nack in net.sent("CD906C")] == ["92", "92"]
    assert net.departure(mrn).state is DepartureState.UNDER_RECOVERY


def test_state_under_enquiry_round_trips_through_rows() -> None:
    net, mrn = under_enquiry()
    net.deliver(enquiry_answer(mrn, delivered=True))
    state = net.states["UZ"]
    assert through_rows(CUSTOMS_LAYOUT, state) == state


# ---------------------------------------------------------------------------------------------------------------
# The holder's side


def test_trader_sees_under_enquiry_then_goods_being_recovered_and_answers_with_cc141c() -> None:
    net, desk = Network(), TraderDesk()
    declared = declaration()
    state = desk.declare(desk.initial_state(), declared, "UZ", T0).state
    mrn = released(net)
    for message in (*net.sent("CC028C"), *net.sent("CC029C")):
        state = desk.receive(state, message, T0).state
    net.tick("UZ", EXPIRY)
    state = desk.receive(state, net.sent("CC140C")[0], EXPIRY).state
    assert state.movement(AEO, declared.lrn).status == "Under enquiry"

    answer = desk.answer_enquiry(state, AEO, declared.lrn, None, "Truck seized on the way", EXPIRY)
    (message,) = answer.messages
    assert message == replace(
        enquiry_answer(mrn, delivered=False), header=replace(message.header, correlation_id=mrn)
    ) and message.header.recipient == "NTA.UZ"
    net.deliver(message, now=EXPIRY)
    state = desk.receive(answer.state, net.sent("CC035C")[0], EXPIRY).state
    assert state.movement(AEO, mrn).status == "Goods being recovered"

    delivered = desk.answer_enquiry(state, AEO, mrn, (date(2026, 3, 9), POTI), None, EXPIRY).messages[0]
    assert (delivered.delivery_date, delivered.office_of_destination_actual, delivered.text) == (
        date(2026, 3, 9), POTI, None
    )  # fmt: skip


def test_trader_cannot_answer_for_a_movement_without_an_mrn_or_not_its_own() -> None:
    desk = TraderDesk()
    state = desk.declare(desk.initial_state(), declaration(), "UZ", T0).state
    with pytest.raises(UnknownMovement):
        desk.answer_enquiry(state, AEO, "UZ26TAS0000001", None, None, T0)
    with pytest.raises(UnknownMovement):
        desk.answer_enquiry(state, FRUIT, "UZ26TAS0000001", None, None, T0)


# ---------------------------------------------------------------------------------------------------------------
# The scenario


def test_scenario_time_limits_are_read_as_days_or_dates() -> None:
    scenario = load_scenario(SCENARIO)
    limits = CatsScenario(scenario).customs_config("uz").time_limits
    assert limits == {
        ("UZ301234567001", "UZ26TAS0000011"): timedelta(days=3),
        ("UZ301234567001", "UZ26TAS0000012"): timedelta(days=3),
        ("UZ305551112002", "UZ26FRG0000011"): date(2026, 3, 4),
    }
    as_text = {**scenario.movements, "E3": {**scenario.movements["E3"], "time_limit": "2026-03-04"}}
    assert CatsScenario(replace(scenario, movements=as_text)).customs_config("uz").time_limits == limits
    broken = {**scenario.movements, "E1": {**scenario.movements["E1"], "time_limit": "three days"}}
    with pytest.raises(ScenarioError) as raised:
        CatsScenario(replace(scenario, movements=broken)).customs_config("uz")
    assert raised.value.path == "movements.E1.time_limit"


def test_answer_enquiry_step_needs_a_yes_or_no() -> None:
    desk = CatsDesk(load_scenario(SCENARIO), "uz")
    with pytest.raises(ScenarioError):
        MemoryRows(desk.kinds).decide(desk, desk.on_action("answer_enquiry", {"movement": "E3", "delivered": "no"}), T0)


def test_enquiry_scenario_runs_with_every_expectation_holding(tmp_path: Path) -> None:
    capture = tmp_path / "stdout.txt"
    with capture.open("w") as stream, contextlib.redirect_stdout(stream):
        code = main(["run", str(SCENARIO), "--out", str(tmp_path)])
    stdout = capture.read_text()
    assert code == 0, stdout
    assert "✗" not in stdout
    assert "CC140C Request on non-arrived movement" in stdout
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    details = [event.get("detail") for event in events if event.get("event") == "state"]
    assert details.count("Released → UnderEnquiry on time limit expired") == 3
    assert "UnderEnquiry → Arrived on CD006C" in details
    assert "UnderEnquiry → UnderRecovery on CC141C not delivered" in details
