"""What the IPPC Hub does, whichever face a request comes through.

1. The caller is the NPPO of the TLS client certificate (the face identifies it before calling here).
2. Sending, forwarding and the relay to the importer's node are `sending.Sending`'s job.
3. Tracking moves only as `tracking.TRANSITIONS` allows: the push answer, the importer's acknowledgement
   (pulled) or its SetTrackingInfoUpdate. A caller sees only deliveries it sent or receives, or acts for by
   a DELEGATE rule (`Directory.acts_for`); any other number is EnvelopeNotExists.
4. The directory, channels, ValidatePhytoXML and the code lists answer from the directory, the wired
   validator and `schemas/ephyto/codelists.xml`.

Each operation either answers with Hub entities or raises a `CaravanError` whose message becomes the
`HubWebException` a Hub client sees. Envelopes that arrive as caravan envelopes (`POST /envelopes`) get
the same delivery numbers and tracking through `accepted` and `settled`, which the caravan hub calls
inside its own transactions.
"""

from __future__ import annotations

from collections.abc import Iterable

from exchange.client import Answer
from exchange.clock import Clock
from exchange.envelope import Envelope
from exchange.errors import CaravanError, Issue, ProtocolError
from exchange.ippc.bridge import content_bytes
from exchange.ippc.codelists import CodeList, served_lists
from exchange.ippc.directory import Directory, NppoProfile
from exchange.ippc.entities import (
    VALIDATION_AREAS,
    Channel,
    Direction,
    EnvelopeHeader,
    HubEnvelope,
    NppoView,
    Receive,
    Signature,
    TrackingInfo,
    ValidationResult,
)
from exchange.ippc.sending import Relay, Sending, Validator, public_header
from exchange.ippc.store import Delivery, IppcStore, stamp
from exchange.ippc.tracking import REPORTS, TrackingEvent, advance, push_event
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.store import Transaction
from exchange.validation import validate

__all__ = ["HubService", "generic_validator"]

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


def generic_validator(data: bytes) -> list[Issue]:
    """Caravan's registry validation (schema, then Schematron) for whatever family the root belongs to."""
    try:
        return validate(parse_document(data))
    except CaravanError as error:
        return [Issue("Schema", error.path or "/", error.message, error.rule)]


def _not_exists(operation: str, number: str, caller: NppoProfile) -> ProtocolError:
    return ProtocolError(f"no envelope {number!r} for {caller.country}", document=operation,
                         path="hubTrackingNumber", rule="EnvelopeNotExists")


class HubService:
    def __init__(
        self,
        store: IppcStore,
        directory: Directory,
        clock: Clock,
        trust: TrustStore,
        relay: Relay,
        *,
        validator: Validator = generic_validator,
    ) -> None:
        self._store = store
        self.directory = directory
        self._clock = clock
        self._validator = validator
        self._relay = relay  # a pulled ePhyto's acknowledgement settles its caravan delivery too
        self._sending = Sending(store, lambda: self.directory, clock, trust, relay, validator)

    async def start(self) -> None:
        """Create the tables and apply the receive modes NPPOs configured earlier."""
        await self._store.create()
        for node_id, receive in (await self._store.receive_modes()).items():
            if self.directory.by_node(node_id) is not None:
                self.directory = self.directory.with_receive(node_id, receive)

    # -- sending ---------------------------------------------------------------------------------------------

    async def deliver(self, caller: NppoProfile, envelope: HubEnvelope, *, check: bool = False,
                      where: str = "Envelope") -> EnvelopeHeader:
        """DeliverEnvelope / ValidateAndDeliverEnvelope / DeliverPhytoEnvelope (see `sending`)."""
        return await self._sending.deliver(caller, envelope, check=check, where=where)

    async def deliver_response(self, caller: NppoProfile, header: EnvelopeHeader, content: str) -> EnvelopeHeader:
        """DeliverCountryResponseEnvelope: the importer's SPSAcknowledgement back to the exporter."""
        return await self._sending.deliver_response(caller, header, content)

    # -- tracking (exporter) ---------------------------------------------------------------------------------

    def _may_receive(self, caller: NppoProfile, delivery: Delivery) -> bool:
        """The delivery's importer, or an NPPO it delegates its receiving to."""
        return self.directory.acts_for(caller, delivery.header.recipient, Direction.INC, delivery.header)

    def _involved(self, caller: NppoProfile, delivery: Delivery) -> bool:
        """Its sender or importer, or an NPPO acting for either."""
        return self._may_receive(caller, delivery) or self.directory.acts_for(
            caller, delivery.header.sender, Direction.OUT, delivery.header)

    async def tracking(self, caller: NppoProfile, number: str) -> EnvelopeHeader:
        """GetEnvelopeTrackingInfo: an unknown number, or one the caller has no part in, is EnvelopeNotExists
        (a number never tells a third NPPO that a certificate exists)."""
        delivery = await self._store.get(number)
        if delivery is None or not self._involved(caller, delivery):
            return EnvelopeHeader.not_exists(number)
        return public_header(delivery)

    async def under_delivery(self, caller: NppoProfile) -> list[EnvelopeHeader]:
        return [public_header(delivery) for delivery in await self._store.sent_pending(caller.country)]

    async def update_tracking(self, caller: NppoProfile, header: EnvelopeHeader) -> None:
        """SetTrackingInfoUpdate: the importing NPPO (or its delegate) reports how it took a delivery.

        The header names the delivery (`hubDeliveryNumber`) and must repeat its From, To, type, status and
        certificate number; `HUBTrackingInfo` is the state reported, `hubDeliveryErrorMessage` the why.
        """
        operation = "SetTrackingInfoUpdate"
        number = (header.delivery_number or "").strip()
        if not number:
            raise ProtocolError("the header names no delivery (hubDeliveryNumber)", document=operation,
                                path="header/hubDeliveryNumber", rule="parameter-missing")
        reported = header.tracking
        event = REPORTS.get(reported) if reported is not None else None
        if event is None:
            allowed = ", ".join(state.value for state in REPORTS)
            raise ProtocolError(f"HUBTrackingInfo must be one of {allowed}", document=operation,
                                path="header/HUBTrackingInfo", rule="tracking-state")
        async with self._store.database.transaction() as db:
            delivery = await self._store.locked(db, number)
            if delivery is None or not self._may_receive(caller, delivery):
                raise _not_exists(operation, number, caller)
            stored = delivery.header
            mismatch = [name for name, given, known in (
                ("From", header.sender, stored.sender), ("To", header.recipient, stored.recipient),
                ("CertificateType", header.certificate_type, stored.certificate_type),
                ("CertificateStatus", header.certificate_status, stored.certificate_status),
                ("NPPOCertificateNumber", header.certificate_number, stored.certificate_number),
            ) if str(given).strip().upper() != str(known).strip().upper()]
            if mismatch:
                raise ProtocolError(f"the header does not match delivery {number} in {', '.join(mismatch)}",
                                    document=operation, path=f"header/{mismatch[0]}", rule="header-mismatch")
            state = advance(delivery.state, event)
            if state is None:
                raise ProtocolError(f"envelope {number} is {delivery.state.value}; it cannot become "
                                    f"{reported.value if reported else ''}", document=operation,
                                    path="header/HUBTrackingInfo", rule="already-settled")
            message = (header.error or "").strip() or delivery.header.error
            await self._settle(db, delivery, state, message or None)

    # -- receiving (importer, pull) ------------------------------------------------------------------------

    async def _waiting(self, caller: NppoProfile, sender: str | None = None) -> list[Delivery]:
        waiting = await self._store.awaiting_pull(self.directory.principals(caller), sender)
        return [delivery for delivery in waiting if self._may_receive(caller, delivery)]

    async def import_headers(self, caller: NppoProfile, country: str | None = None) -> list[EnvelopeHeader]:
        """GetImportEnvelopeHeaders: what waits for the caller to pull, optionally from one exporter."""
        sender = country.strip().upper() if country and country.strip() else None
        return [public_header(delivery) for delivery in await self._waiting(caller, sender)]

    async def pull(self, caller: NppoProfile, number: str) -> HubEnvelope:
        """PULLSingleImportEnvelope: pulling does not settle anything; the acknowledgement does."""
        delivery = await self._store.get(number)
        if delivery is None or not self._may_receive(caller, delivery):
            raise _not_exists("PULLSingleImportEnvelope", number, caller)
        return HubEnvelope(public_header(delivery), delivery.content)

    async def pull_all(self, caller: NppoProfile) -> list[HubEnvelope]:
        return [HubEnvelope(public_header(delivery), delivery.content) for delivery in await self._waiting(caller)]

    async def acknowledge(
        self, caller: NppoProfile, number: str, operation: str, message: str | None = None
    ) -> EnvelopeHeader:
        """The three acknowledgements of a pulled envelope, through the tracking table."""
        event = ACKNOWLEDGEMENTS[operation]
        async with self._store.database.transaction() as db:
            delivery = await self._store.locked(db, number)
            if delivery is None or not self._may_receive(caller, delivery):
                raise _not_exists(operation, number, caller)
            if delivery.route is not Receive.PULL:
                raise ProtocolError(f"envelope {number} is pushed to {delivery.header.recipient}; its push answer "
                                    "or SetTrackingInfoUpdate settles it", document=operation,
                                    path="hubTrackingNumber", rule="not-pulled")
            state = advance(delivery.state, event)
            if state is None:
                raise ProtocolError(f"envelope {number} is already {delivery.state.value}", document=operation,
                                    path="hubTrackingNumber", rule="already-settled")
            await self._settle(db, delivery, state, message or None)
            settled = await self._store.locked(db, number)
        assert settled is not None
        return public_header(settled)

    async def _settle(
        self, db: Transaction, delivery: Delivery, state: TrackingInfo, error: str | None,
        *, attempts: int | None = None,
    ) -> None:
        now = self._clock.now()
        await self._store.settle(db, delivery, state, error, now, attempts=attempts)
        if delivery.caravan_delivery is not None and delivery.route is Receive.PULL and state in CARAVAN_STATE:
            await self._relay.pulled(db, delivery.caravan_delivery, CARAVAN_STATE[state],
                                     stamp(now) if state is not TrackingInfo.FAILED_DELIVERY else None, error)

    # -- validation, directory, channels and code lists ------------------------------------------------------

    def validate(self, xml: str) -> list[ValidationResult]:
        """ValidatePhytoXML; a finding outside the Hub's three areas is reported in the Schema area."""
        return [
            ValidationResult(i.area if i.area in VALIDATION_AREAS else "Schema", i.path, i.level, i.message)
            for i in self._validator(content_bytes(xml))
        ]

    def active_nppos(self) -> list[NppoView]:
        return [profile.view() for profile in self.directory.profiles()]

    def channels(self, caller: NppoProfile) -> list[Channel]:
        """GetAvailableChannels: every other active participant the caller can route to."""
        return [profile.channel() for profile in self.directory.profiles() if profile.node_id != caller.node_id]

    @staticmethod
    def code_list(operation: str) -> CodeList:
        return served_lists()[operation]

    async def configure(self, caller: NppoProfile, receive: Receive) -> NppoView:
        """An NPPO chooses push or pull for its imports (the Hub's connection profile); applies to new
        deliveries, since a delivery's route is fixed when the hub accepts it."""
        await self._store.set_receive(caller.node_id, receive)
        self.directory = self.directory.with_receive(caller.node_id, receive)
        profile = self.directory.by_node(caller.node_id)
        assert profile is not None
        return profile.view()

    # -- caravan envelopes (called by the caravan hub inside its transactions) --------------------------------

    async def accepted(self, db: Transaction, envelope: Envelope, caravan_delivery: int) -> bool:
        """A caravan envelope was just stored: an ePhyto gets its hub delivery number and tracking (see `sending`)."""
        return await self._sending.accepted(db, envelope, caravan_delivery)

    async def settled(
        self, db: Transaction, caravan_delivery: int, caravan_state: str, answer: Answer
    ) -> None:
        """The caravan hub settled a push: move the ePhyto's tracking the same way."""
        delivery = await self._store.by_caravan(db, caravan_delivery)
        if delivery is not None:
            await self.pushed(db, delivery, answer, gave_up=caravan_state == "failed")

    async def pushed(self, db: Transaction, delivery: Delivery, answer: Answer, *, gave_up: bool) -> None:
        event = push_event(answer, gave_up=gave_up)
        state = None if event is None else advance(delivery.state, event)
        if state is not None:
            error = None if event is TrackingEvent.ACKNOWLEDGED else _describe(answer)
            await self._settle(db, delivery, state, error, attempts=delivery.attempts + 1)
        else:
            await self._store.settle(db, delivery, delivery.state, delivery.header.error or _describe(answer),
                                     self._clock.now(), attempts=delivery.attempts + 1)

    def counts(self) -> dict[str, int]:
        """Deliveries per tracking state and per signature state, as flat `ippc:<state>` counters."""
        states: Iterable[str] = [state.value for state in TrackingInfo if state is not TrackingInfo.ENVELOPE_NOT_EXISTS]
        counts = {name: 0 for name in (*states, *(signature.value for signature in Signature))}
        counts.update(self._store.counts())
        return {f"ippc:{state}": n for state, n in counts.items()}


def _describe(answer: Answer) -> str:
    """The importer's own words when it gave them (a push answered with warnings), else the HTTP outcome."""
    stated = answer.body.get("hubDeliveryErrorMessage")
    if stated:
        return str(stated)[:2000]
    return answer.describe()
