"""docs/CATALOGUE.md: every CATS message, who sends it to whom and when, and the rules and codes that apply.

What a message *is* comes from the model (`MESSAGE_NAMES`); who takes it, in which states and to which
state it moves the movement, from the offices' transition tables (`nodes.customs.tables`); which office
code list names the receiving office from `OFFICE_CODE_LISTS`; which answer a refusal gets from
`nodes.customs.refusals`; the CC015C business rules and the functional error code each finding becomes
from the Schematron file and the desk's mapping. What no table holds (the sender and the moment a message
is sent: effects are code) is stated once here, in `SENT`, and a test checks it against the messages the
offices actually exchange. `python -m nodes.customs.catalogue` prints the document; a test compares it
with the committed file.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from lxml import etree

from exchange.errors import Issue
from exchange.validation import SCHEMAS
from nodes.customs.acceptance import GRN_GUARANTEE_TYPES
from nodes.customs.config import OFFICE_CODE_LISTS, CustomsConfig
from nodes.customs.departure import CONTROL_DECISION, NO_RELEASE_CONTROL, NO_RELEASE_GUARANTEE
from nodes.customs.desk import functional_error_code
from nodes.customs.model import MESSAGE_NAMES
from nodes.customs.refusals import REFUSED_WITH, REJECTION_CODES
from nodes.customs.tables import (
    DEPARTURE_TRANSITIONS,
    DESTINATION_TRANSITIONS,
    RECEIVE_ROUTES,
    TRANSIT_TRANSITIONS,
)

__all__ = [
    "CARAVAN_DESIGNED", "CODE_VALUES", "CONTENT_TRIGGERS", "CUSTOMS", "SENT", "CodeValue", "Sent", "message_catalogue"
]

HOLDER, TRADER_AT_DESTINATION = "holder", "trader at destination"
DEPARTURE, TRANSIT, DESTINATION, GUARANTEE = (
    "office of departure", "office of transit", "office of destination", "office of guarantee"
)
CUSTOMS = frozenset({DEPARTURE, TRANSIT, DESTINATION, GUARANTEE})
"""The parties that are customs offices (they send as `NTA.<country>`); the others are traders."""

ROLE_PARTIES: Mapping[str, str] = {"DEP": DEPARTURE, "TRA": TRANSIT, "DES": DESTINATION, "GUA": GUARANTEE}


@dataclass(frozen=True)
class Sent:
    """Who sends a message to whom, and on what."""

    sender: str
    recipient: str
    when: str


SENT: Mapping[str, Sent] = {
    "CC015C": Sent(HOLDER, DEPARTURE, "the holder lodges a declaration (step `declare`); additionalDeclarationType "
                   "`D` lodges it before the goods are presented (pre-lodged)"),
    "CC928C": Sent(DEPARTURE, HOLDER, "a declaration passed every check (standard or pre-lodged)"),
    "CC028C": Sent(DEPARTURE, HOLDER, "acceptance: a valid standard CC015C, or the CC170C of a pre-lodged one"),
    "CC056C": Sent(DEPARTURE, HOLDER, "a CC015C, CC013C, CC014C, CC141C or CC170C is refused"),
    "CC013C": Sent(HOLDER, DEPARTURE, "the holder amends the declaration before release (step `amend`)"),
    "CC004C": Sent(DEPARTURE, HOLDER, "an amendment (CC013C) is accepted"),
    "CC170C": Sent(HOLDER, DEPARTURE, "the goods of a pre-lodged declaration are presented (step `present`)"),
    "CD203C": Sent(DEPARTURE, GUARANTEE, "acceptance, one per GRN; an amendment naming a GRN not yet used"),
    "CD205C": Sent(GUARANTEE, DEPARTURE, "answers CD203C: reserved, or refused with a G01-G10 reason"),
    "CC055C": Sent(DEPARTURE, HOLDER, "a guarantee use is refused; the amendment period starts"),
    "CC060C": Sent(DEPARTURE, HOLDER, "every guarantee is in place for a movement the office decided to control "
                   "(scenario `control: true`); notificationType `0`"),
    "CC029C": Sent(DEPARTURE, HOLDER, "release: every guarantee use reserved, or a satisfactory control at departure "
                   "(step `record_departure_control`)"),
    "CC051C": Sent(DEPARTURE, HOLDER, f"no release: the guarantee not put right within the amendment period "
                   f"(motivation `{NO_RELEASE_GUARANTEE}`) or an unsatisfactory control (`{NO_RELEASE_CONTROL}`)"),
    "CC014C": Sent(HOLDER, DEPARTURE, "the holder asks to invalidate the declaration (step `invalidate`)"),
    "CC009C": Sent(DEPARTURE, HOLDER, "an invalidation request is accepted (only before release)"),
    "CD050C": Sent(DEPARTURE, TRANSIT, "release, one per declared office of transit"),
    "CD001C": Sent(DEPARTURE, DESTINATION, "release"),
    "CD118C": Sent(TRANSIT, DEPARTURE, "the goods are presented at an office of transit (step `present_at_transit`)"),
    "CD180C": Sent(TRANSIT, DEPARTURE, "an office of transit registers an incident en route (step `record_incident`)"),
    "CC182C": Sent(DEPARTURE, HOLDER, "an incident notification (CD180C) is received"),
    "CC007C": Sent(TRADER_AT_DESTINATION, DESTINATION, "the goods arrive (step `notify_arrival`; `simplified: true` "
                   "for an authorised consignee, simplifiedProcedure `1`)"),
    "CC057C": Sent(DESTINATION, TRADER_AT_DESTINATION, "an arrival notification or unloading remarks are refused"),
    "CD006C": Sent(DESTINATION, DEPARTURE, "a valid arrival notification"),
    "CC043C": Sent(DESTINATION, TRADER_AT_DESTINATION, "a valid arrival notification of an authorised consignee"),
    "CC044C": Sent(TRADER_AT_DESTINATION, DESTINATION, "the authorised consignee has unloaded, or not completely "
                   "(step `unloading_remarks`)"),
    "CC025C": Sent(DESTINATION, TRADER_AT_DESTINATION, "the control is recorded (step `record_control`) or complete "
                   "unloading remarks stand for it; releaseIndicator `1`, `2` with discrepancies"),
    "CD018C": Sent(DESTINATION, DEPARTURE, "with CC025C: `A1` satisfactory, `B1` discrepancies (seals, goods)"),
    "CC019C": Sent(DEPARTURE, HOLDER, "control results `B1`"),
    "CC045C": Sent(DEPARTURE, HOLDER, "control results `A1`/`A2`, or discrepancies resolved (step "
                   "`resolve_discrepancies`)"),
    "CD204C": Sent(DEPARTURE, GUARANTEE, "the movement ends (write-off, invalidation, no release) or an amendment "
                   "drops a GRN: the reservation is freed"),
    "CC140C": Sent(DEPARTURE, HOLDER, "the time limit (limitDate) passed with no arrival advice (CD006C)"),
    "CC141C": Sent(HOLDER, DEPARTURE, "the holder answers the enquiry (step `answer_enquiry`)"),
    "CC035C": Sent(DEPARTURE, HOLDER, "the holder says the goods were not delivered; the guarantee stays reserved"),
    "CD906C": Sent("any office", "the office that sent a refused CD message", "a CD message cannot be applied"),
}
"""Message code → who sends it to whom, and when. Triggers in parentheses are scenario steps."""

CARAVAN_DESIGNED = frozenset({"CC140C", "CC141C"})
"""CC messages the official 51.8.6 set beside the project has no schema for. P5 has them (IE140/IE141, and
HMRC published their 51.8.0 schemas in hmrc/transit-movements-validator `conf/xsd/`): caravan's schemas follow
those in names, order and cardinalities (the holder's full identity, CC141C's optional CONSIGNMENT (CONSIGNEE
(ACTUAL))), checked against that structure over the official 51.8.6 types (tests/test_p5_oracle.py)."""

_PRESENTATION_DAYS = CustomsConfig(country="ZZ", offices=()).presentation_period.days


@dataclass(frozen=True)
class CodeValue:
    """A code value caravan's offices write into a P5 message, and the public source it rests on.

    The code list of each element is the one the official 51.8.6 schema names in its annotation (a test
    checks it where the schemas are present); `source` None marks a value no public source at hand gives,
    which the catalogue states as caravan's assumption.
    """

    message: str
    path: str  # the element, below the message root
    code_list: str
    value: str
    when: str
    source: str | None


CODE_VALUES: tuple[CodeValue, ...] = (
    CodeValue("CC056C", "TransitOperation/rejectionCode", "CL226", REJECTION_CODES["015"],
              "a CC015C, CC013C, CC141C or CC170C is refused with functional errors",
              "CS/RD2 RejectionCodeDepartureExport 12 \"Message with functional error(s) - Violation of Rules & "
              "Conditions\", as HMRC's reference-data service (crdl-cache) and trader software quote it"),
    CodeValue("CC056C", "TransitOperation/rejectionCode", "CL226", REJECTION_CODES["015"],
              f"the goods of a pre-lodged declaration were not presented within {_PRESENTATION_DAYS} days (no "
              "functional error)", None),
    CodeValue("CC056C", "TransitOperation/rejectionCode", "CL226", REJECTION_CODES["014"],
              "an invalidation request (CC014C) is refused", None),
    CodeValue("CC057C", "TransitOperation/rejectionCode", "CL227", REJECTION_CODES["007"],
              "an arrival notification or unloading remarks are refused with functional errors", None),
    CodeValue("CC051C", "TransitOperation/noReleaseMotivationCode", "CL211", NO_RELEASE_GUARANTEE,
              "the guarantee was not put right within the amendment period", None),
    CodeValue("CC051C", "TransitOperation/noReleaseMotivationCode", "CL211", NO_RELEASE_CONTROL,
              "the control at departure was not satisfactory", None),
    CodeValue("CC060C", "TransitOperation/notificationType", "CL384", CONTROL_DECISION,
              "the office decided to control the goods before release",
              "HMRC CTC Traders P5 TIS, IE060: NotificationType (CL384), 0 decision to control, 2 intention to "
              "control (transit.md §1.2)"),
)
"""Every code value caravan's offices choose for a trader-facing P5 message. CS/RD2 publishes these business
lists as downloads (RD_NCTS-P5_*.zip) that are not among the sources at hand: CL211 has 12 codes (one is G2,
"Cash guarantee not provided"), none of which is known to mean caravan's two cases; no source gives CL226's
value for an expired pre-lodgement (P5 answers it with IE056, transit.md §1.6; caravan reuses 12)."""

ERROR_CODES: Mapping[str, str] = {
    "12": "code list violation / incorrect value (an office, GRN or code not in its list)",
    "13": "condition violation: data missing that a condition requires",
    "14": "rule violation",
    "90": "unknown MRN (or LRN): no movement of this sender here",
    "92": "message out of sequence: the movement is not in a state that takes it",
    "93": "invalid MRN: layout or check digit",
}
"""Functional error codes caravan's offices answer with (transit.md §1.10)."""

_TABLES: tuple[tuple[str, Mapping[tuple[Any, str], Any]], ...] = (
    (DEPARTURE, DEPARTURE_TRANSITIONS),
    (TRANSIT, TRANSIT_TRANSITIONS),
    (DESTINATION, DESTINATION_TRANSITIONS),
)

_SCH = "{http://purl.oclc.org/dsdl/schematron}"

CONTENT_TRIGGERS: Mapping[str, tuple[str, ...]] = {
    "CD205C": ("guarantee reserved", "guarantees complete", "guarantees complete, control", "guarantee refused"),
}
"""Triggers a message makes according to its content and the movement, which do not start with its code
(tables.py: "guarantees complete" is the CD205C acceptance that leaves nothing pending)."""


def message_catalogue() -> str:
    return "\n".join(_lines()) + "\n"


def _lines() -> Iterator[str]:
    yield "# CATS message catalogue"
    yield ""
    yield ("Generated by `python -m nodes.customs.catalogue > docs/CATALOGUE.md` from the message model, the "
           "offices' transition tables (`nodes/customs/tables.py`), the refusal table and the Schematron rules; "
           "a test keeps it in sync. `CC` messages pass between a trader and customs and follow NCTS P5 51.8.6 "
           f"(`schemas/cats/`), except {', '.join(sorted(CARAVAN_DESIGNED))}, which that schema set lacks: "
           "caravan's schemas follow HMRC's 51.8.0 ones (names, order, cardinalities: the holder's full identity, "
           "CC141C's optional CONSIGNMENT with the consignee who actually took the goods); `CD` messages pass "
           "between administrations and are caravan's design in the P5 style.")
    yield ""
    yield "## Messages"
    yield ""
    yield "| code | name | from → to | sent when |"
    yield "|---|---|---|---|"
    for code, sent in SENT.items():
        yield f"| {code} | {MESSAGE_NAMES[code]} | {sent.sender} → {sent.recipient} | {sent.when} |"
    yield ""
    yield "## What each office does with what it receives"
    yield ""
    yield ("A message moves a movement only in the states its office's table lists; anywhere else it is not "
           "applied and is answered with the refusal below, code 92 (90 when the office has no such movement, "
           "93 for a malformed MRN). A message naming an office the administration does not run in the role "
           "gets code 12 with the office code list as reason.")
    yield ""
    for code in SENT:
        route = RECEIVE_ROUTES.get(code)
        if route is None:
            continue
        party = ROLE_PARTIES[route.role]
        yield f"### {code} {MESSAGE_NAMES[code]}"
        yield ""
        yield (f"Taken by the {party}, named in `{route.element}/referenceNumber` "
               f"(code list {OFFICE_CODE_LISTS[route.role]}); refused with "
               f"{REFUSED_WITH.get(code, 'CD906C')}.")
        yield ""
        moves = list(_moves(code))
        if moves:
            yield "| at the | in state | trigger | moves to |"
            yield "|---|---|---|---|"
            yield from moves
            yield ""
    yield "## Moves no message makes: officers' actions and deadlines"
    yield ""
    yield "| at the | in state | trigger | moves to |"
    yield "|---|---|---|---|"
    yield from _moves(None)
    yield ""
    yield "## Checks of a declaration (CC015C) and its amendment (CC013C)"
    yield ""
    yield ("A CC015C meets its schema, then the Schematron rules (`schemas/cats/rules/cc015c.sch`), then the office "
           "of departure's reference checks; every finding is one functional error of the CC056C. A CC013C meets "
           "its schema and the office's reference checks (all but BR20006).")
    yield ""
    yield "| rule | functional error | what it checks |"
    yield "|---|---|---|"
    yield from _declaration_rules()
    yield ""
    yield "## Code values caravan chooses"
    yield ""
    yield ("Each element's code list is the one the official 51.8.6 schema names for it. The value is caravan's "
           "choice for the case; where no public source at hand gives the list's values, the value is an "
           "**assumption** and says so.")
    yield ""
    yield "| message | element | code list | value | when | source |"
    yield "|---|---|---|---|---|---|"
    for code in CODE_VALUES:
        source = code.source or "**assumption**: no public source at hand gives this list's values for the case"
        yield (f"| {code.message} | `{code.path}` | {code.code_list} | `{code.value}` | {code.when} | "
               f"{source} |")
    yield ""
    yield "## Functional error codes"
    yield ""
    yield "| code | meaning |"
    yield "|---|---|"
    for code, meaning in ERROR_CODES.items():
        yield f"| {code} | {meaning} |"


def _moves(code: str | None) -> Iterator[str]:
    """The table rows a message makes (`code`), or, for None, those no message makes: officers' actions and
    deadlines that pass."""
    for party, table in _TABLES:
        for (state, trigger), target in table.items():
            if _message_of(trigger) == code:
                yield f"| {party} | {_state(state)} | {trigger} | {_state(target)} |"


def _message_of(trigger: str) -> str | None:
    """The message a trigger comes from, or None for an officer's action or a deadline."""
    for code, triggers in CONTENT_TRIGGERS.items():
        if trigger in triggers:
            return code
    code = trigger.split(" ")[0]
    return code if code in MESSAGE_NAMES else None


def _state(state: Enum | None) -> str:
    return "(none yet)" if state is None else str(state.value)


def _declaration_rules() -> Iterator[str]:
    """The Schematron asserts of CC015C with the error code each finding becomes, then the office's own checks."""
    rules = etree.parse(str(SCHEMAS / "cats" / "rules" / "cc015c.sch"))
    for assertion in rules.iter(f"{_SCH}assert"):
        rule = assertion.get("id", "")
        area = assertion.get("role") or "Rule"
        text = " ".join("".join(assertion.itertext()).split())
        yield f"| {rule} | {functional_error_code(Issue(area, '', text, rule))} | {text} |"
    types = ", ".join(sorted(GRN_GUARANTEE_TYPES))
    office_checks = (
        ("BR20006", "14", "the LRN is new for this holder (a rejected declaration uses its LRN up); CC015C only"),
        (OFFICE_CODE_LISTS["DES"], "12", "the declared office of destination is an office of destination"),
        (OFFICE_CODE_LISTS["TRA"], "12", "each declared office of transit is an office of transit"),
        ("G01", "12", "each GRN was issued by a country that has an office of guarantee"),
        ("C0086", "13", f"guarantee types {types} (CL286) give a GRN and access code"),
    )
    for rule, error, text in office_checks:
        yield f"| {rule} | {error} | {text} (office of departure) |"


if __name__ == "__main__":
    sys.stdout.write(message_catalogue())
