"""The Hub's operations, one table: SOAP body element → what the hub does and how it answers.

Each entry reads its parameters from the request wrapper, calls `HubService` for the calling NPPO, and
returns the children of `<Operation>Response`. The WSDL's messages, port type and binding are generated
from this same table, so the contract served at `?wsdl` lists exactly what the hub implements.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from exchange.errors import ProtocolError
from exchange.ippc.codec import (
    child,
    child_text,
    ent,
    envelope_element,
    header_element,
    nppo_element,
    read_envelope,
    read_header,
    svc,
    validation_result_element,
)
from exchange.ippc.directory import NppoProfile
from exchange.ippc.service import HubService

__all__ = ["OPERATIONS", "Operation"]

Handler = Callable[[HubService, NppoProfile, etree._Element], Awaitable[list[etree._Element]]]


@dataclass(frozen=True)
class Operation:
    name: str
    run: Handler
    action: str = ""  # SOAPAction suffix when the Hub binds the operation to another name

    @property
    def soap_action(self) -> str:
        return f"http://ephyto.ippc.int/IDeliveryService/{self.action or self.name}"


def _required(request: etree._Element, name: str) -> etree._Element:
    found = child(request, name)
    if found is None:
        operation = etree.QName(request).localname
        raise ProtocolError(f"{operation} needs {name}", document=operation, path=f"{operation}/{name}",
                            rule="parameter-missing")
    return found


def _number(request: etree._Element) -> str:
    return (_required(request, "hubTrackingNumber").text or "").strip()


async def _deliver(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    header = await service.deliver(caller, read_envelope(_required(request, "env")))
    return [header_element(svc("DeliverEnvelopeResult"), header)]


async def _validate_and_deliver(
    service: HubService, caller: NppoProfile, request: etree._Element
) -> list[etree._Element]:
    header = await service.deliver(caller, read_envelope(_required(request, "envelope")), check=True)
    return [header_element(svc("ValidateAndDeliverEnvelopeResult"), header)]


async def _country_response(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    envelope = _required(request, "CountryResponseEnvelope")
    acknowledgement = _required(envelope, "SPSAcknowledgement")
    content = etree.tostring(acknowledgement, encoding="unicode")
    header = await service.deliver_response(caller, read_header(envelope), content)
    return [header_element(svc("DeliverCountryResponseEnvelopeResult"), header)]


async def _tracking(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    header = await service.tracking(caller, _number(request))
    return [header_element(svc("GetEnvelopeTrackingInfoResult"), header)]


def _headers(result: str, headers: list) -> list[etree._Element]:
    array = etree.Element(svc(result))
    array.extend(header_element(ent("EnvelopeHeader"), header) for header in headers)
    return [array]


async def _under_delivery(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    return _headers("GetUnderDeliveryEnvelopeResult", await service.under_delivery(caller))


async def _import_headers(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    headers = await service.import_headers(caller, child_text(request, "countryCode"))
    return _headers("GetImportEnvelopeHeadersResult", headers)


async def _pull_single(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    envelope = await service.pull(caller, _number(request))
    return [envelope_element(svc("PULLSingleImportEnvelopeResult"), envelope)]


async def _pull_all(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    array = etree.Element(svc("PULLImportEnvelopesResult"))
    array.extend(envelope_element(ent("Envelope"), envelope) for envelope in await service.pull_all(caller))
    return [array]


def _acknowledgement(message: str | None) -> Handler:
    async def run(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
        operation = etree.QName(request).localname
        text = (_required(request, message).text or "") if message else None
        header = await service.acknowledge(caller, _number(request), operation, text)
        if message is None:
            return []
        answer = etree.Element(svc("return"))
        answer.text = header.tracking.value if header.tracking else ""
        return [answer]

    return run


async def _validate(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    xml = _required(request, "ePhytoXML").text or ""
    return [validation_result_element(result) for result in service.validate(xml)]


async def _active_nppos(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    array = etree.Element(svc("GetActiveNpposResult"))
    array.extend(nppo_element(ent("Nppo"), nppo) for nppo in service.active_nppos())
    return [array]


async def _profile(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    return [nppo_element(svc("GetProfileResult"), caller.view())]


OPERATIONS: Mapping[str, Operation] = {
    operation.name: operation
    for operation in (
        Operation("DeliverEnvelope", _deliver),
        Operation("ValidateAndDeliverEnvelope", _validate_and_deliver),
        Operation("DeliverCountryResponseEnvelope", _country_response),
        Operation("GetEnvelopeTrackingInfo", _tracking),
        Operation("GetUnderDeliveryEnvelope", _under_delivery),
        Operation("GetImportEnvelopeHeaders", _import_headers),
        Operation("PULLSingleImportEnvelope", _pull_single),
        Operation("PULLImportEnvelope", _pull_all),
        Operation("AcknowledgeEnvelopeReceipt", _acknowledgement(None)),
        # The Hub binds the advanced acknowledgement to the SOAPAction "NegativeAcknowledgeEnvelopeReceipt".
        Operation("AdvancedAcknowledgeEnvelopeReceipt", _acknowledgement("warningMessage"),
                  action="NegativeAcknowledgeEnvelopeReceipt"),
        Operation("AcknowledgeFailedEnvelopeReceipt", _acknowledgement("message")),
        Operation("ValidatePhytoXML", _validate),
        Operation("GetActiveNppos", _active_nppos),
        Operation("GetProfile", _profile),
    )
}
