"""The ePhyto as data: the IPPC profile of UN/CEFACT SPSCertificate 17 and SPSAcknowledgement 17.

One frozen dataclass per aggregate the ePhyto uses, named after the UN/CEFACT aggregate and holding
only what the IPPC profile fills in. Values the standard writes as text stay text (dates are the
`DateTimeString` a certificate states, codes are codes); quantities are Decimal. A value a document
leaves out, leaves empty or states as the literal NULL is None here: the codec reads all three the
same way, so no agency has to know that some national systems write "NULL".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "ACCEPTED",
    "CONDITIONALLY_ACCEPTED",
    "ISSUED",
    "PHYTOSANITARY",
    "REEXPORT",
    "REJECTED",
    "WITHDRAWN",
    "Acknowledgement",
    "Address",
    "Certificate",
    "Characteristic",
    "Classification",
    "Clause",
    "Country",
    "Equipment",
    "Location",
    "Measure",
    "Note",
    "Package",
    "Party",
    "ReferencedDocument",
    "Signatory",
    "TradeLine",
    "Transport",
    "Treatment",
]

PHYTOSANITARY = "851"  # UNCL 1001 Phytosanitary certificate
REEXPORT = "657"  # UNCL 1001 Phytosanitary re-export certificate
ISSUED = "70"  # IPPC-specific status: issued
WITHDRAWN = "40"  # IPPC-specific status: withdrawn
ACCEPTED = "1"  # UNCL 1373, for the import decision
CONDITIONALLY_ACCEPTED = "3"
REJECTED = "8"


@dataclass(frozen=True)
class Note:
    """IncludedSPSNote / AdditionalInformationSPSNote: an IPPC subject code (ADEDL, RPCRF, ...) and text."""

    subject: str
    contents: tuple[str, ...] = ()

    @property
    def content(self) -> str | None:
        return self.contents[0] if self.contents else None


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...] = ()  # LineOne .. LineFive
    city: str | None = None
    postcode: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Party:
    name: str | None
    address: Address | None = None
    person: str | None = None  # SpecifiedSPSPerson/Name


@dataclass(frozen=True)
class Country:
    id: str | None
    name: str | None = None
    subdivision: str | None = None  # SubordinateSPSCountrySubDivision/Name: the region of origin


@dataclass(frozen=True)
class Location:
    name: str | None
    id: str | None = None  # UN/LOCODE for a point of entry


@dataclass(frozen=True)
class Measure:
    value: Decimal
    unit: str | None  # UN/ECE Rec 20


@dataclass(frozen=True)
class Classification:
    """HS (code in `code`), IPPCPCVP (commodity class) or IPPCPCC (condition), in `names`."""

    system: str | None
    code: str | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Package:
    level: str | None
    type_code: str | None  # UN/ECE Rec 21
    quantity: Decimal | None


@dataclass(frozen=True)
class Characteristic:
    """A treatment detail: its IPPC code first (TTL1, TTCH, TTTM, TTFT, ...), then a text or a value."""

    descriptions: tuple[str, ...]
    value: Measure | None = None


@dataclass(frozen=True)
class Treatment:
    """AppliedSPSProcess; the IPPC requires TypeCode ZZZ and says what was done in the characteristics."""

    type_code: str | None = "ZZZ"
    start: str | None = None
    end: str | None = None
    duration: Measure | None = None
    characteristics: tuple[Characteristic, ...] = ()


@dataclass(frozen=True)
class TradeLine:
    sequence: int | None
    descriptions: tuple[str, ...] = ()
    common_names: tuple[str, ...] = ()
    scientific_names: tuple[str, ...] = ()
    intended_uses: tuple[str, ...] = ()
    net_weight: Measure | None = None
    gross_weight: Measure | None = None
    net_volume: Measure | None = None
    gross_volume: Measure | None = None
    notes: tuple[Note, ...] = ()
    classifications: tuple[Classification, ...] = ()
    packages: tuple[Package, ...] = ()
    origins: tuple[Country, ...] = ()
    treatments: tuple[Treatment, ...] = ()

    def note(self, subject: str) -> str | None:
        return next((note.content for note in self.notes if note.subject == subject), None)


@dataclass(frozen=True)
class Transport:
    mode: str | None  # UN/ECE Rec 19: 1 sea, 2 rail, 3 road, 4 air
    means: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Equipment:
    id: str | None
    seals: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReferencedDocument:
    """An attachment or a related document; AWR marks the original certificate of a re-export."""

    type_code: str | None
    relationship: str | None
    id: str | None
    issued: str | None = None
    attachment: bytes | None = None
    filename: str | None = None
    information: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clause:
    """A certifying statement: 1 and 2 on an 851, one empty clause on a 657."""

    id: str | None
    contents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Signatory:
    place: str | None  # IssueSPSLocation/Name
    officer: str | None  # ProviderSPSParty/SpecifiedSPSPerson/Name
    signed: str | None = None  # ActualDateTime
    clauses: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class Certificate:
    """rsm:SPSCertificate: SPSExchangedDocument (number to signatory) and SPSConsignment (the rest).

    `references_after_signatory` records where a received certificate placed its reference documents;
    the codec writes them before the signatory block (Hub/RAM order) unless told otherwise.
    """

    number: str | None
    type_code: str | None
    status_code: str | None
    issued: str | None
    issuer: str | None
    signatory: Signatory | None
    consignor: Party | None
    consignee: Party | None
    export_country: Country | None
    import_country: Country | None
    items: tuple[TradeLine, ...] = ()
    name: str | None = None
    descriptions: tuple[str, ...] = ()
    notes: tuple[Note, ...] = ()
    references: tuple[ReferencedDocument, ...] = ()
    transit_countries: tuple[Country, ...] = ()
    point_of_entry: Location | None = None
    examination_place: str | None = None
    transports: tuple[Transport, ...] = ()
    equipment: tuple[Equipment, ...] = ()
    references_after_signatory: bool = False

    def note(self, subject: str) -> str | None:
        return next((note.content for note in self.notes if note.subject == subject), None)

    @property
    def replaces(self) -> str | None:
        """The number of the certificate this one replaces (note ADRPN of the replacement block)."""
        return self.note("ADRPN")

    @property
    def original(self) -> str | None:
        """For a re-export certificate: the original certificate's number (note RPCRF of the first line)."""
        return next((number for item in self.items if (number := item.note("RPCRF"))), None)


@dataclass(frozen=True)
class Acknowledgement:
    """rsm:SPSAcknowledgement: an importing NPPO's decision on one certificate (UNCL 1373 status)."""

    certificate: str | None
    status_code: str | None
    issued: str | None = None
    reasons: tuple[str, ...] = ()
    certificate_type: str | None = None
    certificate_issued: str | None = None
