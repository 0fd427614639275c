"""Which rows a CATS decision needs, read off its trigger: the aggregate each message and each step works on.

An office works on the record of one movement at one office: the MRN the message names, at the office
`RECEIVE_ROUTES` says takes it. The office of guarantee works on one GRN's account, the office of
departure takes a declaration against the holder's LRNs. A trader works on its own movement, found by
the LRN or the MRN the message carries. A step names a movement by its scenario key, which gives the
holder and the LRN; the MRN at an office is found through the LRN. Every decision also loads the
administration's counters, since any answer is a numbered message.

A row a decision finds it needs only after reading these (a CC014C that names only its LRN needs the
movement the LRN led to) is loaded when the decision asks for it (`nodes.records.Unloaded`).
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter

from nodes.customs.ledger import BY_LRN, DEPARTURE, DESTINATION, GUARANTEE, LRN, TRANSIT
from nodes.customs.model import ArrivalNotification, CatsMessage, TransitDeclaration
from nodes.customs.tables import RECEIVE_ROUTES
from nodes.customs.trader import MOVEMENT_BY_LRN, MOVEMENT_BY_MRN, TRADER_MOVEMENT, TRADER_SERIAL
from nodes.records import Key, Lookup, Query, RecordKind

__all__ = ["customs_needs", "holder_needs", "lodged_needs", "movement_needs", "trader_needs"]

RECORDS_OF_ROLE: Mapping[str, RecordKind] = {"DEP": DEPARTURE, "TRA": TRANSIT, "DES": DESTINATION}
"""The kind of movement record each office role keeps."""


def customs_needs(message: CatsMessage) -> tuple[Query, ...]:
    """The rows a message to customs works on; none for a message no office takes (it is refused)."""
    route = RECEIVE_ROUTES.get(message.code)
    if route is None:
        return ()
    if isinstance(message, TransitDeclaration):
        declaration = message.declaration
        return (Key(LRN.name, declaration.lrn, declaration.holder.identification_number),)
    if route.role == "GUA":
        return (Key(GUARANTEE.name, message.grn),)  # type: ignore[union-attr]
    office = str(attrgetter(route.field)(message))
    mrn = getattr(message, "mrn", None)
    if mrn:
        return (Key(RECORDS_OF_ROLE[route.role].name, mrn, office),)
    lrn = getattr(message, "lrn", None)  # a CC014C may name the declaration by its LRN only
    return (Key(LRN.name, lrn, message.holder),) if lrn else ()  # type: ignore[union-attr]


def trader_needs(message: CatsMessage) -> tuple[Query, ...]:
    """A message to a trader: the movements that carry its LRN or its MRN."""
    lrn, mrn = getattr(message, "lrn", None), getattr(message, "mrn", None)
    return (
        *((Lookup(TRADER_MOVEMENT.name, MOVEMENT_BY_LRN.name, lrn),) if lrn else ()),
        *((Lookup(TRADER_MOVEMENT.name, MOVEMENT_BY_MRN.name, mrn),) if mrn else ()),
    )


def holder_needs(holder: str, lrn: str) -> tuple[Query, ...]:
    """A holder's step about its declaration `lrn`: its movement and its message counter."""
    return (Key(TRADER_MOVEMENT.name, lrn, holder), Key(TRADER_SERIAL.name, holder))


def movement_needs(holder: str, lrn: str) -> tuple[Query, ...]:
    """What finds the MRN of the movement `lrn` of `holder` here, with its records at every office."""
    return (Key(LRN.name, lrn, holder), *(Lookup(kind.name, BY_LRN.name, lrn) for kind in RECORDS_OF_ROLE.values()))


def lodged_needs(message: CatsMessage) -> tuple[Query, ...]:
    """A trader's own message (declarant channel): the movement it opens, if it opens one."""
    if isinstance(message, TransitDeclaration):
        return (Key(TRADER_MOVEMENT.name, message.declaration.lrn, message.header.sender),)
    if isinstance(message, ArrivalNotification):
        return (Key(TRADER_MOVEMENT.name, message.mrn, message.header.sender),)
    return ()
