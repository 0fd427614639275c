"""The scenario PKI: one root CA, one signing/TLS identity per node, and the trust check built on it.

A scenario is a closed world, so a single root CA stands in for the national PKIs: every node certificate
is issued directly by it and every node trusts exactly it. Certificates carry what real verifiers insist
on (signxml 5 wants KeyUsage digitalSignature, cryptography's WebPKI CA policy wants a proper CA profile,
mutual TLS wants serverAuth/clientAuth and SANs), so the same files work for XMLDSig and for TLS.

Nothing here reads the wall clock: validity periods start at `valid_from`, a CA's creation instant is
given by the caller, and chains are checked `at` a time the caller supplies, usually the scenario's
virtual clock.

Every scenario CA is named after its scenario and the instant it was created, so that the CA bundles,
stores and documents of two scenarios (or two runs of one) can be told apart, and a document signed
under another scenario's CA is refused as such (`ca-untrusted`), whatever its dates.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from exchange.clock import utc
from exchange.errors import InputError, TrustError
from exchange.inputs import read_input
from exchange.revocation import CRL_FILE, RevocationList

__all__ = [
    "CA_COMMON_NAME",
    "Credentials",
    "NodeSubject",
    "PrivateKey",
    "ScenarioPKI",
    "TrustStore",
    "ca_name",
    "common_name",
]

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

CA_COMMON_NAME = "caravan scenario root CA"

_CA_FILE = "ca.pem"
_CA_KEY_FILE = "ca-key.pem"
_KEY_SUFFIX = "-key"
# Node ids become file names and DNS SANs, so they are restricted to what is safe as both.
_NODE_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class NodeSubject:
    """Optional subject details for a node certificate.

    The common name is always the node id: verifiers name the signer by the certificate's CN, so letting
    the two differ would make a node sign under a name nobody routes to.
    """

    organization: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2
    hosts: tuple[str, ...] = ()  # more names (DNS or IP) it serves TLS under: an external node's inbox host


@dataclass(frozen=True)
class Credentials:
    """What a node signs (and authenticates TLS) with. `chain` is the leaf followed by the CA."""

    node_id: str
    key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)

    @property
    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8: scenario keys are throwaway test material, not secrets."""
        return _key_pem(self.key)


@dataclass(frozen=True)
class ScenarioPKI:
    """The root CA of one scenario and the credentials it issued to each node."""

    ca_certificate: x509.Certificate
    ca_key: PrivateKey
    nodes: dict[str, Credentials]

    @classmethod
    def generate(
        cls,
        node_ids: Iterable[str],
        *,
        valid_from: datetime,
        valid_days: int = 3650,
        algorithm: str = "ec",
        subjects: Mapping[str, NodeSubject] | None = None,
        ca_subject: x509.Name | None = None,
    ) -> ScenarioPKI:
        """Create a root CA and one certificate per node, all valid from `valid_from` for `valid_days`.

        `algorithm` is "ec" (ECDSA P-256, fast: the default) or "rsa" (RSA-2048, for partners that only
        speak RSA); the CA and every node use the same kind of key. `ca_subject` names the CA (see
        `ca_name`); without one it is just `CA_COMMON_NAME`.
        """
        not_before = utc(valid_from).replace(microsecond=0)
        not_after = not_before + timedelta(days=valid_days)
        ca_key = _new_key(algorithm)
        name = ca_subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
        pki = cls(_ca_certificate(ca_key, name, not_before, not_after), ca_key, {})
        return pki.issue(node_ids, valid_from=not_before, valid_until=not_after, subjects=subjects)

    def issue(
        self,
        node_ids: Iterable[str],
        *,
        valid_from: datetime,
        valid_until: datetime | Mapping[str, datetime],
        subjects: Mapping[str, NodeSubject] | None = None,
    ) -> ScenarioPKI:
        """This CA with new (or renewed) credentials for `node_ids`; other nodes keep theirs.

        Used to set up a scenario, to give one node a certificate that expires during it
        (`valid_until` per node), and to rotate a node's key mid-scenario. The key kind follows the CA's.
        """
        algorithm = "rsa" if isinstance(self.ca_key, rsa.RSAPrivateKey) else "ec"
        not_before = utc(valid_from).replace(microsecond=0)
        subjects = subjects or {}
        nodes = dict(self.nodes)
        for node_id in node_ids:
            _check_node_id(node_id)
            until = valid_until.get(node_id) if isinstance(valid_until, Mapping) else valid_until
            not_after = utc(until or self.ca_certificate.not_valid_after_utc).replace(microsecond=0)
            key = _new_key(algorithm)
            subject = subjects.get(node_id, NodeSubject())
            certificate = _node_certificate(
                node_id, subject, key, self.ca_certificate, self.ca_key, not_before, not_after
            )
            nodes[node_id] = Credentials(node_id, key, certificate, (certificate, self.ca_certificate))
        return ScenarioPKI(self.ca_certificate, self.ca_key, nodes)

    def revocation_list(self, revoked: Mapping[int, datetime], *, at: datetime) -> bytes:
        """A CRL signed by this CA listing `revoked` (serial number → revocation time), as PEM.

        `at` is the CRL's thisUpdate; nextUpdate is a week later. Verifiers reload the file when it
        changes, so a revocation takes effect on the next receipt.
        """
        issued = utc(at).replace(microsecond=0)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca_certificate.subject)
            .last_update(issued)
            .next_update(issued + timedelta(days=7))
        )
        for serial, when in sorted(revoked.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(utc(when).replace(microsecond=0))
                .build()
            )
        return builder.sign(self.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    @classmethod
    def load(cls, directory: Path) -> ScenarioPKI:
        """Read back a directory written by `write`; node ids are taken from the certificate file names.

        A missing or unreadable file is an InputError naming it: the directory came from a config or an
        option, and the person who gave it is the one who can fix it.
        """
        ca_certificate = _load_certificate(directory / _CA_FILE)
        ca_key = _load_key(directory / _CA_KEY_FILE)
        nodes: dict[str, Credentials] = {}
        for cert_path in sorted(directory.glob("*.pem")):
            node_id = cert_path.stem
            if cert_path.name == _CA_FILE or node_id.endswith(_KEY_SUFFIX):
                continue
            key = _load_key(directory / f"{node_id}{_KEY_SUFFIX}.pem")
            certificate = _load_certificate(cert_path)
            _check_loaded(node_id, key, certificate)
            nodes[node_id] = Credentials(node_id, key, certificate, (certificate, ca_certificate))
        return cls(ca_certificate, ca_key, nodes)

    def write(self, directory: Path, *, with_ca_key: bool = True) -> None:
        """Write `ca.pem`, `ca-key.pem`, `<node>.pem` and `<node>-key.pem` (PKCS#8, unencrypted, mode 0600).

        `with_ca_key=False` leaves the CA key out, for a second set of identities beside the first.
        """
        directory.mkdir(parents=True, exist_ok=True)
        (directory / _CA_FILE).write_bytes(self.ca_certificate.public_bytes(serialization.Encoding.PEM))
        if with_ca_key:
            _write_key(directory / _CA_KEY_FILE, _key_pem(self.ca_key))
        for node_id, credentials in self.nodes.items():
            (directory / f"{node_id}.pem").write_bytes(credentials.certificate_pem)
            _write_key(directory / f"{node_id}{_KEY_SUFFIX}.pem", credentials.key_pem)

    def credentials(self, node_id: str) -> Credentials:
        try:
            return self.nodes[node_id]
        except KeyError:
            raise TrustError(f"no credentials for node {node_id!r} in this scenario PKI", rule="node-unknown") from None

    def trust_store(self) -> TrustStore:
        """The trust store every node of this scenario uses: just the scenario root."""
        return TrustStore((self.ca_certificate,))


@dataclass(frozen=True)
class TrustStore:
    """Trust anchors, parsed once, and the chain check every inbound signature goes through.

    Built once per node so that verifying a document never re-reads a CA file (signxml's `ca_pem_file`
    does, costing about a quarter of verify time).
    """

    anchors: tuple[x509.Certificate, ...]
    revocations: RevocationList | None = None
    _store: Store = field(init=False, repr=False, compare=False)
    _verdicts: _ChainVerdicts = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.anchors:
            raise ValueError("a trust store needs at least one anchor certificate")
        object.__setattr__(self, "_store", Store(list(self.anchors)))
        object.__setattr__(self, "_verdicts", _ChainVerdicts())

    @classmethod
    def from_pem(cls, data: bytes) -> TrustStore:
        return cls(tuple(x509.load_pem_x509_certificates(data)))

    @classmethod
    def from_file(cls, path: Path) -> TrustStore:
        """The anchors in `path`; a `ca.crl` beside it, when one is published, is checked on every use.

        InputError when `path` cannot be read, holds no PEM certificate, or holds one that is not a CA
        (a node's certificate given where the scenario's `ca.pem` belongs).
        """
        data = read_input(path, "trust anchor")
        try:
            anchors = tuple(x509.load_pem_x509_certificates(data))
        except ValueError:
            raise InputError(
                f"{path}: holds no PEM certificate; a trust anchor is a CA certificate such as a run's pki/ca.pem",
                document=str(path),
            ) from None
        for anchor in anchors:
            if not _is_ca(anchor):
                raise InputError(
                    f"{path}: {anchor.subject.rfc4514_string()!r} is not a CA certificate (BasicConstraints "
                    "CA:FALSE); a trust anchor is a CA certificate such as a run's pki/ca.pem",
                    document=str(path),
                )
        return cls(anchors, RevocationList(path.with_name(CRL_FILE), anchors))

    def validate_chain(self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], at: datetime) -> None:
        """Raise TrustError unless `leaf` chains to an anchor and may sign documents at `at`.

        The end-entity policy mirrors signxml 5's: any extensions are allowed, but KeyUsage must be present
        and include digitalSignature. CAs get cryptography's WebPKI CA defaults. The client verifier is used
        because, unlike the server one, it matches no host name. The leaf's validity window is checked first
        so that an expired certificate is reported as such rather than as one of cryptography's path errors;
        before that, a certificate issued under a CA that is none of the anchors is reported as
        `ca-untrusted`, since the dates of a stranger's certificate say nothing.

        A sender signs every message with the same chain, so the path check's verdict is kept
        (`_ChainVerdicts`): the revocation list is read on every use, and the kept verdict holds only for
        the same certificates, these anchors, and a time inside every validity period on its path.
        """
        at = utc(at)
        if not self._verdicts.accepts(leaf, intermediates, at):
            self._verdicts.keep(leaf, intermediates, self._verified_path(leaf, intermediates, at))
        if self.revocations is not None:
            self.revocations.check(leaf, at)

    def _verified_path(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], at: datetime
    ) -> Sequence[x509.Certificate]:
        """The full check of `validate_chain` but the revocation list: the path it found, leaf to anchor."""
        self._check_issuer(leaf, intermediates)
        _check_validity(leaf, at)
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(at)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        try:
            return verifier.verify(leaf, list(intermediates)).chain
        except VerificationError as error:
            raise _chain_error(leaf, error) from None

    def _check_issuer(self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate]) -> None:
        """Raise `ca-untrusted` unless the chain, climbed through `intermediates`, reaches one of the anchors.

        The climb matches issuer names and key identifiers only; it classifies the failure, and the
        verifier that follows still checks every signature on the path.
        """
        top, remaining = leaf, [cert for cert in intermediates if cert != leaf]
        while not any(_names_as_issuer(top, anchor) for anchor in self.anchors):
            parent = next((cert for cert in remaining if _names_as_issuer(top, cert)), None)
            if parent is None:
                raise _untrusted_ca(leaf, top, self.anchors)
            remaining.remove(parent)
            top = parent


class _ChainVerdicts:
    """The chains one `TrustStore` found a valid path for, and when each path holds.

    Everything the path check looks at but the time is fixed by what keys a verdict: the leaf and the
    intermediates given (certificates compare by their DER bytes) and the store's anchors (a store keeps its
    own verdicts, and its anchors never change). The time is the one input that moves, and a path holds
    exactly while the time is inside every validity period on it, so that window is kept and checked on
    every use (ends included, as the verifier counts them); outside it the full check runs again and names
    what is wrong. So a kept verdict accepts only what a fresh check would accept. Refusals are not kept.
    Revocation is no part of it: `validate_chain` reads the revocation list on every use.
    """

    _LIMIT = 256  # distinct chains kept: a scenario has one per node and key, a long run a few more

    def __init__(self) -> None:
        self._windows: dict[tuple[x509.Certificate, tuple[x509.Certificate, ...]], tuple[datetime, datetime]] = {}

    def accepts(self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], at: datetime) -> bool:
        window = self._windows.get((leaf, tuple(intermediates)))
        return window is not None and window[0] <= at <= window[1]

    def keep(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], path: Sequence[x509.Certificate]
    ) -> None:
        if len(self._windows) >= self._LIMIT:
            del self._windows[next(iter(self._windows))]  # the oldest: a renewed key's old chain, most likely
        self._windows[(leaf, tuple(intermediates))] = (
            max(certificate.not_valid_before_utc for certificate in path),
            min(certificate.not_valid_after_utc for certificate in path),
        )


def ca_name(scenario: str, created: datetime) -> x509.Name:
    """The subject of a scenario's root CA: its scenario and the instant it was created.

    `created` is given by whoever creates the PKI (set-up code, not domain code); with microseconds, two
    PKIs of one scenario made in the same second still differ. X.520 caps each attribute at 64 characters.
    """
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"caravan scenario {scenario}"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"created {utc(created):%Y-%m-%dT%H:%M:%S.%fZ}"),
        x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
    ])


@lru_cache(maxsize=1024)
def common_name(certificate: x509.Certificate) -> str:
    """The subject CN, which caravan uses as the node id of whoever holds the certificate.

    Kept per certificate (equal certificates are the same key): every request and every signature asks it.
    """
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        subject = certificate.subject.rfc4514_string()
        raise TrustError(f"certificate {subject!r} has no common name", rule="cert-subject")
    value = names[0].value
    return value if isinstance(value, str) else value.decode()


# --- trust check ---------------------------------------------------------------------------------------------

_KEY_USAGE_MESSAGE = "certificate KeyUsage does not allow digitalSignature"


def _require_digital_signature(policy: Policy, certificate: x509.Certificate, key_usage: x509.KeyUsage) -> None:
    if not key_usage.digital_signature:
        raise ValueError(_KEY_USAGE_MESSAGE)


_EE_POLICY = ExtensionPolicy.permit_all().require_present(
    x509.KeyUsage, Criticality.AGNOSTIC, _require_digital_signature
)
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()


def _check_validity(certificate: x509.Certificate, at: datetime) -> None:
    subject = certificate.subject.rfc4514_string()
    if at < certificate.not_valid_before_utc:
        raise TrustError(
            f"certificate {subject!r} is not valid before {certificate.not_valid_before_utc.isoformat()} "
            f"(checked at {at.isoformat()})",
            rule="cert-not-yet-valid",
        )
    if at > certificate.not_valid_after_utc:
        raise TrustError(
            f"certificate {subject!r} expired at {certificate.not_valid_after_utc.isoformat()} "
            f"(checked at {at.isoformat()})",
            rule="cert-expired",
        )


def _key_identifier(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> bytes | None:
    try:
        value = certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    if isinstance(value, x509.AuthorityKeyIdentifier):
        return value.key_identifier
    return value.digest if isinstance(value, x509.SubjectKeyIdentifier) else None


def _names_as_issuer(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `certificate` names `issuer` as its issuer: the name, and the key identifier when both carry one."""
    if certificate.issuer != issuer.subject:
        return False
    claimed = _key_identifier(certificate, x509.AuthorityKeyIdentifier)
    actual = _key_identifier(issuer, x509.SubjectKeyIdentifier)
    return claimed is None or actual is None or claimed == actual


def _untrusted_ca(leaf: x509.Certificate, top: x509.Certificate, anchors: Sequence[x509.Certificate]) -> TrustError:
    issuer = top.issuer.rfc4514_string()
    trusted = ", ".join(repr(anchor.subject.rfc4514_string()) for anchor in anchors)
    alike = " (a CA of the same name, with another key)" if any(a.subject == top.issuer for a in anchors) else ""
    return TrustError(
        f"certificate {leaf.subject.rfc4514_string()!r} was issued under CA {issuer!r}{alike}, which is not "
        f"trusted here; trusted: {trusted}",
        rule="ca-untrusted",
    )


def _chain_error(leaf: x509.Certificate, error: VerificationError) -> TrustError:
    """Name the failed rule. cryptography reports every failure as one exception type, so the text decides."""
    subject = leaf.subject.rfc4514_string()
    reason = str(error)
    if _KEY_USAGE_MESSAGE in reason or x509.ExtensionOID.KEY_USAGE.dotted_string in reason:
        return TrustError(f"certificate {subject!r} may not sign documents: {reason}", rule="cert-key-usage")
    if "not valid at validation time" in reason:
        # The leaf was checked before, so a CA above it is out of its validity period.
        return TrustError(f"a CA above {subject!r} is out of its validity period: {reason}", rule="cert-expired")
    return TrustError(f"certificate {subject!r} does not chain to a trusted CA: {reason}", rule="cert-untrusted")


# --- issuing -------------------------------------------------------------------------------------------------


def _new_key(algorithm: str) -> PrivateKey:
    if algorithm == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unknown key algorithm {algorithm!r}: use 'ec' or 'rsa'")


def _check_node_id(node_id: str) -> None:
    if not _NODE_ID.fullmatch(node_id) or node_id == Path(_CA_FILE).stem or node_id.endswith(_KEY_SUFFIX):
        raise ValueError(
            f"node id {node_id!r} cannot name certificate files and DNS SANs: use letters, digits, '.' and '-', "
            f"not 'ca' and not ending in '{_KEY_SUFFIX}'"
        )


def _ca_certificate(key: PrivateKey, name: x509.Name, not_before: datetime, not_after: datetime) -> x509.Certificate:
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """Each host once, as an IP address where it is one, else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _node_certificate(
    node_id: str,
    subject: NodeSubject,
    key: PrivateKey,
    ca_certificate: x509.Certificate,
    ca_key: PrivateKey,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, node_id)]
    if subject.organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject.organization))
    if subject.country:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, subject.country))
    public_key = key.public_key()
    ca_ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=isinstance(key, rsa.RSAPrivateKey),
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.SubjectAlternativeName(_host_names([node_id, "localhost", "127.0.0.1", *subject.hosts])),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_encipherment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --- files ---------------------------------------------------------------------------------------------------


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_key(path: Path, pem: bytes) -> None:
    path.write_bytes(pem)
    path.chmod(0o600)


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(read_input(path, "certificate"))
    except ValueError:
        raise InputError(f"{path}: holds no PEM certificate", document=str(path)) from None


def _load_key(path: Path) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(read_input(path, "private key"), password=None)
    except (ValueError, TypeError):
        raise InputError(f"{path}: holds no unencrypted PEM private key", document=str(path)) from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise TrustError(f"{path} holds a {type(key).__name__}; caravan signs with EC or RSA keys", rule="key-type")
    return key


def _check_loaded(node_id: str, key: PrivateKey, certificate: x509.Certificate) -> None:
    """Catch renamed or swapped files now, not as a baffling signature failure at the partner."""
    if common_name(certificate) != node_id:
        raise TrustError(
            f"{node_id}.pem is issued to {common_name(certificate)!r}, not to {node_id!r}", rule="cert-subject"
        )
    if key.public_key() != certificate.public_key():
        raise TrustError(f"{node_id}{_KEY_SUFFIX}.pem does not match the key in {node_id}.pem", rule="key-mismatch")
