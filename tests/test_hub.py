"""The exchange hub over real HTTP: accept, refuse with a reason, deduplicate, push, track."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from lxml import etree

from exchange.cli import main
from exchange.clock import VirtualClock
from exchange.envelope import Envelope, rewrite_envelope
from exchange.errors import TrustError
from exchange.hub import Hub
from exchange.pki import ScenarioPKI
from exchange.signing import sign_document
from nodes.configs import load_hub_config
from nodes.customs.codec import encode
from nodes.serving import open_hub
from tests import cats_samples

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PILOT = Path(__file__).resolve().parent.parent / "scenarios" / "aze-geo-uzb-transit.yaml"


@pytest.fixture(scope="module")
def pki() -> ScenarioPKI:
    return ScenarioPKI.generate(["uz", "ge", "az"], valid_from=datetime(2026, 3, 1, tzinfo=timezone.utc))


@dataclass
class Recipient:
    """A stand-in national node that records what the hub pushes and answers as told."""

    status: int = 200
    received: list[bytes] | None = None
    first: list[int] = field(default_factory=list)  # statuses answered before `status`, one a push
    gate: asyncio.Event | None = None  # when given, every answer waits for it

    def application(self) -> web.Application:
        self.received = []

        async def inbox(request: web.Request) -> web.Response:
            assert self.received is not None
            self.received.append(await request.read())
            if self.gate is not None:
                await self.gate.wait()
            return web.json_response({"ok": True}, status=self.first.pop(0) if self.first else self.status)

        app = web.Application()
        app.router.add_post("/inbox", inbox)
        return app


@dataclass
class Running:
    hub: Hub
    url: str
    recipient: Recipient
    session: aiohttp.ClientSession


@asynccontextmanager
async def pushing_to(tmp_path: Path, pki: ScenarioPKI, inbox: web.Application, recipient: Recipient | None = None,
                     *, max_attempts: int = 2) -> AsyncIterator[Running]:
    """A hub whose recipient ge is the inbox `inbox` serves (`recipient`, when that is a `Recipient`'s)."""
    inbox_server = TestServer(inbox)
    await inbox_server.start_server()
    directory = {"ge": str(inbox_server.make_url("")), "uz": "http://127.0.0.1:9", "az": "http://127.0.0.1:9"}
    hub = await Hub.open(tmp_path / "hub.sqlite", pki.trust_store(), directory, VirtualClock(NOW),
                         max_attempts=max_attempts)
    await hub.start()
    hub_server = TestServer(hub.application())
    await hub_server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            yield Running(hub, str(hub_server.make_url("")).rstrip("/"), recipient or Recipient(), session)
    finally:
        await hub_server.close()
        await hub.stop()
        await inbox_server.close()


@pytest.fixture
async def running(tmp_path: Path, pki: ScenarioPKI) -> AsyncIterator[Running]:
    recipient = Recipient()
    async with pushing_to(tmp_path, pki, recipient.application(), recipient, max_attempts=3) as running:
        yield running


def envelope(*, sender: str = "uz", recipient: str = "ge", message=None, message_type: str | None = None) -> Envelope:
    message = message or cats_samples.aar()
    document = etree.tostring(encode(message), xml_declaration=True, encoding="UTF-8")
    return Envelope(message.header.message_id, "26UZ000100000017J4", sender, recipient,
                    message_type or message.code, NOW, document)


def sealed(pki: ScenarioPKI, *, signer: str = "uz", **fields) -> bytes:
    """An envelope as a node submits it: signed (by `signer`)."""
    return envelope(**fields).signed(pki.credentials(signer))


async def submit(running: Running, body: bytes) -> tuple[int, dict]:
    async with running.session.post(f"{running.url}/envelopes", data=body) as response:
        return response.status, await response.json()


async def wait_for_state(running: Running, delivery_id: int, state: str) -> dict:
    for _ in range(200):
        async with running.session.get(f"{running.url}/deliveries/{delivery_id}") as response:
            tracking = await response.json()
        if tracking["state"] == state:
            return tracking
        await asyncio.sleep(0.02)
    raise AssertionError(f"delivery {delivery_id} stayed {tracking['state']}")


async def test_accepted_envelope_is_pushed_and_tracked_to_delivered(running: Running, pki: ScenarioPKI) -> None:
    sent = sealed(pki)
    status, receipt = await submit(running, sent)
    assert status == 202
    assert receipt["state"] in ("pending", "delivered")
    tracking = await wait_for_state(running, receipt["delivery_id"], "delivered")
    assert tracking["delivered_at"] == "2026-03-02T09:00:00Z"
    assert running.recipient.received == [sent]  # the envelope as it was signed, byte for byte


async def test_a_page_of_deliveries_carries_each_envelope_byte_for_byte_and_counts_pushes(
        running: Running, pki: ScenarioPKI) -> None:
    sample = cats_samples.aar()
    messages = [replace(sample, header=replace(sample.header, message_id=f"UZ-PAGE-{n}")) for n in range(3)]
    sent = [sealed(pki, message=message) for message in messages]
    receipts = [(await submit(running, body))[1] for body in sent]
    for receipt in receipts:
        await wait_for_state(running, receipt["delivery_id"], "delivered")
    async with running.session.get(f"{running.url}/deliveries?after=0&envelopes=base64") as response:
        page = (await response.json())["deliveries"]
    assert [base64.b64decode(delivery["envelope"]) for delivery in page] == sent
    assert [delivery["delivery_id"] for delivery in page] == [receipt["delivery_id"] for receipt in receipts]
    async with running.session.get(f"{running.url}/deliveries?after={receipts[0]['delivery_id']}") as response:
        plain = (await response.json())["deliveries"]
    assert len(plain) == 2 and "envelope" not in plain[0], "without the parameter a page is receipts alone"
    async with running.session.get(f"{running.url}/status?wait=5") as response:
        status = await response.json()
    assert status["quiet"] and status["pushes"] == {"ge": 3}, "every finished push attempt is counted per recipient"


async def test_duplicate_is_answered_with_the_original_receipt_and_delivered_once(running: Running,
                                                                                 pki: ScenarioPKI) -> None:
    body = sealed(pki)
    _, first = await submit(running, body)
    await wait_for_state(running, first["delivery_id"], "delivered")
    status, second = await submit(running, body)
    assert status == 200 and second["delivery_id"] == first["delivery_id"] and second["duplicate"] is True
    assert (await running.hub.status())["duplicates_absorbed"] == 1
    await asyncio.sleep(0.1)
    assert running.recipient.received is not None and len(running.recipient.received) == 1


async def test_same_message_id_with_other_content_is_error_26(running: Running, pki: ScenarioPKI) -> None:
    await submit(running, sealed(pki))
    other = cats_samples.aar()
    other = replace(other, release_date=other.release_date.replace(day=3))
    status, body = await submit(running, sealed(pki, message=other))
    assert status == 409
    assert body["error"] == "duplicate-message" and body["rule"] == "26"


async def test_envelopes_submitted_together_share_a_commit_and_a_refused_one_rolls_back_alone(
        running: Running, pki: ScenarioPKI, monkeypatch: pytest.MonkeyPatch) -> None:
    durable = []  # the transactions that wait for the disk: the pushes' marks do not
    transaction = running.hub._db.transaction

    def counted(**kwargs: bool):
        durable.append(kwargs.get("durable", True))
        return transaction(**kwargs)

    monkeypatch.setattr(running.hub._db, "transaction", counted)
    distinct = [sealed(pki, message=replace(cats_samples.aar(), header=replace(cats_samples.aar().header,
                                                                                  message_id=f"UZ-DEP-0002{n:02}")))
                for n in range(8)]
    original = sealed(pki)
    other = cats_samples.aar()
    conflicting = sealed(pki, message=replace(other, release_date=other.release_date.replace(day=3)))
    answers = await asyncio.gather(*(submit(running, body) for body in [*distinct, original, original, conflicting]))
    assert [status for status, _ in answers[:8]] == [202] * 8
    assert len({receipt["delivery_id"] for _, receipt in answers[:8]}) == 8
    # the same message id three times: whichever came first is stored, the same bytes again are absorbed with
    # its receipt, other content is refused with error 26, and nothing of a refused one is kept
    same = answers[8:]
    assert sorted(status for status, _ in same) in ([200, 202, 409], [202, 409, 409])
    assert len({receipt["delivery_id"] for status, receipt in same if status != 409}) == 1
    assert {receipt["rule"] for status, receipt in same if status == 409} == {"26"}
    async with running.session.get(f"{running.url}/deliveries") as response:
        assert len((await response.json())["deliveries"]) == 9
    absorbed = (await running.hub.status())["duplicates_absorbed"]
    assert absorbed == [status for status, _ in same].count(200)
    assert durable.count(True) < 9 + absorbed  # fewer commits than envelopes committed: some shared one


async def test_sender_must_be_the_signer(running: Running, pki: ScenarioPKI) -> None:
    status, body = await submit(running, sealed(pki, signer="az", sender="uz"))
    assert status == 403
    assert body["rule"] == "sender-mismatch" and body["path"] == "/Envelope/Sender"


async def test_tampered_document_is_refused(running: Running, pki: ScenarioPKI) -> None:
    sent = sealed(pki)
    document = Envelope.from_xml(sent).document
    tampered = rewrite_envelope(sent, document=document.replace(b"GE000510", b"GE000511", 1))
    status, body = await submit(running, tampered)
    assert status == 403
    assert body["rule"] == "signature-digest"


async def test_a_signed_envelope_tucked_into_a_forged_one_is_refused(running: Running, pki: ScenarioPKI) -> None:
    """Signature wrapping: the genuine signature is there, but not as the root's child, so it signs nothing here."""
    genuine = sealed(pki)
    forged = etree.fromstring(sealed(pki, recipient="az"))
    forged.remove(forged[-1])
    etree.SubElement(forged, "{http://www.w3.org/2000/09/xmldsig#}Object").append(etree.fromstring(genuine))
    status, body = await submit(running, etree.tostring(forged))
    assert status == 403
    assert body["rule"] == "signature-location" and body["path"] == "/Envelope/Object/Envelope/Signature"


async def test_an_unsigned_envelope_is_refused(running: Running, pki: ScenarioPKI) -> None:
    status, body = await submit(running, envelope().to_xml())
    assert status == 403
    assert body["rule"] == "signature-missing" and body["path"] == "/Envelope"


async def test_a_cats_document_signed_inside_is_refused(running: Running, pki: ScenarioPKI) -> None:
    """A CC/CD document stays exactly as P5 writes it: its signature is the envelope's, never inside."""
    signed_inside = sign_document(encode(cats_samples.aar()), pki.credentials("uz"))
    status, body = await submit(running, replace(envelope(), document=signed_inside).signed(pki.credentials("uz")))
    assert status == 403
    assert body["rule"] == "signature-placement" and body["path"] == "/CD001C"


async def test_schema_invalid_document_is_refused_with_path(running: Running, pki: ScenarioPKI) -> None:
    message = cats_samples.aar()
    bad = replace(message, declaration=replace(message.declaration, office_of_destination="Poti"))
    status, body = await submit(running, sealed(pki, message=bad))
    assert status == 422
    assert body["document"] == "CD001C"
    assert any(issue["path"].endswith("CustomsOfficeOfDestinationDeclared/referenceNumber")
               for issue in body["issues"])


async def test_envelope_type_must_match_the_signed_document(running: Running, pki: ScenarioPKI) -> None:
    status, body = await submit(running, sealed(pki, message_type="CD050C"))
    assert status == 422 and body["rule"] == "type-mismatch"


async def test_envelope_message_id_must_be_the_one_its_document_states(running: Running, pki: ScenarioPKI) -> None:
    """The hub deduplicates and tracks by the envelope's id: a signed envelope may not relabel its document."""
    relabelled = replace(envelope(), message_id="UZ-OTHER-1").signed(pki.credentials("uz"))
    status, body = await submit(running, relabelled)
    assert (status, body["rule"], body["path"]) == (422, "id-mismatch", "/Envelope/MessageId")
    assert "'UZ-OTHER-1'" in body["message"] and f"'{cats_samples.aar().header.message_id}'" in body["message"]
    unnamed = encode(cats_samples.aar())
    unnamed.remove(unnamed.find("messageIdentification"))
    status, body = await submit(running, replace(envelope(), document=etree.tostring(unnamed)).signed(
        pki.credentials("uz")))
    assert (status, body["rule"], body["path"]) == (400, "id-missing", "/CD001C")
    assert (await running.hub.status())["pending"] == 0  # neither was stored


async def test_the_hub_routes_by_what_is_signed_not_by_text_a_comment_cuts_short(running: Running,
                                                                                pki: ScenarioPKI) -> None:
    """A comment is outside exclusive c14n, so one slipped into a field leaves the signature valid; the field's
    text outside the signed content then reads 'g', and the hub must read the signed 'ge'."""
    body = sealed(pki).replace(b"<env:Recipient>ge<", b"<env:Recipient>g<!---->e<", 1)
    assert b"<!---->" in body
    status, receipt = await submit(running, body)
    assert status == 202, receipt
    tracking = await wait_for_state(running, receipt["delivery_id"], "delivered")
    assert tracking["recipient"] == "ge" and running.recipient.received == [body]


async def test_a_comment_in_the_sender_does_not_pass_another_nodes_envelope_off_as_the_connections(
        tmp_path: Path) -> None:
    """Node uz relays an envelope node uz-2 signed, its Sender cut to 'uz' by a comment: the connection is checked
    against the sender the signature vouches for, so it is refused as the unaltered one is."""
    pki = ScenarioPKI.generate(["uz", "uz-2", "ge"], valid_from=datetime(2026, 3, 1, tzinfo=timezone.utc))
    hub = await Hub.open(tmp_path / "hub.sqlite", pki.trust_store(), {"ge": "http://127.0.0.1:9"}, VirtualClock(NOW))
    genuine = replace(envelope(), sender="uz-2").signed(pki.credentials("uz-2"))
    relayed = genuine.replace(b"<env:Sender>uz-2<", b"<env:Sender>uz<!---->-2<", 1)
    try:
        assert relayed != genuine
        for body in (genuine, relayed):
            with pytest.raises(TrustError) as refused:
                await hub.accept(body, peer="uz")
            assert refused.value.rule == "tls-identity" and "from 'uz-2'" in str(refused.value)
        assert (await hub.status())["pending"] == 0
    finally:
        await hub.stop()


async def test_unknown_recipient_and_broken_envelope_are_refused(running: Running, pki: ScenarioPKI) -> None:
    status, body = await submit(running, sealed(pki, recipient="kz"))
    assert status == 422 and body["rule"] == "unknown-recipient"
    status, body = await submit(running, b"<not-an-envelope/>")
    assert status == 422 and body["error"] == "validation-failed"
    status, body = await submit(running, b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>")
    assert status == 400 and body["rule"] == "xml-dtd"


async def test_refusal_by_recipient_fails_the_delivery(running: Running, pki: ScenarioPKI) -> None:
    running.recipient.status = 422
    _, receipt = await submit(running, sealed(pki))
    tracking = await wait_for_state(running, receipt["delivery_id"], "failed")
    assert tracking["attempts"] == 1 and "HTTP 422" in tracking["last_error"]


async def test_an_answer_that_may_pass_is_retried_not_taken_for_a_refusal(running: Running, pki: ScenarioPKI) -> None:
    """5xx, 408 and 429 say 'not now' (docs/PROTOCOL.md, retries): the same envelope is pushed again and the
    delivery ends delivered by the answer that takes it, never failed by the first."""
    sample = cats_samples.aar()
    for n, answers in enumerate(([503, 429], [408])):
        running.recipient.first = list(answers)
        sent = sealed(pki, message=replace(sample, header=replace(sample.header, message_id=f"UZ-AGAIN-{n}")))
        _, receipt = await submit(running, sent)
        tracking = await wait_for_state(running, receipt["delivery_id"], "delivered")
        assert tracking["attempts"] == len(answers) + 1, answers
        assert running.recipient.received[-len(answers) - 1:] == [sent] * (len(answers) + 1)


async def test_a_link_is_pushed_first_in_first_out(running: Running, pki: ScenarioPKI) -> None:
    """Envelopes that queue for a recipient while it is busy with the first go to it in the order the hub took them
    (docs/PROTOCOL.md, ordering): a CD118C must not overtake the CD050C before it."""
    running.recipient.gate = asyncio.Event()
    sample = cats_samples.aar()
    sent = [sealed(pki, message=replace(sample, header=replace(sample.header, message_id=f"UZ-FIFO-{n}")))
            for n in range(4)]
    receipts = [(await submit(running, sent[0]))[1]]
    for _ in range(200):  # the first push is in the recipient's hands, unanswered
        if running.recipient.received:
            break
        await asyncio.sleep(0.01)
    receipts += [(await submit(running, body))[1] for body in sent[1:]]
    running.recipient.gate.set()
    for receipt in receipts:
        await wait_for_state(running, receipt["delivery_id"], "delivered")
    assert running.recipient.received == sent


async def test_a_push_answered_with_a_redirect_is_neither_followed_nor_taken_for_delivered(
        tmp_path: Path, pki: ScenarioPKI) -> None:
    """The push contract has 2xx, 4xx and 5xx (docs/PROTOCOL.md): an inbox answering 307 must not make the hub
    post the envelope, as `hub`, wherever it points, nor have the other server's 2xx count as its delivery."""
    elsewhere = Recipient()
    elsewhere_server = TestServer(elsewhere.application())
    await elsewhere_server.start_server()

    async def inbox(request: web.Request) -> web.Response:
        await request.read()
        raise web.HTTPTemporaryRedirect(str(elsewhere_server.make_url("/inbox")))

    redirecting = web.Application()
    redirecting.router.add_post("/inbox", inbox)
    try:
        async with pushing_to(tmp_path, pki, redirecting) as running:
            _, receipt = await submit(running, sealed(pki))
            tracking = await wait_for_state(running, receipt["delivery_id"], "failed")
    finally:
        await elsewhere_server.close()
    assert elsewhere.received == [] and tracking["last_error"].startswith("HTTP 307")


async def test_a_push_answer_is_read_only_as_far_as_a_receipt_goes(tmp_path: Path, pki: ScenarioPKI) -> None:
    """An inbox (a system under test) that answers a push 2xx with 64 MiB does not have the hub read them all:
    what a receipt or a refusal needs is read, the delivery is delivered, and the rest is left unread."""
    written = 0

    async def inbox(request: web.Request) -> web.StreamResponse:
        nonlocal written
        await request.read()
        answer = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await answer.prepare(request)
        try:
            for _ in range(1024):
                await answer.write(b"x" * 65536)
                written += 65536
        except (ConnectionError, RuntimeError):
            pass  # the hub read what it needed and closed the connection
        return answer

    talkative = web.Application()
    talkative.router.add_post("/inbox", inbox)
    async with pushing_to(tmp_path, pki, talkative) as running:
        _, receipt = await submit(running, sealed(pki))
        await wait_for_state(running, receipt["delivery_id"], "delivered")
        await asyncio.sleep(0.2)
    assert written < 32 * 1024 * 1024, f"the hub took {written} bytes of one answer"


async def test_unreachable_recipient_is_retried_then_failed(running: Running, pki: ScenarioPKI) -> None:
    _, receipt = await submit(running, sealed(pki, recipient="az"))
    tracking = await wait_for_state(running, receipt["delivery_id"], "failed")
    assert tracking["attempts"] == 3
    status = await running.hub.status()
    assert status["failed"] == 1


async def test_a_hub_gives_up_a_push_after_the_attempts_its_config_sets(tmp_path: Path) -> None:
    """`retry: {max_attempts: 2}` in the hub's config (as `caravan hub --config` reads it): a push to a node that
    answers nothing fails after two attempts, not the default thousand (half an hour of backoff)."""
    assert main(["prepare", str(PILOT), "--out", str(tmp_path), "--plain-http"]) == 0
    config = tmp_path / "hub.yaml"
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    config.write_text(yaml.safe_dump({**settings, "nodes": {**settings["nodes"], "ge": "http://127.0.0.1:9"},
                                      "clock": {"start": NOW.isoformat()}, "retry": {"max_attempts": 2}}),
                      encoding="utf-8")
    hub = await open_hub(load_hub_config(config))
    try:
        async with TestServer(hub.application()) as server, aiohttp.ClientSession() as session:
            running = Running(hub, str(server.make_url("")).rstrip("/"), Recipient(), session)
            _, receipt = await submit(running, sealed(ScenarioPKI.load(tmp_path / "pki")))
            tracking = await wait_for_state(running, receipt["delivery_id"], "failed")
    finally:
        await hub.stop()
    assert tracking["attempts"] == 2


async def test_the_hub_answers_a_browser_at_its_root_with_its_clock_and_traffic(running: Running, pki: ScenarioPKI
                                                                                 ) -> None:
    status, receipt = await submit(running, sealed(pki))
    assert status == 202
    await wait_for_state(running, receipt["delivery_id"], "delivered")
    async with running.session.get(f"{running.url}/") as response:
        assert response.status == 200 and response.content_type == "text/html"
        page = await response.text()
    assert f"{NOW:%Y-%m-%d %H:%M}" in page and "scenario time" in page
    assert "<tr><td>delivered</td><td>1</td></tr>" in page
    assert "caravan view RUN_DIR" in page and "POST /envelopes" in page and "GET /deliveries/{id}</code>" in page


async def test_a_store_that_kept_envelopes_in_its_deliveries_is_moved_and_its_pending_push_goes_out(
        tmp_path: Path, pki: ScenarioPKI) -> None:
    """A hub store written before envelopes had their own table opens with its envelopes intact and pushable."""
    sent = sealed(pki)
    store = tmp_path / "hub.sqlite"
    with sqlite3.connect(store) as old:
        old.execute("""CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT, sender TEXT NOT NULL, message_id TEXT NOT NULL,
            recipient TEXT NOT NULL, message_type TEXT NOT NULL, correlation_id TEXT, digest TEXT NOT NULL,
            envelope BLOB NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            accepted_at TEXT NOT NULL, delivered_at TEXT, last_error TEXT, duplicates INTEGER NOT NULL DEFAULT 0,
            UNIQUE (sender, message_id))""")
        old.execute("INSERT INTO deliveries (sender, message_id, recipient, message_type, digest, envelope, state, "
                    "accepted_at) VALUES ('uz', 'OLD-1', 'ge', 'CC015C', 'x', ?, 'pending', '2026-03-02T09:00:00Z')",
                    (sent,))
    old.close()
    recipient = Recipient()
    node_server = TestServer(recipient.application())
    await node_server.start_server()
    hub = await Hub.open(store, pki.trust_store(), {"ge": str(node_server.make_url(""))}, VirtualClock(NOW))
    try:
        assert await hub.envelope(1) == sent
        await hub.start()
        for _ in range(200):
            if recipient.received:
                break
            await asyncio.sleep(0.02)
        assert recipient.received == [sent], "the pending delivery was pushed from the moved envelope"
    finally:
        await hub.stop()
        await node_server.close()
    with sqlite3.connect(store) as moved:
        columns = {row[1] for row in moved.execute("PRAGMA table_info(deliveries)")}
    moved.close()
    assert "envelope" not in columns


async def test_the_readings_after_every_commit_and_push_search_the_deliveries_and_never_scan_them(
        running: Running, pki: ScenarioPKI) -> None:
    """`in_flight` (read after every commit while a driver waits) and the forwarder's queue stay O(log n) as the
    deliveries grow: each statement's plan searches an index, or scans only the partial index of pending rows."""
    assert (await submit(running, sealed(pki, recipient="uz")))[0] == 202
    statements: list[str] = []
    running.hub._db._reader.set_trace_callback(statements.append)
    try:
        await running.hub.in_flight()
        await running.hub._queue("uz", capture=True)
    finally:
        running.hub._db._reader.set_trace_callback(None)
    assert len(statements) == 2
    with sqlite3.connect(running.hub._db._reader.execute("PRAGMA database_list").fetchone()[2]) as store:
        plans = [detail for statement in statements for *_, detail in store.execute(f"EXPLAIN QUERY PLAN {statement}")]
    store.close()
    scans = [plan for plan in plans if plan.startswith("SCAN") and "deliveries_pending" not in plan]
    assert not scans, plans
