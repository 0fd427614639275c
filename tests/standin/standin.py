"""A deliberately faulty national system, for testing `caravan conform`: it must fail the right cases.

    python tests/standin/standin.py --prepared DIR --node NODE --fault FAULT

It stands where `prepare --external NODE=INBOX_URL` says NODE's inbox is, with NODE's TLS identity, and
is made of caravan's own node (started as a child process on plain HTTP on loopback, its config derived
from DIR/NODE.yaml) behind a proxy that breaks the protocol on purpose. Outwards the proxy is NODE:
the hub pushes to it and it submits to the hub. So everything conform sees of it is real traffic.

Faults (one per run):
  none            the proxy only forwards: the stand-in must pass
  unsigned        its messages to other nodes leave without their signature
  wrong-mrn       the MRNs in its messages to other nodes get a wrong check digit (re-signed, so valid)
  missing-answer  it never sends its answers (CD906C, SPSAcknowledgement, EcoVerificationResponse)
  late-answer     its answers wait for the next move of the scenario clock
  out-of-order    its first message to another node is sent after the next one
  never-refuses   it takes every push with a 2xx, even one it must refuse (no ePhyto failed acknowledgement at
                  delivery), and never sends a refusal (CD906C, EcoRefusal)
  silent          it answers 200 {} to everything, pushes and control calls, and sends nothing
  close           it accepts connections and closes them at once
  foreign-cert    it serves TLS with a certificate from a CA the hub does not know
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from aiohttp import web
from lxml import etree

from exchange.envelope import Envelope
from exchange.listener import bind_listener, bound_port
from exchange.pki import ScenarioPKI
from exchange.tls import TLS_DIR, TlsIdentity
from nodes.configs import load_node_config, write_node_config

FAULTS = ("none", "unsigned", "wrong-mrn", "missing-answer", "late-answer", "out-of-order", "never-refuses", "silent",
          "close", "foreign-cert")
REFUSALS = frozenset({"CD906C", "EcoRefusal"})
ANSWERS = REFUSALS | {"SPSAcknowledgement", "EcoVerificationResponse"}


class Proxy:
    """NODE towards the hub; caravan's node behind it, on plain HTTP."""

    def __init__(self, prepared: Path, node: str, fault: str, inner: str | None) -> None:
        self.config = load_node_config(prepared / f"{node}.yaml")
        self.node = node
        self.fault = fault
        self.inner = inner
        self.pki = ScenarioPKI.load(self.config.pki)
        self.tls = TlsIdentity.in_pki(self.config.pki, node)
        self.session: aiohttp.ClientSession | None = None
        self.held: list[Envelope] = []
        self.sent_to_others = 0

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.tls.client_context()))

    # -- the outside: the hub and the driver ----------------------------------------------------------------

    async def outside(self, request: web.Request) -> web.StreamResponse:
        if self.fault == "silent":
            return web.json_response({})
        body = await request.read()
        assert self.inner is not None, f"fault {self.fault} runs no node behind the stand-in to forward to"
        async with aiohttp.ClientSession() as plain, plain.request(
            request.method, f"{self.inner}{request.path_qs}", data=body, headers=_forwarded(request)
        ) as answer:
            data = await answer.read()
            response = web.Response(status=answer.status, body=data, content_type=answer.content_type)
        if request.path == "/inbox" and self.fault == "never-refuses" and 400 <= answer.status < 500:
            response = web.json_response({"node": self.node, "taken": True})  # what it should have refused
        if request.path == "/control/clock" and self.fault == "late-answer" and answer.status == 200:
            await self._release_held()
        return response

    # -- the inside: caravan's node submitting to "the hub" ---------------------------------------------------

    async def inside(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        body = await request.read()
        if request.path != "/envelopes" or request.method != "POST":
            async with self.session.request(request.method, f"{self.config.hub}{request.path_qs}", data=body) as a:
                return web.Response(status=a.status, body=await a.read(), content_type=a.content_type)
        envelope = Envelope.from_xml(body)
        to_other = envelope.recipient != self.node
        if to_other and self.fault == "never-refuses" and envelope.message_type in REFUSALS:
            return _fake_receipt(envelope)
        if to_other and self.fault in ("missing-answer", "late-answer") and envelope.message_type in ANSWERS:
            if self.fault == "late-answer":
                self.held.append(envelope)
            return _fake_receipt(envelope)
        if to_other and self.fault == "out-of-order":
            self.sent_to_others += 1
            if self.sent_to_others == 1:
                self.held.append(envelope)
                return _fake_receipt(envelope)
        if to_other and self.fault == "wrong-mrn":
            envelope = replace(envelope, document=_wrong_mrn(envelope.document))
        status, data = await self._submit(envelope, signed=not (to_other and self.fault == "unsigned"))
        if self.fault == "out-of-order" and self.sent_to_others == 2 and self.held:
            await self._release_held()
        return web.Response(status=status, body=data, content_type="application/json")

    async def _submit(self, envelope: Envelope, *, signed: bool = True) -> tuple[int, bytes]:
        """Post `envelope`, sealed again with the node's key (its content may have changed), or unsigned."""
        assert self.session is not None
        body = envelope.signed(self.pki.credentials(self.node)) if signed else envelope.to_xml()
        async with self.session.post(f"{self.config.hub}/envelopes", data=body,
                                     headers={"Content-Type": "application/xml"}) as answer:
            return answer.status, await answer.read()

    async def _release_held(self) -> None:
        """Send what was held, stamped with the hub's time now (its window is checked at submission)."""
        assert self.session is not None
        async with self.session.get(f"{self.config.hub}/clock") as answer:
            now = datetime.fromisoformat((await answer.json())["now"].replace("Z", "+00:00"))
        held, self.held = self.held, []
        for envelope in held:
            await self._submit(replace(envelope, created=now))


def _wrong_mrn(document: bytes) -> bytes:
    """The document with every MRN's check digit changed (the envelope is sealed again over it)."""
    root = etree.fromstring(document)
    for element in root.iter("{*}MRN", "MRN"):
        text = element.text or ""
        if len(text) == 18:
            element.text = text[:17] + str((int(text[17]) + 1) % 10 if text[17].isdigit() else 0)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _fake_receipt(envelope: Envelope) -> web.Response:
    """What the hub would answer, so caravan's node believes it sent what the proxy kept."""
    return web.json_response({"delivery_id": 0, "message_id": envelope.message_id, "sender": envelope.sender,
                              "recipient": envelope.recipient, "state": "pending", "duplicate": False},
                             status=202)


def _forwarded(request: web.Request) -> dict[str, str]:
    return {name: value for name, value in request.headers.items() if name.lower() in ("content-type",)}


def _foreign_context() -> ssl.SSLContext:
    """A server identity from a CA of its own: no party of the scenario trusts it."""
    pki = ScenarioPKI.generate(["stranger"], valid_from=datetime.now(timezone.utc) - timedelta(days=1))
    with tempfile.TemporaryDirectory(prefix="standin-foreign-") as name:  # the context holds the key once loaded
        directory = Path(name)
        pki.write(directory / TLS_DIR)
        return TlsIdentity.in_pki(directory, "stranger").server_context()


async def _serve_closing(host: str, port: int) -> asyncio.AbstractServer:
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(close, host, port)


async def _start_node(config: Path) -> tuple[subprocess.Popen[str], str]:
    """caravan's node on any free port (its config says port 0) and the URL it reports on its ready line: no port
    guessed free here, that another process could take before the node binds it."""
    child = subprocess.Popen([sys.executable, "-m", "exchange.cli", "node", "--config", str(config)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    line = await asyncio.to_thread(child.stdout.readline)
    if " listening on " not in line:
        child.terminate()
        raise SystemExit(f"stand-in: the node behind it did not start (exit {child.wait(timeout=10)}): {line!r}")
    threading.Thread(target=shutil.copyfileobj, args=(child.stdout, sys.stdout), daemon=True).start()  # the rest
    return child, line.rsplit(" ", 1)[1].strip()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--fault", choices=FAULTS, default="none")
    args = parser.parse_args(argv)
    config = load_node_config(args.prepared / f"{args.node}.yaml")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    child: subprocess.Popen[str] | None = None
    runners: list[web.AppRunner] = []
    if args.fault == "close":
        server = await _serve_closing(config.host, config.port)
        print("stand-in ready (closing connections)", flush=True)
        await stop.wait()
        server.close()
        return 0
    relay = bind_listener("127.0.0.1", 0)  # bound first: the node behind is configured with the port it got
    inner: str | None = None
    if args.fault not in ("silent", "foreign-cert"):
        inner_config = args.prepared / f"{args.node}-standin.yaml"
        write_node_config(inner_config, replace(config, host="127.0.0.1", port=0, address=None, tls=False,
                                                hub=f"http://127.0.0.1:{bound_port(relay)}"))
        child, inner = await _start_node(inner_config)
    proxy = Proxy(args.prepared, args.node, args.fault, inner)
    try:
        await proxy.start()
        inside = web.Application(client_max_size=8 * 1024 * 1024)
        inside.router.add_route("*", "/{tail:.*}", proxy.inside)
        outside = web.Application(client_max_size=8 * 1024 * 1024)
        outside.router.add_route("*", "/{tail:.*}", proxy.outside)
        context = _foreign_context() if args.fault == "foreign-cert" else proxy.tls.server_context()
        for app, listener, ssl_context in ((inside, relay, None),
                                           (outside, bind_listener(config.host, config.port), context)):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            runners.append(runner)
            await web.SockSite(runner, listener, ssl_context=ssl_context).start()
        print(json.dumps({"ready": True, "fault": args.fault}), flush=True)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()
        relay.close()  # in case its server never started; closing it again does nothing
        if proxy.session is not None:
            await proxy.session.close()
        if child is not None:
            child.terminate()
            child.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
