"""What happens to what an NPPO sends through the IPPC Hub face, and to ePhytos sent as caravan envelopes.

1. Route: `From` is the caller, or an NPPO whose DELEGATE OUT rule lets the caller send in its name; `To`
   is an active NPPO; From may send that (certificate type, status).
2. Authenticity (`authenticity.check_signature`): unsigned content is delivered; signed content must
   verify and name From as its signer, or nothing is stored.
3. Copies: one per code in the envelope's `Forwardings` and per FORWARD rule of From (OUT) and of To (INC).
4. One transaction stores each delivery and, for each, the caravan delivery that carries it to its node
   through the caravan hub's own queue (`Relay`): pushed at once, or parked as `held` until the NPPO pulls
   it. So every Hub delivery is also a message of the exchange, in the timeline and events.jsonl.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from exchange.clock import Clock
from exchange.envelope import Envelope
from exchange.errors import CaravanError, Issue, ProtocolError, TrustError
from exchange.ippc.authenticity import SIGNATURE_NOTES, check_signature
from exchange.ippc.bridge import caravan_envelope, content_bytes
from exchange.ippc.directory import Directory, NppoProfile
from exchange.ippc.entities import (
    Direction,
    EnvelopeHeader,
    HubEnvelope,
    Receive,
    RuleType,
    Signature,
    TrackingInfo,
)
from exchange.ippc.store import Delivery, IppcStore
from exchange.ippc.tracking import TrackingEvent, advance
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.store import Transaction

__all__ = ["CARAVAN_CERTIFICATE", "HELD", "Relay", "Sending", "Validator", "public_header"]

Validator = Callable[[bytes], list[Issue]]
"""Checks one certificate's XML the way `ValidatePhytoXML` does: areas Schema/MandatoryElements/Mapping,
levels SEVERE/WARNING/INFO. The ePhyto family's `validate_phyto` is the one a deployment wires in."""

CARAVAN_CERTIFICATE = "SPSCertificate"
"""The caravan message type that the Hub tracks when it arrives as a caravan envelope."""

HELD = "held"
"""The caravan delivery state of an ePhyto waiting for its NPPO to pull it: the caravan forwarder only
pushes `pending` rows, and the scenario driver does not wait for held ones."""


class Relay(Protocol):
    """The caravan hub's delivery queue, as the Hub face uses it: every write to it goes through here, in the
    caller's transaction (the hub keeps running totals of its deliveries, exchange/tally.py)."""

    async def relay(self, db: Transaction, envelope: Envelope, key: str, *, held: bool) -> int:
        """Queue `envelope` for its recipient node under the unique `key`; return the caravan delivery id."""
        ...

    async def hold(self, db: Transaction, caravan_delivery: int) -> None:
        """Park a caravan delivery just stored as pending, for an NPPO that pulls: its state becomes `held`."""
        ...

    async def pulled(
        self, db: Transaction, caravan_delivery: int, state: str, delivered_at: str | None, error: str | None
    ) -> None:
        """Settle a caravan delivery its NPPO pulled: `state` is `delivered` or `failed`."""
        ...

    def wake(self, node_id: str) -> None:
        """New work for `node_id`'s forwarder (after the transaction committed)."""
        ...


def public_header(delivery: Delivery) -> EnvelopeHeader:
    """The header a Hub client sees: hubDeliveryErrorMessage also states what the hub found about the
    content's signature (the header has no other field for it)."""
    note = "; ".join(part for part in (delivery.header.error, SIGNATURE_NOTES[delivery.signature]) if part)
    return replace(delivery.header, error=note)


class Sending:
    """The sending side of the Hub, over the directory the service holds at the time of each call."""

    def __init__(self, store: IppcStore, directory: Callable[[], Directory], clock: Clock, trust: TrustStore,
                 relay: Relay, validator: Validator) -> None:
        self._store = store
        self._directory = directory
        self._clock = clock
        self._trust = trust
        self._relay = relay
        self._validator = validator

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
        sender = self._directory().by_country(header.sender)
        if sender is None or not self._directory().acts_for(caller, header.sender, Direction.OUT, header):
            raise TrustError(
                f"From {header.sender!r} is not the NPPO of the client certificate ({caller.country}), nor one "
                "that delegates such sending to it", document="EnvelopeHeader", path="EnvelopeHeader/From",
                rule="sender-mismatch",
            )
        recipient = self._directory().by_country(header.recipient)
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
            target = self._directory().by_country(forwarding.code)
            if target is None:
                raise ProtocolError(f"Forwardings names {forwarding.code!r}, which is not an active NPPO",
                                    document="EnvelopeHeader", rule="unknown-nppo",
                                    path=f"EnvelopeHeader/Forwardings/EnvelopeForwarding[{index}]/Code")
            targets.setdefault(target.node_id, target)
        rules = [*sender.rules_for(RuleType.FORWARD, Direction.OUT, kind, status),
                 *recipient.rules_for(RuleType.FORWARD, Direction.INC, kind, status)]
        for rule in rules:
            target = self._directory().by_country(rule.country_code)
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
        return public_header(main)

    async def _store_delivery(
        self, db: Transaction, header: EnvelopeHeader, recipient: NppoProfile, content: str,
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

    # -- caravan envelopes (called by the caravan hub inside its transactions) --------------------------------

    async def accepted(self, db: Transaction, envelope: Envelope, caravan_delivery: int) -> bool:
        """A caravan envelope was just stored: an ePhyto gets its hub delivery number and tracking here.

        It was signed and verified on its way in (caravan's exchange takes signed documents only). An
        ePhyto for an NPPO that pulls is parked as `held`; the FORWARD rules of its sender and recipient
        give it copies, relayed like any other; a (type, status) the sender may not send refuses the whole
        submission (the caller's transaction rolls back). True when it held the delivery: the caller's receipt
        then says `held`.
        """
        if envelope.message_type != CARAVAN_CERTIFICATE:
            return False
        sender, recipient = self._directory().by_node(envelope.sender), self._directory().by_node(envelope.recipient)
        if sender is None or recipient is None:
            return False
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
            await self._relay.hold(db, caravan_delivery)
        woken: set[str] = set()
        for target in self._forwarding_targets(header, sender, recipient):
            await self._store_delivery(db, replace(header, recipient=target.country), target, content,
                                       TrackingEvent.QUEUED, None, Signature.SIGNED, woken, forwarded_from=main.key)
        for node_id in woken:
            self._relay.wake(node_id)
        return recipient.receive is Receive.PULL



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


