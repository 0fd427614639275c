"""Reading the CATS parts of a scenario: offices, traders, guarantees and movements.

The scenario file speaks the language of people planning a pilot (`departure: UZ000100`,
`items: [{hs: "520821", gross_kg: "9200"}]`); this module turns it into the NCTS data groups of
`nodes.customs.model` and the administration set-up of `nodes.customs.config`. Every node reads the
same file, so all of them agree on the reference list of offices and on who the traders are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from exchange.clock import utc
from exchange.errors import ScenarioError
from exchange.scenario import Scenario, decimal, required
from nodes.customs.config import CustomsConfig, Office, TimeLimit
from nodes.customs.guarantee import GuaranteeAccount, RiskLevel
from nodes.customs.model import (
    Address,
    Consignment,
    ConsignmentItem,
    Declaration,
    Guarantee,
    GuaranteeReference,
    HouseConsignment,
    Packaging,
    Seal,
    SupportingDocument,
    Trader,
    TransitOfficeDeclared,
    TransportEquipment,
)

__all__ = ["CatsScenario"]

_DAYS = re.compile(r"(\d+)d")


@dataclass(frozen=True)
class _TraderEntry:
    trader: Trader
    node: str
    risk: RiskLevel


class CatsScenario:
    """The CATS view of one scenario, shared by every node's desk."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._traders = self._read_traders()
        self._offices = self._read_offices()

    # -- directory ------------------------------------------------------------------------------------------

    def trader(self, identification_number: str, where: str) -> Trader:
        entry = self._traders.get(identification_number)
        if entry is None:
            raise ScenarioError(f"{where}: trader {identification_number!r} is not listed under any node", path=where)
        return entry.trader

    def node_of_trader(self, identification_number: str) -> str | None:
        entry = self._traders.get(identification_number)
        return None if entry is None else entry.node

    def customs_config(self, node_id: str) -> CustomsConfig:
        """The administration behind `node_id`; it knows every office of the scenario (the reference list)."""
        spec = self.scenario.nodes[node_id]
        guarantees = tuple(
            GuaranteeAccount(
                grn=str(entry["grn"]),
                holder=str(entry["holder"]),
                access_code=str(entry["access_code"]),
                reference_amount=decimal(entry["reference_amount"], f"nodes.{node_id}.guarantees"),
                currency=str(entry.get("currency", "USD")),
            )
            for entry in spec.data.get("guarantees") or ()
        )
        risk_levels = {key: entry.risk for key, entry in self._traders.items() if entry.node == node_id}
        return CustomsConfig(
            country=spec.country,
            offices=self._offices,
            guarantees=guarantees,
            risk_levels=risk_levels,
            time_limits=self._time_limits(),
            controls=frozenset(
                (str(movement.get("holder")), str(movement.get("lrn")))
                for movement in self.scenario.movements.values()
                if movement.get("control")
            ),
        )

    def _time_limits(self) -> dict[tuple[str, str], TimeLimit]:
        """`time_limit` of each movement that sets one, by (holder, LRN): the plan the office of departure follows."""
        return {
            (str(movement.get("holder")), str(movement.get("lrn"))): _time_limit(
                movement["time_limit"], f"movements.{key}.time_limit"
            )
            for key, movement in self.scenario.movements.items()
            if movement.get("time_limit") is not None
        }

    def movement(self, key: str) -> Mapping[str, Any]:
        movement = self.scenario.movements.get(key)
        if movement is None:
            raise ScenarioError(f"movement {key!r} is not defined under 'movements'", path=f"movements.{key}")
        return movement

    def key_of_lrn(self, lrn: str) -> str | None:
        return self._keys_by_lrn.get(lrn)

    @cached_property
    def _keys_by_lrn(self) -> dict[str, str]:
        """LRN → the first movement that declares it: a snapshot names thousands of movements, one look-up each."""
        keys: dict[str, str] = {}
        for key, movement in self.scenario.movements.items():
            keys.setdefault(str(movement.get("lrn")), key)
        return keys

    # -- declarations ---------------------------------------------------------------------------------------

    def declaration(self, key: str, changes: Mapping[str, Any] | None = None) -> Declaration:
        """The CC015C data of movement `key`, exactly as the scenario states it (rule breaches included).

        `changes` replaces movement entries (an amendment step's `guarantee`, `transit`, ...): the CC013C data.
        """
        movement = {**self.movement(key), **(changes or {})}
        where = f"movements.{key}"
        holder = self.trader(str(required(movement, "holder", where)), f"{where}.holder")
        consignee = self.trader(str(required(movement, "consignee", where)), f"{where}.consignee")
        departure = str(required(movement, "departure", where))
        destination = str(required(movement, "destination", where))
        items = tuple(_item(number, item, f"{where}.items[{number - 1}]")
                      for number, item in enumerate(required(movement, "items", where), start=1))
        gross = sum((item.gross_mass for item in items), Decimal("0"))
        guarantee = required(movement, "guarantee", where)
        transport = movement.get("transport") or {}
        equipment = tuple(
            TransportEquipment(
                sequence_number=index,
                container_identification_number=entry.get("container"),
                number_of_seals=len(entry.get("seals") or ()),
                seals=tuple(Seal(n, str(seal)) for n, seal in enumerate(entry.get("seals") or (), start=1)),
            )
            for index, entry in enumerate(movement.get("equipment") or (), start=1)
        )
        return Declaration(
            lrn=str(required(movement, "lrn", where)),
            declaration_type=str(movement.get("declaration_type", "T1")),
            additional_declaration_type=str(movement.get("additional_declaration_type", "A")),
            security=int(movement.get("security", 0)),
            office_of_departure=departure,
            office_of_destination=destination,
            offices_of_transit=tuple(
                TransitOfficeDeclared(index, str(entry["office"]), _moment(entry.get("eta")))
                for index, entry in enumerate(movement.get("transit") or (), start=1)
            ),
            holder=holder,
            guarantees=(
                Guarantee(
                    sequence_number=1,
                    guarantee_type=str(guarantee.get("type", "1")),
                    references=(
                        GuaranteeReference(
                            sequence_number=1,
                            grn=str(guarantee["grn"]),
                            access_code=str(guarantee["access_code"]),
                            amount_to_be_covered=decimal(guarantee["amount"], f"{where}.guarantee.amount"),
                            currency=str(guarantee.get("currency", "USD")),
                        ),
                    ),
                ),
            ),
            consignment=Consignment(
                country_of_dispatch=departure[:2],
                country_of_destination=destination[:2],
                container_indicator=any(entry.container_identification_number for entry in equipment),
                inland_mode_of_transport=str(transport.get("inland", "3")),
                mode_of_transport_at_the_border=str(transport.get("border", "3")),
                gross_mass=gross,
                consignor=holder,
                consignee=consignee,
                transport_equipment=equipment,
                countries_of_routing=tuple(str(country) for country in movement.get("route") or ()),
                house_consignments=(HouseConsignment(1, gross, items),),
                supporting_documents=tuple(
                    SupportingDocument(index, str(entry["type"]), str(entry["reference"]))
                    for index, entry in enumerate(movement.get("documents") or (), start=1)
                ),
            ),
        )

    # -- reading --------------------------------------------------------------------------------------------

    def _read_traders(self) -> dict[str, _TraderEntry]:
        traders: dict[str, _TraderEntry] = {}
        for node_id, spec in self.scenario.nodes.items():
            for index, entry in enumerate(spec.data.get("traders") or ()):
                where = f"nodes.{node_id}.traders[{index}]"
                identification = str(required(entry, "id", where))
                try:
                    risk = RiskLevel(str(entry.get("risk", "standard")))
                except ValueError as exc:
                    levels = ", ".join(level.value for level in RiskLevel)
                    raise ScenarioError(f"{where}.risk must be one of {levels}", path=f"{where}.risk") from exc
                trader = Trader(
                    identification_number=identification,
                    name=str(required(entry, "name", where)),
                    address=Address(
                        street_and_number=str(entry.get("street", "")),
                        postcode=str(entry.get("postcode", "")),
                        city=str(entry.get("city", "")),
                        country=spec.country,
                    ),
                )
                traders[identification] = _TraderEntry(trader, node_id, risk)
        return traders

    def _read_offices(self) -> tuple[Office, ...]:
        offices = []
        for node_id, spec in self.scenario.nodes.items():
            for index, entry in enumerate(spec.data.get("offices") or ()):
                where = f"nodes.{node_id}.offices[{index}]"
                try:
                    offices.append(
                        Office(
                            reference_number=str(required(entry, "reference", where)),
                            name=str(entry.get("name", "")),
                            country=spec.country,
                            roles=frozenset(str(role) for role in entry.get("roles") or ()),
                        )
                    )
                except ValueError as exc:
                    raise ScenarioError(f"{where}: {exc}", path=where) from exc
        return tuple(offices)


def _time_limit(value: Any, where: str) -> TimeLimit:
    """`5d` (days from release) or an ISO date (`2026-03-05`, which YAML may already have read as a date)."""
    if isinstance(value, datetime):
        return utc(value).date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    days = _DAYS.fullmatch(text)
    if days:
        return timedelta(days=int(days.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ScenarioError(f"{where} is {value!r}: use days from release (5d) or an ISO date", path=where) from exc


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return utc(value)
    return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _item(number: int, item: Mapping[str, Any], where: str) -> ConsignmentItem:
    packages = item.get("packages") or {}
    net = item.get("net_kg")
    return ConsignmentItem(
        goods_item_number=number,
        declaration_goods_item_number=number,
        description_of_goods=str(required(item, "description", where)),
        harmonized_system_sub_heading_code=str(required(item, "hs", where)),
        gross_mass=decimal(required(item, "gross_kg", where), f"{where}.gross_kg"),
        net_mass=None if net is None else decimal(net, f"{where}.net_kg"),
        packaging=(
            Packaging(
                sequence_number=1,
                type_of_packages=str(packages.get("type", "PK")),
                number_of_packages=int(packages.get("count", 1)),
                shipping_marks=packages.get("marks"),
            ),
        ),
    )
