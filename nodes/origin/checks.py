"""The three checks on a certificate of origin, each reported on its own as VALID, INVALID or ERROR.

After TradeTrust/OpenAttestation's verifier: integrity (is this exactly what the issuer signed?),
status (issued, not cancelled or replaced, within validity), issuer identity (is the issuer on the
trust list for this agreement and country, signing as itself?). Integrity alone does not make a
certificate good, and a revoked one is not a forged one, so each check answers separately and says
why with a code (and, where it applies, the XPath of the place).

The importing customs (`nodes.origin.customs`) and `caravan verify` (`nodes.origin.verdict`) use the
same functions; they differ only in where their evidence comes from: customs has the content its node
verified at receipt and its own records, `caravan verify` has a signed file and the sources it is given.

Codes (VALID / INVALID / ERROR):

* integrity: DOCUMENT_INTACT / DOCUMENT_TAMPERED, DATA_MISMATCH, SIGNATURE_INVALID, UNSIGNED /
  NOT_RECEIVED, UNREADABLE;
* status: ISSUED / DOCUMENT_CANCELLED, DOCUMENT_REPLACED, DOCUMENT_INVALIDATED, DOCUMENT_USED,
  DOCUMENT_EXPIRED, DOCUMENT_NOT_ISSUED / NOT_RECEIVED, STATUS_SOURCE_MISSING;
* issuer identity: AUTHORITY_LISTED / AUTHORITY_NOT_LISTED, SIGNER_MISMATCH / NOT_RECEIVED,
  TRUST_LIST_MISSING, SIGNER_UNVERIFIED.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date, datetime

from lxml import etree

from exchange.errors import CaravanError
from exchange.validation import pointer
from nodes.origin.ledger import StatusView
from nodes.origin.model import Certificate, Check, CheckName, CheckStatus
from nodes.origin.tables import ReceivedState
from nodes.origin.trust import TrustList

__all__ = [
    "Difference",
    "differences",
    "digest",
    "integrity_of_copy",
    "integrity_of_signature",
    "issuer_identity",
    "locate_tampering",
    "not_issued",
    "not_received",
    "signer_unverified",
    "status_of",
    "status_source_missing",
]

_CERTIFICATE = "/EcoCertificate/Certificate"


def digest(root: etree._Element) -> str:
    """SHA-256 of the exclusive canonical form, base64: the digest caravan's signing profile (exclusive c14n,
    SHA-256) takes of content, here the certificate as its issuer sent it."""
    return base64.b64encode(hashlib.sha256(etree.tostring(root, method="c14n", exclusive=True)).digest()).decode()


Difference = tuple[str, str, str]
"""(path, text in the signed content, text in the copy)."""


def _pairs(signed: etree._Element, copy: etree._Element) -> Iterator[tuple[etree._Element, etree._Element]]:
    yield signed, copy
    for left, right in zip(signed, copy, strict=False):
        yield from _pairs(left, right)


def differences(signed: etree._Element, copy: etree._Element) -> list[Difference]:
    """Where `copy` departs from `signed`: changed texts, and elements added, removed or renamed."""
    found: list[Difference] = []
    for left, right in _pairs(signed, copy):
        if left.tag != right.tag:
            found.append((pointer(left), etree.QName(left).localname, etree.QName(right).localname))
        elif (left.text or "").strip() != (right.text or "").strip():
            found.append((pointer(left), (left.text or "").strip(), (right.text or "").strip()))
        elif len(left) != len(right):
            found.append((pointer(left), f"{len(left)} child elements", f"{len(right)} child elements"))
    return found


def _check(name: CheckName) -> Callable[..., Check]:
    def make(status: CheckStatus, code: str, detail: str, path: str | None = None) -> Check:
        return Check(name, status, code, path, detail[:512])

    return make


_integrity = _check(CheckName.INTEGRITY)
_status = _check(CheckName.STATUS)
_issuer = _check(CheckName.ISSUER_IDENTITY)
VALID, INVALID, ERROR = CheckStatus.VALID, CheckStatus.INVALID, CheckStatus.ERROR


def not_received(number: str) -> tuple[Check, Check, Check]:
    """All three checks when no e-CO data was pushed for `number`: customs has nothing to check against."""
    detail = f"no e-CO data received for {number}: declarations are matched against data the issuing country pushed"
    return (
        _integrity(ERROR, "NOT_RECEIVED", detail),
        _status(ERROR, "NOT_RECEIVED", detail),
        _issuer(ERROR, "NOT_RECEIVED", detail),
    )


# -- integrity ----------------------------------------------------------------------------------------------


def integrity_of_copy(
    signed: etree._Element, signed_digest: str, signer: str, copy: etree._Element | None, declared_date: date | None
) -> Check:
    """Customs' integrity check: the data it holds were verified at receipt; does what is declared match them?

    `signed` is the content the node verified against the scenario trust anchor when it was pushed
    (signature, chain, signer = sender); `copy` is a copy presented with the declaration, if any. A copy
    whose digest is not the signed digest cannot carry the issuer's signature (rule signature-digest).
    """
    issued_on = (signed.findtext("{*}Certificate/{*}IssueDateTime") or "")[:10]
    if declared_date is not None and declared_date.isoformat() != issued_on:
        return _integrity(
            INVALID, "DATA_MISMATCH",
            f"the declaration cites issue date {declared_date.isoformat()}; the certificate was issued {issued_on}",
            f"{_CERTIFICATE}/IssueDateTime",
        )
    if copy is not None:
        copy_digest = digest(copy)
        if copy_digest != signed_digest:
            path, where = _first_difference(signed, copy)
            return _integrity(
                INVALID, "DOCUMENT_TAMPERED",
                f"the copy presented differs from what {signer} signed {where}; its digest {copy_digest} is not "
                f"the signed digest {signed_digest} [signature-digest]",
                path,
            )
    return _integrity(VALID, "DOCUMENT_INTACT", f"signed by {signer}, verified at receipt; digest {signed_digest}")


def _first_difference(signed: etree._Element, copy: etree._Element) -> tuple[str, str]:
    """The path of the first place `copy` departs from `signed`, and those words for a detail."""
    found = differences(signed, copy) or [("/" + etree.QName(signed).localname, "", "")]
    path, was, now = found[0]
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return path, f"at {path}: signed {was!r}, presented {now!r}{more}"


def locate_tampering(check: Check, signed: etree._Element, copy: etree._Element) -> Check:
    """Name where a tampered document departs from the signed original, when the original is at hand."""
    path, where = _first_difference(signed, copy)
    return replace(check, path=path, detail=f"{check.detail}; compared with the signed original, {where}"[:512])


def integrity_of_signature(signer: str | None, failure: CaravanError | None) -> Check:
    """`caravan verify`'s integrity check, from `exchange.signing.verify_document`'s outcome."""
    if failure is None:
        return _integrity(VALID, "DOCUMENT_INTACT", f"signature and content hold; signed by {signer}")
    reason = f"[{failure.rule}] {failure.message}" if failure.rule else failure.message
    if failure.rule == "signature-digest":
        return _integrity(INVALID, "DOCUMENT_TAMPERED", reason, failure.path or None)
    if failure.rule == "signature-missing":
        return _integrity(INVALID, "UNSIGNED", reason)
    if failure.rule.startswith(("signature", "cert", "ca-")):
        return _integrity(INVALID, "SIGNATURE_INVALID", reason, failure.path or None)
    return _integrity(ERROR, "UNREADABLE", reason)


# -- status -------------------------------------------------------------------------------------------------

_ENDED = {
    ReceivedState.CANCELLED: ("DOCUMENT_CANCELLED", "/EcoStatusChange/Status", "was cancelled by its issuer"),
    ReceivedState.REPLACED: ("DOCUMENT_REPLACED", "/EcoStatusChange/Status", "was replaced"),
    ReceivedState.INVALIDATED: ("DOCUMENT_INVALIDATED", "/EcoUtilisation/Decision",
                                "was invalidated after a verification"),
}


def status_of(view: StatusView, at: datetime, declaration: str | None = None) -> Check:
    """Issued, not cancelled or replaced, within validity at `at`; not used for another declaration.

    `declaration` is the declaration the certificate is presented for; a certificate is proof for one
    consignment (ST-1 is issued per consignment), so one used under another declaration is refused.
    """
    what = f"{view.number} v{view.version}"
    ended = _ENDED.get(view.state)
    if ended is not None:
        code, path, text = ended
        by = f" by v{view.replaced_by}" if view.replaced_by is not None else ""
        return _status(INVALID, code, f"{what} {text}{by}", path)
    if view.state is ReceivedState.USED and declaration is not None and view.used_by != declaration:
        return _status(INVALID, "DOCUMENT_USED", f"{what} was already used for declaration {view.used_by}",
                       "/EcoUtilisation/ImportDeclaration")
    if view.valid_until is not None and at.date() > view.valid_until:
        return _status(INVALID, "DOCUMENT_EXPIRED", f"{what} was valid until {view.valid_until.isoformat()}",
                       f"{_CERTIFICATE}/ValidUntil")
    used = f"; used for declaration {view.used_by}" if view.used_by else ""
    until = f", valid until {view.valid_until.isoformat()}" if view.valid_until else ""
    return _status(VALID, "ISSUED", f"{what} issued, not cancelled or replaced{until}{used}")


def status_source_missing() -> Check:
    return _status(ERROR, "STATUS_SOURCE_MISSING", "no status source given (--status-from DIR)")


def not_issued(number: str, version: int, source: str) -> Check:
    return _status(INVALID, "DOCUMENT_NOT_ISSUED", f"{number} v{version}: no signed issuance in {source}",
                   f"{_CERTIFICATE}/CertificateNumber")


# -- issuer identity ----------------------------------------------------------------------------------------


def issuer_identity(certificate: Certificate, trust: TrustList | None, signer: str | None) -> Check:
    """The issuing authority is listed for (agreement, exporting country) and the document is signed as it.

    `signer` is the node whose certificate signed the document (its common name), when known.
    """
    if trust is None:
        return _issuer(ERROR, "TRUST_LIST_MISSING", "no trust list given (--trust-list FILE)")
    agreement, country = certificate.agreement_code, certificate.export_country
    authority_id = certificate.authority.id or ""
    listed = trust.authorised(agreement, country)
    authority = next((entry for entry in listed if entry.id == authority_id), None)
    if authority is None:
        names = ", ".join(entry.id for entry in listed) or "none"
        return _issuer(
            INVALID, "AUTHORITY_NOT_LISTED",
            f"{authority_id} is not on {trust.country}'s trust list for {agreement} certificates from {country} "
            f"(listed: {names})",
            f"{_CERTIFICATE}/IssuingAuthority/ID",
        )
    if signer is not None and signer != authority.node:
        return _issuer(
            INVALID, "SIGNER_MISMATCH",
            f"signed by {signer!r}, but {authority.id} signs as {authority.node!r}",
            "/EcoCertificate/Signature",
        )
    return _issuer(
        VALID, "AUTHORITY_LISTED",
        f"{authority.id} ({authority.name}) is listed for {agreement} in {country}; signs as {authority.node}",
    )


def signer_unverified() -> Check:
    return _issuer(ERROR, "SIGNER_UNVERIFIED", "the signature does not hold, so who issued the document is unknown")
