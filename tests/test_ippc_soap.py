"""The IPPC Hub's SOAP 1.1 face over real mutual TLS: hand-built requests, the WSDL, faults, identities."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from exchange.errors import ProtocolError
from exchange.ippc.entities import AllowedDocument, Receive, TrackingInfo
from tests.ippc_support import certificate, deployment, envelope, make_pki

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SVC = "http://ephyto.ippc.int/"
ENT = "http://ephyto.ippc.int/HUB.Entities"
NS = {"soap": SOAP, "svc": SVC, "ent": ENT, "wsdl": "http://schemas.xmlsoap.org/wsdl/",
      "wsoap": "http://schemas.xmlsoap.org/wsdl/soap/"}

HAND_BUILT = """<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
                  xmlns:eph="http://ephyto.ippc.int/" xmlns:hub="http://ephyto.ippc.int/HUB.Entities">
  <soapenv:Header/>
  <soapenv:Body>
    <eph:DeliverEnvelope>
      <eph:env>
        <hub:From>UZ</hub:From>
        <hub:To>GE</hub:To>
        <hub:CertificateType>851</hub:CertificateType>
        <hub:CertificateStatus>70</hub:CertificateStatus>
        <hub:NPPOCertificateNumber>UZ-PC-2026-000101</hub:NPPOCertificateNumber>
        <hub:Content><![CDATA[%s]]></hub:Content>
      </eph:env>
    </eph:DeliverEnvelope>
  </soapenv:Body>
</soapenv:Envelope>"""

REQUIRED_OPERATIONS = {
    "DeliverEnvelope", "ValidateAndDeliverEnvelope", "GetEnvelopeTrackingInfo", "GetUnderDeliveryEnvelope",
    "GetImportEnvelopeHeaders", "PULLSingleImportEnvelope", "PULLImportEnvelope", "AcknowledgeEnvelopeReceipt",
    "AdvancedAcknowledgeEnvelopeReceipt", "AcknowledgeFailedEnvelopeReceipt", "ValidatePhytoXML", "GetActiveNppos",
    "DeliverCountryResponseEnvelope",
}


async def post(session: aiohttp.ClientSession, url: str, body: str, action: str) -> tuple[int, etree._Element]:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"http://ephyto.ippc.int/IDeliveryService/{action}"'}
    async with session.post(url, data=body.encode("utf-8"), headers=headers) as response:
        return response.status, etree.fromstring(await response.read())


def fault_message(root: etree._Element) -> str:
    """The HubWebException message of a SOAP fault (fails the test if the answer is not such a fault)."""
    fault = root.find("soap:Body/soap:Fault", NS)
    assert fault is not None, etree.tostring(root)
    message = fault.find("detail/svc:HubWebException/svc:message", NS)
    assert message is not None and message.text
    assert fault.findtext("faultstring") == message.text
    return message.text


async def test_hand_built_deliver_envelope_gets_a_delivery_number_and_pending(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        session = await hub.session("uz")
        status, root = await post(session, hub.endpoint, HAND_BUILT % certificate(), "DeliverEnvelope")
        assert status == 200
        result = root.find("soap:Body/svc:DeliverEnvelopeResponse/svc:DeliverEnvelopeResult", NS)
        assert result is not None
        number = result.findtext("ent:hubDeliveryNumber", namespaces=NS)
        assert number and number.startswith("HUB")
        assert result.findtext("ent:HUBTrackingInfo", namespaces=NS) == "PendingDelivery"
        assert result.findtext("ent:From", namespaces=NS) == "UZ"
        assert result.findtext("ent:NPPOCertificateNumber", namespaces=NS) == "UZ-PC-2026-000101"
        tracked = await (await hub.client("uz")).tracking_info(number)
        assert tracked.tracking is TrackingInfo.PENDING_DELIVERY


async def test_wsdl_is_served_with_every_operation_and_this_address(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        session = await hub.session("ge")
        async with session.get(f"{hub.endpoint}?wsdl") as response:
            assert response.status == 200
            wsdl = etree.fromstring(await response.read())
        operations = {op.get("name") for op in wsdl.findall("wsdl:portType/wsdl:operation", NS)}
        assert REQUIRED_OPERATIONS <= operations
        bound = {op.get("name"): op.find("wsoap:operation", NS).get("soapAction")
                 for op in wsdl.findall("wsdl:binding/wsdl:operation", NS)}
        assert set(bound) == operations
        assert bound["AdvancedAcknowledgeEnvelopeReceipt"].endswith("/NegativeAcknowledgeEnvelopeReceipt")
        assert wsdl.find("wsdl:service/wsdl:port/wsoap:address", NS).get("location") == hub.endpoint
        assert all(op.find("wsdl:fault", NS).get("message") == "tns:HubWebException"
                   for op in wsdl.findall("wsdl:portType/wsdl:operation", NS))
        schemas = wsdl.findall("wsdl:types/{http://www.w3.org/2001/XMLSchema}schema", NS)
        assert {schema.get("targetNamespace") for schema in schemas} >= {SVC, ENT}
        async with session.get(hub.endpoint) as response:
            assert response.status == 405


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<not-soap/>", "not a SOAP 1.1 Envelope"),
        ("<<<", "not well-formed"),
        (f'<s:Envelope xmlns:s="{SOAP}"><s:Body><x:Nope xmlns:x="{SVC}"/></s:Body></s:Envelope>', "no operation"),
        (f'<s:Envelope xmlns:s="{SOAP}"><s:Body><x:GetEnvelopeTrackingInfo xmlns:x="{SVC}"/></s:Body></s:Envelope>',
         "Tag 'eph:hubTrackingNumber' expected"),
        (HAND_BUILT.replace("<hub:From>UZ</hub:From>", "<hub:From>AZ</hub:From>") % certificate(),
         "is not the NPPO of the client certificate"),
        (HAND_BUILT.replace("<hub:To>GE</hub:To>", "<hub:To>KZ</hub:To>") % certificate(), "not an active NPPO"),
        (HAND_BUILT.replace(">70<", ">99<") % certificate(), "may not send certificate type 851 with status 99"),
        (HAND_BUILT.replace(">851<", ">eight<") % certificate(), "/DeliverEnvelope/env/CertificateType: invalid"),
        (HAND_BUILT.replace("<hub:NPPOCertificateNumber>UZ-PC-2026-000101</hub:NPPOCertificateNumber>", "")
         % certificate(), "Tag 'hub:NPPOCertificateNumber' expected"),
        (HAND_BUILT % "", "no Content"),
    ],
)
async def test_bad_requests_get_hub_web_exception_faults(tmp_path: Path, body: str, expected: str) -> None:
    async with deployment(tmp_path) as hub:
        action = "GetEnvelopeTrackingInfo" if "GetEnvelopeTrackingInfo" in body else "DeliverEnvelope"  # its own
        status, root = await post(await hub.session("uz"), hub.endpoint, body, action)
        assert status == 500
        assert expected.lower() in fault_message(root).lower()


@pytest.mark.parametrize(("change", "place"), [
    (("<hub:From>UZ</hub:From>", "<eph:From>UZ</eph:From>"), "/DeliverEnvelope/env"),  # the service's namespace
    (("<hub:From>UZ</hub:From>", "<From>UZ</From>"), "/DeliverEnvelope/env"),  # none
    (("<hub:To>GE</hub:To>", "<hub:To>GE</hub:To><hub:Priority>1</hub:Priority>"), "/DeliverEnvelope/env"),
])
async def test_a_request_that_does_not_follow_the_wsdl_is_a_client_fault_naming_the_place(
        tmp_path: Path, change: tuple[str, str], place: str) -> None:
    """The face read a field by its local name in any namespace, so a client that put From in the wrong
    namespace was served, where the Hub (and any client generated from its WSDL) reads it as absent."""
    async with deployment(tmp_path) as hub:
        status, root = await post(await hub.session("uz"), hub.endpoint, HAND_BUILT.replace(*change) % certificate(),
                                  "DeliverEnvelope")
        assert (status, root.findtext("soap:Body/soap:Fault/faultcode", namespaces=NS)) == (500, "soap:Client")
        assert f"does not follow the Hub's WSDL at {place}" in fault_message(root)
        assert await hub.hub.deliveries() == []


TRACKING = f"{SVC}IDeliveryService/GetEnvelopeTrackingInfo"


@pytest.mark.parametrize(
    ("headers", "sent"),
    [
        ({"SOAPAction": f'"{TRACKING}"'}, TRACKING),  # another operation's
        ({"SOAPAction": '"x"'}, "x"),
        ({"SOAPAction": '""'}, ""),
        ({}, "none"),
    ],
)
async def test_a_soap_action_other_than_the_operations_binding_is_a_client_fault_and_delivers_nothing(
        tmp_path: Path, headers: dict[str, str], sent: str) -> None:
    """WS-I Basic Profile R2744: the SOAPAction header is the binding's soapAction of the body's operation. The
    real Hub dispatches by it, so a client that sends another must fail here as it would there."""
    async with deployment(tmp_path) as hub:
        session = await hub.session("uz")
        async with session.post(hub.endpoint, data=(HAND_BUILT % certificate()).encode(),
                                headers={"Content-Type": "text/xml; charset=utf-8", **headers}) as response:
            status, root = response.status, etree.fromstring(await response.read())
        assert (status, root.findtext("soap:Body/soap:Fault/faultcode", namespaces=NS)) == (500, "soap:Client")
        message = fault_message(root)
        assert f"SOAPAction {sent}" in message and f"{SVC}IDeliveryService/DeliverEnvelope" in message
        assert await hub.hub.deliveries() == []


async def test_a_client_certificate_the_directory_does_not_know_is_refused(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        # issued by the scenario CA, but no NPPO uploaded it: the Hub's own refusal, as a fault
        status, root = await post(await hub.session("driver"), hub.endpoint, HAND_BUILT % certificate(),
                                  "DeliverEnvelope")
        assert status == 500 and "NPPO from client certificate not found" in fault_message(root)
        with pytest.raises(ProtocolError, match="NPPO from client certificate not found"):
            await (await hub.client("hub")).active_nppos()
        # another CA altogether: the TLS handshake itself refuses
        stranger = tmp_path / "stranger"
        make_pki(stranger, ("uz",))
        session = await hub.session("uz", ca=hub.pki_dir / "ca.pem", directory=stranger)
        with pytest.raises((aiohttp.ClientError, ssl.SSLError, ConnectionError)):
            async with session.post(hub.endpoint, data=HAND_BUILT % certificate()) as response:
                await response.read()


async def test_get_active_nppos_publishes_signing_certificates_and_allowed_documents(tmp_path: Path) -> None:
    async with deployment(tmp_path, receive={"ge": Receive.PULL}) as hub:
        nppos = {nppo.country: nppo for nppo in await (await hub.client("az")).active_nppos()}
        assert set(nppos) == {"AZ", "GE", "UZ"}
        assert nppos["GE"].receive is Receive.PULL and nppos["UZ"].receive is Receive.PUSH
        assert AllowedDocument(851, 70) in nppos["UZ"].allowed and AllowedDocument(657, 40) in nppos["UZ"].allowed
        der = hub.pki.credentials("uz").certificate.public_bytes(serialization.Encoding.DER)
        assert base64.b64decode(nppos["UZ"].signing_certificate) == der
        assert nppos["UZ"].signing_dn == "CN=uz"


async def test_an_nppo_switches_to_pull_and_its_new_imports_wait_for_it(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        ge = await hub.client("ge")
        await ge.set_receive(Receive.PULL)
        header = await (await hub.client("uz")).deliver(envelope())
        assert [h.delivery_number for h in await ge.import_headers()] == [header.delivery_number]
        assert hub.stand_ins["ge"].received == []


@pytest.mark.parametrize("body", [b"", b"[]", b'"PULL"', b'{"receive": "BOTH"}', b'{"receive": 5}', b"\xff"])
async def test_a_profile_the_face_cannot_read_is_refused_naming_the_field_and_rule(tmp_path: Path, body: bytes
                                                                                  ) -> None:
    async with deployment(tmp_path) as hub:
        session = await hub.session("ge")
        async with session.put(f"{hub.url}/hub/profile", data=body) as response:
            answer = (response.status, await response.json())
        assert answer[0] == 400 and answer[1]["message"], answer
        assert (answer[1]["error"], answer[1]["path"], answer[1]["rule"]) == ("bad-profile", "receive", "receive-mode")
        async with session.put(f"{hub.url}/hub/profile", json={"receive": "PULL"}) as response:
            assert (response.status, (await response.json())["receive"]) == (200, "PULL")  # nothing else changed


async def test_validate_phyto_xml_reports_areas_and_levels(tmp_path: Path) -> None:
    async with deployment(tmp_path) as hub:
        client = await hub.client("uz")
        results = await client.validate_phyto("<rsm:SPSCertificate xmlns:rsm='urn:nobody'/>")
        assert results and results[0].area == "Schema" and results[0].level == "SEVERE"
