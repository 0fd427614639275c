"""scenarios/p5-trader-flows.yaml through the scenario runner: every new P5 trader flow over real HTTP,
signatures and storage, with its expectations holding, and every CC message it writes valid P5.

The official schemas are reference material beside the project (see tests/test_p5_oracle.py): the
checks against them skip where they are absent.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from lxml import etree

from exchange.cli import main
from nodes.customs.desk import AMENDABLE
from nodes.customs.language import AmendArguments, MovementStep

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "p5-trader-flows.yaml"
OFFICIAL = ROOT.parent / "shared" / "reference" / "ncts-p5-xsd"
DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
NEW_TYPES = {"CC004C", "CC013C", "CC043C", "CC044C", "CC060C", "CC170C", "CC182C"}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    out = tmp_path_factory.mktemp("p5-trader-flows")
    capture = out / "stdout.txt"
    with capture.open("w") as stream, contextlib.redirect_stdout(stream):
        code = main(["run", str(SCENARIO), "--out", str(out)])
    return code, capture.read_text(), out


def test_every_expectation_of_the_trader_flows_holds(run: tuple[int, str, Path]) -> None:
    code, stdout, _ = run
    assert code == 0, stdout
    assert "✗" not in stdout


def test_the_scenario_exchanges_every_new_trader_message_type(run: tuple[int, str, Path]) -> None:
    _, _, out = run
    written = {path.name.split("-")[1] for path in (out / "messages").glob("*.xml")}
    assert NEW_TYPES | {"CD180C"} <= written


def test_the_offices_log_the_new_moves(run: tuple[int, str, Path]) -> None:
    _, _, out = run
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    details = {event.get("detail") for event in events if event.get("event") == "state"}
    assert {
        "GuaranteeUnderAmendment → Accepted on CC013C",
        "start → PreLodged on CC015C pre-lodged",
        "PreLodged → PreLodged on CC013C",
        "PreLodged → Accepted on CC170C",
        "Accepted → UnderControl on guarantees complete, control",
        "UnderControl → Released on RecordDepartureControl satisfactory",
        "UnderControl → NotReleased on RecordDepartureControl not satisfactory",
        "Released → Released on CD180C",
        "AARReceived → UnloadingPermitted on CC007C simplified",
        "UnloadingPermitted → UnloadingPermitted on CC044C unloading not complete",
        "UnloadingPermitted → GoodsReleased on CC044C",
    } <= details


def p5_documents(out: Path) -> list[tuple[Path, etree._Element]]:
    """Each CC message the scenario wrote that P5 publishes a schema of, as P5 has it (no enveloped signature)."""
    found = []
    for path in sorted((out / "messages").glob("*-CC*.xml")):
        root = etree.parse(str(path)).getroot()
        for signature in root.findall(DSIG):
            root.remove(signature)
        if (OFFICIAL / f"{etree.QName(root).localname.lower()}.xsd").is_file():
            found.append((path, root))
    return found


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL}")
def test_every_cc_message_written_is_valid_against_the_official_p5_schema(run: tuple[int, str, Path]) -> None:
    _, _, out = run
    documents = p5_documents(out)
    assert {etree.QName(root).localname for _, root in documents} >= NEW_TYPES
    for path, root in documents:
        schema = etree.XMLSchema(etree.parse(str(OFFICIAL / f"{etree.QName(root).localname.lower()}.xsd")))
        assert schema.validate(root), f"{path.name}: {schema.error_log.last_error}"


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason=f"the official P5 schemas are not at {OFFICIAL}")
def test_caravan_validate_accepts_every_new_type_as_p5_has_it(
    run: tuple[int, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, out = run
    files = []
    for path, root in p5_documents(out):
        if etree.QName(root).localname in NEW_TYPES:
            files.append(tmp_path / path.name)
            files[-1].write_bytes(etree.tostring(root))
    capsys.readouterr()
    assert main(["validate", *map(str, files)]) == 0
    assert "INVALID" not in capsys.readouterr().out


def test_an_amend_step_takes_exactly_the_entries_the_desk_replaces() -> None:
    assert set(AmendArguments.model_fields) - set(MovementStep.model_fields) == set(AMENDABLE)


def test_caravan_validate_refuses_unloading_remarks_without_their_verdict_naming_the_path(
    run: tuple[int, str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, out = run
    path = next((out / "messages").glob("*-CC044C-*.xml"))
    root = etree.parse(str(path)).getroot()
    remark = root.find("UnloadingRemark")
    remark.remove(remark.find("conform"))
    broken = tmp_path / "cc044c-without-conform.xml"
    broken.write_bytes(etree.tostring(root))
    capsys.readouterr()
    assert main(["validate", str(broken)]) == 1
    out_text = capsys.readouterr().out
    assert "INVALID" in out_text and "/CC044C/UnloadingRemark" in out_text
