"""Certificates for the ePhyto tests: a complete 851 and its parts, built once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from lxml import etree

from nodes.ephyto.codec import encode
from nodes.ephyto.model import (
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

REAL_WORLD = Path(__file__).resolve().parent / "data" / "ephyto-real-world.xml"
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
UZ = NppoConfig("UZ", "Agency of Plant Quarantine and Protection", "Tashkent", "B. Karimov")
GE = NppoConfig("GE", "National Food Agency of Georgia", "Tbilisi", "N. Beridze")
AZ = NppoConfig("AZ", "Food Safety Agency", "Baku", "R. Aliyev")

APPLES = TradeLine(
    1,
    ("Fresh apples",),
    ("Apple",),
    ("Malus domestica",),
    ("Consumption",),
    net_weight=Measure(Decimal("18000"), "KGM"),
    gross_weight=Measure(Decimal("19200"), "KGM"),
    notes=(Note("DMTLIL", ("FF-APL-2026-03",)),),
    classifications=(
        Classification("HS", "080810"),
        Classification("IPPCPCVP", names=("Fruits",)),
        Classification("IPPCPCC", names=("Fresh",)),
    ),
    packages=(Package("1", "CT", Decimal("1200")),),
    origins=(Country("UZ", subdivision="Fergana"),),
    treatments=(
        Treatment(
            duration=Measure(Decimal("240"), "HUR"),
            characteristics=(
                Characteristic(("TTL1", "Physical")),
                Characteristic(("TTL2", "Cold treatment")),
                Characteristic(("TTTM",), Measure(Decimal("1"), "CEL")),
                Characteristic(("TTFT", "Cold treatment at 1 °C for 10 days")),
            ),
        ),
    ),
)


def draft(number: str = "UZ-PC-2026-000101", *, to: str = "GE", line: TradeLine = APPLES) -> Certificate:
    """A certificate as a scenario drafts it: goods and parties, no issuer, status or signature yet."""
    return Certificate(
        number=number,
        type_code="851",
        status_code=None,
        issued=None,
        issuer=None,
        signatory=Signatory(None, None, clauses=(Clause("1", ("Certified.",)), Clause("2", ("Pest free.",)))),
        consignor=Party("Fergana Fruit JSC", Address(("7 Mustaqillik Street", "150100 Fergana"), country="UZ")),
        consignee=Party("Black Sea Logistics Ltd", Address(("3 Davit Aghmashenebeli Street",), country="GE")),
        export_country=Country("UZ"),
        import_country=Country(to),
        transit_countries=(Country("AZ"),),
        point_of_entry=Location("Red Bridge", "GERBR"),
        transports=(Transport("3", "Road"),),
        equipment=(Equipment("CAIU5550017", ("UZ-SEAL-000501",)),),
        notes=(Note("ADEDL", ("Free from Cydia pomonella.",)),),
        items=(line,),
    )


def issued(number: str = "UZ-PC-2026-000101") -> Certificate:
    """The same certificate as UZ's NPPO issues it."""
    return replace(
        draft(number),
        status_code="70",
        issued="2026-03-02T08:00:00Z",
        issuer=UZ.name,
        signatory=Signatory(UZ.place, UZ.officer, "2026-03-02T08:00:00Z",
                            (Clause("1", ("Certified.",)), Clause("2", ("Pest free.",)))),
    )


def xml(certificate: Certificate) -> bytes:
    return etree.tostring(encode(certificate))
