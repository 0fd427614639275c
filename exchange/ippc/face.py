"""The IPPC ePhyto Hub face of caravan's hub: SOAP 1.1 endpoint, WSDL, and the hub's delivery hooks.

Mounted by the caravan hub under `/hub/`, so the endpoint is `/hub/DeliveryService` and its contract
`/hub/DeliveryService?wsdl`, as on the real Hub. The sender is the NPPO whose client certificate the
TLS connection presented; a certificate the directory does not know gets the Hub's refusal as a
HubWebException fault (a certificate from another CA never gets past the TLS handshake).

Envelopes delivered through SOAP for an NPPO that receives by push are wrapped into caravan envelopes
and pushed to the node's inbox by a forwarder of their own; those that arrive as caravan envelopes ride
the caravan hub's forwarder, whose answers reach the tracking through `settled`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import aiosqlite
from aiohttp import web

from exchange.client import Answer, Forwarder, Outcome, QueueItem
from exchange.clock import Clock
from exchange.envelope import Envelope
from exchange.errors import CaravanError, DocumentError, ProtocolError
from exchange.ippc import soap
from exchange.ippc.bridge import caravan_envelope
from exchange.ippc.directory import Directory
from exchange.ippc.entities import Receive
from exchange.ippc.operations import OPERATIONS
from exchange.ippc.service import HubService, Validator, generic_validator
from exchange.ippc.store import IppcStore
from exchange.ippc.wsdl import wsdl
from exchange.store import Database
from exchange.tls import peer_certificate
from exchange.web import json_response

__all__ = ["ENDPOINT", "PREFIX", "IppcFace"]

PREFIX = "/hub/"
ENDPOINT = "DeliveryService"


class IppcFace:
    def __init__(
        self,
        directory: Directory,
        nodes: Mapping[str, str],
        clock: Clock,
        *,
        validator: Validator = generic_validator,
        max_attempts: int = 1000,  # as the caravan hub's pushes: an unreachable NPPO fails only after long retrying
    ) -> None:
        self._directory = directory
        self._nodes = dict(nodes)
        self._clock = clock
        self._validator = validator
        self._max_attempts = max_attempts
        self._service: HubService | None = None
        self._store: IppcStore | None = None
        self._forwarders: dict[str, Forwarder] = {}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def service(self) -> HubService:
        assert self._service is not None, "IppcFace.start() has not run"
        return self._service

    async def start(self, database: Database, session: aiohttp.ClientSession) -> None:
        """Share the hub's database and HTTP session; push what SOAP senders queued for push NPPOs."""
        self._store = IppcStore(database)
        self._service = HubService(self._store, self._directory, self._clock, validator=self._validator,
                                   on_queued=self._wake)
        await self._service.start()
        for node in self._nodes:
            forwarder = Forwarder(session, lambda node=node: self._next_push(node), self._settle_push,
                                  max_attempts=self._max_attempts)
            self._forwarders[node] = forwarder
            self._tasks.append(asyncio.create_task(forwarder.run(), name=f"ippc-push-{node}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- hooks for the caravan hub (inside its transactions) -------------------------------------------------

    async def accepted(self, db: aiosqlite.Connection, envelope: Envelope) -> None:
        await self.service.accepted(db, envelope)

    async def settled(self, db: aiosqlite.Connection, caravan_delivery: int, state: str, answer: Answer) -> None:
        await self.service.settled(db, caravan_delivery, state, answer)

    async def counts(self) -> dict[str, int]:
        return await self.service.counts()

    # -- pushing what came in through SOAP -------------------------------------------------------------------

    def _wake(self, node_id: str) -> None:
        forwarder = self._forwarders.get(node_id)
        if forwarder is not None:
            forwarder.wake()

    async def _next_push(self, node_id: str) -> QueueItem | None:
        store, profile = self._store, self.service.directory.by_node(node_id)
        assert store is not None
        while profile is not None and (delivery := await store.next_push(profile.country)) is not None:
            try:
                body = caravan_envelope(delivery.header, delivery.content or "", self._clock.now())
            except CaravanError as error:
                refused = Answer(Outcome.REFUSED, None, {"message": f"not deliverable to a caravan node: {error}"})
                async with store.database.transaction() as db:
                    await self.service.pushed(db, delivery, refused, gave_up=False)
                continue
            return QueueItem(delivery.key, self._nodes[node_id].rstrip("/") + "/inbox", body, delivery.attempts)
        return None

    async def _settle_push(self, item: QueueItem, answer: Answer) -> None:
        store = self._store
        assert store is not None
        gave_up = item.attempts + 1 >= self._max_attempts
        async with store.database.transaction() as db:
            async with db.execute("SELECT number FROM ippc_deliveries WHERE id = ?", (item.key,)) as cursor:
                row = await cursor.fetchone()
            delivery = await store.locked(db, row["number"])
            assert delivery is not None
            await self.service.pushed(db, delivery, answer, gave_up=gave_up)

    # -- HTTP ------------------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post(f"/{ENDPOINT}", self._handle_soap)
        app.router.add_get(f"/{ENDPOINT}", self._handle_wsdl)
        app.router.add_put("/profile", self._handle_profile)
        return app

    async def _handle_soap(self, request: web.Request) -> web.Response:
        """One SOAP 1.1 call: identify the NPPO, find the operation by its body element, answer or fault."""
        try:
            operation_element = soap.body_element(await request.read())
            name = operation_element.tag
            operation = OPERATIONS.get(name.removeprefix("{http://ephyto.ippc.int/}"))
            if operation is None or not name.startswith("{http://ephyto.ippc.int/}"):
                raise ProtocolError(f"the hub serves no operation {name}", rule="unknown-operation")
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
            return json_response({"error": "bad-profile", "message": 'send {"receive": "PUSH" or "PULL"}'}, status=400)
        view = await self.service.configure(caller, receive)
        return json_response({"country": view.country, "receive": view.receive.value})


def _soap_response(body: bytes, *, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, headers={"Content-Type": soap.CONTENT_TYPE})
