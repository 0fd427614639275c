from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_customs_offices import (
    AEO,
    ALAT,
    CONSIGNEE,
    FRUIT,
    GRN_FRUIT,
    POTI,
    RED_BRIDGE_AZ,
    RED_BRIDGE_GE,
    T0,
    TASHKENT,
    Network,
    declaration,
)

from exchange.errors import ProtocolError, UnknownMovement
from nodes.customs.actions import PresentAtTransit, RecordControl
from nodes.customs.model import CatsMessage
from nodes.customs.trader import HOLDER, TRADER_AT_DESTINATION, TRADER_LAYOUT, TraderDesk
from tests.rows import through_rows

LRN = "UZ26TAS0000001"


class Traders:
    """The Uzbek and Georgian trader desks in front of the three administrations of `Network`."""

    def __init__(self) -> None:
        self.net = Network()
        self.desk = TraderDesk()
        self.state = self.desk.initial_state()

    def send(self, *messages: CatsMessage, now: datetime = T0) -> None:
        start = len(self.net.log)
        self.net.deliver(*messages, now=now)
        self.hand_out(start, now)

    def act(self, country: str, action: object, now: datetime = T0) -> None:
        start = len(self.net.log)
        self.net.act(country, action, now)
        self.hand_out(start, now)

    def tick(self, country: str, now: datetime) -> None:
        start = len(self.net.log)
        self.net.tick(country, now)
        self.hand_out(start, now)

    def hand_out(self, start: int, now: datetime) -> None:
        """Give each trader what customs sent it since `start`."""
        for message in self.net.log[start:]:
            if not message.header.recipient.startswith("NTA."):
                self.state = self.desk.receive(self.state, message, now).state

    def status(self, trader: str, reference: str) -> str:
        movement = self.state.movement(trader, reference)
        assert movement is not None
        return movement.status


def test_declare_sends_cc015c_from_the_holder() -> None:
    desk = TraderDesk()
    outcome = desk.declare(desk.initial_state(), declaration(LRN), "UZ", T0)
    (message,) = outcome.messages
    assert message.code == "CC015C"
    assert (message.header.sender, message.header.recipient, message.header.correlation_id) == (AEO, "NTA.UZ", LRN)
    assert message.header.message_id == f"{AEO}-000001"
    assert message.header.prepared_at == T0
    movement = outcome.state.movement(AEO, LRN)
    assert movement is not None
    assert (movement.side, movement.office, movement.lrn, movement.mrn, movement.status) == (
        HOLDER, TASHKENT, LRN, None, "Declaration sent"
    )  # fmt: skip


def test_message_ids_are_unique_per_trader() -> None:
    desk = TraderDesk()
    state = desk.initial_state()
    ids = []
    for number in range(3):
        outcome = desk.declare(state, declaration(f"L{number}"), "UZ", T0)
        state = outcome.state
        ids.append(outcome.messages[0].header.message_id)
    outcome = desk.declare(state, declaration("F1", holder=FRUIT, references=((GRN_FRUIT, "FR22", "1.00"),)), "UZ", T0)
    ids.append(outcome.messages[0].header.message_id)
    assert ids == [f"{AEO}-000001", f"{AEO}-000002", f"{AEO}-000003", f"{FRUIT}-000001"]


def test_holder_follows_the_movement_from_declaration_to_write_off() -> None:
    traders = Traders()
    outcome = traders.desk.declare(traders.state, declaration(LRN), "UZ", T0)
    traders.state = outcome.state
    traders.send(*outcome.messages)
    movement = traders.state.movement(AEO, LRN)
    assert movement is not None and movement.mrn is not None
    mrn = movement.mrn
    assert traders.status(AEO, LRN) == traders.status(AEO, mrn) == "Released for transit"

    for hours, office, country in ((48, ALAT, "AZ"), (60, RED_BRIDGE_AZ, "AZ"), (62, RED_BRIDGE_GE, "GE")):
        traders.act(country, PresentAtTransit(mrn, office), T0 + timedelta(hours=hours))
    outcome = traders.desk.notify_arrival(traders.state, mrn, POTI, CONSIGNEE, "GEPTI", T0 + timedelta(hours=73))
    traders.state = outcome.state
    (arrival,) = outcome.messages
    assert arrival.code == "CC007C" and arrival.header.recipient == "NTA.GE"
    assert traders.status(CONSIGNEE, mrn) == "Arrival notification sent"
    traders.send(arrival)
    traders.act("GE", RecordControl(mrn, POTI, seals_ok=True), T0 + timedelta(hours=74))
    assert traders.status(CONSIGNEE, mrn) == "Goods released"
    assert traders.status(AEO, LRN) == "Movement ended"
    destination = traders.state.movement(CONSIGNEE, mrn)
    assert destination is not None and destination.side == TRADER_AT_DESTINATION


@pytest.mark.parametrize("by", ["lrn", "mrn"])
def test_invalidation_by_lrn_or_mrn(by: str) -> None:
    traders = Traders()
    outcome = traders.desk.declare(traders.state, declaration(LRN), "UZ", T0)
    traders.state = outcome.state
    traders.net.deliver(*outcome.messages, hold=("CD203C",))
    traders.hand_out(0, T0)
    assert traders.status(AEO, LRN) == "MRN allocated"
    movement = traders.state.movement(AEO, LRN)
    assert movement is not None and movement.mrn is not None
    reference = LRN if by == "lrn" else movement.mrn
    outcome = traders.desk.request_invalidation(traders.state, AEO, reference, "Buyer cancelled", T0)
    (request,) = outcome.messages
    assert (request.code, request.lrn, request.mrn, request.office_of_departure) == (
        "CC014C",
        LRN,
        movement.mrn,
        TASHKENT,
    )
    traders.state = outcome.state
    traders.send(request)
    assert traders.status(AEO, LRN) == "Declaration cancelled"


def test_rejections_and_guarantee_statuses() -> None:
    traders = Traders()
    outcome = traders.desk.declare(traders.state, declaration(LRN, destination="XX000000"), "UZ", T0)
    traders.state = outcome.state
    traders.send(*outcome.messages)
    assert traders.status(AEO, LRN) == "Rejected by office of departure"

    outcome = traders.desk.declare(
        traders.state, declaration("UZ26G", references=(("26UZ0009000000011", "NOPE", "5.00"),)), "UZ", T0
    )
    traders.state = outcome.state
    traders.send(*outcome.messages)
    assert traders.status(AEO, "UZ26G") == "Guarantee rejected"
    traders.tick("UZ", T0 + timedelta(days=1))
    assert traders.status(AEO, "UZ26G") == "Goods not released"


def test_reused_lrn_keeps_the_mrn_the_trader_already_has() -> None:
    traders = Traders()
    for _ in range(2):
        outcome = traders.desk.declare(traders.state, declaration(LRN), "UZ", T0)
        traders.state = outcome.state
        traders.send(*outcome.messages)
    movement = traders.state.movement(AEO, LRN)
    assert movement is not None and movement.mrn is not None
    assert movement.status == "Rejected by office of departure"  # movements conflate on a reused LRN


def test_unknown_movement_is_logged_not_applied() -> None:
    traders = Traders()
    outcome = traders.desk.declare(traders.state, declaration(LRN), "UZ", T0)
    traders.net.deliver(*outcome.messages)
    release = next(message for message in traders.net.log if message.code == "CC029C")
    empty = traders.desk.initial_state()
    result = traders.desk.receive(empty, release, T0)
    assert result.state == empty
    assert [event.kind for event in result.events] == ["unmatched"]


def test_invalidation_of_an_unknown_movement_raises() -> None:
    desk = TraderDesk()
    with pytest.raises(UnknownMovement):
        desk.request_invalidation(desk.initial_state(), AEO, LRN, "no such movement", T0)


def test_messages_traders_never_receive_raise() -> None:
    traders = Traders()
    outcome = traders.desk.declare(traders.state, declaration(LRN), "UZ", T0)
    with pytest.raises(ProtocolError):
        traders.desk.receive(traders.state, outcome.messages[0], T0)


def test_trader_state_round_trips_through_rows() -> None:
    traders = Traders()
    outcome = traders.desk.declare(traders.state, declaration(LRN), "UZ", T0)
    traders.state = outcome.state
    traders.send(*outcome.messages)
    traders.state = traders.desk.notify_arrival(traders.state, "26UZ000100000001J5", POTI, CONSIGNEE, "GEPTI", T0).state
    restored = through_rows(TRADER_LAYOUT, traders.state)
    assert restored == traders.state
