"""The CATS data bindings (nodes/customs/p5/): what `make bindings` generates from schemas/cats/, byte for byte,
and the codec keeping through them every P5 group of a declaration that its named fields do not hold."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from copy import deepcopy
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from exchange.validation import validate
from nodes.customs.codec import decode, encode
from nodes.customs.model import Declaration
from nodes.jsonable import from_jsonable, to_jsonable
from tests import cats_samples

ROOT = Path(__file__).resolve().parent.parent
BINDINGS = ROOT / "nodes" / "customs" / "p5"
BIN = Path(sys.executable).parent


@pytest.mark.skipif(not (BIN / "xsdata").exists() or not (BIN / "ruff").exists(),
                    reason="xsdata's generator is not installed (pip install -e '.[bindings]', or `make bindings`)")
def test_regenerating_the_bindings_from_the_schemas_gives_the_committed_files(tmp_path: Path) -> None:
    out = tmp_path / "p5"
    subprocess.run([str(ROOT / "scripts" / "generate-bindings.sh"), str(out)], check=True, timeout=300,
                   env={"BIN": str(BIN), "PATH": "/usr/bin:/bin"})
    committed = sorted(path.name for path in BINDINGS.glob("*.py"))
    assert sorted(path.name for path in out.glob("*.py")) == committed
    _, differ, missing = filecmp.cmpfiles(BINDINGS, out, committed, shallow=False)
    assert (differ, missing) == ([], []), "run `make bindings` after changing schemas/cats/ or .xsdata.xml"


def test_every_cats_schema_has_its_generated_message_class() -> None:
    import nodes.customs.p5 as p5

    codes = sorted(path.stem.upper() for path in (ROOT / "schemas" / "cats").glob("c[cd]*.xsd"))
    assert [code for code in codes if not hasattr(p5, code)] == []
    assert all(f"{code}Type" in dir(p5) for code in codes)


# -- loaded on demand: a process that never binds never imports the generated classes ---------------------------

_LOADED = """
import json, sys
bindings = ("nodes.customs.p5", "nodes.customs.binding", "xsdata")
print(json.dumps(sorted(name for name in sys.modules if name.startswith(bindings))))
"""

_NEVER_BINDS = """
import exchange.cli, exchange.hub, exchange.runner, nodes.launch, nodes.node
from nodes.customs.codec import decode, encode
from nodes.customs.model import Declaration
from nodes.jsonable import from_jsonable, to_jsonable
from tests import cats_samples

release = decode(encode(cats_samples.release_for_transit()))
assert from_jsonable(Declaration, to_jsonable(release.declaration)) == release.declaration
""" + _LOADED

_BINDS = """
from lxml import etree
from nodes.customs.codec import decode

decode(etree.parse("tests/data/p5/cc015c-hmrc-style.xml").getroot())
""" + _LOADED


def _modules_loaded_by(program: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_process_whose_declarations_its_named_fields_hold_never_imports_the_bindings() -> None:
    """The hub, a node and the runner start, and a pilot release is encoded, decoded and kept as a record,
    without loading the bindings (they cost a process 0.3 s of start-up, over a second on a loaded machine)."""
    assert _modules_loaded_by(_NEVER_BINDS) == []


def test_the_first_declaration_richer_than_its_named_fields_loads_the_bindings() -> None:
    loaded = _modules_loaded_by(_BINDS)
    assert {"nodes.customs.p5", "nodes.customs.p5.cc015c", "nodes.customs.binding", "xsdata"} <= set(loaded)


# -- a declaration through the codec: named fields for the offices, every other P5 group kept beside them ------

FIXTURES = ROOT / "tests" / "data" / "p5"
OFFICIAL = ROOT.parent / "shared" / "reference" / "ncts-p5-xsd"


def _data(root: etree._Element) -> bytes:
    """The document's data: indentation and the PhaseID a writer states dropped (caravan states its own)."""
    root = deepcopy(root)
    root.attrib.pop("PhaseID", None)
    for element in root.iter():
        if element.text is not None and not element.text.strip():
            element.text = None
        element.tail = None
    return etree.tostring(root, method="c14n")


@pytest.mark.parametrize("name", ["cc015c-hmrc-style.xml", "cc013c-hmrc-style.xml"])
def test_a_traders_declaration_decoded_and_encoded_again_keeps_every_element(name: str) -> None:
    root = etree.parse(str(FIXTURES / name)).getroot()
    message = decode(root)
    assert message.declaration.p5 is not None
    assert _data(encode(message)) == _data(root)
    assert _data(root) == _data(etree.parse(str(FIXTURES / name)).getroot()), "decoding changed the node's tree"


def test_a_declaration_its_named_fields_hold_entirely_is_not_bound() -> None:
    """Binding costs a walk of the tree: a declaration written from the named fields alone (the pilot's) skips it."""
    message = decode(encode(cats_samples.release_for_transit()))
    assert message.declaration.p5 is None
    assert message == cats_samples.release_for_transit()


def test_the_release_of_a_bound_declaration_carries_the_groups_its_schema_has_and_stays_valid() -> None:
    lodged = decode(etree.parse(str(FIXTURES / "cc015c-hmrc-style.xml")).getroot())
    release = replace(cats_samples.release_for_transit(), declaration=lodged.declaration)
    root = encode(release)
    assert validate(root) == []
    if OFFICIAL.is_dir():  # reference material beside the project (tests/test_p5_oracle.py)
        official = etree.XMLSchema(etree.parse(str(OFFICIAL / "cc029c.xsd")))
        assert official.validate(root), official.error_log
    assert root.findtext("Consignment/LocationOfGoods/authorisationNumber") == "GBACT954131533000"
    assert root.findtext("Consignment/HouseConsignment/ConsignmentItem/PreviousDocument/referenceNumber")
    assert root.find("TransitOperation/limitDate") is None  # no such item in CC029C: the schema decides
    assert root.findtext("TransitOperation/MRN") == release.mrn  # the office's own data wins


def test_a_record_holding_a_bound_declaration_survives_its_json_row() -> None:
    declaration = decode(etree.parse(str(FIXTURES / "cc015c-hmrc-style.xml")).getroot()).declaration
    assert from_jsonable(Declaration, json.loads(json.dumps(to_jsonable(declaration)))) == declaration
