from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import DNSName, PolicyBuilder, Store

from exchange.errors import InputError, TrustError
from exchange.pki import CA_COMMON_NAME, NodeSubject, ScenarioPKI, TrustStore, ca_name

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def pki() -> ScenarioPKI:
    subjects = {"AZE": NodeSubject(organization="State Customs Committee", country="AZ")}
    return ScenarioPKI.generate(["AZE", "GEO"], valid_from=T0, valid_days=30, subjects=subjects)


@pytest.fixture(scope="module")
def rsa_pki() -> ScenarioPKI:
    return ScenarioPKI.generate(["UZB"], valid_from=T0, algorithm="rsa")


def extension(certificate: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[x509.ExtensionType]:
    return certificate.extensions.get_extension_for_class(kind)


def rejection(trust: TrustStore, leaf: x509.Certificate, at: datetime) -> TrustError:
    with pytest.raises(TrustError) as caught:
        trust.validate_chain(leaf, [], at)
    return caught.value


def test_ca_profile(pki: ScenarioPKI) -> None:
    ca = pki.ca_certificate
    assert ca.subject == ca.issuer
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CA_COMMON_NAME
    constraints = extension(ca, x509.BasicConstraints)
    assert constraints.critical and constraints.value == x509.BasicConstraints(ca=True, path_length=0)
    usage = extension(ca, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert extension(ca, x509.SubjectKeyIdentifier).value.digest
    assert (ca.not_valid_before_utc, ca.not_valid_after_utc) == (T0, T0 + 30 * DAY)


def test_node_certificate_profile(pki: ScenarioPKI) -> None:
    credentials = pki.credentials("AZE")
    cert = credentials.certificate
    assert credentials.chain == (cert, pki.ca_certificate)
    assert isinstance(credentials.key, ec.EllipticCurvePrivateKey)
    assert cert.subject.rfc4514_string() == "C=AZ,O=State Customs Committee,CN=AZE"
    assert cert.issuer == pki.ca_certificate.subject
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_encipherment and not usage.value.key_cert_sign
    assert list(extension(cert, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    ]
    names = extension(cert, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["AZE", "localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert extension(cert, x509.BasicConstraints).value.ca is False
    ca_ski = extension(pki.ca_certificate, x509.SubjectKeyIdentifier).value.digest
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ca_ski
    assert pki.credentials("GEO").certificate.subject.rfc4514_string() == "CN=GEO"


def test_serial_numbers_are_random(pki: ScenarioPKI) -> None:
    serials = {pki.ca_certificate.serial_number} | {c.certificate.serial_number for c in pki.nodes.values()}
    assert len(serials) == 3
    assert all(serial.bit_length() > 64 for serial in serials)


def test_rsa_pki(rsa_pki: ScenarioPKI) -> None:
    credentials = rsa_pki.credentials("UZB")
    assert isinstance(credentials.key, rsa.RSAPrivateKey) and credentials.key.key_size == 2048
    assert isinstance(rsa_pki.ca_key, rsa.RSAPrivateKey)
    assert extension(credentials.certificate, x509.KeyUsage).value.key_encipherment
    rsa_pki.trust_store().validate_chain(credentials.certificate, [], T0)


def test_node_certificates_pass_webpki_tls_verification(pki: ScenarioPKI) -> None:
    """The same certificates serve mutual TLS, so they must satisfy cryptography's WebPKI defaults."""
    builder = PolicyBuilder().store(Store([pki.ca_certificate])).time(T0 + DAY)
    leaf = pki.credentials("GEO").certificate
    builder.build_server_verifier(DNSName("localhost")).verify(leaf, [])
    builder.build_server_verifier(DNSName("GEO")).verify(leaf, [])
    assert builder.build_client_verifier().verify(leaf, []).chain == [leaf, pki.ca_certificate]


def test_unknown_node_has_no_credentials(pki: ScenarioPKI) -> None:
    with pytest.raises(TrustError) as caught:
        pki.credentials("ZZZ")
    assert caught.value.rule == "node-unknown"


@pytest.mark.parametrize("node_id", ["ca", "aze-key", "a b", "", "-x", "agency/../x"])
def test_node_ids_must_be_safe_file_and_dns_names(node_id: str) -> None:
    with pytest.raises(ValueError, match="node id"):
        ScenarioPKI.generate([node_id], valid_from=T0)


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="dsa"):
        ScenarioPKI.generate(["AZE"], valid_from=T0, algorithm="dsa")


def test_chain_accepted_within_validity(pki: ScenarioPKI) -> None:
    trust = pki.trust_store()
    leaf = pki.credentials("AZE").certificate
    trust.validate_chain(leaf, [], T0)
    trust.validate_chain(leaf, [pki.ca_certificate], T0 + 29 * DAY)
    trust.validate_chain(leaf, [], datetime(2026, 3, 2))  # naive means UTC


def test_certificate_from_another_ca_is_untrusted(pki: ScenarioPKI) -> None:
    """The impostor CA even has the same name; only its key differs."""
    impostor = ScenarioPKI.generate(["AZE"], valid_from=T0)
    leaf = impostor.credentials("AZE").certificate
    assert leaf.issuer == pki.ca_certificate.subject
    error = rejection(pki.trust_store(), leaf, T0 + DAY)
    assert error.rule == "ca-untrusted" and "same name, with another key" in error.message


def test_another_scenarios_ca_is_untrusted_whatever_its_dates(pki: ScenarioPKI) -> None:
    """The other scenario's CA is out of its validity at the time checked, and still 'untrusted CA' is what is wrong."""
    created = datetime(2026, 11, 30, 15, 30, 0, 143841, tzinfo=timezone.utc)
    other = ScenarioPKI.generate(["AZE"], valid_from=T0 + 60 * DAY, ca_subject=ca_name("uzb-aze-eco", created))
    leaf = other.credentials("AZE")
    error = rejection(pki.trust_store(), leaf.certificate, T0 + 61 * DAY)
    assert error.rule == "ca-untrusted"
    assert "'CN=caravan scenario root CA,OU=created 2026-11-30T15:30:00.143841Z,O=caravan scenario uzb-aze-eco'" \
        in error.message
    with pytest.raises(TrustError) as carried:  # the document's own copy of its CA changes nothing
        pki.trust_store().validate_chain(leaf.certificate, [other.ca_certificate], T0 + 61 * DAY)
    assert carried.value.rule == "ca-untrusted"


def test_a_leaf_claiming_our_ca_but_signed_by_another_key_fails_the_chain(pki: ScenarioPKI) -> None:
    """Issuer name and key identifier only classify; the signature on the path is still checked."""
    forger = ec.generate_private_key(ec.SECP256R1())
    ca_ski = extension(pki.ca_certificate, x509.SubjectKeyIdentifier).value
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AZE")]))
        .issuer_name(pki.ca_certificate.subject)
        .public_key(forger.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + DAY)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(forger, hashes.SHA256())
    )
    assert rejection(pki.trust_store(), leaf, T0).rule == "cert-untrusted"


def test_each_scenario_ca_has_its_own_subject() -> None:
    first = ca_name("aze-geo-uzb-transit", datetime(2026, 11, 30, 15, 30, 0, 1, tzinfo=timezone.utc))
    assert first != ca_name("aze-geo-uzb-transit", datetime(2026, 11, 30, 15, 30, 0, 2, tzinfo=timezone.utc))
    assert first != ca_name("uzb-aze-eco", datetime(2026, 11, 30, 15, 30, 0, 1, tzinfo=timezone.utc))
    ca = ScenarioPKI.generate(["AZE"], valid_from=T0, ca_subject=first).ca_certificate
    assert ca.subject == ca.issuer == first
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CA_COMMON_NAME
    long_name = ca_name("x" * 100, T0).get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    assert len(long_name) == 64  # X.520's upper bound, which a long scenario name must not break


def test_a_trust_anchor_file_must_hold_a_ca_certificate(pki: ScenarioPKI, tmp_path: Path) -> None:
    pki.write(tmp_path)
    assert TrustStore.from_file(tmp_path / "ca.pem").anchors == (pki.ca_certificate,)
    (tmp_path / "blank.pem").write_bytes(b"  \n")
    (tmp_path / "binary.pem").write_bytes(bytes(range(256)))
    cases = {"missing.pem": "No such file or directory", "blank.pem": "is empty",
             "binary.pem": "holds no PEM certificate", "AZE-key.pem": "holds no PEM certificate",
             "AZE.pem": "'C=AZ,O=State Customs Committee,CN=AZE' is not a CA certificate"}
    for name, problem in cases.items():
        with pytest.raises(InputError) as refused:
            TrustStore.from_file(tmp_path / name)
        assert str(tmp_path / name) in refused.value.message and problem in refused.value.message, name


def test_expired_and_not_yet_valid(pki: ScenarioPKI) -> None:
    trust, leaf = pki.trust_store(), pki.credentials("AZE").certificate
    expired = rejection(trust, leaf, T0 + 31 * DAY)
    assert expired.rule == "cert-expired" and "2026-03-31" in expired.message
    assert rejection(trust, leaf, T0 - timedelta(seconds=1)).rule == "cert-not-yet-valid"


def issue(pki: ScenarioPKI, *, lifetime: timedelta, usage: x509.KeyUsage | None) -> x509.Certificate:
    """A leaf from the scenario CA with a profile `generate` would never produce."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "AZE")]))
        .issuer_name(pki.ca_certificate.subject)
        .public_key(pki.credentials("AZE").key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + lifetime)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(pki.ca_key, hashes.SHA256())


SIGNING = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
NON_REPUDIATION_ONLY = x509.KeyUsage(False, True, False, False, False, False, False, False, False)


@pytest.mark.parametrize("usage", [NON_REPUDIATION_ONLY, None], ids=["no-digital-signature", "no-key-usage"])
def test_end_entity_must_allow_digital_signature(pki: ScenarioPKI, usage: x509.KeyUsage | None) -> None:
    leaf = issue(pki, lifetime=DAY, usage=usage)
    assert rejection(pki.trust_store(), leaf, T0).rule == "cert-key-usage"


def test_expired_ca_fails_even_if_leaf_is_valid(pki: ScenarioPKI) -> None:
    leaf = issue(pki, lifetime=60 * DAY, usage=SIGNING)
    pki.trust_store().validate_chain(leaf, [], T0 + 29 * DAY)
    error = rejection(pki.trust_store(), leaf, T0 + 31 * DAY)
    assert error.rule == "cert-expired" and "a CA above" in error.message


def test_write_load_round_trip(pki: ScenarioPKI, tmp_path: Path) -> None:
    pki.write(tmp_path / "pki")
    names = {path.name for path in (tmp_path / "pki").iterdir()}
    assert names == {"ca.pem", "ca-key.pem", "AZE.pem", "AZE-key.pem", "GEO.pem", "GEO-key.pem"}
    assert (tmp_path / "pki" / "AZE-key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "pki" / "AZE-key.pem").stat().st_mode & 0o777 == 0o600

    loaded = ScenarioPKI.load(tmp_path / "pki")
    assert loaded.ca_certificate == pki.ca_certificate
    assert loaded.ca_key.private_numbers() == pki.ca_key.private_numbers()
    assert loaded.nodes.keys() == pki.nodes.keys()
    for node_id, credentials in pki.nodes.items():
        again = loaded.credentials(node_id)
        assert again.certificate == credentials.certificate
        assert again.chain == credentials.chain
        assert again.key_pem == credentials.key_pem


def test_load_refuses_swapped_or_renamed_files(pki: ScenarioPKI, tmp_path: Path) -> None:
    pki.write(tmp_path)
    aze_key, geo_key = (tmp_path / "AZE-key.pem").read_bytes(), (tmp_path / "GEO-key.pem").read_bytes()
    (tmp_path / "AZE-key.pem").write_bytes(geo_key)
    (tmp_path / "GEO-key.pem").write_bytes(aze_key)
    with pytest.raises(TrustError) as swapped:
        ScenarioPKI.load(tmp_path)
    assert swapped.value.rule == "key-mismatch"

    pki.write(tmp_path)
    (tmp_path / "GEO.pem").rename(tmp_path / "ARM.pem")
    (tmp_path / "GEO-key.pem").rename(tmp_path / "ARM-key.pem")
    with pytest.raises(TrustError) as renamed:
        ScenarioPKI.load(tmp_path)
    assert renamed.value.rule == "cert-subject"


def test_trust_store_from_pem_and_file(pki: ScenarioPKI, tmp_path: Path) -> None:
    pki.write(tmp_path)
    other = ScenarioPKI.generate([], valid_from=T0)
    bundle = (tmp_path / "ca.pem").read_bytes() + other.ca_certificate.public_bytes(serialization.Encoding.PEM)
    leaf = pki.credentials("GEO").certificate
    TrustStore.from_file(tmp_path / "ca.pem").validate_chain(leaf, [], T0)
    assert len(TrustStore.from_pem(bundle).anchors) == 2
    TrustStore.from_pem(bundle).validate_chain(leaf, [], T0)
    with pytest.raises(ValueError):
        TrustStore(())


def test_a_store_that_accepted_a_chain_refuses_it_outside_every_validity_period_on_its_path(pki: ScenarioPKI) -> None:
    """A store keeps what its path check found (a sender's chain repeats in every message); the time is checked
    on every use, the leaf's and the CA's periods both."""
    trust = pki.trust_store()
    leaf = pki.credentials("AZE").certificate
    outlives_ca = issue(pki, lifetime=60 * DAY, usage=SIGNING)
    for certificate in (leaf, outlives_ca):
        trust.validate_chain(certificate, [], T0 + DAY)
        trust.validate_chain(certificate, [], T0 + 30 * DAY)  # the CA's last instant, as the verifier counts it
    assert rejection(trust, leaf, T0 - timedelta(seconds=1)).rule == "cert-not-yet-valid"
    assert rejection(trust, leaf, T0 + 31 * DAY).rule == "cert-expired"
    error = rejection(trust, outlives_ca, T0 + 31 * DAY)
    assert error.rule == "cert-expired" and "a CA above" in error.message
    trust.validate_chain(leaf, [], T0 + 2 * DAY)  # and back inside: accepted again


def test_a_store_that_accepted_a_chain_refuses_a_revocation_at_once(pki: ScenarioPKI, tmp_path: Path) -> None:
    pki.write(tmp_path)
    trust, leaf = TrustStore.from_file(tmp_path / "ca.pem"), pki.credentials("AZE").certificate
    trust.validate_chain(leaf, [], T0 + DAY)
    (tmp_path / "ca.crl").write_bytes(pki.revocation_list({leaf.serial_number: T0 + DAY}, at=T0 + DAY))
    assert rejection(trust, leaf, T0 + 2 * DAY).rule == "cert-revoked"
    trust.validate_chain(pki.credentials("GEO").certificate, [], T0 + 2 * DAY)  # only the revoked one


def test_what_a_store_accepted_vouches_for_no_lookalike(pki: ScenarioPKI) -> None:
    """Same subject, issuer name, key identifier, serial and dates as an accepted leaf, another issuer's key:
    the kept verdict is the accepted certificate's alone."""
    trust, genuine = pki.trust_store(), pki.credentials("AZE").certificate
    trust.validate_chain(genuine, [], T0 + DAY)
    forger = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(genuine.public_key())
        .serial_number(genuine.serial_number)
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
    )
    for extension_ in genuine.extensions:
        builder = builder.add_extension(extension_.value, critical=extension_.critical)
    lookalike = builder.sign(forger, hashes.SHA256())
    assert rejection(trust, lookalike, T0 + DAY).rule == "cert-untrusted"
