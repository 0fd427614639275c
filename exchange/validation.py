"""Schema and business-rule validation for every document family caravan exchanges.

A family is a directory `schemas/<family>/`: each top-level `.xsd` in it that declares a global element
makes that element a document type, and `schemas/<family>/rules/<xsd stem>.sch`, when present, holds
its ISO Schematron rules. `schemas/<family>/family.yaml` says where the family's documents state their
own message identification (`message_id: messageIdentification`), which the hub binds to the
envelope, and whether its standard puts a signature in the document (`signature: document`). Adding a
family is adding a directory; this module knows no family.

Validation runs in layers, cheapest first, because almost every document is valid:

1. libxml2 (lxml `XMLSchema`) answers valid/invalid in microseconds;
2. only when it says invalid, xmlschema re-validates to say *where* and *which constraint*, with clean
   XPaths such as `/CC015C/Consignment/HouseConsignment[1]/ConsignmentItem[2]/...`;
3. only a schema-valid document meets the Schematron rules, whose assert ids become `Issue.rule`; an
   assert's `role` names its area (default "Rule", e.g. "MandatoryElements", "Mapping") and its `flag`
   its level (default SEVERE; WARNING and INFO do not make a document invalid).

Paths carry an index on every element the schema lets repeat (so that a pointer means the same thing
whether the document has one house consignment or five), local names only, and no enveloped signature.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from lxml import etree, isoschematron

from exchange.errors import DocumentError, Issue, ValidationFailed

if TYPE_CHECKING:  # imported where a failure is explained: a run whose documents are valid never loads it
    import xmlschema

__all__ = ["SCHEMAS", "DocumentType", "check", "declared_elements", "detect", "document_types", "pointer", "validate"]

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

_XSD = "{http://www.w3.org/2001/XMLSchema}"
_SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}


@dataclass(frozen=True)
class DocumentType:
    """What a root element is: its code (the root's local name), its family and where its rules live."""

    code: str
    family: str
    namespace: str
    xsd: Path
    rules: Path | None
    message_id_path: tuple[str, ...] | None = None  # ElementPaths from the root, e.g. ("{*}messageIdentification",)
    sender_party_path: str | None = None  # the party the document says sent it (e.g. messageSender)
    acting_office_path: str | None = None  # the office whose act this document is (e.g. the office of departure)
    signed_inside: bool = False  # the family's standard puts the XMLDSig in the document (family.yaml `signature`)

    def message_id(self, root: etree._Element) -> str | None:
        """The identification the document gives itself, or None if its family states none.

        A document that states its identity in parts (an ePhyto: certificate number and status) has
        several paths; their texts are joined by ':'. A missing part means no identification.
        """
        if self.message_id_path is None:
            return None
        parts = [_text(root, path) for path in self.message_id_path]
        return None if any(part is None for part in parts) else ":".join(str(part) for part in parts)

    def sender_party(self, root: etree._Element) -> str | None:
        return _text(root, self.sender_party_path)

    def acting_office(self, root: etree._Element) -> str | None:
        return _text(root, self.acting_office_path)


def _text(root: etree._Element, path: str | None) -> str | None:
    if path is None:
        return None
    element = root.find(path)
    return None if element is None else (element.text or "").strip()


# ---------------------------------------------------------------------------------------------------------------
# Registry


def _descriptor(family: Path) -> dict[str, Any]:
    """`family.yaml`: where a family's documents state their id, their sender and their acting office."""
    path = family / "family.yaml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def _element_path(path: Any) -> str | None:
    return None if not path else "/".join(f"{{*}}{step}" for step in str(path).split("/"))


def _message_id_paths(declared: Any, code: str) -> tuple[str, ...] | None:
    """`message_id`: one path, a list of paths (an id stated in parts), or a mapping from root code to either."""
    if isinstance(declared, dict):
        declared = declared.get(code)
    if not declared:
        return None
    paths = [declared] if isinstance(declared, str) else list(declared)
    return tuple(path for path in map(_element_path, paths) if path)


def _declared_roots(family: Path) -> Iterator[tuple[str, DocumentType]]:
    descriptor = _descriptor(family)
    sender_party_path = _element_path(descriptor.get("sender_party"))
    acting_offices = descriptor.get("acting_office") or {}
    for xsd in sorted(family.glob("*.xsd")):
        schema = etree.parse(str(xsd)).getroot()
        namespace = schema.get("targetNamespace", "")
        rules = family / "rules" / f"{xsd.stem}.sch"
        for element in schema.iterfind(f"{_XSD}element"):
            code = element.get("name", "")
            kind = DocumentType(
                code,
                family.name,
                namespace,
                xsd,
                rules if rules.is_file() else None,
                _message_id_paths(descriptor.get("message_id"), code),
                sender_party_path,
                _element_path(acting_offices.get(code)),
                descriptor.get("signature", "envelope") == "document",
            )
            yield etree.QName(namespace or None, code).text, kind


@cache
def document_types() -> dict[str, DocumentType]:
    """Every known document type by root QName (Clark notation), read once from `schemas/`."""
    types: dict[str, DocumentType] = {}
    for family in sorted(path for path in SCHEMAS.iterdir() if path.is_dir()):
        for qname, kind in _declared_roots(family):
            if qname in types:
                raise ValueError(f"{qname} is declared by both {types[qname].xsd} and {kind.xsd}")
            types[qname] = kind
    return types


@cache
def declared_elements(code: str) -> frozenset[str]:
    """The local names of the elements the schemas of message type `code`'s family declare (empty for a type no
    schema declares): what a document of that type can hold, for an expectation that looks for one by name."""
    kinds = [kind for kind in document_types().values() if kind.code == code]
    files = {path for kind in kinds for path in kind.xsd.parent.glob("*.xsd")}
    return frozenset(str(element.get("name")) for path in files
                     for element in etree.parse(str(path)).iter(f"{_XSD}element") if element.get("name"))


def detect(root: etree._Element) -> DocumentType:
    """The document type of `root`, or DocumentError (rule unknown-document-type) if no family has it."""
    kind = document_types().get(root.tag)
    if kind is None:
        name = etree.QName(root)
        raise DocumentError(
            f"no schema declares the root element {name.text}",
            document=name.localname,
            path=f"/{name.localname}",
            rule="unknown-document-type",
        )
    return kind


@cache
def _fast_schema(xsd: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(xsd)))


@cache
def _precise_schema(xsd: Path) -> xmlschema.XMLSchema10:
    import xmlschema  # pure Python and slow to import (about a second here): only for the error paths

    return xmlschema.XMLSchema10(str(xsd))


@cache
def _rules(sch: Path) -> etree.XSLT:
    """The Schematron compiled to its XSLT once; running it yields SVRL without keeping state.

    The compiled XSLT keeps the rules' own location as its base, so rules can read a family's code lists
    beside them with `document('../codelists.xml')` instead of repeating the lists inside the rules.
    """
    schematron = isoschematron.Schematron(etree.parse(str(sch)), store_xslt=True)
    compiled = etree.fromstring(etree.tostring(schematron.validator_xslt), base_url=sch.as_uri())
    return etree.XSLT(compiled)


# ---------------------------------------------------------------------------------------------------------------
# Clean paths


def _children(declaration: Any) -> list[Any]:
    """The element declarations a declared element may contain, in content-model order."""
    content = getattr(getattr(declaration, "type", None), "content", None)
    if content is None or not hasattr(content, "iter_elements"):
        return []
    return [child for child in content.iter_elements() if getattr(child, "name", None)]


def _walk(element: etree._Element, schema: xmlschema.XMLSchema10) -> list[tuple[etree._Element, Any]]:
    """Each element from the root down to `element`, with its declaration (None where the schema has none)."""
    chain = [*reversed(list(element.iterancestors())), element]
    declaration = schema.maps.elements.get(chain[0].tag)
    walked = [(chain[0], declaration)]
    for node in chain[1:]:
        declaration = next((child for child in _children(declaration) if child.name == node.tag), None)
        walked.append((node, declaration))
    return walked


def _path(element: etree._Element, schema: xmlschema.XMLSchema10) -> str:
    """`/CC015C/Consignment/HouseConsignment[1]/...`: local names, and an index wherever the schema allows
    repeats (or the document repeats anyway), so a pointer reads the same for one occurrence or five."""
    steps = []
    for node, declaration in _walk(element, schema):
        step = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            repeats = len(same) > 1 or (declaration is not None and declaration.max_occurs != 1)
            step = f"{step}[{same.index(node) + 1}]" if repeats else step
        steps.append(step)
    return "/" + "/".join(steps)


# ---------------------------------------------------------------------------------------------------------------
# Schema diagnostics


def _missing_or_unexpected(
    error: xmlschema.XMLSchemaChildrenValidationError, schema: xmlschema.XMLSchema10
) -> Issue:
    """Say which child is missing (rule minOccurs) or which one is not allowed (maxOccurs, cvc-complex-type).

    xmlschema reports a missing element as an unexpected child: the first one after the gap. When that
    child comes later in the content model than the first required element expected, the fault is the
    missing element; otherwise the child itself is surplus or foreign.
    """
    parent = error.elem
    path = _path(parent, schema)
    allowed = {child.name: child for child in _children(_walk(parent, schema)[-1][1])}
    order = list(allowed)
    required = [particle.name for particle in error.expected or () if particle.min_occurs and particle.name]
    invalid = error.invalid_tag
    missing = required[0] if required else None
    if missing in allowed and (
        invalid is None or (invalid in allowed and order.index(invalid) > order.index(missing))
    ):
        name = etree.QName(missing).localname
        reason = f"The content of element {etree.QName(parent).localname!r} is not complete: {name!r} is required."
        return Issue("Schema", f"{path}/{name}", reason, "minOccurs")
    if invalid is None:
        return Issue("Schema", path, error.reason or "invalid content", "cvc-complex-type")
    declared = allowed.get(invalid)
    exceeded = (
        declared is not None
        and declared.max_occurs is not None
        and sum(1 for child in parent if child.tag == invalid) > declared.max_occurs
    )
    rule = "maxOccurs" if exceeded else "cvc-complex-type"
    return Issue("Schema", _path(parent[error.index], schema), error.reason or "", rule)


def _schema_issue(error: xmlschema.XMLSchemaValidationError, schema: xmlschema.XMLSchema10) -> Issue:
    import xmlschema
    from xmlschema.validators import XsdFacet

    if isinstance(error, xmlschema.XMLSchemaChildrenValidationError):
        return _missing_or_unexpected(error, schema)
    path = _path(error.elem, schema) if error.elem is not None else ""
    validator = error.validator
    if isinstance(validator, XsdFacet):
        rule = validator.elem.tag.rpartition("}")[2]
    elif isinstance(error, xmlschema.XMLSchemaDecodeError):
        rule = "cvc-datatype-valid"
    else:
        rule = "cvc-complex-type"
    value = f" (value {error.obj!r})" if isinstance(error.obj, str) else ""
    return Issue("Schema", path, f"{error.reason}{value}", rule)


def _libxml2_issue(entry: etree._LogEntry) -> Issue:
    """Used only if libxml2 rejects what xmlschema accepts: keep its word rather than call the document valid."""
    path = re.sub(r"(?<=/)[\w.-]+:", "", entry.path or "")
    return Issue("Schema", path, entry.message, entry.type_name.lower())


def _schema_issues(root: etree._Element, kind: DocumentType, log: etree._ListErrorLog) -> list[Issue]:
    schema = _precise_schema(kind.xsd)
    issues = [_schema_issue(error, schema) for error in schema.iter_errors(root)]
    return issues or [_libxml2_issue(entry) for entry in log]


# ---------------------------------------------------------------------------------------------------------------
# Business rules


def _rule_issues(root: etree._Element, kind: DocumentType, sch: Path) -> list[Issue]:
    report = _rules(sch)(root)
    failed = report.getroot().findall("svrl:failed-assert", _SVRL)
    if not failed:
        return []
    schema = _precise_schema(kind.xsd)
    tree = root.getroottree()
    issues = []
    for assertion in failed:
        located = tree.xpath(assertion.get("location", "/*"))
        path = _path(located[0], schema) if located else assertion.get("location", "")
        text = " ".join((assertion.findtext("svrl:text", "", _SVRL)).split())
        area = assertion.get("role") or "Rule"
        level = (assertion.get("flag") or "SEVERE").upper()
        issues.append(Issue(area, path, text, assertion.get("id", ""), level))
    return issues


# ---------------------------------------------------------------------------------------------------------------
# Public API


def validate(root: etree._Element) -> list[Issue]:
    """Every schema issue of `root`, or, if it has none, every business-rule issue; [] when valid."""
    try:
        kind = detect(root)
    except DocumentError as error:
        return [Issue("Schema", error.path, error.message, error.rule)]
    fast = _fast_schema(kind.xsd)
    if not fast.validate(root):
        return _schema_issues(root, kind, fast.error_log)
    return _rule_issues(root, kind, kind.rules) if kind.rules is not None else []


def pointer(element: etree._Element) -> str:
    """The clean path of `element` in its document, as validation reports places (`/CC015C/.../X[2]/y`).

    For agencies that name a place in a document they compare or refuse, in the same words as the schema
    and rule findings.
    """
    return _path(element, _precise_schema(detect(element.getroottree().getroot()).xsd))


def check(root: etree._Element) -> None:
    """Raise ValidationFailed, naming the document and every issue, unless `root` is valid."""
    issues = validate(root)
    if any(issue.level == "SEVERE" for issue in issues):
        raise ValidationFailed(etree.QName(root).localname, issues)
