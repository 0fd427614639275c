"""An existing, independent SOAP client (zeep, driven only by the served WSDL) works against caravan's hub.

zeep knows nothing of caravan: it reads `?wsdl`, builds requests from the IPPC Hub's operation and
element names, and parses the answers. If caravan's WSDL or messages drifted from the Hub's shape, zeep
would fail to build or to read them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import zeep
import zeep.exceptions
from zeep.transports import Transport

from tests.ippc_support import certificate, deployment


@contextmanager
def _client(endpoint: str, pki: Path, party: str) -> Iterator[zeep.Client]:
    """A stock zeep client over mutual TLS as `party`; it knows the hub only through its WSDL."""
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace the scenario CA
        session.cert = (str(pki / f"{party}.pem"), str(pki / f"{party}-key.pem"))
        session.verify = str(pki / "ca.pem")
        yield zeep.Client(f"{endpoint}?wsdl", transport=Transport(session=session))


async def test_zeep_delivers_tracks_and_pulls_through_the_wsdl(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        def exchange() -> tuple[object, object, object]:
            with _client(hub.endpoint, hub.pki_dir, "uz") as sender:
                envelope = sender.get_type("{http://ephyto.ippc.int/HUB.Entities}Envelope")(
                    From="UZ", To="GE", CertificateType=851, CertificateStatus=70,
                    NPPOCertificateNumber="UZ-PC-2026-000101", Content=certificate(),
                )
                header = sender.service.DeliverEnvelope(env=envelope)
                tracking = sender.service.GetEnvelopeTrackingInfo(hubTrackingNumber=header.hubDeliveryNumber)
                nppos = sender.service.GetActiveNppos()
            return header, tracking, nppos

        header, tracking, nppos = await asyncio.to_thread(exchange)
    assert str(header.hubDeliveryNumber).startswith("HUB")
    assert str(header.HUBTrackingInfo) in ("PendingDelivery", "Delivered")
    assert str(tracking.hubDeliveryNumber) == str(header.hubDeliveryNumber)
    assert {str(n.Country) for n in nppos} >= {"UZ", "GE", "AZ"}


async def test_zeep_sees_the_hub_refusal_as_a_soap_fault(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        def unknown_number() -> None:
            with _client(hub.endpoint, hub.pki_dir, "ge") as client:
                client.service.PULLSingleImportEnvelope(hubTrackingNumber="HUB999999999999")

        with pytest.raises(zeep.exceptions.Fault):
            await asyncio.to_thread(unknown_number)
