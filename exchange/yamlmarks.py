"""YAML that remembers where each value was written, and refuses what plain YAML loading lets slip.

Scenario authors need to hear "line 135" rather than "steps[12]": a finding is only useful if it points
into the file they edit. PyYAML keeps a mark on every node it composes, so this module composes the
document, constructs the usual Python values from it, and keeps a map from each value's key path
(`("steps", 12, "note")`) to the line it stands on. It also refuses two things PyYAML accepts silently:
a key written twice in one mapping (the second would win unseen). Missing, empty and binary files are
refused by `exchange.inputs` in the same words as every other file a user names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exchange.errors import ScenarioError
from exchange.inputs import read_text_input

__all__ = ["KeyPath", "MarkedYaml", "read_marked_yaml"]

KeyPath = tuple[str | int, ...]
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class MarkedYaml:
    """A YAML document's value and the line (1-based) of every key path in it."""

    path: Path
    value: Any
    lines: Mapping[KeyPath, int]
    duplicates: tuple[tuple[KeyPath, int], ...]  # (key path, line of the second occurrence)

    def line(self, where: KeyPath) -> int | None:
        """The line of `where`, or of the nearest enclosing value that has one."""
        for end in range(len(where), -1, -1):
            found = self.lines.get(where[:end])
            if found is not None:
                return found
        return None


_LOADER: Callable[[str], Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's composer, where PyYAML was built with it: the same nodes and marks for a tenth of the CPU (a
scenario is read by the driver and again by every node process it names: 0.09 s each in pure Python)."""


def read_marked_yaml(path: Path) -> MarkedYaml:
    """Read one YAML document from `path`: InputError if the file is unusable, ScenarioError (with its line)
    if it is not YAML."""
    text = read_text_input(path, "YAML scenario")
    try:
        node, value = _composed(_LOADER, text)
    except (yaml.YAMLError, ValueError):  # refused in PyYAML's own words, the same with or without libyaml
        node, value = _composed_or_refused(path, text)
    lines: dict[KeyPath, int] = {}
    duplicates: list[tuple[KeyPath, int]] = []
    if node is not None:
        _index(node, (), lines, duplicates, depth=0, indexed=set())
    return MarkedYaml(path, value, lines, tuple(duplicates))


def _composed(loader_class: Callable[[str], Any], text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (None for an empty document) and the value constructed from it."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def _composed_or_refused(path: Path, text: str) -> tuple[yaml.Node | None, Any]:
    """`_composed` by PyYAML's pure-Python loader, whose finding (problem and line) a refusal reports."""
    try:
        return _composed(yaml.SafeLoader, text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ScenarioError(f"{where}: not valid YAML: {exc.problem or exc.context}", document=str(path)) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}", document=str(path)) from exc


def _index(
    node: yaml.Node, where: KeyPath, lines: dict[KeyPath, int], duplicates: list[tuple[KeyPath, int]], depth: int,
    indexed: set[int],
) -> None:
    """The lines of `node` and of every key path below it, and the keys written twice there.

    A collection is indexed once, where it is first written: an alias (`*anchor`) of it elsewhere gets its own
    line, and a finding below it the alias's line (`MarkedYaml.line`). Walked again at every alias, nine
    aliases of nine aliases of ... of a list of nine (a few hundred bytes) were 9^9 paths: minutes of CPU,
    then a MemoryError."""
    if depth > 64:  # nothing a scenario needs is this deep
        return
    lines.setdefault(where, node.start_mark.line + 1)
    if isinstance(node, yaml.CollectionNode):
        if id(node) in indexed:
            return
        indexed.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*where, index), lines, duplicates, depth + 1, indexed)
    elif isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.append(value_node)
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            if key in seen:
                duplicates.append(((*where, key), key_node.start_mark.line + 1))
            seen.add(key)
            lines[(*where, key)] = key_node.start_mark.line + 1
            _index(value_node, (*where, key), lines, duplicates, depth + 1, indexed)
        for source in merged:  # `<<: *anchor`: keys written here win, the merged ones point at the anchor
            for item in source.value if isinstance(source, yaml.SequenceNode) else [source]:
                if isinstance(item, yaml.MappingNode):
                    for key_node, value_node in item.value:
                        key = (*where, key_node.value)
                        if key not in lines:
                            _index(value_node, key, lines, duplicates, depth + 1, indexed)
