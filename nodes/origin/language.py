"""The e-CO part of the scenario language: each node's issuing authorities, customs and trust list, the
agreements and certificates under `eco:`, and the steps of authorities and importing customs.

Reference checks follow the roles in an origin procedure: an authority issues, replaces and cancels
the certificates it is named on, at the node that hosts it; the importing customs (the node of the
certificate's importing country) takes declarations and asks for verification; the issuing side answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, ValidationError

from exchange.language import Amount, Code, IsoDate, Record, StepAction, Text, problems_from, repeated, suggest
from exchange.scenario import NodeBase
from exchange.validation import declared_elements
from exchange.yamlmarks import KeyPath
from nodes.origin.model import NONPREF, VerificationReason, VerificationResult
from nodes.origin.scenario import VALIDITY_MONTHS

__all__ = ["ECO_ACTIONS", "ECO_CHECKS", "EcoDocument", "EcoNode"]

Form = Literal[tuple(sorted({*VALIDITY_MONTHS, NONPREF}))]  # type: ignore[valid-type]
Reason = Literal[tuple(reason.value for reason in VerificationReason)]  # type: ignore[valid-type]
Result = Literal[tuple(result.value for result in VerificationResult)]  # type: ignore[valid-type]


class AuthorityEntry(Record):
    id: Code = Field(description="the issuing authority's party id, e.g. UZCCI")
    name: Text = Field(description="its name")
    city: Text | None = Field(None, description="its city")


class CustomsParty(Record):
    id: Code = Field(description="the customs administration's party id (starts with the country code)")


class TrustEntry(Record):
    agreement: Code = Field(description="agreement code (or NONPREF)")
    country: Code = Field(pattern=r"^[A-Z]{2}$", description="exporting country")
    authorities: list[Code] = Field(min_length=1, description="authorities trusted to issue under it")


class EcoSettings(Record):
    authorities: list[AuthorityEntry] = Field(default_factory=list, description="issuing authorities hosted here")
    customs: CustomsParty | None = Field(None, description="the customs administration (default <country>CUSTOMS)")
    trust: list[TrustEntry] = Field(default_factory=list, description="the importing customs' trust list")


class EcoNode(NodeBase):
    eco: EcoSettings | None = Field(None, description="certificate-of-origin parties (e-CO)")


class EcoParty(Record):
    id: Code | None = Field(None, description="party identifier (quote it)")
    name: Text = Field(description="name")
    street: Text | None = Field(None, description="street and number")
    postcode: Code | None = Field(None, description="postcode (quote it)")
    city: Text = Field(description="city")
    country: Code | None = Field(None, description="ISO alpha-2 (default: the side's country)")


class Signature(Record):
    place: Text = Field(description="where it was signed")
    signatory: Text | None = Field(None, description="the exporter's signatory")
    officer: Text | None = Field(None, description="the certifying officer")
    stamp: Code | None = Field(None, description="the authority's stamp")
    statement: Text | None = Field(None, description="the statement (default: the form's wording)")


class Invoice(Record):
    number: Code = Field(description="invoice number")
    date: IsoDate = Field(description="invoice date")


class Money(Record):
    amount: Amount = Field(description="amount")
    currency: Code = Field("USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency")


class EcoPackages(Record):
    type: Code = Field("PK", description="package type")
    count: int = Field(1, ge=0, description="number of packages")


class EcoItem(Record):
    description: Text = Field(description="description of goods")
    hs: Code = Field(pattern=r"^\d{4,10}$", description="HS code (quote it)")
    criterion: Code = Field(description="origin criterion, e.g. WO, PE, CTH")
    detail: Text | None = Field(None, description="criterion detail")
    gross_kg: Amount = Field(description="gross weight in kg")
    net_kg: Amount | None = Field(None, description="net weight in kg")
    packages: EcoPackages | None = Field(None, description="packaging")
    marks: Text | None = Field(None, description="marks and numbers")
    origin: Code | None = Field(None, description="origin country (default: the issuing country)")
    fob: Money | None = Field(None, description="FOB value")
    invoice: Code | None = Field(None, description="the invoice it is on")


class EcoTransport(Record):
    mode: Code = Field("3", description="mode of transport")
    means: Text | None = Field(None, description="means of transport")
    departure: IsoDate | None = Field(None, description="departure date")
    loading: Text | None = Field(None, description="place of loading")
    discharge: Text | None = Field(None, description="place of discharge")
    transit: list[Code] = Field(default_factory=list, description="transit countries")
    route: Text | None = Field(None, description="the route, in words")


class EcoCertificateEntry(Record):
    number: Code = Field(description="certificate number")
    authority: Code = Field(description="the issuing authority's id")
    form: Form = Field(NONPREF, description="ST-1, ST-2, EAV, FORM-A, FORM-D, FORM-E or NONPREF")
    agreement: Code | None = Field(None, description="agreement code (preferential forms)")
    import_country: Code = Field(pattern=r"^[A-Z]{2}$", description="importing country")
    exporter: EcoParty = Field(description="exporter")
    consignee: EcoParty = Field(description="consignee")
    producers: list[EcoParty] = Field(default_factory=list, description="producers")
    items: list[EcoItem] = Field(min_length=1, description="goods items")
    invoices: list[Invoice] = Field(min_length=1, description="invoices")
    declaration: Signature = Field(description="the exporter's declaration")
    certification: Signature = Field(description="the authority's certification")
    transport: EcoTransport | None = Field(None, description="transport details")
    valid_until: IsoDate | None = Field(None, description="end of validity (default: by form)")


class AgreementEntry(Record):
    name: Text = Field(description="the agreement's name")


class EcoSection(Record):
    agreements: dict[Code, AgreementEntry] = Field(default_factory=dict, description="agreement code → name")
    certificates: dict[Code, EcoCertificateEntry] = Field(default_factory=dict, description="key → certificate")


class EcoDocument(Record):
    eco: EcoSection = Field(default_factory=EcoSection, description="certificates of origin (e-CO)")


class EcoCertificateStep(Record):
    certificate: Code = Field(description="certificate key under eco.certificates")


class ReplaceEcoArguments(EcoCertificateStep):
    changes: dict[str, Any] = Field(description="certificate fields and their new values")
    reason: Text | None = Field(None, description="why it is replaced")


class CancelEcoArguments(EcoCertificateStep):
    reason: Text | None = Field(None, description="why it is cancelled")


class ImportDeclarationArguments(EcoCertificateStep):
    declaration: Code = Field(description="the import declaration's number")
    issue_date: IsoDate | None = Field(None, description="the certificate's issue date as presented")
    version: int | None = Field(None, description="the certificate version presented")
    preferential: bool = Field(True, description="whether preference is claimed")
    altered: dict[str, Text] = Field(default_factory=dict, description="element paths under Certificate → the "
                                     "text presented (a copy changed after signing)")


class RequestVerificationArguments(Record):
    request: Code = Field(description="the verification request's id")
    declaration: Code = Field(description="the import declaration it concerns")
    reason: Reason = Field("RANDOM", description="RANDOM, DOUBT_AUTHENTICITY, DOUBT_ORIGIN or DOUBT_DATA")
    due_days: int = Field(90, ge=1, description="days the issuing side has to answer")
    suspend: bool = Field(False, description="suspend the preference while it runs")
    detail: Text | None = Field(None, description="what is doubted")
    documents: list[Code] = Field(default_factory=list, description="documents asked for")


class AnswerVerificationArguments(Record):
    request: Code = Field(description="the verification request's id")
    result: Result = Field(description="CONFIRMED, ORIGIN_NOT_CONFIRMED, NOT_AUTHENTIC or NO_RECORD")
    findings: Text | None = Field(None, description="what the authority found")


def _authorities(document: Any) -> dict[str, str]:
    return {authority.id: node_id for node_id, node in document.nodes.items()
            for authority in (node.eco.authorities if node.eco else ())}


def _issuer(document: Any, step: Any, arguments: EcoCertificateStep) -> Iterator[tuple[KeyPath, str]]:
    certificate = document.eco.certificates.get(arguments.certificate)
    if certificate is None:
        hint = suggest(arguments.certificate, document.eco.certificates)
        yield ("certificate",), f"is {arguments.certificate!r}{hint}: no such certificate under eco.certificates"
        return
    host = _authorities(document).get(certificate.authority)
    if host is not None and host != step.node:
        yield ("node",), f"{certificate.authority} issues {arguments.certificate}; it sits at node {host!r}"


def _check_replace(document: Any, step: Any, arguments: ReplaceEcoArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _issuer(document, step, arguments)
    fields = EcoCertificateEntry.model_fields
    unknown = [name for name in arguments.changes if name not in fields]
    for name in unknown:
        yield ("changes", name), f"is no certificate field{suggest(name, fields)}"
    certificate = document.eco.certificates.get(arguments.certificate)
    if certificate is not None and not unknown:
        yield from _replaced_fields(certificate, arguments.changes)


def _replaced_fields(certificate: EcoCertificateEntry, changes: dict[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """The new values typed as the certificate's own: the issuing authority builds the replacement from them, and
    a misspelt key inside one (`consignee: {idx: ...}`) was left out of it without a word."""
    replaced = {**certificate.model_dump(mode="json", by_alias=True, exclude_unset=True), **changes}
    try:
        EcoCertificateEntry.model_validate(replaced)
    except ValidationError as exc:
        yield from problems_from(exc, EcoCertificateEntry, ("changes",), replaced)


ALTERED_PATH = re.compile(r"[A-Za-z_][\w.-]*(\[[1-9][0-9]*\])?(/[A-Za-z_][\w.-]*(\[[1-9][0-9]*\])?)*")
"""An `altered` key: local names under Certificate, each with an optional position from 1 (GoodsItem[1]/NetWeight)."""


def _check_altered(altered: dict[str, str]) -> Iterator[tuple[KeyPath, str]]:
    """Each altered path names elements an e-CO certificate can hold: the node looks it up in the signed copy (a
    path it could not read was an XPathEvalError there, an HTTP 500 and exit 3)."""
    names = declared_elements("EcoCertificate")
    for path in altered:
        if not ALTERED_PATH.fullmatch(path):
            yield ("altered", path), "is no path of local names under Certificate, e.g. GoodsItem[1]/NetWeight"
            continue
        for name in (re.sub(r"\[.*\]$", "", step) for step in path.split("/")):
            if name not in names:
                yield ("altered", path), f"{name}{suggest(name, names)} is no element of an e-CO certificate"


def _check_import(document: Any, step: Any, arguments: ImportDeclarationArguments) -> Iterator[tuple[KeyPath, str]]:
    yield from _check_altered(arguments.altered)
    certificate = document.eco.certificates.get(arguments.certificate)
    if certificate is None:
        yield ("certificate",), f"is {arguments.certificate!r}: no such certificate under eco.certificates"
    elif document.nodes[step.node].country != certificate.import_country:
        yield ("node",), (f"{arguments.certificate} is for import into {certificate.import_country}, "
                          f"not node {step.node!r}")


def _check_certificates(document: Any) -> Iterator[tuple[KeyPath, str]]:
    authorities = _authorities(document)
    yield from repeated((("eco", "certificates", key, "number"), certificate.number)
                        for key, certificate in document.eco.certificates.items())
    for key, certificate in document.eco.certificates.items():
        base: KeyPath = ("eco", "certificates", key)
        if certificate.authority not in authorities:
            yield (*base, "authority"), (f"{certificate.authority}{suggest(certificate.authority, authorities)} "
                                         "is listed under no node's eco.authorities")
        if certificate.form != NONPREF and certificate.agreement not in document.eco.agreements:
            yield (*base, "agreement"), (f"{certificate.agreement!r} is not described under eco.agreements "
                                         f"(a {certificate.form} certificate names its agreement)")
    for node_id, node in document.nodes.items():
        if node.eco and node.eco.customs and not node.eco.customs.id.startswith(node.country):
            yield ("nodes", node_id, "eco", "customs", "id"), f"{node.eco.customs.id} must start with {node.country}"


ECO_ACTIONS: tuple[StepAction, ...] = (
    StepAction("issue_eco", "eco", EcoCertificateStep, "the issuing authority issues an e-CO to the importing "
               "customs", check=_issuer),
    StepAction("replace_eco", "eco", ReplaceEcoArguments, "the issuing authority replaces a certificate with an "
               "amended version", check=_check_replace),
    StepAction("cancel_eco", "eco", CancelEcoArguments, "the issuing authority cancels a certificate",
               check=_issuer),
    StepAction("import_declaration", "eco", ImportDeclarationArguments, "an import declaration claims the "
               "certificate at the importing customs (the three checks run)", check=_check_import),
    StepAction("request_verification", "eco", RequestVerificationArguments, "the importing customs asks the "
               "issuing side to verify a certificate"),
    StepAction("answer_verification", "eco", AnswerVerificationArguments, "the issuing authority answers a "
               "verification request"),
)

ECO_CHECKS = (_check_certificates,)
