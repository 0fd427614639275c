"""Scenario steps that no node takes: the scenario CA's actions and the attacks of security drills.

The scenario CA revokes and rotates certificates (`revoke_certificate`, `rotate_certificate`) by
writing to the scenario's PKI directory, which every verifier reads (the CRL is re-read when it changes).

An attack re-uses a message that really crossed the wire (its signed envelope, as the hub stored it) and
sends a hostile variant of it to the hub over mutual TLS, with the TLS identity of the party the drill
names (`as`), exactly as a compromised or dishonest participant could. What the hub answers is the drill's
result; the hub also keeps it in its refusal log, which expectations read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from lxml import etree

from exchange.client import Answer, post_envelope
from exchange.envelope import Envelope, rewrite_envelope
from exchange.errors import ScenarioError
from exchange.pki import ScenarioPKI
from exchange.revocation import CRL_FILE
from exchange.signing import sign_document
from exchange.tls import TLS_DIR, TlsIdentity

__all__ = [
    "ATTACKS",
    "AUTHORITY_ACTIONS",
    "RELOADING_ACTIONS",
    "Attempt",
    "Captured",
    "DrillResult",
    "attack",
    "authority_action",
    "send_variant",
]

_DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
_DSIG = f"{{{_DSIG_NS}}}Signature"


@dataclass(frozen=True)
class Captured:
    """A message that crossed the wire: its signed envelope as the hub stored it, and what it says."""

    seq: int
    envelope: Envelope
    body: bytes


@dataclass(frozen=True)
class Attempt:
    """What an attack works with: the captured message, the scenario PKI, who attacks, when, and options."""

    target: Captured
    pki: ScenarioPKI
    party: str
    at: datetime
    options: Mapping[str, Any]


@dataclass(frozen=True)
class DrillResult:
    action: str
    summary: str
    answer: Answer | None = None


# -- the scenario CA ----------------------------------------------------------------------------------------


def _revoke(pki_dir: Path, party: str, at: datetime) -> str:
    """Put the party's signing and TLS certificates on the CRL, keeping what was revoked before."""
    pki = ScenarioPKI.load(pki_dir)
    revoked: dict[int, datetime] = {}
    crl_path = pki_dir / CRL_FILE
    if crl_path.is_file():
        revoked.update({entry.serial_number: entry.revocation_date_utc
                        for entry in x509.load_pem_x509_crl(crl_path.read_bytes())})
    serials = [pki.credentials(party).certificate.serial_number]
    tls_certificate = pki_dir / TLS_DIR / f"{party}.pem"
    if tls_certificate.is_file():
        serials.append(x509.load_pem_x509_certificate(tls_certificate.read_bytes()).serial_number)
    revoked.update({serial: at for serial in serials})
    crl_path.write_bytes(pki.revocation_list(revoked, at=at))
    return f"CA revoked the certificates of {party} (serials {', '.join(f'{s:x}' for s in serials)}); CRL published"


def _rotate(pki_dir: Path, party: str, at: datetime) -> str:
    """Issue the party a new signing key and certificate; the node reloads them when told to."""
    pki = ScenarioPKI.load(pki_dir)
    old = pki.credentials(party).certificate
    renewed = pki.issue([party], valid_from=at, valid_until=old.not_valid_after_utc)
    renewed.write(pki_dir)
    serial = renewed.credentials(party).certificate.serial_number
    return f"CA issued {party} a new signing certificate (serial {serial:x}, replacing {old.serial_number:x})"


def _expire(pki_dir: Path, party: str, at: datetime) -> str:
    """Cut the party's signing certificate short: re-issued with the same key kind, valid until `at`."""
    pki = ScenarioPKI.load(pki_dir)
    old = pki.credentials(party).certificate
    pki.issue([party], valid_from=old.not_valid_before_utc, valid_until=at).write(pki_dir)
    return f"CA let the signing certificate of {party} expire at {at:%Y-%m-%d %H:%M} UTC"


AUTHORITY_ACTIONS: Mapping[str, Callable[[Path, str, datetime], str]] = {
    "revoke_certificate": _revoke,
    "rotate_certificate": _rotate,
    "expire_certificate": _expire,
}
RELOADING_ACTIONS = frozenset({"rotate_certificate", "expire_certificate"})
"""Authority actions after which the target node must load its new credentials."""


def authority_action(action: str, pki_dir: Path | None, arguments: Mapping[str, Any], at: datetime) -> DrillResult:
    if pki_dir is None:
        raise ScenarioError(f"{action} needs the scenario PKI directory (run locally or --attach a prepared dir)")
    party = str(arguments.get("target", ""))
    return DrillResult(action, AUTHORITY_ACTIONS[action](pki_dir, party, at))


# -- attacks ------------------------------------------------------------------------------------------------


def _tamper(attempt: Attempt) -> bytes:
    """Change one character of one value of the document in the sealed envelope: the digest must no longer match."""
    root = etree.fromstring(attempt.target.envelope.document)
    element = next(e for e in root.iter() if isinstance(e.tag, str) and e.text and e.text.strip() and len(e) == 0)
    text = str(element.text)
    element.text = text[:-1] + ("1" if text[-1] != "1" else "2")
    return _resent(attempt, etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _forged_sender(attempt: Attempt) -> bytes:
    """Another party signs the captured message as it is, in the name of the original sender."""
    return replace(attempt.target.envelope, created=attempt.at).signed(attempt.pki.credentials(attempt.party))


def _impersonate(attempt: Attempt) -> bytes:
    """Another administration issues the act itself (e.g. releases someone else's movement), as itself.

    `sender_party` (e.g. NTA.AZ) is written as the document's sender, so only the acting office betrays it.
    """
    root = etree.fromstring(attempt.target.envelope.document)
    message_id = f"{attempt.party.upper()}-FORGED-{attempt.target.seq}"
    claimed = attempt.options.get("sender_party")
    for element in root:
        if element.tag == "messageIdentification":
            element.text = message_id
        if element.tag == "messageSender" and claimed:
            element.text = str(claimed)
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    forged = replace(attempt.target.envelope, sender=attempt.party, message_id=message_id, created=attempt.at,
                     document=document)
    return forged.signed(attempt.pki.credentials(attempt.party))


def _wrapping(attempt: Attempt) -> bytes:
    """Signature wrapping: a forged envelope (an altered document, stamped now, unsigned) that carries the
    genuinely signed envelope tucked into a ds:Object, the classic place, hoping a verifier finds a valid
    signature somewhere and then acts on the forged content."""
    forged = etree.fromstring(_tamper(attempt))
    for signature in forged.findall(_DSIG):
        forged.remove(signature)
    tucked = etree.SubElement(forged, f"{{{_DSIG_NS}}}Object")
    tucked.append(etree.fromstring(attempt.target.body))
    return etree.tostring(forged, xml_declaration=True, encoding="UTF-8")


def _replay(attempt: Attempt) -> bytes:
    """The captured envelope, byte for byte, sent again later."""
    return attempt.target.body


def _resent(attempt: Attempt, document: bytes) -> bytes:
    """The captured signed envelope carrying `document` and stamped now, its signature as it was."""
    return rewrite_envelope(attempt.target.body, document=document, created=attempt.at)


ATTACKS: Mapping[str, Callable[[Attempt], bytes]] = {
    "tamper": _tamper,
    "forged_sender": _forged_sender,
    "impersonate": _impersonate,
    "wrapping": _wrapping,
    "replay": _replay,
}


def select(captured: Sequence[Captured], wanted: Mapping[str, Any]) -> Captured:
    """The latest captured message matching `{type, sender, recipient}` (any omitted key matches)."""
    for message in reversed(captured):
        envelope = message.envelope
        if all(str(wanted.get(key, value)) == value for key, value in (
            ("type", envelope.message_type), ("sender", envelope.sender), ("recipient", envelope.recipient)
        )):
            return message
    raise ScenarioError(f"no message crossed the wire yet that matches {dict(wanted)}")


def _named(element: etree._Element, names: Sequence[str]) -> bool:
    """`element` is the last of `names` (local names, a path upwards: `Office/referenceNumber`)."""
    for name in reversed(names):
        if element is None or not isinstance(element.tag, str) or etree.QName(element).localname != name:
            return False
        element = element.getparent()
    return True


def _variant_document(
    target: Captured, changes: Mapping[str, str], pki: ScenarioPKI, tag: str
) -> tuple[bytes, str, str | None]:
    """The captured document with `changes` (element local name → text, every occurrence) and, unless a change
    gave it a new identification, its message id marked with `tag`, signed again by its sender; with its new
    message id and correlation id (a changed reference, an MRN say, is what the variant is about). A family
    whose documents carry their own signature (ePhyto) gets the document signed again too."""
    from exchange.validation import detect

    root = etree.fromstring(target.envelope.document)
    kind = detect(root)
    for signature in root.findall(_DSIG):
        root.remove(signature)
    before = kind.message_id(root)
    correlation = target.envelope.correlation_id
    for name, text in changes.items():
        hits = [element for element in root.iter() if _named(element, name.split("/"))]
        if not hits:
            raise ScenarioError(f"{target.envelope.message_type} #{target.seq} has no element {name!r} to set")
        for element in hits:
            if element.text == correlation:
                correlation = text
            element.text = text
    if kind.message_id(root) == before and before is not None:
        if kind.message_id_path is None or len(kind.message_id_path) != 1:
            raise ScenarioError(f"the variant of {target.envelope.message_type} #{target.seq} keeps its identification "
                                f"{before!r}: set one of the elements that make it up")
        element = root.find(kind.message_id_path[0])
        element.text = f"{element.text}{tag}"[-35:]
    message_id = kind.message_id(root) or target.envelope.message_id
    if kind.signed_inside:
        return sign_document(root, pki.credentials(target.envelope.sender)), message_id, correlation
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), message_id, correlation


async def send_variant(
    arguments: Mapping[str, Any],
    captured: Sequence[Captured],
    pki_dir: Path | None,
    hub_url: str,
    at: datetime,
    tag: str,
    session_for: Callable[[TlsIdentity | None], Awaitable[aiohttp.ClientSession]],
) -> DrillResult:
    """A counterpart sends a variant of a message it sent before: its content changed (an unknown reference, a
    message out of sequence), signed by itself and so accepted by the hub. What the recipient answers is the
    conformance verdict: the hub only carries it."""
    if pki_dir is None:
        raise ScenarioError("send_variant needs the scenario PKI directory")
    target = select(captured, arguments.get("message") or {})
    changes = {str(name): str(text) for name, text in (arguments.get("set") or {}).items()}
    pki = ScenarioPKI.load(pki_dir)
    document, message_id, correlation = _variant_document(target, changes, pki, tag)
    envelope = replace(target.envelope, document=document, message_id=message_id, correlation_id=correlation,
                       created=at)
    party = envelope.sender
    session = await session_for(TlsIdentity.in_pki(pki_dir, party))
    answer = await post_envelope(session, f"{hub_url}/envelopes", envelope.signed(pki.credentials(party)))
    verdict = "accepted" if answer.status and answer.status < 300 else f"refused [{answer.body.get('rule', '?')}]"
    listed = ", ".join(f"{name}={text}" for name, text in changes.items()) or "unchanged content"
    summary = (f"{party} sends a variant of {envelope.message_type} #{target.seq} to {envelope.recipient} "
               f"({listed}; id {message_id}): HTTP {answer.status} {verdict}")
    return DrillResult("send_variant", summary, answer)


async def attack(
    arguments: Mapping[str, Any],
    captured: Sequence[Captured],
    pki_dir: Path | None,
    hub_url: str,
    at: datetime,
    session_for: Callable[[TlsIdentity | None], Awaitable[aiohttp.ClientSession]],
) -> DrillResult:
    """Build the named attack from a captured message and submit it to the hub as party `as`."""
    kind = str(arguments.get("kind", ""))
    if kind not in ATTACKS:
        raise ScenarioError(f"unknown attack {kind!r}; known: {', '.join(sorted(ATTACKS))}")
    if pki_dir is None:
        raise ScenarioError("attacks need the scenario PKI directory")
    target = select(captured, arguments.get("message") or {})
    party = str(arguments.get("as", target.envelope.sender))
    body = ATTACKS[kind](Attempt(target, ScenarioPKI.load(pki_dir), party, at, arguments))
    tls_dir = pki_dir / TLS_DIR
    identity = TlsIdentity.in_pki(pki_dir, party) if (tls_dir / f"{party}.pem").is_file() else None
    session = await session_for(identity)
    answer = await post_envelope(session, f"{hub_url}/envelopes", body)
    verdict = "ACCEPTED" if answer.status and answer.status < 300 else f"refused [{answer.body.get('rule', '?')}]"
    summary = (f"attack {kind} as {party} on {target.envelope.message_type} #{target.seq}: HTTP {answer.status} "
               f"{verdict} {answer.body.get('message', '')}")
    return DrillResult("attack", summary, answer)
