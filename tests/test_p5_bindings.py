"""The CATS data bindings (nodes/customs/p5/) are what `make bindings` generates from schemas/cats/, byte for byte."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

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
