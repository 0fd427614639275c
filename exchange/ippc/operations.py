"""The Hub's 27 operations, one table: SOAP body element → what the hub does and how it answers.

Each entry reads its parameters from the request wrapper, calls `HubService` for the calling NPPO, and
returns the children of `<Operation>Response`. The WSDL's messages, port type (with the WS-Addressing
actions) and binding are generated from this same table, so the contract served at `?wsdl` lists
exactly what the hub implements; the types are the contract's (`schemas/ippc/hub-types.xml`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from exchange.errors import ProtocolError
from exchange.ippc.codec import (
    channel_element,
    child,
    child_text,
    code_list_items,
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
from exchange.ippc.entities import HubEnvelope
from exchange.ippc.service import HubService
from exchange.ippc.structured import document_text

__all__ = ["ACTION_BASE", "OPERATIONS", "Operation"]

ACTION_BASE = "http://ephyto.ippc.int/IDeliveryService/"

Handler = Callable[[HubService, NppoProfile, etree._Element], Awaitable[list[etree._Element]]]


@dataclass(frozen=True)
class Operation:
    """One operation and its addressing: the binding's SOAPAction and the port type's wsam:Action values.

    The Hub binds AdvancedAcknowledgeEnvelopeReceipt to the SOAPAction ".../NegativeAcknowledgeEnvelopeReceipt",
    and declares that name as the input action of both it and AcknowledgeFailedEnvelopeReceipt; the
    overrides keep those quirks, since generated clients send what the WSDL says.
    """

    name: str
    run: Handler
    soap_name: str = ""  # SOAPAction suffix, when not the operation's name
    input_name: str = ""  # wsam:Action suffix of the input, when not the operation's name

    @property
    def soap_action(self) -> str:
        return ACTION_BASE + (self.soap_name or self.name)

    @property
    def input_action(self) -> str:
        return ACTION_BASE + (self.input_name or self.name)

    @property
    def output_action(self) -> str:
        return f"{ACTION_BASE}{self.name}Response"

    @property
    def fault_action(self) -> str:
        return f"{ACTION_BASE}{self.name}/Fault/HubWebException"


def _required(request: etree._Element, name: str) -> etree._Element:
    found = child(request, name)
    if found is None:
        operation = etree.QName(request).localname
        raise ProtocolError(f"{operation} needs {name}", document=operation, path=f"{operation}/{name}",
                            rule="parameter-missing")
    return found


def _number(request: etree._Element) -> str:
    return (_required(request, "hubTrackingNumber").text or "").strip()


# -- sending ---------------------------------------------------------------------------------------------------


async def _deliver(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    header = await service.deliver(caller, read_envelope(_required(request, "env")))
    return [header_element(svc("DeliverEnvelopeResult"), header)]


async def _validate_and_deliver(
    service: HubService, caller: NppoProfile, request: etree._Element
) -> list[etree._Element]:
    header = await service.deliver(caller, read_envelope(_required(request, "envelope")), check=True)
    return [header_element(svc("ValidateAndDeliverEnvelopeResult"), header)]


async def _deliver_phyto(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    """The certificate travels as structure, not text: the hub makes it the document an importer reads."""
    envelope = _required(request, "ePhytoEnvelope")
    certificate = _required(envelope, "SPSCertificate")
    delivered = HubEnvelope(read_header(envelope), document_text(certificate))
    header = await service.deliver(caller, delivered, where="ePhytoEnvelope")
    return [header_element(svc("DeliverPhytoEnvelopeResult"), header)]


async def _country_response(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    envelope = _required(request, "CountryResponseEnvelope")
    acknowledgement = _required(envelope, "SPSAcknowledgement")
    header = await service.deliver_response(caller, read_header(envelope), document_text(acknowledgement))
    return [header_element(svc("DeliverCountryResponseEnvelopeResult"), header)]


# -- tracking --------------------------------------------------------------------------------------------------


async def _tracking(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    header = await service.tracking(caller, _number(request))
    return [header_element(svc("GetEnvelopeTrackingInfoResult"), header)]


def _headers(result: str, headers: list) -> list[etree._Element]:
    array = etree.Element(svc(result))
    array.extend(header_element(ent("EnvelopeHeader"), header) for header in headers)
    return [array]


async def _under_delivery(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    return _headers("GetUnderDeliveryEnvelopeResult", await service.under_delivery(caller))


async def _update_tracking(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    await service.update_tracking(caller, read_header(_required(request, "header")))
    return []


# -- receiving -------------------------------------------------------------------------------------------------


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
    """The plain acknowledgement answers nothing; the other two answer the state they left (`return`)."""

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


# -- validation, directory, channels, code lists ---------------------------------------------------------------


async def _validate(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    xml = _required(request, "ePhytoXML").text or ""
    return [validation_result_element(result) for result in service.validate(xml)]


async def _active_nppos(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    array = etree.Element(svc("GetActiveNpposResult"))
    array.extend(nppo_element(ent("Nppo"), nppo) for nppo in service.active_nppos())
    return [array]


async def _profile(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    return [nppo_element(svc("GetProfileResult"), caller.view())]


async def _channels(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
    array = etree.Element(svc("GetAvailableChannelsResult"))
    array.extend(channel_element(ent("Channel"), channel) for channel in service.channels(caller))
    return [array]


def _code_list(operation: str) -> Handler:
    async def run(service: HubService, caller: NppoProfile, request: etree._Element) -> list[etree._Element]:
        return code_list_items(operation, service.code_list(operation))

    return run


_CODE_LISTS = ("GetAdditionalDeclarations", "GetConditions", "GetIntendedUses", "GetMeanOfTransports",
               "GetPackageTypes", "GetPesticides", "GetProductDescriptions", "GetStatements", "GetTreatmentTypes",
               "GetUnitMeasures")

OPERATIONS: Mapping[str, Operation] = {
    operation.name: operation
    for operation in (
        Operation("DeliverEnvelope", _deliver),
        Operation("ValidateAndDeliverEnvelope", _validate_and_deliver),
        Operation("DeliverPhytoEnvelope", _deliver_phyto),
        Operation("DeliverCountryResponseEnvelope", _country_response),
        Operation("GetEnvelopeTrackingInfo", _tracking),
        Operation("GetUnderDeliveryEnvelope", _under_delivery),
        Operation("SetTrackingInfoUpdate", _update_tracking),
        Operation("GetImportEnvelopeHeaders", _import_headers),
        Operation("PULLSingleImportEnvelope", _pull_single),
        Operation("PULLImportEnvelope", _pull_all),
        Operation("AcknowledgeEnvelopeReceipt", _acknowledgement(None)),
        Operation("AdvancedAcknowledgeEnvelopeReceipt", _acknowledgement("warningMessage"),
                  soap_name="NegativeAcknowledgeEnvelopeReceipt", input_name="NegativeAcknowledgeEnvelopeReceipt"),
        Operation("AcknowledgeFailedEnvelopeReceipt", _acknowledgement("message"),
                  input_name="NegativeAcknowledgeEnvelopeReceipt"),
        Operation("ValidatePhytoXML", _validate),
        Operation("GetActiveNppos", _active_nppos),
        Operation("GetProfile", _profile),
        Operation("GetAvailableChannels", _channels),
        *(Operation(name, _code_list(name)) for name in _CODE_LISTS),
    )
}
