"""Sample e-CO data for the tests: an ST-1 certificate Uzbekistan → Azerbaijan and one of each message."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from nodes.origin.model import (
    AckError,
    Acknowledgement,
    AckResult,
    Address,
    Agreement,
    Certificate,
    CertificateKind,
    CertificateMessage,
    CertificateRef,
    Certification,
    Check,
    CheckName,
    CheckStatus,
    Decision,
    EcoMessage,
    ExporterDeclaration,
    GoodsItem,
    Header,
    Invoice,
    Money,
    Party,
    PartyRef,
    Refusal,
    StatusChange,
    StatusCode,
    Transport,
    UtilisationDecision,
    VerificationReason,
    VerificationRequest,
    VerificationResponse,
    VerificationResult,
)

T0 = datetime(2026, 4, 1, 6, 0, tzinfo=timezone.utc)
NUMBER = "UZ26CCI0000101"
UZCCI = PartyRef("UZ", "UZCCI")
AZ_CUSTOMS = PartyRef("AZ", "AZCUSTOMS")
CIS_FTA = Agreement("CIS-FTA-1994", "Agreement on the Establishment of a Free Trade Area (CIS, 1994)")


def header(
    sender: PartyRef = UZCCI, recipient: PartyRef = AZ_CUSTOMS, message_id: str = "UZCCI-000001", at: datetime = T0
) -> Header:
    return Header(message_id, at, sender, recipient, NUMBER)


def item(**changes: Any) -> GoodsItem:
    base = GoodsItem(
        sequence_number=1,
        package_count=420,
        package_type="CT",
        description="T-shirts of cotton, knitted",
        hs_code="610910",
        origin_country="UZ",
        criterion="CTH",
        gross_weight=Decimal("4300"),
        criterion_detail="CIS Rules 2009: change of tariff heading (yarn 5205 to garments 6109)",
        marks="SRT-AZ-01",
        net_weight=Decimal("4000"),
        fob=Money(Decimal("86000.00"), "USD"),
        invoice_number="INV-2026-0412",
    )
    return replace(base, **changes)


def certificate(**changes: Any) -> Certificate:
    base = Certificate(
        number=NUMBER,
        version=1,
        kind=CertificateKind.ORIGINAL,
        preferential=True,
        form="ST-1",
        issued_at=T0,
        export_country="UZ",
        import_country="AZ",
        exporter=Party("Silk Road Textiles LLC", Address("Tashkent", "UZ", "12 Amir Temur Avenue", "100000"),
                       "301234567"),
        consignee=Party("Caspian Apparel Trading LLC", Address("Baku", "AZ", "5 Neftchilar Avenue"), "1401234567"),
        authority=Party("Chamber of Commerce and Industry of Uzbekistan", Address("Tashkent", "UZ"), "UZCCI"),
        items=(item(),),
        invoices=(Invoice("INV-2026-0412", date(2026, 3, 28)),),
        declaration=ExporterDeclaration(
            "The undersigned declares that the above details are correct and that the goods were produced in UZ.",
            "Tashkent",
            date(2026, 4, 1),
            "B. Karimov",
        ),
        certification=Certification(
            "It is hereby certified that the declaration by the exporter is correct.",
            "Tashkent",
            date(2026, 4, 1),
            "D. Yusupova",
            "UZCCI-07",
        ),
        agreement=CIS_FTA,
        valid_until=date(2027, 4, 1),
        producers=(Party("Namangan Knitting Factory JSC", Address("Namangan", "UZ")),),
        transport=Transport("3", "01A123BC", date(2026, 4, 2), "UZTAS", "AZBAK", ("TM",), "Tashkent - Alat - Baku"),
    )
    return replace(base, **changes)


def ref(version: int = 1) -> CertificateRef:
    return CertificateRef(NUMBER, version, date(2026, 4, 1))


def checks(failing: CheckName | None = None) -> tuple[Check, ...]:
    return tuple(
        Check(name, CheckStatus.INVALID, "DOCUMENT_TAMPERED", "/EcoCertificate/Certificate/GoodsItem[1]/NetWeight")
        if name is failing
        else Check(name, CheckStatus.VALID, "OK")
        for name in CheckName
    )


def every_message() -> list[EcoMessage]:
    """One of each e-CO message, fully populated."""
    back = header(AZ_CUSTOMS, UZCCI, "AZCUSTOMS-000001")
    return [
        CertificateMessage(header(), certificate()),
        CertificateMessage(
            header(message_id="UZCCI-000002"),
            certificate(version=2, kind=CertificateKind.REPLACEMENT, replaces=ref(1)),
        ),
        Acknowledgement(back, "UZCCI-000001", "EcoCertificate", ref(), AckResult.RECEIVED),
        Acknowledgement(
            back,
            "UZCCI-000001",
            "EcoCertificate",
            ref(),
            AckResult.REJECTED,
            (AckError("EcoCertificate", "/EcoCertificate/Certificate/GoodsItem[1]", "ECO-R002", "FOB value missing"),),
        ),
        StatusChange(header(message_id="UZCCI-000003"), ref(1), StatusCode.CANCELLED, "Contract cancelled", T0),
        StatusChange(header(message_id="UZCCI-000004"), ref(1), StatusCode.REPLACED, "Corrected", T0, ref(2)),
        UtilisationDecision(back, ref(), "AZ26IM0000101", T0, Decision.PREFERENCE_GRANTED, checks()),
        UtilisationDecision(
            back, ref(), "AZ26IM0000101", T0, Decision.PREFERENCE_DENIED, checks(CheckName.INTEGRITY), "altered copy"
        ),
        VerificationRequest(
            back,
            "VR-AZ-0001",
            ref(),
            VerificationReason.DOUBT_ORIGIN,
            date(2026, 6, 1),
            True,
            "AZ26IM0000101",
            "Yarn of doubtful origin",
            ("cost statement", "yarn purchase invoices"),
        ),
        VerificationResponse(
            header(message_id="UZCCI-000005"),
            "VR-AZ-0001",
            ref(),
            VerificationResult.ORIGIN_NOT_CONFIRMED,
            T0,
            "Regional value content 31 %",
        ),
        Refusal(
            header(message_id="UZCCI-000006"),
            "AZCUSTOMS-000002",
            "EcoVerificationRequest",
            ref(),
            (AckError("EcoVerificationRequest", "/EcoVerificationRequest/RequestID", "ECO-SEQUENCE",
                      "request is not allowed: verification request VR-AZ-0001 is Answered"),),
        ),
        Refusal(back, "UZCCI-000005", "EcoVerificationResponse", None,
                (AckError("EcoVerificationResponse", "/EcoVerificationResponse/RequestID", "ECO-UNKNOWN",
                          "verification request VR-AZ-0009 was not sent from here"),
                 AckError("EcoVerificationResponse", "/EcoVerificationResponse", "ECO-V001", "second reason"))),
    ]
