"""The declarant channel through its public surfaces: the trader API over mutual TLS, and the `submit` step.

A deployment of the P5 trader scenario (its nodes, offices, traders and guarantees; none of its steps) serves
each node's trader API. Traders call it with the certificates `caravan prepare` wrote for them; their P5
messages go to customs the way scripted declarations do, and customs' answers come back to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import sqlite3
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import aiohttp
import pytest
import yaml
from lxml import etree

from exchange.cli import main
from exchange.envelope import Envelope
from exchange.pki import ScenarioPKI
from exchange.runner import Deployment
from exchange.tls import DRIVER, TlsIdentity
from nodes.customs.mrn import allocate_mrn
from nodes.language import load_scenario
from nodes.launch import local_deployment
from tests.ports import free_ports
from tests.processes import answers, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "uzb-geo-p5-trader.yaml"
SAMPLES = ROOT / "scenarios" / "samples" / "p5"
FIXTURES = ROOT / "tests" / "data" / "p5"
OFFICIAL = ROOT.parent / "shared" / "reference" / "ncts-p5-xsd"
NCTS = "{http://ncts.dgtaxud.ec}"
DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"

HOLDER = "UZ301234567001"  # Silk Road Textiles, a trader of node uz
OTHER_HOLDER = "UZ305551112002"  # Fergana Dried Fruit, also of node uz
CONSIGNEE = "GE204512345"  # Black Sea Logistics, a trader of node ge
UNKNOWN_MRN = allocate_mrn(2026, "UZ000100", 999, 0)  # well formed, check digit and all, but never allocated


def declaration(message_id: str = "SRT-T-000001", lrn: str = "UZ26SRTT0000001", *,
                destination: str = "GE000510") -> bytes:
    """The scenario's P5 CC015C with its own identification, LRN and office of destination."""
    root = etree.parse(str(SAMPLES / "uz-cc015c-silk-road.xml")).getroot()
    root.find("messageIdentification").text = message_id
    root.find("TransitOperation/LRN").text = lrn
    root.find("CustomsOfficeOfDestinationDeclared/referenceNumber").text = destination
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def from_fixture(name: str, texts: dict[str, str]) -> bytes:
    """An HMRC-style fixture (tests/data/p5/) with the texts at the given paths replaced."""
    root = etree.parse(str(FIXTURES / name)).getroot()
    for path, text in texts.items():
        root.find(path).text = text
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def invalidation(mrn: str, message_id: str = "SRT-T-000009") -> bytes:
    """The HMRC-style CC014C, from the holder of node uz, for `mrn`."""
    return from_fixture("cc014c-hmrc-style.xml", {
        "messageSender": HOLDER, "messageRecipient": "NTA.UZ", "messageIdentification": message_id,
        "TransitOperation/MRN": mrn, "CustomsOfficeOfDeparture/referenceNumber": "UZ000100",
        "HolderOfTheTransitProcedure/identificationNumber": HOLDER,
    })


def arrival(mrn: str, message_id: str = "BSL-T-000001") -> bytes:
    """The HMRC-style CC007C, from the consignee of node ge, at Poti."""
    return from_fixture("cc007c-hmrc-style.xml", {
        "messageSender": CONSIGNEE, "messageRecipient": "NTA.GE", "messageIdentification": message_id,
        "TransitOperation/MRN": mrn, "CustomsOfficeOfDestinationActual/referenceNumber": "GE000510",
        "TraderAtDestination/identificationNumber": CONSIGNEE,
    })


@dataclass
class Live:
    deployment: Deployment
    pki: Path

    def trader(self, eori: str) -> aiohttp.ClientSession:
        return self._session(TlsIdentity.of_trader(self.pki, eori).client_context())

    def party(self, party: str) -> aiohttp.ClientSession:
        return self._session(TlsIdentity.in_pki(self.pki, party).client_context())

    @staticmethod
    def _session(context: ssl.SSLContext) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))

    def url(self, node: str, path: str) -> str:
        return f"{self.deployment.node_urls[node]}{path}"

    async def submit(self, eori: str, node: str, path: str, body: bytes) -> tuple[int, dict]:
        async with self.trader(eori) as session, session.post(
            self.url(node, path), data=body, headers={"Content-Type": "application/xml"}
        ) as response:
            return response.status, await response.json()

    async def get(self, eori: str, node: str, path: str) -> tuple[int, dict]:
        async with self.trader(eori) as session, session.get(self.url(node, path)) as response:
            return response.status, await response.json()

    async def answers(self, eori: str, node: str, movement: str, kind: str, wanted: set[str]) -> list[dict]:
        """The movement's messages once every type in `wanted` is among them (customs answer asynchronously)."""
        path = f"/movements/{kind}/{movement}/messages"
        for _ in range(200):
            status, listing = await self.get(eori, node, path)
            assert status == 200, listing
            if wanted <= {message["messageType"] for message in listing["messages"]}:
                return listing["messages"]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{path} never listed {sorted(wanted)}: {listing}")

    async def destination_state(self, lrn: str, wanted: str) -> str | None:
        """The movement's state at Poti once it is `wanted`, or what it is after waiting (the driver reads it)."""
        async with self.party(DRIVER) as session:
            for _ in range(200):
                async with session.get(self.url("ge", "/state")) as response:
                    found = (await response.json())["cats"]["movements"].get(lrn, {}).get("destination")
                if found == wanted:
                    break
                await asyncio.sleep(0.05)
        return found

    async def document(self, eori: str, node: str, href: str) -> etree._Element:
        async with self.trader(eori) as session, session.get(self.url(node, href)) as response:
            assert response.status == 200 and response.content_type == "application/xml"
            return etree.fromstring(await response.read())


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with local_deployment(load_scenario(SCENARIO), tmp_path) as deployment:
        yield Live(deployment, tmp_path / "pki")


def _first(messages: list[dict], code: str) -> dict:
    return next(message for message in messages if message["messageType"] == code)


def _official_errors(root: etree._Element) -> list[str]:
    schema = etree.XMLSchema(etree.parse(str(OFFICIAL / f"{etree.QName(root).localname.lower()}.xsd")))
    schema.validate(root)
    return [f"{entry.path}: {entry.message}" for entry in schema.error_log]


# -- submitting a departure -------------------------------------------------------------------------------------


async def test_a_submitted_declaration_gets_acknowledgement_and_mrn_back_to_the_trader(live: Live) -> None:
    status, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    assert status == 202, lodged
    movement = lodged["movementId"]
    messages = await live.answers(HOLDER, "uz", movement, "departures", {"CC928C", "CC028C", "CC029C"})
    assert [(m["messageType"], m["direction"]) for m in messages][:3] == [
        ("CC015C", "sent"), ("CC928C", "received"), ("CC028C", "received")]
    allocated = await live.document(HOLDER, "uz", _first(messages, "CC028C")["_links"]["self"]["href"])
    mrn = allocated.findtext("TransitOperation/MRN")
    assert allocated.findtext("TransitOperation/LRN") == "UZ26SRTT0000001" and mrn.startswith("26UZ")
    assert allocated.find(DSIG) is None  # the P5 document as the trader's application reads it
    status, seen = await live.get(HOLDER, "uz", f"/movements/departures/{movement}")
    assert status == 200 and (seen["localReferenceNumber"], seen["movementReferenceNumber"]) == ("UZ26SRTT0000001", mrn)
    sent = await live.document(HOLDER, "uz", _first(messages, "CC015C")["_links"]["self"]["href"])
    assert etree.tostring(sent) == etree.tostring(etree.fromstring(declaration()))  # kept as the trader sent it


async def test_a_declaration_whose_ids_hold_a_slash_and_a_space_is_answered_through_the_api(live: Live) -> None:
    """P5 lets a messageIdentification and an LRN hold any character; the hub refused the node's envelope of such a
    declaration (its MessageId and CorrelationId took letters, digits and `.:_-` only), so no answer ever came.
    The channel's own message ids are hashes: the links work whatever the trader's ids hold."""
    status, lodged = await live.submit(HOLDER, "uz", "/movements/departures",
                                       declaration("SRT/T 000002", "UZ26 SRT/T 2"))
    assert status == 202, lodged
    messages = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC928C", "CC028C"})
    sent = await live.document(HOLDER, "uz", _first(messages, "CC015C")["_links"]["self"]["href"])
    assert sent.findtext("messageIdentification") == "SRT/T 000002"
    allocated = await live.document(HOLDER, "uz", _first(messages, "CC028C")["_links"]["self"]["href"])
    assert allocated.findtext("TransitOperation/LRN") == "UZ26 SRT/T 2"


async def test_a_trader_lodging_at_a_node_whose_clock_lags_the_hub_gets_answers_stamped_at_the_hubs_time(
        live: Live) -> None:
    """A driver moves only the clocks that have a timer due: the node takes the hub's time before a lodgement,
    or its envelopes would fall outside the hub's ten-minute window and be refused."""
    async with live.party(DRIVER) as session:
        async with session.get(f"{live.deployment.hub_url}/clock") as response:
            start = datetime.fromisoformat((await response.json())["now"].replace("Z", "+00:00"))
        later = (start + timedelta(days=1)).isoformat()
        async with session.put(f"{live.deployment.hub_url}/control/clock", json={"now": later}) as response:
            assert response.status == 200
    status, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    assert status == 202, lodged
    messages = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC928C", "CC028C"})
    assert _first(messages, "CC028C")


async def test_a_declaration_naming_an_unknown_office_is_answered_with_cc056c_code_and_pointer(live: Live) -> None:
    status, lodged = await live.submit(HOLDER, "uz", "/movements/departures",
                                       declaration("SRT-T-000002", "UZ26SRTT0000002", destination="GE000599"))
    assert status == 202, lodged
    messages = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC056C"})
    rejection = await live.document(HOLDER, "uz", _first(messages, "CC056C")["_links"]["self"]["href"])
    errors = rejection.findall("FunctionalError")
    assert [(e.findtext("errorPointer"), e.findtext("errorCode"), e.findtext("originalAttributeValue"))
            for e in errors] == [("/CC015C/CustomsOfficeOfDestinationDeclared/referenceNumber", "12", "GE000599")]
    assert "CC028C" not in {message["messageType"] for message in messages}


async def test_a_declaration_breaking_a_business_rule_reaches_customs_and_is_answered_with_cc056c(
        live: Live) -> None:
    """Schema-valid, it passes the hub; the rule it breaks (R0003: an office of transit named twice) is the office
    of departure's to answer, with the rule, its code and the place, and no MRN."""
    root = etree.fromstring(declaration("SRT-T-000006", "UZ26SRTT0000006"))
    root.findall("CustomsOfficeOfTransitDeclared")[2].find("referenceNumber").text = "AZ000210"
    status, lodged = await live.submit(HOLDER, "uz", "/movements/departures", etree.tostring(root))
    assert status == 202, lodged
    messages = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC056C"})
    rejection = await live.document(HOLDER, "uz", _first(messages, "CC056C")["_links"]["self"]["href"])
    assert [(e.findtext("errorPointer"), e.findtext("errorCode"), e.findtext("errorReason"),
             e.findtext("originalAttributeValue")) for e in rejection.findall("FunctionalError")] == [
        ("/CC015C/CustomsOfficeOfTransitDeclared[3]/referenceNumber", "14", "R0003", "AZ000210")]
    assert "CC028C" not in {message["messageType"] for message in messages}


async def test_a_declaration_reusing_a_released_movements_lrn_gets_its_own_rejection_and_neither_takes_the_other(
        live: Live) -> None:
    """Customs refuse a used LRN (CC056C, code 14); the channel keeps each movement's answers apart, though both
    name the LRN: the second is not shown released with the first one's MRN, the first is not shown rejected."""
    _, first = await live.submit(HOLDER, "uz", "/movements/departures", declaration("SRT-T-000031", "UZ26SRTT0000031"))
    await live.answers(HOLDER, "uz", first["movementId"], "departures", {"CC029C"})
    status, again = await live.submit(HOLDER, "uz", "/movements/departures",
                                      declaration("SRT-T-000032", "UZ26SRTT0000031"))
    assert status == 202, again
    messages = await live.answers(HOLDER, "uz", again["movementId"], "departures", {"CC056C"})
    assert [m["messageType"] for m in messages] == ["CC015C", "CC056C"]
    rejection = await live.document(HOLDER, "uz", _first(messages, "CC056C")["_links"]["self"]["href"])
    assert [e.findtext("errorCode") for e in rejection.findall("FunctionalError")] == ["14"]
    assert (await live.get(HOLDER, "uz", f"/movements/departures/{again['movementId']}"))[1][
        "movementReferenceNumber"] is None
    _, listing = await live.get(HOLDER, "uz", f"/movements/departures/{first['movementId']}/messages")
    assert [m["messageType"] for m in listing["messages"]] == ["CC015C", "CC928C", "CC028C", "CC029C"]


async def test_a_schema_invalid_declaration_is_refused_with_its_path_and_nothing_is_kept(live: Live) -> None:
    root = etree.fromstring(declaration("SRT-T-000003", "UZ26SRTT0000003"))
    operation = root.find("TransitOperation")
    operation.remove(operation.find("reducedDatasetIndicator"))
    status, refusal = await live.submit(HOLDER, "uz", "/movements/departures", etree.tostring(root))
    assert (status, refusal["error"], refusal["rule"]) == (400, "validation-failed", "minOccurs")
    assert refusal["path"] == "/CC015C/TransitOperation/reducedDatasetIndicator"
    assert await live.get(HOLDER, "uz", "/movements/departures") == (200, {"movements": []})


async def test_a_declaration_for_another_holder_or_another_country_is_refused(live: Live) -> None:
    status, refusal = await live.submit(OTHER_HOLDER, "uz", "/movements/departures", declaration())
    assert status == 403 and refusal["path"] == "/CC015C/messageSender"
    root = etree.fromstring(declaration("SRT-T-000004", "UZ26SRTT0000004"))
    root.find("messageRecipient").text = "NTA.GE"
    status, refusal = await live.submit(HOLDER, "uz", "/movements/departures", etree.tostring(root))
    assert status == 400 and refusal["path"] == "/CC015C/messageRecipient"
    status, refusal = await live.submit(HOLDER, "uz", "/movements/arrivals", declaration("SRT-T-000005"))
    assert status == 400 and refusal["rule"] == "message-type"


async def _nine_mebibytes() -> AsyncIterator[bytes]:
    """A body sent without a length, past every limit of the node's HTTP layer."""
    for _ in range(9 * 16):
        yield b"x" * 65536


@pytest.mark.parametrize(("path", "content_type", "body", "status", "place", "rule"), [
    ("/movements/departures", "application/json", b"{}", 415, "Content-Type", "media-type"),
    ("/movements/departures", None, declaration(), 415, "Content-Type", "media-type"),
    ("/movements/parcels", "application/xml", declaration(), 404, "kind", "route"),
    ("/movements/departures", "application/xml", _nine_mebibytes, 400, "", "too-large"),
])
async def test_every_refusal_at_the_door_is_an_error_body_naming_place_and_rule_and_keeps_nothing(
        live: Live, path: str, content_type: str | None, body: object, status: int, place: str, rule: str) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    data = body() if callable(body) else body
    async with live.trader(HOLDER) as session, session.post(live.url("uz", path), data=data,
                                                             headers=headers) as response:
        answer = (response.status, response.content_type, await response.json(content_type=None))
    assert answer[:2] == (status, "application/json") and answer[2]["message"], answer
    assert (answer[2].get("path", ""), answer[2]["rule"]) == (place, rule)
    assert await live.get(HOLDER, "uz", "/movements/departures") == (200, {"movements": []})


async def test_a_used_message_identification_is_error_26_and_the_same_message_again_is_absorbed(live: Live) -> None:
    first = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    again = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    assert first[0] == 202 and again[0] == 200 and again[1]["duplicate"] is True
    assert again[1]["movementId"] == first[1]["movementId"]
    status, refusal = await live.submit(HOLDER, "uz", "/movements/departures",
                                        declaration(lrn="UZ26SRTT0000099"))
    assert status == 409 and refusal["rule"] == "26" and refusal["path"] == "/CC015C/messageIdentification"
    _, listing = await live.get(HOLDER, "uz", "/movements/departures")
    assert len(listing["movements"]) == 1


# -- who may call -----------------------------------------------------------------------------------------------


async def test_a_trader_sees_only_its_own_movements(live: Live) -> None:
    _, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    path = f"/movements/departures/{lodged['movementId']}"
    assert (await live.get(OTHER_HOLDER, "uz", path))[0] == 404
    assert (await live.get(OTHER_HOLDER, "uz", f"{path}/messages"))[0] == 404
    assert await live.get(OTHER_HOLDER, "uz", "/movements/departures") == (200, {"movements": []})


async def test_only_the_nodes_own_traders_with_scenario_certificates_are_let_in(live: Live, tmp_path: Path) -> None:
    url = live.url("uz", "/movements/departures")
    status, refusal = await live.get(CONSIGNEE, "uz", "/movements/departures")  # a trader of node ge
    assert status == 403 and refusal["rule"] == "tls-identity"
    async with live.party(DRIVER) as session, session.get(url) as response:
        assert response.status == 403
    anonymous = ssl.create_default_context(cafile=str(live.pki / "tls" / "ca.pem"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=anonymous)) as session:
        with pytest.raises(aiohttp.ClientError):
            await session.get(url)
    stranger = ScenarioPKI.generate([HOLDER], valid_from=datetime.now(timezone.utc) - timedelta(days=1))
    stranger.write(tmp_path / "stranger")
    context = TlsIdentity(HOLDER, tmp_path / "stranger" / f"{HOLDER}.pem", tmp_path / "stranger" / f"{HOLDER}-key.pem",
                          live.pki / "tls" / "ca.pem").client_context()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        with pytest.raises(aiohttp.ClientError):
            await session.get(url)


# -- follow-ups and arrivals ------------------------------------------------------------------------------------


async def test_a_follow_up_naming_neither_lrn_nor_mrn_is_refused_and_nothing_is_sent(live: Live) -> None:
    """The schema lets a CC014C leave both out (a P5 rule wants one); the channel must know the movement it is
    about, or customs' answer could never be listed under it: the trader would wait for nothing."""
    _, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    path = f"/movements/departures/{lodged['movementId']}/messages"
    before = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC028C"})
    root = etree.fromstring(invalidation("26UZ000100000001J5"))
    root.find("TransitOperation").remove(root.find("TransitOperation/MRN"))
    status, refusal = await live.submit(HOLDER, "uz", path, etree.tostring(root))
    assert (status, refusal["rule"], refusal["path"]) == (400, "movement", "/CC014C/TransitOperation"), refusal
    assert "CC014C" not in [m["messageType"] for m in (await live.get(HOLDER, "uz", path))[1]["messages"]]
    assert [m["messageType"] for m in before][:3] == ["CC015C", "CC928C", "CC028C"]


async def test_an_invalidation_after_release_is_answered_out_of_sequence(live: Live) -> None:
    _, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    movement = lodged["movementId"]
    messages = await live.answers(HOLDER, "uz", movement, "departures", {"CC029C"})
    mrn = (await live.document(HOLDER, "uz", _first(messages, "CC028C")["_links"]["self"]["href"])).findtext(
        "TransitOperation/MRN")
    status, lodged = await live.submit(HOLDER, "uz", f"/movements/departures/{movement}/messages", invalidation(mrn))
    assert status == 202, lodged
    messages = await live.answers(HOLDER, "uz", movement, "departures", {"CC014C", "CC056C"})
    order = [message["messageType"] for message in messages]  # all in one virtual second: the node's order
    assert order.index("CC029C") < order.index("CC014C") < order.index("CC056C"), order
    rejection = await live.document(HOLDER, "uz", _first(messages, "CC056C")["_links"]["self"]["href"])
    assert rejection.findtext("TransitOperation/businessRejectionType") == "014"
    assert rejection.findtext("FunctionalError/errorCode") == "92"
    status, refusal = await live.submit(HOLDER, "uz", f"/movements/departures/{movement}/messages",
                                        invalidation("26UZ000100000099J1", "SRT-T-000010"))
    assert status == 400 and refusal["path"] == "/CC014C/TransitOperation/MRN"


async def test_a_presentation_for_a_declaration_not_pre_lodged_is_answered_out_of_sequence(live: Live) -> None:
    _, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    root = etree.fromstring(from_fixture("cc170c-hmrc-style.xml", {
        "messageSender": HOLDER, "messageRecipient": "NTA.UZ", "TransitOperation/LRN": "UZ26SRTT0000001",
        "CustomsOfficeOfDeparture/referenceNumber": "UZ000100",
        "HolderOfTheTransitProcedure/identificationNumber": HOLDER,
    }))
    status, answer = await live.submit(HOLDER, "uz", f"/movements/departures/{lodged['movementId']}/messages",
                                       etree.tostring(root))
    assert status == 202, answer  # the channel takes it; customs judge it: CC170C fits only a pre-lodged declaration
    messages = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC170C", "CC056C"})
    rejection = await live.document(HOLDER, "uz", _first(messages, "CC056C")["_links"]["self"]["href"])
    assert rejection.findtext("FunctionalError/errorCode") == "92"


async def test_a_pre_lodged_declaration_is_amended_and_presented_through_the_api(live: Live) -> None:
    """CC015C (D) → CC928C; CC013C → CC004C; CC170C → CC028C and release: the trader's own pre-lodgement."""
    status, lodged = await live.submit(HOLDER, "uz", "/movements/departures",
                                       (SAMPLES / "uz-cc015c-prelodged.xml").read_bytes())
    assert status == 202, lodged
    movement = lodged["movementId"]
    await live.answers(HOLDER, "uz", movement, "departures", {"CC928C"})
    follow_up = f"/movements/departures/{movement}/messages"
    status, amended = await live.submit(HOLDER, "uz", follow_up, (SAMPLES / "uz-cc013c-amendment.xml").read_bytes())
    assert status == 202, amended
    await live.answers(HOLDER, "uz", movement, "departures", {"CC004C"})
    status, presented = await live.submit(HOLDER, "uz", follow_up,
                                          (SAMPLES / "uz-cc170c-presentation.xml").read_bytes())
    assert status == 202, presented
    messages = await live.answers(HOLDER, "uz", movement, "departures", {"CC028C", "CC029C"})
    assert [m["messageType"] for m in messages] == [
        "CC015C", "CC928C", "CC013C", "CC004C", "CC170C", "CC028C", "CC029C"]
    released = await live.document(HOLDER, "uz", _first(messages, "CC029C")["_links"]["self"]["href"])
    assert [office.findtext("referenceNumber") for office in released.iter("CustomsOfficeOfTransitDeclared")] == [
        "AZ000310", "GE000110"]  # the amended route


async def test_an_arrival_for_an_unknown_mrn_is_answered_with_cc057c(live: Live) -> None:
    status, lodged = await live.submit(CONSIGNEE, "ge", "/movements/arrivals", arrival(UNKNOWN_MRN))
    assert status == 202, lodged
    messages = await live.answers(CONSIGNEE, "ge", lodged["movementId"], "arrivals", {"CC057C"})
    rejection = await live.document(CONSIGNEE, "ge", _first(messages, "CC057C")["_links"]["self"]["href"])
    assert rejection.findtext("FunctionalError/errorCode") == "90"


async def test_a_departure_and_its_arrival_round_trip_between_two_nodes(live: Live) -> None:
    _, lodged = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    messages = await live.answers(HOLDER, "uz", lodged["movementId"], "departures", {"CC029C"})
    mrn = (await live.document(HOLDER, "uz", _first(messages, "CC028C")["_links"]["self"]["href"])).findtext(
        "TransitOperation/MRN")
    assert await live.destination_state("UZ26SRTT0000001", "AARReceived") == "AARReceived"  # CD001C is there
    status, arrived = await live.submit(CONSIGNEE, "ge", "/movements/arrivals", arrival(mrn))
    assert status == 202, arrived
    # the HMRC-style CC007C is an authorised consignee's (simplifiedProcedure 1): P5 permits unloading (CC043C)
    assert await live.destination_state("UZ26SRTT0000001", "UnloadingPermitted") == "UnloadingPermitted"
    assert await live.answers(CONSIGNEE, "ge", arrived["movementId"], "arrivals", {"CC043C"})


# -- the answers against the official schema --------------------------------------------------------------------


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL} (reference "
                    "material beside the project, not shipped)")
async def test_every_answer_a_trader_gets_is_valid_against_the_official_p5_schema(live: Live) -> None:
    _, accepted = await live.submit(HOLDER, "uz", "/movements/departures", declaration())
    _, rejected = await live.submit(HOLDER, "uz", "/movements/departures",
                                    declaration("SRT-T-000002", "UZ26SRTT0000002", destination="GE000599"))
    _, arrived = await live.submit(CONSIGNEE, "ge", "/movements/arrivals", arrival(UNKNOWN_MRN))
    listings = [
        ("uz", HOLDER, await live.answers(HOLDER, "uz", accepted["movementId"], "departures",
                                          {"CC928C", "CC028C", "CC029C"})),
        ("uz", HOLDER, await live.answers(HOLDER, "uz", rejected["movementId"], "departures", {"CC056C"})),
        ("ge", CONSIGNEE, await live.answers(CONSIGNEE, "ge", arrived["movementId"], "arrivals", {"CC057C"})),
    ]
    checked = set()
    for node, trader, messages in listings:
        for message in messages:
            root = await live.document(trader, node, message["_links"]["self"]["href"])
            assert _official_errors(root) == [], message["messageType"]
            checked.add(message["messageType"])
    assert {"CC015C", "CC928C", "CC028C", "CC029C", "CC056C", "CC007C", "CC057C"} <= checked


# -- the scenario step and the command line ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """The P5 trader scenario run once for the tests below: its exit code, what it printed, its directory."""
    out = tmp_path_factory.mktemp("p5-trader") / "run"
    capture = out.parent / "stdout.txt"
    with capture.open("w") as stream, contextlib.redirect_stdout(stream):
        code = main(["run", str(SCENARIO), "--out", str(out)])
    return code, capture.read_text(), out


def _documents(out: Path) -> dict[str, etree._Element]:
    return {path.name: etree.parse(str(path)).getroot()
            for path in sorted((out / "messages").glob("*.xml")) if not path.name.endswith(".envelope.xml")}


def test_caravan_validate_then_the_scenario_step_lodges_the_file_and_the_answers_are_in_messages(
    scenario_run: tuple[int, str, Path]
) -> None:
    for sample in sorted(SAMPLES.glob("*.xml")):
        assert main(["validate", str(sample)]) == 0
    code, stdout, out = scenario_run
    assert code == 0, stdout
    documents = _documents(out)
    lodged = [name for name in documents if "-CC015C-" in name]
    by_lrn = {documents[name].findtext("TransitOperation/LRN"): name for name in lodged}
    silk_road = documents[by_lrn["UZ26SRTP5000001"]]
    assert silk_road.findtext("Consignment/LocationOfGoods/authorisationNumber") == "UZACT301234567001"
    answered = {(etree.QName(root).localname, root.findtext("TransitOperation/LRN"))
                for root in documents.values()}
    assert {("CC928C", "UZ26SRTP5000001"), ("CC028C", "UZ26SRTP5000001"), ("CC056C", "UZ26SRTP5000002")} <= answered


_TRAVELLING_GROUPS = (
    "Authorisation/referenceNumber",
    "Consignment/LocationOfGoods/authorisationNumber",
    "Consignment/DepartureTransportMeans/identificationNumber",
    "Consignment/PlaceOfLoading/UNLocode",
    "Consignment/TransportEquipment/GoodsReference/declarationGoodsItemNumber",
    "Consignment/HouseConsignment/AdditionalSupplyChainActor/identificationNumber",
    "Consignment/HouseConsignment/TransportDocument/referenceNumber",
)
"""Groups of the trader's CC015C (scenarios/samples/p5/uz-cc015c-silk-road.xml) that no named field of the
domain's Declaration holds: only the P5 binding carries them on."""


def test_the_groups_a_trader_lodges_reach_the_release_and_the_records_of_transit_and_destination(
    scenario_run: tuple[int, str, Path]
) -> None:
    code, stdout, out = scenario_run
    assert code == 0, stdout
    documents = _documents(out)
    movement = {name: root for name, root in documents.items()
                if root.findtext("TransitOperation/LRN") == "UZ26SRTP5000001"}
    lodged = next(root for name, root in movement.items() if "-CC015C-" in name)
    stated = {path: lodged.findtext(path) for path in _TRAVELLING_GROUPS}
    assert None not in stated.values()
    later = {name: root for name, root in movement.items() if name.split("-")[1] in ("CC029C", "CD050C", "CD001C")}
    assert {name.split("-")[1] for name in later} == {"CC029C", "CD050C", "CD001C"}
    for name, root in later.items():
        assert {path: root.findtext(path) for path in _TRAVELLING_GROUPS} == stated, name
    # the office of transit keeps them in its movement record (durable storage), not only in the message
    with sqlite3.connect(out / "db" / "az.sqlite") as database:
        rows = database.execute("SELECT data FROM records WHERE family = 'cats' AND kind = 'transit'").fetchall()
    kept = [json.loads(data)["declaration"] for (data,) in rows]
    silk_road = next(declaration for declaration in kept if declaration["lrn"] == "UZ26SRTP5000001")
    assert silk_road["p5"]["consignment"]["location_of_goods"]["authorisation_number"] == "UZACT301234567001"


def test_a_submit_step_naming_a_missing_file_or_another_nodes_trader_is_refused_by_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SCENARIO.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    (tmp_path / "samples" / "p5").mkdir(parents=True)
    for sample in SAMPLES.glob("*.xml"):
        (tmp_path / "samples" / "p5" / sample.name).write_bytes(sample.read_bytes())
    broken.write_text(text.replace("node: uz, do: submit, file: samples/p5/uz-cc015c-silk-road.xml",
                                   "node: ge, do: submit, file: samples/p5/uz-cc015c-silk-road.xml")
                          .replace("samples/p5/uz-cc015c-unknown-office.xml", "samples/p5/missing.xml"),
                      encoding="utf-8")
    assert main(["check", str(broken)]) != 0
    said = capsys.readouterr()
    report = said.out + said.err
    assert "who is no trader of node 'ge'" in report and "missing.xml is no file beside the scenario" in report


# -- the worked example in docs/TRADERS.md ----------------------------------------------------------------------


def _worked_example() -> str:
    section = (ROOT / "docs" / "TRADERS.md").read_text(encoding="utf-8").split("## Worked example", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match is not None, "TRADERS.md's worked example has no ```bash block"
    return match.group(1)


def _serving(url: str, context: ssl.SSLContext, process: subprocess.Popen[bytes]) -> None:
    wait_until_ready(partial(answers, f"{url}/health", context), process, url)


@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("bash", "curl")), reason="the example needs bash and curl")
def test_the_curl_worked_example_lodges_a_declaration_and_reads_the_mrn(tmp_path: Path) -> None:
    out = tmp_path / "p5"
    assert main(["prepare", str(SCENARIO), "--out", str(out), "--base-port", str(free_ports(4))]) == 0
    listen = yaml.safe_load((out / "uz.yaml").read_text())["listen"]
    node_url = f"https://{listen['host']}:{listen['port']}"
    hub_listen = yaml.safe_load((out / "hub.yaml").read_text())["listen"]
    hub_url = f"https://{hub_listen['host']}:{hub_listen['port']}"
    driver = TlsIdentity.in_pki(out / "pki", DRIVER).client_context()
    caravan = Path(sys.executable).parent / "caravan"
    processes = []
    try:
        for component, config in (("hub", "hub.yaml"), ("node", "uz.yaml")):
            with (tmp_path / f"{component}.log").open("wb") as log:
                processes.append(subprocess.Popen([str(caravan), component, "--config", str(out / config)],
                                                  stdout=log, stderr=subprocess.STDOUT))
        _serving(hub_url, driver, processes[0])
        _serving(node_url, driver, processes[1])
        run = subprocess.run(["bash", "-c", _worked_example()], cwd=tmp_path, capture_output=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "PKI": str(out / "pki"), "NODE": node_url,
                                  "DECLARATION": str(SAMPLES / "uz-cc015c-silk-road.xml")})
        output = run.stdout.decode()
        assert run.returncode == 0, output + run.stderr.decode()
        assert re.findall(r"^HTTP (\d{3})$", output, re.M) == ["202", "200"], output
        mrn = re.search(r"<MRN>([0-9A-Z]{18})</MRN>", output)
        assert mrn is not None and mrn.group(1).startswith("26UZ"), output
        assert '"CC928C"' in output and '"duplicate": true' in output
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _trader_scenario(tmp_path: Path, changes: dict[str, str], *, offline: bool = False) -> Path:
    """The P5 trader scenario with its samples, each of `changes` made in the samples and the scenario alike;
    `offline`: uz is offline for an hour from a minute before the trader's system lodges its declaration."""
    (tmp_path / "samples" / "p5").mkdir(parents=True)
    for sample in SAMPLES.glob("*.xml"):
        text = sample.read_text(encoding="utf-8")
        for old, new in changes.items():
            text = text.replace(old, new)
        (tmp_path / "samples" / "p5" / sample.name).write_text(text, encoding="utf-8")
    text = SCENARIO.read_text(encoding="utf-8")
    for old, new in changes.items():
        text = text.replace(f"{old}:", f'"{new}":').replace(f"movement: {old},", f'movement: "{new}",')
    if offline:
        text = text.replace("  - {at: 2026-03-02T10:00:00Z, node: uz, do: submit",
                            "  - {at: 2026-03-02T09:59:00Z, do: fault, kind: offline, node: uz, for: 1h}\n"
                            "  - {at: 2026-03-02T10:00:00Z, node: uz, do: submit")
    scenario = tmp_path / "changed.yaml"
    scenario.write_text(text, encoding="utf-8")
    return scenario


def test_an_lrn_and_a_message_id_with_spaces_and_slashes_go_through_as_p5_allows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """P5 allows any characters in an LRN (TrimmedText22) and a messageIdentification (.{1,35}), and national
    systems use spaces and slashes in both. The envelope took letters, digits and `.:_-` only: the hub refused
    the node's envelope of such a declaration (envelope-schema) and the movement went nowhere."""
    lrn, message_id = "UZ26 SRT/P5 001", "SRT/P5 000001"
    scenario = _trader_scenario(tmp_path, {"UZ26SRTP5000001": lrn, "SRT-P5-000001": message_id})
    assert main(["run", str(scenario), "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().out
    declarations = [Envelope.from_xml(path.read_bytes())
                    for path in (tmp_path / "run" / "messages").glob("*-CC015C-uz-to-uz.envelope.xml")]
    assert (message_id, lrn) in [(envelope.message_id, envelope.correlation_id) for envelope in declarations]


@pytest.mark.parametrize("offline", [False, True], ids=["sent at once", "held by an offline window first"])
def test_an_envelope_the_hub_refuses_on_its_form_fails_alone_and_the_node_sends_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], offline: bool
) -> None:
    """A trader's system lodged a CC015C whose messageIdentification holds a tab, which P5's token allows and the
    envelope's MessageId does not: the hub refused the envelope (envelope-schema). The node's outbox stopped for
    good on such a refusal (it read the refused envelope back through the envelope schema: the forwarder died
    with ValidationFailed, or, once held, never sent it). Nothing more left uz, and the run ended "components
    did not settle", exit 3. Now that row fails alone, named, and the rest goes out."""
    scenario = _trader_scenario(tmp_path, {"SRT-P5-000001": "SRT-P5\t000001"}, offline=offline)
    assert main(["run", str(scenario), "--out", str(tmp_path / "run")]) == 1  # that movement's answers never went
    out = capsys.readouterr().out
    assert "hub refused CC015C SRT-P5\t000001: [envelope-schema]" in out, out
    assert "CC170C Presentation notification" in out  # lodged two hours later, and sent
    assert "Expectations: " in out
    events = [json.loads(line) for line in (tmp_path / "run" / "events.jsonl").read_text(encoding="utf-8").split("\n")
              if line]
    refused = [event for event in events if event.get("event") == "refused-by-hub"]
    assert refused and "MessageId" in refused[0]["detail"], refused
