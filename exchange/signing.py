"""Enveloped XML signatures over whole XML trees, and their verification.

What is signed is an exchange envelope (every family: the signature travels beside the document, see
`exchange.envelope`) and, where a family's own standard puts a signature inside the document, that
document too (ePhyto: the IPPC Hub carries only the certificate, so the NPPO's signature lives in it).

One profile, both ways: the signature is a `ds:Signature` that is the last child of the root,
covers the whole document (`Reference URI=""`), uses exclusive c14n (what other stacks such as xmlsec1
interoperate on) with SHA-256, and carries the signer's certificate in `KeyInfo/X509Data`.

Verification follows signxml's "see what is signed" rule: the signature must sit directly under the
root (a signature moved into a forged wrapper does not count), the chain is checked against the node's
`TrustStore` at a caller-given time, and the caller only ever gets back the content the signature covers.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

import cryptography.exceptions
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConfiguration,
    SignatureMethod,
    VerifyResult,
    XMLSigner,
    XMLVerifier,
    methods,
)
from signxml.exceptions import InvalidDigest, SignXMLException

from exchange.clock import utc
from exchange.errors import TrustError
from exchange.pki import Credentials, PrivateKey, TrustStore, common_name
from exchange.safexml import parse_document

__all__ = ["C14N", "VerifiedDocument", "carries_signature", "sign_document", "verify_document"]

C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0

_DSIG = "http://www.w3.org/2000/09/xmldsig#"
_NS = {"ds": _DSIG}
_SIGNATURE = f"{{{_DSIG}}}Signature"
_SIGNATURE_METHODS = frozenset({SignatureMethod.ECDSA_SHA256, SignatureMethod.RSA_SHA256})
_DIGEST = DigestAlgorithm.SHA256

_EXPECTED = SignatureConfiguration(
    require_x509=True,
    location="./",
    expect_references=1,
    signature_methods=_SIGNATURE_METHODS,
    digest_algorithms=frozenset({_DIGEST}),
)


@dataclass(frozen=True)
class VerifiedDocument:
    """What a verified signature vouches for, and who signed it.

    `root` is signxml's `signed_xml`: the canonicalized content the signature covers, without the
    signature. It is the only tree that may be validated or acted upon; the inbound bytes may hold more.
    """

    root: etree._Element
    signer_id: str  # CN of the signing certificate, i.e. the signing node's id
    certificate: x509.Certificate


def sign_document(root: etree._Element, credentials: Credentials) -> bytes:
    """Sign the whole document with `credentials` and return it as UTF-8 bytes with an XML declaration.

    The caller's element is left as it is (signxml signs a copy). The root must not carry an `Id`/`ID`
    attribute: signxml would then reference it as `#Id` instead of `""`, which verifiers here refuse.
    """
    for attribute in ("Id", "ID"):
        if root.get(attribute) is not None:
            raise ValueError(f"root {root.tag} has an {attribute} attribute; caravan signs documents by URI=''")
    signer = XMLSigner(
        method=methods.enveloped,
        signature_algorithm=_signature_method(credentials.key),
        digest_algorithm=_DIGEST,
        c14n_algorithm=C14N,
    )
    # Loaded key objects, never PEM: signxml would re-parse (and for RSA re-validate) PEM on every call.
    signed = signer.sign(root, key=credentials.key, cert=list(credentials.chain))
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def verify_document(
    data: bytes, trust: TrustStore, at: datetime, *, root: etree._Element | None = None
) -> VerifiedDocument:
    """Check that `data` is a document signed under our profile by a certificate `trust` accepts at `at`.

    `root` is `data` already read with `parse_document` (by a caller that looked at it first), or None.

    Raises DocumentError for bytes that are not a readable document, and TrustError otherwise, with the
    rule broken: "signature-missing", "signature-location" (not directly under the root: wrapping),
    "signature-algorithm", "signature-reference", "cert-missing", "cert-malformed", "cert-ambiguous",
    the `TrustStore` rules ("ca-untrusted", "cert-untrusted", "cert-expired", ...), "signature-value" (not
    made with the certificate's key), "signature-digest" (content changed after signing),
    "signature-malformed".
    """
    if root is None:
        root = parse_document(data)
    signature = _enveloped_signature(root)
    _check_algorithms(signature)
    leaf, others = _signing_certificate(signature)
    # Chain checked here against certificates parsed once, then signxml is pinned to the leaf, so it
    # never re-reads a CA file nor falls back to certifi's web roots.
    trust.validate_chain(leaf, others, at)
    try:
        # signxml reads the bytes once; given the element it would serialise it and then read that
        result = XMLVerifier().verify(data, x509_cert=leaf, expect_config=replace(_EXPECTED, verification_time=utc(at)))
    except InvalidDigest as error:
        raise TrustError(f"document content changed after it was signed ({error})", rule="signature-digest") from None
    except cryptography.exceptions.InvalidSignature as error:
        raise TrustError(
            f"signature value does not verify with the key of {common_name(leaf)!r}: {error}", rule="signature-value"
        ) from None
    except (SignXMLException, etree.DocumentInvalid, ValueError) as error:
        raise TrustError(f"signature is not well-formed: {error}", rule="signature-malformed") from None
    if not isinstance(result, VerifyResult) or result.signed_xml is None:
        raise TrustError("signature does not cover one XML document", rule="signature-reference")
    return VerifiedDocument(result.signed_xml, common_name(leaf), leaf)


def carries_signature(root: etree._Element) -> bool:
    """Whether any ds:Signature is in the tree: one that is, wherever it is, must be verified, never ignored."""
    return next(root.iter(_SIGNATURE), None) is not None


def _signature_method(key: PrivateKey) -> SignatureMethod:
    return SignatureMethod.ECDSA_SHA256 if isinstance(key, ec.EllipticCurvePrivateKey) else SignatureMethod.RSA_SHA256


def _enveloped_signature(root: etree._Element) -> etree._Element:
    """The one ds:Signature directly under the root; anywhere else it signs something other than this."""
    signatures = root.findall(_SIGNATURE)
    if len(signatures) == 1:
        return signatures[0]
    if signatures:
        raise TrustError(
            f"root carries {len(signatures)} signatures; exactly one is accepted", rule="signature-location"
        )
    nested = next(root.iter(_SIGNATURE), None)
    if nested is not None:
        steps = [*reversed(list(nested.iterancestors())), nested]
        path = "/" + "/".join(etree.QName(step).localname for step in steps)  # local names, as every rule's path
        raise TrustError(
            f"the signature at {path} is not a child of the root element, so it does not sign this document "
            "(signature wrapping?)",
            path=path,
            rule="signature-location",
        )
    raise TrustError("document is not signed: no ds:Signature under the root element", rule="signature-missing")


_SIGNATURE_METHOD = etree.XPath("string(ds:SignedInfo/ds:SignatureMethod/@Algorithm)", namespaces=_NS)
_DIGEST_METHOD = etree.XPath("string(ds:DigestMethod/@Algorithm)", namespaces=_NS)
_SIGNATURE_METHOD_URIS = frozenset(method.value for method in _SIGNATURE_METHODS)


def _check_algorithms(signature: etree._Element) -> None:
    """Refuse what the profile does not allow with a precise reason, before signxml refuses it generically."""
    method = _SIGNATURE_METHOD(signature)
    if method not in _SIGNATURE_METHOD_URIS:
        raise TrustError(f"signature method {method!r} is not accepted", rule="signature-algorithm")
    references = signature.findall("ds:SignedInfo/ds:Reference", _NS)
    if len(references) != 1 or references[0].get("URI") != "":
        uris = [reference.get("URI") for reference in references]
        raise TrustError(
            f"signature must have one Reference URI='' (the whole document), has {uris}", rule="signature-reference"
        )
    digest = _DIGEST_METHOD(references[0])
    if digest != _DIGEST.value:
        raise TrustError(f"digest method {digest!r} is not accepted", rule="signature-algorithm")


def _signing_certificate(signature: etree._Element) -> tuple[x509.Certificate, Sequence[x509.Certificate]]:
    """Split KeyInfo's certificates into the signer's and the rest; XMLDSig implies no order among them."""
    elements = signature.findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS)
    if not elements:
        raise TrustError("signature carries no certificate in KeyInfo/X509Data", rule="cert-missing")
    return _split_chain(tuple(element.text or "" for element in elements))


@lru_cache(maxsize=256)
def _split_chain(encoded: tuple[str, ...]) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
    """The signer's certificate and the others, from KeyInfo's base64 texts: the signer's is the one that
    issued none of the others.

    Kept per texts: a sender carries the same chain in every message, and reading it (with the name
    comparisons that find the leaf) cost a fifth of a verification. Only the reading is kept; whether the
    chain is trusted is asked on every use (`TrustStore.validate_chain`). Refusals are raised, never kept.
    """
    try:
        certificates = [x509.load_der_x509_certificate(base64.b64decode(text)) for text in encoded]
    except ValueError as error:
        raise TrustError(f"certificate in KeyInfo cannot be read: {error}", rule="cert-malformed") from None
    leaves = [
        candidate
        for candidate in certificates
        if not any(other is not candidate and other.issuer == candidate.subject for other in certificates)
    ]
    if len(leaves) != 1:
        raise TrustError(f"KeyInfo holds {len(leaves)} candidate signer certificates, not one", rule="cert-ambiguous")
    leaf = leaves[0]
    return leaf, tuple(certificate for certificate in certificates if certificate is not leaf)
