"""caravan's scenario language: the common sections and every family's, composed into one.

`exchange.language` is the machinery and `exchange.scenario` the shared sections; each family declares
its own sections, step actions and reference checks (`nodes/customs/language.py`,
`nodes/ephyto/language.py`, `nodes/origin/language.py`). This module puts them together, so that a
scenario is checked against everything caravan can do, and the reference in docs/SCENARIOS.md is
generated from the same objects (`python -m nodes.language`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from exchange.driver_actions import DRIVER_STEP_ACTIONS
from exchange.errors import CaravanError, ScenarioError
from exchange.language import ActionRegistry, Finding, NodeId, ScenarioLanguage, problems_from, render_path
from exchange.scenario import COMMON_CHECKS, DocumentBase, Scenario, steps_check
from exchange.scenario import load_scenario as _load
from exchange.yamlmarks import read_marked_yaml
from nodes.customs.language import CATS_ACTIONS, CATS_CHECKS, CatsDocument, CatsExpect, CatsNode
from nodes.customs.traffic import expand_traffic
from nodes.ephyto.language import EPHYTO_ACTIONS, EPHYTO_CHECKS, EphytoDocument, EphytoNode
from nodes.origin.language import ECO_ACTIONS, ECO_CHECKS, EcoDocument, EcoNode

__all__ = ["ACTIONS", "LANGUAGE", "ScenarioDocument", "check_arguments", "check_scenario", "load_scenario"]


class NodeEntry(CatsNode, EphytoNode, EcoNode):
    """A national single window: its country, and what each family's agencies hold there."""


class ScenarioDocument(DocumentBase, CatsDocument, EphytoDocument, EcoDocument):
    """A whole scenario file."""

    nodes: dict[NodeId, NodeEntry] = Field(min_length=1, description="node id → the national single window")
    expect: CatsExpect = Field(description="what must hold at the end; at least one expectation")


ACTIONS = ActionRegistry.of(DRIVER_STEP_ACTIONS, CATS_ACTIONS, EPHYTO_ACTIONS, ECO_ACTIONS)
LANGUAGE = ScenarioLanguage(
    document=ScenarioDocument,
    actions=ACTIONS,
    checks=(*COMMON_CHECKS, steps_check(ACTIONS), *CATS_CHECKS, *EPHYTO_CHECKS, *ECO_CHECKS),
)


def load_scenario(path: Path) -> Scenario:
    """Read a scenario and check it against the whole language; ScenarioError lists every finding.

    A `traffic:` block's movements and steps are generated here, so the driver and every node, each
    loading the same file, see the same movements.
    """
    return expand_traffic(_load(path, LANGUAGE))


def check_scenario(path: Path) -> list[Finding]:
    """Every finding about one scenario file (empty when it is valid); an unreadable file is one finding.

    Structure comes first: while a section is malformed, references into it are not checked yet.
    """
    try:
        marked = read_marked_yaml(path)
    except CaravanError as exc:  # unusable or not YAML: the message already names the file (and line)
        return [Finding("", None, "", exc.message)]
    return LANGUAGE.check(marked)[1]


def check_arguments(action: str, arguments: Mapping[str, Any]) -> None:
    """A node's control API checks a step's arguments as the scenario check does (a driver may be anyone).

    Raises ScenarioError naming each argument and what is wrong; unknown actions are left to the node,
    which knows which of them its desks and services carry out.
    """
    if ACTIONS.get(action) is None:
        return
    try:
        ACTIONS.parse_arguments(action, arguments)
    except ValidationError as exc:
        problems = list(problems_from(exc, ACTIONS.actions[action].arguments, (), arguments))
        listed = "; ".join(f"{render_path(where)}: {message}" for where, message in problems)
        raise ScenarioError(f"{action}: {listed}", path=render_path(problems[0][0]), rule="step-arguments") from exc
