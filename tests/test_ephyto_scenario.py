"""The UZ → GE ePhyto scenario through `caravan run`, and every ePhyto it writes through `caravan validate`."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from lxml import etree

from exchange.cli import main
from exchange.envelope import Envelope
from exchange.signing import carries_signature
from nodes.ephyto.validation import validate_phyto
from tests.xmlsec1 import document_files, envelope_files, needs_xmlsec1, xmlsec1_verify

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "uzb-geo-ephyto-transit.yaml"


@pytest.fixture(scope="module")
def ephyto_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("ephyto")
    capture = out / "stdout.txt"
    with capture.open("w") as stream, contextlib.redirect_stdout(stream):
        code = main(["run", str(SCENARIO), "--out", str(out), "--wide"])
    return out, code, capture.read_text()


def test_scenario_runs_green(ephyto_run: tuple[Path, int, str]) -> None:
    _, code, stdout = ephyto_run
    assert code == 0, stdout
    assert "✗" not in stdout


def test_timeline_shows_every_lifecycle_step(ephyto_run: tuple[Path, int, str]) -> None:
    _, _, stdout = ephyto_run
    assert "UZ-PC-2026-000101 851/70 issued: Fresh apples (Malus domestica), UZ → GE" in stdout
    assert "UZ-PC-2026-000102 851/40 withdrawn" in stdout
    assert "UZ-PC-2026-000104 851/70 issued: Fresh table grapes (Vitis vinifera), UZ → GE, replaces UZ-PC-2026-000103" \
        in stdout
    assert "GE-RX-2026-000031 657/70 issued" in stdout
    assert "UZ-PC-2026-000105 rejected (8): Live larvae" in stdout
    assert "UZ-PC-2026-000101 acknowledged Delivered" in stdout
    assert "CC015C Declaration data" in stdout


def test_every_ephyto_written_validates_in_all_three_areas(ephyto_run: tuple[Path, int, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """caravan's own certificates without a remark; the public-sample one (sent by the national system, and its
    forwarded copy) with the Schema warnings its shape earns and nothing worse."""
    out, _, _ = ephyto_run
    files = [path for path in document_files(out / "messages") if "-SPS" in path.name]
    assert len(files) == 14  # 11 of the lifecycle, the re-export's copy for UZ, the SOAP-sent one and its copy
    sample = (SCENARIO.parent / "samples" / "UZ-PC-2026-000106.xml").read_bytes()
    for path in (path for path in files if "-SPSCertificate-" in path.name):
        issues = validate_phyto(path.read_bytes())
        if path.read_bytes() == sample:
            assert {(issue.area, issue.level) for issue in issues} == {("Schema", "WARNING")}, path
        else:
            assert issues == [], path
    assert sum(path.read_bytes() == sample for path in files) == 2  # byte for byte, to GE and to AZ
    assert main(["validate", *map(str, files)]) == 0
    assert capsys.readouterr().out.count(": valid (ephyto ") == len(files)


def test_soap_deliveries_and_signature_states_are_in_the_timeline(ephyto_run: tuple[Path, int, str]) -> None:
    out, _, stdout = ephyto_run
    line = "NPPO UZ → NPPO GE               GE  SPSCertificate ePhyto phytosanitary certificate   UZ-PC-2026-000106 " \
        "851/70 issued: Dried apricots"
    assert line in stdout and "UZ → GE; unsigned" in stdout
    assert "UZ-PC-2026-000101 851/70 issued: Fresh apples (Malus domestica), UZ → GE; signed" in stdout
    assert "UZ-PC-2026-000106 acknowledged DeliveredWithWarnings (unsigned): WARNING Signature" in stdout
    assert "2 unsigned (ePhytos whose sender the IPPC Hub face authenticated by TLS)" in stdout
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    soap = [e for e in events if e["kind"] == "message" and e["correlation"] == "UZ-PC-2026-000106"]
    assert {(e["recipient"], e["delivery"]) for e in soap} == {("ge", "held"), ("az", "delivered")}
    sent = next(e for e in events if e.get("event") == "delivered-to-hub")
    assert sent["data"]["hubDeliveryErrorMessage"].startswith("XMLDSig: unsigned")


def test_acknowledgements_are_recorded_for_the_hub(ephyto_run: tuple[Path, int, str]) -> None:
    out, _, _ = ephyto_run
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    acknowledged = [event for event in events if event.get("event") == "acknowledged"]
    assert {event["data"]["acknowledgement"] for event in acknowledged
            if event["data"]["certificate"] != "UZ-PC-2026-000106"} == {"Delivered"}
    assert {event["data"]["certificate"] for event in acknowledged} >= {"UZ-PC-2026-000101", "GE-RX-2026-000031"}


def test_every_envelope_verifies_and_an_ephyto_keeps_its_own_signature(ephyto_run: tuple[Path, int, str],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Every node signs its envelope; an ePhyto also carries its NPPO's signature inside (the IPPC model), so a
    certificate the IPPC Hub face took keeps whatever signature it came with, and `caravan verify` says which."""
    out, _, _ = ephyto_run
    ca = str(out / "pki" / "ca.pem")
    hub_made = []
    for path in envelope_files(out / "messages"):
        envelope = Envelope.from_xml(path.read_bytes())
        code = main(["verify", str(path), "--ca", ca])
        said = capsys.readouterr().out
        if carries_signature(etree.fromstring(path.read_bytes())):
            assert code == 0 and "signature valid over the envelope" in said, said
            if "-SPS" in path.name:
                assert carries_signature(etree.fromstring(envelope.document)), path.name
        else:
            hub_made.append(path.name)
            signed_inside = carries_signature(etree.fromstring(envelope.document))
            assert code == (0 if signed_inside else 1), said
            assert ("signature valid over the SPSCertificate inside" if signed_inside
                    else "NOT VERIFIED [signature-missing]") in said
    assert len(hub_made) == 3  # the certificates national systems delivered over SOAP, and the one forwarded


@needs_xmlsec1
def test_xmlsec1_verifies_every_signed_envelope_and_every_signed_ephyto(ephyto_run: tuple[Path, int, str]) -> None:
    out, _, _ = ephyto_run
    ca = out / "pki" / "ca.pem"
    checked = 0
    for path in envelope_files(out / "messages"):
        envelope = Envelope.from_xml(path.read_bytes())
        if carries_signature(etree.fromstring(path.read_bytes())):
            code, said = xmlsec1_verify(path, ca)
            assert code == 0, f"{path.name}: {said}"
            checked += 1
        document = path.with_name(path.name.removesuffix(".envelope.xml") + ".xml")
        if carries_signature(etree.fromstring(document.read_bytes())):
            code, said = xmlsec1_verify(document, ca, at=envelope.created)
            assert code == 0, f"{document.name}: {said}"
    assert checked == 30
