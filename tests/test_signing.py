from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from types import ModuleType

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from exchange.envelope import Envelope, rewrite_envelope
from exchange.errors import DocumentError, TrustError
from exchange.intake import open_envelope
from exchange.pki import Credentials, ScenarioPKI
from exchange.signing import VerifiedDocument, sign_document, verify_document
from nodes.customs.codec import encode
from tests import cats_samples

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
AT = T0 + timedelta(days=1)
DSIG = "http://www.w3.org/2000/09/xmldsig#"
DS = {"ds": DSIG}
EXC_C14N = b'"http://www.w3.org/2001/10/xml-exc-c14n#"'

# A default namespace, a prefixed one and indentation: the shapes that broke c14n round trips before.
DOCUMENT = b"""<?xml version="1.0" encoding="UTF-8"?>
<TransitDeclaration xmlns="urn:caravan:transit" xmlns:c="urn:caravan:common">
  <Header c:version="1">
    <DestinationCountry>UZ</DestinationCountry>
  </Header>
  <GoodsItem><GrossMass>12.5</GrossMass><c:Note>Tbilisi &amp; Tashkent</c:Note></GoodsItem>
</TransitDeclaration>"""

SIGNATURE_METHODS = {
    "ec": "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "rsa": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
}


@pytest.fixture(scope="module")
def pkis() -> dict[str, ScenarioPKI]:
    return {
        algorithm: ScenarioPKI.generate(["AZE", "GEO"], valid_from=T0, valid_days=30, algorithm=algorithm)
        for algorithm in SIGNATURE_METHODS
    }


@pytest.fixture(scope="module")
def pki(pkis: dict[str, ScenarioPKI]) -> ScenarioPKI:
    return pkis["ec"]


@pytest.fixture(scope="module")
def signed(pki: ScenarioPKI) -> bytes:
    return sign_document(etree.fromstring(DOCUMENT), pki.credentials("AZE"))


@pytest.fixture
def xmlsec() -> ModuleType:
    return pytest.importorskip("xmlsec")


def canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def verify(data: bytes, pki: ScenarioPKI, at: datetime = AT) -> VerifiedDocument:
    return verify_document(data, pki.trust_store(), at)


def trust_failure(data: bytes, pki: ScenarioPKI, at: datetime = AT) -> TrustError:
    with pytest.raises(TrustError) as caught:
        verify(data, pki, at)
    return caught.value


def edit(data: bytes, change: str) -> bytes:
    """Apply a structural change to a signed document and serialize it again."""
    root = etree.fromstring(data)
    signature = root.find("ds:Signature", DS)
    if change == "wrap":
        forged = etree.fromstring(b'<TransitDeclaration xmlns="urn:caravan:transit"><Wrapper/></TransitDeclaration>')
        forged[0].append(root)
        return etree.tostring(forged)
    if change == "move-signature-to-forged-root":
        forged = etree.fromstring(b'<TransitDeclaration xmlns="urn:caravan:transit"><Header/></TransitDeclaration>')
        forged.append(signature)
        forged.append(root)
        return etree.tostring(forged)
    if change == "duplicate-signature":
        root.append(etree.fromstring(etree.tostring(signature)))
        return etree.tostring(root)
    if change == "strip-signature":
        root.remove(signature)
        return etree.tostring(root)
    if change == "strip-key-info":
        signature.remove(signature.find("ds:KeyInfo", DS))
        return etree.tostring(root)
    if change == "garble-certificate":
        signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS).text = "AAAA"
        return etree.tostring(root)
    if change == "duplicate-leaf-certificate":
        certificate = signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS)
        certificate.addnext(etree.fromstring(etree.tostring(certificate)))
        return etree.tostring(root)
    if change == "flip-signature-value":
        value = signature.find("ds:SignatureValue", DS)
        raw = bytearray(base64.b64decode(value.text))
        raw[-1] ^= 0x01
        value.text = base64.b64encode(bytes(raw)).decode()
        return etree.tostring(root)
    raise AssertionError(change)


@pytest.mark.parametrize("algorithm", SIGNATURE_METHODS)
def test_round_trip(pkis: dict[str, ScenarioPKI], algorithm: str) -> None:
    pki = pkis[algorithm]
    data = sign_document(etree.fromstring(DOCUMENT), pki.credentials("GEO"))
    verified = verify(data, pki)
    assert verified.signer_id == "GEO"
    assert verified.certificate == pki.credentials("GEO").certificate
    assert canonical(verified.root) == canonical(etree.fromstring(DOCUMENT))
    assert verified.root.find("ds:Signature", DS) is None


@pytest.mark.parametrize("algorithm", SIGNATURE_METHODS)
def test_signature_profile(pkis: dict[str, ScenarioPKI], algorithm: str) -> None:
    credentials = pkis[algorithm].credentials("AZE")
    data = sign_document(etree.fromstring(DOCUMENT), credentials)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    signature = etree.fromstring(data)[-1]
    assert signature.tag == f"{{{DSIG}}}Signature"

    def algorithm_of(path: str) -> str:
        return signature.find(path, DS).get("Algorithm")

    assert algorithm_of("ds:SignedInfo/ds:SignatureMethod") == SIGNATURE_METHODS[algorithm]
    assert algorithm_of("ds:SignedInfo/ds:CanonicalizationMethod") == "http://www.w3.org/2001/10/xml-exc-c14n#"
    assert algorithm_of("ds:SignedInfo/ds:Reference/ds:DigestMethod") == "http://www.w3.org/2001/04/xmlenc#sha256"
    assert [ref.get("URI") for ref in signature.findall("ds:SignedInfo/ds:Reference", DS)] == [""]
    first = signature.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS).text
    assert base64.b64decode(first) == credentials.certificate.public_bytes(Encoding.DER)


def test_signing_leaves_the_callers_element_alone(pki: ScenarioPKI) -> None:
    root = etree.fromstring(DOCUMENT)
    before = etree.tostring(root)
    sign_document(root, pki.credentials("AZE"))
    assert etree.tostring(root) == before


def test_root_with_id_is_refused(pki: ScenarioPKI) -> None:
    with pytest.raises(ValueError, match="Id"):
        sign_document(etree.fromstring(b'<d Id="doc1"/>'), pki.credentials("AZE"))


def test_changed_text_fails_digest(signed: bytes, pki: ScenarioPKI) -> None:
    tampered = signed.replace(b"<GrossMass>12.5<", b"<GrossMass>12.6<")
    assert tampered != signed
    assert trust_failure(tampered, pki).rule == "signature-digest"


def test_changed_signature_value_fails(signed: bytes, pki: ScenarioPKI) -> None:
    assert trust_failure(edit(signed, "flip-signature-value"), pki).rule == "signature-value"


def test_certificate_from_another_ca_is_untrusted(pki: ScenarioPKI) -> None:
    impostor = ScenarioPKI.generate(["AZE"], valid_from=T0)
    data = sign_document(etree.fromstring(DOCUMENT), impostor.credentials("AZE"))
    assert trust_failure(data, pki).rule == "ca-untrusted"


def test_certificate_validity_is_checked_at_the_given_time(signed: bytes, pki: ScenarioPKI) -> None:
    assert trust_failure(signed, pki, at=T0 + timedelta(days=31)).rule == "cert-expired"
    assert trust_failure(signed, pki, at=T0 - timedelta(days=1)).rule == "cert-not-yet-valid"


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ("wrap", "signature-location"),
        ("move-signature-to-forged-root", "signature-digest"),
        ("duplicate-signature", "signature-location"),
    ],
)
def test_wrapping_attacks_fail(signed: bytes, pki: ScenarioPKI, change: str, rule: str) -> None:
    assert trust_failure(edit(signed, change), pki).rule == rule


def test_only_signed_content_is_returned(signed: bytes, pki: ScenarioPKI) -> None:
    """Comments are outside exclusive c14n, so an injected one verifies but must not reach the caller."""
    injected = signed.replace(b"<Header", b"<!-- DestinationCountry=ZZ --><Header")
    verified = verify(injected, pki)
    assert not verified.root.xpath("//comment()")


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ("strip-signature", "signature-missing"),
        ("strip-key-info", "cert-missing"),
        ("garble-certificate", "cert-malformed"),
        ("duplicate-leaf-certificate", "cert-ambiguous"),
    ],
)
def test_signer_must_be_identifiable(signed: bytes, pki: ScenarioPKI, change: str, rule: str) -> None:
    assert trust_failure(edit(signed, change), pki).rule == rule


@pytest.mark.parametrize(
    ("old", "new", "rule"),
    [
        (b"xmldsig-more#ecdsa-sha256", b"xmldsig-more#ecdsa-sha1", "signature-algorithm"),
        (b"xmlenc#sha256", b"xmlenc#sha512", "signature-algorithm"),
        (b'Reference URI=""', b'Reference URI="#doc1"', "signature-reference"),
        (b"<ds:CanonicalizationMethod Algorithm=" + EXC_C14N + b"/>", b"", "signature-malformed"),
    ],
)
def test_profile_violations_are_named(signed: bytes, pki: ScenarioPKI, old: bytes, new: bytes, rule: str) -> None:
    assert old in signed
    assert trust_failure(signed.replace(old, new), pki).rule == rule


def test_hostile_bytes_fail_as_documents(pki: ScenarioPKI) -> None:
    with pytest.raises(DocumentError) as caught:
        verify(b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', pki)
    assert caught.value.rule == "xml-dtd"


@pytest.mark.parametrize("algorithm", SIGNATURE_METHODS)
def test_xmlsec_verifies_caravan_signatures(pkis: dict[str, ScenarioPKI], algorithm: str, xmlsec: ModuleType) -> None:
    credentials = pkis[algorithm].credentials("AZE")
    data = sign_document(etree.fromstring(DOCUMENT), credentials)
    xmlsec_verify(data, credentials, xmlsec)
    with pytest.raises(xmlsec.Error):
        xmlsec_verify(data.replace(b"<GrossMass>12.5<", b"<GrossMass>12.6<"), credentials, xmlsec)


def xmlsec_sign(root: etree._Element, credentials: Credentials, algorithm: str, xmlsec: ModuleType) -> bytes:
    """Sign `root` under caravan's profile with python-xmlsec (libxmlsec1), an implementation independent of signxml."""
    constants, template = xmlsec.constants, xmlsec.template
    method = constants.TransformEcdsaSha256 if algorithm == "ec" else constants.TransformRsaSha256
    signature = template.create(root, constants.TransformExclC14N, method, ns="ds")
    root.append(signature)
    reference = template.add_reference(signature, constants.TransformSha256, uri="")
    template.add_transform(reference, constants.TransformEnveloped)
    template.add_transform(reference, constants.TransformExclC14N)
    template.x509_data_add_certificate(template.add_x509_data(template.ensure_key_info(signature)))
    key = xmlsec.Key.from_memory(credentials.key_pem, constants.KeyDataFormatPem)
    key.load_cert_from_memory(credentials.certificate_pem, constants.KeyDataFormatPem)
    context = xmlsec.SignatureContext()
    context.key = key
    context.sign(signature)
    return etree.tostring(root)


def xmlsec_verify(data: bytes, credentials: Credentials, xmlsec: ModuleType) -> None:
    """Raise xmlsec.Error unless python-xmlsec verifies `data` with the signer's certificate as the key.

    The leaf certificate is loaded as the key: xmlsec's own chain check would use the wall clock.
    """
    signature = xmlsec.tree.find_node(etree.fromstring(data), xmlsec.constants.NodeSignature)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(credentials.certificate_pem, xmlsec.constants.KeyDataFormatCertPem)
    context.verify(signature)


@pytest.mark.parametrize("algorithm", SIGNATURE_METHODS)
def test_caravan_verifies_xmlsec_signatures(pkis: dict[str, ScenarioPKI], algorithm: str, xmlsec: ModuleType) -> None:
    pki = pkis[algorithm]
    data = xmlsec_sign(etree.fromstring(DOCUMENT), pki.credentials("GEO"), algorithm, xmlsec)
    verified = verify(data, pki)
    assert verified.signer_id == "GEO"
    assert canonical(verified.root) == canonical(etree.fromstring(DOCUMENT))


@pytest.mark.parametrize("algorithm", SIGNATURE_METHODS)
def test_envelopes_interoperate_with_xmlsec_both_ways(algorithm: str, xmlsec: ModuleType) -> None:
    """The envelope signature is plain XMLDSig: one xmlsec made opens at caravan's intake, one caravan made
    verifies in xmlsec, and one document byte changed inside the envelope fails xmlsec."""
    pki = ScenarioPKI.generate(["uz"], valid_from=T0, valid_days=30, algorithm=algorithm)
    credentials = pki.credentials("uz")
    message = cats_samples.aar()
    document = etree.tostring(encode(message), xml_declaration=True, encoding="UTF-8")
    envelope = Envelope(message.header.message_id, message.mrn, "uz", "ge", message.code, AT, document)

    opened = open_envelope(xmlsec_sign(etree.fromstring(envelope.to_xml()), credentials, algorithm, xmlsec),
                           pki.trust_store(), at=AT)
    assert opened.verified is not None and opened.verified.signer_id == "uz"
    assert canonical(opened.root) == canonical(etree.fromstring(document))

    sealed = envelope.signed(credentials)
    xmlsec_verify(sealed, credentials, xmlsec)
    with pytest.raises(xmlsec.Error):
        xmlsec_verify(rewrite_envelope(sealed, document=document.replace(b"GE000510", b"GE000511", 1)), credentials,
                      xmlsec)
