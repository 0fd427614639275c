"""`read_marked_yaml` composes with libyaml where PyYAML has it: what it reads and what it refuses must be exactly
what PyYAML's pure-Python loader reads and refuses, values, lines, duplicates and messages alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from exchange import yamlmarks
from exchange.errors import ScenarioError
from exchange.yamlmarks import read_marked_yaml

ROOT = Path(__file__).resolve().parent.parent

DOCUMENTS = {
    "anchors and merges": "base: &b {x: 1, y: [a, b]}\nnode:\n  <<: *b\n  y: [c]\n"
                          "list:\n  - *b\n  - {<<: [*b], z: 3}\n",
    "a key twice": "steps:\n  - do: declare\n    do: release\n",
    "scalars": "a: 2026-03-02T08:00:00Z\nb: 1_000\nc: '010'\nd: ~\ne: yes\nf: 1.5e3\ng: !!str 12\nh: 0x1F\n",
    "block text": "note: |\n  two\n  lines\nfolded: >-\n  one\n  line\n",
    "unicode and comments": "# a comment\nname: Ташкент → Тбилиси  # after\nemoji: \"\\u2713\"\n",
    "only a comment": "# nothing\n",
    "an empty document": "---\n...\n",
    "deep": "a:\n" + "".join("  " * depth + f"- k{depth}:\n" for depth in range(1, 40)),
}

BROKEN = {
    "unclosed": "scenario: [unclosed\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "bad indent": "a:\n  b: 1\n c: 2\n",
    "a tab": "a:\n\t- b\n",
    "unknown alias": "a: *nowhere\n",
    "control character": "a: \x07\n",
}


def _read(path: Path, loader: object, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setattr(yamlmarks, "_LOADER", loader)
    try:
        marked = read_marked_yaml(path)
    except ScenarioError as exc:
        return ("refused", exc.message)
    return (marked.value, dict(marked.lines), marked.duplicates)


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
@pytest.mark.parametrize("text", [*DOCUMENTS.values(), *BROKEN.values()], ids=[*DOCUMENTS, *BROKEN])
def test_libyaml_reads_and_refuses_as_pure_pyyaml(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    assert _read(path, yaml.CSafeLoader, monkeypatch) == _read(path, yaml.SafeLoader, monkeypatch)


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda path: path.name)
def test_every_shipped_scenario_reads_the_same(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _read(path, yaml.CSafeLoader, monkeypatch) == _read(path, yaml.SafeLoader, monkeypatch)


def test_a_refusal_names_the_line_in_pyyamls_words(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(BROKEN["bad indent"], encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        read_marked_yaml(path)
    assert refused.value.message == f"{path}:3: not valid YAML: expected <block end>, but found '<block mapping start>'"
