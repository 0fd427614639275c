"""The one XML parser that every inbound byte goes through.

Partners are other countries' systems and, in scenarios, deliberately hostile ones, so a document is
refused before it can cost anything: oversized input before parsing, any DOCTYPE (which rules out entity
expansion and external entities in one stroke: trade documents never need a DTD), and nesting deeper
than trade documents need. The parser itself never resolves entities, loads DTDs or touches the network,
so even the refused documents are parsed inertly.

`parse_document` returns the root element rather than the tree: everything downstream (signxml, schema
validation, business rules) works on elements, and the tree stays reachable through `getroottree()`.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from exchange.errors import DocumentError

__all__ = ["MAX_BYTES", "MAX_DEPTH", "parse_document"]

MAX_BYTES = 5_000_000
"""Largest document caravan reads: generous for trade documents, small enough to refuse floods unparsed."""

MAX_DEPTH = 64
"""Deepest element nesting caravan reads: generous for trade documents (libxml2 itself stops at 256)."""

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=False,
)
_RESOURCE_LIMIT = etree.ErrorTypes.ERR_RESOURCE_LIMIT


def parse_document(data: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> etree._Element:
    """Parse untrusted bytes into a root element, or raise DocumentError naming the rule broken.

    Rules: "xml-size" (more than `max_bytes`, checked before parsing), "xml-malformed" (not well-formed;
    the message gives line and column), "xml-dtd" (any DOCTYPE), "xml-depth" (elements nested deeper than
    `max_depth`, the root being depth 1).
    """
    if len(data) > max_bytes:
        raise DocumentError(f"document is {len(data)} bytes, more than the {max_bytes} allowed", rule="xml-size")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise _refusal(error, data) from None
    if root.getroottree().docinfo.doctype:
        raise DocumentError("document declares a DOCTYPE; DTDs and entities are not accepted", rule="xml-dtd")
    _check_depth(root, max_depth)
    return root


def _check_depth(root: etree._Element, max_depth: int) -> None:
    too_deep = _too_deep(max_depth)(root)
    if too_deep:
        path = root.getroottree().getpath(too_deep[0])
        raise DocumentError(f"elements nest deeper than {max_depth} levels (at {path})", path=path, rule="xml-depth")


@cache
def _too_deep(max_depth: int) -> etree.XPath:
    """The elements one level below `max_depth`, first in document order: libxml2 walks the levels itself,
    where a walk in Python cost a third of reading a document (comments and PIs have no children: not counted)."""
    return etree.XPath("/*" * (max_depth + 1))


def _refusal(error: etree.XMLSyntaxError, data: bytes) -> DocumentError:
    """Name the rule broken by a document that libxml2 gave up on.

    libxml2 enforces limits of its own before caravan's checks can run: it stops entity amplification
    inside a DTD (billion laughs) and nesting deeper than 256. Such documents are reported under the rule
    they break, not as merely malformed, so a scenario's hostile-partner step names the right defence.
    """
    if b"<!DOCTYPE" in data:
        return DocumentError(
            f"document declares a DOCTYPE; DTDs and entities are not accepted (parser stopped: {error.msg})",
            rule="xml-dtd",
        )
    if error.code == _RESOURCE_LIMIT and "depth" in error.msg:
        return DocumentError(f"elements nest too deep (parser stopped: {error.msg})", rule="xml-depth")
    return DocumentError(f"not well-formed XML: {error.msg}", rule="xml-malformed")
