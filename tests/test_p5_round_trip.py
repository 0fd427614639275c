"""Every P5 message type a trader sends, round-tripped: `caravan validate` → the trader API → customs' answers.

Issue 9's "done when": the suite builds P5 messages of every trader type in the HMRC style (EORI-only parties,
LocationOfGoods by authorisation, house consignments; tests/data/p5/ and scenarios/samples/p5/), each passes
`caravan validate`, goes through a node's trader API over mutual TLS to real customs offices, and what customs
answer the trader is valid P5. One deployment of the P5 trader scenario (none of its steps; its movement M1
planned for control, so a trader's declaration with M1's LRN gets a control decision) carries them all:

1. departures at uz: a declaration released (CC928C, CC028C, CC029C) and one naming an unknown office (CC056C);
   a pre-lodged one amended (CC013C → CC004C) and presented (CC170C → CC028C, CC029C); one the office decided
   to control (CC060C), then invalidated by its holder (CC014C → CC009C);
2. arrivals at ge: the released one arrives at an authorised consignee (CC007C → CC043C), who sends its
   unloading remarks (CC044C → CC025C; the holder gets the write-off, CC045C);
3. the clock passes the time limit of the presented one, which never arrives: the holder gets the enquiry
   (CC140C) and answers through the API that the goods were not delivered (CC141C → CC035C), as HMRC's 51.8.0
   CC141C allows: naming itself in full (EORI, name, address) and the consignee who actually took the goods.

The official P5 schemas (../shared/reference/ncts-p5-xsd/, 51.8.6) are the oracle where they are present; the
checks against them skip, saying so, where they are absent. That set has no CC140C or CC141C: HMRC's 51.8.6
republication dropped them (its earlier 51.8.0 set, conf/xsd/ of hmrc/transit-movements-validator, had them),
so those two are checked against caravan's own schema only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from lxml import etree
from test_declarant import (
    CONSIGNEE,
    HOLDER,
    OFFICIAL,
    SAMPLES,
    SCENARIO,
    Live,
    arrival,
    declaration,
    from_fixture,
    invalidation,
)
from test_p5_oracle import official_errors

from exchange.cli import main
from exchange.tls import DRIVER
from exchange.validation import validate
from nodes.declarant import FOLLOW_UPS, OPENERS
from nodes.language import load_scenario
from nodes.launch import local_deployment

TRADER_TYPES = frozenset(OPENERS) | frozenset().union(*FOLLOW_UPS.values())
"""Every message type the trader API accepts: what this module must round-trip."""

CONTROLLED_LRN = "UZ26TAS0000001"  # the LRN of the scenario's movement M1, planned for control here
AFTER_THE_TIME_LIMIT = datetime(2026, 3, 11, 6, tzinfo=timezone.utc)
"""Release on 2026-03-02 gives the default eight days: limitDate 2026-03-10, over at midnight."""

NO_OFFICIAL_SCHEMA = frozenset({"CC140C", "CC141C"})
"""P5 messages the official 51.8.6 set beside the project has no schema for (see the module docstring)."""


@dataclass
class RoundTrip:
    """What the trader sent (each `caravan validate`d first) and every answer customs gave it, as P5 XML."""

    sent: dict[str, list[etree._Element]] = field(default_factory=dict)
    answers: dict[str, list[etree._Element]] = field(default_factory=dict)
    validated: list[str] = field(default_factory=list)  # the types `caravan validate` exited 0 on

    def all(self) -> Iterator[etree._Element]:
        for roots in (*self.sent.values(), *self.answers.values()):
            yield from roots


class Trader:
    """One trader's side of the round trip: validate a message with the CLI, submit it, gather the answers."""

    def __init__(self, live: Live, trip: RoundTrip, workdir: Path) -> None:
        self._live, self._trip, self._workdir = live, trip, workdir

    async def send(self, eori: str, node: str, path: str, body: bytes) -> str:
        """`caravan validate` the file, then POST it; the movement id the API answers with."""
        root = etree.fromstring(body)
        code = etree.QName(root).localname
        written = self._workdir / f"{len(self._trip.validated):02d}-{code}.xml"
        written.write_bytes(body)
        assert main(["validate", str(written)]) == 0, f"caravan validate refused {written.name}"
        self._trip.validated.append(code)
        status, lodged = await self._live.submit(eori, node, path, body)
        assert status == 202, lodged
        self._trip.sent.setdefault(code, []).append(root)
        return str(lodged["movementId"])

    async def answers(self, eori: str, node: str, movement: str, kind: str, wanted: set[str]) -> list[dict]:
        """The movement's listing once `wanted` answered; each answer not gathered yet is kept as XML."""
        messages = await self._live.answers(eori, node, movement, kind, wanted)
        for message in messages:
            if message["direction"] != "received":
                continue
            root = await self._live.document(eori, node, message["_links"]["self"]["href"])
            kept = self._trip.answers.setdefault(message["messageType"], [])
            if all(etree.tostring(root) != etree.tostring(known) for known in kept):
                kept.append(root)
        return messages

    async def document(self, eori: str, node: str, messages: list[dict], code: str) -> etree._Element:
        listed = next(message for message in messages if message["messageType"] == code)
        return await self._live.document(eori, node, listed["_links"]["self"]["href"])


async def _move_clocks(live: Live, to: datetime) -> None:
    """What a scenario's next step does to time: the hub first, then every node (deadlines fire)."""
    async with live.party(DRIVER) as session:
        for url in (live.deployment.hub_url, *live.deployment.node_urls.values()):
            async with session.put(f"{url}/control/clock", json={"now": to.isoformat()}) as response:
                assert response.status == 200, await response.text()


async def _round_trip(workdir: Path) -> RoundTrip:
    scenario = load_scenario(SCENARIO)
    planned = {**scenario.movements, "M1": {**scenario.movements["M1"], "control": True}}
    trip = RoundTrip()
    async with local_deployment(replace(scenario, movements=planned), workdir) as deployment:
        live = Live(deployment, workdir / "pki")
        trader = Trader(live, trip, workdir)
        departures, arrivals = "/movements/departures", "/movements/arrivals"

        released = await trader.send(HOLDER, "uz", departures, declaration())
        listing = await trader.answers(HOLDER, "uz", released, "departures", {"CC928C", "CC028C", "CC029C"})
        released_mrn = (await trader.document(HOLDER, "uz", listing, "CC028C")).findtext("TransitOperation/MRN")
        rejected = await trader.send(HOLDER, "uz", departures,
                                     declaration("SRT-T-000002", "UZ26SRTT0000002", destination="GE000599"))
        await trader.answers(HOLDER, "uz", rejected, "departures", {"CC056C"})

        pre_lodged = await trader.send(HOLDER, "uz", departures, (SAMPLES / "uz-cc015c-prelodged.xml").read_bytes())
        await trader.answers(HOLDER, "uz", pre_lodged, "departures", {"CC928C"})
        follow_up = f"{departures}/{pre_lodged}/messages"
        await trader.send(HOLDER, "uz", follow_up, (SAMPLES / "uz-cc013c-amendment.xml").read_bytes())
        await trader.answers(HOLDER, "uz", pre_lodged, "departures", {"CC004C"})
        await trader.send(HOLDER, "uz", follow_up, (SAMPLES / "uz-cc170c-presentation.xml").read_bytes())
        listing = await trader.answers(HOLDER, "uz", pre_lodged, "departures", {"CC028C", "CC029C"})
        presented_mrn = (await trader.document(HOLDER, "uz", listing, "CC028C")).findtext("TransitOperation/MRN")

        controlled = await trader.send(HOLDER, "uz", departures, declaration("SRT-T-000004", CONTROLLED_LRN))
        listing = await trader.answers(HOLDER, "uz", controlled, "departures", {"CC028C", "CC060C"})
        controlled_mrn = (await trader.document(HOLDER, "uz", listing, "CC028C")).findtext("TransitOperation/MRN")
        await trader.send(HOLDER, "uz", f"{departures}/{controlled}/messages",
                          invalidation(controlled_mrn, "SRT-T-000005"))
        await trader.answers(HOLDER, "uz", controlled, "departures", {"CC009C"})

        assert await live.destination_state("UZ26SRTT0000001", "AARReceived") == "AARReceived"
        arrived = await trader.send(CONSIGNEE, "ge", arrivals, arrival(released_mrn))
        await trader.answers(CONSIGNEE, "ge", arrived, "arrivals", {"CC043C"})
        await trader.send(CONSIGNEE, "ge", f"{arrivals}/{arrived}/messages", from_fixture("cc044c-hmrc-style.xml", {
            "messageSender": CONSIGNEE, "messageRecipient": "NTA.GE", "messageIdentification": "BSL-T-000002",
            "TransitOperation/MRN": released_mrn, "CustomsOfficeOfDestinationActual/referenceNumber": "GE000510",
            "TraderAtDestination/identificationNumber": CONSIGNEE,
        }))
        await trader.answers(CONSIGNEE, "ge", arrived, "arrivals", {"CC025C"})
        await trader.answers(HOLDER, "uz", released, "departures", {"CC045C"})

        await _move_clocks(live, AFTER_THE_TIME_LIMIT)
        await trader.answers(HOLDER, "uz", pre_lodged, "departures", {"CC140C"})
        await trader.send(HOLDER, "uz", follow_up, from_fixture("cc141c-hmrc-style.xml", {
            "messageSender": HOLDER, "messageRecipient": "NTA.UZ", "messageIdentification": "SRT-T-000006",
            "preparationDateAndTime": "2026-03-11T09:00:00", "TransitOperation/MRN": presented_mrn,
            "CustomsOfficeOfEnquiryAtDeparture/referenceNumber": "UZ000100",
            "HolderOfTheTransitProcedure/identificationNumber": HOLDER,
            "HolderOfTheTransitProcedure/name": "Silk Road Textiles LLC",
            "HolderOfTheTransitProcedure/Address/streetAndNumber": "12 Amir Temur Avenue",
            "HolderOfTheTransitProcedure/Address/postcode": "100000",
            "HolderOfTheTransitProcedure/Address/city": "Tashkent",
            "HolderOfTheTransitProcedure/Address/country": "UZ",
            "Consignment/ConsigneeActual/identificationNumber": CONSIGNEE,
            "Consignment/ConsigneeActual/name": "Black Sea Logistics LLC",
        }))
        await trader.answers(HOLDER, "uz", pre_lodged, "departures", {"CC035C"})
    return trip


@pytest.fixture(scope="module")
def trip(tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    """One deployment for the module: the round trip runs once, on its own event loop."""
    return asyncio.run(_round_trip(tmp_path_factory.mktemp("p5-round-trip")))


def test_every_trader_message_type_passes_caravan_validate_and_is_taken_by_the_trader_api(trip: RoundTrip) -> None:
    assert set(trip.validated) == set(trip.sent) == TRADER_TYPES
    assert {"CC015C", "CC013C", "CC014C", "CC141C", "CC170C", "CC007C", "CC044C"} == TRADER_TYPES


def test_each_trader_message_gets_the_answers_p5_gives(trip: RoundTrip) -> None:
    assert {"CC928C", "CC028C", "CC029C", "CC056C", "CC004C", "CC060C", "CC009C", "CC043C", "CC025C", "CC045C",
            "CC140C", "CC035C"} <= set(trip.answers)
    rejection = trip.answers["CC056C"][0]
    assert (rejection.findtext("FunctionalError/errorCode"), rejection.findtext("FunctionalError/errorPointer")) == (
        "12", "/CC015C/CustomsOfficeOfDestinationDeclared/referenceNumber")
    assert trip.answers["CC060C"][0].findtext("TransitOperation/LRN") == CONTROLLED_LRN
    assert trip.answers["CC009C"][0].findtext("Invalidation/decision") == "1"
    assert trip.answers["CC035C"][0].findtext("TransitOperation/MRN") == trip.sent["CC141C"][0].findtext(
        "TransitOperation/MRN")


def test_an_enquiry_answer_naming_the_holder_in_full_and_the_actual_consignee_gets_a_valid_recovery_notice(
    trip: RoundTrip,
) -> None:
    """The CC141C as a national system writes it (HMRC's 51.8.0 groups) is taken, and the office of departure
    answers with a P5-valid CC035C whose text carries what the holder said, the actual consignee included."""
    [answer] = trip.sent["CC141C"]
    assert answer.findtext("HolderOfTheTransitProcedure/name") == "Silk Road Textiles LLC"
    assert answer.findtext("HolderOfTheTransitProcedure/Address/city") == "Tashkent"
    assert answer.findtext("Consignment/ConsigneeActual/identificationNumber") == CONSIGNEE
    [recovery] = trip.answers["CC035C"]
    assert recovery.findtext("TransitOperation/MRN") == answer.findtext("TransitOperation/MRN")
    assert recovery.findtext("HolderOfTheTransitProcedure/identificationNumber") == HOLDER
    assert "not delivered; consignee (actual) Black Sea Logistics LLC: The goods were handed to the consignee" in (
        recovery.findtext("RecoveryNotification/recoveryNotificationText"))
    assert [issue for issue in validate(recovery) if issue.level == "SEVERE"] == []
    if OFFICIAL.is_dir():  # reference material beside the project
        assert official_errors(recovery) == []


def test_every_message_of_the_round_trip_is_valid_against_caravans_schema(trip: RoundTrip) -> None:
    for root in trip.all():
        severe = [issue for issue in validate(root) if issue.level == "SEVERE"]
        assert severe == [], (etree.QName(root).localname, severe)


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL} (reference "
                    "material beside the project, not shipped)")
def test_every_message_of_the_round_trip_is_valid_against_the_official_p5_schema(trip: RoundTrip) -> None:
    checked, unchecked = set(), set()
    for root in trip.all():
        code = etree.QName(root).localname
        if not (OFFICIAL / f"{code.lower()}.xsd").is_file():
            unchecked.add(code)
            continue
        assert official_errors(root) == [], code
        checked.add(code)
    assert unchecked == NO_OFFICIAL_SCHEMA
    assert TRADER_TYPES - NO_OFFICIAL_SCHEMA <= checked
    assert {"CC928C", "CC028C", "CC029C", "CC056C", "CC004C", "CC060C", "CC009C", "CC043C", "CC025C", "CC045C",
            "CC035C"} <= checked
