"""The IPPC ePhyto Hub face of caravan's hub: SOAP 1.1 endpoint, WSDL, and the hub's delivery hooks.

Mounted by the caravan hub under `/hub/`, so the endpoint is `/hub/DeliveryService` and its contract
`/hub/DeliveryService?wsdl`, as on the real Hub. Per request:

1. read the body up to `MAX_REQUEST_BYTES`; a larger request is answered with a HubWebException fault
   without reading the rest (at any size: the limit is checked against Content-Length, then as it streams);
2. find the operation by the body element, check the SOAPAction header is its binding's (WS-I BP R2744) and
   the element follows the contract's types (`contract.check_request`);
3. identify the calling NPPO by the TLS client certificate (a certificate the directory does not know,
   or one the scenario CA revoked, gets the Hub's refusal as a HubWebException; a certificate from another
   CA never gets past the TLS handshake);
4. run the operation; a refusal becomes a SOAP 1.1 Fault (HTTP 500) whose detail is HubWebException.

What the face delivers rides the caravan hub's own queue (`service.Relay`), so it is pushed, retried,
tracked, held by scripted faults and listed like every other message.
"""

from __future__ import annotations

from aiohttp import web

from exchange.client import Answer
from exchange.clock import Clock
from exchange.envelope import Envelope
from exchange.errors import CaravanError, DocumentError, ProtocolError
from exchange.ippc import soap
from exchange.ippc.contract import check_request
from exchange.ippc.directory import Directory
from exchange.ippc.entities import Receive
from exchange.ippc.operations import OPERATIONS, Operation
from exchange.ippc.sending import Relay, Validator
from exchange.ippc.service import HubService, generic_validator
from exchange.ippc.store import IppcStore
from exchange.ippc.wsdl import wsdl
from exchange.pki import TrustStore
from exchange.store import Database, Transaction
from exchange.tls import peer_certificate
from exchange.web import json_response

__all__ = ["ENDPOINT", "MAX_REQUEST_BYTES", "PREFIX", "IppcFace"]

PREFIX = "/hub/"
ENDPOINT = "DeliveryService"

MAX_REQUEST_BYTES = 6 * 1024 * 1024
"""A SOAP request's limit. A certificate goes on to its node base64-encoded inside a caravan envelope,
whose limit is 8 MiB; 6 MiB of request keeps every deliverable certificate under it."""


class IppcFace:
    def __init__(
        self,
        directory: Directory,
        clock: Clock,
        trust: TrustStore,
        *,
        validator: Validator = generic_validator,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._trust = trust
        self._validator = validator
        self._service: HubService | None = None

    @property
    def service(self) -> HubService:
        assert self._service is not None, "IppcFace.start() has not run"
        return self._service

    async def start(self, database: Database, relay: Relay) -> None:
        """Share the hub's database; deliver through the hub's queue."""
        self._service = HubService(IppcStore(database), self._directory, self._clock, self._trust, relay,
                                   validator=self._validator)
        await self._service.start()

    # -- hooks for the caravan hub (inside its transactions) -------------------------------------------------

    async def accepted(self, db: Transaction, envelope: Envelope, caravan_delivery: int) -> bool:
        """True when the face held the delivery for an NPPO that pulls (its state is then `held`)."""
        return await self.service.accepted(db, envelope, caravan_delivery)

    async def settled(self, db: Transaction, caravan_delivery: int, state: str, answer: Answer) -> None:
        await self.service.settled(db, caravan_delivery, state, answer)

    def counts(self) -> dict[str, int]:
        return self.service.counts()

    # -- HTTP ------------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post(f"/{ENDPOINT}", self._handle_soap)
        app.router.add_get(f"/{ENDPOINT}", self._handle_wsdl)
        app.router.add_put("/profile", self._handle_profile)
        return app

    async def _handle_soap(self, request: web.Request) -> web.Response:
        """One SOAP 1.1 call: read it within the limit, find the operation, identify the NPPO, answer or fault."""
        try:
            operation_element = soap.body_element(await _read_limited(request, MAX_REQUEST_BYTES))
            name = operation_element.tag
            operation = OPERATIONS.get(name.removeprefix("{http://ephyto.ippc.int/}"))
            if operation is None or not name.startswith("{http://ephyto.ippc.int/}"):
                raise ProtocolError(f"the hub serves no operation {name}", rule="unknown-operation")
            _check_action(request.headers.get("SOAPAction"), operation)
            check_request(operation_element)
        except CaravanError as error:
            return _soap_response(soap.fault(error, client=True), status=500)
        try:
            caller = self.service.directory.identify(peer_certificate(request))
            children = await operation.run(self.service, caller, operation_element)
        except DocumentError as error:
            return _soap_response(soap.fault(error, client=True), status=500)
        except CaravanError as error:
            return _soap_response(soap.fault(error, client=False), status=500)
        response = operation_element.makeelement(f"{{http://ephyto.ippc.int/}}{operation.name}Response")
        response.extend(children)
        return _soap_response(soap.envelope(response))

    async def _handle_wsdl(self, request: web.Request) -> web.Response:
        if "wsdl" not in {key.lower() for key in request.query}:
            return web.Response(status=405, text="POST SOAP 1.1 requests here; the contract is at ?wsdl")
        location = str(request.url.with_query(None))
        return web.Response(body=wsdl(location), content_type="text/xml", charset="utf-8")

    async def _handle_profile(self, request: web.Request) -> web.Response:
        """`PUT /hub/profile {"receive": "PUSH"|"PULL"}`: an NPPO sets how it receives (caravan's stand-in
        for the Hub's Admin Console); the NPPO is the one whose client certificate makes the call."""
        try:
            caller = self.service.directory.identify(peer_certificate(request))
            body = await request.json()
            receive = Receive(str(body.get("receive", "")).upper())
        except CaravanError as error:
            return json_response(error.as_dict(), status=403)
        except (ValueError, AttributeError):
            return json_response({"error": "bad-profile", "message": 'send {"receive": "PUSH" or "PULL"}',
                                  "path": "receive", "rule": "receive-mode"}, status=400)
        view = await self.service.configure(caller, receive)
        return json_response({"country": view.country, "receive": view.receive.value})


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The request body, or a DocumentError as soon as it is known to exceed `limit` (the rest is not read)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise DocumentError(f"the request is {declared} bytes; the hub takes SOAP requests up to {limit} bytes",
                            document="Envelope", path="/Envelope", rule="request-too-large")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > limit:
            raise DocumentError(f"the request exceeds the {limit} bytes the hub takes for SOAP requests",
                                document="Envelope", path="/Envelope", rule="request-too-large")
    return bytes(body)


def _check_action(sent: str | None, operation: Operation) -> None:
    """WS-I Basic Profile R2744: a request's SOAPAction header is the binding's soapAction for its operation.
    The Hub dispatches by that header, not by the body, so a client sending another one (or none) fails there:
    it must not pass here. Quotes around the value are taken either way."""
    if sent is not None and sent.strip().strip('"') == operation.soap_action:
        return
    shown = "none" if sent is None else sent.strip().strip('"')
    raise ProtocolError(f"SOAPAction {shown} cannot be processed: the binding's SOAPAction for {operation.name} is "
                        f"{operation.soap_action} (WS-I Basic Profile R2744)", document=operation.name,
                        path="SOAPAction", rule="ActionNotSupported")


def _soap_response(body: bytes, *, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, headers={"Content-Type": soap.CONTENT_TYPE})
