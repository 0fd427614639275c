"""Trust as the IPPC Hub has it, through real nodes: the TLS client certificate says who sends; a certificate's
own XMLDSig is optional. Unsigned certificates are delivered and each importing NPPO's policy decides
(accept, warn, refuse); signed ones are verified, and one whose signature fails never leaves the hub.
The signature state shows in tracking, in the importer's acknowledgement and in its state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import etree

from exchange.envelope import Envelope
from exchange.errors import ProtocolError, TrustError
from exchange.intake import Opened, UnsignedPolicy, open_envelope
from exchange.ippc.client import HubClient
from exchange.ippc.entities import EnvelopeHeader, HubEnvelope, TrackingInfo
from exchange.pki import ScenarioPKI
from exchange.runner import Deployment
from exchange.signing import sign_document
from exchange.tls import TlsIdentity
from nodes.ephyto.codec import encode
from nodes.ephyto.model import Country
from nodes.language import load_scenario
from nodes.launch import local_deployment
from tests.ephyto_samples import issued

SCENARIO = """
scenario: ippc-trust
title: Unsigned ePhytos and three importing policies
start: 2026-03-02T06:00:00Z
nodes:
  uz: {country: UZ, name: Uzbekistan single window}
  ge: {country: GE, name: Georgia single window, ephyto: {receive: pull, unsigned: accept}}
  az: {country: AZ, name: Azerbaijan single window, ephyto: {unsigned: warn}}
  am: {country: AM, name: Armenia single window, ephyto: {unsigned: refuse}}
steps: []
expect: {deliveries: {failed: 0}}
"""


@dataclass
class Running:
    deployment: Deployment
    pki: Path
    sessions: list[aiohttp.ClientSession]

    async def hub_client(self, party: str) -> HubClient:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            ssl=TlsIdentity.in_pki(self.pki, party).client_context()))
        self.sessions.append(session)
        return HubClient(session, f"{self.deployment.hub_url}/hub/DeliveryService")

    async def control(self, method: str, node: str, path: str, body: Any = None) -> Any:
        """The node's control API, as the scenario driver calls it."""
        assert self.deployment.driver_tls is not None
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                ssl=self.deployment.driver_tls.client_context())) as session:
            async with session.request(method, f"{self.deployment.node_urls[node]}{path}", json=body) as answer:
                return await answer.json()


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    path = tmp_path / "ippc-trust.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    async with local_deployment(load_scenario(path), tmp_path / "run") as deployment:
        assert deployment.pki is not None
        running = Running(deployment, deployment.pki, [])
        try:
            yield running
        finally:
            for session in running.sessions:
                await session.close()


def certificate(number: str, to: str) -> bytes:
    """A clean 851 of UZ (no validation finding at all), unsigned."""
    return etree.tostring(encode(replace(issued(number), import_country=Country(to))))


def envelope(number: str, to: str, content: bytes) -> HubEnvelope:
    return HubEnvelope(EnvelopeHeader("UZ", to, 851, 70, number), content.decode("utf-8"))


async def settled(client: HubClient, number: str) -> EnvelopeHeader:
    for _ in range(300):
        header = await client.tracking_info(number)
        if header.tracking is not TrackingInfo.PENDING_DELIVERY:
            return header
        await asyncio.sleep(0.02)
    raise AssertionError(f"{number} is still pending")


async def test_unsigned_certificates_are_delivered_and_each_importer_applies_its_policy(tmp_path: Path) -> None:
    async with running(tmp_path) as world:
        uz = await world.hub_client("uz")
        sent = {to: await uz.deliver(envelope(f"UZ-PC-2026-0003{i}0", to, certificate(f"UZ-PC-2026-0003{i}0", to)))
                for i, to in enumerate(("GE", "AZ", "AM"), start=1)}
        assert {header.tracking for header in sent.values()} == {TrackingInfo.PENDING_DELIVERY}
        assert all((header.error or "").startswith("XMLDSig: unsigned") for header in sent.values())

        pulled = await world.control("POST", "ge", "/control/actions", {"do": "pull_ephytos", "arguments": {}})
        assert [(e["data"]["HUBTrackingInfo"], e["data"]["signature"]) for e in pulled["events"]] == [
            ("Delivered", "unsigned")]
        accepted, warned, refused = [await settled(uz, sent[to].delivery_number or "") for to in ("GE", "AZ", "AM")]
        states = {to: await world.control("GET", node, "/state") for to, node in (("GE", "ge"), ("AZ", "az"),
                                                                                   ("AM", "am"))}

    # GE accepts unsigned: Delivered, and its acknowledgement records the certificate as unsigned
    assert accepted.tracking is TrackingInfo.DELIVERED
    received = states["GE"]["ephyto"]["received"]["UZ-PC-2026-000310"]
    assert (received["acknowledgement"], received["signature"], received["remarks"]) == ("Delivered", "unsigned", [])
    # AZ warns: its push answer says DeliveredWithWarnings, and its NPPO's acknowledgement says why
    assert warned.tracking is TrackingInfo.DELIVERED_WITH_WARNINGS
    assert "carries no XMLDSig signature" in (warned.error or "")
    received = states["AZ"]["ephyto"]["received"]["UZ-PC-2026-000320"]
    assert (received["acknowledgement"], received["signature"]) == ("DeliveredWithWarnings", "unsigned")
    assert received["remarks"][0].startswith("WARNING Signature /SPSCertificate")
    # AM refuses unsigned: the push is refused, the delivery fails with the node's reason, nothing is recorded
    assert refused.tracking is TrackingInfo.FAILED_DELIVERY
    assert "refuses unsigned documents" in (refused.error or "")
    assert states["AM"]["ephyto"]["received"] == {}


async def test_signed_certificates_are_verified_and_a_failing_signature_is_refused(tmp_path: Path) -> None:
    async with running(tmp_path) as world:
        uz = await world.hub_client("uz")
        pki = ScenarioPKI.load(world.pki)
        good = sign_document(encode(issued("UZ-PC-2026-000401")), pki.credentials("uz"))
        delivered = await uz.deliver(envelope("UZ-PC-2026-000401", "GE", good))
        assert (delivered.error or "").startswith("XMLDSig: signed, signature valid")

        tampered = good.replace(b"Fresh apples", b"Fresh pears")
        with pytest.raises(ProtocolError, match="signed but its signature fails.*changed after it was signed"):
            await uz.deliver(envelope("UZ-PC-2026-000402", "GE", tampered))
        someone_else = sign_document(encode(issued("UZ-PC-2026-000403")), pki.credentials("az"))
        with pytest.raises(ProtocolError, match="signed by 'az', not by the sending NPPO 'uz'"):
            await uz.deliver(envelope("UZ-PC-2026-000403", "GE", someone_else))
        assert [h.certificate_number for h in await uz.under_delivery()] == ["UZ-PC-2026-000401"]

        await world.control("POST", "ge", "/control/actions", {"do": "pull_ephytos", "arguments": {}})
        state = await world.control("GET", "ge", "/state")
        assert state["ephyto"]["received"]["UZ-PC-2026-000401"]["signature"] == "signed"


def test_a_signature_that_fails_or_moved_is_never_taken_for_unsigned() -> None:
    """Whatever the policy, a document that carries a signature is verified: tampering or a wrapped signature
    cannot pass as "unsigned", and a refusing policy names the unsigned document."""
    at = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    pki = ScenarioPKI.generate(["uz"], valid_from=at - timedelta(days=1))
    signed = sign_document(encode(issued()), pki.credentials("uz"))

    def opened(document: bytes, policy: UnsignedPolicy = UnsignedPolicy.ACCEPT) -> Opened:
        envelope = Envelope("UZ-PC-2026-000101:70", "UZ-PC-2026-000101", "uz", "ge", "SPSCertificate", at, document)
        return open_envelope(envelope.to_xml(), pki.trust_store(), at, unsigned={"ephyto": policy})

    assert opened(signed).signature == "signed"
    with pytest.raises(TrustError) as tampered:
        opened(signed.replace(b"Fresh apples", b"Fresh pears"))
    assert tampered.value.rule == "signature-digest"
    wrapped = etree.fromstring(signed)
    signature = wrapped.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert signature is not None
    wrapped[0].append(signature)  # moved under SPSExchangedDocument: it signs nothing here
    with pytest.raises(TrustError) as moved:
        opened(etree.tostring(wrapped))
    assert moved.value.rule == "signature-location"
    unsigned = etree.tostring(encode(issued()))
    assert (opened(unsigned).signature, opened(unsigned).finding().level) == ("unsigned", "INFO")
    assert opened(unsigned, UnsignedPolicy.WARN).finding().level == "WARNING"
    with pytest.raises(TrustError, match="is not signed, and this receiver refuses unsigned documents"):
        opened(unsigned, UnsignedPolicy.REFUSE)
