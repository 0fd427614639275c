"""The directory of active NPPOs: who may connect, how each receives, what each may send, its routing rules.

On the real Hub an NPPO uploads its client certificate to its connection profile, and a call from a
certificate the Hub cannot match is refused ("NPPO from client certificate not found") even though the
TLS handshake succeeded. Here every node of a scenario is an NPPO whose country (connection) code is its
node id in capitals; it is recognised by the fingerprint of a certificate the scenario CA issued to it
(its TLS identity or its signing certificate), never by a name alone.

The directory follows the scenario CA at once, as the verifiers do: certificate files are re-read when
they change (a rotation publishes the new signing certificate in GetActiveNppos on the next call), and
every lookup consults the CA's revocation list in scenario time (an NPPO whose signing certificate is
revoked is no longer active: it is not listed, not a valid addressee, and its calls are refused).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from exchange.clock import Clock
from exchange.errors import TrustError
from exchange.ippc.entities import (
    AllowedDocument,
    Channel,
    ChannelRule,
    Direction,
    EnvelopeHeader,
    NppoView,
    Receive,
    RuleType,
)
from exchange.revocation import CRL_FILE, RevocationList

__all__ = ["DEFAULT_ALLOWED", "CertificateFile", "Directory", "NppoProfile", "fingerprint"]

DEFAULT_ALLOWED = tuple(AllowedDocument(kind, status) for kind in (851, 657) for status in (70, 40))
"""Phytosanitary and re-export certificates, issued (70) or withdrawn (40)."""

NOT_FOUND = "NPPO from client certificate not found"
"""The Hub's own words for a certificate it cannot match to a connection profile."""


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


class CertificateFile:
    """A PEM certificate the scenario CA may rewrite (rotation, expiry): parsed again only when it changed."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: tuple[int, int] | None = None
        self._certificate: x509.Certificate | None = None

    def current(self) -> x509.Certificate | None:
        try:
            status = self._path.stat()
        except FileNotFoundError:
            return None
        stamp = (status.st_mtime_ns, status.st_size)
        if stamp != self._stamp:
            self._certificate = x509.load_pem_x509_certificate(self._path.read_bytes())
            self._stamp = stamp
        return self._certificate


@dataclass(frozen=True)
class NppoProfile:
    node_id: str
    signing: CertificateFile
    tls: CertificateFile | None = None
    receive: Receive = Receive.PUSH
    allowed: tuple[AllowedDocument, ...] = DEFAULT_ALLOWED
    name: str = ""
    rules: tuple[ChannelRule, ...] = field(default=())

    @property
    def country(self) -> str:
        return self.node_id.upper()

    @property
    def signing_certificate(self) -> x509.Certificate:
        certificate = self.signing.current()
        if certificate is None:
            raise TrustError(f"NPPO {self.country} has no signing certificate on file", rule="nppo-unknown")
        return certificate

    def certificates(self) -> list[x509.Certificate]:
        """Its current signing certificate and TLS identity: what it may present to connect."""
        files = [self.signing, *([self.tls] if self.tls is not None else [])]
        return [certificate for file in files if (certificate := file.current()) is not None]

    def may_send(self, certificate_type: int, certificate_status: int) -> bool:
        return any(
            a.active and (a.certificate_type, a.certificate_status) == (certificate_type, certificate_status)
            for a in self.allowed
        )

    def rules_for(self, rule_type: RuleType, direction: Direction, certificate_type: int,
                  certificate_status: int) -> list[ChannelRule]:
        return [rule for rule in self.rules
                if rule.rule_type is rule_type and rule.applies(direction, certificate_type, certificate_status)]

    def delegates(self, direction: Direction, country: str, certificate_type: int, certificate_status: int) -> bool:
        """Whether `country` may act for this NPPO on such a delivery in `direction` (a DELEGATE rule)."""
        return any(rule.country_code == country
                   for rule in self.rules_for(RuleType.DELEGATE, direction, certificate_type, certificate_status))

    def view(self) -> NppoView:
        signing = self.signing_certificate
        der = signing.public_bytes(serialization.Encoding.DER)
        return NppoView(
            country=self.country,
            receive=self.receive,
            send=any(a.active for a in self.allowed),
            allowed=self.allowed,
            signing_dn=signing.subject.rfc4514_string(),
            signing_certificate=base64.b64encode(der).decode("ascii"),
            rules=self.rules,
        )

    def channel(self) -> Channel:
        return Channel(self.country, self.name or f"NPPO of {self.country}", receive=True,
                       send=any(a.active for a in self.allowed))


class Directory:
    """Active NPPOs by node id. Profile settings are immutable (a changed one gives a new directory);
    certificates and revocations are read live."""

    def __init__(
        self, profiles: Iterable[NppoProfile], clock: Clock, revocations: RevocationList | None = None
    ) -> None:
        self._profiles = {profile.node_id: profile for profile in profiles}
        self._clock = clock
        self._revocations = revocations

    @classmethod
    def from_pki(
        cls,
        pki: Path,
        node_ids: Iterable[str],
        clock: Clock,
        *,
        receive: Mapping[str, Receive] | None = None,
        allowed: Mapping[str, tuple[AllowedDocument, ...]] | None = None,
        names: Mapping[str, str] | None = None,
        rules: Mapping[str, tuple[ChannelRule, ...]] | None = None,
    ) -> Directory:
        """Every node of a written scenario PKI (`<node>.pem`, and `tls/<node>.pem` when present)."""
        receive, allowed, names, rules = receive or {}, allowed or {}, names or {}, rules or {}
        anchors = x509.load_pem_x509_certificates((pki / "ca.pem").read_bytes())
        profiles = [
            NppoProfile(
                node_id,
                CertificateFile(pki / f"{node_id}.pem"),
                CertificateFile(pki / "tls" / f"{node_id}.pem") if (pki / "tls" / f"{node_id}.pem").is_file() else None,
                receive.get(node_id, Receive.PUSH),
                allowed.get(node_id, DEFAULT_ALLOWED),
                names.get(node_id, ""),
                rules.get(node_id, ()),
            )
            for node_id in node_ids
        ]
        return cls(profiles, clock, RevocationList(pki / CRL_FILE, anchors))

    def _active(self, profile: NppoProfile) -> bool:
        if self._revocations is None:
            return True
        try:
            self._revocations.check(profile.signing_certificate, self._clock.now())
        except TrustError:
            return False
        return True

    def profiles(self) -> list[NppoProfile]:
        """The active NPPOs: every one whose current signing certificate is not revoked."""
        return [p for p in sorted(self._profiles.values(), key=lambda p: p.node_id) if self._active(p)]

    def by_node(self, node_id: str) -> NppoProfile | None:
        profile = self._profiles.get(node_id)
        return profile if profile is not None and self._active(profile) else None

    def by_country(self, code: str) -> NppoProfile | None:
        return self.by_node(code.strip().lower())

    def identify(self, certificate: x509.Certificate | None) -> NppoProfile:
        """The NPPO whose uploaded certificate this is; TrustError with the Hub's words otherwise, and
        cert-revoked for a certificate the scenario CA revoked."""
        if certificate is None:
            raise TrustError(f"{NOT_FOUND}: the connection presented no client certificate", rule="nppo-unknown")
        if self._revocations is not None:
            self._revocations.check(certificate, self._clock.now())
        presented = fingerprint(certificate)
        for profile in self._profiles.values():
            if presented in {fingerprint(known) for known in profile.certificates()} and self._active(profile):
                return profile
        subject = certificate.subject.rfc4514_string()
        raise TrustError(f"{NOT_FOUND}: {subject}", rule="nppo-unknown")

    def acts_for(self, caller: NppoProfile, country: str, direction: Direction, header: EnvelopeHeader) -> bool:
        """Whether `caller` is the NPPO of `country`, or one it delegates `direction` to for such a delivery."""
        owner = self.by_country(country)
        return country.strip().upper() == caller.country or (owner is not None and owner.delegates(
            direction, caller.country, header.certificate_type, header.certificate_status))

    def principals(self, caller: NppoProfile) -> list[str]:
        """The caller and every NPPO whose DELEGATE INC rule names it: whose imports the caller may take."""
        return [caller.country, *(profile.country for profile in self.profiles()
                                  if any(rule.rule_type is RuleType.DELEGATE and rule.direction is Direction.INC
                                         and rule.country_code == caller.country for rule in profile.rules))]

    def with_receive(self, node_id: str, receive: Receive) -> Directory:
        profile = self._profiles[node_id]
        return Directory([*(p for p in self._profiles.values() if p.node_id != node_id),
                          replace(profile, receive=receive)], self._clock, self._revocations)
