"""The IPPC Hub face at its edges: requests too large at any size, the directory following the scenario CA
at once, and the rules of channels, forwardings, delegations and tracking updates."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from exchange.drills import authority_action
from exchange.errors import ProtocolError
from exchange.ippc.entities import (
    ChannelRule,
    Direction,
    EnvelopeHeader,
    Forwarding,
    HubEnvelope,
    Receive,
    RuleType,
    TrackingInfo,
)
from exchange.ippc.face import MAX_REQUEST_BYTES
from exchange.ippc.structured import document_text
from exchange.pki import ScenarioPKI
from tests.ippc_support import NOW, certificate, deployment, envelope
from tests.test_ippc_soap import HAND_BUILT, fault_message

# -- size ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_oversize_request_gets_a_hub_web_exception_not_a_plain_413(tmp_path: Path, chunked: bool) -> None:
    body = (HAND_BUILT % ("<x>" + "A" * int(10.5 * 1024 * 1024) + "</x>")).encode()  # 10.5 MB

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start:start + 256 * 1024]

    async with deployment(tmp_path) as hub:
        session = await hub.session("uz")
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"x"'}
        data = stream() if chunked else io.BytesIO(body)
        async with session.post(hub.endpoint, data=data, headers=headers) as answer:
            status, root = answer.status, etree.fromstring(await answer.read())
        assert status == 500
        assert f"{MAX_REQUEST_BYTES} bytes" in fault_message(root)
        # the hub goes on serving, and nothing was queued
        assert (await (await hub.client("uz")).under_delivery()) == []


# -- the directory follows the scenario CA --------------------------------------------------------------------


async def test_the_directory_follows_rotation_and_revocation_at_once(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        az = await hub.client("az")
        before = {n.country: n.signing_certificate for n in await az.active_nppos()}
        authority_action("rotate_certificate", hub.pki_dir, {"target": "uz"}, NOW)
        rotated = ScenarioPKI.load(hub.pki_dir).credentials("uz").certificate
        after = {n.country: n.signing_certificate for n in await az.active_nppos()}
        assert after["UZ"] != before["UZ"]
        assert base64.b64decode(after["UZ"]) == rotated.public_bytes(serialization.Encoding.DER)
        assert after["GE"] == before["GE"]

        authority_action("revoke_certificate", hub.pki_dir, {"target": "ge"}, NOW - timedelta(minutes=1))
        assert {n.country for n in await az.active_nppos()} == {"AZ", "UZ"}
        with pytest.raises(ProtocolError, match="not an active NPPO"):
            await (await hub.client("uz")).deliver(envelope(recipient="GE"))
        with pytest.raises(ProtocolError, match="revoked"):
            await (await hub.client("ge")).active_nppos()


# -- channels, forwardings, delegations -----------------------------------------------------------------------


def rule(rule_type: RuleType, direction: Direction, country: str, rule_id: int = 1) -> ChannelRule:
    return ChannelRule(rule_id, rule_type, direction, 851, 70, country)


async def test_channel_rules_are_published_and_forward_rules_copy(tmp_path: Path) -> None:
    rules = {"ge": (rule(RuleType.FORWARD, Direction.INC, "AZ"),)}
    async with deployment(tmp_path, receive={"ge": Receive.PULL}, rules=rules) as hub:
        uz = await hub.client("uz")
        ge_view = next(n for n in await uz.active_nppos() if n.country == "GE")
        assert ge_view.rules == rules["ge"]
        channels = await uz.available_channels()
        assert {(c.code, c.receive, c.send) for c in channels} == {("GE", True, True), ("AZ", True, True)}

        header = await uz.deliver(envelope(recipient="GE"))
        [copy] = header.forwardings
        assert copy.code == "AZ" and copy.delivery_number and copy.delivery_number != header.delivery_number
        # the copy is a delivery of its own, tracked by the sender and pushed to AZ's node
        tracked = await uz.tracking_info(copy.delivery_number)
        assert (tracked.sender, tracked.recipient, tracked.certificate_number) == ("UZ", "AZ", "UZ-PC-2026-000101")
        # a withdrawal (status 40) matches no rule: no copy
        assert (await uz.deliver(envelope(recipient="GE", status=40))).forwardings == ()


async def test_envelope_forwardings_name_active_nppos(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL, "az": Receive.PULL}) as hub:
        uz = await hub.client("uz")
        asked = EnvelopeHeader("UZ", "GE", 851, 70, "UZ-PC-2026-000101", forwardings=(Forwarding("AZ"),))
        header = await uz.deliver(HubEnvelope(asked, certificate()))
        assert [f.code for f in header.forwardings] == ["AZ"]
        assert [h.delivery_number for h in await (await hub.client("az")).import_headers()] == [
            header.forwardings[0].delivery_number]
        unknown = EnvelopeHeader("UZ", "GE", 851, 70, "UZ-PC-2026-000102", forwardings=(Forwarding("KZ"),))
        with pytest.raises(ProtocolError, match="Forwardings names 'KZ'"):
            await uz.deliver(HubEnvelope(unknown, certificate("UZ-PC-2026-000102")))


async def test_delegate_rules_let_another_nppo_act_in_that_direction(tmp_path: Path) -> None:
    rules = {"uz": (rule(RuleType.DELEGATE, Direction.OUT, "AZ"),),
             "ge": (rule(RuleType.DELEGATE, Direction.INC, "AZ", 2),)}
    async with deployment(tmp_path, receive={"ge": Receive.PULL}, rules=rules) as hub:
        az, ge = await hub.client("az"), await hub.client("ge")
        # AZ sends in UZ's name (851/70 only)
        header = await az.deliver(envelope(sender="UZ", recipient="GE"))
        assert header.sender == "UZ" and header.tracking is TrackingInfo.PENDING_DELIVERY
        with pytest.raises(ProtocolError, match="not the NPPO of the client certificate"):
            await az.deliver(envelope(sender="UZ", recipient="GE", number="UZ-PC-2026-000109", status=40))
        with pytest.raises(ProtocolError, match="not the NPPO of the client certificate"):
            await ge.deliver(envelope(sender="UZ", recipient="AZ"))
        # AZ pulls and acknowledges what is addressed to GE; GE still sees it too until it is settled
        number = header.delivery_number or ""
        assert [h.delivery_number for h in await az.import_headers()] == [number]
        assert (await az.pull(number)).content == certificate()
        await az.acknowledge(number)
        assert (await ge.tracking_info(number)).tracking is TrackingInfo.DELIVERED
        assert await ge.import_headers() == []


async def test_set_tracking_info_update_is_the_importers_word_within_the_table(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        uz, ge, az = await hub.client("uz"), await hub.client("ge"), await hub.client("az")
        sent = await uz.deliver(envelope(recipient="GE"))
        number = sent.delivery_number or ""
        report = EnvelopeHeader("UZ", "GE", 851, 70, "UZ-PC-2026-000101", number,
                                TrackingInfo.DELIVERED_WITH_WARNINGS, "unknown commodity class")
        with pytest.raises(ProtocolError, match="no envelope"):
            await az.update_tracking(report)  # not AZ's to report
        with pytest.raises(ProtocolError, match="does not match delivery .* in NPPOCertificateNumber"):
            await ge.update_tracking(EnvelopeHeader("UZ", "GE", 851, 70, "UZ-PC-2026-999999", number,
                                                    TrackingInfo.DELIVERED))
        with pytest.raises(ProtocolError, match="HUBTrackingInfo must be one of"):
            await ge.update_tracking(EnvelopeHeader("UZ", "GE", 851, 70, "UZ-PC-2026-000101", number,
                                                    TrackingInfo.PENDING_DELIVERY))
        await ge.update_tracking(report)
        tracked = await uz.tracking_info(number)
        assert tracked.tracking is TrackingInfo.DELIVERED_WITH_WARNINGS
        assert (tracked.error or "").startswith("unknown commodity class")
        with pytest.raises(ProtocolError, match="cannot become Delivered"):  # findings never disappear
            await ge.update_tracking(EnvelopeHeader("UZ", "GE", 851, 70, "UZ-PC-2026-000101", number,
                                                    TrackingInfo.DELIVERED))
        assert await ge.import_headers() == []


# -- the structured certificate ---------------------------------------------------------------------------------


def test_a_structured_certificate_becomes_the_document_and_a_signed_one_is_left_alone() -> None:
    model = """<e:ePhytoEnvelope xmlns:e="http://ephyto.ippc.int/" xmlns:h="http://ephyto.ippc.int/HUB.Entities"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema"
        xmlns:rsm="urn:un:unece:uncefact:data:standard:SPSCertificate:17"
        xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21">
      <rsm:SPSCertificate><rsm:SPSExchangedDocument><ram:ID>UZ-1</ram:ID>
        <ram:IssueDateTime xsi:type="e:issueDateTime"><u:DateTimeString
          xmlns:u="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:21">2026-03-02</u:DateTimeString>
        </ram:IssueDateTime></rsm:SPSExchangedDocument>
        <rsm:SPSConsignment><ram:TransitSPSCountry><ram:ID xsi:type="xs:string">AZ</ram:ID></ram:TransitSPSCountry>
          <ram:UnloadingBaseportSPSLocation><ram:ID xsi:nil="true"/></ram:UnloadingBaseportSPSLocation>
          <ram:UtilizedSPSTransportEquipment><ID>CAIU5550017</ID><ram:AffixedSPSSeal><ID>S-1</ID>
          </ram:AffixedSPSSeal></ram:UtilizedSPSTransportEquipment></rsm:SPSConsignment>
      </rsm:SPSCertificate></e:ePhytoEnvelope>"""
    certificate_element = etree.fromstring(model)[0]
    text = document_text(certificate_element)
    assert "xsi:" not in text and "http://ephyto.ippc.int" not in text and "HUB.Entities" not in text
    document = etree.fromstring(text)
    ram = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21}"
    assert [e.text for e in document.iter(f"{ram}ID")] == ["UZ-1", "AZ", "CAIU5550017", "S-1"]
    assert document.find(f".//{ram}UnloadingBaseportSPSLocation") is not None
    assert len(document.find(f".//{ram}UnloadingBaseportSPSLocation")) == 0  # the nil ID is no value

    signed = etree.fromstring(model)[0]
    etree.SubElement(signed, "{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert 'xsi:type="e:issueDateTime"' in document_text(signed)
