"""One source for codes: what the Hub face's code-list operations serve is exactly what the Mapping rules accept.

Every code a Hub client fetches (GetUnitMeasures, GetPackageTypes, ...) is put into a certificate in its
place and the certificate goes through ValidatePhytoXML on the same hub: no finding of that list's rule.
A code that is not served gets the rule's finding, so the check is not blind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lxml import etree

from exchange.ippc.codec import child_text
from exchange.ippc.codelists import code_list
from nodes.ephyto.validation import validate_phyto
from tests.ephyto_samples import issued, xml
from tests.ippc_support import deployment

RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"
Placer = Callable[[etree._Element, str], None]


def _ram(name: str) -> str:
    return f"{{{RAM}}}{name}"


def _line(root: etree._Element) -> etree._Element:
    return next(root.iter(_ram("IncludedSPSTradeLineItem")))


def _unit(root: etree._Element, code: str) -> None:
    next(root.iter(_ram("NetWeightMeasure"))).set("unitCode", code)


def _package(root: etree._Element, code: str) -> None:
    next(_line(root).iter(_ram("PhysicalSPSPackage"))).find(_ram("TypeCode")).text = code  # type: ignore[union-attr]


def _mode(root: etree._Element, code: str) -> None:
    next(root.iter(_ram("ModeCode"))).text = code


def _use(root: etree._Element, code: str) -> None:
    next(root.iter(_ram("IntendedUse"))).text = code


def _classified(system: str) -> Placer:
    def place(root: etree._Element, code: str) -> None:
        for classification in root.iter(_ram("ApplicableSPSClassification")):
            if classification.findtext(_ram("SystemName")) == system:
                classification.find(_ram("ClassName")).text = code  # type: ignore[union-attr]

    return place


def _characteristic(subject: str) -> Placer:
    def place(root: etree._Element, code: str) -> None:
        characteristic = next(root.iter(_ram("ApplicableSPSProcessCharacteristic")))
        for description in list(characteristic):
            characteristic.remove(description)
        etree.SubElement(characteristic, _ram("Description")).text = subject
        etree.SubElement(characteristic, _ram("Description")).text = code

    return place


def _statement(root: etree._Element, code: str) -> None:
    next(root.iter(_ram("IncludedSPSClause"))).find(_ram("ID")).text = code  # type: ignore[union-attr]


# operation, the field of its items that a certificate carries, where it goes, a value no list has
LISTS: tuple[tuple[str, str, Placer, str], ...] = (
    ("GetUnitMeasures", "code", _unit, "KGX"),
    ("GetPackageTypes", "code", _package, "ZQ"),
    ("GetMeanOfTransports", "modeCode", _mode, "12"),
    ("GetIntendedUses", "name", _use, "Juggling"),
    ("GetProductDescriptions", "name", _classified("IPPCPCVP"), "Fruit"),
    ("GetConditions", "name", _classified("IPPCPCC"), "Pickled"),
    ("GetPesticides", "description", _characteristic("TTCH"), "DDT"),
)


async def test_every_served_code_is_accepted_by_validate_phyto_xml_and_others_are_not(tmp_path: Path) -> None:
    template = xml(issued())
    async with deployment(tmp_path, validator=validate_phyto) as hub:
        client = await hub.client("uz")
        for operation, field, place, wrong in LISTS:
            codes = [child_text(item, field) or "" for item in await client.call(operation)]
            assert codes, operation
            for code in codes:
                root = etree.fromstring(template)
                place(root, code)
                assert await client.validate_phyto(etree.tostring(root).decode()) == [], (operation, code)
            root = etree.fromstring(template)
            place(root, wrong)
            findings = await client.validate_phyto(etree.tostring(root).decode())
            assert [finding.area for finding in findings] == ["Mapping"], (operation, wrong, findings)


def test_treatment_types_and_statements_are_served_as_the_rules_read_them() -> None:
    """Level-2 treatment types sit under a level-1 parent, and each level validates in its own place; an 851's
    statements validate, a clause the list does not have does not."""
    types = code_list("treatment-types").active_items()
    level_one = {item.get("code") for item in types if item.get("level") == "1"}
    assert all(item.get("parentCode") in level_one for item in types if item.get("level") == "2")
    template = xml(issued())
    for item in types:
        subject = "TTL1" if item.get("level") == "1" else "TTL2"
        root = etree.fromstring(template)
        _characteristic(subject)(root, str(item.get("description")))
        assert validate_phyto(etree.tostring(root)) == [], item.fields
    statements = [item.get("code") for item in code_list("statements").active_items()
                  if item.get("docTypeOnly") == "851"]
    for code in statements:
        root = etree.fromstring(template)
        _statement(root, str(code))
        assert validate_phyto(etree.tostring(root)) == []
    root = etree.fromstring(template)
    _statement(root, "7")
    assert [issue.rule for issue in validate_phyto(etree.tostring(root))] == ["EPH-C19"]
