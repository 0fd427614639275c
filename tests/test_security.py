"""The trust layer through its public surfaces: mutual TLS, the CRL, identity binding, hostile input, drills."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
import yaml
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from exchange.cli import main
from exchange.envelope import Envelope
from exchange.pki import ScenarioPKI
from exchange.revocation import CRL_FILE
from exchange.runner import Deployment
from exchange.tls import DRIVER, HUB, TLS_DIR, TlsIdentity
from nodes.customs.codec import encode
from nodes.language import load_scenario
from nodes.launch import local_deployment
from tests import cats_samples

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
DRILLS = ROOT / "scenarios" / "security-drills.yaml"
START = datetime(2026, 3, 2, 6, 0, tzinfo=timezone.utc)


@dataclass
class Live:
    deployment: Deployment
    pki: Path

    def session(self, party: str | None) -> aiohttp.ClientSession:
        context = TlsIdentity.in_pki(self.pki, party).client_context() if party else ssl.create_default_context(
            cafile=str(self.pki / "tls" / "ca.pem")
        )
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    async with local_deployment(load_scenario(PILOT), tmp_path) as deployment:
        yield Live(deployment, tmp_path / "pki")


def signed_envelope(pki_dir: Path, *, sender: str = "uz", recipient: str = "ge", created: datetime = START,
                    message_id: str | None = None) -> bytes:
    """An envelope as `sender`'s node submits it: the document as written, the envelope signed by the node."""
    pki = ScenarioPKI.load(pki_dir)
    message = cats_samples.aar()
    if message_id is not None:
        message = replace(message, header=replace(message.header, message_id=message_id))
    document = etree.tostring(encode(message), xml_declaration=True, encoding="UTF-8")
    envelope = Envelope(message.header.message_id, message.mrn, sender, recipient, message.code, created, document)
    return envelope.signed(pki.credentials(sender))


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, dict]:
    async with session.post(url, data=body) as response:
        return response.status, await response.json(content_type=None)


async def test_a_client_without_a_scenario_certificate_cannot_connect(live: Live) -> None:
    async with live.session(None) as anonymous:
        with pytest.raises(aiohttp.ClientError):
            await post(anonymous, f"{live.deployment.hub_url}/envelopes", b"<x/>")


async def test_a_certificate_from_another_ca_cannot_connect(live: Live, tmp_path: Path) -> None:
    other = ScenarioPKI.generate(["uz"], valid_from=datetime.now(timezone.utc) - timedelta(days=1))
    other.write(tmp_path / "other")
    context = ssl.create_default_context(cafile=str(live.pki / "tls" / "ca.pem"))
    context.load_cert_chain(str(tmp_path / "other" / "uz.pem"), str(tmp_path / "other" / "uz-key.pem"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        with pytest.raises(aiohttp.ClientError):
            await post(session, f"{live.deployment.hub_url}/envelopes", b"<x/>")


async def test_control_api_is_for_the_driver_only(live: Live) -> None:
    async with live.session("az") as node:
        async with node.put(f"{live.deployment.hub_url}/control/clock", json={"now": "2026-03-03T00:00:00Z"}) as r:
            assert r.status == 403 and (await r.json())["rule"] == "tls-identity"
        async with node.post(f"{live.deployment.node_urls['uz']}/control/actions", json={"do": "declare"}) as r:
            assert r.status == 403
    async with live.session(DRIVER) as driver:
        async with driver.get(f"{live.deployment.node_urls['uz']}/status") as r:
            assert r.status == 200


async def test_only_the_hub_may_push_to_a_node_inbox(live: Live) -> None:
    async with live.session("az") as node:
        status, body = await post(node, f"{live.deployment.node_urls['ge']}/inbox", b"<x/>")
    assert status == 403 and body["rule"] == "tls-identity"


async def test_a_node_refuses_an_envelope_addressed_to_another_node_even_from_the_hub(live: Live) -> None:
    """A misrouted push is refused, never processed: the envelope (signed, valid) is for ge, the inbox az's."""
    async with live.session(HUB) as hub:
        status, body = await post(hub, f"{live.deployment.node_urls['az']}/inbox", signed_envelope(live.pki))
    assert (status, body["rule"], body["path"]) == (422, "wrong-recipient", "/Envelope/Recipient")
    async with live.session(DRIVER) as driver, driver.get(f"{live.deployment.node_urls['az']}/status") as r:
        assert (await r.json())["last_event"] == 0, "nothing was filed or decided"


async def test_a_node_reads_only_the_deliveries_it_sent_or_receives(live: Live) -> None:
    """Another administration's traffic is not a participant's to read: az may not track, read or list uz's
    declaration data sent to ge, which its sender, its recipient and the driver see."""
    hub = live.deployment.hub_url
    async with live.session("uz") as uz:
        status, receipt = await post(uz, f"{hub}/envelopes", signed_envelope(live.pki, message_id="UZ-OWN-1"))
    assert status == 202
    own = (f"/deliveries/{receipt['delivery_id']}", f"/deliveries/{receipt['delivery_id']}/envelope")
    for party in ("uz", "ge", DRIVER):
        async with live.session(party) as session:
            for path in own:
                async with session.get(f"{hub}{path}") as response:
                    assert response.status == 200, (party, path)
    async with live.session("az") as az:
        for path in own:
            async with az.get(f"{hub}{path}") as response:
                assert (response.status, (await response.json())["error"]) == (404, "unknown-delivery"), path
        for path in ("/deliveries", "/deliveries?after=0&envelopes=base64", "/status?deliveries_after=0"):
            async with az.get(f"{hub}{path}") as response:
                assert (response.status, (await response.json())["rule"]) == (403, "tls-identity"), path
    async with live.session(DRIVER) as driver, driver.get(f"{hub}/deliveries?envelopes=base64") as response:
        assert [d["message_id"] for d in (await response.json())["deliveries"]] == ["UZ-OWN-1"]


@pytest.mark.parametrize(("document", "rule"), [(b"hello", "xml-malformed"), (b"", "xml-malformed"),
                                              (b"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>", "xml-dtd")])
async def test_a_document_the_envelope_carries_that_cannot_be_read_is_refused_naming_its_type_and_place(
        live: Live, document: bytes, rule: str) -> None:
    envelope = Envelope("UZ-UNREADABLE-1", None, "uz", "ge", "CC015C", START, document)
    async with live.session("uz") as uz:
        status, body = await post(uz, f"{live.deployment.hub_url}/envelopes",
                                  envelope.signed(ScenarioPKI.load(live.pki).credentials("uz")))
    assert (status, body["error"], body["rule"]) == (400, "document-unreadable", rule)
    assert (body["document"], body["path"]) == ("CC015C", "/Envelope/Document")


async def test_a_document_field_that_is_not_base64_is_refused_with_its_rule(live: Live) -> None:
    envelope = signed_envelope(live.pki, message_id="UZ-NOT-BASE64")
    start = envelope.index(b"<env:Document>") + len(b"<env:Document>")
    async with live.session("uz") as uz:
        status, body = await post(uz, f"{live.deployment.hub_url}/envelopes", envelope[:start] + b"!!!"
                                  + envelope[envelope.index(b"</env:Document>"):])
    assert (status, body["error"], body["path"], body.get("rule")) == (
        400, "document-unreadable", "/Envelope/Document", "document-base64")


async def test_the_connection_must_be_the_envelope_sender(live: Live) -> None:
    envelope = signed_envelope(live.pki, sender="uz")
    async with live.session("az") as az:
        status, body = await post(az, f"{live.deployment.hub_url}/envelopes", envelope)
    assert status == 403 and body["rule"] == "tls-identity"


async def test_a_stale_envelope_is_refused_and_a_fresh_one_accepted(live: Live) -> None:
    """The window is ten minutes either side of the hub's time (docs/PROTOCOL.md): replayed, or dated ahead."""
    async with live.session("uz") as uz:
        for n, off in enumerate((timedelta(hours=-1), timedelta(minutes=-11), timedelta(minutes=11))):
            stale = signed_envelope(live.pki, created=START + off, message_id=f"UZ-STALE-{n}")
            status, body = await post(uz, f"{live.deployment.hub_url}/envelopes", stale)
            assert status == 422 and body["rule"] == "envelope-time-window", off
        for n, off in enumerate((timedelta(0), timedelta(minutes=-9), timedelta(minutes=9))):
            fresh = signed_envelope(live.pki, created=START + off, message_id=f"UZ-FRESH-{n}")
            status, body = await post(uz, f"{live.deployment.hub_url}/envelopes", fresh)
            assert status == 202 and body["state"] == "pending", off


async def test_revocation_takes_effect_on_the_next_request(live: Live) -> None:
    pki = ScenarioPKI.load(live.pki)
    tls_serial = TlsIdentity.in_pki(live.pki, "uz").certificate.read_bytes()
    serial = x509.load_pem_x509_certificate(tls_serial).serial_number
    (live.pki / CRL_FILE).write_bytes(pki.revocation_list({serial: START}, at=START))
    async with live.session("uz") as uz:
        status, body = await post(uz, f"{live.deployment.hub_url}/envelopes", signed_envelope(live.pki))
    assert status == 403 and body["rule"] == "cert-revoked"
    async with live.session(DRIVER) as driver:
        async with driver.get(f"{live.deployment.hub_url}/refusals") as response:
            refusals = (await response.json())["refusals"]
    assert refusals[-1]["rule"] == "cert-revoked" and refusals[-1]["peer"] == "uz"


async def test_a_kept_alive_connection_is_checked_against_the_crl_on_every_request(live: Live) -> None:
    """A connection's peer is read once (exchange.tls.peer), its revocation on every request: a revocation made
    between two requests of one connection refuses the second."""
    opened: list[aiohttp.TraceConnectionCreateEndParams] = []

    async def count(session: object, context: object, params: aiohttp.TraceConnectionCreateEndParams) -> None:
        opened.append(params)

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(count)
    identity = TlsIdentity.in_pki(live.pki, "uz")
    connector = aiohttp.TCPConnector(ssl=identity.client_context(), limit=1)
    url = f"{live.deployment.hub_url}/envelopes"
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as uz:
        status, _ = await post(uz, url, signed_envelope(live.pki, message_id="UZ-KEPT-1"))
        assert status == 202
        serial = x509.load_pem_x509_certificate(identity.certificate.read_bytes()).serial_number
        (live.pki / CRL_FILE).write_bytes(ScenarioPKI.load(live.pki).revocation_list({serial: START}, at=START))
        status, body = await post(uz, url, signed_envelope(live.pki, message_id="UZ-KEPT-2"))
    assert status == 403 and body["rule"] == "cert-revoked"
    assert len(opened) == 1  # both requests went over the one connection


def test_a_server_refuses_renegotiation_so_a_connection_keeps_its_peer(tmp_path: Path) -> None:
    """`exchange.tls.peer` reads a connection's client certificate once: no renegotiation may bring in another."""
    ScenarioPKI.generate(["hub"], valid_from=START).write(tmp_path / TLS_DIR)
    assert TlsIdentity.in_pki(tmp_path, "hub").server_context().options & ssl.OP_NO_RENEGOTIATION


async def test_a_crl_not_signed_by_the_scenario_ca_is_refused(live: Live) -> None:
    impostor = ScenarioPKI.generate(["uz"], valid_from=START)
    (live.pki / CRL_FILE).write_bytes(impostor.revocation_list({}, at=START))
    async with live.session("uz") as uz:
        status, body = await post(uz, f"{live.deployment.hub_url}/envelopes", signed_envelope(live.pki))
    assert status == 403 and body["rule"] == "crl-untrusted"


HOSTILE = [
    b"",
    b"not xml at all",
    b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;&lol;&lol;'>]><a>&lol2;</a>",
    b"<?xml version='1.0'?><!DOCTYPE a [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><a>&x;</a>",
    b"<a>" * 5000 + b"</a>" * 5000,
    b"<env:Envelope xmlns:env='urn:caravan:exchange:envelope:1'><env:MessageId>x</env:MessageId></env:Envelope>",
]


async def test_hostile_bodies_are_refused_with_a_reason_and_valid_traffic_still_flows(live: Live) -> None:
    """A stream of hostile requests interleaved with valid ones: every hostile one gets a 4xx JSON refusal,
    every valid one is accepted and delivered, and nothing hostile becomes a delivery."""
    hub = live.deployment.hub_url
    ids = [f"UZ-STREAM-{n}" for n in range(10)]
    valid = [signed_envelope(live.pki, message_id=message_id) for message_id in ids]
    async with live.session("uz") as uz:
        async def send(body: bytes) -> tuple[int, dict]:
            return await post(uz, f"{hub}/envelopes", body)

        hostile = (HOSTILE * 2)[: len(valid)]
        bodies = [body for pair in zip(hostile, valid, strict=True) for body in pair]
        answers = await asyncio.gather(*(send(body) for body in bodies))
    hostile_answers = [answer for body, answer in zip(bodies, answers, strict=True) if body in HOSTILE]
    valid_answers = [answer for body, answer in zip(bodies, answers, strict=True) if body not in HOSTILE]
    assert all(400 <= status < 500 and body["error"] and body["message"] for status, body in hostile_answers)
    assert all(status == 202 for status, _ in valid_answers)
    async with live.session(DRIVER) as driver:
        for _ in range(300):
            async with driver.get(f"{hub}/status") as response:
                status = await response.json()
            if status["pending"] == 0 and status["delivered"] >= len(valid):
                break
            await asyncio.sleep(0.02)
        async with driver.get(f"{hub}/deliveries") as response:
            deliveries = (await response.json())["deliveries"]
    assert status["failed"] == 0 and status["pending"] == 0
    from_uz = sorted(d["message_id"] for d in deliveries if d["sender"] == "uz")
    assert from_uz == sorted(ids)  # nothing hostile became a delivery


async def test_oversized_body_is_refused_before_it_is_read(live: Live) -> None:
    """Streamed without a length, 9 MiB: the hub stops reading at its limit and answers 413."""

    async def chunks() -> AsyncIterator[bytes]:
        yield b"<a>"
        for _ in range(9 * 16):
            yield b"x" * 65536
        yield b"</a>"

    async with live.session("uz") as uz:
        async with uz.post(f"{live.deployment.hub_url}/envelopes", data=chunks()) as response:
            assert response.status == 413


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_fuzzed_envelopes_never_break_the_hub(live: Live, data: st.DataObject) -> None:
    """Random mutations of a valid envelope: the hub answers 2xx or a 4xx naming a rule, never 5xx."""
    body = bytearray(signed_envelope(live.pki, message_id="UZ-FUZZ-0"))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(body) - 1))
        body[position] = data.draw(st.integers(0, 255))
    async with live.session("uz") as uz:
        status, answer = await post(uz, f"{live.deployment.hub_url}/envelopes", bytes(body))
    assert status < 500
    if status >= 400:
        assert answer["error"] and answer["message"]


def test_security_drills_scenario_refuses_every_attack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(DRILLS), "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for rule in ("signature-digest", "tls-identity", "role-not-allowed", "party-not-sender", "signature-location",
                 "envelope-time-window", "cert-revoked", "cert-expired"):
        assert f"[{rule}]" in out, rule
    assert "ACCEPTED" not in out
    # the revoked and the expired node learn that the hub refused their own messages: an event of the party
    assert "10:05    · party uz: hub refused CC015C UZ301234567001-000002: [cert-revoked]" in out
    assert "09:00    · party ge: hub refused CC007C GE204512345-000001: [cert-expired]" in out


def test_a_refusal_expectation_holds_only_when_one_refusal_has_every_field_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The drills' hub refused uz's tampered envelope (signature-digest) and az's envelopes for their roles: no
    refusal is of az's with signature-digest, though each field alone matches one."""
    scenario = yaml.safe_load(DRILLS.read_text(encoding="utf-8"))
    scenario["expect"] = {"refusals": [{"rule": "signature-digest", "sender": "uz"},
                                       {"rule": "signature-digest", "sender": "az"}]}
    path = tmp_path / "drills.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--wide"]) == 1
    held, failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("  ✓ ", "  ✗ "))]
    assert held == "  ✓ hub refused rule=signature-digest, sender=uz"
    assert failed.startswith("  ✗ hub refused rule=signature-digest, sender=az  expected 'refused', got '")
    assert "signature-digest (uz)" in failed and "role-not-allowed (az)" in failed  # the refusals it saw
