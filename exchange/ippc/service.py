"""What the IPPC Hub does, whichever face a request comes through.

Each operation takes the calling NPPO (already identified by its client certificate) and the Hub's own
arguments, and either answers with Hub entities or raises a `CaravanError` whose message becomes the
`HubWebException` a Hub client sees. Envelopes that arrive as caravan envelopes (`POST /envelopes`) get
the same delivery numbers and tracking through `accepted` and `settled`, which the caravan hub calls
inside its own transactions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

import aiosqlite

from exchange.client import Answer
from exchange.clock import Clock
from exchange.envelope import Envelope
from exchange.errors import CaravanError, Issue, ProtocolError, TrustError
from exchange.ippc.directory import Directory, NppoProfile
from exchange.ippc.entities import (
    EnvelopeHeader,
    HubEnvelope,
    NppoView,
    Receive,
    TrackingInfo,
    ValidationResult,
)
from exchange.ippc.store import Delivery, IppcStore, stamp
from exchange.ippc.tracking import TrackingEvent, advance, push_event
from exchange.safexml import parse_document
from exchange.validation import validate

__all__ = ["CARAVAN_CERTIFICATE", "HubService", "Validator", "content_bytes", "generic_validator"]

Validator = Callable[[bytes], list[Issue]]
"""Checks one certificate's XML the way `ValidatePhytoXML` does: areas Schema/MandatoryElements/Mapping,
levels SEVERE/WARNING/INFO. The ePhyto family's `validate_phyto` is the one a deployment wires in."""

CARAVAN_CERTIFICATE = "SPSCertificate"
"""The caravan message type that the Hub tracks when it arrives as a caravan envelope."""

HELD = "held"
"""The caravan delivery state of an ePhyto waiting for its NPPO to pull it: the caravan forwarder only
pushes `pending` rows, and the scenario driver does not wait for held ones."""

CARAVAN_STATE = {
    TrackingInfo.DELIVERED: "delivered",
    TrackingInfo.DELIVERED_WITH_WARNINGS: "delivered",
    TrackingInfo.DELIVERED_NOT_READABLE: "delivered",
    TrackingInfo.FAILED_DELIVERY: "failed",
}
"""The caravan delivery state a pulled ePhyto settles to once its NPPO acknowledges it."""

ACKNOWLEDGEMENTS = {
    "AcknowledgeEnvelopeReceipt": TrackingEvent.ACKNOWLEDGED,
    "AdvancedAcknowledgeEnvelopeReceipt": TrackingEvent.ACKNOWLEDGED_WITH_WARNINGS,
    "AcknowledgeFailedEnvelopeReceipt": TrackingEvent.ACKNOWLEDGED_NOT_READABLE,
}


def content_bytes(content: str) -> bytes:
    """A certificate as sent in `Content`: XML text, or (as some clients send it) base64 of XML."""
    text = content.strip()
    if not text.startswith("<"):
        try:
            decoded = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded.lstrip().startswith(b"<"):
            return decoded
    return text.encode("utf-8")


def generic_validator(data: bytes) -> list[Issue]:
    """Caravan's registry validation (schema, then Schematron) for whatever family the root belongs to."""
    try:
        return validate(parse_document(data))
    except CaravanError as error:
        return [Issue("Schema", error.path or "/", error.message, error.rule)]


class HubService:
    def __init__(
        self,
        store: IppcStore,
        directory: Directory,
        clock: Clock,
        *,
        validator: Validator = generic_validator,
        on_queued: Callable[[str], None] = lambda node_id: None,
    ) -> None:
        self._store = store
        self.directory = directory
        self._clock = clock
        self._validator = validator
        self._on_queued = on_queued

    async def start(self) -> None:
        """Create the tables and apply the receive modes NPPOs configured earlier."""
        await self._store.create()
        for node_id, receive in (await self._store.receive_modes()).items():
            if self.directory.by_node(node_id) is not None:
                self.directory = self.directory.with_receive(node_id, receive)

    # -- sending ---------------------------------------------------------------------------------------------

    async def deliver(self, caller: NppoProfile, envelope: HubEnvelope, *, check: bool = False) -> EnvelopeHeader:
        """DeliverEnvelope / ValidateAndDeliverEnvelope: queue a certificate for its importing NPPO.

        With `check`, SEVERE validation issues fail the delivery at once (it still gets a number, so the
        sender can track why); DeliverEnvelope queues whatever it gets, and an importer that cannot read
        it says so with AcknowledgeFailedEnvelopeReceipt.
        """
        header, recipient = self._route(caller, envelope.header)
        if not caller.may_send(header.certificate_type, header.certificate_status):
            raise ProtocolError(
                f"NPPO {caller.country} may not send certificate type {header.certificate_type} with status "
                f"{header.certificate_status} (see GetActiveNppos)",
                document="EnvelopeHeader", path="EnvelopeHeader/CertificateStatus", rule="document-not-allowed",
            )
        if not (envelope.content or "").strip():
            raise ProtocolError("the envelope has no Content", document="Envelope", path="Envelope/Content",
                                rule="content-missing")
        event, error = TrackingEvent.QUEUED, None
        if check:
            severe = [i for i in self._validator(content_bytes(envelope.content or "")) if i.level == "SEVERE"]
            if severe:
                event = TrackingEvent.INVALID
                error = "; ".join(str(issue) for issue in severe[:5])[:2000]
        return await self._queue(header, recipient, envelope.content, event, error)

    async def deliver_response(self, caller: NppoProfile, header: EnvelopeHeader, content: str) -> EnvelopeHeader:
        """DeliverCountryResponseEnvelope: the importer's SPSAcknowledgement back to the exporter."""
        header, recipient = self._route(caller, header)
        return await self._queue(header, recipient, content, TrackingEvent.QUEUED, None)

    def _route(self, caller: NppoProfile, header: EnvelopeHeader) -> tuple[EnvelopeHeader, NppoProfile]:
        if header.sender.strip().upper() != caller.country:
            raise TrustError(
                f"From {header.sender!r} is not the NPPO of the client certificate ({caller.country})",
                document="EnvelopeHeader", path="EnvelopeHeader/From", rule="sender-mismatch",
            )
        recipient = self.directory.by_country(header.recipient)
        if recipient is None:
            raise ProtocolError(f"To {header.recipient!r} is not an active NPPO on this hub",
                                document="EnvelopeHeader", path="EnvelopeHeader/To", rule="unknown-nppo")
        return EnvelopeHeader(caller.country, recipient.country, header.certificate_type,
                              header.certificate_status, header.certificate_number), recipient

    async def _queue(
        self, header: EnvelopeHeader, recipient: NppoProfile, content: str | None, event: TrackingEvent,
        error: str | None,
    ) -> EnvelopeHeader:
        state = advance(None, event)
        assert state is not None
        async with self._store.database.transaction() as db:
            delivery = await self._store.insert(db, header, content, route=recipient.receive, state=state,
                                                at=self._clock.now(), error=error)
        if state is TrackingInfo.PENDING_DELIVERY and recipient.receive is Receive.PUSH:
            self._on_queued(recipient.node_id)
        return delivery.header

    # -- tracking (exporter) ---------------------------------------------------------------------------------

    async def tracking(self, caller: NppoProfile, number: str) -> EnvelopeHeader:
        """GetEnvelopeTrackingInfo: an unknown number, or one that is neither from nor for the caller,
        is EnvelopeNotExists (a number never tells a third NPPO that a certificate exists)."""
        delivery = await self._store.get(number)
        if delivery is None or caller.country not in (delivery.header.sender, delivery.header.recipient):
            return EnvelopeHeader.not_exists(number)
        return delivery.header

    async def under_delivery(self, caller: NppoProfile) -> list[EnvelopeHeader]:
        return [delivery.header for delivery in await self._store.sent_pending(caller.country)]

    # -- receiving (importer, pull) ------------------------------------------------------------------------

    async def import_headers(self, caller: NppoProfile, country: str | None = None) -> list[EnvelopeHeader]:
        """GetImportEnvelopeHeaders: what waits for the caller to pull, optionally from one exporter."""
        sender = country.strip().upper() if country and country.strip() else None
        return [delivery.header for delivery in await self._store.awaiting_pull(caller.country, sender)]

    async def pull(self, caller: NppoProfile, number: str) -> HubEnvelope:
        """PULLSingleImportEnvelope: pulling does not settle anything; the acknowledgement does."""
        delivery = await self._store.get(number)
        if delivery is None or delivery.header.recipient != caller.country:
            raise ProtocolError(f"no envelope {number!r} for {caller.country}", document="PULLSingleImportEnvelope",
                                path="hubTrackingNumber", rule="EnvelopeNotExists")
        return delivery.envelope

    async def pull_all(self, caller: NppoProfile) -> list[HubEnvelope]:
        return [delivery.envelope for delivery in await self._store.awaiting_pull(caller.country)]

    async def acknowledge(
        self, caller: NppoProfile, number: str, operation: str, message: str | None = None
    ) -> EnvelopeHeader:
        """The three acknowledgements of a pulled envelope, through the tracking table."""
        event = ACKNOWLEDGEMENTS[operation]
        async with self._store.database.transaction() as db:
            delivery = await self._store.locked(db, number)
            if delivery is None or delivery.header.recipient != caller.country:
                raise ProtocolError(f"no envelope {number!r} for {caller.country}", document=operation,
                                    path="hubTrackingNumber", rule="EnvelopeNotExists")
            if delivery.route is not Receive.PULL:
                raise ProtocolError(f"envelope {number} is pushed to {caller.country}; its push answer settles it",
                                    document=operation, path="hubTrackingNumber", rule="not-pulled")
            state = advance(delivery.state, event)
            if state is None:
                raise ProtocolError(f"envelope {number} is already {delivery.state.value}", document=operation,
                                    path="hubTrackingNumber", rule="already-settled")
            await self._settle(db, delivery, state, message or None)
            settled = await self._store.locked(db, number)
        assert settled is not None
        return settled.header

    async def _settle(
        self, db: aiosqlite.Connection, delivery: Delivery, state: TrackingInfo, error: str | None,
        *, attempts: int | None = None,
    ) -> None:
        now = self._clock.now()
        await self._store.settle(db, delivery.key, state, error, now, attempts=attempts)
        if delivery.caravan_delivery is not None and delivery.route is Receive.PULL and state in CARAVAN_STATE:
            await db.execute(
                "UPDATE deliveries SET state = ?, delivered_at = ?, last_error = ? WHERE id = ?",
                (CARAVAN_STATE[state], stamp(now) if state is not TrackingInfo.FAILED_DELIVERY else None, error,
                 delivery.caravan_delivery),
            )

    # -- validation and directory ----------------------------------------------------------------------------

    def validate(self, xml: str) -> list[ValidationResult]:
        return [ValidationResult(i.area, i.path, i.level, i.message) for i in self._validator(content_bytes(xml))]

    def active_nppos(self) -> list[NppoView]:
        return [profile.view() for profile in self.directory.profiles()]

    async def configure(self, caller: NppoProfile, receive: Receive) -> NppoView:
        """An NPPO chooses push or pull for its imports (the Hub's connection profile); applies to new
        deliveries, since a delivery's route is fixed when the hub accepts it."""
        await self._store.set_receive(caller.node_id, receive)
        self.directory = self.directory.with_receive(caller.node_id, receive)
        profile = self.directory.by_node(caller.node_id)
        assert profile is not None
        return profile.view()

    # -- caravan envelopes (called by the caravan hub inside its transactions) --------------------------------

    async def accepted(self, db: aiosqlite.Connection, envelope: Envelope) -> None:
        """A caravan envelope was just stored: an ePhyto gets its hub delivery number and tracking here.

        An ePhyto for an NPPO that pulls is parked as `held`; a (type, status) the sender may not send
        refuses the whole submission (the caller's transaction rolls back).
        """
        if envelope.message_type != CARAVAN_CERTIFICATE:
            return
        sender, recipient = self.directory.by_node(envelope.sender), self.directory.by_node(envelope.recipient)
        if sender is None or recipient is None:
            return
        header = _certificate_header(envelope, sender, recipient)
        if not sender.may_send(header.certificate_type, header.certificate_status):
            raise ProtocolError(
                f"NPPO {sender.country} may not send certificate type {header.certificate_type} with status "
                f"{header.certificate_status}", document=CARAVAN_CERTIFICATE,
                path="/SPSCertificate/SPSExchangedDocument/StatusCode", rule="document-not-allowed",
            )
        async with db.execute(
            "SELECT id FROM deliveries WHERE sender = ? AND message_id = ?", (envelope.sender, envelope.message_id)
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        await self._store.insert(db, header, envelope.document.decode("utf-8"), route=recipient.receive,
                                 state=TrackingInfo.PENDING_DELIVERY, at=self._clock.now(),
                                 caravan_delivery=row["id"])
        if recipient.receive is Receive.PULL:
            await db.execute("UPDATE deliveries SET state = ? WHERE id = ?", (HELD, row["id"]))

    async def settled(
        self, db: aiosqlite.Connection, caravan_delivery: int, caravan_state: str, answer: Answer
    ) -> None:
        """The caravan hub settled a push: move the ePhyto's tracking the same way."""
        delivery = await self._store.by_caravan(db, caravan_delivery)
        if delivery is not None:
            await self.pushed(db, delivery, answer, gave_up=caravan_state == "failed")

    async def pushed(self, db: aiosqlite.Connection, delivery: Delivery, answer: Answer, *, gave_up: bool) -> None:
        event = push_event(answer, gave_up=gave_up)
        state = None if event is None else advance(delivery.state, event)
        if state is not None:
            error = None if event is TrackingEvent.ACKNOWLEDGED else _describe(answer)
            await self._settle(db, delivery, state, error, attempts=delivery.attempts + 1)
        else:
            await self._store.settle(db, delivery.key, delivery.state, _describe(answer), self._clock.now(),
                                     attempts=delivery.attempts + 1)

    async def counts(self) -> dict[str, int]:
        """Deliveries per tracking state, as flat `ippc:<state>` counters for the hub's status."""
        counts = {state.value: 0 for state in TrackingInfo if state is not TrackingInfo.ENVELOPE_NOT_EXISTS}
        counts.update(await self._store.counts())
        return {f"ippc:{state}": n for state, n in counts.items()}


def _certificate_header(envelope: Envelope, sender: NppoProfile, recipient: NppoProfile) -> EnvelopeHeader:
    """The Hub header a caravan ePhyto implies: its document's ID, TypeCode and StatusCode."""
    root = parse_document(envelope.document)

    def value(name: str) -> str:
        found = root.xpath(f"string(*[local-name()='SPSExchangedDocument']/*[local-name()='{name}'])")
        return str(found).strip()

    try:
        kind, status = int(value("TypeCode")), int(value("StatusCode"))
    except ValueError:
        raise ProtocolError("the ePhyto's TypeCode and StatusCode must be numbers", document=CARAVAN_CERTIFICATE,
                            path="/SPSCertificate/SPSExchangedDocument", rule="header-field-type") from None
    return EnvelopeHeader(sender.country, recipient.country, kind, status, value("ID") or envelope.message_id)


def _describe(answer: Answer) -> str:
    status = f"HTTP {answer.status}" if answer.status is not None else "no answer"
    return f"{status}: {answer.body.get('message', answer.body.get('error', ''))}"[:500]
