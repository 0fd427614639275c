"""Who sends a CATS message to whom, by office and trader rather than by administration.

The envelope names administrations (uz → uz); the MESSAGE header names a trader or `NTA.UZ`. A class
following a movement wants the parties of NCTS: the holder lodges at the office of departure, which asks
the office of guarantee, notifies the offices of transit, and so on. Which data group names each party
is fixed by the message type, so the answer is one table read from the document itself.
"""

from __future__ import annotations

from lxml import etree

__all__ = ["PARTY_GROUPS", "message_parties"]

_HOLDER = "HolderOfTheTransitProcedure/identificationNumber"
_AT_DESTINATION = "TraderAtDestination/identificationNumber"
_DEPARTURE = "CustomsOfficeOfDeparture/referenceNumber"
_GUARANTEE = "CustomsOfficeOfGuarantee/referenceNumber"
_TRANSIT_ADDRESSED = "CustomsOfficeOfTransitAddressed/referenceNumber"
_TRANSIT_ACTUAL = "CustomsOfficeOfTransitActual/referenceNumber"
_DESTINATION_DECLARED = "CustomsOfficeOfDestinationDeclared/referenceNumber"
_DESTINATION_ACTUAL = "CustomsOfficeOfDestinationActual/referenceNumber"

PARTY_GROUPS: dict[str, tuple[str, str]] = {
    # the holder and the office of departure
    "CC015C": (_HOLDER, _DEPARTURE),
    "CC014C": (_HOLDER, _DEPARTURE),
    "CC141C": (_HOLDER, _DEPARTURE),
    "CC928C": (_DEPARTURE, _HOLDER),
    "CC028C": (_DEPARTURE, _HOLDER),
    "CC056C": (_DEPARTURE, _HOLDER),
    "CC029C": (_DEPARTURE, _HOLDER),
    "CC051C": (_DEPARTURE, _HOLDER),
    "CC055C": (_DEPARTURE, _HOLDER),
    "CC009C": (_DEPARTURE, _HOLDER),
    "CC019C": (_DEPARTURE, _HOLDER),
    "CC045C": (_DEPARTURE, _HOLDER),
    "CC140C": (_DEPARTURE, _HOLDER),
    "CC035C": (_DEPARTURE, _HOLDER),
    # the office of departure and the office of guarantee
    "CD203C": (_DEPARTURE, _GUARANTEE),
    "CD204C": (_DEPARTURE, _GUARANTEE),
    "CD205C": (_GUARANTEE, _DEPARTURE),
    # offices of departure, transit and destination
    "CD050C": (_DEPARTURE, _TRANSIT_ADDRESSED),
    "CD001C": (_DEPARTURE, _DESTINATION_DECLARED),
    "CD118C": (_TRANSIT_ACTUAL, _DEPARTURE),
    "CD006C": (_DESTINATION_ACTUAL, _DEPARTURE),
    "CD018C": (_DESTINATION_ACTUAL, _DEPARTURE),
    # the trader at destination and the office of destination
    "CC007C": (_AT_DESTINATION, _DESTINATION_ACTUAL),
    "CC044C": (_AT_DESTINATION, _DESTINATION_ACTUAL),
    "CC057C": (_DESTINATION_ACTUAL, _AT_DESTINATION),
    "CC043C": (_DESTINATION_ACTUAL, _AT_DESTINATION),
    "CC025C": (_DESTINATION_ACTUAL, _AT_DESTINATION),
}
"""Message type → the data groups naming its sender and its recipient."""


def message_parties(root: etree._Element) -> tuple[str, str]:
    """The sending and receiving party's identification (office reference or trader number).

    A type the table does not know, or a document without the group, falls back on the MESSAGE header
    (`messageSender`, `messageRecipient`), which names a trader or an administration (`NTA.UZ`).
    """
    groups = PARTY_GROUPS.get(etree.QName(root).localname)
    sender, recipient = (None, None) if groups is None else (root.findtext(group) for group in groups)
    # the header is read only when a party is missing: the timeline asks this of every message
    return (sender or root.findtext("messageSender") or "", recipient or root.findtext("messageRecipient") or "")
