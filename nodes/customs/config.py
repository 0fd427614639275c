"""How one country's customs administration is set up: its offices, guarantees, traders' risk levels.

`offices` is the customs office reference list the administration works with, like the CS/RD2
CustomsOffices entity NCTS shares (transit.md §1.10): its own offices *and* its partners'. It runs the
offices of its own country; the others it only checks a declaration against (is the declared
destination an office of destination?) and addresses (which office of guarantee manages a GRN?).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from nodes.customs.guarantee import GuaranteeAccount, RiskLevel

__all__ = ["OFFICE_CODE_LISTS", "ROLES", "CustomsConfig", "Office", "TimeLimit"]

ROLES = frozenset({"DEP", "DES", "TRA", "GUA"})
"""Office roles the simulator runs: departure, destination, transit, guarantee (CS/RD2 Role codes)."""

OFFICE_CODE_LISTS = {"DEP": "CL171", "DES": "CL172", "TRA": "CL173", "GUA": "GUA"}
"""The code list an office reference number must be in for each role, named as the errorReason of a
functional error 12. No public number is known for the offices of guarantee, so the role stands in."""


TimeLimit = date | timedelta
"""A movement's time limit as a scenario gives it: a fixed date, or a period counted from release."""


@dataclass(frozen=True)
class Office:
    reference_number: str  # [A-Z]{2}[A-Z0-9]{6}, the first two letters being the country
    name: str
    country: str
    roles: frozenset[str]

    def __post_init__(self) -> None:
        if self.reference_number[:2] != self.country:
            raise ValueError(f"office {self.reference_number} does not belong to country {self.country}")
        if not self.roles <= ROLES:
            raise ValueError(f"office {self.reference_number}: unknown roles {sorted(self.roles - ROLES)}")


@dataclass(frozen=True)
class CustomsConfig:
    """One administration. `guarantees` opens the register of its office of guarantee.

    Each country has at most one office of guarantee (role GUA): it manages every GRN issued in that
    country (GRN positions 3-4), so the office of departure knows where to send CD203C.

    The office of departure gives each movement it releases a time limit (`transit_time_limit`, or the
    one `time_limits` names for that holder and LRN, as a plan can): with no arrival advice by then the
    movement goes to enquiry, and the holder has `enquiry_response_period` to answer.

    `controls` is the office of departure's risk decision, as a plan states it: those movements are
    controlled before release (CC060C, then the officer's results), every other one is released at once.
    """

    country: str
    offices: tuple[Office, ...]
    guarantees: tuple[GuaranteeAccount, ...] = ()
    risk_levels: Mapping[str, RiskLevel] = field(default_factory=dict)  # by trader identification number
    amendment_period: timedelta = timedelta(hours=24)  # to fix a guarantee after CC055C, else CC051C
    presentation_period: timedelta = timedelta(days=30)  # to present the goods of a pre-lodged declaration
    transit_time_limit: timedelta = timedelta(days=8)  # from release to presentation at destination
    time_limits: Mapping[tuple[str, str], TimeLimit] = field(default_factory=dict)  # by (holder, LRN)
    enquiry_response_period: timedelta = timedelta(days=28)  # limitForResponseDate of CC140C
    controls: frozenset[tuple[str, str]] = frozenset()  # (holder, LRN) the office of departure will control

    def __post_init__(self) -> None:
        guarantee_countries = [office.country for office in self.offices if "GUA" in office.roles]
        doubles = sorted({country for country in guarantee_countries if guarantee_countries.count(country) > 1})
        if doubles:
            raise ValueError(f"more than one office of guarantee for {', '.join(doubles)}")

    def limit_date(self, holder: str, lrn: str, released: datetime) -> date:
        """The date by which the movement released at `released` must be presented at destination."""
        limit = self.time_limits.get((holder, lrn), self.transit_time_limit)
        return (released + limit).date() if isinstance(limit, timedelta) else limit

    def office(self, reference_number: str, role: str) -> Office | None:
        """The office with this reference number if it is known and has `role`."""
        for office in self.offices:
            if office.reference_number == reference_number and role in office.roles:
                return office
        return None

    def runs(self, reference_number: str, role: str) -> bool:
        """True if this administration operates the office in that role."""
        office = self.office(reference_number, role)
        return office is not None and office.country == self.country

    def office_of_guarantee(self, country: str) -> str | None:
        """The reference number of the office that manages GRNs issued in `country`."""
        for office in self.offices:
            if office.country == country and "GUA" in office.roles:
                return office.reference_number
        return None
