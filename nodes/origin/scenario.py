"""Reading the e-CO parts of a scenario: authorities, customs and trust lists per node, and the certificates.

Every node reads the same file, so all agree on who the authorities are and which node each signs
through. The scenario speaks the language of people planning a pilot (`hs: "610910"`, `gross_kg:
"4300"`); this module turns it into `nodes.origin.model` data. Sections (see docs/ECO.md):

    nodes: {uz: {country: UZ, eco: {authorities: [...], customs: {id: UZCUSTOMS}, trust: [...]}}}
    eco:
      agreements: {CIS-FTA-1994: {name: ...}}
      certificates: {C1: {number: ..., authority: UZCCI, form: ST-1, agreement: CIS-FTA-1994, import_country: AZ,
                          exporter: {...}, consignee: {...}, items: [...], invoices: [...], ...}}

The top-level section is `eco:` rather than a bare `certificates:`, which the ePhyto family reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from exchange.errors import ScenarioError
from exchange.scenario import Scenario, decimal, required
from nodes.origin.authority import AuthorityConfig
from nodes.origin.customs import CustomsConfig
from nodes.origin.model import (
    NONPREF,
    Address,
    Agreement,
    Certificate,
    CertificateKind,
    Certification,
    ExporterDeclaration,
    GoodsItem,
    Invoice,
    Money,
    Party,
    PartyRef,
    Transport,
)
from nodes.origin.trust import read_authorities, read_trust_list

__all__ = ["VALIDITY_MONTHS", "OriginScenario", "as_date"]

VALIDITY_MONTHS: Mapping[str, int] = {"ST-1": 12, "ST-2": 12, "EAV": 12, "FORM-A": 10, "FORM-D": 12, "FORM-E": 12}
"""How long a certificate of each form is valid from its issue when the scenario does not say (ST-1: 12
months). A non-preferential certificate has no validity of its own."""

DECLARATION = (
    "The undersigned declares that the details above are correct, that the goods were produced in {country} "
    "and that they meet the origin requirements that apply to them."
)
CERTIFICATION = (
    "The issuing body certifies, on the basis of the checks it carried out, that the exporter's declaration is correct."
)


def as_date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ScenarioError(f"{where} is {value!r}, not a date (YYYY-MM-DD)", path=where) from exc


def _party(entry: Mapping[str, Any], country: str, where: str) -> Party:
    address = Address(
        city=str(required(entry, "city", where)),
        country=str(entry.get("country", country)),
        line=entry.get("street"),
        postcode=None if entry.get("postcode") is None else str(entry["postcode"]),
    )
    return Party(str(required(entry, "name", where)), address, None if entry.get("id") is None else str(entry["id"]))


def _add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    try:
        return day.replace(year=day.year + year, month=month + 1)
    except ValueError:  # 29-31 of a month the target month lacks
        return _add_months(day.replace(day=28), months)


class OriginScenario:
    """The e-CO view of one scenario, shared by every node's desk."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._nodes = {node_id: spec.data for node_id, spec in scenario.nodes.items()}
        self.authorities = read_authorities(self._nodes)
        section = scenario.raw.get("eco") or {}
        if not isinstance(section, Mapping):
            raise ScenarioError("eco must be a mapping (agreements, certificates)", path="eco")
        self._agreements = section.get("agreements") or {}
        self._certificates = section.get("certificates") or {}
        if not isinstance(self._certificates, Mapping):
            raise ScenarioError("eco.certificates must map certificate keys to certificates", path="eco.certificates")

    # -- agencies -------------------------------------------------------------------------------------------

    def customs_party(self, node_id: str) -> PartyRef:
        """The customs administration behind `node_id`: `eco.customs.id`, by default `<country>CUSTOMS`."""
        spec = self._nodes[node_id]
        country = str(spec["country"])
        customs = (spec.get("eco") or {}).get("customs") or {}
        party = str(customs.get("id", f"{country}CUSTOMS"))
        if not party.startswith(country):
            raise ScenarioError(f"nodes.{node_id}.eco.customs.id {party!r} must start with {country}",
                                path=f"nodes.{node_id}.eco.customs.id")
        return PartyRef(country, party)

    def authority_config(self, node_id: str) -> AuthorityConfig:
        country = str(self._nodes[node_id]["country"])
        mine = {key: authority for key, authority in self.authorities.items() if authority.node == node_id}
        customs = {str(spec["country"]): self.customs_party(other) for other, spec in self._nodes.items()}
        return AuthorityConfig(country, mine, customs)

    def customs_config(self, node_id: str) -> CustomsConfig:
        signers = {str(spec["country"]): other for other, spec in self._nodes.items()}
        return CustomsConfig(str(self._nodes[node_id]["country"]), self.customs_party(node_id),
                             read_trust_list(self._nodes, node_id), signers)

    # -- certificates ---------------------------------------------------------------------------------------

    def entry(self, key: str) -> Mapping[str, Any]:
        entry = self._certificates.get(key)
        if not isinstance(entry, Mapping):
            raise ScenarioError(f"certificate {key!r} is not defined under 'eco.certificates'",
                                path=f"eco.certificates.{key}")
        return entry

    def number(self, key: str) -> str:
        """The number of certificate `key`, or `key` itself when it is already a number."""
        if key in self._certificates:
            return str(required(self.entry(key), "number", f"eco.certificates.{key}"))
        return key

    def key_of(self, number: str) -> str:
        """The scenario key of certificate `number`, for people reading state; the number when it has none."""
        for key, entry in self._certificates.items():
            if isinstance(entry, Mapping) and str(entry.get("number")) == number:
                return str(key)
        return number

    def certificate(self, key: str, now: datetime, changes: Mapping[str, Any] | None = None) -> Certificate:
        """Version 1 of certificate `key` as issued at `now`; `changes` override top-level fields (amendments)."""
        entry = {**self.entry(key), **(changes or {})}
        where = f"eco.certificates.{key}"
        authority = self.authorities.get(str(required(entry, "authority", where)))
        if authority is None:
            raise ScenarioError(f"{where}.authority {entry['authority']!r} is not listed under any node",
                                path=f"{where}.authority")
        country = authority.country
        form = str(entry.get("form", NONPREF))
        preferential = form != NONPREF
        agreement = self._agreement(entry, where) if preferential else None
        issued = now.date()
        months = VALIDITY_MONTHS.get(form)
        valid_until = entry.get("valid_until")
        declaration = required(entry, "declaration", where)
        certification = required(entry, "certification", where)
        return Certificate(
            number=str(required(entry, "number", where)),
            version=1,
            kind=CertificateKind.ORIGINAL,
            preferential=preferential,
            form=form,
            issued_at=now,
            export_country=country,
            import_country=str(required(entry, "import_country", where)),
            exporter=_party(required(entry, "exporter", where), country, f"{where}.exporter"),
            consignee=_party(required(entry, "consignee", where), str(entry["import_country"]), f"{where}.consignee"),
            authority=Party(authority.name, Address(authority.city or "-", country), authority.id),
            items=tuple(self._item(number, item, country, f"{where}.items[{number - 1}]")
                        for number, item in enumerate(required(entry, "items", where), start=1)),
            invoices=tuple(Invoice(str(required(invoice, "number", f"{where}.invoices[{index}]")),
                                   as_date(required(invoice, "date", f"{where}.invoices[{index}]"),
                                           f"{where}.invoices[{index}].date"))
                           for index, invoice in enumerate(required(entry, "invoices", where))),
            declaration=ExporterDeclaration(
                str(declaration.get("statement", DECLARATION.format(country=country))),
                str(required(declaration, "place", f"{where}.declaration")),
                issued,
                str(required(declaration, "signatory", f"{where}.declaration")),
            ),
            certification=Certification(
                str(certification.get("statement", CERTIFICATION)),
                str(required(certification, "place", f"{where}.certification")),
                issued,
                str(required(certification, "officer", f"{where}.certification")),
                None if certification.get("stamp") is None else str(certification["stamp"]),
            ),
            agreement=agreement,
            valid_until=(as_date(valid_until, f"{where}.valid_until") if valid_until is not None
                         else _add_months(issued, months) if months else None),
            producers=tuple(_party(producer, country, f"{where}.producers[{index}]")
                            for index, producer in enumerate(entry.get("producers") or ())),
            transport=self._transport(entry.get("transport"), f"{where}.transport"),
        )

    def _agreement(self, entry: Mapping[str, Any], where: str) -> Agreement:
        code = str(required(entry, "agreement", where))
        described = self._agreements.get(code)
        if not isinstance(described, Mapping) or not described.get("name"):
            raise ScenarioError(f"{where}.agreement {code!r} is not described under 'eco.agreements' (name)",
                                path=f"{where}.agreement")
        return Agreement(code, str(described["name"]))

    @staticmethod
    def _item(number: int, item: Mapping[str, Any], country: str, where: str) -> GoodsItem:
        packages = item.get("packages") or {}
        fob = item.get("fob")
        net = item.get("net_kg")
        return GoodsItem(
            sequence_number=number,
            package_count=int(packages.get("count", 1)),
            package_type=str(packages.get("type", "PK")),
            description=str(required(item, "description", where)),
            hs_code=str(required(item, "hs", where)),
            origin_country=str(item.get("origin", country)),
            criterion=str(required(item, "criterion", where)),
            gross_weight=decimal(required(item, "gross_kg", where), f"{where}.gross_kg"),
            criterion_detail=None if item.get("detail") is None else str(item["detail"]),
            marks=None if item.get("marks") is None else str(item["marks"]),
            net_weight=None if net is None else decimal(net, f"{where}.net_kg"),
            fob=None if fob is None else Money(decimal(required(fob, "amount", f"{where}.fob"), f"{where}.fob.amount"),
                                               str(fob.get("currency", "USD"))),
            invoice_number=None if item.get("invoice") is None else str(item["invoice"]),
        )

    @staticmethod
    def _transport(entry: Any, where: str) -> Transport | None:
        if not entry:
            return None
        departure = entry.get("departure")
        return Transport(
            mode=str(entry.get("mode", "3")),
            means=None if entry.get("means") is None else str(entry["means"]),
            departure_date=None if departure is None else as_date(departure, f"{where}.departure"),
            loading=entry.get("loading"),
            discharge=entry.get("discharge"),
            transit_countries=tuple(str(country) for country in entry.get("transit") or ()),
            route=entry.get("route"),
        )
