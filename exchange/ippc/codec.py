"""The Hub entities to and from XML, shared by the SOAP face and the Hub client.

Element names and namespaces are the Hub's: header fields are qualified in `HUB.Entities`, operation
parameters and results in the service namespace, and the few types the Hub declares with unqualified
children (`AllowedDocument`, `Signature`, `ValidationResult`) keep them unqualified. Reading matches
children by local name only, because Hub clients in the wild disagree on prefixes and qualification.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from exchange.errors import ProtocolError
from exchange.ippc.codelists import CodeList
from exchange.ippc.contract import item_shape
from exchange.ippc.entities import (
    ENTITIES_NS,
    SERVICE_NS,
    AllowedDocument,
    Channel,
    ChannelRule,
    Direction,
    EnvelopeHeader,
    Forwarding,
    HubEnvelope,
    NppoView,
    Receive,
    RuleType,
    TrackingInfo,
    ValidationResult,
)

__all__ = [
    "channel_element",
    "child_text",
    "code_list_items",
    "envelope_element",
    "header_element",
    "nppo_element",
    "read_channel",
    "read_envelope",
    "read_header",
    "read_nppo",
    "read_validation_result",
    "svc",
    "validation_result_element",
]

NSMAP = {"ns2": SERVICE_NS, "ns3": ENTITIES_NS}


def svc(name: str) -> str:
    return f"{{{SERVICE_NS}}}{name}"


def ent(name: str) -> str:
    return f"{{{ENTITIES_NS}}}{name}"


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child named `name` in any namespace (or none)."""
    return next((c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name), None)


def child_text(element: etree._Element, name: str) -> str | None:
    found = child(element, name)
    return None if found is None else (found.text or "")


# -- headers and envelopes -------------------------------------------------------------------------------------

_HEADER_FIELDS = ("From", "To", "CertificateType", "CertificateStatus", "NPPOCertificateNumber")


def header_element(tag: str, header: EnvelopeHeader, *, content: str | None = None) -> etree._Element:
    """`tag` typed EnvelopeHeader (or Envelope when `content` is given), fields in the contract's order."""
    element = etree.Element(tag, nsmap=NSMAP)
    values = (
        ("From", header.sender),
        ("To", header.recipient),
        ("CertificateType", str(header.certificate_type)),
        ("CertificateStatus", str(header.certificate_status)),
        ("NPPOCertificateNumber", header.certificate_number),
        ("hubDeliveryNumber", header.delivery_number),
        ("HUBTrackingInfo", header.tracking.value if header.tracking else None),
        ("hubDeliveryErrorMessage", header.error),
    )
    for name, value in values:
        if value is not None:
            etree.SubElement(element, ent(name)).text = value
    if header.forwardings:
        forwardings = etree.SubElement(element, ent("Forwardings"))
        for forwarding in header.forwardings:
            copy = etree.SubElement(forwardings, ent("EnvelopeForwarding"))
            etree.SubElement(copy, ent("Code")).text = forwarding.code
            if forwarding.delivery_number is not None:
                etree.SubElement(copy, ent("HubDeliveryNumber")).text = forwarding.delivery_number
    if content is not None:
        etree.SubElement(element, ent("Content")).text = content
    return element


def envelope_element(tag: str, envelope: HubEnvelope) -> etree._Element:
    return header_element(tag, envelope.header, content=envelope.content if envelope.content is not None else "")


def read_header(element: etree._Element, *, strict: bool = True) -> EnvelopeHeader:
    """An EnvelopeHeader from `element`; a missing or non-numeric required field is a ProtocolError.

    Not `strict` for the Hub's answers: an EnvelopeNotExists header carries its required fields empty.
    """
    where = etree.QName(element).localname
    values: dict[str, str] = {}
    for name in _HEADER_FIELDS:
        text = (child_text(element, name) or "").strip()
        if not text and strict:
            raise ProtocolError(f"{where} has no {name}", document="EnvelopeHeader", path=f"{where}/{name}",
                                rule="header-field-missing")
        values[name] = text or ("0" if name.startswith("Certificate") else "")
    tracking = child_text(element, "HUBTrackingInfo")
    forwardings = child(element, "Forwardings")
    return EnvelopeHeader(
        sender=values["From"],
        recipient=values["To"],
        certificate_type=_integer(values["CertificateType"], f"{where}/CertificateType"),
        certificate_status=_integer(values["CertificateStatus"], f"{where}/CertificateStatus"),
        certificate_number=values["NPPOCertificateNumber"],
        delivery_number=child_text(element, "hubDeliveryNumber"),
        tracking=TrackingInfo(tracking) if tracking in {t.value for t in TrackingInfo} else None,
        error=child_text(element, "hubDeliveryErrorMessage"),
        forwardings=() if forwardings is None else tuple(
            Forwarding((child_text(copy, "Code") or "").strip(), child_text(copy, "HubDeliveryNumber"))
            for copy in elements(forwardings, "EnvelopeForwarding")
        ),
    )


def read_envelope(element: etree._Element, *, strict: bool = True) -> HubEnvelope:
    return HubEnvelope(read_header(element, strict=strict), child_text(element, "Content"))


def _integer(text: str, path: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProtocolError(f"{path} must be a number, not {text!r}", document="EnvelopeHeader", path=path,
                            rule="header-field-type") from None


# -- the directory -------------------------------------------------------------------------------------------


def nppo_element(tag: str, nppo: NppoView) -> etree._Element:
    element = etree.Element(tag, nsmap=NSMAP)
    etree.SubElement(element, ent("Country")).text = nppo.country
    etree.SubElement(element, ent("Receive")).text = nppo.receive.value
    etree.SubElement(element, ent("Send")).text = _boolean(nppo.send)
    for allowed in nppo.allowed:
        document = etree.SubElement(element, ent("AllowedDocument"), active=_boolean(allowed.active))
        etree.SubElement(document, "certificateType", number=str(allowed.certificate_type), value=allowed.type_name)
        etree.SubElement(
            document, "certificateStatus", number=str(allowed.certificate_status), value=allowed.status_name
        )
    signature = etree.SubElement(element, ent("Signature"))
    etree.SubElement(signature, "dn").text = nppo.signing_dn
    etree.SubElement(signature, "certificate").text = nppo.signing_certificate
    if nppo.rules:
        rules = etree.SubElement(element, ent("ChannelRules"))
        for rule in nppo.rules:
            etree.SubElement(rules, ent("ChannelRule"), id=str(rule.id), active=_boolean(rule.active),
                             ruleType=rule.rule_type.value, certificateType=str(rule.certificate_type),
                             certificateStatus=str(rule.certificate_status), countryCode=rule.country_code,
                             direction=rule.direction.value)
    return element


def read_nppo(element: etree._Element) -> NppoView:
    allowed = []
    for document in elements(element, "AllowedDocument"):
        kind, status = child(document, "certificateType"), child(document, "certificateStatus")
        if kind is not None and status is not None:
            allowed.append(AllowedDocument(int(kind.get("number", "0")), int(status.get("number", "0")),
                                           document.get("active", "true") == "true"))
    signature = child(element, "Signature")
    receive = child_text(element, "Receive") or Receive.PUSH.value
    rules = child(element, "ChannelRules")
    return NppoView(
        country=child_text(element, "Country") or "",
        receive=Receive(receive) if receive in {r.value for r in Receive} else Receive.PUSH,
        send=child_text(element, "Send") == "true",
        allowed=tuple(allowed),
        signing_dn=(child_text(signature, "dn") or "") if signature is not None else "",
        signing_certificate=(child_text(signature, "certificate") or "") if signature is not None else "",
        rules=() if rules is None else tuple(
            ChannelRule(int(rule.get("id", "0")), RuleType(rule.get("ruleType", "FORWARD")),
                        Direction(rule.get("direction", "OUT")), int(rule.get("certificateType", "0")),
                        int(rule.get("certificateStatus", "0")), rule.get("countryCode", ""),
                        rule.get("active", "true") == "true")
            for rule in elements(rules, "ChannelRule")
        ),
    )


def channel_element(tag: str, channel: Channel) -> etree._Element:
    element = etree.Element(tag, nsmap=NSMAP, Receive=_boolean(channel.receive), Send=_boolean(channel.send))
    etree.SubElement(element, ent("Code")).text = channel.code
    etree.SubElement(element, ent("Name")).text = channel.name
    return element


def read_channel(element: etree._Element) -> Channel:
    return Channel(child_text(element, "Code") or "", child_text(element, "Name") or "",
                   element.get("Receive") == "true", element.get("Send") == "true")


def _boolean(value: bool) -> str:
    return "true" if value else "false"


# -- code lists ----------------------------------------------------------------------------------------------


def code_list_items(operation: str, code_list: CodeList) -> list[etree._Element]:
    """A code-list operation's answer: one item element per code, its fields in the contract's order and
    unqualified (as the contract declares them); a field an item does not have is left out."""
    name, fields = item_shape(operation)
    items = []
    for item in code_list.items:
        element = etree.Element(svc(name), nsmap=NSMAP)
        for field in fields:
            value = item.get(field)
            if value is not None:
                etree.SubElement(element, field).text = value
        items.append(element)
    return items


# -- validation results ----------------------------------------------------------------------------------------


def validation_result_element(result: ValidationResult) -> etree._Element:
    element = etree.Element(svc("ValidationResult"), nsmap=NSMAP)
    for name, value in (("area", result.area), ("field", result.field), ("level", result.level),
                        ("msg", result.message)):
        etree.SubElement(element, name).text = value
    return element


def read_validation_result(element: etree._Element) -> ValidationResult:
    return ValidationResult(
        area=child_text(element, "area") or "",
        field=child_text(element, "field") or "",
        level=child_text(element, "level") or "",
        message=child_text(element, "msg") or "",
    )


def elements(parent: etree._Element, name: str) -> Iterable[etree._Element]:
    """Children named `name` in any namespace, in order."""
    return (c for c in parent if isinstance(c.tag, str) and etree.QName(c).localname == name)
