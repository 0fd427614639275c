"""What the IPPC Hub does, whichever face a request comes through.

1. The caller is the NPPO of the TLS client certificate (the face identifies it before calling here).
2. Sending (DeliverEnvelope, ValidateAndDeliverEnvelope, DeliverPhytoEnvelope, DeliverCountryResponseEnvelope):
   `From` is the caller, or an NPPO whose DELEGATE OUT rule lets the caller send in its name; `To` is an
   active NPPO; From may send that (certificate type, status); the content's own XMLDSig, when there is
   one, verifies and names From as signer (`authenticity`); unsigned content is delivered.
3. One transaction stores the delivery, one forwarded copy per code in its `Forwardings` and per FORWARD
   rule of From (OUT) and To (INC), and for each the caravan delivery that carries it to its importer's
   node through the caravan hub's own queue (`Relay`): pushed at once, or parked as `held` until the NPPO
   pulls it. So every Hub delivery is also a message of the exchange, in the timeline and events.jsonl.
4. Tracking moves only as `tracking.TRANSITIONS` allows: the push answer, the importer's acknowledgement
   (pulled) or its SetTrackingInfoUpdate. A caller sees only deliveries it sent or receives, or acts for
   by a DELEGATE rule; any other number is EnvelopeNotExists.

Each operation either answers with Hub entities or raises a `CaravanError` whose message becomes the
`HubWebException` a Hub client sees. Envelopes that arrive as caravan envelopes (`POST /envelopes`) get
the same delivery numbers and tracking through `accepted` and `settled`, which the caravan hub calls
inside its own transactions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Protocol

import aiosqlite

from exchange.client import Answer
from exchange.clock import Clock
from exchange.envelope import Envelope
from exchange.errors import CaravanError, Issue, ProtocolError, TrustError
from exchange.ippc.authenticity import SIGNATURE_NOTES, check_signature
from exchange.ippc.bridge import caravan_envelope, content_bytes
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
    RuleType,
    Signature,
    TrackingInfo,
    ValidationResult,
)
from exchange.ippc.store import Delivery, IppcStore, stamp
from exchange.ippc.tracking import REPORTS, TrackingEvent, advance, push_event
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.validation import validate

__all__ = ["CARAVAN_CERTIFICATE", "HubService", "Relay", "Validator", "generic_validator"]

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


class Relay(Protocol):
    """The caravan hub's delivery queue, as the Hub face uses it: one more row in the caller's transaction."""

    async def relay(self, db: aiosqlite.Connection, envelope: Envelope, key: str, *, held: bool) -> int:
        """Queue `envelope` for its recipient node under the unique `key`; return the caravan delivery id."""
        ...

    def wake(self, node_id: str) -> None:
        """New work for `node_id`'s forwarder (after the transaction committed)."""
        ...


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
        self._trust = trust
        self._relay = relay
        self._validator = validator

    async def start(self) -> None:
        """Create the tables and apply the receive modes NPPOs configured earlier."""
        await self._store.create()
        for node_id, receive in (await self._store.receive_modes()).items():
            if self.directory.by_node(node_id) is not None:
                self.directory = self.directory.with_receive(node_id, receive)

    # -- sending ---------------------------------------------------------------------------------------------

    async def deliver(self, caller: NppoProfile, envelope: HubEnvelope, *, check: bool = False,
                      where: str = "Envelope") -> EnvelopeHeader:
        """DeliverEnvelope / ValidateAndDeliverEnvelope / DeliverPhytoEnvelope: queue a certificate.

        With `check`, SEVERE validation issues fail the delivery at once (it still gets a number, so the
        sender can track why); otherwise it is queued as given, and an importer that cannot read it says
        so with AcknowledgeFailedEnvelopeReceipt.
        """
        sender, recipient = self._route(caller, envelope.header)
        header = envelope.header
        if not sender.may_send(header.certificate_type, header.certificate_status):
            raise ProtocolError(
                f"NPPO {sender.country} may not send certificate type {header.certificate_type} with status "
                f"{header.certificate_status} (see GetActiveNppos)",
                document="EnvelopeHeader", path="EnvelopeHeader/CertificateStatus", rule="document-not-allowed",
            )
        return await self._send(sender, recipient, header, envelope.content or "", check=check, where=where)

    async def deliver_response(self, caller: NppoProfile, header: EnvelopeHeader, content: str) -> EnvelopeHeader:
        """DeliverCountryResponseEnvelope: the importer's SPSAcknowledgement back to the exporter."""
        sender, recipient = self._route(caller, header)
        return await self._send(sender, recipient, header, content, check=False, where="CountryResponseEnvelope")

    def _route(self, caller: NppoProfile, header: EnvelopeHeader) -> tuple[NppoProfile, NppoProfile]:
        sender = self.directory.by_country(header.sender)
        if sender is None or (sender.node_id != caller.node_id and not sender.delegates(
                Direction.OUT, caller.country, header.certificate_type, header.certificate_status)):
            raise TrustError(
                f"From {header.sender!r} is not the NPPO of the client certificate ({caller.country}), nor one "
                "that delegates such sending to it", document="EnvelopeHeader", path="EnvelopeHeader/From",
                rule="sender-mismatch",
            )
        recipient = self.directory.by_country(header.recipient)
        if recipient is None:
            raise ProtocolError(f"To {header.recipient!r} is not an active NPPO on this hub",
                                document="EnvelopeHeader", path="EnvelopeHeader/To", rule="unknown-nppo")
        return sender, recipient

    def _forwarding_targets(self, header: EnvelopeHeader, sender: NppoProfile,
                            recipient: NppoProfile) -> list[NppoProfile]:
        """Who gets a copy: the envelope's own Forwardings, then the FORWARD rules of From and of To."""
        kind, status = header.certificate_type, header.certificate_status
        targets: dict[str, NppoProfile] = {}
        for index, forwarding in enumerate(header.forwardings, start=1):
            target = self.directory.by_country(forwarding.code)
            if target is None:
                raise ProtocolError(f"Forwardings names {forwarding.code!r}, which is not an active NPPO",
                                    document="EnvelopeHeader", rule="unknown-nppo",
                                    path=f"EnvelopeHeader/Forwardings/EnvelopeForwarding[{index}]/Code")
            targets.setdefault(target.node_id, target)
        rules = [*sender.rules_for(RuleType.FORWARD, Direction.OUT, kind, status),
                 *recipient.rules_for(RuleType.FORWARD, Direction.INC, kind, status)]
        for rule in rules:
            target = self.directory.by_country(rule.country_code)
            if target is not None:
                targets.setdefault(target.node_id, target)
        return [t for t in targets.values() if t.node_id not in (sender.node_id, recipient.node_id)]

    async def _send(self, sender: NppoProfile, recipient: NppoProfile, header: EnvelopeHeader, content: str, *,
                    check: bool, where: str) -> EnvelopeHeader:
        if not content.strip():
            raise ProtocolError(f"the {where} has no content", document=where, path=f"{where}/Content",
                                rule="content-missing")
        signature = check_signature(content_bytes(content), sender.node_id, self._trust, self._clock.now(),
                                    where=f"{where}/Content")
        event, error = TrackingEvent.QUEUED, None
        if check:
            severe = [i for i in self._validator(content_bytes(content)) if i.level == "SEVERE"]
            if severe:
                event = TrackingEvent.INVALID
                error = "; ".join(str(issue) for issue in severe[:5])[:2000]
        targets = self._forwarding_targets(header, sender, recipient)
        routed = EnvelopeHeader(sender.country, recipient.country, header.certificate_type,
                                header.certificate_status, header.certificate_number)
        woken: set[str] = set()
        async with self._store.database.transaction() as db:
            main = await self._store_delivery(db, routed, recipient, content, event, error, signature, woken)
            for target in targets:
                await self._store_delivery(db, replace(routed, recipient=target.country), target, content, event,
                                           error, signature, woken, forwarded_from=main.key)
            main = await self._store.with_forwardings(main, db)
        for node_id in woken:
            self._relay.wake(node_id)
        return self._public(main)

    async def _store_delivery(
        self, db: aiosqlite.Connection, header: EnvelopeHeader, recipient: NppoProfile, content: str,
        event: TrackingEvent, error: str | None, signature: Signature, woken: set[str],
        *, forwarded_from: int | None = None,
    ) -> Delivery:
        """One delivery and, when it is to be delivered, the caravan delivery that carries it to the node.

        Content a caravan node cannot take (not a known document) still goes to an NPPO that pulls (it
        acknowledges it as not readable); for one that is pushed, the delivery fails at once, saying why.
        """
        envelope = None
        if event is TrackingEvent.QUEUED:
            try:
                envelope = caravan_envelope(header, content, self._clock.now())
            except CaravanError as failure:
                if recipient.receive is Receive.PUSH:
                    event = TrackingEvent.UNDELIVERABLE
                    error = f"not deliverable to node {recipient.node_id}: {failure}"
        state = advance(None, event)
        assert state is not None
        delivery = await self._store.insert(db, header, content, route=recipient.receive, state=state,
                                            at=self._clock.now(), signature=signature, error=error,
                                            forwarded_from=forwarded_from)
        if envelope is not None:
            held = recipient.receive is Receive.PULL
            await self._store.link(db, delivery.key, await self._relay.relay(db, envelope, delivery.number, held=held))
            if not held:
                woken.add(recipient.node_id)
        return delivery

    def _public(self, delivery: Delivery) -> EnvelopeHeader:
        """The header a Hub client sees: hubDeliveryErrorMessage also states what the hub found about the
        content's signature (the header has no other field for it)."""
        note = "; ".join(part for part in (delivery.header.error, SIGNATURE_NOTES[delivery.signature]) if part)
        return replace(delivery.header, error=note)

    # -- tracking (exporter) ---------------------------------------------------------------------------------

    def _involved(self, caller: NppoProfile, delivery: Delivery) -> bool:
        """Whether the caller sent, receives, or acts for an NPPO that sent or receives this delivery."""
        return self._may_send_for(caller, delivery) or self._may_receive(caller, delivery)

    def _may_send_for(self, caller: NppoProfile, delivery: Delivery) -> bool:
        header = delivery.header
        sender = self.directory.by_country(header.sender)
        return header.sender == caller.country or (sender is not None and sender.delegates(
            Direction.OUT, caller.country, header.certificate_type, header.certificate_status))

    def _may_receive(self, caller: NppoProfile, delivery: Delivery) -> bool:
        header = delivery.header
        recipient = self.directory.by_country(header.recipient)
        return header.recipient == caller.country or (recipient is not None and recipient.delegates(
            Direction.INC, caller.country, header.certificate_type, header.certificate_status))

    async def tracking(self, caller: NppoProfile, number: str) -> EnvelopeHeader:
        """GetEnvelopeTrackingInfo: an unknown number, or one the caller has no part in, is EnvelopeNotExists
        (a number never tells a third NPPO that a certificate exists)."""
        delivery = await self._store.get(number)
        if delivery is None or not self._involved(caller, delivery):
            return EnvelopeHeader.not_exists(number)
        return self._public(delivery)

    async def under_delivery(self, caller: NppoProfile) -> list[EnvelopeHeader]:
        return [self._public(delivery) for delivery in await self._store.sent_pending(caller.country)]

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

    def _acting_for(self, caller: NppoProfile) -> list[str]:
        """The caller and every NPPO with a DELEGATE INC rule naming it."""
        return [caller.country, *(profile.country for profile in self.directory.profiles()
                                  if any(rule.rule_type is RuleType.DELEGATE and rule.direction is Direction.INC
                                         and rule.country_code == caller.country for rule in profile.rules))]

    async def _waiting(self, caller: NppoProfile, sender: str | None = None) -> list[Delivery]:
        waiting = await self._store.awaiting_pull(self._acting_for(caller), sender)
        return [delivery for delivery in waiting if self._may_receive(caller, delivery)]

    async def import_headers(self, caller: NppoProfile, country: str | None = None) -> list[EnvelopeHeader]:
        """GetImportEnvelopeHeaders: what waits for the caller to pull, optionally from one exporter."""
        sender = country.strip().upper() if country and country.strip() else None
        return [self._public(delivery) for delivery in await self._waiting(caller, sender)]

    async def pull(self, caller: NppoProfile, number: str) -> HubEnvelope:
        """PULLSingleImportEnvelope: pulling does not settle anything; the acknowledgement does."""
        delivery = await self._store.get(number)
        if delivery is None or not self._may_receive(caller, delivery):
            raise _not_exists("PULLSingleImportEnvelope", number, caller)
        return HubEnvelope(self._public(delivery), delivery.content)

    async def pull_all(self, caller: NppoProfile) -> list[HubEnvelope]:
        return [HubEnvelope(self._public(delivery), delivery.content) for delivery in await self._waiting(caller)]

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
        return self._public(settled)

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

    async def accepted(self, db: aiosqlite.Connection, envelope: Envelope, caravan_delivery: int) -> None:
        """A caravan envelope was just stored: an ePhyto gets its hub delivery number and tracking here.

        It was signed and verified on its way in (caravan's exchange takes signed documents only). An
        ePhyto for an NPPO that pulls is parked as `held`; the FORWARD rules of its sender and recipient
        give it copies, relayed like any other; a (type, status) the sender may not send refuses the whole
        submission (the caller's transaction rolls back).
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
        content = envelope.document.decode("utf-8")
        main = await self._store.insert(db, header, content, route=recipient.receive,
                                        state=TrackingInfo.PENDING_DELIVERY, at=self._clock.now(),
                                        signature=Signature.SIGNED, caravan_delivery=caravan_delivery)
        if recipient.receive is Receive.PULL:
            await db.execute("UPDATE deliveries SET state = ? WHERE id = ?", (HELD, caravan_delivery))
        woken: set[str] = set()
        for target in self._forwarding_targets(header, sender, recipient):
            await self._store_delivery(db, replace(header, recipient=target.country), target, content,
                                       TrackingEvent.QUEUED, None, Signature.SIGNED, woken, forwarded_from=main.key)
        for node_id in woken:
            self._relay.wake(node_id)

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
            await self._store.settle(db, delivery.key, delivery.state, delivery.header.error or _describe(answer),
                                     self._clock.now(), attempts=delivery.attempts + 1)

    async def counts(self) -> dict[str, int]:
        """Deliveries per tracking state and per signature state, as flat `ippc:<state>` counters."""
        states: Iterable[str] = [state.value for state in TrackingInfo if state is not TrackingInfo.ENVELOPE_NOT_EXISTS]
        counts = {name: 0 for name in (*states, *(signature.value for signature in Signature))}
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
    """The importer's own words when it gave them (a push answered with warnings), else the HTTP outcome."""
    stated = answer.body.get("hubDeliveryErrorMessage")
    if stated:
        return str(stated)[:2000]
    status = f"HTTP {answer.status}" if answer.status is not None else "no answer"
    return f"{status}: {answer.body.get('message', answer.body.get('error', ''))}"[:500]
