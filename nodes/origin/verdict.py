"""`caravan verify` on an e-CO certificate: integrity, status and issuer identity, each on its own line.

A lone file can prove only its integrity (the signature and chain `caravan verify` already checked).
Status and issuer identity need data the file lacks, so they read the sources they are given:

* `--status-from DIR`: a directory of exchanged e-CO messages (a run's `messages/`). Only messages whose
  envelope (`NNNN-...envelope.xml`, where an e-CO's signature travels) verifies against the same trust
  anchor count. The certificate's status is what they say:
  issued, cancelled or replaced (status changes signed by the certificate's own signer), used or
  invalidated (utilisation decisions). Status is judged at `--at` when given, else as of the latest
  message in DIR.
* `--trust-list FILE`: a scenario file (or any YAML with the same `nodes` section); the trust list of
  the node serving the certificate's importing country is used, and the signer must be the node the
  listed authority signs through.

Without a source the check reports ERROR with a code saying which source is missing, and the exit code
does not count it. Exit 1 when a check given its source is not VALID (INVALID, or ERROR such as data
that cannot be read), as for any document that does not hold. A trust list that cannot be read is bad
input (InputError); content this module cannot decode is reported on the check's line, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from exchange.envelope import ENVELOPE_SUFFIX, Envelope
from exchange.errors import CaravanError, InputError, TrustError
from exchange.inputs import read_yaml_input
from exchange.intake import unseal
from exchange.pki import TrustStore
from exchange.safexml import parse_document
from exchange.validation import detect
from nodes.origin.authority import DECISION_TRIGGERS
from nodes.origin.checks import (
    integrity_of_signature,
    issuer_identity,
    locate_tampering,
    not_issued,
    signer_unverified,
    status_of,
    status_source_missing,
)
from nodes.origin.codec import ECO_NS, decode
from nodes.origin.ledger import StatusView, version_key
from nodes.origin.model import (
    Certificate,
    CertificateMessage,
    Check,
    CheckName,
    CheckStatus,
    EcoMessage,
    StatusChange,
    StatusCode,
    UtilisationDecision,
)
from nodes.origin.tables import RECEIVED, ReceivedState
from nodes.origin.trust import TrustList, read_trust_list
from nodes.verdict import VerifyReport, VerifyRequest

__all__ = ["Register", "read_register", "read_trust_list_file", "verify"]

_LABELS = {CheckName.INTEGRITY: "integrity", CheckName.STATUS: "status", CheckName.ISSUER_IDENTITY: "issuer identity"}


@dataclass(frozen=True)
class Register:
    """Certificate statuses as a directory of signed e-CO messages tells them."""

    source: Path
    views: Mapping[str, StatusView] = field(default_factory=dict)
    originals: Mapping[str, etree._Element] = field(default_factory=dict)  # each version's signed content
    read: int = 0  # e-CO messages whose signature verified
    ignored: int = 0  # e-CO messages whose signature did not: they say nothing
    latest: datetime | None = None


def _sent_at(root: etree._Element) -> datetime:
    text = root.findtext(f"{{{ECO_NS}}}Header/{{{ECO_NS}}}SentDateTime") or ""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _move(views: dict[str, StatusView], key: str, trigger: str, **changes: Any) -> None:
    """Apply a trigger the importing customs' table allows; anything else says nothing about status."""
    view = views.get(key)
    target = None if view is None else RECEIVED.get((view.state, trigger))
    if view is not None and target is not None:
        views[key] = replace(view, state=target, **changes)


def _apply(views: dict[str, StatusView], signers: dict[str, str], message: EcoMessage, signer: str) -> None:
    if isinstance(message, CertificateMessage):
        c = message.certificate
        views.setdefault(version_key(c.number, c.version),
                         StatusView(c.number, c.version, ReceivedState.RECEIVED, c.valid_until))
        signers.setdefault(c.number, signer)
    elif isinstance(message, StatusChange) and signers.get(message.certificate.number) == signer:
        trigger = "cancelled" if message.status is StatusCode.CANCELLED else "replaced"
        by = message.replaced_by.version if message.replaced_by is not None else None
        _move(views, version_key(message.certificate.number, message.certificate.version), trigger, replaced_by=by)
    elif isinstance(message, UtilisationDecision):
        trigger = {"used": "used", "withdrawn": "invalidated"}.get(DECISION_TRIGGERS[message.decision])
        key = version_key(message.certificate.number, message.certificate.version)
        if trigger == "used":
            _move(views, key, trigger, used_by=message.declaration)
        elif trigger is not None:
            _move(views, key, trigger)


def read_register(directory: Path, trust: TrustStore) -> Register:
    """Fold the e-CO messages of `directory` whose envelopes verify, in file-name order (a run numbers them as the
    hub took them). Only envelope files count: an e-CO document's signature travels in its envelope, so a bare
    document proves nothing about who sent it."""
    views: dict[str, StatusView] = {}
    signers: dict[str, str] = {}
    originals: dict[str, etree._Element] = {}
    read = ignored = 0
    latest: datetime | None = None
    for path in sorted(directory.glob(f"*{ENVELOPE_SUFFIX}")):
        try:
            data = path.read_bytes()
            claimed = parse_document(Envelope.from_xml(data).document)
            if detect(claimed).family != "eco":
                continue
            sent = _sent_at(claimed)
            verified = unseal(data, trust, at=sent).verified
            if verified is None:
                raise TrustError(f"{path}: the envelope is not signed", rule="signature-missing")
            message = decode(verified.root)
        except (CaravanError, OSError, ValueError):
            ignored += 1
            continue
        read += 1
        latest = sent if latest is None or sent > latest else latest
        if isinstance(message, CertificateMessage):
            originals.setdefault(version_key(message.certificate.number, message.certificate.version), verified.root)
        _apply(views, signers, message, verified.signer_id)
    return Register(directory, views, originals, read, ignored, latest)


def read_trust_list_file(path: Path, country: str) -> TrustList | None:
    """The trust list of `country`'s customs in a scenario file (its `nodes` section), or None if it has none."""
    raw = read_yaml_input(path, "trust list")
    nodes = raw.get("nodes") if isinstance(raw, Mapping) else None
    if not isinstance(nodes, Mapping):
        raise InputError(f"{path}: is not a trust list: it has no 'nodes' section, as a scenario has",
                         document=str(path))
    node = next((node_id for node_id, spec in nodes.items() if isinstance(spec, Mapping)
                 and spec.get("country") == country), None)
    return None if node is None else read_trust_list(nodes, str(node))


def _status(request: VerifyRequest, register: Register | None, certificate: Certificate) -> Check:
    if register is None:
        return status_source_missing()
    view = register.views.get(version_key(certificate.number, certificate.version))
    if view is None:
        return not_issued(certificate.number, certificate.version,
                          f"{register.source} ({register.read} signed e-CO messages, {register.ignored} ignored)")
    return status_of(view, request.as_of or register.latest or request.at)


def _issuer(request: VerifyRequest, certificate: Certificate) -> Check:
    if request.trust_list is None:
        return issuer_identity(certificate, None, None)
    if request.verified is None:
        return signer_unverified()
    trust = read_trust_list_file(request.trust_list, certificate.import_country)
    if trust is None:
        trust = TrustList(certificate.import_country, (), {})
    return issuer_identity(certificate, trust, request.verified.signer_id)


def _claimed(request: VerifyRequest) -> Certificate | str:
    """The certificate as signed, or as the document claims when its signature does not hold (status can still
    be looked up by number); a text saying why when its data cannot be read."""
    try:
        message = decode(request.verified.root if request.verified is not None else request.root)
    except (CaravanError, ValueError, TypeError) as exc:
        return f"the certificate's data cannot be read: {exc}"
    return message.certificate if isinstance(message, CertificateMessage) else "not a certificate"


def _line(check: Check) -> str:
    detail = check.detail or ""
    where = f" at {check.path}" if check.path and not check.valid and check.path not in detail else ""
    return f"  {_LABELS[check.name]:<16} {check.status.value:<8} {check.code:<22} {detail}{where}"


def verify(request: VerifyRequest) -> VerifyReport:
    """The three checks of an EcoCertificate; other e-CO messages have only their signature to show."""
    name = etree.QName(request.root)
    if name.namespace != ECO_NS or name.localname != CertificateMessage.code:
        return VerifyReport()
    integrity = integrity_of_signature(request.verified.signer_id if request.verified else None, request.failure)
    register = None if request.status_from is None else read_register(request.status_from, request.trust)
    certificate = _claimed(request)
    if isinstance(certificate, str):
        status = Check(CheckName.STATUS, CheckStatus.ERROR, "UNREADABLE", None, certificate)
        issuer = Check(CheckName.ISSUER_IDENTITY, CheckStatus.ERROR, "UNREADABLE", None, certificate)
    else:
        status, issuer = _status(request, register, certificate), _issuer(request, certificate)
        original = None if register is None else register.originals.get(
            version_key(certificate.number, certificate.version))
        if integrity.code == "DOCUMENT_TAMPERED" and original is not None:
            integrity = locate_tampering(integrity, original, request.root)
    given = (request.status_from is not None, status), (request.trust_list is not None, issuer)
    code = 1 if any(source and not check.valid for source, check in given) else 0
    return VerifyReport(tuple(_line(check) for check in (integrity, status, issuer)), code)
