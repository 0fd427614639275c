"""ePhytos as UN/CEFACT XML, and back.

Like the CATS codec, each document is described once, as a table of (element path, dataclass field,
value kind) entries walked in both directions by one small engine; the table order is the element
order of `schemas/ephyto/ram-21.xsd`. What differs is what real certificates need from a reader:

- elements are matched by namespace, never by prefix (`rsm/ram/udt`, `ns0/ns1/ns2`, `urn/urn1/urn2`
  all occur), and a date may come as `udt:DateTimeString` or `udt:DateTime`;
- empty text and the literal `NULL` read as "no value" (None), like an absent element;
- reference documents are read wherever they stand, and the reader records whether they followed
  the signatory block; the writer puts them before it (the Hub/RAM order).

The writer leaves out what is None rather than writing it empty, so caravan's own certificates carry
no "NON-PC" empties and validate without warnings.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from exchange.errors import DocumentError
from nodes.ephyto.model import (
    Acknowledgement,
    Address,
    Certificate,
    Characteristic,
    Classification,
    Clause,
    Country,
    Equipment,
    Location,
    Measure,
    Note,
    Package,
    Party,
    ReferencedDocument,
    Signatory,
    TradeLine,
    Transport,
    Treatment,
)

__all__ = ["ACK_NS", "NAMESPACES", "RAM_NS", "SPS_NS", "decode", "encode", "present"]

SPS_NS = "urn:un:unece:uncefact:data:standard:SPSCertificate:17"
ACK_NS = "urn:un:unece:uncefact:data:standard:SPSAcknowledgement:17"
RAM_NS = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:21"
UDT_NS = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:21"
QDT_NS = "urn:un:unece:uncefact:data:Standard:QualifiedDataType:21"  # sic: capital S, as in the official module
NAMESPACES = {"ram": RAM_NS, "udt": UDT_NS, "qdt": QDT_NS}


def present(text: str | None) -> str | None:
    """The value of an element's text: None for no text, whitespace only, or the literal NULL."""
    value = (text or "").strip()
    return None if not value or value == "NULL" else value


# ---------------------------------------------------------------------------------------------------------------
# Value kinds


@dataclass(frozen=True)
class _Kind:
    dump: Callable[[Any], str]
    load: Callable[[str], Any]


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise DocumentError(f"{text!r} is not a number", rule="cvc-datatype-valid") from exc


def _integer(text: str) -> int:
    return int(_decimal(text))


TEXT = _Kind(str, str)
INT = _Kind(str, _integer)
DECIMAL = _Kind(lambda value: format(value, "f"), _decimal)
BINARY = _Kind(lambda value: base64.b64encode(value).decode("ascii"), lambda text: base64.b64decode(text))


# ---------------------------------------------------------------------------------------------------------------
# Tables and the engine


@dataclass(frozen=True)
class Leaf:
    """A scalar at `path` (its text, or its attribute `xml_attr`); an empty path is the current element.

    A path ending in `udt:DateTimeString` also reads `udt:DateTime`, the other branch of DateTimeType.
    """

    path: str
    attr: str
    kind: _Kind = TEXT
    xml_attr: str = ""


@dataclass(frozen=True)
class Part:
    """A nested dataclass under `path`."""

    path: str
    attr: str
    struct: Struct


@dataclass(frozen=True)
class Each:
    """A tuple field: one `path` element per item, each a Struct or a plain value (a Leaf with path "")."""

    path: str
    attr: str
    item: Struct | Leaf


@dataclass(frozen=True)
class Lines:
    """A tuple spread over differently named siblings (address LineOne .. LineFive)."""

    paths: tuple[str, ...]
    attr: str


@dataclass(frozen=True)
class Struct:
    """A dataclass and where its fields live; without a value for `required`, the whole reads as None."""

    cls: type
    fields: tuple[Leaf | Part | Each | Lines, ...]
    required: str = ""


_DATETIME_STRING = "udt:DateTimeString"


class _Names:
    """Resolves `prefix:Name` steps for one document; `rsm` is the root's own namespace."""

    def __init__(self, root_namespace: str) -> None:
        self._map = {"rsm": root_namespace, **NAMESPACES}

    def tag(self, step: str) -> str:
        prefix, _, name = step.partition(":")
        return f"{{{self._map[prefix]}}}{name}"

    def steps(self, path: str) -> list[str]:
        return [self.tag(step) for step in path.split("/") if step]

    def find(self, element: etree._Element, path: str) -> etree._Element | None:
        return element.find("/".join(self.steps(path)))

    def findall(self, element: etree._Element, path: str) -> list[etree._Element]:
        """Every match, across repeated parents too (trade lines of several consignment items)."""
        return list(element.iterfind("/".join(self.steps(path))))

    def child(self, parent: etree._Element, path: str) -> etree._Element:
        """Find or create the element at `path`; reuse is what lets two leaves share a parent."""
        for tag in self.steps(path):
            found = parent.find(tag)
            parent = etree.SubElement(parent, tag) if found is None else found
        return parent

    def new_child(self, parent: etree._Element, path: str) -> etree._Element:
        head, _, last = path.rpartition("/")
        return etree.SubElement(self.child(parent, head), self.tag(last))


def _write(names: _Names, element: etree._Element, obj: Any, struct: Struct) -> None:
    for field in struct.fields:
        value = getattr(obj, field.attr)
        if value is None or value == ():
            continue
        if isinstance(field, Leaf):
            _write_leaf(names, element, field, value)
        elif isinstance(field, Part):
            _write(names, names.child(element, field.path), value, field.struct)
        elif isinstance(field, Lines):
            for path, line in zip(field.paths, value, strict=False):
                names.child(element, path).text = line
        else:
            for item in value:
                target = names.new_child(element, field.path)
                if isinstance(field.item, Leaf):
                    _write_leaf(names, target, field.item, item)
                else:
                    _write(names, target, item, field.item)


def _write_leaf(names: _Names, element: etree._Element, leaf: Leaf, value: Any) -> None:
    target = names.child(element, leaf.path) if leaf.path else element
    if leaf.xml_attr:
        target.set(leaf.xml_attr, leaf.kind.dump(value))
    else:
        target.text = leaf.kind.dump(value)


def _read_leaf(names: _Names, element: etree._Element, leaf: Leaf) -> Any:
    found = names.find(element, leaf.path) if leaf.path else element
    if found is None and leaf.path.endswith(_DATETIME_STRING):
        found = names.find(element, leaf.path[: -len(_DATETIME_STRING)] + "udt:DateTime")
    if found is None:
        return None
    value = present(found.get(leaf.xml_attr) if leaf.xml_attr else found.text)
    return None if value is None else leaf.kind.load(value)


def _read(names: _Names, element: etree._Element, struct: Struct) -> Any:
    values: dict[str, Any] = {}
    for field in struct.fields:
        if isinstance(field, Leaf):
            values[field.attr] = _read_leaf(names, element, field)
        elif isinstance(field, Part):
            inner = names.find(element, field.path)
            values[field.attr] = None if inner is None else _read(names, inner, field.struct)
        elif isinstance(field, Lines):
            found = (names.find(element, path) for path in field.paths)
            values[field.attr] = tuple(
                text for text in (present(line.text) for line in found if line is not None) if text
            )
        else:
            item = field.item
            read = (
                _read_leaf(names, found, item) if isinstance(item, Leaf) else _read(names, found, item)
                for found in names.findall(element, field.path)
            )
            values[field.attr] = tuple(value for value in read if value is not None)
    return None if struct.required and values[struct.required] is None else struct.cls(**values)


# ---------------------------------------------------------------------------------------------------------------
# The certificate


def _texts(path: str, attr: str) -> Each:
    return Each(path, attr, Leaf("", attr))


def _measure(path: str, attr: str) -> Part:
    return Part(path, attr, _MEASURE)


_MEASURE = Struct(Measure, (Leaf("", "value", DECIMAL), Leaf("", "unit", xml_attr="unitCode")), required="value")
_NOTE = Struct(Note, (Leaf("ram:Subject", "subject"), _texts("ram:Content", "contents")))
_ADDRESS = Struct(
    Address,
    (
        Leaf("ram:PostcodeCode", "postcode"),
        Lines(("ram:LineOne", "ram:LineTwo", "ram:LineThree", "ram:LineFour", "ram:LineFive"), "lines"),
        Leaf("ram:CityName", "city"),
        Leaf("ram:CountryID", "country"),
    ),
)
_PARTY = Struct(
    Party,
    (
        Leaf("ram:Name", "name"),
        Part("ram:SpecifiedSPSAddress", "address", _ADDRESS),
        Leaf("ram:SpecifiedSPSPerson/ram:Name", "person"),
    ),
)
_COUNTRY = Struct(
    Country,
    (
        Leaf("ram:ID", "id"),
        Leaf("ram:Name", "name"),
        Leaf("ram:SubordinateSPSCountrySubDivision/ram:Name", "subdivision"),
    ),
)
_REFERENCE = Struct(
    ReferencedDocument,
    (
        Leaf("ram:IssueDateTime/udt:DateTimeString", "issued"),
        Leaf("ram:TypeCode", "type_code"),
        Leaf("ram:RelationshipTypeCode", "relationship"),
        Leaf("ram:ID", "id"),
        Leaf("ram:AttachmentBinaryObject", "attachment", BINARY),
        Leaf("ram:AttachmentBinaryObject", "filename", xml_attr="filename"),
        _texts("ram:Information", "information"),
    ),
)
_SIGNATORY = Struct(
    Signatory,
    (
        Leaf("ram:ActualDateTime/udt:DateTimeString", "signed"),
        Leaf("ram:IssueSPSLocation/ram:Name", "place"),
        Leaf("ram:ProviderSPSParty/ram:SpecifiedSPSPerson/ram:Name", "officer"),
        Each("ram:IncludedSPSClause", "clauses",
             Struct(Clause, (Leaf("ram:ID", "id"), _texts("ram:Content", "contents")))),
    ),
)
_TREATMENT = Struct(
    Treatment,
    (
        Leaf("ram:TypeCode", "type_code"),
        Leaf("ram:CompletionSPSPeriod/ram:StartDateTime/udt:DateTimeString", "start"),
        Leaf("ram:CompletionSPSPeriod/ram:EndDateTime/udt:DateTimeString", "end"),
        _measure("ram:CompletionSPSPeriod/ram:DurationMeasure", "duration"),
        Each(
            "ram:ApplicableSPSProcessCharacteristic",
            "characteristics",
            Struct(Characteristic, (_texts("ram:Description", "descriptions"), _measure("ram:ValueMeasure", "value"))),
        ),
    ),
)
_TRADE_LINE = Struct(
    TradeLine,
    (
        Leaf("ram:SequenceNumeric", "sequence", INT),
        _texts("ram:Description", "descriptions"),
        _texts("ram:CommonName", "common_names"),
        _texts("ram:ScientificName", "scientific_names"),
        _texts("ram:IntendedUse", "intended_uses"),
        _measure("ram:NetWeightMeasure", "net_weight"),
        _measure("ram:GrossWeightMeasure", "gross_weight"),
        _measure("ram:NetVolumeMeasure", "net_volume"),
        _measure("ram:GrossVolumeMeasure", "gross_volume"),
        Each("ram:AdditionalInformationSPSNote", "notes", _NOTE),
        Each(
            "ram:ApplicableSPSClassification",
            "classifications",
            Struct(
                Classification,
                (Leaf("ram:SystemName", "system"), Leaf("ram:ClassCode", "code"), _texts("ram:ClassName", "names")),
            ),
        ),
        Each(
            "ram:PhysicalSPSPackage",
            "packages",
            Struct(
                Package,
                (Leaf("ram:LevelCode", "level"), Leaf("ram:TypeCode", "type_code"),
                 Leaf("ram:ItemQuantity", "quantity", DECIMAL)),
            ),
        ),
        Each("ram:OriginSPSCountry", "origins", _COUNTRY),
        Each("ram:AppliedSPSProcess", "treatments", _TREATMENT),
    ),
)
_DOCUMENT = "rsm:SPSExchangedDocument"
_CONSIGNMENT = "rsm:SPSConsignment"
_CERTIFICATE = Struct(
    Certificate,
    (
        Leaf(f"{_DOCUMENT}/ram:Name", "name"),
        Leaf(f"{_DOCUMENT}/ram:ID", "number"),
        _texts(f"{_DOCUMENT}/ram:Description", "descriptions"),
        Leaf(f"{_DOCUMENT}/ram:TypeCode", "type_code"),
        Leaf(f"{_DOCUMENT}/ram:StatusCode", "status_code"),
        Leaf(f"{_DOCUMENT}/ram:IssueDateTime/udt:DateTimeString", "issued"),
        Leaf(f"{_DOCUMENT}/ram:IssuerSPSParty/ram:Name", "issuer"),
        Each(f"{_DOCUMENT}/ram:IncludedSPSNote", "notes", _NOTE),
        Each(f"{_DOCUMENT}/ram:ReferenceSPSReferencedDocument", "references", _REFERENCE),
        Part(f"{_DOCUMENT}/ram:SignatorySPSAuthentication", "signatory", _SIGNATORY),
        Part(f"{_CONSIGNMENT}/ram:ConsignorSPSParty", "consignor", _PARTY),
        Part(f"{_CONSIGNMENT}/ram:ConsigneeSPSParty", "consignee", _PARTY),
        Part(f"{_CONSIGNMENT}/ram:ExportSPSCountry", "export_country", _COUNTRY),
        Part(f"{_CONSIGNMENT}/ram:ImportSPSCountry", "import_country", _COUNTRY),
        Each(f"{_CONSIGNMENT}/ram:TransitSPSCountry", "transit_countries", _COUNTRY),
        Part(
            f"{_CONSIGNMENT}/ram:UnloadingBaseportSPSLocation",
            "point_of_entry",
            Struct(Location, (Leaf("ram:ID", "id"), Leaf("ram:Name", "name"))),
        ),
        Leaf(f"{_CONSIGNMENT}/ram:ExaminationSPSEvent/ram:OccurrenceSPSLocation/ram:Name", "examination_place"),
        Each(
            f"{_CONSIGNMENT}/ram:MainCarriageSPSTransportMovement",
            "transports",
            Struct(
                Transport,
                (Leaf("ram:ID", "id"), Leaf("ram:ModeCode", "mode"),
                 Leaf("ram:UsedSPSTransportMeans/ram:Name", "means")),
            ),
        ),
        Each(
            f"{_CONSIGNMENT}/ram:UtilizedSPSTransportEquipment",
            "equipment",
            Struct(Equipment, (Leaf("ram:ID", "id"), Each("ram:AffixedSPSSeal", "seals", Leaf("ram:ID", "seals")))),
        ),
        Each(f"{_CONSIGNMENT}/ram:IncludedSPSConsignmentItem/ram:IncludedSPSTradeLineItem", "items", _TRADE_LINE),
    ),
)
_ACKNOWLEDGEMENT = Struct(
    Acknowledgement,
    (
        Leaf("rsm:SPSAcknowledgementDocument/ram:IssueDateTime/udt:DateTimeString", "issued"),
        Leaf("rsm:SPSAcknowledgementDocument/ram:StatusCode", "status_code"),
        _texts("rsm:SPSAcknowledgementDocument/ram:ReasonInformation", "reasons"),
        Leaf(
            "rsm:SPSAcknowledgementDocument/ram:ReferenceSPSReferencedDocument/ram:IssueDateTime/udt:DateTimeString",
            "certificate_issued",
        ),
        Leaf("rsm:SPSAcknowledgementDocument/ram:ReferenceSPSReferencedDocument/ram:TypeCode", "certificate_type"),
        Leaf("rsm:SPSAcknowledgementDocument/ram:ReferenceSPSReferencedDocument/ram:ID", "certificate"),
    ),
)
_ROOTS: dict[type, tuple[str, str, Struct]] = {
    Certificate: (SPS_NS, "SPSCertificate", _CERTIFICATE),
    Acknowledgement: (ACK_NS, "SPSAcknowledgement", _ACKNOWLEDGEMENT),
}


# ---------------------------------------------------------------------------------------------------------------
# Public API


def encode(document: Certificate | Acknowledgement) -> etree._Element:
    """The UN/CEFACT XML of `document`, with the conventional prefixes rsm, ram, udt (and qdt declared)."""
    namespace, name, struct = _ROOTS[type(document)]
    root = etree.Element(f"{{{namespace}}}{name}", nsmap={"rsm": namespace, **NAMESPACES})
    names = _Names(namespace)
    if isinstance(document, Certificate):
        names.child(root, _DOCUMENT)  # the two parts exist, in order, even if a part has no data
        names.child(root, _CONSIGNMENT)
    _write(names, root, document, struct)
    if isinstance(document, Certificate) and document.references_after_signatory:
        _move_references_after_signatory(names, root)
    return root


def decode(root: etree._Element) -> Certificate | Acknowledgement:
    """Read an SPSCertificate or SPSAcknowledgement, whatever its prefixes; the caller validates first."""
    qname = etree.QName(root)
    for namespace, name, struct in _ROOTS.values():
        if (qname.namespace, qname.localname) == (namespace, name):
            names = _Names(namespace)
            document = _read(names, root, struct)
            if isinstance(document, Certificate):
                document = replace(document, references_after_signatory=_references_follow_signatory(names, root))
            return document
    raise DocumentError(f"not an ePhyto document: {qname.text}", document=qname.localname, rule="unknown-document-type")


def _references_follow_signatory(names: _Names, root: etree._Element) -> bool:
    signatory = names.find(root, f"{_DOCUMENT}/ram:SignatorySPSAuthentication")
    reference = names.tag("ram:ReferenceSPSReferencedDocument")
    return signatory is not None and any(sibling.tag == reference for sibling in signatory.itersiblings())


def _move_references_after_signatory(names: _Names, root: etree._Element) -> None:
    signatory = names.find(root, f"{_DOCUMENT}/ram:SignatorySPSAuthentication")
    if signatory is None:
        return
    for reference in reversed(names.findall(root, f"{_DOCUMENT}/ram:ReferenceSPSReferencedDocument")):
        signatory.addnext(reference)
