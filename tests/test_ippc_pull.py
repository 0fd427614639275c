"""A node that pulls: the glue takes each waiting ePhyto through the node's intake and acknowledges it."""

from __future__ import annotations

from pathlib import Path

from exchange.errors import Issue
from exchange.intake import UnsignedPolicy, open_envelope
from exchange.ippc.entities import Receive, TrackingInfo
from exchange.signing import sign_document
from nodes.ephyto.codec import encode
from nodes.ippc_pull import pull_ephytos
from tests import ephyto_samples
from tests.ippc_support import NOW, certificate, deployment, envelope


async def test_pull_cycle_acknowledges_by_what_the_intake_and_the_validation_say(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        uz, ge = await hub.client("uz"), await hub.client("ge")
        signed = sign_document(encode(ephyto_samples.issued()), hub.pki.credentials("uz")).decode("utf-8")
        numbers = [
            (await uz.deliver(envelope(number="UZ-PC-2026-000101", content=signed))).delivery_number,
            (await uz.deliver(envelope(number="UZ-PC-2026-000102", content="not XML at all"))).delivery_number,
            (await uz.deliver(envelope(number="UZ-PC-2026-000103", content=certificate()))).delivery_number,
        ]
        taken: list[bytes] = []

        async def intake(body: bytes) -> dict[str, str]:  # what Node.receive checks, without a node around it
            opened = open_envelope(body, hub.pki.trust_store(), at=NOW, unsigned={"ephyto": UnsignedPolicy.REFUSE})
            taken.append(body)
            return {"signature": opened.signature}

        pulled = await pull_ephytos(ge, intake, lambda: NOW, validator=lambda data: [])
        assert [(p.number, p.outcome) for p in pulled] == [
            (numbers[0], TrackingInfo.DELIVERED),
            (numbers[1], TrackingInfo.DELIVERED_NOT_READABLE),
            (numbers[2], TrackingInfo.DELIVERED_NOT_READABLE),  # unsigned: the intake refuses it
        ]
        assert "not signed" in pulled[2].detail and pulled[0].signature == "signed"
        assert len(taken) == 1
        assert [(await uz.tracking_info(n or "")).tracking for n in numbers] == [p.outcome for p in pulled]
        assert await pull_ephytos(ge, intake, lambda: NOW) == []  # nothing left waiting


async def test_findings_make_an_advanced_acknowledgement(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        uz, ge = await hub.client("uz"), await hub.client("ge")
        signed = sign_document(encode(ephyto_samples.issued()), hub.pki.credentials("uz")).decode("utf-8")
        number = (await uz.deliver(envelope(content=signed))).delivery_number or ""

        async def intake(body: bytes) -> dict[str, str]:
            return {"signature": open_envelope(body, hub.pki.trust_store(), at=NOW).signature}

        def validator(data: bytes) -> list[Issue]:
            return [Issue("Mapping", "/SPSCertificate/SPSConsignment/ImportSPSCountry/ID", "not ISO 3166", "M7",
                          "WARNING")]

        [pulled] = await pull_ephytos(ge, intake, lambda: NOW, validator=validator)
        assert pulled.outcome is TrackingInfo.DELIVERED_WITH_WARNINGS
        header = await uz.tracking_info(number)
        assert header.tracking is TrackingInfo.DELIVERED_WITH_WARNINGS and "not ISO 3166" in (header.error or "")
        assert pulled.as_event()["data"]["HUBTrackingInfo"] == "DeliveredWithWarnings"
