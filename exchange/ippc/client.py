"""An async client of the Hub's SOAP face, for nodes that pull and for tests.

It speaks the same bytes as any Hub client (document/literal SOAP 1.1, the Hub's element names), over
the caller's aiohttp session, whose TLS context carries the NPPO's client certificate. A
HubWebException fault is raised as a ProtocolError with the Hub's message; an answer that is not SOAP
at all (a refused TLS identity answers 403 with JSON, as the real Hub answers with non-XML) is a
TransportError.
"""

from __future__ import annotations

import asyncio

import aiohttp
from lxml import etree

from exchange.errors import CaravanError, TransportError
from exchange.ippc import soap
from exchange.ippc.codec import (
    child,
    elements,
    envelope_element,
    header_element,
    read_channel,
    read_envelope,
    read_header,
    read_nppo,
    read_validation_result,
    svc,
)
from exchange.ippc.entities import Channel, EnvelopeHeader, HubEnvelope, NppoView, Receive, ValidationResult
from exchange.ippc.operations import OPERATIONS

__all__ = ["HubClient"]


class HubClient:
    def __init__(self, session: aiohttp.ClientSession, url: str, *, timeout: float = 30.0) -> None:
        """`url` is the endpoint, e.g. `https://hub:8443/hub/DeliveryService`."""
        self._session = session
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    # -- sending and tracking --------------------------------------------------------------------------------

    async def deliver(self, envelope: HubEnvelope, *, validate: bool = False) -> EnvelopeHeader:
        """DeliverEnvelope, or ValidateAndDeliverEnvelope with `validate`."""
        operation, parameter = ("ValidateAndDeliverEnvelope", "envelope") if validate else ("DeliverEnvelope", "env")
        response = await self.call(operation, envelope_element(svc(parameter), envelope))
        return _header(_result(response, f"{operation}Result"))

    async def deliver_country_response(self, header: EnvelopeHeader, acknowledgement: etree._Element) -> EnvelopeHeader:
        parameter = header_element(svc("CountryResponseEnvelope"), header)
        parameter.append(acknowledgement)
        response = await self.call("DeliverCountryResponseEnvelope", parameter)
        return _header(_result(response, "DeliverCountryResponseEnvelopeResult"))

    async def tracking_info(self, number: str) -> EnvelopeHeader:
        response = await self.call("GetEnvelopeTrackingInfo", _text("hubTrackingNumber", number))
        return _header(_result(response, "GetEnvelopeTrackingInfoResult"))

    async def under_delivery(self) -> list[EnvelopeHeader]:
        response = await self.call("GetUnderDeliveryEnvelope")
        return [_header(e) for e in elements(_result(response, "GetUnderDeliveryEnvelopeResult"), "EnvelopeHeader")]

    async def update_tracking(self, header: EnvelopeHeader) -> None:
        """SetTrackingInfoUpdate: report how this (importing) NPPO took the delivery `header` names."""
        await self.call("SetTrackingInfoUpdate", header_element(svc("header"), header))

    # -- receiving -------------------------------------------------------------------------------------------

    async def import_headers(self, country: str | None = None) -> list[EnvelopeHeader]:
        response = await self.call("GetImportEnvelopeHeaders", *([_text("countryCode", country)] if country else []))
        return [_header(e) for e in elements(_result(response, "GetImportEnvelopeHeadersResult"), "EnvelopeHeader")]

    async def pull(self, number: str) -> HubEnvelope:
        response = await self.call("PULLSingleImportEnvelope", _text("hubTrackingNumber", number))
        return _envelope(_result(response, "PULLSingleImportEnvelopeResult"))

    async def pull_all(self) -> list[HubEnvelope]:
        response = await self.call("PULLImportEnvelope")
        return [_envelope(e) for e in elements(_result(response, "PULLImportEnvelopesResult"), "Envelope")]

    async def acknowledge(self, number: str) -> None:
        await self.call("AcknowledgeEnvelopeReceipt", _text("hubTrackingNumber", number))

    async def acknowledge_with_warnings(self, number: str, warning: str) -> None:
        await self.call("AdvancedAcknowledgeEnvelopeReceipt", _text("hubTrackingNumber", number),
                        _text("warningMessage", warning))

    async def acknowledge_failed(self, number: str, message: str) -> None:
        await self.call("AcknowledgeFailedEnvelopeReceipt", _text("hubTrackingNumber", number),
                        _text("message", message))

    # -- validation and directory ----------------------------------------------------------------------------

    async def validate_phyto(self, xml: str) -> list[ValidationResult]:
        response = await self.call("ValidatePhytoXML", _text("ePhytoXML", xml))
        return [read_validation_result(e) for e in elements(response, "ValidationResult")]

    async def active_nppos(self) -> list[NppoView]:
        response = await self.call("GetActiveNppos")
        return [read_nppo(e) for e in elements(_result(response, "GetActiveNpposResult"), "Nppo")]

    async def available_channels(self) -> list[Channel]:
        response = await self.call("GetAvailableChannels")
        return [read_channel(e) for e in elements(_result(response, "GetAvailableChannelsResult"), "Channel")]

    async def set_receive(self, receive: Receive) -> None:
        """Choose push or pull for this NPPO's imports (`PUT /hub/profile`, beside the endpoint)."""
        url = self._url.rsplit("/", 1)[0] + "/profile"
        try:
            async with self._session.put(url, json={"receive": receive.value}, timeout=self._timeout) as answer:
                if answer.status != 200:
                    raise TransportError(f"PUT {url}: HTTP {answer.status} {(await answer.text())[:300]}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise TransportError(f"PUT {url} failed: {error!r}") from error

    # -- the wire --------------------------------------------------------------------------------------------

    async def call(self, operation: str, *parameters: etree._Element) -> etree._Element:
        """POST one operation and return its `<operation>Response` element (or raise the Hub's fault)."""
        request = etree.Element(svc(operation))
        request.extend(parameters)
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": f'"{OPERATIONS[operation].soap_action}"'}
        try:
            async with self._session.post(self._url, data=soap.envelope(request), headers=headers,
                                          timeout=self._timeout) as answer:
                body = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise TransportError(f"{operation} to {self._url} failed: {error!r}") from error
        try:
            element = soap.body_element(body)
        except CaravanError as error:
            raise TransportError(f"{operation}: HTTP {status} without a SOAP answer: {body[:300]!r}") from error
        soap.raise_for_fault(element, operation)
        return element


def _text(name: str, value: str) -> etree._Element:
    element = etree.Element(svc(name))
    element.text = value
    return element


def _header(element: etree._Element) -> EnvelopeHeader:
    return read_header(element, strict=False)


def _envelope(element: etree._Element) -> HubEnvelope:
    return read_envelope(element, strict=False)


def _result(response: etree._Element, name: str) -> etree._Element:
    found = child(response, name)
    if found is None:
        raise TransportError(f"{etree.QName(response).localname} carries no {name}")
    return found
