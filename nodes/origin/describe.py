"""How e-CO documents read in a timeline: the message name and one line of key data."""

from __future__ import annotations

from lxml import etree

from exchange.runner import Description
from nodes.origin.codec import decode, summary
from nodes.origin.model import MESSAGE_NAMES

__all__ = ["describe"]


def describe(root: etree._Element) -> Description:
    message = decode(root)
    return Description(MESSAGE_NAMES[message.code], summary(message), root.findtext("{*}Header/{*}Sender/{*}PartyID")
                       or "", root.findtext("{*}Header/{*}Recipient/{*}PartyID") or "")
