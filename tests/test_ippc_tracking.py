"""Every Hub tracking state, reached through the Hub's operations and through caravan envelopes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from exchange.envelope import Envelope
from exchange.errors import Issue, ProtocolError
from exchange.ippc.client import HubClient
from exchange.ippc.entities import EnvelopeHeader, Receive, TrackingInfo
from exchange.ippc.tracking import TRANSITIONS, TrackingEvent, advance
from exchange.signing import sign_document
from nodes.customs.codec import encode
from tests import cats_samples
from tests.ippc_support import NOW, certificate, deployment, envelope

FINAL = (TrackingInfo.DELIVERED, TrackingInfo.DELIVERED_WITH_WARNINGS, TrackingInfo.DELIVERED_NOT_READABLE,
         TrackingInfo.FAILED_DELIVERY)


def test_the_table_only_moves_pending_deliveries_and_repeats_are_idempotent() -> None:
    assert advance(None, TrackingEvent.QUEUED) is TrackingInfo.PENDING_DELIVERY
    assert advance(None, TrackingEvent.INVALID) is TrackingInfo.FAILED_DELIVERY
    # the one way out of a final state: the importer's own later report refines a plain Delivered
    refinements = {(TrackingInfo.DELIVERED, TrackingEvent.REPORTED_WITH_WARNINGS): TrackingInfo.DELIVERED_WITH_WARNINGS,
                   (TrackingInfo.DELIVERED, TrackingEvent.REPORTED_NOT_READABLE): TrackingInfo.DELIVERED_NOT_READABLE}
    for state in FINAL:
        for event in TrackingEvent:
            target = advance(state, event)
            assert target in (None, state) or refinements[(state, event)] is target, (state, event)
    assert advance(TrackingInfo.DELIVERED, TrackingEvent.ACKNOWLEDGED_NOT_READABLE) is None
    assert advance(TrackingInfo.DELIVERED_WITH_WARNINGS, TrackingEvent.REPORTED_DELIVERED) is None
    assert TrackingInfo.ENVELOPE_NOT_EXISTS not in {target for target in TRANSITIONS.values()}


async def wait_for(client: HubClient, number: str, state: TrackingInfo) -> EnvelopeHeader:
    for _ in range(200):
        header = await client.tracking_info(number)
        if header.tracking is state:
            return header
        await asyncio.sleep(0.02)
    raise AssertionError(f"{number} stayed {header.tracking}")


async def test_pull_and_the_three_acknowledgements(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        uz, ge = await hub.client("uz"), await hub.client("ge")
        numbers = [(await uz.deliver(envelope(number=f"UZ-PC-2026-00010{i}"))).delivery_number for i in range(3)]
        assert all(numbers)
        headers = await ge.import_headers()
        assert [h.delivery_number for h in headers] == numbers
        assert {h.tracking for h in headers} == {TrackingInfo.PENDING_DELIVERY}
        assert await ge.import_headers("AZ") == [] and len(await ge.import_headers("uz")) == 3
        assert [h.delivery_number for h in await uz.under_delivery()] == numbers
        pulled = await ge.pull(numbers[0])
        assert pulled.content == certificate("UZ-PC-2026-000100")
        assert len(await ge.pull_all()) == 3  # pulling settles nothing

        await ge.acknowledge(numbers[0])
        await ge.acknowledge_with_warnings(numbers[1], "duplicate certificate number")
        await ge.acknowledge_failed(numbers[2], "Content is not XML")
        states = [(await uz.tracking_info(n)) for n in numbers]
        assert [s.tracking for s in states] == [TrackingInfo.DELIVERED, TrackingInfo.DELIVERED_WITH_WARNINGS,
                                                TrackingInfo.DELIVERED_NOT_READABLE]
        assert (states[1].error or "").startswith("duplicate certificate number; XMLDSig: unsigned")
        assert await ge.import_headers() == [] and await uz.under_delivery() == []

        await ge.acknowledge(numbers[0])  # a retried acknowledgement changes nothing
        with pytest.raises(ProtocolError, match="already Delivered"):
            await ge.acknowledge_failed(numbers[0], "too late")
        with pytest.raises(ProtocolError, match="no envelope"):
            await (await hub.client("az")).acknowledge(numbers[0])
        status = await hub.hub.status()
        assert status["ippc:Delivered"] == 1 and status["ippc:DeliveredNotReadable"] == 1
        assert status["ippc:PendingDelivery"] == 0


async def test_an_unknown_number_and_someone_elses_number_do_not_exist(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        number = (await (await hub.client("uz")).deliver(envelope())).delivery_number
        assert number is not None
        for client, asked in ((await hub.client("uz"), "HUB999999999999"), (await hub.client("az"), number)):
            header = await client.tracking_info(asked)
            assert header.tracking is TrackingInfo.ENVELOPE_NOT_EXISTS and header.delivery_number == asked
        assert (await (await hub.client("ge")).tracking_info(number)).tracking is TrackingInfo.PENDING_DELIVERY


async def test_validate_and_deliver_fails_a_certificate_with_severe_issues(tmp_path: Path) -> None:
    def validator(data: bytes) -> list[Issue]:
        if b"<rsm:" not in data:
            return [Issue("Schema", "/", "not an SPSCertificate", "root")]
        return [Issue("Mapping", "/SPSCertificate/SPSConsignment", "no trade line", "M1", "WARNING")]

    async with deployment(tmp_path, receive={"ge": Receive.PULL}, validator=validator) as hub:
        uz = await hub.client("uz")
        good = await uz.deliver(envelope(), validate=True)
        assert good.tracking is TrackingInfo.PENDING_DELIVERY
        bad = await uz.deliver(envelope(number="UZ-PC-2026-000102", content="<nothing/>"), validate=True)
        assert bad.tracking is TrackingInfo.FAILED_DELIVERY and "not an SPSCertificate" in (bad.error or "")
        assert bad.delivery_number is not None
        assert (await uz.tracking_info(bad.delivery_number)).tracking is TrackingInfo.FAILED_DELIVERY
        warnings = await uz.validate_phyto(certificate())
        assert [(w.area, w.field, w.level) for w in warnings] == [("Mapping", "/SPSCertificate/SPSConsignment",
                                                                   "WARNING")]


async def test_pushed_deliveries_settle_by_the_nodes_answer(tmp_path: Path) -> None:
    """SOAP deliveries for a pushed NPPO reach its caravan inbox as caravan envelopes."""
    async with deployment(tmp_path) as hub:
        signed = sign_document(encode(cats_samples.aar()), hub.pki.credentials("uz"))
        uz = await hub.client("uz")
        delivered = await uz.deliver(envelope(recipient="GE", content=signed.decode("utf-8")))
        assert delivered.delivery_number and delivered.tracking is TrackingInfo.PENDING_DELIVERY
        await wait_for(uz, delivered.delivery_number, TrackingInfo.DELIVERED)
        pushed = Envelope.from_xml(hub.stand_ins["ge"].received[0])
        assert (pushed.sender, pushed.recipient, pushed.document) == ("uz", "ge", signed)

        hub.stand_ins["az"].status = 422
        hub.stand_ins["az"].answer = {"error": "trust-failed", "message": "signature-missing"}
        refused = await uz.deliver(envelope(recipient="AZ", content=signed.decode("utf-8")))
        failed = await wait_for(uz, refused.delivery_number or "", TrackingInfo.FAILED_DELIVERY)
        assert "HTTP 422" in (failed.error or "")

        unreadable = await uz.deliver(envelope(recipient="AZ", content="this is not XML"))
        failed = await wait_for(uz, unreadable.delivery_number or "", TrackingInfo.FAILED_DELIVERY)
        assert "not deliverable to node az" in (failed.error or "")


# -- caravan envelopes of the ePhyto family -----------------------------------------------------------------------


FIRST = "HUB000000000001"  # delivery numbers follow the hub's sequence


def caravan_ephyto(number: str = "UZ-PC-2026-000101", status: int = 70, recipient: str = "ge") -> Envelope:
    """What a node's outbox submits; stored through the hub's own path (its intake checks are tested elsewhere)."""
    document = certificate(number, status).encode("utf-8")
    return Envelope(f"{number}:{status}", number, "uz", recipient, "SPSCertificate", NOW, document)


async def caravan_state(hub, delivery_id: int) -> str:  # noqa: ANN001
    return (await hub.hub.tracking(delivery_id)).state


async def test_caravan_ephytos_are_tracked_through_push(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        hub.stand_ins["ge"].answer = {"HUBTrackingInfo": "DeliveredWithWarnings"}
        first = caravan_ephyto()
        receipt = await hub.hub._store(first, first.to_xml())
        uz = await hub.client("uz")
        done = await wait_for(uz, FIRST, TrackingInfo.DELIVERED_WITH_WARNINGS)
        assert (done.sender, done.recipient, done.certificate_type, done.certificate_status) == ("UZ", "GE", 851, 70)
        assert done.certificate_number == "UZ-PC-2026-000101"
        assert await caravan_state(hub, receipt.delivery_id) == "delivered"

        hub.stand_ins["az"].status = 403
        refused = caravan_ephyto("UZ-PC-2026-000102", recipient="az")
        receipt = await hub.hub._store(refused, refused.to_xml())
        for _ in range(200):
            if await caravan_state(hub, receipt.delivery_id) == "failed":
                break
            await asyncio.sleep(0.02)
        status = await hub.hub.status()
        assert status["ippc:FailedDelivery"] == 1 and status["ippc:DeliveredWithWarnings"] == 1


async def test_caravan_ephytos_for_a_pulling_nppo_are_held_until_acknowledged(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        sent = caravan_ephyto()
        receipt = await hub.hub._store(sent, sent.to_xml())
        assert receipt.state == "held"
        status = await hub.hub.status()
        assert status["pending"] == 0 and status["ippc:PendingDelivery"] == 1
        ge = await hub.client("ge")
        [header] = await ge.import_headers()
        pulled = await ge.pull(header.delivery_number or "")
        assert pulled.content is not None and pulled.content.encode("utf-8") == sent.document
        await ge.acknowledge(header.delivery_number or "")
        assert await caravan_state(hub, receipt.delivery_id) == "delivered"
        assert hub.stand_ins["ge"].received == []


async def test_a_caravan_ephyto_the_sender_may_not_send_is_refused(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        sent = caravan_ephyto(status=99)
        with pytest.raises(ProtocolError, match="may not send"):
            await hub.hub._store(sent, sent.to_xml())
        assert await hub.hub.deliveries() == []
        other = replace(caravan_ephyto(), message_type="CD001C", document=etree.tostring(etree.Element("x")))
        await hub.hub._store(other, other.to_xml())  # not an ePhyto: no Hub tracking
        assert (await hub.hub.status())["ippc:PendingDelivery"] == 0
