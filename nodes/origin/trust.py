"""Who may certify origin: the issuing authorities and each importing customs' trust list.

An importing customs accepts a certificate only from an authority it lists for the certificate's trade
agreement and exporting country (the ICC accreditation chain for non-preferential certificates, the
authorised bodies notified under each FTA for preferential ones). Each authority signs through the node
of its country, so the trust list also says which signer (node certificate) an authority's documents
must carry.

Both come from a scenario's `nodes` section (see docs/ECO.md):

    nodes:
      uz:
        country: UZ
        eco:
          authorities: [{id: UZCCI, name: Chamber of Commerce and Industry of Uzbekistan, city: Tashkent}]
          trust: [{agreement: NONPREF, country: GE, authorities: [GECCI]}]

`caravan verify --trust-list SCENARIO` reads the same section, so a scenario file is a trust list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchange.errors import ScenarioError

__all__ = ["Authority", "TrustEntry", "TrustList", "read_authorities", "read_trust_list"]


@dataclass(frozen=True)
class Authority:
    """An issuing authority (chamber of commerce, authorised body) and the node it signs through."""

    id: str  # starts with its country code, e.g. UZCCI
    name: str
    country: str
    node: str  # the node id, i.e. the common name of the certificate its documents are signed with
    city: str = ""


@dataclass(frozen=True)
class TrustEntry:
    agreement: str  # an agreement code, or NONPREF
    country: str  # the exporting country
    authority: str  # an authority id


@dataclass(frozen=True)
class TrustList:
    """One importing customs' list of the authorities it accepts, by agreement and exporting country."""

    country: str  # the importing country whose list this is
    entries: tuple[TrustEntry, ...]
    authorities: Mapping[str, Authority]

    def authorised(self, agreement: str, country: str) -> tuple[Authority, ...]:
        """The authorities listed for certificates under `agreement` from `country`."""
        return tuple(
            self.authorities[entry.authority]
            for entry in self.entries
            if entry.agreement == agreement and entry.country == country and entry.authority in self.authorities
        )

    def as_rows(self) -> list[dict[str, str]]:
        """The list as rows for people (a node's `GET /state`)."""
        rows = []
        for entry in self.entries:
            authority = self.authorities.get(entry.authority)
            rows.append({
                "agreement": entry.agreement,
                "country": entry.country,
                "authority": entry.authority,
                "name": authority.name if authority else "(unknown authority)",
                "signer": authority.node if authority else "",
            })
        return rows


def _eco(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    section = spec.get("eco") or {}
    return section if isinstance(section, Mapping) else {}


def read_authorities(nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, Authority]:
    """Every issuing authority of the scenario, by id; each signs through the node it is listed under."""
    authorities: dict[str, Authority] = {}
    for node_id, spec in nodes.items():
        country = str(spec.get("country", ""))
        for index, entry in enumerate(_eco(spec).get("authorities") or ()):
            where = f"nodes.{node_id}.eco.authorities[{index}]"
            if not isinstance(entry, Mapping) or not entry.get("id") or not entry.get("name"):
                raise ScenarioError(f"{where} needs an id and a name", path=where)
            identifier = str(entry["id"])
            if not identifier.startswith(country):
                raise ScenarioError(
                    f"{where}.id {identifier!r} must start with the country code {country}: the hub checks that a "
                    "node speaks only for parties of its country",
                    path=f"{where}.id",
                )
            authorities[identifier] = Authority(identifier, str(entry["name"]), country, str(node_id),
                                                str(entry.get("city", "")))
    return authorities


def read_trust_list(nodes: Mapping[str, Mapping[str, Any]], node_id: str) -> TrustList:
    """The trust list of the customs behind `node_id` (empty when the scenario gives it none)."""
    authorities = read_authorities(nodes)
    spec = nodes[node_id]
    entries = []
    for index, entry in enumerate(_eco(spec).get("trust") or ()):
        where = f"nodes.{node_id}.eco.trust[{index}]"
        if not isinstance(entry, Mapping) or not entry.get("agreement") or not entry.get("country"):
            raise ScenarioError(f"{where} needs an agreement, a country and authorities", path=where)
        for authority in entry.get("authorities") or ():
            if str(authority) not in authorities:
                raise ScenarioError(f"{where}: authority {authority!r} is not listed under any node", path=where)
            entries.append(TrustEntry(str(entry["agreement"]), str(entry["country"]), str(authority)))
    return TrustList(str(spec.get("country", "")), tuple(entries), authorities)
