"""docs/SCENARIOS.md, written from the scenario language itself so that the reference cannot drift.

Every key comes from the section models, every step action and argument from the action registry,
every state, role and code from the tables the agencies decide with. `python -m nodes.reference`
prints it; a test compares the committed file with what this module writes.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from exchange.drills import ATTACKS
from exchange.driver_actions import HUB_TARGET
from exchange.faults import FAULT_KINDS
from exchange.language import StepAction
from exchange.scenario import StepEntry
from nodes.customs.config import OFFICE_CODE_LISTS
from nodes.customs.guarantee import GUARANTEE_REASONS, RiskLevel
from nodes.customs.model import MESSAGE_NAMES
from nodes.customs.tables import DepartureState, DestinationState, TransitState
from nodes.language import ACTIONS, ScenarioDocument
from nodes.origin.model import VerificationReason, VerificationResult

__all__ = ["scenario_reference"]

_FAMILIES = {"driver": "the scenario driver (no node, or a node a fault concerns)", "cats": "CATS transit",
             "ephyto": "ePhyto", "eco": "e-CO"}


def scenario_reference() -> str:
    """The whole reference as Markdown."""
    return "\n".join(_lines()) + "\n"


def _lines() -> Iterator[str]:
    yield "# Scenario reference"
    yield ""
    yield ("Generated from the scenario language by `python -m nodes.reference` (do not edit by hand; a test "
           "compares). `caravan check SCENARIO` applies exactly these rules: unknown keys are refused at every "
           "level, values are typed (booleans are `true`/`false`, amounts are quoted decimals, times are "
           "ISO-8601 with a zone or `+30m`/`+2h`/`+1d`), and every reference (node, movement, office, "
           "certificate, state, message code) must resolve.")
    yield ""
    yield "## Sections"
    yield ""
    yield from _models(ScenarioDocument)
    yield "## Steps"
    yield ""
    yield "Every step has these keys; the other keys of a step are its action's arguments (below)."
    yield ""
    yield from _table(StepEntry)
    yield ""
    for performer, title in _FAMILIES.items():
        yield f"### Actions of {title}"
        yield ""
        for action in ACTIONS.by_performer(performer):
            yield from _action(action)
    yield "## Codes and states"
    yield ""
    yield from _codes()


def _models(root: type[BaseModel]) -> Iterator[str]:
    """Each section model once, breadth first from the document, with its keys."""
    seen: list[type[BaseModel]] = []
    queue: list[tuple[str, type[BaseModel]]] = [("the scenario file", root)]
    while queue:
        where, model = queue.pop(0)
        if model in seen:
            continue
        seen.append(model)
        yield f"### {where}"
        yield ""
        if model.__doc__ and model is not root and not model.__doc__.startswith("!"):
            yield " ".join(model.__doc__.split())
            yield ""
        yield from _table(model)
        yield ""
        for name, info in model.model_fields.items():
            for inner in _inner_models(info.annotation):
                queue.append((f"{where} → {info.alias or name}", inner))


def _table(model: type[BaseModel]) -> Iterator[str]:
    yield "| key | type | required / default | meaning |"
    yield "|---|---|---|---|"
    for name, info in model.model_fields.items():
        if info.is_required():
            default = "required"
        elif info.default is PydanticUndefined or info.default is None:
            default = ""
        else:
            default = f"`{_default(info.default)}`"
        description = (info.description or "").replace("|", "\\|")
        yield f"| `{info.alias or name}` | {_type_name(info.annotation)} | {default} | {description} |"


def _action(action: StepAction) -> Iterator[str]:
    node = {"required": "node required", "optional": "node optional", "none": "no node"}[action.node]
    yield f"#### `{action.name}` ({node})"
    yield ""
    yield action.summary[0].upper() + action.summary[1:] + "."
    yield ""
    if action.arguments.model_fields:
        yield from _table(action.arguments)
    else:
        yield "No arguments."
    yield ""
    fields = action.arguments.model_fields.values()
    inner_models = (model for info in fields for model in _inner_models(info.annotation))
    for inner in dict.fromkeys(inner_models):  # in field order: a set's order changes from run to run
        yield f"`{action.name}` → {inner.__name__}:"
        yield ""
        yield from _table(inner)
        yield ""


def _codes() -> Iterator[str]:
    rows: list[tuple[str, str]] = [
        ("departure states (`expect.movements.*.departure`)", ", ".join(s.value for s in DepartureState)),
        ("transit states (`expect.movements.*.transit`)", ", ".join(s.value for s in TransitState)),
        ("destination states (`expect.movements.*.destination`)", ", ".join(s.value for s in DestinationState)),
        ("office roles (`roles`) and the code list each is checked in (CC056C errorReason)",
         ", ".join(f"{role} ({code_list})" for role, code_list in sorted(OFFICE_CODE_LISTS.items()))),
        ("trader risk levels (`risk`)", ", ".join(level.value for level in RiskLevel)),
        ("invalid-guarantee reasons (CL252, in CC055C / CD205C)",
         "; ".join(f"{code} {text}" for code, text in GUARANTEE_REASONS.items())),
        ("NCTS functional error codes in CC056C / CC906C",
         "12 code list or format; 13 condition (C-rule); 14 other rule; 26 duplicate; 90 unknown MRN; "
         "92 message out of sequence"),
        ("fault kinds", ", ".join(FAULT_KINDS)),
        ("attack kinds", ", ".join(ATTACKS)),
        ("restart targets", f"{HUB_TARGET} or a node id"),
        ("e-CO verification reasons", ", ".join(reason.value for reason in VerificationReason)),
        ("e-CO verification results", ", ".join(result.value for result in VerificationResult)),
    ]
    yield "| what | values |"
    yield "|---|---|"
    for what, values in rows:
        yield f"| {what} | {values} |"
    yield ""
    yield "CATS message types (`expect.messages`, `expect.documents[].type`, `expect.message_counts`):"
    yield ""
    yield "| code | name |"
    yield "|---|---|"
    for code, name in sorted(MESSAGE_NAMES.items()):
        yield f"| {code} | {name} |"


def _inner_models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found.extend(model for model in _inner_models(argument) if model not in found)
    return found


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(arguments[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in arguments)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(argument) for argument in arguments if argument is not type(None))
    if origin is list:
        return f"list of {_type_name(arguments[0])}"
    if origin is dict:
        return f"map {_type_name(arguments[0])} → {_type_name(arguments[1])}"
    if isinstance(annotation, type):
        return {"str": "text", "int": "whole number", "bool": "`true`/`false`", "Decimal": "quoted decimal",
                "datetime": "time", "date": "ISO date"}.get(annotation.__name__, annotation.__name__)
    return "any" if annotation is Any else str(annotation)


def _default(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(scenario_reference())
