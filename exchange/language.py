"""The scenario language's machinery: typed sections, the step-action registry, and findings with lines.

A scenario is a contract a CI job relies on, so nothing in it may be ignored or guessed: a misspelt
`expects:` that silently checks nothing would turn a red run green. The language is therefore declared,
not implied:

1. Every section is a pydantic model that forbids unknown keys and does not coerce types (`seals_ok:
   maybe` is not true). pydantic was chosen over a JSON Schema validator because the families already
   think in typed records, and its error locations (`("steps", 3, "seals_ok")`) map straight onto the
   YAML key paths whose lines `exchange.yamlmarks` keeps; it reports every error, not only the first.
2. Every step action (driver's and agencies') is one `StepAction` in one `ActionRegistry`, with the
   model of its arguments and a reference check, so "known:" lists and the reference docs come from
   the same table that decides.
3. Checks that need the whole scenario (a movement named by a step exists, an office belongs to the
   node that acts for it, an expected state is in the state table) are functions over the parsed
   document that yield `Finding`s.

`ScenarioLanguage.check` runs all three and returns every finding; nothing runs when there is one.
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from exchange.clock import utc
from exchange.errors import ScenarioError
from exchange.faults import duration
from exchange.yamlmarks import KeyPath, MarkedYaml

__all__ = [
    "ActionRegistry",
    "Amount",
    "Check",
    "Code",
    "Count",
    "DayOrDate",
    "DocumentCheck",
    "IsoDate",
    "OneOrMore",
    "Finding",
    "Moment",
    "NodeId",
    "Record",
    "ScenarioLanguage",
    "Span",
    "StepAction",
    "Text",
    "problems_from",
    "render_path",
    "repeated",
    "shown",
    "suggest",
]


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a scenario: the file, the line, the key path and what is wrong."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return ": ".join(part for part in (where, self.field, self.message) if part)

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class Record(BaseModel):
    """Base of every scenario section: unknown keys are refused, values are not coerced, nothing is mutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


# -- value types ---------------------------------------------------------------------------------------------

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxstring, _SHOWN.maxother = 2, 6, 6, 80, 80


def shown(value: Any) -> str:
    """How a finding quotes the value it refuses: its repr, cut short. A YAML alias of aliases is a few hundred
    bytes that stand for millions of values, and quoting it whole took a minute and printed hundreds of MB."""
    return _SHOWN.repr(value)


def _check_span(text: str) -> None:
    try:
        duration(text)
    except ScenarioError as exc:
        raise ValueError(exc.message) from None


def _moment(value: Any) -> datetime | str:
    """An ISO-8601 instant (YAML may have read it already) or a `+2h` offset from the step before."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("has no time zone: write it in UTC with a Z (2026-03-02T08:00:00Z)")
        return utc(value)
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("+"):
            _check_span(text[1:])
            return text
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is not a time: use ISO-8601 (2026-03-02T08:00:00Z) or +30m / +2h / +1d"
                             ) from None
        if moment.tzinfo is None:
            raise ValueError("has no time zone: write it in UTC with a Z (2026-03-02T08:00:00Z)")
        return utc(moment)
    raise ValueError(f"is {shown(value)}: use ISO-8601 (2026-03-02T08:00:00Z) or +30m / +2h / +1d")


def _span(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"is {shown(value)}: a span such as 30m, 2h or 1d")
    _check_span(value)
    return value


def _amount(value: Any) -> Decimal:
    """Amounts and masses are exact: quoted decimals or whole numbers, never binary floats."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"is {shown(value)}: quote decimal amounts (\"20000.00\") so no digit is lost")
    if isinstance(value, (int, str)):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"is {shown(value)}, not a number") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"is {shown(value)}: a finite amount of zero or more")
        return amount
    raise ValueError(f"is {shown(value)}, not a number")


def _day_or_date(value: Any) -> date | str:
    """`5d` (days after an event) or an ISO date, which YAML may already have read as a date."""
    if isinstance(value, datetime):
        return utc(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("d") and text[:-1].isdigit():
            return text
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f"is {shown(value)}: use days (5d) or an ISO date (2026-03-05)")


def _iso_date(value: Any) -> date:
    if isinstance(value, datetime):
        return utc(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"is {shown(value)}: use an ISO date (2026-04-01)")


def _listed(value: Any) -> Any:
    """One value or a list of them, read as a list (`common_name: Apple` or `common_name: [Apple, Pomme]`)."""
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """Free text; numbers are taken as written (a street number), anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"is {shown(value)}, not text")
    return str(value)


Moment = Annotated[datetime | str, BeforeValidator(_moment)]
"""An ISO-8601 instant with its zone, or `+30m` / `+2h` / `+1d` after the previous step."""
Span = Annotated[str, BeforeValidator(_span)]
"""A scenario-time span: 30m, 2h, 1d."""
Amount = Annotated[Decimal, BeforeValidator(_amount)]
"""An exact decimal: quoted ("20000.00") or a whole number."""
DayOrDate = Annotated[date | str, BeforeValidator(_day_or_date)]
"""Days after an event (5d) or an ISO date."""
Text = Annotated[str, BeforeValidator(_text)]
"""Free text (names, notes, reasons)."""
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar day: 2026-04-01."""
OneOrMore = BeforeValidator(_listed)
"""Annotate a list field with this to let a scenario write one value without brackets."""
Code = Annotated[str, Field(min_length=1)]
"""A code or identifier: quoted when it looks like a number ("080810"), so no leading zero is lost."""
Count = Annotated[int, Field(ge=0)]
"""How many of something an expectation counts: a negative count could never hold."""
NodeId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9\-]{0,31}$")]
"""A node id: lower-case letters, digits and '-', e.g. uz."""


# -- step actions --------------------------------------------------------------------------------------------


Check = Callable[[Any, Any, Mapping[str, Any]], Iterable[tuple[KeyPath, str]]]
"""(document, step, arguments) → (key path relative to the step, message) for each broken reference. The step's
`at` is its own instant, a `+2h` already resolved."""


@dataclass(frozen=True)
class StepAction:
    """One thing a scenario step can do: who performs it, what it takes, what it must refer to."""

    name: str
    performer: str  # "driver" for the scenario driver, else the family whose desk carries it out
    arguments: type[Record]
    summary: str
    node: str = "required"  # "required" (an agency of that node acts), "optional" or "none"
    check: Check | None = None


@dataclass(frozen=True)
class ActionRegistry:
    """Every step action of the language, driver and agencies alike, so "known:" lists are complete."""

    actions: Mapping[str, StepAction]

    @classmethod
    def of(cls, *groups: Iterable[StepAction]) -> ActionRegistry:
        actions: dict[str, StepAction] = {}
        for group in groups:
            for action in group:
                if action.name in actions:
                    raise ValueError(f"step action {action.name!r} is declared twice")
                actions[action.name] = action
        return cls(actions)

    def get(self, name: str) -> StepAction | None:
        return self.actions.get(name)

    def known(self) -> list[str]:
        return sorted(self.actions)

    def by_performer(self, performer: str) -> list[StepAction]:
        return [action for action in self.actions.values() if action.performer == performer]

    def parse_arguments(self, name: str, arguments: Mapping[str, Any]) -> Record:
        """The typed arguments of one step; ValidationError lists every problem."""
        action = self.actions[name]
        return action.arguments.model_validate(dict(arguments))


# -- findings ------------------------------------------------------------------------------------------------


def suggest(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' when a close spelling exists, else ''."""
    close = difflib.get_close_matches(str(word), [str(choice) for choice in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def problems_from(
    error: ValidationError, model: type[BaseModel], base: KeyPath = (), data: Any = None,
    also_known: Iterable[str] = (),
) -> Iterator[tuple[KeyPath, str]]:
    """pydantic's errors as (key path, message), and for an unknown key the likely spelling and the known keys.

    `data` is the validated input: a location part that is no key of it names a branch of a union that
    pydantic tried (`PointOfEntry`, `str`), not a place in the file, and is left out.
    """
    seen: set[tuple[KeyPath, str]] = set()
    for item in error.errors(include_url=False):
        location = _in_data(item["loc"], data)
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            key = str(location[-1])
            known = _known_at(model, location[:-1]) + (list(also_known) if len(location) == 1 else [])
            message = f"unknown key{suggest(key, known)}; known: {', '.join(sorted(known))}"
            if " " in key or key[:1].isdigit():
                message += (" — a comma in an unquoted value inside {…} splits it into keys: quote the value")
        elif item["type"] == "missing":
            message = "is missing"
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        elif "input" in item and item["type"] not in ("model_type", "dict_type", "list_type"):
            message = f"{message} (found {shown(item['input'])})"
        if (location, message) not in seen:
            seen.add((location, message))
            yield (*base, *location), message


def _in_data(location: tuple[Any, ...], data: Any) -> KeyPath:
    kept: list[str | int] = []
    current = data
    for part in location:
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        elif isinstance(part, str) and ("[" in part or part[:1].isupper() or part in _SCALAR_TAGS):
            continue  # a union branch's name
        elif isinstance(part, int) and isinstance(current, Mapping):
            continue  # one value written where a list may stand (OneOrMore)
        else:
            current = None
        kept.append(part)
    return tuple(kept)


_SCALAR_TAGS = frozenset({"str", "int", "bool", "date", "datetime", "list", "dict", "function-before",
                          "function-after"})


def _known_at(model: type[BaseModel], location: KeyPath) -> list[str]:
    """The field names of the model found by walking `location` down from `model`, for 'did you mean'."""
    current: Any = model
    for part in location:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            current = _inner_model(current)
            if isinstance(part, int):
                continue
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part)) or next(
                (info for info in current.model_fields.values() if info.alias == part), None)
            current = _inner_model(info.annotation) if info is not None else _inner_model(current)
        else:
            current = _inner_model(current)
    return _field_names(current) if isinstance(current, type) and issubclass(current, BaseModel) else []


def _inner_model(annotation: Any) -> Any:
    """The model inside `list[M]`, `dict[str, M]`, `M | None`: where a key path goes next."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in reversed(getattr(annotation, "__args__", ()) or ()):
        found = _inner_model(argument)
        if found is not None:
            return found
    return None


def repeated(given: Iterable[tuple[KeyPath, str]]) -> Iterator[tuple[KeyPath, str]]:
    """A finding at each place in `given` (where, value) whose value an earlier place gave: office codes, trader
    ids, GRNs, certificate numbers, which name one thing each (two e-COs of one number were taken for one)."""
    first: dict[str, KeyPath] = {}
    for where, value in given:
        if value in first:
            yield where, f"{value} is given twice; first at {render_path(first[value])}"
        first.setdefault(value, where)


def render_path(where: KeyPath) -> str:
    """`("steps", 3, "at")` as `steps[3].at`."""
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# -- the language --------------------------------------------------------------------------------------------


DocumentCheck = Callable[[Any], Iterable[tuple[KeyPath, str]]]
"""A check over the whole parsed document: (key path, message) for each problem."""


@dataclass(frozen=True)
class ScenarioLanguage:
    """A document model, its step actions and its cross-reference checks: everything `caravan check` knows."""

    document: type[Record]
    actions: ActionRegistry
    checks: tuple[DocumentCheck, ...] = field(default=())

    def check(self, marked: MarkedYaml) -> tuple[Any, list[Finding]]:
        """Parse and check a scenario; the parsed document (None when its structure is broken) and every finding."""
        findings = [Finding(str(marked.path), line, render_path(where), "is written twice in the same mapping")
                     for where, line in marked.duplicates]
        if not isinstance(marked.value, Mapping):
            findings.append(Finding(str(marked.path), 1, "", "a scenario is a YAML mapping at the top level"))
            return None, findings
        try:
            document = self.document.model_validate(marked.value)
            document._directory = marked.path.parent  # checks resolve the files a scenario names from here
        except ValidationError as exc:
            return None, findings + [self._finding(marked, where, message)
                                     for where, message in problems_from(exc, self.document, (), marked.value)]
        for check in self.checks:
            findings.extend(self._finding(marked, where, message) for where, message in check(document))
        return document, findings

    @staticmethod
    def _finding(marked: MarkedYaml, where: KeyPath, message: str) -> Finding:
        return Finding(str(marked.path), marked.line(where), render_path(where), message)
