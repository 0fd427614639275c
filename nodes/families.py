"""The document families a node serves, in one table.

Adding a family (ePhyto, e-CO, ...) is one entry here plus its `schemas/<family>/` directory: the entry
says how to build the family's desk for a node of a scenario and how its documents read in a timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lxml import etree

from exchange.errors import CaravanError
from exchange.runner import Description
from exchange.scenario import Scenario
from exchange.validation import detect
from nodes.customs.codec import summary_of
from nodes.customs.desk import CatsDesk
from nodes.customs.model import MESSAGE_NAMES
from nodes.customs.parties import message_parties
from nodes.desk import Desk
from nodes.ephyto.describe import describe as describe_ephyto
from nodes.ephyto.desk import EphytoDesk
from nodes.origin.describe import describe as describe_eco
from nodes.origin.desk import EcoDesk
from nodes.origin.verdict import verify as verify_eco
from nodes.verdict import VerifyReport, VerifyRequest

__all__ = ["FAMILIES", "Family", "build_desks", "describe_document", "verify_document_further"]


@dataclass(frozen=True)
class Family:
    name: str
    desk: Callable[[Scenario, str], Desk]
    describe: Callable[[etree._Element], Description]
    verify: Callable[[VerifyRequest], VerifyReport] | None = None  # checks beyond the signature (`caravan verify`)


def _describe_cats(root: etree._Element) -> Description:
    summary = summary_of(root)  # first: it refuses a document that is no CATS message
    return Description(MESSAGE_NAMES[etree.QName(root).localname], summary, *message_parties(root))


FAMILIES: Mapping[str, Family] = {
    "cats": Family("cats", CatsDesk, _describe_cats),
    "ephyto": Family("ephyto", EphytoDesk, describe_ephyto),
    "eco": Family("eco", EcoDesk, describe_eco, verify_eco),
}


def build_desks(scenario: Scenario, node_id: str) -> dict[str, Desk]:
    """Every family's desk for `node_id`: a node answers whatever family reaches it."""
    return {name: family.desk(scenario, node_id) for name, family in FAMILIES.items()}


def describe_document(root: etree._Element) -> Description:
    """A document's name and key data for the timeline, in its family's own words."""
    kind = detect(root)
    family = FAMILIES.get(kind.family)
    return family.describe(root) if family is not None else Description(kind.code, "")


def verify_document_further(request: VerifyRequest) -> VerifyReport:
    """The family's own checks of a document `caravan verify` has checked the signature of, if it has any."""
    try:
        family = FAMILIES.get(detect(request.root).family)
    except CaravanError:
        return VerifyReport()
    return family.verify(request) if family is not None and family.verify is not None else VerifyReport()
