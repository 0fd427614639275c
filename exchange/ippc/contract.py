"""caravan's Hub contract, `schemas/ippc/hub-types.xml`, read once: what the WSDL serves and what the code
lists are rendered from.

The code-list answers take their element names and field order from the contract's types (a
`GetUnitMeasuresResponse` holds `UnitMeasure` items of type `unitMeasure`, whose children come in the
order declared there), so the answers cannot drift from the WSDL a client was generated from.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from exchange.ippc.entities import SERVICE_NS
from exchange.validation import SCHEMAS

__all__ = ["TYPES", "item_shape", "types_element"]

TYPES = SCHEMAS / "ippc" / "hub-types.xml"
_XS = "http://www.w3.org/2001/XMLSchema"
_NS = {"xs": _XS}


@cache
def types_element() -> etree._Element:
    """The `wsdl:types` element (comments removed), to be copied into the served WSDL."""
    return etree.parse(str(TYPES), etree.XMLParser(remove_comments=True)).getroot()


def _service_type(name: str) -> etree._Element:
    found = types_element().xpath(
        "xs:schema[@targetNamespace = $ns]/xs:complexType[@name = $name]", namespaces=_NS, ns=SERVICE_NS, name=name
    )
    if not found:
        raise KeyError(f"the Hub contract declares no complexType {name} in {SERVICE_NS}")
    return found[0]


@cache
def item_shape(operation: str) -> tuple[str, tuple[str, ...]]:
    """For a code-list operation: the name of its response's item element and the item's fields, in order."""
    response = _service_type(f"{operation}Response")
    item = response.find("xs:sequence/xs:element", _NS)
    assert item is not None, f"{operation}Response has no item element"
    item_type = _service_type(str(item.get("type")).split(":", 1)[-1])
    fields = tuple(str(field.get("name")) for field in item_type.iter(f"{{{_XS}}}element"))
    return str(item.get("name")), fields
