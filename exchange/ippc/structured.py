"""The structured certificates of DeliverPhytoEnvelope (and decisions of DeliverCountryResponseEnvelope), back to
SPSCertificate 17 (SPSAcknowledgement 17) documents.

The Hub's WSDL models the certificate as objects (hub-types.xml, schemas 3-5), so a client generated from
it serialises some dates as `xs:anyType` with an `xsi:type` naming the Hub's class, may send nil
elements, and writes the transport equipment's and seals' IDs unqualified, as the model declares them.
The hub turns that into the document an importer reads: `xsi:` attributes gone, nil elements gone (no
value), those IDs in the RAM namespace, namespace declarations tidied.

A certificate that carries its own XMLDSig is taken byte for byte instead: changing a signed document
would break its signature, and its signer answers for its shape.
"""

from __future__ import annotations

import copy

from lxml import etree

__all__ = ["document_text"]

_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"
_UNQUALIFIED_IDS = ("UtilizedSPSTransportEquipment", "AffixedSPSSeal")


def document_text(certificate: etree._Element) -> str:
    """A certificate (or import decision) inside a Hub envelope as the XML text the Hub delivers."""
    if certificate.find(_DSIG) is not None:
        return etree.tostring(certificate, encoding="unicode")
    document = copy.deepcopy(certificate)
    for element in list(document.iter()):
        if not isinstance(element.tag, str):
            continue
        if element.get(f"{{{_XSI}}}nil") == "true":
            parent = element.getparent()
            if parent is not None:
                parent.remove(element)
            continue
        for attribute in [name for name in element.attrib if name.startswith(f"{{{_XSI}}}")]:
            del element.attrib[attribute]
        if element.tag == "ID" and etree.QName(element.getparent()).localname in _UNQUALIFIED_IDS:
            element.tag = f"{{{_RAM}}}ID"
    etree.cleanup_namespaces(document, top_nsmap={"ram": _RAM})
    return etree.tostring(document, encoding="unicode")
