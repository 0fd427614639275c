"""docs/CATALOGUE.md is generated from the tables it describes, and what it states by hand (who sends a
message to whom) is what the offices actually do."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_customs_offices import happy_path
from test_customs_trader_flows import every_new_departure_flow

from nodes.customs import actions
from nodes.customs.catalogue import CARAVAN_DESIGNED, CONTENT_TRIGGERS, CUSTOMS, SENT, message_catalogue
from nodes.customs.model import MESSAGE_NAMES
from nodes.customs.refusals import REFUSED_WITH
from nodes.customs.tables import (
    DEPARTURE_TIMERS,
    DEPARTURE_TRANSITIONS,
    DESTINATION_TRANSITIONS,
    RECEIVE_ROUTES,
    TRANSIT_TRANSITIONS,
)

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_catalogue_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "CATALOGUE.md").read_text(encoding="utf-8")
    assert committed == message_catalogue(), "docs/CATALOGUE.md is stale: python -m nodes.customs.catalogue"
    assert "[docs/CATALOGUE.md](docs/CATALOGUE.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_message_is_catalogued_and_every_trader_message_customs_takes_has_its_refusal() -> None:
    assert set(SENT) == set(MESSAGE_NAMES)
    assert set(REFUSED_WITH) == {code for code in RECEIVE_ROUTES if code.startswith("CC")}


def test_every_trigger_is_a_message_an_officers_action_or_a_deadline() -> None:
    actions_ = set(actions.__all__) - {"Action"}
    for table in (DEPARTURE_TRANSITIONS, TRANSIT_TRANSITIONS, DESTINATION_TRANSITIONS):
        for _, trigger in table:
            from_message = trigger.split(" ")[0] in MESSAGE_NAMES or any(
                trigger in triggers for triggers in CONTENT_TRIGGERS.values()
            )
            assert from_message or trigger.split(" ")[0] in actions_ or trigger in DEPARTURE_TIMERS.values(), trigger


def test_senders_and_recipients_are_the_ones_the_offices_use() -> None:
    """Customs send as NTA.<country>, traders as themselves: each exchanged message matches its catalogue line."""
    logged = [*happy_path()[0].log, *every_new_departure_flow().log]
    seen = set()
    for message in logged:
        entry = SENT[message.code]
        if entry.sender in CUSTOMS:
            assert message.header.sender.startswith("NTA."), (message.code, message.header.sender)
        elif message.code != "CD906C":
            assert not message.header.sender.startswith("NTA."), message.code
        if entry.recipient in CUSTOMS:
            assert message.header.recipient.startswith("NTA."), (message.code, message.header.recipient)
        elif message.code != "CD906C":
            assert not message.header.recipient.startswith("NTA."), message.code
        seen.add(message.code)
    assert len(seen) >= 25


def test_the_cc_messages_said_to_be_caravans_design_are_those_p5_publishes_no_schema_of() -> None:
    official = ROOT.parent / "shared" / "reference" / "ncts-p5-xsd"
    if not official.is_dir():
        pytest.skip(f"the official P5 schemas are not at {official}")
    without = {code for code in MESSAGE_NAMES
               if code.startswith("CC") and not (official / f"{code.lower()}.xsd").is_file()}
    assert without == CARAVAN_DESIGNED
