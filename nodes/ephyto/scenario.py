"""Reading the ePhyto parts of a scenario: each node's NPPO and the certificates under `certificates:`.

A scenario speaks of goods the way an inspector fills in a form (`net_kg: "18000"`, `packages: {type: CT,
count: 1200}`, `class: Fruits`); this module turns that into `nodes.ephyto.model` data with the IPPC's
conventions: HS in ClassCode, the commodity class under IPPCPCVP and the condition under IPPCPCC,
additional declarations as ADEDL notes, treatments as ZZZ processes described by TTL1/TTL2/TTFT, package
counts as level-1 packages. The NPPO adds its own part (issuer, status, dates, signatory) when it issues.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from exchange.errors import ScenarioError
from exchange.ippc.codelists import code_list
from exchange.scenario import Scenario, decimal, required
from nodes.ephyto.model import (
    PHYTOSANITARY,
    REEXPORT,
    Address,
    Certificate,
    Characteristic,
    Classification,
    Clause,
    Country,
    Equipment,
    Location,
    Measure,
    Note,
    Package,
    Party,
    Signatory,
    TradeLine,
    Transport,
    Treatment,
)
from nodes.ephyto.nppo import NppoConfig

__all__ = ["EphytoScenario", "certifying_statements"]

def certifying_statements(type_code: str) -> tuple[Clause, ...]:
    """The certifying statements of a certificate type, from the code lists (GetStatements serves the same):
    for an 851 the two of the ISPM 12 model certificate."""
    statements = code_list("statements").active_items()
    return tuple(Clause(str(item.get("code")), (str(item.get("text")),)) for item in statements
                 if item.get("docTypeOnly") in (type_code, "0"))


_TYPES = {"phytosanitary": PHYTOSANITARY, "851": PHYTOSANITARY, "re-export": REEXPORT, "657": REEXPORT}


class EphytoScenario:
    """The ePhyto view of one scenario, shared by every node's desk."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        raw = scenario.raw.get("certificates") or {}
        if not isinstance(raw, Mapping):
            raise ScenarioError("certificates must map certificate keys to certificates", path="certificates")
        self._certificates: Mapping[str, Mapping[str, Any]] = raw

    def nppo(self, node_id: str) -> NppoConfig:
        spec = self.scenario.nodes[node_id]
        nppo = spec.data.get("nppo") or {}
        return NppoConfig(
            country=spec.country,
            name=str(nppo.get("name", f"National Plant Protection Organization of {spec.country}")),
            place=str(nppo.get("place", spec.name)),
            officer=str(nppo.get("officer", f"Authorised officer, NPPO {spec.country}")),
        )

    def spec(self, key: str) -> Mapping[str, Any]:
        spec = self._certificates.get(key)
        if not isinstance(spec, Mapping):
            raise ScenarioError(f"certificate {key!r} is not defined under 'certificates'", path=f"certificates.{key}")
        return spec

    def number(self, reference: str) -> str:
        """A certificate's number from its scenario key, or `reference` itself when it is a number already."""
        spec = self._certificates.get(reference)
        return str(spec["number"]) if isinstance(spec, Mapping) and "number" in spec else reference

    def key_of(self, number: str) -> str:
        for key, spec in self._certificates.items():
            if isinstance(spec, Mapping) and str(spec.get("number")) == number:
                return str(key)
        return number

    def certificate(self, key: str, exporter: str) -> Certificate:
        """The draft of certificate `key` as the NPPO of `exporter` (a country) will issue it."""
        spec = self.spec(key)
        where = f"certificates.{key}"
        kind = str(spec.get("type", "phytosanitary"))
        if kind not in _TYPES:
            raise ScenarioError(f"{where}.type is {kind!r}; use phytosanitary or re-export", path=f"{where}.type")
        statements = certifying_statements(PHYTOSANITARY)
        return Certificate(
            number=str(required(spec, "number", where)),
            type_code=_TYPES[kind],
            status_code=None,
            issued=None,
            issuer=None,
            signatory=Signatory(None, None, clauses=() if _TYPES[kind] == REEXPORT else statements),
            consignor=_party(required(spec, "consignor", where), f"{where}.consignor"),
            consignee=_party(required(spec, "consignee", where), f"{where}.consignee"),
            export_country=Country(exporter),
            import_country=Country(str(required(spec, "to", where))),
            transit_countries=tuple(Country(str(country)) for country in spec.get("transit") or ()),
            point_of_entry=_location(spec.get("point_of_entry")),
            transports=tuple(
                Transport(str(entry.get("mode", "3")), entry.get("means"), entry.get("id"))
                for entry in _listed(spec.get("transport"))
            ),
            equipment=tuple(
                Equipment(str(entry["id"]), tuple(str(seal) for seal in entry.get("seals") or ()))
                for entry in spec.get("containers") or ()
            ),
            notes=tuple(Note("ADEDL", (str(text),)) for text in spec.get("declarations") or ())
            + ((Note("ADDIEDL", (str(spec["inspected"]),)),) if spec.get("inspected") else ()),
            items=tuple(
                _line(number, item, f"{where}.items[{number - 1}]")
                for number, item in enumerate(required(spec, "items", where), start=1)
            ),
        )


def _listed(value: Any) -> list[Any]:
    """One value or a list of them, as a list (`common_name: Apple` or `common_name: [Apple, Pomme]`)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _party(spec: Mapping[str, Any], where: str) -> Party:
    lines = spec.get("address") or []
    lines = [lines] if isinstance(lines, str) else lines
    return Party(
        name=str(required(spec, "name", where)),
        address=Address(tuple(str(line) for line in lines), country=spec.get("country")),
    )


def _location(spec: Any) -> Location | None:
    if not spec:
        return None
    if isinstance(spec, str):
        return Location(spec)
    return Location(str(spec.get("name")), spec.get("locode"))


def _kg(item: Mapping[str, Any], key: str, where: str) -> Measure | None:
    value = item.get(key)
    return None if value is None else Measure(decimal(value, f"{where}.{key}"), "KGM")


def _line(number: int, item: Mapping[str, Any], where: str) -> TradeLine:
    """One trade line; its treatments are its own (SPS: AppliedSPSTreatment sits in the trade line item)."""
    packages = item.get("packages") or {}
    classifications = (
        *((Classification("HS", str(item["hs"])),) if item.get("hs") else ()),
        *((Classification("IPPCPCVP", names=(str(item["class"]),)),) if item.get("class") else ()),
        *((Classification("IPPCPCC", names=(str(item["condition"]),)),) if item.get("condition") else ()),
    )
    return TradeLine(
        sequence=number,
        descriptions=(str(required(item, "description", where)),),
        common_names=tuple(str(name) for name in _listed(item.get("common_name"))),
        scientific_names=tuple(str(name) for name in _listed(item.get("scientific_name"))),
        intended_uses=tuple(str(use) for use in _listed(item.get("intended_use"))),
        net_weight=_kg(item, "net_kg", where),
        gross_weight=_kg(item, "gross_kg", where),
        notes=(Note("DMTLIL", (str(item["marks"]),)),) if item.get("marks") else (),
        classifications=classifications,
        packages=(
            (Package("1", str(packages.get("type", "PK")), decimal(packages.get("count", 1), f"{where}.packages")),)
            if packages else ()
        ),
        origins=(Country(str(required(item, "origin", where)), subdivision=item.get("region")),),
        treatments=tuple(_treatment(entry) for entry in _listed(item.get("treatment"))),
    )


def _treatment(spec: Mapping[str, Any]) -> Treatment:
    """The treatment type as the code lists rank it (a level-2 type goes in TTL2 under its level-1 parent in
    TTL1), then TTFT in full (the IPPC recommends always sending it)."""
    named = str(spec.get("type", "Other"))
    types = code_list("treatment-types")
    detail = types.find(named, level="2")
    parent = None if detail is None else types.find(str(detail.get("parentCode")), level="1")
    if detail is not None and parent is not None:
        characteristics = [Characteristic(("TTL1", str(parent.get("description")))),
                           Characteristic(("TTL2", str(detail.get("description"))))]
    else:
        characteristics = [Characteristic(("TTL1", named))]
    if spec.get("temperature_c") is not None:
        characteristics.append(Characteristic(("TTTM",), Measure(Decimal(str(spec["temperature_c"])), "CEL")))
    if spec.get("text"):
        characteristics.append(Characteristic(("TTFT", str(spec["text"]))))
    duration = spec.get("duration_h")
    return Treatment(
        "ZZZ",
        start=spec.get("start"),
        end=spec.get("end"),
        duration=None if duration is None else Measure(Decimal(str(duration)), "HUR"),
        characteristics=tuple(characteristics),
    )
