"""The declarant channel: how a trader's own system lodges P5 messages at its national node.

Modelled on HMRC's CTC Traders API for NCTS P5 (routes in `nodes.declarant_api`). The flow of one
submission:

1. The trader's system connects over mutual TLS with the certificate `caravan prepare` issued to it
   (`pki/tls/traders/<EORI>.pem`): the certificate's common name is the trader's EORI, and a node admits
   only the traders the scenario lists under it. Signing identities are the nodes'; a trader signs nothing.
2. It sends unsigned P5 XML, as declarants write it. The node reads it safely and validates it against
   caravan's CATS schema: a schema-invalid message is refused on the spot (`ValidationFailed`, naming the
   path and the rule) and nothing is kept. Business rules are customs' to apply: they answer with CC056C.
3. The message must be the trader's own (messageSender and the holder, or trader at destination, are the
   certificate's EORI), addressed to this node's customs (messageRecipient `NTA.<country>`), of a type the
   route takes, about the movement it is posted to, with a messageIdentification never used before
   (NCTS error 26), and of a type this node's customs process (else `NotSupported`, not a failure).
4. The document goes to the CATS desk through `Node.decide("submit")`, the path of a scripted
   declaration: the trader desk files the movement, the node signs the document as written and relays
   it through the hub to the office it names. The decision is keyed by the message, so a retry after a
   lost answer gets the first answer and sends nothing twice.
5. The channel keeps what each trader sent (its movements and the bytes of each message, table
   `declarant_messages`); what customs answered is the node's inbox, found by the trader's EORI and the
   movement's MRN, or its LRN while it was the trader's latest declaration with that LRN (a reused LRN is
   customs' to refuse; each movement keeps its own answers). A movement's messages list both, in the
   order they happened.

A trader sees only its own movements: another trader's movement id answers 404, as if it did not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lxml import etree

from exchange.clock import utc
from exchange.errors import (
    DocumentError,
    DuplicateMessage,
    InputError,
    NotSupported,
    ScenarioError,
    TrustError,
    UnknownMovement,
    ValidationFailed,
)
from exchange.safexml import parse_document
from exchange.validation import detect, validate
from nodes.customs.codec import decode
from nodes.customs.tables import RECEIVE_ROUTES

if TYPE_CHECKING:
    from nodes.node import Node

__all__ = [
    "ARRIVALS",
    "DECLARANT_SCHEMA",
    "DEPARTURES",
    "FOLLOW_UPS",
    "OPENERS",
    "Declarants",
    "Lodged",
    "MovementMessage",
    "TraderMovementView",
    "message_key",
    "trader_ids",
]

DEPARTURES = "departures"
ARRIVALS = "arrivals"

OPENERS: Mapping[str, str] = {"CC015C": DEPARTURES, "CC007C": ARRIVALS}
"""The message that opens a movement → the kind of movement (HMRC: POST /movements/departures|arrivals)."""

FOLLOW_UPS: Mapping[str, frozenset[str]] = {
    DEPARTURES: frozenset({"CC013C", "CC014C", "CC141C", "CC170C"}),
    ARRIVALS: frozenset({"CC044C"}),
}
"""What a trader may send about a movement it opened (HMRC CTC Traders API `MessageType`, plus CC141C,
the holder's answer to an enquiry)."""

_PARTY: Mapping[str, str] = {
    **dict.fromkeys(("CC015C", "CC013C", "CC014C", "CC141C", "CC170C"), "HolderOfTheTransitProcedure"),
    **dict.fromkeys(("CC007C", "CC044C"), "TraderAtDestination"),
}
"""The data group naming the trader a message speaks for: it must be the certificate's EORI."""

DECLARANT_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS declarant_movements (
        id TEXT PRIMARY KEY,
        trader TEXT NOT NULL,
        kind TEXT NOT NULL,
        lrn TEXT,
        mrn TEXT,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS declarant_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        movement_id TEXT NOT NULL REFERENCES declarant_movements (id),
        trader TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        message_type TEXT NOT NULL,
        document BLOB NOT NULL,
        sent_at TEXT NOT NULL,
        after_inbox INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS declarant_by_trader ON declarant_movements (trader, kind)",
    "CREATE INDEX IF NOT EXISTS declarant_by_movement ON declarant_messages (movement_id)",
)

_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def _links(kind: str, movement_id: str) -> dict[str, Any]:
    """HAL-style links of a movement, as HMRC's answers carry them."""
    base = f"/movements/{kind}/{movement_id}"
    return {"self": {"href": base}, "messages": {"href": f"{base}/messages"}}


@dataclass(frozen=True)
class Lodged:
    """The answer to one submission: the movement it opened or went to, and what the node did with it."""

    movement_id: str
    kind: str
    message_id: str  # the channel's id of the message (see `message_key`)
    message_type: str
    duplicate: bool  # the same message again: nothing sent twice, the first answer given
    events: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "movementId": self.movement_id,
            "movementType": self.kind[:-1],
            "messageId": self.message_id,
            "messageType": self.message_type,
            "duplicate": self.duplicate,
            "events": list(self.events),
            "_links": _links(self.kind, self.movement_id),
        }


@dataclass(frozen=True)
class TraderMovementView:
    """A movement as its trader sees it on the API."""

    movement_id: str
    kind: str
    trader: str
    lrn: str | None
    mrn: str | None
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.movement_id,
            "movementType": self.kind[:-1],
            "movementReferenceNumber": self.mrn,
            "localReferenceNumber": self.lrn,
            "created": self.created_at,
            "_links": _links(self.kind, self.movement_id),
        }


@dataclass(frozen=True)
class MovementMessage:
    """One message of a movement: sent by the trader, or answered by customs."""

    message_id: str
    message_type: str
    direction: str  # "sent" (trader → customs) or "received" (customs → trader)
    at: str
    document: bytes

    def as_dict(self, base: str) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "messageType": self.message_type,
            "direction": self.direction,
            "received": self.at,
            "_links": {"self": {"href": f"{base}/messages/{self.message_id}"}},
        }


def trader_ids(node: Mapping[str, Any]) -> list[str]:
    """The EORIs of the traders a scenario lists under a node (its `traders:`), who get trader API identities."""
    return [str(entry["id"]) for entry in node.get("traders") or () if isinstance(entry, Mapping) and "id" in entry]


def message_key(sender: str, message_identification: str) -> str:
    """The channel's id of a message: 16 hex digits, as HMRC's ids look, stable for a given message."""
    return hashlib.sha256(f"{sender}\x00{message_identification}".encode()).hexdigest()[:16]


def _text(root: etree._Element, path: str) -> str | None:
    element = root.find(path)
    return None if element is None or element.text is None else element.text.strip()


def _answer_document(document: bytes) -> bytes:
    """A customs answer as the trader's application reads it: the P5 document, no enveloped signature."""
    root = etree.fromstring(document)
    for signature in root.findall(_DSIG):
        root.remove(signature)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class Declarants:
    """The declarant channel of one node: its traders, their submissions and what customs answered them."""

    def __init__(self, node: Node, country: str, traders: frozenset[str], base: Path) -> None:
        self._node = node
        self._country = country
        self._traders = traders
        self._base = base  # the scenario's directory: a `submit` step names its file relative to it
        self._lock = asyncio.Lock()  # one submission at a time: the duplicate check holds until it is filed

    @classmethod
    async def open(cls, node: Node, country: str, traders: frozenset[str], base: Path) -> Declarants:
        async with node.database.transaction() as db:
            for statement in DECLARANT_SCHEMA:
                await db.execute(statement)
        return cls(node, country, traders, base)

    @property
    def traders(self) -> frozenset[str]:
        return self._traders

    # -- lodging --------------------------------------------------------------------------------------------

    async def take_hub_time(self) -> None:
        """A trader's system lodges between the driver's steps, which move a node's clock only when they reach it
        (exchange/runner.py `_set_clocks`): the node takes the hub's time first, so it stamps nothing stale."""
        await self._node.catch_up_with_hub()

    async def lodge(self, trader: str, body: bytes, kind: str, movement_id: str | None = None) -> Lodged:
        """Check one message of `trader` for the route (`kind`, and `movement_id` for a follow-up), and send it.

        Raises DocumentError (unreadable), ValidationFailed (schema), TrustError (not the trader's own),
        UnknownMovement (no such movement of the trader), InputError (wrong type or recipient for the
        route, another movement's reference), DuplicateMessage (messageIdentification used), NotSupported
        (a message this node's customs do not process yet).
        """
        self._admit(trader)
        root = parse_document(body)
        code = self._read(root)
        self._check_own(trader, root, code)
        async with self._lock:
            movement = None if movement_id is None else await self.movement(trader, kind, movement_id)
            self._check_route(code, kind, movement is not None)
            if movement is not None:
                await self._check_about(root, code, movement)
            message_id = str(_text(root, "messageIdentification"))
            known = await self._node.database.fetch_one(
                "SELECT movement_id, trader, document FROM declarant_messages WHERE message_id = ?", (message_id,)
            )
            key = message_key(trader, message_id)
            if known is not None:
                if known["trader"] != trader or bytes(known["document"]) != body:
                    raise DuplicateMessage(
                        f"messageIdentification {message_id} was used before for another message",
                        document=code, path=f"/{code}/messageIdentification", rule="26",
                    )
                return Lodged(known["movement_id"], kind, key, code, duplicate=True)
            self._check_supported(root, code)
            opened = movement.movement_id if movement else self._new_movement_id(trader, message_id)
            before = await self._node.database.fetch_one("SELECT COALESCE(MAX(id), 0) AS n FROM inbox")
            events = await self._node.decide("submit", {"document": root}, key=f"declarant:{trader}:{message_id}")
            await self._file(trader, kind, opened, movement is None, root, code, message_id, body,
                             after_inbox=before["n"] if before else 0)
        return Lodged(opened, kind, key, code, duplicate=False, events=tuple(events))

    def _admit(self, trader: str | None) -> None:
        if trader is None:
            raise TrustError("the trader API needs a trader's client certificate (mutual TLS)", rule="tls-identity")
        if trader not in self._traders:
            raise TrustError(f"{trader} is no trader of this node", rule="tls-identity")

    def _read(self, root: etree._Element) -> str:
        """The message code, once the document is known to be a schema-valid CATS message."""
        kind = detect(root)
        if kind.family != "cats":
            raise DocumentError(f"{kind.code} is no P5 transit message", document=kind.code, path=f"/{kind.code}",
                                rule="document-type")
        issues = [issue for issue in validate(root) if issue.area == "Schema" and issue.level == "SEVERE"]
        if issues:
            raise ValidationFailed(kind.code, issues)
        return kind.code

    def _check_own(self, trader: str, root: etree._Element, code: str) -> None:
        """The message speaks for the certificate's trader, to this node's customs."""
        party = _PARTY.get(code)
        for path in ("messageSender", *((f"{party}/identificationNumber",) if party else ())):
            named = _text(root, path)
            if named != trader:
                raise TrustError(
                    f"{code} {path} is {named!r}, but this connection is trader {trader}",
                    document=code, path=f"/{code}/{path}", rule="trader-identity",
                )
        recipient = _text(root, "messageRecipient")
        if recipient != f"NTA.{self._country}":
            raise InputError(
                f"{code} is addressed to {recipient!r}; this node's customs are NTA.{self._country}",
                document=code, path=f"/{code}/messageRecipient", rule="12",
            )

    @staticmethod
    def _check_route(code: str, kind: str, follow_up: bool) -> None:
        allowed = FOLLOW_UPS[kind] if follow_up else frozenset(code_ for code_, to in OPENERS.items() if to == kind)
        if code not in allowed:
            where = f"/movements/{kind}/{{id}}/messages" if follow_up else f"/movements/{kind}"
            raise InputError(
                f"{code} cannot be sent to {where}; it takes {', '.join(sorted(allowed))}",
                document=code, path=f"/{code}", rule="message-type",
            )

    async def _check_about(self, root: etree._Element, code: str, movement: TraderMovementView) -> None:
        """A follow-up names the movement it is posted to, by its LRN or its MRN: one naming neither (the schema
        allows it; a P5 rule does not) would reach customs about nothing, and no answer could be listed under it."""
        if _text(root, "TransitOperation/LRN") is None and _text(root, "TransitOperation/MRN") is None:
            known = " or ".join(f"{name} {value}" for name, value in (("LRN", movement.lrn), ("MRN", movement.mrn))
                                if value)
            raise InputError(f"{code} names neither an LRN nor an MRN; name movement {movement.movement_id}'s: {known}",
                             document=code, path=f"/{code}/TransitOperation", rule="movement")
        for name, expected in (("LRN", movement.lrn), ("MRN", movement.mrn)):
            named = _text(root, f"TransitOperation/{name}")
            if named is not None and named != expected:
                raise InputError(
                    f"{code} names {name} {named}, but movement {movement.movement_id} is "
                    f"{name} {expected or '(not allocated yet)'}",
                    document=code, path=f"/{code}/TransitOperation/{name}", rule="movement",
                )

    @staticmethod
    def _check_supported(root: etree._Element, code: str) -> None:
        """Customs here process the message: the CATS codec reads it and an office takes it."""
        try:
            decode(root)
        except DocumentError:
            supported = False
        else:
            supported = code in RECEIVE_ROUTES
        if not supported:
            raise NotSupported(
                f"{code} is a valid P5 message, but this node's customs do not process it yet; nothing was sent",
                document=code, path=f"/{code}", rule="not-supported",
            )

    def _new_movement_id(self, trader: str, message_id: str) -> str:
        return message_key(f"{self._node.node_id}\x00{trader}", message_id)

    async def _file(self, trader: str, kind: str, movement_id: str, new: bool, root: etree._Element, code: str,
                    message_id: str, body: bytes, *, after_inbox: int) -> None:
        """Keep what the trader sent; `after_inbox` is the newest inbox row before it went, which no answer
        to it can be (the listing's order)."""
        now = _stamp(self._node.clock.now())
        async with self._node.database.transaction() as db:
            if new:
                await db.execute(
                    "INSERT INTO declarant_movements (id, trader, kind, lrn, mrn, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (movement_id, trader, kind, _text(root, "TransitOperation/LRN"),
                     _text(root, "TransitOperation/MRN"), now),
                )
            await db.execute(
                "INSERT INTO declarant_messages (movement_id, trader, message_id, message_type, document, sent_at, "
                "after_inbox) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (movement_id, trader, message_id, code, body, now, after_inbox),
            )

    # -- the scenario step ----------------------------------------------------------------------------------

    async def submit_step(self, node: Node, arguments: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Scenario step `submit {file}`: the file's trader lodges it, as its system would over the API.

        A follow-up goes to the movement of its trader that carries its LRN or MRN.
        """
        path = self._base / str(arguments["file"])
        try:
            body = path.read_bytes()
        except OSError as error:
            raise ScenarioError(f"submit: cannot read {path}: {error.strerror}", path="file") from error
        root = parse_document(body)
        code = etree.QName(root).localname
        trader = _text(root, "messageSender") or ""
        kind = OPENERS.get(code)
        movement_id = None
        if kind is None:
            kind, movement_id = await self._movement_of(trader, root, code)
        try:
            lodged = await self.lodge(trader, body, kind, movement_id)
        except TrustError as error:
            raise ScenarioError(f"submit {arguments['file']}: {error.message}", path="file", rule=error.rule) from error
        return [{"kind": "lodged", "agency": trader, "reference": lodged.movement_id,
                 "detail": f"{code} from {path.name} lodged through the declarant channel", "data": lodged.as_dict()}]

    async def _movement_of(self, trader: str, root: etree._Element, code: str) -> tuple[str, str]:
        kind = next((kind for kind, codes in FOLLOW_UPS.items() if code in codes), None)
        if kind is None:
            raise ScenarioError(f"submit: {code} is no message a trader sends", path="file", rule="message-type")
        lrn, mrn = _text(root, "TransitOperation/LRN"), _text(root, "TransitOperation/MRN")
        for movement in await self.movements(trader, kind):
            if (lrn and movement.lrn == lrn) or (mrn and movement.mrn == mrn):
                return kind, movement.movement_id
        raise ScenarioError(f"submit: {trader} lodged no movement {mrn or lrn} to send {code} about", path="file",
                            rule="90")

    # -- reading --------------------------------------------------------------------------------------------

    async def movements(self, trader: str, kind: str) -> list[TraderMovementView]:
        rows = await self._node.database.fetch_all(
            "SELECT * FROM declarant_movements WHERE trader = ? AND kind = ? ORDER BY created_at, id", (trader, kind)
        )
        return [await self._with_mrn(_view(row)) for row in rows]

    async def movement(self, trader: str, kind: str, movement_id: str) -> TraderMovementView:
        """The trader's movement, or UnknownMovement: another trader's is not shown to exist."""
        row = await self._node.database.fetch_one(
            "SELECT * FROM declarant_movements WHERE id = ? AND trader = ? AND kind = ?", (movement_id, trader, kind)
        )
        if row is None:
            raise UnknownMovement(f"{trader} has no {kind[:-1]} movement {movement_id}", path="movementId", rule="90")
        return await self._with_mrn(_view(row))

    async def _with_mrn(self, movement: TraderMovementView) -> TraderMovementView:
        """A departure with the MRN customs gave it, kept once an answer has shown it (CC028C)."""
        if movement.mrn is not None:
            return movement
        mrn = await self._mrn(movement)
        if mrn is None:
            return movement
        async with self._node.database.transaction() as db:
            await db.execute("UPDATE declarant_movements SET mrn = ? WHERE id = ?", (mrn, movement.movement_id))
        return replace(movement, mrn=mrn)

    async def messages(self, movement: TraderMovementView) -> list[MovementMessage]:
        """What the trader sent for the movement and what customs answered, in the order they happened.

        Virtual time often gives a message and its answer the same second, so the order is the node's
        own: a sent message comes after every inbox row that was there when it was filed.
        """
        sent = await self._node.database.fetch_all(
            "SELECT id, message_id, message_type, document, sent_at, after_inbox FROM declarant_messages "
            "WHERE movement_id = ? ORDER BY id", (movement.movement_id,)
        )
        listed = [
            ((row["after_inbox"], 1, row["id"]),
             MovementMessage(message_key(movement.trader, row["message_id"]), row["message_type"], "sent",
                             row["sent_at"], bytes(row["document"])))
            for row in sent
        ]
        listed.extend(((inbox_id, 0, 0), message) for inbox_id, message in await self._answers(movement))
        return [message for _, message in sorted(listed, key=lambda entry: entry[0])]

    async def _mrn(self, movement: TraderMovementView) -> str | None:
        """The MRN customs gave a departure, from the answer that carries it beside the LRN (CC028C)."""
        for _, message in await self._answers(movement):
            root = etree.fromstring(message.document)
            if _text(root, "TransitOperation/LRN") == movement.lrn and _text(root, "TransitOperation/MRN"):
                return _text(root, "TransitOperation/MRN")
        return None

    async def _answers(self, movement: TraderMovementView) -> list[tuple[int, MovementMessage]]:
        """The inbox messages to the trader about the movement, with their inbox row ids: those naming its MRN,
        and those naming its LRN without another MRN while it was the trader's latest movement with that LRN
        (`_lodged_between`); the CC028C among them allocates its MRN."""
        recipient = f"<messageRecipient>{movement.trader}</messageRecipient>".encode()
        rows = await self._node.database.fetch_all(
            "SELECT id, sender, message_type, document, received_at FROM inbox WHERE instr(document, ?) > 0 "
            "ORDER BY id", (recipient,),
        )
        found: list[tuple[int, MovementMessage]] = []
        mrn = movement.mrn
        start, end = await self._lodged_between(movement)
        for row in rows:
            root = etree.fromstring(bytes(row["document"]))
            lrn, said = _text(root, "TransitOperation/LRN"), _text(root, "TransitOperation/MRN")
            if said is None or said != mrn:
                if lrn is None or lrn != movement.lrn or not start < row["id"] <= end:
                    continue
                if said is not None and (mrn is not None or row["message_type"] != "CC028C"):
                    continue
                mrn = said or mrn
            identification = _text(root, "messageIdentification") or ""
            message = MovementMessage(message_key(_text(root, "messageSender") or row["sender"], identification),
                                      row["message_type"], "received", row["received_at"],
                                      _answer_document(bytes(row["document"])))
            found.append((row["id"], message))
        return found

    async def _lodged_between(self, movement: TraderMovementView) -> tuple[int, float]:
        """The inbox ids whose answers naming only the movement's LRN are its own: after the inbox's last row when
        it was lodged, up to the last row when the trader lodged its next declaration with the same LRN (which
        customs refuse, CC056C code 14: that answer is the next one's, and this one's is not shown there)."""
        if movement.lrn is None:
            return 0, 0
        rows = await self._node.database.fetch_all(
            "SELECT m.id, MIN(d.after_inbox) AS lodged FROM declarant_movements m JOIN declarant_messages d "
            "ON d.movement_id = m.id WHERE m.trader = ? AND m.kind = ? AND m.lrn = ? GROUP BY m.id ORDER BY MIN(d.id)",
            (movement.trader, movement.kind, movement.lrn),
        )
        lodged = [row["lodged"] for row in rows]
        here = next(index for index, row in enumerate(rows) if row["id"] == movement.movement_id)
        return lodged[here], lodged[here + 1] if here + 1 < len(lodged) else math.inf


def _view(row: Any) -> TraderMovementView:
    return TraderMovementView(row["id"], row["kind"], row["trader"], row["lrn"], row["mrn"], row["created_at"])


def _stamp(moment: Any) -> str:
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")

