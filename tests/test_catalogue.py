"""docs/CATALOGUE.md is generated from the tables it describes, and what it states by hand (who sends a
message to whom) is what the offices actually do."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from test_customs_offices import happy_path
from test_customs_trader_flows import every_new_departure_flow

from nodes.customs import actions
from nodes.customs.catalogue import (
    CARAVAN_DESIGNED,
    CODE_VALUES,
    CONTENT_TRIGGERS,
    CUSTOMS,
    SENT,
    message_catalogue,
)
from nodes.customs.codec import encode
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
OFFICIAL = ROOT.parent / "shared" / "reference" / "ncts-p5-xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"


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


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL}")
def test_the_cc_messages_without_an_official_schema_are_the_ones_the_catalogue_names() -> None:
    without = {code for code in MESSAGE_NAMES
               if code.startswith("CC") and not (OFFICIAL / f"{code.lower()}.xsd").is_file()}
    assert without == CARAVAN_DESIGNED


def _official_code_list(message: str, path: str) -> str | None:
    """The code list the official schema's annotation names for the element at `path` below `message`: each
    step's type is a complex type of ctypes.xsd, where the next element is declared."""
    types = {kind.get("name"): kind for kind in etree.parse(str(OFFICIAL / "ctypes.xsd")).iter(f"{XS}complexType")}
    scope = etree.parse(str(OFFICIAL / f"{message.lower()}.xsd")).find(f"{XS}complexType[@name='{message}Type']")
    for name in path.split("/"):
        element = next(found for found in scope.iter(f"{XS}element") if found.get("name") == name)
        scope = types.get(element.get("type"))
    named = element.find(f"{XS}annotation/{XS}documentation/{{http://ncts.dgtaxud.ec}}codeList")
    return None if named is None else named.get("code")


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL}")
def test_each_chosen_code_value_belongs_to_the_code_list_the_official_schema_names() -> None:
    for value in CODE_VALUES:
        assert _official_code_list(value.message, value.path) == value.code_list, value


def test_every_code_value_the_offices_write_is_catalogued_with_its_source_or_as_an_assumption() -> None:
    catalogued = {(value.message, value.path, value.value) for value in CODE_VALUES}
    written = set()
    for message in (*happy_path()[0].log, *every_new_departure_flow().log):
        root = encode(message)
        for value in CODE_VALUES:
            if value.message == message.code and root.findtext(value.path) is not None:
                written.add((value.message, value.path, root.findtext(value.path)))
    assert written and written <= catalogued
    assert {"CC051C", "CC056C", "CC060C"} <= {message for message, _, _ in written}
