"""The WSDL served at `?wsdl`: the types of `schemas/ippc/hub-types.xml`, and per operation of the table a
message pair, a port-type operation and a document/literal SOAP 1.1 binding, all faulting HubWebException.

Names follow the Hub's contract (service `DeliveryService`, port type `IDeliveryService`, port
`IDeliveryServiceImplPort`), so a client generated from the Hub's WSDL and one reading this one send
the same bytes.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from exchange.ippc.entities import ENTITIES_NS, SERVICE_NS
from exchange.ippc.operations import OPERATIONS
from exchange.validation import SCHEMAS

__all__ = ["wsdl"]

_WSDL = "http://schemas.xmlsoap.org/wsdl/"
_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
_TYPES = SCHEMAS / "ippc" / "hub-types.xml"
_FAULT = "HubWebException"


def _w(name: str) -> str:
    return f"{{{_WSDL}}}{name}"


def _s(name: str) -> str:
    return f"{{{_SOAP}}}{name}"


@cache
def _definitions() -> bytes:
    # `svc` is declared here too: the types use it inside attribute values (type="svc:…"), which lxml
    # does not see when it merges the types' declarations into their ancestors' on append.
    namespaces = {"wsdl": _WSDL, "soap": _SOAP, "tns": SERVICE_NS, "svc": SERVICE_NS, "ent": ENTITIES_NS}
    root = etree.Element(_w("definitions"), nsmap=namespaces, name="DeliveryService", targetNamespace=SERVICE_NS)
    root.append(etree.parse(str(_TYPES), etree.XMLParser(remove_comments=True)).getroot())
    messages = [(name, f"{name}Response") for name in OPERATIONS]
    for request, response in messages:
        for message in (request, response):
            etree.SubElement(etree.SubElement(root, _w("message"), name=message), _w("part"),
                             name="parameters", element=f"tns:{message}")
    etree.SubElement(etree.SubElement(root, _w("message"), name=_FAULT), _w("part"),
                     name=_FAULT, element=f"tns:{_FAULT}")
    port_type = etree.SubElement(root, _w("portType"), name="IDeliveryService")
    binding = etree.SubElement(root, _w("binding"), name="DeliveryServiceSoapBinding", type="tns:IDeliveryService")
    etree.SubElement(binding, _s("binding"), style="document", transport="http://schemas.xmlsoap.org/soap/http")
    for operation in OPERATIONS.values():
        abstract = etree.SubElement(port_type, _w("operation"), name=operation.name)
        etree.SubElement(abstract, _w("input"), name=operation.name, message=f"tns:{operation.name}")
        etree.SubElement(abstract, _w("output"), name=f"{operation.name}Response",
                         message=f"tns:{operation.name}Response")
        etree.SubElement(abstract, _w("fault"), name=_FAULT, message=f"tns:{_FAULT}")
        bound = etree.SubElement(binding, _w("operation"), name=operation.name)
        etree.SubElement(bound, _s("operation"), soapAction=operation.soap_action, style="document")
        for kind, name in (("input", operation.name), ("output", f"{operation.name}Response")):
            etree.SubElement(etree.SubElement(bound, _w(kind), name=name), _s("body"), use="literal")
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
