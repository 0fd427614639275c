"""The scenario language refuses what it does not know, with file, line and field, before any step runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from exchange.cli import main
from exchange.conformance import Check
from exchange.errors import ScenarioError
from exchange.runner import RunReport
from nodes.families import FAMILIES, build_desks
from nodes.language import ACTIONS, check_arguments, check_scenario, load_scenario
from nodes.launch import node_services
from nodes.reference import scenario_reference

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda path: path.stem)
def test_every_shipped_scenario_passes_check(scenario: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(scenario)]) == 0
    assert capsys.readouterr().out.strip().endswith("valid")


def _replace_line(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, f"mutation anchor {old!r} is gone from the pilot"
        return text.replace(old, new, 1)

    return change


def _replace_expect(section: str) -> Callable[[str], str]:
    """The pilot with its `expect:` replaced by `section` (YAML lines under it)."""
    def change(text: str) -> str:
        return text[: text.index("\nexpect:")] + "\nexpect:\n" + section

    return change


PILOT_LINES = PILOT.read_text(encoding="utf-8")
_DECLARE_M1 = "{at: 2026-03-02T08:00:00Z, node: uz, do: declare, movement: M1}"
_CONTROL_M1 = "{at: +1h, node: ge, do: record_control, movement: M1, seals_ok: true}"

# (name, mutation of the pilot's text, the field named in the finding, words the finding must carry)
MUTATIONS = [
    ("expect renamed", _replace_line("\nexpect:", "\nexpects:"), "expects", "did you mean 'expect'"),
    ("unknown step argument", _replace_line(_DECLARE_M1, _DECLARE_M1[:-1] + ", priority: high}"),
     "steps[0].priority", "unknown key"),
    ("boolean that is not one", _replace_line(_CONTROL_M1, _CONTROL_M1.replace("true", "maybe")),
     ".seals_ok", "valid boolean"),
    ("misspelt argument", _replace_line(_CONTROL_M1, _CONTROL_M1.replace("seals_ok", "seal_ok")),
     ".seal_ok", "did you mean 'seals_ok'"),
    ("unknown action", _replace_line(_DECLARE_M1, _DECLARE_M1.replace("declare", "declar")),
     "steps[0].do", "did you mean 'declare'"),
    ("unknown movement", _replace_line(_DECLARE_M1, _DECLARE_M1.replace("M1", "M11")),
     "steps[0].movement", "no such movement"),
    ("unknown node", _replace_line(_DECLARE_M1, _DECLARE_M1.replace("node: uz", "node: uzb")),
     "steps[0].node", "did you mean 'uz'"),
    ("unquoted comma in a flow mapping", _replace_line('note: "only 5,000 USD left on the guarantee"',
                                                       "note: only 5,000 USD left on the guarantee"),
     "000 USD left on the guarantee", "quote the value"),
    ("driver step typo", _replace_line("do: note,", "do: note_,"), ".do", "known: amend, answer_enquiry"),
    ("time that is not one", _replace_line(_DECLARE_M1, _DECLARE_M1.replace("2026-03-02T08:00:00Z", "tomorrow")),
     "steps[0].at", "not a time"),
    ("time going back", _replace_line(_DECLARE_M1, _DECLARE_M1.replace("2026-03-02T08", "2026-03-01T08")),
     "steps[0].at", "goes back in time"),
    ("office of another node", _replace_line(_CONTROL_M1, _CONTROL_M1.replace("node: ge", "node: az")),
     "steps[", "belongs to node 'ge'"),
    ("state not in the table", _replace_line("departure: WrittenOff", "departure: WritenOff"),
     ".departure", "WrittenOff"),
    ("message code unknown", _replace_line("CC015C", "CC015X"), "expect.messages", "CC015C"),
    ("amount as a float", _replace_line('reference_amount: "100000.00"', "reference_amount: 100000.5"),
     "reference_amount", "quote decimal amounts"),
    ("key written twice", _replace_line("scenario: aze-geo-uzb-transit", "scenario: a\nscenario: b"),
     "scenario", "written twice"),
    ("no expectations", lambda text: text[: text.index("\nexpect:")] + "\nexpect: {}\n", "expect",
     "states no expectation"),
    ("baseline key unknown", _replace_line('hours: "1.8", basis:', 'hours: "1.8", minutes: 5, basis:'),
     "baseline.crossings[2].minutes", "unknown key"),
    ("baseline office unknown", _replace_line("{office: GE000110, hours:", "{office: GE000111, hours:"),
     "baseline.crossings[2].office", "is in no node's offices"),
    ("baseline without its source", _replace_line("  source: \"CAREC CPMM", "  sources: \"CAREC CPMM"),
     "baseline.sources", "unknown key"),
    # expectations that check nothing: the run held "0/0" and passed (an empty movement or guarantee), or held a
    # check that cannot fail (an empty message sequence is a subsequence of any)
    ("only empty expectations",
     _replace_expect("  movements:\n    M1: {}\n  guarantees:\n    \"26UZ0009000000011\": {}\n"),
     "expect.movements.M1", "states nothing to check"),
    ("empty message sequence", _replace_expect("  messages:\n    M1: []\n"), "expect.messages.M1",
     "states nothing to check"),
    ("empty message counts", _replace_expect("  message_counts:\n    M1: {}\n"), "expect.message_counts.M1",
     "states nothing to check"),
    ("empty document content", _replace_expect("  documents:\n    - {movement: M1, type: CC056C, contains: {}}\n"),
     "expect.documents[0].contains", "states nothing to check"),
    ("negative delivery count", _replace_line("    failed: 0", "    failed: -1"), "expect.deliveries.failed",
     "greater than or equal to 0"),
    # a value with nothing to compare held whenever the path led nowhere (`str(None) == "None"`)
    ("value to neither equal nor lack", _replace_expect("  values:\n    - {node: uz, path: cats/movements}\n"),
     "expect.values[0]", "give one of `equals`"),
    ("value to both equal and lack",
     _replace_expect("  values:\n    - {node: uz, path: cats/movements, equals: x, lacks: M2}\n"),
     "expect.values[0]", "give one of `equals`"),
    # the name names directories (`run`'s temporary one, `conform`'s runs/NAME): `run` failed with exit 3 on
    # "/tmp/caravan-../../etc-...: No such file or directory", and `conform` would write outside its report
    ("scenario name that is a path", _replace_line("scenario: aze-geo-uzb-transit", "scenario: ../../etc"),
     "scenario", "should match pattern"),
    # one code, id or number for two things: only the trader's mistakes that followed were named, if any
    ("trader id twice", _replace_line("{id: UZ305551112002, name: Fergana", "{id: UZ301234567001, name: Fergana"),
     "nodes.uz.traders[1].id", "UZ301234567001 is given twice; first at nodes.uz.traders[0].id"),
    ("GRN twice", _replace_line('{grn: "26UZ0009000000029", holder: UZ305551112002',
                                '{grn: "26UZ0009000000011", holder: UZ305551112002'),
     "nodes.uz.guarantees[1].grn", "is given twice; first at nodes.uz.guarantees[0].grn"),
    # `count: 0` of a type or an element no schema declares held whatever was sent: "✓ uz sends no CC015", exit 0
    ("exchange of no type", _replace_line(
        "\nexpect:\n", "\nexpect:\n  exchanges: [{from: uz, type: CC015, count: 0}]\n"),
     "expect.exchanges[0].type", "is 'CC015' (did you mean 'CC015C'?): no schema in schemas/ declares"),
    ("exchange holding no element", _replace_line(
        "\nexpect:\n", "\nexpect:\n  exchanges: [{from: uz, type: CC015C, contains: {LRNN: X}, count: 0}]\n"),
     "expect.exchanges[0].contains.LRNN", "names no element the schemas of CC015C declare (did you mean 'LRN'?)"),
    ("exchange holding no element at a path", _replace_line(
        "\nexpect:\n", "\nexpect:\n  exchanges: [{from: uz, type: CC015C, contains: {TransitOperation/LRNN: X}, "
        "count: 0}]\n"),
     "expect.exchanges[0].contains.TransitOperation/LRNN",
     "names no element the schemas of CC015C declare (did you mean 'LRN'?)"),
    ("exchange answering no type", _replace_line(
        "\nexpect:\n", "\nexpect:\n  exchanges: [{from: uz, type: CD906C, answers: CD118, count: 0}]\n"),
     "expect.exchanges[0].answers", "no schema in schemas/ declares"),
    # the run could only fail it: M2 "absent" at transit
    ("transit state of a movement without transit", _replace_line(
        "    transit: [{office: AZ000310}, {office: AZ000210}]\n", ""),
     "expect.movements.M2.transit", "expects a state at offices of transit; M2 declares none"),
    # a guarantee's `office` was read nowhere; a GRN at another country's node met G01 at run time, mid-run
    ("office of guarantee that is not", _replace_line("currency: USD, office: UZ000900}", "currency: USD, office: "
                                                      "UZ000100}"),
     "nodes.uz.guarantees[0].office", "is UZ000100: GRNs issued in UZ are managed by UZ000900"),
    ("GRN at another country's node", _replace_line('{grn: "26GE0009000000017"', '{grn: "26UZ0009000000037"'),
     "nodes.ge.guarantees[0].grn", "was issued in UZ (GRN positions 3-4): register it at the node of UZ"),
    ("GRN no office manages", _replace_line("guarantee office, roles: [GUA]", "guarantee office, roles: [DEP]"),
     "nodes.uz.guarantees[0].grn", "where no office has role GUA to manage it"),
    # values of a form the P5 schemas refuse: the hub refused the node's own CC015C (SEVERE Schema [pattern]), and
    # the run stopped later on "az holds no MRN for movement M1"
    ("country of routing of three letters", _replace_line("route: [UZ, TM, AZ, GE]", "route: [UZB, TM, AZ, GE]"),
     "movements.M1.route[0]", "String should match pattern"),
    ("mode of transport in words", _replace_line("transport: {inland: \"3\"", "transport: {inland: road"),
     "movements.M1.transport.inland", "String should match pattern"),
    ("seal too long", _replace_line("seals: [UZ-SEAL-000101", "seals: [UZ-SEAL-000101-0000000000000"),
     "movements.M1.equipment[0].seals[0]", "at most 20 characters"),
    ("city too long", _replace_line("city: Tashkent,", "city: Tashkent-Tovarnaya Tashkent-Tovarnaya,"),
     "nodes.uz.traders[0].city", "at most 35 characters"),
    # P5's LRN (AlphaNumeric_MAX22_NoSpaces) may hold spaces inside, none at its end: the official schema refuses it
    ("LRN ending with a space", _replace_line("lrn: UZ26TAS0000001", 'lrn: "UZ26TAS0000001 "'),
     "movements.M1.lrn", "String should match pattern"),
    ("document holding no element", _replace_line("errorReason: CL173", "errorReasons: CL173"),
     "expect.documents[0].contains.errorReasons", "names no element the schemas of CC056C declare"),
    ("push of no type", _replace_line("\nexpect:\n", "\nexpect:\n  pushes: [{to: ge, type: CD01C, answer: taken}]\n"),
     "expect.pushes[0].type", "no schema in schemas/ declares"),
    ("refusal of no type", _replace_line("\nexpect:\n", "\nexpect:\n  refusals: [{message_type: CC99C}]\n"),
     "expect.refusals[0].message_type", "no schema in schemas/ declares"),
    # the run found M1's records for M4 at the office of transit: "not allowed in state Passed", exit 2 mid-run
    ("LRN twice", _replace_line("lrn: UZ26FRG0000001", "lrn: UZ26TAS0000001"),
     "movements.M4.lrn", "UZ26TAS0000001 is given twice; first at movements.M1.lrn"),
    # times no datetime holds: `check` ended in an internal error (OverflowError, exit 70)
    ("a start whose UTC is past the calendar", _replace_line("start: 2026-03-02T06:00:00Z",
                                                             "start: 9999-12-31T23:59:59-05:00"),
     "start", "is outside the calendar in UTC (years 1 to 9999)"),
    ("span beyond any timedelta", _replace_line("{at: +30m, node: uz, do: declare, movement: M3",
                                                "{at: +99999999999d, node: uz, do: declare, movement: M3"),
     "steps[1].at", "longer than any span of time"),
    ("relative time past the calendar", _replace_line("{at: +2h, node: uz, do: record_control, movement: M2",
                                                      "{at: +3000000d, node: uz, do: record_control, movement: M2"),
     "steps[22].at", "runs past the calendar's end (year 9999)"),
]


def test_contains_may_name_an_element_by_the_end_of_its_path(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`FunctionalError/errorCode` is two declared names: `check` takes it (a path key was refused as no element)."""
    scenario = tmp_path / "path.yaml"
    scenario.write_text(_replace_line('contains: {errorCode: "12",', 'contains: {FunctionalError/errorCode: "12",')(
        PILOT_LINES), encoding="utf-8")
    assert main(["check", str(scenario)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(("name", "mutate", "field", "words"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_mistake_is_refused_by_check_and_by_run_with_its_line_and_no_step_runs(
    name: str, mutate: Callable[[str], str], field: str, words: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = tmp_path / "mutated.yaml"
    scenario.write_text(mutate(PILOT_LINES), encoding="utf-8")
    assert main(["check", str(scenario)]) == 2
    checked = capsys.readouterr().out
    finding = next((line for line in checked.splitlines() if field in line and words in line), None)
    assert finding is not None, checked
    assert re.match(rf"{re.escape(str(scenario))}:\d+: ", finding), finding

    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    refused = capsys.readouterr()
    assert words in refused.err and "▶" not in refused.out and "Traceback" not in refused.err
    assert not out.exists(), "nothing may be started or written for a scenario that does not check"


def test_a_run_whose_expectations_came_to_no_check_does_not_pass() -> None:
    """The verdict's own guard, whatever let a scenario through with nothing to check: 0 of 0 is no pass."""
    assert not RunReport().ok
    assert RunReport(checks=[Check("movement M1 at departure", "WrittenOff", "WrittenOff", True)]).ok


def test_every_finding_is_reported_at_once(tmp_path: Path) -> None:
    text = PILOT_LINES.replace(_CONTROL_M1, _CONTROL_M1.replace("seals_ok", "seal_ok"))
    text = text.replace(_DECLARE_M1, _DECLARE_M1.replace("declare", "declar"))
    scenario = tmp_path / "two.yaml"
    scenario.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(scenario)
    fields = [finding.field for finding in caught.value.findings]
    assert "steps[0].do" in fields and any(field.endswith(".seal_ok") for field in fields)


def test_a_node_refuses_bad_step_arguments_from_any_driver() -> None:
    with pytest.raises(ScenarioError) as caught:
        check_arguments("record_control", {"movement": "M1", "seals_ok": "maybe"})
    assert caught.value.rule == "step-arguments" and caught.value.path == "seals_ok"
    with pytest.raises(ScenarioError, match="did you mean 'seals_ok'"):
        check_arguments("record_control", {"movement": "M1", "seal_ok": True})
    check_arguments("record_control", {"movement": "M1", "seals_ok": False})


def test_the_registry_and_the_agencies_know_the_same_actions() -> None:
    """One registry: every desk action is declared for its family, and every declared one is carried out."""
    desks = build_desks(load_scenario(PILOT), "uz")
    for family, desk in desks.items():
        declared = {action.name for action in ACTIONS.by_performer(family)}
        assert desk.actions <= declared, f"{family} desk actions missing from the registry"
    services = set(node_services(Path("."), "UZ"))  # steps a node carries out with I/O of its own
    carried = {name for desk in desks.values() for name in desk.actions} | services
    for family in FAMILIES:
        declared = {action.name for action in ACTIONS.by_performer(family)}
        assert declared <= carried, f"{family}: declared but nobody carries out {declared - carried}"


def test_the_scenario_reference_is_generated_from_the_language() -> None:
    committed = (ROOT / "docs" / "SCENARIOS.md").read_text(encoding="utf-8")
    stale = "docs/SCENARIOS.md is stale: python -m nodes.reference > docs/SCENARIOS.md"
    assert committed == scenario_reference(), stale
    for word in ("seals_ok", "WrittenOff", "CL173", "G01", "record_control", "fault", "CC015C"):
        assert word in committed


@pytest.mark.parametrize(("content", "problem"), [
    (None, "No such file or directory"),
    (b"", "is empty"),
    (bytes(range(256)), "not UTF-8 text"),
    (b"<?xml version='1.0'?><CC015C/>", "a scenario is a YAML mapping"),
    (b"scenario: [unclosed\n", "not valid YAML"),
    (b"- a\n- list\n", "a scenario is a YAML mapping"),
], ids=["missing", "empty", "binary", "a document", "broken YAML", "a list"])
def test_check_refuses_files_that_are_no_scenario_in_one_line(
    content: bytes | None, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input.yaml"
    if content is not None:
        path.write_bytes(content)
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    findings = [line for line in out.splitlines() if "nothing was run" not in line]
    assert len(findings) == 1 and str(path) in findings[0] and problem in findings[0], out
    assert "Traceback" not in out + err


def test_a_file_a_step_names_must_stand_beside_the_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ephyto = ROOT / "scenarios" / "uzb-geo-ephyto-transit.yaml"
    text = ephyto.read_text(encoding="utf-8")
    assert "file: samples/UZ-PC-2026-000106.xml" in text
    moved = tmp_path / "ephyto.yaml"  # the same scenario elsewhere: its sample file is not beside it
    moved.write_text(text, encoding="utf-8")
    assert main(["check", str(moved)]) == 2
    assert "steps[5].file: samples/UZ-PC-2026-000106.xml is no file beside the scenario" in capsys.readouterr().out


def test_aliases_of_aliases_are_read_once_and_quoted_short(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Seven aliases of nine aliases of ... a list of nine: 9^7 paths. Line marks walked every one of them again at
    each alias (9^9 was minutes, then a MemoryError, exit 70), and a finding quoted the whole value."""
    levels = ["  l0: &l0 [x, x, x, x, x, x, x, x, x]"] + [
        f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 7)]
    text = PILOT_LINES.replace("legs:\n", "legs:\n" + "\n".join(levels) + "\n", 1)
    text = text.replace("    route: [GE, AZ, TM, UZ]", "    route: *l6", 1)
    scenario = tmp_path / "aliases.yaml"
    scenario.write_text(text, encoding="utf-8")
    assert main(["check", str(scenario)]) == 2
    findings = capsys.readouterr().out.splitlines()
    assert any("movements.M2.route[0]: Input should be a valid string (found [[" in line for line in findings)
    assert max(len(line) for line in findings) < 1000  # it was 9^6 quoted values: megabytes


def test_two_e_cos_of_one_number_are_refused(tmp_path: Path) -> None:
    """They were taken for one certificate: the second's cancellation cancelled the first, at run time."""
    eco = (ROOT / "scenarios" / "uzb-aze-eco.yaml").read_text(encoding="utf-8")
    assert "number: UZ26CCI0000102" in eco
    scenario = tmp_path / "eco.yaml"
    scenario.write_text(eco.replace("number: UZ26CCI0000102", "number: UZ26CCI0000101", 1), encoding="utf-8")
    findings = [str(finding) for finding in check_scenario(scenario)]
    assert any("eco.certificates.C2.number: UZ26CCI0000101 is given twice; first at eco.certificates.C1.number"
               in finding for finding in findings), findings


@pytest.mark.parametrize(("old", "new", "words"), [
    ('changes: {consignee: {id: "1401234567"', 'changes: {consignee: {idx: "1401234567"',
     "steps[1].changes.consignee.idx: unknown key (did you mean 'id'?)"),
    ('changes: {consignee: {id: "1401234567"', 'changes: {import_country: Azerbaijan, consignee: {id: "1401234567"',
     "steps[1].changes.import_country: String should match pattern"),
], ids=["key misspelt inside a field", "value of the wrong form"])
def test_an_e_co_replacement_is_typed_as_the_certificate_is(tmp_path: Path, old: str, new: str, words: str) -> None:
    """A key misspelt inside a changed field passed check, and the run built the replacement without it, exit 0."""
    findings = _eco_findings(tmp_path, old, new)
    assert any(words in finding for finding in findings), findings


@pytest.mark.parametrize(("path", "words"), [
    ("GoodsItem[1/PackageCount", "is no path of local names under Certificate, e.g. GoodsItem[1]/NetWeight"),
    ("GoodsItem[1]/PackageCounts", "PackageCounts (did you mean 'PackageCount'?) is no element of an e-CO certificate"),
], ids=["no path", "no element"])
def test_an_altered_copy_names_elements_of_a_certificate(tmp_path: Path, path: str, words: str) -> None:
    """Both passed check; the first ended the run in an XPathEvalError at the node (HTTP 500, exit 3), the second
    in a refusal mid-run."""
    findings = _eco_findings(tmp_path, '"GoodsItem[1]/PackageCount": "450"', f'"{path}": "450"')
    assert any(f"steps[10].altered.{path}: {words}" in finding for finding in findings), findings


def _eco_findings(tmp_path: Path, old: str, new: str) -> list[str]:
    """What check finds in the e-CO pilot with `old` replaced by `new` once."""
    eco = (ROOT / "scenarios" / "uzb-aze-eco.yaml").read_text(encoding="utf-8")
    assert old in eco
    scenario = tmp_path / "eco.yaml"
    scenario.write_text(eco.replace(old, new, 1), encoding="utf-8")
    return [str(finding) for finding in check_scenario(scenario)]
