"""caravan's Hub contract, `schemas/ippc/hub-types.xml`, read once: what the WSDL serves and what the code
lists are rendered from.

Each request's operation element is checked against these types (`check_request`), and the code-list
answers take their element names and field order from the contract's types (a
`GetUnitMeasuresResponse` holds `UnitMeasure` items of type `unitMeasure`, whose children come in the
order declared there), so the answers cannot drift from the WSDL a client was generated from.
"""

from __future__ import annotations

import re
from functools import cache

import xmlschema
from lxml import etree

from exchange.errors import ProtocolError
from exchange.ippc.entities import SERVICE_NS
from exchange.validation import SCHEMAS

__all__ = ["TYPES", "check_request", "item_shape", "types_element"]

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


@cache
def _request_schema() -> xmlschema.XMLSchema10:
    """The contract's seven schemas as one schema set (xmlschema resolves their imports among themselves)."""
    return xmlschema.XMLSchema10([etree.tostring(schema, encoding="unicode")
                                  for schema in types_element().findall(f"{{{_XS}}}schema")])


def check_request(request: etree._Element) -> None:
    """An operation's request element against the contract's types, or ProtocolError (rule `request-schema`)
    naming the place and the reason. A client generated from the WSDL never sends a field in another namespace,
    out of order, missing or unknown; the Hub reads such a field as absent, so it must not pass here."""
    error = next(iter(_request_schema().iter_errors(request)), None)
    if error is not None:
        name = etree.QName(request).localname
        where = _NAMESPACE.sub("", error.path or "") or f"/{name}"
        raise ProtocolError(f"{name} does not follow the Hub's WSDL at {where}: {error.reason}", document=name,
                            path=where, rule="request-schema")


_NAMESPACE = re.compile(r"\{[^}]*\}|[A-Za-z_][\w.-]*:(?=[A-Za-z_])")
"""A step's namespace in a path, as `{uri}` or `prefix:`: the place is named by local names, as elsewhere."""
