"""The e-CO scenario through the public surface: `caravan run`, `caravan validate`, `caravan verify`."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from exchange.cli import main
from exchange.envelope import Envelope, rewrite_envelope
from exchange.errors import TrustError
from exchange.intake import open_envelope
from exchange.pki import ScenarioPKI, TrustStore
from nodes.origin.checks import digest
from tests.xmlsec1 import envelope_files, needs_xmlsec1, xmlsec1_verify

ECO = Path(__file__).resolve().parent.parent / "scenarios" / "uzb-aze-eco.yaml"


@pytest.fixture(scope="module")
def eco_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("eco")
    capture = out / "stdout.txt"
    with capture.open("w") as stream, contextlib.redirect_stdout(stream):
        code = main(["run", str(ECO), "--out", str(out), "--wide"])
    return out, code, capture.read_text()


def _message(out: Path, seq: int) -> Path:
    """The signed envelope of message `seq`: where an e-CO's signature travels."""
    return next((out / "messages").glob(f"{seq:04d}-*.envelope.xml"))


def _document(out: Path, seq: int) -> Path:
    """Message `seq`'s document, byte for byte, as the recipient's application reads it."""
    return _message(out, seq).with_name(_message(out, seq).name.replace(".envelope.xml", ".xml"))


def _verify(out: Path, path: Path, capsys: pytest.CaptureFixture[str], *sources: str) -> tuple[int, str]:
    options = {"status": ["--status-from", str(out / "messages")], "trust": ["--trust-list", str(ECO)]}
    argv = ["verify", str(path), "--ca", str(out / "pki" / "ca.pem")]
    for source in sources:
        argv += options[source]
    code = main(argv)
    return code, capsys.readouterr().out


def _line(output: str, check: str) -> list[str]:
    """The status and code words of one check's line (`  status  INVALID  DOCUMENT_CANCELLED  ...`)."""
    for line in output.splitlines():
        if line.startswith(f"  {check} "):
            return line[2 + len(check):].split()[:2]
    raise AssertionError(f"no {check} line in {output!r}")


def test_the_scenario_runs_green(eco_run: tuple[Path, int, str]) -> None:
    out, code, stdout = eco_run
    assert code == 0, stdout
    held = next(line for line in stdout.splitlines() if line.startswith("Expectations:")).split()[1]
    assert held.split("/")[0] == held.split("/")[1]
    for shown in ("EcoCertificate Certificate of origin", "PREFERENCE_GRANTED", "USED (integrity VALID",
                  "status INVALID DOCUMENT_CANCELLED", "integrity INVALID DOCUMENT_TAMPERED at "
                  "/EcoCertificate/Certificate/GoodsItem[1]/PackageCount", "ECO-CANCEL-USED",
                  "ORIGIN_NOT_CONFIRMED", "PREFERENCE_WITHDRAWN", "VR-UZ-0001 on GE26CCI0004512 v1 overdue"):
        assert shown in stdout, shown
    steps = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert len([s for s in steps if s["kind"] == "step"]) == len([line for line in stdout.splitlines() if "▶" in line
                                                                  or "··" in line])


def test_every_message_validates_and_verifies(eco_run: tuple[Path, int, str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = eco_run
    envelopes = sorted(str(path) for path in (out / "messages").glob("*.envelope.xml"))
    documents = sorted(set(map(str, (out / "messages").glob("*.xml"))) - set(envelopes))
    assert len(envelopes) == len(documents) == 25
    assert main(["validate", *documents, *envelopes]) == 0
    for path in envelopes:
        assert main(["verify", path, "--ca", str(out / "pki" / "ca.pem")]) == 0, path
    captured = capsys.readouterr().out
    assert captured.count("signature valid over the envelope and the Eco") == len(envelopes)
    assert captured.count("  integrity        VALID    DOCUMENT_INTACT") == 6  # one per certificate version


@needs_xmlsec1
def test_xmlsec1_verifies_every_envelope_and_refuses_one_whose_certificate_changed(eco_run: tuple[Path, int, str],
                                                                                  tmp_path: Path) -> None:
    out, _, _ = eco_run
    ca = out / "pki" / "ca.pem"
    for path in envelope_files(out / "messages"):
        code, said = xmlsec1_verify(path, ca)
        assert code == 0, f"{path.name}: {said}"
    changed = tmp_path / _message(out, 9).name
    document = _document(out, 9).read_bytes().replace(b"<eco:PackageCount>300<", b"<eco:PackageCount>301<")
    changed.write_bytes(rewrite_envelope(_message(out, 9).read_bytes(), document=document))
    code, said = xmlsec1_verify(changed, ca)
    assert code != 0 and "FAIL" in said


def test_a_bare_document_is_sent_to_its_envelope(eco_run: tuple[Path, int, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = eco_run
    code, output = _verify(out, _document(out, 3), capsys)
    assert code == 1
    assert "NOT VERIFIED [signature-missing]" in output
    assert f"its signature travels in its envelope; verify {_message(out, 3)}" in output
    assert _line(output, "integrity") == ["INVALID", "UNSIGNED"]


def test_verify_reports_the_three_checks_separately(eco_run: tuple[Path, int, str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = eco_run
    c1_v2 = _message(out, 3)
    code, output = _verify(out, c1_v2, capsys)
    assert code == 0
    assert _line(output, "integrity") == ["VALID", "DOCUMENT_INTACT"]
    assert _line(output, "status") == ["ERROR", "STATUS_SOURCE_MISSING"]
    assert _line(output, "issuer identity") == ["ERROR", "TRUST_LIST_MISSING"]
    code, output = _verify(out, c1_v2, capsys, "status", "trust")
    assert code == 0
    assert [_line(output, name)[0] for name in ("integrity", "status", "issuer identity")] == ["VALID"] * 3
    assert "used for declaration AZ26IM0000101" in output


@pytest.mark.parametrize(("seq", "code"), [(1, "DOCUMENT_REPLACED"), (7, "DOCUMENT_CANCELLED"),
                                           (11, "DOCUMENT_INVALIDATED")])
def test_verify_status_alone_fails(eco_run: tuple[Path, int, str], capsys: pytest.CaptureFixture[str],
                                   seq: int, code: str) -> None:
    out, _, _ = eco_run
    exit_code, output = _verify(out, _message(out, seq), capsys, "status", "trust")
    assert exit_code == 1
    assert _line(output, "integrity")[0] == _line(output, "issuer identity")[0] == "VALID"
    assert _line(output, "status") == ["INVALID", code]


def test_verify_catches_a_copy_altered_after_signing(eco_run: tuple[Path, int, str], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = eco_run
    document = _document(out, 9).read_bytes()  # C3
    altered = tmp_path / "altered.envelope.xml"
    changed = document.replace(b"<eco:PackageCount>300<", b"<eco:PackageCount>450<")
    assert changed != document
    altered.write_bytes(rewrite_envelope(_message(out, 9).read_bytes(), document=changed))
    code, output = _verify(out, altered, capsys, "status", "trust")
    assert code == 1
    assert "NOT VERIFIED [signature-digest]" in output
    assert _line(output, "integrity") == ["INVALID", "DOCUMENT_TAMPERED"]
    assert "/EcoCertificate/Certificate/GoodsItem[1]/PackageCount: signed '300', presented '450'" in output
    assert _line(output, "status") == ["VALID", "ISSUED"]
    assert _line(output, "issuer identity") == ["ERROR", "SIGNER_UNVERIFIED"]


def test_verify_catches_a_certificate_signed_by_another_node(eco_run: tuple[Path, int, str], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out, _, _ = eco_run
    pki = ScenarioPKI.load(out / "pki")
    sent = Envelope.from_xml(_message(out, 3).read_bytes())
    forged = tmp_path / "forged.envelope.xml"
    forged.write_bytes(replace(sent, sender="ge").signed(pki.credentials("ge")))
    code, output = _verify(out, forged, capsys, "trust")
    assert code == 1
    assert "signed by ge" in output
    assert _line(output, "integrity")[0] == "VALID"
    assert _line(output, "issuer identity") == ["INVALID", "SIGNER_MISMATCH"]
    # ... and the hub would not have let Georgia's node push it: a node speaks only for its own country
    with pytest.raises(TrustError) as refused:
        open_envelope(forged.read_bytes(), TrustStore((pki.ca_certificate,)), at=sent.created, sender_country="GE")
    assert refused.value.rule == "party-not-sender"


def test_customs_keeps_exactly_the_digest_the_issuer_signed(eco_run: tuple[Path, int, str]) -> None:
    out, _, _ = eco_run
    with contextlib.closing(sqlite3.connect(out / "db" / "az.sqlite")) as db:
        (received,) = db.execute("SELECT data FROM records WHERE family = 'eco' AND kind = 'received' "
                                 "AND id = 'UZ26CCI0000103 v1'").fetchone()
    issued = etree.fromstring(_document(out, 9).read_bytes())  # the certificate the issuer's envelope carried
    assert json.loads(received)["digest"] == digest(issued)
