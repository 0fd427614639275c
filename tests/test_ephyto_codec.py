"""SPSCertificate / SPSAcknowledgement 17: schema, codec round trips, and real-world leniency."""

from __future__ import annotations

from dataclasses import replace

from lxml import etree

from exchange.safexml import parse_document
from exchange.validation import detect, validate
from nodes.ephyto.codec import ACK_NS, QDT_NS, RAM_NS, SPS_NS, decode, encode
from nodes.ephyto.model import Acknowledgement, Certificate, ReferencedDocument
from tests.ephyto_samples import REAL_WORLD, issued, xml


def test_certificate_uses_the_real_namespaces_and_element_order() -> None:
    root = encode(issued())
    assert root.tag == f"{{{SPS_NS}}}SPSCertificate"
    assert root.nsmap["ram"] == RAM_NS
    assert root.nsmap["qdt"] == QDT_NS == "urn:un:unece:uncefact:data:Standard:QualifiedDataType:21"
    document = root[0]
    order = [etree.QName(child).localname for child in document]
    assert order == ["ID", "TypeCode", "StatusCode", "IssueDateTime", "IssuerSPSParty", "IncludedSPSNote",
                     "SignatorySPSAuthentication"]
    assert [etree.QName(child).localname for child in root] == ["SPSExchangedDocument", "SPSConsignment"]


def test_certificate_round_trips_and_validates_without_remarks() -> None:
    certificate = issued()
    root = encode(certificate)
    assert validate(root) == []
    assert decode(root) == certificate
    assert decode(parse_document(etree.tostring(root))) == certificate


def test_acknowledgement_round_trips_and_validates() -> None:
    answer = Acknowledgement("UZ-PC-2026-000105", "8", "2026-03-05T11:30:00Z", ("Live larvae found",), "851",
                             "2026-03-02T08:00:00Z")
    root = encode(answer)
    assert root.tag == f"{{{ACK_NS}}}SPSAcknowledgement"
    assert validate(root) == []
    assert decode(root) == answer


def test_envelope_message_id_is_number_and_status() -> None:
    """A withdrawal re-sends the same number: number and status together identify each message."""
    root = encode(issued())
    withdrawal = encode(replace(issued(), status_code="40"))
    assert detect(root).message_id(root) == "UZ-PC-2026-000101:70"
    assert detect(withdrawal).message_id(withdrawal) == "UZ-PC-2026-000101:40"
    answer = encode(Acknowledgement("UZ-PC-2026-000101", "1"))
    assert detect(answer).message_id(answer) == "UZ-PC-2026-000101:1"


def test_references_are_written_before_the_signatory_unless_received_after() -> None:
    reference = ReferencedDocument("ZZZ", "ZZZ", "LAB-1", attachment=b"report", filename="lab.txt")
    before = encode(replace(issued(), references=(reference,)))
    names = [etree.QName(child).localname for child in before[0]]
    assert names.index("ReferenceSPSReferencedDocument") < names.index("SignatorySPSAuthentication")
    assert validate(before) == []
    after = encode(replace(issued(), references=(reference,), references_after_signatory=True))
    names = [etree.QName(child).localname for child in after[0]]
    assert names[-1] == "ReferenceSPSReferencedDocument"
    decoded = decode(after)
    assert isinstance(decoded, Certificate) and decoded.references_after_signatory
    assert decoded.references == (reference,)


def test_real_world_certificate_is_accepted_with_warnings_only() -> None:
    """Other prefixes (ns0/ns1/ns2), NULL and empty values, reference after the signatory, udt:DateTime."""
    root = parse_document(REAL_WORLD.read_bytes())
    issues = validate(root)
    assert issues and all(issue.level == "WARNING" for issue in issues)
    rules = {issue.rule for issue in issues}
    assert rules == {"EPH-S01", "EPH-S02", "EPH-S03"}
    assert all(issue.area == "Schema" for issue in issues)
    assert "/SPSCertificate/SPSExchangedDocument/Name" in {issue.path for issue in issues}


def test_real_world_certificate_reads_null_and_empty_as_absent() -> None:
    certificate = decode(parse_document(REAL_WORLD.read_bytes()))
    assert isinstance(certificate, Certificate)
    assert certificate.number == "BO-2026-004711"
    assert certificate.name is None
    assert certificate.notes[0].contents == ()
    assert certificate.export_country is not None and certificate.export_country.name is None
    assert certificate.point_of_entry is not None and certificate.point_of_entry.name is None
    line = certificate.items[0]
    assert line.gross_weight is None and line.net_weight is not None
    assert certificate.signatory is not None and certificate.signatory.signed == "2026-02-20T09:20:00-04:00"
    assert certificate.references_after_signatory
    assert certificate.references[0].attachment == b"Laboratory report"
    assert certificate.consignee is not None and certificate.consignee.address is not None
    assert certificate.consignee.address.lines == ("Calle 9 de Julio 55, Rosario",)


def test_prefixes_do_not_matter() -> None:
    text = xml(issued()).decode()
    renamed = text.replace("rsm:", "a:").replace("xmlns:rsm", "xmlns:a").replace("ram:", "b:") \
        .replace("xmlns:ram", "xmlns:b").replace("udt:", "c:").replace("xmlns:udt", "xmlns:c")
    root = parse_document(renamed.encode())
    assert validate(root) == []
    assert decode(root) == issued()
