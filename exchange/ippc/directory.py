"""The directory of active NPPOs: who may connect, how each receives, what each may send.

On the real Hub an NPPO uploads its client certificate to its connection profile, and a call from a
certificate the Hub cannot match is refused ("NPPO from client certificate not found") even though the
TLS handshake succeeded. Here every node of a scenario is an NPPO whose country (connection) code is its
node id in capitals; it is recognised by the fingerprint of a certificate the scenario CA issued to it
(its TLS identity or its signing certificate), never by a name alone.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from exchange.errors import TrustError
from exchange.ippc.entities import AllowedDocument, NppoView, Receive

__all__ = ["DEFAULT_ALLOWED", "Directory", "NppoProfile", "fingerprint"]

DEFAULT_ALLOWED = tuple(AllowedDocument(kind, status) for kind in (851, 657) for status in (70, 40))
"""Phytosanitary and re-export certificates, issued (70) or withdrawn (40)."""

NOT_FOUND = "NPPO from client certificate not found"
"""The Hub's own words for a certificate it cannot match to a connection profile."""


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


@dataclass(frozen=True)
class NppoProfile:
    node_id: str
    signing_certificate: x509.Certificate
    client_fingerprints: frozenset[str]
    receive: Receive = Receive.PUSH
    allowed: tuple[AllowedDocument, ...] = DEFAULT_ALLOWED

    @property
    def country(self) -> str:
        return self.node_id.upper()

    def may_send(self, certificate_type: int, certificate_status: int) -> bool:
        return any(
            a.active and (a.certificate_type, a.certificate_status) == (certificate_type, certificate_status)
            for a in self.allowed
        )

    def view(self) -> NppoView:
        der = self.signing_certificate.public_bytes(serialization.Encoding.DER)
        return NppoView(
            country=self.country,
            receive=self.receive,
            send=any(a.active for a in self.allowed),
            allowed=self.allowed,
            signing_dn=self.signing_certificate.subject.rfc4514_string(),
            signing_certificate=base64.b64encode(der).decode("ascii"),
        )


class Directory:
    """Active NPPOs by node id; immutable, a changed profile gives a new directory."""

    def __init__(self, profiles: Iterable[NppoProfile]) -> None:
        self._profiles = {profile.node_id: profile for profile in profiles}

    @classmethod
    def from_pki(
        cls,
        pki: Path,
        node_ids: Iterable[str],
        *,
        receive: Mapping[str, Receive] | None = None,
        allowed: Mapping[str, tuple[AllowedDocument, ...]] | None = None,
    ) -> Directory:
        """Every node of a written scenario PKI (`<node>.pem`, and `tls/<node>.pem` when present)."""
        receive, allowed = receive or {}, allowed or {}
        profiles = []
        for node_id in node_ids:
            signing = x509.load_pem_x509_certificate((pki / f"{node_id}.pem").read_bytes())
            known = {fingerprint(signing)}
            tls = pki / "tls" / f"{node_id}.pem"
            if tls.is_file():
                known.add(fingerprint(x509.load_pem_x509_certificate(tls.read_bytes())))
            profiles.append(NppoProfile(node_id, signing, frozenset(known), receive.get(node_id, Receive.PUSH),
                                        allowed.get(node_id, DEFAULT_ALLOWED)))
        return cls(profiles)

    def profiles(self) -> list[NppoProfile]:
        return sorted(self._profiles.values(), key=lambda p: p.node_id)

    def by_node(self, node_id: str) -> NppoProfile | None:
        return self._profiles.get(node_id)

    def by_country(self, code: str) -> NppoProfile | None:
        return self._profiles.get(code.strip().lower())

    def identify(self, certificate: x509.Certificate | None) -> NppoProfile:
        """The NPPO whose uploaded certificate this is; TrustError with the Hub's words otherwise."""
        if certificate is None:
            raise TrustError(f"{NOT_FOUND}: the connection presented no client certificate", rule="nppo-unknown")
        presented = fingerprint(certificate)
        for profile in self._profiles.values():
            if presented in profile.client_fingerprints:
                return profile
        subject = certificate.subject.rfc4514_string()
        raise TrustError(f"{NOT_FOUND}: {subject}", rule="nppo-unknown")

    def with_receive(self, node_id: str, receive: Receive) -> Directory:
        profile = self._profiles[node_id]
        return Directory([*(p for p in self._profiles.values() if p.node_id != node_id),
                          replace(profile, receive=receive)])
