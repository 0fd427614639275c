"""SOAP 1.1 framing: the envelope around one document/literal body element, and HubWebException faults.

Only what the Hub's contract uses: one body element per message (the operation's wrapper), no
headers that must be understood, faults carrying `HubWebException{message}` as their detail.
Inbound bytes go through `safexml` like every other document caravan reads.
"""

from __future__ import annotations

from lxml import etree

from exchange.errors import CaravanError, ProtocolError
from exchange.ippc.codec import NSMAP, child_text, svc
from exchange.safexml import parse_document

__all__ = ["SOAP_NS", "body_element", "envelope", "fault", "raise_for_fault"]

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
CONTENT_TYPE = "text/xml; charset=utf-8"
FAULT = "HubWebException"


def envelope(body: etree._Element) -> bytes:
    """`body` wrapped in a SOAP 1.1 Envelope/Body, serialised as UTF-8."""
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS, **NSMAP})
    etree.SubElement(root, f"{{{SOAP_NS}}}Body").append(body)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def fault(error: CaravanError, *, client: bool) -> bytes:
    """A SOAP 1.1 fault whose detail is the Hub's `HubWebException{message}`.

    `client` says whose fault it is: a request the hub cannot read (soap:Client) or a request the Hub's
    rules refuse (soap:Server, as the Hub's own service exceptions are sent).
    """
    element = etree.Element(f"{{{SOAP_NS}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap:{'Client' if client else 'Server'}"
    etree.SubElement(element, "faultstring").text = error.message
    detail = etree.SubElement(etree.SubElement(element, "detail"), svc(FAULT), nsmap=NSMAP)
    etree.SubElement(detail, svc("message")).text = error.message
    return envelope(element)


def body_element(data: bytes) -> etree._Element:
    """The one element inside a SOAP 1.1 Body; anything else is a ProtocolError naming what is wrong."""
    root = parse_document(data)
    if root.tag == f"{{{SOAP12_NS}}}Envelope":
        raise ProtocolError("SOAP 1.2 is not served here: the Hub speaks SOAP 1.1", path="/Envelope",
                            rule="VersionMismatch")
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise ProtocolError(f"not a SOAP 1.1 Envelope: {etree.QName(root).text}", path="/", rule="soap-envelope")
    body = root.find(f"{{{SOAP_NS}}}Body")
    children = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(children) != 1:
        raise ProtocolError(f"the SOAP Body must hold one element, holds {len(children)}", path="/Envelope/Body",
                            rule="soap-body")
    return children[0]


def raise_for_fault(element: etree._Element, operation: str) -> None:
    """On the client side: turn a received Fault into a ProtocolError carrying the HubWebException message."""
    if element.tag != f"{{{SOAP_NS}}}Fault":
        return
    detail = element.find("detail")
    exception = None if detail is None else next(iter(detail), None)
    message = child_text(exception, "message") if exception is not None else None
    raise ProtocolError(message or child_text(element, "faultstring") or "SOAP fault", document=operation,
                        rule=etree.QName(exception).localname if exception is not None else "soap-fault")
