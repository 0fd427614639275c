"""`caravan verify` on altered documents from real runs: it reports what failed (integrity, status, issuer) and never
crashes on content it cannot decode. An ePhyto and a CATS declaration come from the UZ → GE ePhyto scenario, an
e-CO certificate from the UZ → AZ e-CO scenario; each is altered one place at a time. A CATS or e-CO document is
presented in its signed envelope (where its signature travels), the ePhyto as the certificate its NPPO signed.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from exchange.cli import main
from exchange.envelope import ENVELOPE_SUFFIX, rewrite_envelope

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
ECO = SCENARIOS / "uzb-aze-eco.yaml"
RUNS = {"ephyto": SCENARIOS / "uzb-geo-ephyto-transit.yaml", "eco": ECO}
DOCUMENTS = {  # kind: (run, message file pattern, whether its signature is inside it)
    "ePhyto": ("ephyto", "0001-SPSCertificate-*", True),
    "CATS": ("ephyto", "*-CC015C-*", False),
    "e-CO": ("eco", "0009-EcoCertificate-*", False),  # C3, issued and never cancelled
}
GROSS_WEIGHT = "/EcoCertificate/Certificate/GoodsItem[1]/GrossWeight"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outs = {}
    for name, scenario in RUNS.items():
        out = tmp_path_factory.mktemp(name)
        with contextlib.redirect_stdout(io.StringIO()) as timeline:
            assert main(["run", str(scenario), "--out", str(out)]) == 0, timeline.getvalue()
        outs[name] = out
    return outs


def _document(runs: dict[str, Path], kind: str) -> tuple[Path, Path]:
    """The document file (byte for byte what crossed the hub) and its run's CA."""
    run, pattern, _ = DOCUMENTS[kind]
    files = (runs[run] / "messages").glob(f"{pattern}.xml")
    found = (path for path in files if not path.name.endswith(ENVELOPE_SUFFIX))
    return next(found), runs[run] / "pki" / "ca.pem"


def _presented(kind: str, path: Path, data: bytes, folder: Path) -> Path:
    """A file `caravan verify` is given for the document `data`: the certificate itself where its signature is
    inside, else the envelope that crossed the hub carrying `data` in place of the document, its signature kept."""
    if DOCUMENTS[kind][2]:
        target = folder / path.name
        target.write_bytes(data)
        return target
    envelope = path.with_name(path.name.removesuffix(".xml") + ENVELOPE_SUFFIX)
    target = folder / envelope.name
    target.write_bytes(rewrite_envelope(envelope.read_bytes(), document=data))
    return target


def _verify(path: Path, ca: Path, *options: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["verify", str(path), "--ca", str(ca), *options])
    return code, out.getvalue(), err.getvalue()


def _alterations(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The document with one change each: every element's text, every attribute, and elements removed, doubled
    or renamed under the root (signature included)."""
    root = etree.fromstring(data)
    tree = root.getroottree()
    for element in root.iter(etree.Element):
        where = tree.getpath(element)
        if len(element) == 0 and (element.text or "").strip():
            original, element.text = element.text, "altered"
            yield where, etree.tostring(root)
            element.text = original
        for name, original in list(element.attrib.items()):
            element.set(name, "altered")
            yield f"{where}/@{name}", etree.tostring(root)
            element.set(name, original)
    for index, child in enumerate(list(root)):
        where = tree.getpath(child)
        root.remove(child)
        yield f"{where} removed", etree.tostring(root)
        root.insert(index, child)
        twin = etree.fromstring(etree.tostring(child))
        root.insert(index, twin)
        yield f"{where} doubled", etree.tostring(root)
        root.remove(twin)
        original = child.tag
        child.tag = etree.QName(etree.QName(original).namespace, "Renamed").text
        yield f"{where} renamed", etree.tostring(root)
        child.tag = original


@pytest.mark.parametrize("kind", list(DOCUMENTS))
def test_every_alteration_is_reported_as_not_verified_never_a_crash(kind: str, runs: dict[str, Path],
                                                                   tmp_path: Path) -> None:
    path, ca = _document(runs, kind)
    assert _verify(_presented(kind, path, path.read_bytes(), tmp_path), ca)[0] == 0
    wrong: list[str] = []
    count = 0
    for where, data in _alterations(path.read_bytes()):
        count += 1
        code, out, err = _verify(_presented(kind, path, data, tmp_path), ca)
        notes_only = all(line.startswith("note: ") for line in err.splitlines())
        integrity = kind != "e-CO" or "  integrity        INVALID" in out
        if code != 1 or "NOT VERIFIED [" not in out or not notes_only or not integrity:
            wrong.append(f"{where}: exit {code}\n{out}{err}")
    assert count > 60
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("kind", "signed", "presented"), [
    ("ePhyto", b"<ram:NetWeightMeasure unitCode=\"KGM\">", b"<ram:NetWeightMeasure unitCode=\"KGM\">9"),
    ("CATS", b"<grossMass>", b"<grossMass>9"),
])
def test_an_altered_value_is_an_integrity_failure(kind: str, signed: bytes, presented: bytes, runs: dict[str, Path],
                                                  tmp_path: Path) -> None:
    path, ca = _document(runs, kind)
    data = path.read_bytes()
    assert signed in data
    altered = _presented(kind, path, data.replace(signed, presented, 1), tmp_path)
    code, out, err = _verify(altered, ca)
    assert (code, err) == (1, "")
    assert out.startswith(f"{altered}: NOT VERIFIED [signature-digest]: document content changed after it was signed")


def test_an_e_co_value_that_cannot_be_decoded_is_integrity_invalid_and_says_where(runs: dict[str, Path],
                                                                                  tmp_path: Path) -> None:
    """Issue 12: 'heavy' where a decimal belongs raised decimal.InvalidOperation; now each check has its line."""
    path, ca = _document(runs, "e-CO")
    altered = _presented("e-CO", path, path.read_bytes().replace(b"<eco:GrossWeight>5600<", b"<eco:GrossWeight>heavy<"),
                         tmp_path)
    code, out, err = _verify(altered, ca, "--status-from", str(runs["eco"] / "messages"), "--trust-list", str(ECO))
    assert (code, err) == (1, "")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert lines["integrity"].split()[1:3] == ["INVALID", "DOCUMENT_TAMPERED"]
    for check in ("status", "issuer"):
        assert lines[check].split()[1 if check == "status" else 2:][:2] == ["ERROR", "UNREADABLE"], lines[check]
        assert f"{GROSS_WEIGHT}: 'heavy' cannot be read as gross_weight: not a number" in lines[check]


def test_a_document_from_another_scenario_is_signed_under_an_untrusted_ca(runs: dict[str, Path]) -> None:
    eco_document, eco_ca = _document(runs, "e-CO")
    _, ephyto_ca = _document(runs, "ePhyto")
    subjects = [x509.load_pem_x509_certificate(ca.read_bytes()).subject for ca in (eco_ca, ephyto_ca)]
    assert subjects[0] != subjects[1]
    assert [s.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value for s in subjects] == [
        "caravan scenario uzb-aze-eco", "caravan scenario uzb-geo-ephyto-transit"]

    envelope = eco_document.with_name(eco_document.name.removesuffix(".xml") + ENVELOPE_SUFFIX)
    code, out, err = _verify(envelope, ephyto_ca)
    assert (code, err) == (1, "")
    first = out.splitlines()[0]
    assert first.startswith(f"{envelope}: NOT VERIFIED [ca-untrusted]: certificate 'CN=uz' was issued under CA "
                            f"'{subjects[0].rfc4514_string()}', which is not trusted here; trusted: "
                            f"'{subjects[1].rfc4514_string()}'")
    assert "  integrity        INVALID  SIGNATURE_INVALID      [ca-untrusted]" in out
