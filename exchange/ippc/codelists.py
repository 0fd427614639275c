"""The ePhyto code lists, one file for everyone who needs a code: `schemas/ephyto/codelists.xml`.

Three readers, one source, so they cannot drift apart:
1. the Mapping rules of the ePhyto Schematron read the file with XSLT `document()` (the third validation
   layer, after the XSD and the MandatoryElements rules);
2. the IPPC Hub face answers GetUnitMeasures, GetPackageTypes, ... from the lists that name it in
   `served-by` (a code a Hub client fetched is therefore a code ValidatePhytoXML accepts);
3. the scenario reader takes the certifying statements and the treatment hierarchy from here.

An item's attributes are named as the Hub's item fields; `active`, `lang`, `lastModified` and
`lastModifiedBy` fall back to the values on the root element.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from lxml import etree

from exchange.validation import SCHEMAS

__all__ = ["CODELISTS", "CodeItem", "CodeList", "code_list", "served_lists"]

CODELISTS = SCHEMAS / "ephyto" / "codelists.xml"
NS = "urn:caravan:ephyto:codelists:1"
_DEFAULTS = ("active", "lang", "lastModified", "lastModifiedBy")


@dataclass(frozen=True)
class CodeItem:
    """One code with its fields, as the Hub names them (`code`, `name`, `modeCode`, `parentCode`, ...)."""

    fields: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.fields.get(name)

    @property
    def active(self) -> bool:
        return self.fields.get("active", "true") != "false"

    def matches(self, value: str) -> bool:
        """Whether a certificate's value names this item: by code, or by the words of its name or description."""
        return value.strip() in {self.fields.get(key) for key in ("code", "name", "description")} - {None}


@dataclass(frozen=True)
class CodeList:
    id: str
    served_by: str | None  # the Hub operation that answers with this list
    items: tuple[CodeItem, ...]

    def active_items(self) -> tuple[CodeItem, ...]:
        return tuple(item for item in self.items if item.active)

    def find(self, value: str, **fields: str) -> CodeItem | None:
        """The active item `value` names whose fields also equal `fields` (e.g. level="2")."""
        return next((item for item in self.active_items()
                     if item.matches(value) and all(item.get(k) == v for k, v in fields.items())), None)


@cache
def _lists() -> Mapping[str, CodeList]:
    root = etree.parse(str(CODELISTS), etree.XMLParser(remove_comments=True, resolve_entities=False)).getroot()
    defaults = {"active": "true", **{name: root.get(name) for name in _DEFAULTS if root.get(name) is not None}}
    lists = {}
    for element in root.iterfind(f"{{{NS}}}list"):
        items = tuple(CodeItem({**defaults, **dict(item.attrib)}) for item in element.iterfind(f"{{{NS}}}item"))
        lists[element.get("id", "")] = CodeList(element.get("id", ""), element.get("served-by"), items)
    return lists


def code_list(list_id: str) -> CodeList:
    """The list `list_id` (e.g. "unit-measures"); a KeyError names a list the file does not have."""
    return _lists()[list_id]


def served_lists() -> Mapping[str, CodeList]:
    """Hub operation name → the list it answers with."""
    return {lst.served_by: lst for lst in _lists().values() if lst.served_by}
