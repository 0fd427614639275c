"""Business-rule findings become the P5 functional error codes an office of departure answers with.

transit.md §1.10: 12 a code-list violation (incorrect value), 13 a condition (missing), 14 another rule.
Code-list asserts (schemas/cats/rules, role "Codelist") have ids CLnnn and caravan's own rules CVRnnnn; the
"C" they start with does not make them P5 conditions (Cnnnn).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from exchange.errors import Issue
from exchange.validation import validate
from nodes.customs.codec import decode
from nodes.customs.desk import CODELIST_AREA, CatsDesk, functional_error_code
from nodes.language import load_scenario
from tests.rows import MemoryRows

PILOT = Path(__file__).resolve().parent.parent / "scenarios" / "aze-geo-uzb-transit.yaml"
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def test_code_list_findings_are_code_12_conditions_13_other_rules_14() -> None:
    assert functional_error_code(Issue(CODELIST_AREA, "/CC015C/x", "not in CL231", "CL231")) == "12"
    assert functional_error_code(Issue("Schema", "/CC015C/x", "not in the enumeration", "enumeration")) == "12"
    assert functional_error_code(Issue("Rule", "/CC015C/x", "seals", "C0569")) == "13"
    assert functional_error_code(Issue("Rule", "/CC015C/x", "offices", "R0003")) == "14"
    assert functional_error_code(Issue("Rule", "/CC015C/x", "departure is destination", "CVR0001")) == "14"


def test_a_declaration_outside_its_code_lists_is_rejected_with_code_12_and_the_list() -> None:
    desk = CatsDesk(load_scenario(PILOT), "uz")
    rows = MemoryRows(desk.kinds)
    declared = rows.decide(desk, desk.on_action("declare", {"movement": "M1"}), T0)
    root = declared.outgoing[0].root
    root.find("TransitOperation/declarationType").text = "T9"
    root.find("Guarantee/guaranteeType").text = "7"
    issues = validate(root)
    assert [(issue.area, issue.rule) for issue in issues] == [(CODELIST_AREA, "CL231"), (CODELIST_AREA, "CL251")]

    answered = rows.decide(desk, desk.on_message(root, issues), T0)
    assert [out.message_type for out in answered.outgoing] == ["CC056C"]
    rejection = decode(etree.fromstring(etree.tostring(answered.outgoing[0].root)))
    assert [(e.error_pointer, e.error_code, e.error_reason, e.original_attribute_value) for e in rejection.errors] == [
        ("/CC015C/TransitOperation/declarationType", "12", "CL231", "T9"),
        ("/CC015C/Guarantee[1]/guaranteeType", "12", "CL251", "7"),
    ]
