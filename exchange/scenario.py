"""Scenario files: who takes part, what they hold, what happens when, and what must be true at the end.

A scenario is YAML (see README, "Scenario format", and docs/SCENARIOS.md for every key). Loading is
checking: `load_scenario` reads the file with its line numbers, validates it against the scenario
language (`exchange.language`: every section typed, unknown keys refused, every step's action and
arguments from one registry, every reference resolved) and refuses with ALL findings before anything
runs. This module holds the parts every family shares (the top level, nodes, steps, expectations) and
the run-time view the driver uses (`Scenario`, `Step`, `Expectations`); each family's sections and
actions live in its own package and are composed into one language by `nodes.language`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from exchange.errors import ScenarioError
from exchange.faults import duration
from exchange.language import (
    ActionRegistry,
    Amount,
    Code,
    Count,
    DocumentCheck,
    Moment,
    NodeId,
    Record,
    ScenarioLanguage,
    Span,
    Text,
    problems_from,
    suggest,
)
from exchange.validation import declared_elements, document_types
from exchange.yamlmarks import KeyPath, read_marked_yaml

__all__ = [
    "COMMON_CHECKS",
    "DocumentBase",
    "Expectations",
    "ExpectSection",
    "NodeBase",
    "NodeSpec",
    "Scenario",
    "Step",
    "StepEntry",
    "decimal",
    "known_elements",
    "known_type",
    "load_scenario",
    "required",
    "step_times",
    "steps_check",
]


# -- the document: the sections every family shares ---------------------------------------------------------


class PkiSection(Record):
    algorithm: Literal["ec", "rsa"] = Field("ec", description="ec: ECDSA P-256; rsa: RSA-2048")


class NodeBase(Record):
    """What every node states; each family adds its own keys (offices, nppo, eco, ...)."""

    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code of the administration")
    name: Text | None = Field(None, description="the single window's name, for people")


class StepEntry(BaseModel):
    """One step. Its other keys are the arguments of its action, checked by that action's own model."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    at: Moment = Field("+0m", description="ISO-8601 instant, or +30m / +2h / +1d after the previous step")
    do: Code = Field(description="the step action")
    node: NodeId | None = Field(None, description="the node whose agency acts")
    note: Text | None = Field(None, description="a remark printed beside the step in the timeline")


class ExpectValue(Record):
    node: NodeId = Field(description="the node whose GET /state is read, or hub for the hub's GET /status")
    path: str | list[str] = Field(description="the path in that state, e.g. ephyto/issued/PC1/status")
    equals: str | int | bool | None = Field(None, description="the value expected there; the path must lead to "
                                                              "it (a misspelt step fails, whatever the value)")
    lacks: Code | None = Field(None, description="instead of `equals`: a key the mapping at `path` must not have, "
                                                  "e.g. path: cats/movements, lacks: M2 (the mapping must be there)")


class ExpectRefusal(Record):
    rule: Code | None = Field(None, description="the refusal rule, e.g. cert-revoked")
    error: Code | None = Field(None, description="the error code, e.g. trust-failed")
    sender: NodeId | None = Field(None, description="the envelope's sender")
    peer: NodeId | None = Field(None, description="the TLS peer that submitted it")
    message_type: Code | None = Field(None, description="the refused message's type")


class ExpectExchange(Record):
    """A message some node must send (or must not), judged only by what the hub accepted from it: conformance."""

    name: Text | None = Field(None, description="the test case's name in reports (default: made from the keys)")
    sender: NodeId = Field(alias="from", description="the node that sends it")
    recipient: NodeId | None = Field(None, alias="to", description="the node it is sent to")
    type: Code = Field(description="its message type, e.g. CD906C or SPSAcknowledgement")
    about: Code | None = Field(None, description="a movement key (its LRN and MRN) or a correlation id "
                                                 "(a certificate number)")
    answers: Code | None = Field(None, description="it answers the latest message of this type sent to `from`: "
                                                   "only messages after that one count")
    within: Span | None = Field(None, description="with `answers`: the hub accepted it at most this long after "
                                                  "the message it answers (scenario time)")
    follows: Code | None = Field(None, description="order: the sender's own message of this type (same `about`) "
                                                   "reached the hub before it")
    count: int | None = Field(None, ge=0, description="exactly this many (0: must not be sent); default: at least one")
    contains: dict[Code, Text] = Field(default_factory=dict, description="element local name, or the end of its "
                                       "path (`ControlResult/code`) → text that one of them holds")


class ExpectPush(Record):
    """How a node must answer the hub's pushes of a message, judged only by its HTTP answers: conformance."""

    name: Text | None = Field(None, description="the test case's name in reports (default: made from the keys)")
    recipient: NodeId = Field(alias="to", description="the node that answers the pushes")
    sender: NodeId | None = Field(None, alias="from", description="the node that sent the message")
    type: Code = Field(description="the pushed message's type, e.g. SPSAcknowledgement")
    about: Code | None = Field(None, description="a movement key (its LRN and MRN) or a correlation id")
    answer: Literal["refused", "taken"] = Field("refused", description="refused: a 4xx, so the delivery fails (the "
                                                "ePhyto failed acknowledgement at delivery); taken: a 2xx")
    rule: Code | None = Field(None, description="with refused: the rule the refusal must name")


DeliveryCounter = Literal["pending", "delivered", "failed", "duplicates_absorbed", "refused", "held"]


class ExpectSection(Record):
    """What must be true at the end; the family-specific parts are typed by the families' documents."""

    deliveries: dict[DeliveryCounter, Count] = Field(default_factory=dict,
                                                   description="hub delivery counters at the end")
    values: list[ExpectValue] = Field(default_factory=list, description="any value of a node's state")
    refusals: list[ExpectRefusal] = Field(default_factory=list,
                                          description="some refusal in the hub's log has every field given")
    exchanges: list[ExpectExchange] = Field(default_factory=list,
                                            description="messages a node must (or must not) send, as the hub "
                                                        "accepted them (conformance)")
    pushes: list[ExpectPush] = Field(default_factory=list,
                                     description="how a node must answer the hub's pushes of a message (conformance)")


class BaselineCrossing(Record):
    office: Code = Field(description="the office where movements cross (an office of some node)")
    hours: Amount = Field(description="time to clear that crossing under the paper procedure, in hours (quote it)")
    basis: Text = Field(description="what the figure measures: crossing point or country, direction, mode, year")


class BaselineSection(Record):
    """The paper procedure the run is compared with (`caravan view`): figures a trainer can cite."""

    title: Text | None = Field(None, description="one line for people, e.g. the paper procedure it describes")
    source: Text = Field(description="where the figures come from: publication, table, address")
    crossings: list[BaselineCrossing] = Field(min_length=1, description="paper-procedure hours at each crossing")


class DocumentBase(Record):
    scenario: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                          description="the scenario's name: letters, digits, '.', '_' and '-' (it names directories "
                                      "of `caravan run` and `caravan conform`, so never '/' or '..'; and idempotency "
                                      "keys)")
    title: Text | None = Field(None, description="one line for people")
    start: Moment = Field(description="when virtual time starts (ISO-8601, UTC)")
    pki: PkiSection = Field(default_factory=PkiSection, description="the scenario CA's key algorithm")
    nodes: dict[NodeId, NodeBase] = Field(min_length=1, description="node id → the national single window")
    steps: list[StepEntry] = Field(default_factory=list, description="the timeline")
    expect: ExpectSection = Field(description="what must hold at the end; at least one expectation")
    baseline: BaselineSection | None = Field(None, description="paper-procedure times the view compares the run "
                                             "with, and their source")
    _directory: Path = PrivateAttr(default=Path("."))

    @property
    def directory(self) -> Path:
        """Where the scenario file is: the paths a scenario names (sample files) are relative to it."""
        return self._directory


# -- the run-time view --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """One national single-window node: its country and the family-specific data it holds."""

    node_id: str
    country: str
    name: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)  # slots: generated traffic keeps tens of thousands of steps
class Step:
    """One thing that happens at one virtual time, carried out by one node or by the driver."""

    index: int
    at: datetime
    action: str
    node: str
    arguments: Mapping[str, Any]
    note: str = ""


@dataclass(frozen=True)
class Expectations:
    movements: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    guarantees: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    messages: Mapping[str, list[str]] = field(default_factory=dict)
    documents: list[Mapping[str, Any]] = field(default_factory=list)
    deliveries: Mapping[str, int] = field(default_factory=dict)
    values: list[Mapping[str, Any]] = field(default_factory=list)
    refusals: list[Mapping[str, Any]] = field(default_factory=list)
    message_counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    exchanges: list[Mapping[str, Any]] = field(default_factory=list)
    pushes: list[Mapping[str, Any]] = field(default_factory=list)
    traffic: Mapping[str, Mapping[str, Mapping[str, int]]] = field(default_factory=dict)  # flow → role → state → n

    @property
    def count(self) -> int:
        """How many things are expected: a run that checks nothing cannot pass."""
        return sum(len(part) for part in (self.movements, self.guarantees, self.messages, self.documents,
                                          self.deliveries, self.values, self.refusals, self.message_counts,
                                          self.exchanges, self.pushes, self.traffic))


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: Path
    start: datetime
    algorithm: str
    nodes: Mapping[str, NodeSpec]
    movements: Mapping[str, Mapping[str, Any]]
    steps: tuple[Step, ...]
    expectations: Expectations
    raw: Mapping[str, Any]
    traffic: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # generated flow → its movement keys

    def node_for_country(self, country: str) -> str:
        for spec in self.nodes.values():
            if spec.country == country:
                return spec.node_id
        raise ScenarioError(f"no node for country {country!r}", path="nodes")

    @property
    def countries(self) -> dict[str, str]:
        """Country code → node id, the directory nodes use to address national administrations."""
        return {spec.country: spec.node_id for spec in self.nodes.values()}


def load_scenario(path: Path, language: ScenarioLanguage) -> Scenario:
    """Read and check a scenario; ScenarioError carries every finding (file:line: field: what) if any."""
    marked = read_marked_yaml(path)
    document, findings = language.check(marked)
    if findings:
        raise ScenarioError(
            "\n".join(str(finding) for finding in findings), document=str(path), path=findings[0].field,
            findings=tuple(findings),
        )
    raw = marked.value
    times = dict(step_times(document))
    return Scenario(
        name=document.scenario,
        title=document.title or path.stem,
        path=path,
        start=document.start,
        algorithm=document.pki.algorithm,
        nodes={node_id: NodeSpec(node_id, spec.country, spec.name or node_id, raw["nodes"][node_id])
               for node_id, spec in document.nodes.items()},
        movements=raw.get("movements") or {},
        steps=tuple(
            Step(index, times[index], entry.do, entry.node or "",
                 {key: value for key, value in raw["steps"][index].items() if key not in ("at", "do", "node", "note")},
                 entry.note or "")
            for index, entry in enumerate(document.steps)
        ),
        expectations=_expectations(raw.get("expect") or {}),
        raw=raw,
    )


def _expectations(value: Mapping[str, Any]) -> Expectations:
    return Expectations(
        movements=value.get("movements") or {},
        guarantees={str(key): val for key, val in (value.get("guarantees") or {}).items()},
        messages=value.get("messages") or {},
        documents=value.get("documents") or [],
        deliveries=value.get("deliveries") or {},
        values=value.get("values") or [],
        refusals=value.get("refusals") or [],
        message_counts=value.get("message_counts") or {},
        exchanges=value.get("exchanges") or [],
        pushes=value.get("pushes") or [],
        traffic=value.get("traffic") or {},
    )


# -- checks every scenario gets ------------------------------------------------------------------------------


def step_times(document: Any) -> Iterator[tuple[int, datetime]]:
    """Each step's absolute time: `+2h` counts from the step before (the first from `start`)."""
    previous: datetime = document.start
    for index, entry in enumerate(document.steps):
        moment = step_time(previous, entry.at)
        yield index, moment
        previous = max(previous, moment)


def step_time(previous: datetime, at: datetime | str) -> datetime:
    """`at` itself, or `+2h` after `previous`; OverflowError past the calendar's end (`steps_check` says so)."""
    return previous + duration(at[1:]) if isinstance(at, str) else at


def steps_check(registry: ActionRegistry) -> DocumentCheck:
    """Every step: time never goes back, the action is known, the node is right for it, the arguments typed."""

    def check(document: Any) -> Iterator[tuple[KeyPath, str]]:
        previous: datetime = document.start
        for index, entry in enumerate(document.steps):
            where: KeyPath = ("steps", index)
            try:
                moment = step_time(previous, entry.at)
            except OverflowError:
                yield (*where, "at"), (f"{entry.at} after {previous:%Y-%m-%dT%H:%M:%SZ} runs past the calendar's "
                                       "end (year 9999)")
                continue
            if moment < previous:
                yield (*where, "at"), f"goes back in time ({moment:%Y-%m-%dT%H:%M:%SZ} < {previous:%Y-%m-%dT%H:%M:%SZ})"
            previous = max(previous, moment)
            action = registry.get(entry.do)
            if action is None:
                known = registry.known()
                hint = suggest(entry.do, known)
                yield (*where, "do"), f"unknown action {entry.do!r}{hint}; known: {', '.join(known)}"
                continue
            if action.node == "required" and entry.node is None:
                yield (*where, "node"), f"is missing: {entry.do} is carried out by a node's {action.performer} agencies"
            elif action.node == "none" and entry.node is not None:
                yield (*where, "node"), f"{entry.do} is the scenario driver's own step and takes no node"
            elif entry.node is not None and entry.node not in document.nodes:
                yield (*where, "node"), (f"is {entry.node!r}{suggest(entry.node, document.nodes)}, "
                                         f"not one of {', '.join(document.nodes)}")
                continue
            arguments = dict(entry.model_extra or {})
            try:
                parsed = registry.parse_arguments(entry.do, arguments)
            except ValidationError as exc:
                yield from problems_from(exc, action.arguments, where, arguments, StepEntry.model_fields)
                continue
            if action.check is not None:  # the step at its own instant: a `+2h` resolved, as the driver will take it
                for relative, message in action.check(document, entry.model_copy(update={"at": moment}), parsed):
                    yield (*where, *relative), message

    return check


def known_type(where: KeyPath, code: str | None) -> Iterator[tuple[KeyPath, str]]:
    """A message type that no schema declares matches no message: a fault on it would never fire, a drill never
    find its message, an expectation of none of it (`count: 0`) would hold whatever was sent, and the run would
    pass as if it had been tried."""
    codes = sorted({kind.code for kind in document_types().values()})
    if code is not None and code not in codes:
        yield where, f"is {code!r}{suggest(code, codes)}: no schema in schemas/ declares that message type"


def known_elements(where: KeyPath, code: str, contains: Mapping[str, str]) -> Iterator[tuple[KeyPath, str]]:
    """An element a message of type `code` cannot hold is never found: `count: 0` of messages holding it would
    hold whatever was sent."""
    names = declared_elements(code)
    for key in contains:  # an element's name, or the end of its path (`ControlResult/code`): each name declared
        for name in key.split("/"):
            if names and name not in names:
                yield (*where, key), f"names no element the schemas of {code} declare{suggest(name, names)}"


def expectations_check(document: Any) -> Iterator[tuple[KeyPath, str]]:
    """A run that checks nothing proves nothing: at least one expectation, and `values` name real nodes."""
    expect = document.expect
    counted = sum(len(value) for value in expect.model_dump().values() if isinstance(value, (dict, list)))
    if counted == 0:
        yield ("expect",), "states no expectation: a run that checks nothing cannot pass"
    for where in _empty_entries(expect.model_dump(by_alias=True, exclude_unset=True), ("expect",)):
        yield where, "states nothing to check: give what must hold there, or leave it out"
    for index, exchange in enumerate(expect.exchanges):
        for key, node in (("from", exchange.sender), ("to", exchange.recipient)):
            if node is not None and node not in document.nodes:
                yield ("expect", "exchanges", index, key), f"is {node!r}{suggest(node, document.nodes)}: name a node"
        for key in ("type", "answers", "follows"):
            yield from known_type(("expect", "exchanges", index, key), getattr(exchange, key))
        yield from known_elements(("expect", "exchanges", index, "contains"), exchange.type, exchange.contains)
        if exchange.within is not None and exchange.answers is None:
            yield ("expect", "exchanges", index, "within"), "counts from the message it answers: give `answers` too"
    for index, push in enumerate(expect.pushes):
        for key, node in (("to", push.recipient), ("from", push.sender)):
            if node is not None and node not in document.nodes:
                yield ("expect", "pushes", index, key), f"is {node!r}{suggest(node, document.nodes)}: name a node"
        yield from known_type(("expect", "pushes", index, "type"), push.type)
        if push.rule is not None and push.answer == "taken":
            yield ("expect", "pushes", index, "rule"), "names the rule of a refusal: give it with answer: refused"
    for index, refusal in enumerate(expect.refusals):
        yield from known_type(("expect", "refusals", index, "message_type"), refusal.message_type)
    for index, value in enumerate(expect.values):
        if value.node != "hub" and value.node not in document.nodes:
            yield ("expect", "values", index, "node"), (f"is {value.node!r}{suggest(value.node, document.nodes)}: "
                                                        f"name a node ({', '.join(document.nodes)}) or hub")
        given = [key for key in ("equals", "lacks") if getattr(value, key) is not None]
        if len(given) != 1:
            yield ("expect", "values", index), ("give one of `equals` (the value at the path) and `lacks` (a key the "
                                                "mapping at the path must not have)")


def _empty_entries(value: Any, where: KeyPath) -> Iterator[KeyPath]:
    """Where an entry under `expect` is written empty (`M1: {}`, `messages: {M1: []}`): it yields no check, so
    the run's verdict would not depend on it, and a whole `expect:` of such entries would hold 0 of 0."""
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        if isinstance(inner, (Mapping, list)) and not inner:
            yield (*where, key)
        else:
            yield from _empty_entries(inner, (*where, key))


def countries_check(document: Any) -> Iterator[tuple[KeyPath, str]]:
    seen: dict[str, str] = {}
    for node_id, spec in document.nodes.items():
        if spec.country in seen:
            yield ("nodes", node_id, "country"), (f"{spec.country} is already node {seen[spec.country]!r}: "
                                                  "one node per country")
        seen.setdefault(spec.country, node_id)
    if isinstance(document.start, str):
        yield ("start",), "must be an absolute time (2026-03-02T06:00:00Z), not relative"


COMMON_CHECKS: tuple[DocumentCheck, ...] = (countries_check, expectations_check)


# -- reading family sections at run time ---------------------------------------------------------------------


def required(mapping: Mapping[str, Any], key: str, where: str) -> Any:
    """`mapping[key]`, or a ScenarioError naming the key path (`movements.M1.lrn is missing`).

    Shared by every family's scenario reader, so a missing field reads the same whatever the family.
    """
    if not isinstance(mapping, Mapping) or mapping.get(key) is None:
        raise ScenarioError(f"{where}.{key} is missing", path=f"{where}.{key}")
    return mapping[key]


def decimal(value: Any, where: str) -> Decimal:
    """An exact decimal (amounts, masses) from YAML text or number, or a ScenarioError naming the path."""
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ScenarioError(f"{where} is {value!r}, not a number", path=where) from exc

