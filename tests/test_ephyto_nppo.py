"""The NPPO agency, both ways: every lifecycle path, sans-IO (state in, state and documents out)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from lxml import etree

from exchange.errors import ProtocolError
from exchange.validation import validate
from nodes.ephyto.codec import decode, encode
from nodes.ephyto.lifecycle import TRANSITIONS, CertificateState, Receipt, Transition
from nodes.ephyto.model import Acknowledgement, Certificate
from nodes.ephyto.nppo import Nppo, NppoState, Outcome
from tests.ephyto_samples import APPLES, AZ, GE, NOW, UZ, draft

uz, ge, az = Nppo(UZ), Nppo(GE), Nppo(AZ)


def _sent(outcome: Outcome) -> list[etree._Element]:
    """What the NPPO sends, as the receiver will see it; every document must validate without SEVERE."""
    roots = [etree.fromstring(etree.tostring(encode(send.document))) for send in outcome.sends]
    for root in roots:
        assert not [issue for issue in validate(root) if issue.level == "SEVERE"], validate(root)
    return roots


def _deliver(receiver: Nppo, state: NppoState, sender_outcome: Outcome) -> Outcome:
    outcome = Outcome(state)
    for root in _sent(sender_outcome):
        outcome = receiver.receive(outcome.state, root, NOW)
    return outcome


def test_issue_sends_a_signed_off_851_with_status_70() -> None:
    outcome = uz.issue(NppoState(), draft(), NOW)
    (send,) = outcome.sends
    certificate = send.document
    assert isinstance(certificate, Certificate) and send.country == "GE"
    assert (certificate.status_code, certificate.issuer, certificate.issued) == ("70", UZ.name, "2026-03-02T08:00:00Z")
    assert certificate.signatory is not None and certificate.signatory.officer == UZ.officer
    assert outcome.state.issued["UZ-PC-2026-000101"].state is CertificateState.ISSUED
    assert validate(encode(certificate)) == []
    with pytest.raises(ProtocolError):
        uz.issue(outcome.state, draft(), NOW)


def test_delivered_certificate_is_acknowledged_and_accepted() -> None:
    issued = uz.issue(NppoState(), draft(), NOW)
    received = _deliver(ge, NppoState(), issued)
    record = received.state.received["UZ-PC-2026-000101"]
    assert (record.state, record.acknowledgement, record.exporter) == (CertificateState.RECEIVED, Receipt.DELIVERED,
                                                                       "UZ")
    (event,) = received.events
    assert event.kind == "acknowledged" and event.data["acknowledgement"] == "Delivered"
    decided = ge.decide(received.state, "UZ-PC-2026-000101", True, "", NOW)
    (answer_root,) = _sent(decided)
    answer = decode(answer_root)
    assert isinstance(answer, Acknowledgement) and answer.status_code == "1" and decided.sends[0].country == "UZ"
    back = uz.receive(issued.state, answer_root, NOW)
    assert back.state.issued["UZ-PC-2026-000101"].state is CertificateState.ACCEPTED
    with pytest.raises(ProtocolError):
        ge.decide(decided.state, "UZ-PC-2026-000101", False, "again", NOW)


def test_rejection_carries_its_reason_back() -> None:
    issued = uz.issue(NppoState(), draft(), NOW)
    received = _deliver(ge, NppoState(), issued)
    decided = ge.decide(received.state, "UZ-PC-2026-000101", False, "Live larvae found", NOW)
    (answer_root,) = _sent(decided)
    back = uz.receive(issued.state, answer_root, NOW)
    record = back.state.issued["UZ-PC-2026-000101"]
    assert (record.state, record.decision_reason) == (CertificateState.REJECTED, "Live larvae found")
    assert decided.state.received["UZ-PC-2026-000101"].state is CertificateState.REJECTED


def test_withdraw_resends_the_same_number_with_status_40() -> None:
    issued = uz.issue(NppoState(), draft(), NOW)
    received = _deliver(ge, NppoState(), issued)
    withdrawn = uz.withdraw(issued.state, "UZ-PC-2026-000101", "Cancelled", NOW)
    (root,) = _sent(withdrawn)
    certificate = decode(root)
    assert isinstance(certificate, Certificate)
    assert (certificate.number, certificate.status_code) == ("UZ-PC-2026-000101", "40")
    assert withdrawn.state.issued["UZ-PC-2026-000101"].state is CertificateState.WITHDRAWN
    at_ge = ge.receive(received.state, root, NOW)
    assert at_ge.state.received["UZ-PC-2026-000101"].state is CertificateState.WITHDRAWN
    with pytest.raises(ProtocolError):
        uz.withdraw(withdrawn.state, "UZ-PC-2026-000101", "twice", NOW)
    with pytest.raises(ProtocolError):
        ge.decide(at_ge.state, "UZ-PC-2026-000101", True, "", NOW)


def _refusal(receiver: Nppo, state: NppoState, root: etree._Element) -> ProtocolError:
    refusal = receiver.refusal(state, decode(root))
    assert refusal is not None
    outcome = receiver.receive(state, root, NOW)  # a delivery that reaches the NPPO anyway changes nothing
    assert outcome.state == state and not outcome.sends and [e.kind for e in outcome.events] == ["rejected"]
    return refusal


def test_a_withdrawal_of_a_certificate_never_received_is_refused_as_unknown() -> None:
    issued = uz.issue(NppoState(), draft(), NOW)
    (withdrawal,) = _sent(uz.withdraw(issued.state, "UZ-PC-2026-000101", "Cancelled", NOW))
    refusal = _refusal(ge, NppoState(), withdrawal)
    assert (refusal.document, refusal.path, refusal.rule) == (
        "SPSCertificate", "/SPSCertificate/SPSExchangedDocument/ID", "unknown-certificate")
    assert "never received" in refusal.message


def test_a_replacement_of_an_accepted_certificate_is_refused_as_out_of_sequence() -> None:
    first = uz.issue(NppoState(), draft(), NOW)
    at_ge = _deliver(ge, NppoState(), first)
    accepted = ge.decide(at_ge.state, "UZ-PC-2026-000101", True, "", NOW)
    (replacement,) = _sent(uz.replace(first.state, "UZ-PC-2026-000101", draft("UZ-PC-2026-000102"), "Late", NOW))
    refusal = _refusal(ge, accepted.state, replacement)
    assert refusal.rule == "out-of-sequence" and "Accepted" in refusal.message
    assert refusal.path.endswith("IncludedSPSNote[Subject='ADRPN']/Content")
    assert ge.refusal(at_ge.state, decode(replacement)) is None  # before the decision it may be replaced


def test_a_certificate_for_another_importing_country_is_taken_the_hub_forwards_copies() -> None:
    (certificate,) = _sent(uz.issue(NppoState(), draft(to="GE"), NOW))
    assert az.refusal(NppoState(), decode(certificate)) is None


def test_a_decision_on_a_certificate_never_issued_or_out_of_sequence_is_refused_by_the_exporter() -> None:
    issued = uz.issue(NppoState(), draft(), NOW)
    at_ge = _deliver(ge, NppoState(), issued)
    (accepted,) = _sent(ge.decide(at_ge.state, "UZ-PC-2026-000101", True, "", NOW))
    assert uz.refusal(issued.state, decode(accepted)) is None
    unknown = _refusal(uz, NppoState(), accepted)
    assert (unknown.document, unknown.rule) == ("SPSAcknowledgement", "unknown-certificate")
    assert unknown.path == "/SPSAcknowledgement/SPSAcknowledgementDocument/ReferenceSPSReferencedDocument/ID"
    withdrawn = uz.withdraw(issued.state, "UZ-PC-2026-000101", "Cancelled", NOW)
    late = _refusal(uz, withdrawn.state, accepted)
    assert late.rule == "out-of-sequence" and "Withdrawn" in late.message


def test_replace_issues_a_new_number_with_the_replacement_block() -> None:
    first = uz.issue(NppoState(), draft(), NOW)
    at_ge = _deliver(ge, NppoState(), first)
    replaced = uz.replace(first.state, "UZ-PC-2026-000101", draft("UZ-PC-2026-000102"), "Consignee corrected", NOW)
    (root,) = _sent(replaced)
    certificate = decode(root)
    assert isinstance(certificate, Certificate) and certificate.number == "UZ-PC-2026-000102"
    assert certificate.note("ADRP") == "4"
    assert certificate.note("ADRPN") == "UZ-PC-2026-000101"
    assert certificate.note("ADRPR") == "Consignee corrected"
    assert certificate.note("ADRD") == "2026-03-02T08:00:00Z"
    old = replaced.state.issued["UZ-PC-2026-000101"]
    assert (old.state, old.replaced_by) == (CertificateState.REPLACED, "UZ-PC-2026-000102")
    assert replaced.state.issued["UZ-PC-2026-000102"].replaces == "UZ-PC-2026-000101"
    at_ge = ge.receive(at_ge.state, root, NOW)
    assert at_ge.state.received["UZ-PC-2026-000101"].state is CertificateState.REPLACED
    assert at_ge.state.received["UZ-PC-2026-000102"].replaces == "UZ-PC-2026-000101"


def test_reexport_carries_the_rpc_block_and_the_original() -> None:
    at_ge = _deliver(ge, NppoState(), uz.issue(NppoState(), draft(), NOW))
    onward = replace(draft("GE-RX-2026-000031", to="AZ"), export_country=replace(draft().export_country, id="GE"),
                     items=(APPLES,), signatory=None)
    reexported = ge.reexport(at_ge.state, onward, "UZ-PC-2026-000101", NOW, repacked=True)
    (root,) = _sent(reexported)
    assert [issue for issue in validate(root)] == []
    certificate = decode(root)
    assert isinstance(certificate, Certificate) and certificate.type_code == "657"
    line = certificate.items[0]
    assert (line.note("RPCRF"), line.note("RPCCO"), line.note("RPCRP"), line.note("RPCPK"), line.note("RPCPC")) == (
        "UZ-PC-2026-000101", "UZ", "True", "False", "True")
    (original,) = [ref for ref in certificate.references if ref.relationship == "AWR"]
    assert original.id == "UZ-PC-2026-000101"
    attached = decode(etree.fromstring(original.attachment or b""))
    assert isinstance(attached, Certificate) and attached.number == "UZ-PC-2026-000101"
    assert certificate.signatory is not None and len(certificate.signatory.clauses) == 1
    at_az = az.receive(NppoState(), root, NOW)
    assert at_az.state.received["GE-RX-2026-000031"].original == "UZ-PC-2026-000101"


def test_duplicate_delivery_is_acknowledged_with_warnings() -> None:
    issued = uz.issue(NppoState(), draft(), NOW)
    once = _deliver(ge, NppoState(), issued)
    twice = _deliver(ge, once.state, issued)
    record = twice.state.received["UZ-PC-2026-000101"]
    assert (record.deliveries, record.acknowledgement) == (2, Receipt.DELIVERED_WITH_WARNINGS)
    assert "duplicate" in record.remarks[-1]
    assert record.state is CertificateState.RECEIVED


def test_certificate_with_findings_is_delivered_with_warnings() -> None:
    certificate = encode(uz.issue(NppoState(), draft(), NOW).sends[0].document)
    scientific = certificate.find(".//{*}ScientificName")
    assert scientific is not None
    scientific.getparent().remove(scientific)
    received = ge.receive(NppoState(), certificate, NOW)
    record = received.state.received["UZ-PC-2026-000101"]
    assert record.acknowledgement is Receipt.DELIVERED_WITH_WARNINGS
    assert any(remark.startswith("WARNING MandatoryElements") for remark in record.remarks)


def test_unreadable_content_is_delivered_not_readable() -> None:
    outcome = ge.receive_content(NppoState(), b"<rsm:SPSCertificate oops", NOW)
    (record,) = outcome.state.received.values()
    assert record.acknowledgement is Receipt.NOT_READABLE
    (event,) = outcome.events
    assert event.data["acknowledgement"] == "DeliveredNotReadable"
    sent = uz.issue(NppoState(), draft(), NOW).sends[0].document
    assert isinstance(sent, Certificate)
    no_number = encode(replace(sent, number=None))
    outcome = ge.receive_content(outcome.state, etree.tostring(no_number), NOW)
    assert [r.acknowledgement for r in outcome.state.received.values()] == [Receipt.NOT_READABLE] * 2
    pulled = ge.receive_content(NppoState(), base64.b64decode(base64.b64encode(etree.tostring(no_number))), NOW)
    assert next(iter(pulled.state.received.values())).acknowledgement is Receipt.NOT_READABLE


def test_transition_table_is_what_the_nppos_follow() -> None:
    assert TRANSITIONS[(CertificateState.ISSUED, Transition.WITHDRAW)] is CertificateState.WITHDRAWN
    assert TRANSITIONS[(CertificateState.REJECTED, Transition.REPLACE)] is CertificateState.REPLACED
    assert (CertificateState.ACCEPTED, Transition.REPLACE) not in TRANSITIONS
    assert (CertificateState.WITHDRAWN, Transition.ACCEPT) not in TRANSITIONS
