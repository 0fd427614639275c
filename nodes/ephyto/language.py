"""The ePhyto part of the scenario language: each node's NPPO, the certificates, and the NPPO's steps.

Reference checks follow the IPPC's roles: the exporting NPPO issues, withdraws, replaces and re-exports
the certificates addressed FROM its country; the importing NPPO decides on those addressed TO its
country; a re-export names an original certificate of the scenario.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import Field

from exchange.language import Amount, Code, IsoDate, OneOrMore, Record, StepAction, Text, repeated, suggest
from exchange.scenario import NodeBase
from exchange.yamlmarks import KeyPath

__all__ = ["EPHYTO_ACTIONS", "EPHYTO_CHECKS", "EphytoDocument", "EphytoNode"]

Country = Code


class NppoEntry(Record):
    name: Text | None = Field(None, description="the NPPO's name")
    place: Text | None = Field(None, description="where its officers sign")
    officer: Text | None = Field(None, description="the authorised officer who signs")


class ChannelRuleEntry(Record):
    """One of the NPPO's standing routing rules on the IPPC Hub face (published in its `ChannelRules`)."""

    rule: Literal["forward", "delegate"] = Field(description="forward: a copy goes to `country` as well; "
                                                 "delegate: `country` may act for this NPPO in that direction")
    direction: Literal["out", "inc"] = Field(description="out: certificates this NPPO sends; inc: those "
                                             "addressed to it")
    type: Literal["851", "657"] = Field("851", description="certificate type (851 phytosanitary, 657 re-export)")
    status: Literal["70", "40"] = Field("70", description="certificate status (70 issued, 40 withdrawn)")
    country: Country = Field(description="the other NPPO's country code")
    active: bool = Field(True, description="whether the rule applies")


class EphytoSettings(Record):
    receive: Literal["push", "pull"] = Field("push", description="how the NPPO takes deliveries from the IPPC Hub "
                                             "face: push (the hub delivers) or pull (GetImportEnvelopeHeaders, ...)")
    unsigned: Literal["accept", "warn", "refuse"] = Field(
        "accept", description="what the importing NPPO does with a certificate that carries no XMLDSig (the Hub "
        "authenticated its sender by TLS): accept it (Delivered), warn (DeliveredWithWarnings) or refuse it")
    rules: list[ChannelRuleEntry] = Field(default_factory=list, description="standing routing rules on the "
                                          "IPPC Hub face (ChannelRules): copies and delegations")


class EphytoNode(NodeBase):
    nppo: NppoEntry | None = Field(None, description="the national plant protection organisation (ePhyto)")
    ephyto: EphytoSettings | None = Field(None, description="how the NPPO is connected to the IPPC Hub face")


class PhytoParty(Record):
    name: Text = Field(description="name")
    address: Annotated[list[Text], OneOrMore] = Field(default_factory=list, description="address lines")
    country: Country | None = Field(None, description="ISO alpha-2 country")


class PointOfEntry(Record):
    name: Text = Field(description="the point of entry's name")
    locode: Code | None = Field(None, description="its UN/LOCODE")


class PhytoTransport(Record):
    mode: Code = Field("3", description="UN/ECE Rec 19 mode of transport")
    means: Text | None = Field(None, description="the means of transport, in words")
    id: Code | None = Field(None, description="its identifier (vessel, plate)")


class Container(Record):
    id: Code = Field(description="container identification")
    seals: list[Code] = Field(default_factory=list, description="seal numbers")


class PhytoPackages(Record):
    type: Code = Field("PK", description="UN/ECE Rec 21 package type")
    count: Amount = Field(1, description="number of packages")


class TreatmentEntry(Record):
    type: Text = Field("Other", description="treatment type as GetTreatmentTypes lists it, e.g. Cold treatment "
                       "(TTL2, under its level-1 type Physical in TTL1)")
    temperature_c: Amount | None = Field(None, description="temperature in °C")
    duration_h: Amount | None = Field(None, description="duration in hours")
    text: Text | None = Field(None, description="the treatment in full (TTFT)")
    start: Text | None = Field(None, description="when it started")
    end: Text | None = Field(None, description="when it ended")


Names = Annotated[list[Text], OneOrMore]


class PhytoItem(Record):
    description: Text = Field(description="description of the goods")
    common_name: Names | None = Field(None, description="common name(s)")
    scientific_name: Names | None = Field(None, description="botanical name(s)")
    intended_use: Names | None = Field(None, description="intended use(s), e.g. Consumption")
    hs: Code | None = Field(None, pattern=r"^\d{4,10}$", description="HS code (quote it)")
    commodity_class: Text | None = Field(None, alias="class", description="IPPC commodity class (IPPCPCVP)")
    condition: Text | None = Field(None, description="IPPC commodity condition (IPPCPCC)")
    net_kg: Amount | None = Field(None, description="net weight in kg")
    gross_kg: Amount | None = Field(None, description="gross weight in kg")
    packages: PhytoPackages | None = Field(None, description="packaging")
    origin: Country = Field(description="country of origin")
    region: Text | None = Field(None, description="region of origin")
    marks: Text | None = Field(None, description="distinguishing marks")
    treatment: Annotated[list[TreatmentEntry], OneOrMore] | None = Field(None, description="treatments of this line")


class PhytoCertificateEntry(Record):
    number: Code = Field(description="the certificate number")
    type: Literal["phytosanitary", "851", "re-export", "657"] = Field(
        "phytosanitary", description="phytosanitary (851) or re-export (657)")
    to: Country = Field(description="importing country (ISO alpha-2)")
    consignor: PhytoParty = Field(description="the exporter")
    consignee: PhytoParty = Field(description="the importer")
    transit: list[Country] = Field(default_factory=list, description="countries of transit")
    point_of_entry: Text | PointOfEntry | None = Field(None, description="declared point of entry")
    transport: Annotated[list[PhytoTransport], OneOrMore] | None = Field(None, description="means of conveyance")
    containers: list[Container] = Field(default_factory=list, description="containers and seals")
    declarations: list[Text] = Field(default_factory=list, description="additional declarations (ADEDL)")
    inspected: IsoDate | None = Field(None, description="date of inspection (ADDIEDL)")
    items: list[PhytoItem] = Field(min_length=1, description="trade lines")
    original: Code | None = Field(None, description="re-export: the key of the original certificate")
    repacked: bool = Field(False, description="re-export: repacked")
    new_containers: bool = Field(False, description="re-export: in new containers")
    inspected_again: bool = Field(False, description="re-export: inspected again")


class EphytoDocument(Record):
    certificates: dict[Code, PhytoCertificateEntry] = Field(default_factory=dict,
                                                            description="certificate key → ePhyto (ePhyto)")
    parties: dict[Code, Any] = Field(default_factory=dict, description="a place for YAML anchors of parties and "
                                     "transport (read where a certificate or e-CO refers to them)")


class CertificateStep(Record):
    certificate: Code = Field(description="certificate key under 'certificates'")


class WithdrawArguments(CertificateStep):
    reason: Text | None = Field(None, description="why it is withdrawn")


class ReplaceArguments(CertificateStep):
    by: Code = Field(description="key of the replacing certificate")
    reason: Text | None = Field(None, description="why it is replaced")


class DecideArguments(CertificateStep):
    decision: Literal["accept", "reject"] = Field(description="accept or reject")
    reason: Text | None = Field(None, description="why (required to reject)")


class NoArguments(Record):
    """A step that takes nothing but its node."""


class DeliverToHubArguments(Record):
    file: Text = Field(description="the certificate file, relative to the scenario (sent as it is: unsigned, "
                       "in whatever shape the national system writes)")
    to: Country = Field(description="the importing NPPO's country code")
    operation: Literal["DeliverEnvelope", "ValidateAndDeliverEnvelope"] = Field(
        "DeliverEnvelope", description="the Hub operation the national system calls")
    forward: list[Country] = Field(default_factory=list, description="countries that get a copy (Forwardings)")


def _certificate(document: Any, key: str, where: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if key not in document.certificates:
        yield where, f"is {key!r}{suggest(key, document.certificates)}: no such certificate under 'certificates'"


def _exporter(document: Any, step: Any, key: str, where: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Only the NPPO of the exporting country acts on a certificate it issues."""
    yield from _certificate(document, key, where)
    certificate = document.certificates.get(key)
    country = document.nodes[step.node].country
    if certificate is not None and certificate.to == country:
        yield where, f"{key} is addressed to {country}: node {step.node!r} imports it and cannot issue it"


def _check_issue(document: Any, step: Any, arguments: CertificateStep) -> Iterator[tuple[KeyPath, str]]:
    yield from _exporter(document, step, arguments.certificate, ("certificate",))


def _check_replace(document: Any, step: Any, arguments: ReplaceArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _exporter(document, step, arguments.certificate, ("certificate",))
    yield from _exporter(document, step, arguments.by, ("by",))


def _check_reexport(document: Any, step: Any, arguments: CertificateStep) -> Iterator[tuple[KeyPath, str]]:
    yield from _exporter(document, step, arguments.certificate, ("certificate",))
    certificate = document.certificates.get(arguments.certificate)
    if certificate is not None and certificate.type not in ("re-export", "657"):
        yield ("certificate",), f"{arguments.certificate} is not a re-export certificate (type: re-export)"


def _check_decide(document: Any, step: Any, arguments: DecideArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _certificate(document, arguments.certificate, ("certificate",))
    certificate = document.certificates.get(arguments.certificate)
    country = document.nodes[step.node].country
    if certificate is not None and certificate.to != country:
        yield ("node",), (f"{arguments.certificate} is addressed to {certificate.to}, "
                          f"not to node {step.node!r} ({country})")
    if arguments.decision == "reject" and not arguments.reason:
        yield ("reason",), "is missing: a rejection states its reason"


def _check_deliver(document: Any, step: Any, arguments: DeliverToHubArguments) -> Iterator[tuple[KeyPath, str]]:
    countries = {node.country for node in document.nodes.values()}
    for where, code in [(("to",), arguments.to), *((("forward", i), c) for i, c in enumerate(arguments.forward))]:
        if code not in countries:
            yield where, f"is {code!r}{suggest(code, countries)}: no node of the scenario serves it"
    if arguments.to == document.nodes[step.node].country:
        yield ("to",), f"is {arguments.to!r}, the sending node's own country"
    if not (document.directory / arguments.file).is_file():
        yield ("file",), f"{arguments.file} is no file beside the scenario ({document.directory})"


def _check_certificates(document: Any) -> Iterator[tuple[KeyPath, str]]:
    yield from repeated((("certificates", key, "number"), certificate.number)
                        for key, certificate in document.certificates.items())
    for key, certificate in document.certificates.items():
        reexport = certificate.type in ("re-export", "657")
        if reexport and certificate.original is None:
            yield ("certificates", key, "original"), "is missing: a re-export names its original certificate"
        if certificate.original is not None and certificate.original not in document.certificates:
            yield ("certificates", key, "original"), f"{certificate.original} is no certificate of the scenario"


EPHYTO_ACTIONS: tuple[StepAction, ...] = (
    StepAction("issue_ephyto", "ephyto", CertificateStep, "the exporting NPPO issues an ePhyto and sends it "
               "through the IPPC Hub face", check=_check_issue),
    StepAction("withdraw_ephyto", "ephyto", WithdrawArguments, "the exporting NPPO withdraws a certificate "
               "(status 40)", check=lambda d, s, a: _exporter(d, s, a.certificate, ("certificate",))),
    StepAction("replace_ephyto", "ephyto", ReplaceArguments, "the exporting NPPO replaces a certificate by "
               "another (ADRP)", check=_check_replace),
    StepAction("reexport_ephyto", "ephyto", CertificateStep, "the NPPO of a re-exporting country issues a "
               "re-export certificate (657) with the original attached", check=_check_reexport),
    StepAction("decide_ephyto", "ephyto", DecideArguments, "the importing NPPO accepts or rejects a certificate",
               check=_check_decide),
    StepAction("pull_ephytos", "ephyto", NoArguments, "the NPPO pulls what waits for it at the IPPC Hub face "
               "and acknowledges each"),
    StepAction("deliver_to_hub", "ephyto", DeliverToHubArguments, "the NPPO's national system delivers a "
               "certificate file to the IPPC Hub face over SOAP, as any Hub client does", check=_check_deliver),
)

def _check_rules(document: Any) -> Iterator[tuple[KeyPath, str]]:
    """A rule names another NPPO of the scenario."""
    countries = {node.country: name for name, node in document.nodes.items()}
    for name, node in document.nodes.items():
        settings = getattr(node, "ephyto", None)
        for index, rule in enumerate(settings.rules if settings is not None else ()):
            where = ("nodes", name, "ephyto", "rules", index, "country")
            if rule.country not in countries:
                yield where, f"is {rule.country!r}{suggest(rule.country, countries)}: no node of the scenario serves it"
            elif rule.country == node.country:
                yield where, f"is {rule.country!r}, this NPPO's own country: a rule names another NPPO"


EPHYTO_CHECKS = (_check_certificates, _check_rules)
