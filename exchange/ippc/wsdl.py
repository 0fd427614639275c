"""The WSDL served at `?wsdl`: the contract's types (`schemas/ippc/hub-types.xml`) and, per operation of the
table, a request and a response message, a port-type operation with its WS-Addressing actions (wsam and
wsaw, as the Hub's WSDL states them), and a document/literal SOAP 1.1 binding, all faulting HubWebException.

Names follow the Hub's contract (service `DeliveryService`, port type `IDeliveryService`, binding
`DeliveryServiceSoapBinding`, port `IDeliveryServiceImplPort`), so a client generated from the Hub's WSDL
and one generated from this one are the same code and send the same bytes.
"""

from __future__ import annotations

import copy
from functools import cache

from lxml import etree

from exchange.ippc.contract import types_element
from exchange.ippc.entities import SERVICE_NS
from exchange.ippc.operations import OPERATIONS

__all__ = ["wsdl"]

_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_WSAM = "http://www.w3.org/2007/05/addressing/metadata"
_WSAW = "http://www.w3.org/2006/05/addressing/wsdl"
_HTTP = "http://schemas.xmlsoap.org/soap/http"
_FAULT = "HubWebException"


def _w(name: str) -> str:
    return f"{{{_WSDL}}}{name}"


def _s(name: str) -> str:
    return f"{{{_SOAP}}}{name}"


def _actions(element: etree._Element, action: str, *, wsaw: bool = True) -> None:
    element.set(f"{{{_WSAM}}}Action", action)
    if wsaw:
        element.set(f"{{{_WSAW}}}Action", action)


@cache
def _definitions() -> bytes:
    # The types' own prefixes are declared here as well: their attribute values (type="eph:...") use them,
    # and lxml drops a declaration it finds redundant with an ancestor's when an element is appended.
    types = types_element()
    namespaces = {**types.nsmap, "wsdl": _WSDL, "soap": _SOAP, "wsam": _WSAM, "wsaw": _WSAW, "tns": SERVICE_NS}
    root = etree.Element(_w("definitions"), nsmap=namespaces, name="DeliveryService", targetNamespace=SERVICE_NS)
    root.append(copy.deepcopy(types))
    for name in OPERATIONS:
        for message in (name, f"{name}Response"):
            etree.SubElement(etree.SubElement(root, _w("message"), name=message), _w("part"),
                             name="parameters", element=f"tns:{message}")
    etree.SubElement(etree.SubElement(root, _w("message"), name=_FAULT), _w("part"),
                     name=_FAULT, element=f"tns:{_FAULT}")
    port_type = etree.SubElement(root, _w("portType"), name="IDeliveryService")
    binding = etree.SubElement(root, _w("binding"), name="DeliveryServiceSoapBinding", type="tns:IDeliveryService")
    etree.SubElement(binding, _s("binding"), style="document", transport=_HTTP)
    for operation in OPERATIONS.values():
        name = operation.name
        abstract = etree.SubElement(port_type, _w("operation"), name=name)
        _actions(etree.SubElement(abstract, _w("input"), name=name, message=f"tns:{name}"), operation.input_action)
        _actions(etree.SubElement(abstract, _w("output"), name=f"{name}Response", message=f"tns:{name}Response"),
                 operation.output_action)
        _actions(etree.SubElement(abstract, _w("fault"), name=_FAULT, message=f"tns:{_FAULT}"),
                 operation.fault_action, wsaw=False)
        bound = etree.SubElement(binding, _w("operation"), name=name)
        etree.SubElement(bound, _s("operation"), soapAction=operation.soap_action, style="document")
        for kind, message in (("input", name), ("output", f"{name}Response")):
            etree.SubElement(etree.SubElement(bound, _w(kind), name=message), _s("body"), use="literal")
        etree.SubElement(etree.SubElement(bound, _w("fault"), name=_FAULT), _s("fault"), name=_FAULT, use="literal")
    service = etree.SubElement(root, _w("service"), name="DeliveryService")
    port = etree.SubElement(service, _w("port"), name="IDeliveryServiceImplPort",
                            binding="tns:DeliveryServiceSoapBinding")
    etree.SubElement(port, _s("address"), location="LOCATION")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def wsdl(location: str) -> bytes:
    """The WSDL with `location` (the URL it was fetched from, without `?wsdl`) as the service address."""
    return _definitions().replace(b'location="LOCATION"', b'location="' + _escape(location) + b'"', 1)


def _escape(text: str) -> bytes:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").encode("utf-8")
