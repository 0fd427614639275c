"""Two WSDLs compared by what they mean, not how they are written: the canonical form of every schema
component (global elements, complex and simple types with enumerations, effective element forms, defaults
made explicit, QNames resolved) and of every operation (messages, SOAPAction, WS-Addressing actions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

REAL_WSDL = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ippc-hub" / "ephyto-hub-prod.wsdl"

XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
WSAM = "{http://www.w3.org/2007/05/addressing/metadata}Action"
WSAW = "{http://www.w3.org/2006/05/addressing/wsdl}Action"
_NS = {"xs": XS, "wsdl": WSDL, "soap": SOAP}


def real_wsdl() -> etree._Element:
    """The IPPC Hub's published WSDL, or a skip saying where it was looked for."""
    if not REAL_WSDL.is_file():
        pytest.skip(f"the real Hub WSDL is not here ({REAL_WSDL}); it lives in ../shared/reference/ippc-hub/")
    return etree.parse(str(REAL_WSDL)).getroot()


def _qname(element: etree._Element, value: str | None) -> str | None:
    if value is None:
        return None
    prefix, _, local = value.rpartition(":")
    return etree.QName(element.nsmap.get(prefix or None), local).text


def _occurs(element: etree._Element) -> tuple[str, str]:
    return element.get("minOccurs", "1"), element.get("maxOccurs", "1")


class _Schema:
    def __init__(self, schema: etree._Element) -> None:
        self.tns = schema.get("targetNamespace")
        self.elements_qualified = schema.get("elementFormDefault") == "qualified"
        self.attributes_qualified = schema.get("attributeFormDefault") == "qualified"

    def particle(self, node: etree._Element) -> Any:
        tag = etree.QName(node).localname
        if tag == "element":
            if node.get("ref"):
                return ("ref", _qname(node, node.get("ref")), _occurs(node))
            form = node.get("form")
            qualified = form == "qualified" if form else self.elements_qualified
            name = etree.QName(self.tns if qualified else None, node.get("name")).text
            return ("element", name, _qname(node, node.get("type")), node.get("nillable", "false"), _occurs(node),
                    self.content(node))
        if tag == "attribute":
            form = node.get("form")
            qualified = form == "qualified" if form else self.attributes_qualified
            name = etree.QName(self.tns if qualified else None, node.get("name")).text
            return ("attribute", name, _qname(node, node.get("type")), node.get("use", "optional"),
                    node.get("default"), node.get("fixed"))
        if tag in ("sequence", "choice", "all"):
            return (tag, _occurs(node), self.content(node))
        if tag in ("extension", "restriction"):
            return (tag, _qname(node, node.get("base")), self.content(node))
        if tag == "enumeration":
            return ("enumeration", node.get("value"))
        return (tag, self.content(node))

    def content(self, node: etree._Element) -> tuple[Any, ...]:
        """Children in order, except attributes (a set) and empty sequences (no content either way)."""
        children = [child for child in node if isinstance(child.tag, str)
                    and etree.QName(child).localname not in ("annotation", "import")
                    and not (etree.QName(child).localname == "sequence" and len(child) == 0)]
        ordered = [self.particle(child) for child in children if etree.QName(child).localname != "attribute"]
        attributes = sorted(self.particle(child) for child in children if etree.QName(child).localname == "attribute")
        return (*ordered, *attributes)


def components(wsdl: etree._Element) -> dict[tuple[str, str], Any]:
    """(kind, {namespace}name) → canonical form, for every global of every schema under wsdl:types."""
    found: dict[tuple[str, str], Any] = {}
    for schema in wsdl.iterfind("wsdl:types/xs:schema", _NS):
        reader = _Schema(schema)
        for node in schema:
            if not isinstance(node.tag, str):
                continue
            kind = etree.QName(node).localname
            if kind in ("element", "complexType", "simpleType"):
                key = (kind, etree.QName(reader.tns, node.get("name")).text)
                assert key not in found, f"{key} declared twice"
                attributes = {name: node.get(name) for name in ("abstract", "mixed") if node.get(name)}
                typed = _qname(node, node.get("type")) if kind == "element" else None
                found[key] = (typed, node.get("nillable", "false"), attributes, reader.content(node))
    return found


def operations(wsdl: etree._Element) -> dict[str, Any]:
    """Operation → its messages' elements, its SOAPAction and style, and its WS-Addressing actions."""
    messages = {
        message.get("name"): tuple(_qname(part, part.get("element")) for part in message.iterfind("wsdl:part", _NS))
        for message in wsdl.iterfind("wsdl:message", _NS)
    }
    bound = {
        operation.get("name"): operation
        for operation in wsdl.iterfind("wsdl:binding/wsdl:operation", _NS)
    }
    found = {}
    for operation in wsdl.iterfind("wsdl:portType/wsdl:operation", _NS):
        name = operation.get("name")
        io = {}
        for kind in ("input", "output", "fault"):
            for element in operation.iterfind(f"wsdl:{kind}", _NS):
                message = (_qname(element, element.get("message")) or "").rpartition("}")[2]
                io[kind] = (element.get("name"), messages.get(message), element.get(WSAM), element.get(WSAW))
        binding = bound[name]
        soap = binding.find("soap:operation", _NS)
        uses = tuple(body.get("use") for body in binding.iterfind(".//soap:body", _NS))
        found[name] = (io, soap.get("soapAction") if soap is not None else None,
                       soap.get("style") if soap is not None else None, uses)
    return found


def names(wsdl: etree._Element) -> dict[str, Any]:
    """The service, port, port type and binding names and the binding's style and transport."""
    binding = wsdl.find("wsdl:binding", _NS)
    soap_binding = binding.find("soap:binding", _NS) if binding is not None else None
    port = wsdl.find("wsdl:service/wsdl:port", _NS)
    return {
        "targetNamespace": wsdl.get("targetNamespace"),
        "service": wsdl.find("wsdl:service", _NS).get("name"),  # type: ignore[union-attr]
        "port": port.get("name") if port is not None else None,
        "portType": wsdl.find("wsdl:portType", _NS).get("name"),  # type: ignore[union-attr]
        "binding": binding.get("name") if binding is not None else None,
        "style": soap_binding.get("style") if soap_binding is not None else None,
        "transport": soap_binding.get("transport") if soap_binding is not None else None,
    }
