"""What customs officers do in a scenario, as data: `CustomsAdministration.act` takes one of these.

Messages are what offices tell each other; actions are what happens in front of an officer (a truck
at the border, seals inspected, a discrepancy cleared up). Each names the MRN and the office where it
happens; that office must be one of the administration's own, in the role the action needs.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Action",
    "PresentAtTransit",
    "RecordControl",
    "RecordDepartureControl",
    "RecordIncident",
    "ResolveDiscrepancies",
]


@dataclass(frozen=True)
class PresentAtTransit:
    """The goods are presented at an office of transit: record the passage, notify departure (CD118C)."""

    mrn: str
    office: str


@dataclass(frozen=True)
class RecordControl:
    """The office of destination has inspected the goods: release them (CC025C), report (CD018C)."""

    mrn: str
    office: str
    seals_ok: bool
    discrepancies: str | None = None


@dataclass(frozen=True)
class ResolveDiscrepancies:
    """The office of departure has cleared up the discrepancies found at destination: write off."""

    mrn: str
    office: str


@dataclass(frozen=True)
class RecordDepartureControl:
    """The office of departure has controlled the goods it said it would (CC060C): release them (CC029C) if
    the control is satisfactory, else refuse release (CC051C)."""

    mrn: str
    office: str
    satisfactory: bool
    text: str | None = None


@dataclass(frozen=True)
class RecordIncident:
    """An incident en route is registered at an office of transit: it tells the office of departure (CD180C)."""

    mrn: str
    office: str
    code: str  # CL019 incident code, n1
    text: str
    location: str | None = None  # UN/LOCODE of where it happened; the office's country stands in for none


Action = PresentAtTransit | RecordControl | ResolveDiscrepancies | RecordDepartureControl | RecordIncident
