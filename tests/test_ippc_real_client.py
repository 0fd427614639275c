"""A Hub client generated from the IPPC Hub's REAL WSDL, in zeep's strict mode, calls all 27 operations against
caravan's hub over mutual TLS.

zeep knows nothing of caravan: it builds every request from the real WSDL's types and parses every answer
against them strictly (an element out of place, in the wrong namespace or missing fails the call). The
service address is the only thing taken from caravan. Skipped, saying so, when ../shared is absent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import zeep
from zeep import xsd
from zeep.transports import Transport

from exchange.ippc.entities import Receive
from nodes.ephyto.validation import validate_phyto
from tests.ephyto_samples import issued, xml
from tests.hub_contract import REAL_WSDL, real_wsdl
from tests.ippc_support import deployment

BINDING = "{http://ephyto.ippc.int/}DeliveryServiceSoapBinding"
RSM = "urn:un:unece:uncefact:data:standard:SPSCertificate:17"
ACK = "urn:un:unece:uncefact:data:standard:SPSAcknowledgement:17"
EPH = "http://ephyto.ippc.int/"


@contextmanager
def real_client(endpoint: str, pki: Path, party: str) -> Iterator[tuple[zeep.Client, Any]]:
    """zeep from the Hub's published WSDL, strict, over mutual TLS as `party`; only the address is caravan's."""
    with requests.Session() as session:
        session.trust_env = False
        session.cert = (str(pki / f"{party}.pem"), str(pki / f"{party}-key.pem"))
        session.verify = str(pki / "ca.pem")
        client = zeep.Client(str(REAL_WSDL), transport=Transport(session=session),
                             settings=zeep.Settings(strict=True, xml_huge_tree=True))
        yield client, client.create_service(BINDING, endpoint)


def structured_certificate(client: zeep.Client, number: str) -> Any:
    """A certificate as a client of the Hub's object model builds it: dates and some IDs are xs:anyType."""
    string = xsd.String()
    dated = client.get_type(f"{{{EPH}}}issueDateTime")
    certificate = client.get_element(f"{{{RSM}}}SPSCertificate")
    return certificate(
        SPSExchangedDocument={
            "Name": "", "ID": number, "TypeCode": 851, "StatusCode": 70,
            "IssueDateTime": xsd.AnyObject(dated, dated(DateTimeString="2026-03-02T08:00:00Z")),
            "IssuerSPSParty": {"Name": "Agency of Plant Quarantine and Protection"},
            "IncludedSPSNote": [{"Subject": "ADEDL", "Content": {"_value_1": "Free from Cydia pomonella."}}],
            "SignatorySPSAuthentication": {
                "ActualDateTime": {"DateTimeString": "2026-03-02T08:00:00Z"},
                "IssueSPSLocation": {"Name": "Tashkent"},
                "ProviderSPSParty": {"Name": "", "SpecifiedSPSPerson": {"Name": "B. Karimov"}},
                "IncludedSPSClause": [{"ID": 1, "Content": "Certified."}],
            },
        },
        SPSConsignment={
            "ConsignorSPSParty": {"Name": "Fergana Fruit JSC", "SpecifiedSPSAddress": {"LineOne": "7 Mustaqillik St"}},
            "ConsigneeSPSParty": {"Name": "Black Sea Logistics Ltd",
                                  "SpecifiedSPSAddress": {"LineOne": "3 Aghmashenebeli St"}},
            "ExportSPSCountry": {"ID": "UZ", "Name": ""},
            "ImportSPSCountry": {"ID": "GE", "Name": ""},
            "TransitSPSCountry": [{"ID": xsd.AnyObject(string, "AZ")}],
            "MainCarriageSPSTransportMovement": [{"ModeCode": 3, "UsedSPSTransportMeans": {"Name": "Truck"}}],
            "UtilizedSPSTransportEquipment": {"ID": "CAIU5550017", "AffixedSPSSeal": {"ID": "UZ-SEAL-000501"}},
            "IncludedSPSConsignmentItem": [{"IncludedSPSTradeLineItem": [{
                "SequenceNumeric": 1, "Description": [{"_value_1": "Fresh apples"}],
                "ScientificName": [{"_value_1": "Malus domestica"}],
                "NetWeightMeasure": {"_value_1": 18000, "unitCode": "KGM"},
                "ApplicableSPSClassification": [{"SystemName": "IPPCPCVP", "ClassName": [{"_value_1": "Fruits"}]}],
                "PhysicalSPSPackage": [{"LevelCode": 1, "TypeCode": "CT", "ItemQuantity": 1200}],
                "OriginSPSCountry": [{"ID": "UZ", "Name": ""}],
            }]}],
        },
    )


def header(client: zeep.Client, kind: str, to: str, number: str, **more: Any) -> Any:
    return client.get_type(f"{{http://ephyto.ippc.int/HUB.Entities}}{kind}")(
        From="UZ", To=to, CertificateType=851, CertificateStatus=70, NPPOCertificateNumber=number, **more)


def exporter_calls(endpoint: str, pki: Path) -> dict[str, Any]:
    """UZ: the directory and code lists, validation, the four ways of sending, tracking."""
    seen: dict[str, Any] = {}
    with real_client(endpoint, pki, "uz") as (client, service):
        seen["GetActiveNppos"] = service.GetActiveNppos()
        seen["GetProfile"] = service.GetProfile()
        seen["GetAvailableChannels"] = service.GetAvailableChannels()
        for operation in ("GetAdditionalDeclarations", "GetConditions", "GetIntendedUses", "GetMeanOfTransports",
                          "GetPackageTypes", "GetPesticides", "GetProductDescriptions", "GetStatements",
                          "GetTreatmentTypes", "GetUnitMeasures"):
            seen[operation] = getattr(service, operation)()
        certificate = xml(issued("UZ-PC-2026-000201")).decode()
        seen["ValidatePhytoXML"] = service.ValidatePhytoXML(ePhytoXML=certificate.replace(">Fruits<", ">Fruit<"))
        seen["DeliverEnvelope"] = service.DeliverEnvelope(
            env=header(client, "Envelope", "GE", "UZ-PC-2026-000201", Content=certificate))
        seen["ValidateAndDeliverEnvelope"] = service.ValidateAndDeliverEnvelope(
            envelope=header(client, "Envelope", "GE", "UZ-PC-2026-000202",
                            Content=xml(issued("UZ-PC-2026-000202")).decode()))
        seen["DeliverPhytoEnvelope"] = service.DeliverPhytoEnvelope(ePhytoEnvelope=header(
            client, "ePhytoEnvelope", "GE", "UZ-PC-2026-000203",
            Forwardings={"EnvelopeForwarding": [{"Code": "AZ"}]},
            SPSCertificate=structured_certificate(client, "UZ-PC-2026-000203")))
        seen["pushed"] = service.DeliverEnvelope(
            env=header(client, "Envelope", "AZ", "UZ-PC-2026-000204",
                       Content=xml(issued("UZ-PC-2026-000204")).decode()))
        seen["GetEnvelopeTrackingInfo"] = service.GetEnvelopeTrackingInfo(
            hubTrackingNumber=seen["DeliverPhytoEnvelope"].hubDeliveryNumber)
        seen["GetUnderDeliveryEnvelope"] = service.GetUnderDeliveryEnvelope()
    return seen


def importer_calls(endpoint: str, pki: Path, numbers: list[str]) -> dict[str, Any]:
    """GE (pulls): headers, both pulls, the three acknowledgements, and its import decision back to UZ."""
    seen: dict[str, Any] = {}
    with real_client(endpoint, pki, "ge") as (client, service):
        seen["GetImportEnvelopeHeaders"] = service.GetImportEnvelopeHeaders(countryCode="UZ")
        seen["PULLSingleImportEnvelope"] = service.PULLSingleImportEnvelope(hubTrackingNumber=numbers[2])
        seen["PULLImportEnvelope"] = service.PULLImportEnvelope()
        seen["AcknowledgeEnvelopeReceipt"] = service.AcknowledgeEnvelopeReceipt(hubTrackingNumber=numbers[0])
        seen["AdvancedAcknowledgeEnvelopeReceipt"] = service.AdvancedAcknowledgeEnvelopeReceipt(
            hubTrackingNumber=numbers[1], warningMessage="duplicate certificate number")
        seen["AcknowledgeFailedEnvelopeReceipt"] = service.AcknowledgeFailedEnvelopeReceipt(
            hubTrackingNumber=numbers[2], message="could not be read")
        dated = client.get_type(f"{{{EPH}}}issueDateTime")
        decision = client.get_element(f"{{{ACK}}}SPSAcknowledgement")(SPSAcknowledgementDocument={
            "IssueDateTime": xsd.AnyObject(dated, dated(DateTimeString="2026-03-05T10:00:00Z")),
            "StatusCode": 1,
            "ReferenceSPSReferencedDocument": [{"TypeCode": xsd.AnyObject(xsd.String(), "851"),
                                                "RelationshipTypeCode": "ZZZ",
                                                "ID": xsd.AnyObject(xsd.String(), "UZ-PC-2026-000201")}],
        })
        response = client.get_type("{http://ephyto.ippc.int/HUB.Entities}CountryResponseEnvelope")(
            From="GE", To="UZ", CertificateType=851, CertificateStatus=70,
            NPPOCertificateNumber="UZ-PC-2026-000201", SPSAcknowledgement=decision)
        seen["DeliverCountryResponseEnvelope"] = service.DeliverCountryResponseEnvelope(
            CountryResponseEnvelope=response)
    return seen


def update_call(endpoint: str, pki: Path, delivered: Any) -> Any:
    """AZ (pushed) reports later that the certificate it took had findings."""
    with real_client(endpoint, pki, "az") as (client, service):
        report = client.get_type("{http://ephyto.ippc.int/HUB.Entities}EnvelopeHeader")(
            From="UZ", To="AZ", CertificateType=851, CertificateStatus=70,
            NPPOCertificateNumber=delivered.NPPOCertificateNumber, hubDeliveryNumber=delivered.hubDeliveryNumber,
            HUBTrackingInfo="DeliveredWithWarnings", hubDeliveryErrorMessage="WARNING Mapping EPH-C14")
        return service.SetTrackingInfoUpdate(header=report)


def tracked(endpoint: str, pki: Path, numbers: list[str]) -> list[Any]:
    with real_client(endpoint, pki, "uz") as (_, service):
        return [service.GetEnvelopeTrackingInfo(hubTrackingNumber=number) for number in numbers]


async def test_a_strict_client_of_the_real_wsdl_calls_all_27_operations(tmp_path: Path) -> None:
    real_wsdl()  # skips, saying why, without ../shared
    async with deployment(tmp_path, receive={"ge": Receive.PULL}, validator=validate_phyto) as hub:
        sent = await asyncio.to_thread(exporter_calls, hub.endpoint, hub.pki_dir)
        numbers = [str(sent[name].hubDeliveryNumber)
                   for name in ("DeliverEnvelope", "ValidateAndDeliverEnvelope", "DeliverPhytoEnvelope")]
        received = await asyncio.to_thread(importer_calls, hub.endpoint, hub.pki_dir, numbers)
        pushed_number = str(sent["pushed"].hubDeliveryNumber)
        for _ in range(200):  # the push to AZ's stand-in settles on its own
            pushed = (await asyncio.to_thread(tracked, hub.endpoint, hub.pki_dir, [pushed_number]))[0]
            if pushed.HUBTrackingInfo == "Delivered":
                break
            await asyncio.sleep(0.02)
        updated = await asyncio.to_thread(update_call, hub.endpoint, hub.pki_dir, sent["pushed"])
        final = await asyncio.to_thread(tracked, hub.endpoint, hub.pki_dir, [*numbers, pushed_number])
        pulled_az = hub.stand_ins["az"].received

    called = {*sent, *received, "SetTrackingInfoUpdate"} - {"pushed"}
    assert len(called) == 27 and {op for op in called} == set(
        real_wsdl().xpath("//*[local-name()='portType']/*[local-name()='operation']/@name"))

    # directory, channels and code lists
    # zeep answers an ArrayOf... result as a plain list
    assert {n.Country for n in sent["GetActiveNppos"]} == {"UZ", "GE", "AZ"}
    assert sent["GetProfile"].Country == "UZ" and sent["GetProfile"].Signature.dn == "CN=uz"
    assert {(c.Code, c.Receive) for c in sent["GetAvailableChannels"]} == {("GE", True), ("AZ", True)}
    units = {u.code: u for u in sent["GetUnitMeasures"]}
    assert units["KGM"].type == "WEIGHT" and units["KGM"].active is True
    assert {t.code: t.parentCode for t in sent["GetTreatmentTypes"]}["COLD"] == "PHYS"
    assert {m.modeCode for m in sent["GetMeanOfTransports"]} == set(range(10))
    assert [s.docTypeOnly for s in sent["GetStatements"]].count(851) == 2
    assert all(len(sent[name]) > 0 for name in ("GetAdditionalDeclarations", "GetConditions", "GetIntendedUses",
                                                "GetPackageTypes", "GetPesticides", "GetProductDescriptions"))
    assert [(r.area, r.level) for r in sent["ValidatePhytoXML"]] == [("Mapping", "WARNING")]

    # sending and tracking
    assert {sent[name].HUBTrackingInfo for name in ("DeliverEnvelope", "ValidateAndDeliverEnvelope",
                                                     "DeliverPhytoEnvelope")} == {"PendingDelivery"}
    forwarding = sent["DeliverPhytoEnvelope"].Forwardings.EnvelopeForwarding[0]
    assert forwarding.Code == "AZ" and forwarding.HubDeliveryNumber
    tracked_copy = sent["GetEnvelopeTrackingInfo"].Forwardings.EnvelopeForwarding[0]
    assert tracked_copy.HubDeliveryNumber == forwarding.HubDeliveryNumber
    assert set(numbers) <= {h.hubDeliveryNumber for h in sent["GetUnderDeliveryEnvelope"]}

    # receiving: the structured certificate arrived as a readable SPSCertificate 17
    assert [h.hubDeliveryNumber for h in received["GetImportEnvelopeHeaders"]] == numbers
    content = received["PULLSingleImportEnvelope"].Content
    assert [i for i in validate_phyto(content.encode()) if i.area == "Schema" and i.level == "SEVERE"] == []
    assert "xsi:type" not in content and "CAIU5550017</ram:ID>" in content
    assert len(received["PULLImportEnvelope"]) == 3
    assert received["AcknowledgeEnvelopeReceipt"] is None
    assert received["AdvancedAcknowledgeEnvelopeReceipt"] == "DeliveredWithWarnings"
    assert received["AcknowledgeFailedEnvelopeReceipt"] == "DeliveredNotReadable"
    assert received["DeliverCountryResponseEnvelope"].To == "UZ"
    assert updated is None
    assert [h.HUBTrackingInfo for h in final] == ["Delivered", "DeliveredWithWarnings", "DeliveredNotReadable",
                                                  "DeliveredWithWarnings"]
    assert final[3].hubDeliveryErrorMessage.startswith("WARNING Mapping EPH-C14")
    assert len(pulled_az) == 2  # the forwarded copy and the pushed certificate
