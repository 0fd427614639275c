"""Mutual TLS between the hub, the nodes and the scenario driver.

Every party holds a TLS identity issued by the scenario CA, separate from its document-signing
certificate: the TLS stack checks validity against the system clock, while signatures are checked in
scenario (virtual) time, so a signing certificate that expires on day 2 of a pilot must not also cut the
wire on day 1. The common name of both certificates is the party's node id, and the receiving side
binds them: the TLS peer must be the envelope's sender, who must be the document's signer.

Layout under a scenario's `pki/`: `tls/ca.pem` (the same root), `tls/<party>.pem`, `tls/<party>-key.pem`;
declarants (traders) have theirs under `tls/traders/`, named and common-named by their EORI, to call their
node's trader API with (nodes/declarant.py); they never sign.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from cryptography import x509

from exchange.pki import common_name
from exchange.revocation import CRL_FILE, RevocationList

if TYPE_CHECKING:  # a health check builds a client context without loading the HTTP server stack
    from aiohttp import web

__all__ = [
    "DRIVER", "HUB", "TLS_DIR", "TRADERS_DIR", "TRADER_ORGANIZATION", "Peer", "TlsIdentity", "peer", "peer_certificate",
]

TLS_DIR = "tls"
TRADERS_DIR = "traders"
TRADER_ORGANIZATION = "caravan declarant"
"""The organisation of a trader's TLS certificate: whoever reads one sees it is no node's."""
HUB = "hub"
DRIVER = "driver"
"""The scenario driver's identity: the only party allowed on the control APIs."""


@dataclass(frozen=True)
class TlsIdentity:
    """One party's TLS files, and the contexts built from them."""

    party: str
    certificate: Path
    key: Path
    ca: Path

    @classmethod
    def in_pki(cls, pki: Path, party: str) -> TlsIdentity:
        directory = pki / TLS_DIR
        return cls(party, directory / f"{party}.pem", directory / f"{party}-key.pem", directory / "ca.pem")

    @classmethod
    def of_trader(cls, pki: Path, eori: str) -> TlsIdentity:
        """A declarant's identity, for its node's trader API."""
        directory = pki / TLS_DIR / TRADERS_DIR
        return cls(eori, directory / f"{eori}.pem", directory / f"{eori}-key.pem", directory / "ca.pem")

    def server_context(self) -> ssl.SSLContext:
        """Serve with this identity and require a client certificate from the scenario CA.

        Renegotiation is refused, so a connection's client certificate is the one of its handshake for as long
        as it lasts (TLS 1.3 has none, and the server never asks for a certificate after the handshake):
        `peer` reads it once per connection.
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.load_cert_chain(str(self.certificate), str(self.key))
        context.verify_mode = ssl.CERT_REQUIRED
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_RENEGOTIATION
        return context

    def client_context(self) -> ssl.SSLContext:
        """Connect with this identity, trusting only the scenario CA."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        context.load_cert_chain(str(self.certificate), str(self.key))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def revocations(self) -> RevocationList:
        """The scenario CRL (published beside the root in `pki/`), which lists revoked TLS identities too."""
        anchors = x509.load_pem_x509_certificates(self.ca.read_bytes())
        return RevocationList(self.ca.parent.parent / CRL_FILE, anchors)


@dataclass(frozen=True)
class Peer:
    """Who is at the other end of a mutual-TLS connection: its client certificate and the party it names."""

    certificate: x509.Certificate
    party: str


_PEERS: WeakKeyDictionary[ssl.SSLObject, Peer] = WeakKeyDictionary()
"""Each open connection's peer, by its TLS object: gone with the connection."""


def peer(request: web.Request) -> Peer | None:
    """The TLS peer of a request, or None on plain HTTP.

    Read once per connection, not once per request: a kept-alive connection carries many requests, and
    reading the certificate again, parsing it and finding its common name cost more than the rest of the
    access check. The certificate cannot change on a connection (`TlsIdentity.server_context`).
    """
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    known = _PEERS.get(ssl_object)
    if known is None:
        certificate = _peer_certificate(ssl_object)
        if certificate is None:
            return None
        known = _PEERS[ssl_object] = Peer(certificate, common_name(certificate))
    return known


def peer_certificate(request: web.Request) -> x509.Certificate | None:
    """The client certificate of a mutual-TLS request, or None on plain HTTP."""
    known = peer(request)
    return None if known is None else known.certificate


def _peer_certificate(ssl_object: ssl.SSLObject) -> x509.Certificate | None:
    der = ssl_object.getpeercert(binary_form=True)
    return None if der is None else _certificate(der)


@lru_cache(maxsize=1024)
def _certificate(der: bytes) -> x509.Certificate:
    """Parsed once per certificate, not once per request: every request of a kept-alive connection shows it again."""
    return x509.load_der_x509_certificate(der)
