"""ValidatePhytoXML for caravan: one call, the IPPC Hub's three areas.

The areas live where every family's rules live (`schemas/ephyto/`: the XSD for Schema, the Schematron
`role`s for MandatoryElements, Mapping and the Schema warnings about NULL values, empty elements and
late reference documents), so `exchange.validation.validate` already answers them for a parsed root:
`caravan validate`, the hub and node intake need nothing ePhyto-specific. This module adds what a
Hub-style service gets that a parsed root does not have: raw bytes, which may be base64 (the Hub's
`Content` is sometimes sent encoded), malformed, hostile, or another document altogether.
"""

from __future__ import annotations

import base64
import binascii

from lxml import etree

from exchange.errors import DocumentError, Issue
from exchange.safexml import parse_document
from exchange.validation import validate
from nodes.ephyto.codec import SPS_NS

__all__ = ["validate_phyto"]

_ROOT = f"{{{SPS_NS}}}SPSCertificate"


def validate_phyto(data: bytes) -> list[Issue]:
    """Every finding about one ePhyto, each with area (Schema, MandatoryElements, Mapping), path and level.

    Unreadable bytes give one SEVERE Schema issue at "/". Schema errors come alone (the rules assume
    the structure holds); a schema-valid certificate gets its MandatoryElements and Mapping findings
    and the Schema warnings. [] means valid without remarks.
    """
    try:
        root = parse_document(_xml(data))
    except DocumentError as error:
        return [Issue("Schema", "/", error.message, error.rule or "not-well-formed")]
    if root.tag != _ROOT:
        name = etree.QName(root)
        return [Issue("Schema", f"/{name.localname}", f"{name.text} is not an SPSCertificate 17",
                      "unknown-document-type")]
    return validate(root)


def _xml(data: bytes) -> bytes:
    """`data`, or what it decodes to when it is base64 rather than XML."""
    stripped = data.strip()
    if stripped.startswith(b"<"):
        return data
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        return data
    return decoded if decoded.strip().startswith(b"<") else data
