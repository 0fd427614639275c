"""A caravan hub with its IPPC Hub face on real mutual TLS (loopback), stand-in importing nodes, clients."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from exchange.clock import VirtualClock
from exchange.hub import Hub
from exchange.ippc.client import HubClient
from exchange.ippc.directory import Directory
from exchange.ippc.entities import ChannelRule, EnvelopeHeader, HubEnvelope, Receive
from exchange.ippc.face import IppcFace
from exchange.ippc.sending import Validator
from exchange.ippc.service import generic_validator
from exchange.pki import ScenarioPKI, TrustStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
NPPOS = ("uz", "ge", "az")


def make_pki(directory: Path, parties: tuple[str, ...] = ("hub", "driver", *NPPOS)) -> ScenarioPKI:
    """Valid on the wall clock (the TLS stack checks it) and at the scenario's virtual NOW."""
    valid_from = min(NOW, datetime.now(timezone.utc)) - timedelta(days=1)
    pki = ScenarioPKI.generate(list(parties), valid_from=valid_from)
    pki.write(directory)
    return pki


def server_context(directory: Path, party: str = "hub") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(directory / "ca.pem"))
    context.load_cert_chain(str(directory / f"{party}.pem"), str(directory / f"{party}-key.pem"))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(directory: Path, party: str, ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca or directory / "ca.pem"))
    context.load_cert_chain(str(directory / f"{party}.pem"), str(directory / f"{party}-key.pem"))
    return context


@dataclass
class StandIn:
    """An importing node's inbox that records pushes and answers as told."""

    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    received: list[bytes] = field(default_factory=list)

    def application(self) -> web.Application:
        async def inbox(request: web.Request) -> web.Response:
            self.received.append(await request.read())
            return web.json_response(self.answer, status=self.status)

        app = web.Application()
        app.router.add_post("/inbox", inbox)
        return app


@dataclass
class Deployment:
    hub: Hub
    face: IppcFace
    url: str  # https://127.0.0.1:port
    pki_dir: Path
    pki: ScenarioPKI
    stand_ins: dict[str, StandIn]
    sessions: list[aiohttp.ClientSession]

    @property
    def endpoint(self) -> str:
        return f"{self.url}/hub/DeliveryService"

    async def session(self, party: str, ca: Path | None = None, directory: Path | None = None) -> aiohttp.ClientSession:
        context = client_context(directory or self.pki_dir, party, ca)
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context))
        self.sessions.append(session)
        return session

    async def client(self, party: str) -> HubClient:
        return HubClient(await self.session(party), self.endpoint)


@asynccontextmanager
async def deployment(
    tmp_path: Path,
    *,
    receive: Mapping[str, Receive] | None = None,
    validator: Validator = generic_validator,
    max_attempts: int = 3,
    rules: Mapping[str, tuple[ChannelRule, ...]] | None = None,
) -> AsyncIterator[Deployment]:
    pki_dir = tmp_path / "pki"
    pki = make_pki(pki_dir)
    stand_ins = {node: StandIn() for node in NPPOS}
    servers = [TestServer(stand_in.application()) for stand_in in stand_ins.values()]
    for server in servers:
        await server.start_server()
    nodes = {node: str(server.make_url("")).rstrip("/") for node, server in zip(NPPOS, servers, strict=True)}
    clock = VirtualClock(NOW)
    directory = Directory.from_pki(pki_dir, NPPOS, clock, receive=receive, rules=rules)
    face = IppcFace(directory, clock, TrustStore.from_file(pki_dir / "ca.pem"), validator=validator)
    hub = await Hub.open(tmp_path / "hub.sqlite", pki.trust_store(), nodes, clock, max_attempts=max_attempts,
                         ippc=face)
    await hub.start()
    runner = web.AppRunner(hub.application(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(pki_dir))
    await site.start()
    port = runner.addresses[0][1]
    running = Deployment(hub, face, f"https://127.0.0.1:{port}", pki_dir, pki, stand_ins, [])
    try:
        yield running
    finally:
        for session in running.sessions:
            await session.close()
        await runner.cleanup()
        await hub.stop()
        for server in servers:
            await server.close()


def certificate(number: str = "UZ-PC-2026-000101", status: int = 70) -> str:
    """A small SPSCertificate as text: enough for the Hub, which routes without reading it."""
    return (
        '<rsm:SPSCertificate xmlns:rsm="urn:un:unece:uncefact:data:standard:SPSCertificate:17" '
        'xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21">'
        f"<rsm:SPSExchangedDocument><ram:Name/><ram:ID>{number}</ram:ID><ram:TypeCode>851</ram:TypeCode>"
        f"<ram:StatusCode>{status}</ram:StatusCode></rsm:SPSExchangedDocument>"
        "<rsm:SPSConsignment/></rsm:SPSCertificate>"
    )


def envelope(sender: str = "UZ", recipient: str = "GE", number: str = "UZ-PC-2026-000101", *, status: int = 70,
             content: str | None = None) -> HubEnvelope:
    header = EnvelopeHeader(sender, recipient, 851, status, number)
    return HubEnvelope(header, certificate(number, status) if content is None else content)
