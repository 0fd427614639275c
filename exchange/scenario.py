"""Scenario files: who takes part, what they hold, what happens when, and what must be true at the end.

A scenario is YAML (see README, "Scenario format"). This module reads the parts every document family
shares (countries, nodes, the timeline of steps, expectations) into dataclasses and checks them, so
that a typo is reported with the key path where it happened instead of failing half-way through a run.
Family-specific parts (for CATS: offices, traders, guarantees, movements) stay as plain mappings here
and are read by the family's own module (`nodes.customs.scenario`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from exchange.clock import utc
from exchange.errors import ScenarioError
from exchange.faults import FAULT_KINDS, duration, fault_from_step

__all__ = [
    "DRIVER_ACTIONS",
    "FAULT_ACTIONS",
    "HUB_TARGET",
    "NOTE",
    "Expectations",
    "NodeSpec",
    "Scenario",
    "Step",
    "load_scenario",
]

_NODE_ID = re.compile(r"^[a-z][a-z0-9\-]{0,31}$")
NOTE = "note"
"""A step that only writes its `text` into the timeline, e.g. a leg outside the administrations."""
FAULT_ACTIONS = frozenset({"fault", "heal", "restart"})
"""Steps that script the wire and the components' lives: install a fault, heal faults, restart a component."""
HUB_TARGET = "hub"
"""What `restart` names besides node ids."""
DRIVER_ACTIONS = frozenset(
    {NOTE, "attack", "revoke_certificate", "rotate_certificate", "expire_certificate", *FAULT_ACTIONS}
)
"""Steps the scenario driver takes itself (timeline notes, the scenario CA, security drills, faults): no `node`."""


@dataclass(frozen=True)
class NodeSpec:
    """One national single-window node: its country and the family-specific data it holds."""

    node_id: str
    country: str
    name: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Step:
    """One thing that happens at one virtual time, carried out by one node (or a `note` for the timeline)."""

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

    def node_for_country(self, country: str) -> str:
        for spec in self.nodes.values():
            if spec.country == country:
                return spec.node_id
        raise ScenarioError(f"no node for country {country!r}", path="nodes")

    @property
    def countries(self) -> dict[str, str]:
        """Country code → node id, the directory nodes use to address national administrations."""
        return {spec.country: spec.node_id for spec in self.nodes.values()}


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file; errors name the key path (`steps[3].at`) and what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read scenario: {exc}", document=str(path)) from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping at the top level", document=str(path))
    reader = _Reader(path)
    start = reader.moment(reader.require(raw, "start", "start"), "start", None)
    nodes = reader.nodes(reader.require(raw, "nodes", "nodes"))
    movements = raw.get("movements") or {}
    if not isinstance(movements, dict):
        raise reader.error("movements", "must be a mapping of movement key to movement")
    steps = reader.steps(raw.get("steps") or [], start, nodes)
    expectations = reader.expectations(raw.get("expect") or {})
    algorithm = str((raw.get("pki") or {}).get("algorithm", "ec"))
    if algorithm not in ("ec", "rsa"):
        raise reader.error("pki.algorithm", f"is {algorithm!r}; use 'ec' (ECDSA P-256) or 'rsa' (RSA-2048)")
    return Scenario(
        name=str(raw.get("scenario") or path.stem),
        title=str(raw.get("title") or path.stem),
        path=path,
        start=start,
        algorithm=algorithm,
        nodes=nodes,
        movements=movements,
        steps=steps,
        expectations=expectations,
        raw=raw,
    )


class _Reader:
    def __init__(self, path: Path) -> None:
        self._path = path

    def error(self, where: str, what: str) -> ScenarioError:
        return ScenarioError(f"{self._path}: {where} {what}", document=str(self._path), path=where)

    def require(self, mapping: Mapping[str, Any], key: str, where: str) -> Any:
        if not isinstance(mapping, Mapping) or key not in mapping:
            raise self.error(where, "is missing")
        return mapping[key]

    def moment(self, value: Any, where: str, previous: datetime | None) -> datetime:
        """Absolute ISO-8601 times, or `+90m` / `+2h` / `+1d` after the previous step."""
        if isinstance(value, datetime):
            return utc(value)
        text = str(value).strip()
        if text.startswith("+"):
            if previous is None:
                raise self.error(where, "is relative but there is no earlier time to count from")
            with contextlib.suppress(ScenarioError):
                return previous + duration(text[1:])
        else:
            with contextlib.suppress(ValueError):
                return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
        raise self.error(where, f"is {text!r}: use ISO-8601 (2026-03-02T08:00:00Z) or +2h")

    def nodes(self, value: Any) -> dict[str, NodeSpec]:
        if not isinstance(value, dict) or not value:
            raise self.error("nodes", "must map node ids to node descriptions")
        nodes: dict[str, NodeSpec] = {}
        for node_id, data in value.items():
            where = f"nodes.{node_id}"
            if not _NODE_ID.match(str(node_id)):
                raise self.error(where, "is not a node id (lower-case letters, digits, '-'; e.g. 'uz')")
            country = str(self.require(data, "country", f"{where}.country"))
            if not re.fullmatch(r"[A-Z]{2}", country):
                raise self.error(f"{where}.country", f"is {country!r}: use an ISO 3166-1 alpha-2 code")
            nodes[node_id] = NodeSpec(node_id, country, str(data.get("name", node_id)), data)
        if len({spec.country for spec in nodes.values()}) != len(nodes):
            raise self.error("nodes", "name one node per country")
        return nodes

    def steps(self, value: Any, start: datetime, nodes: Mapping[str, NodeSpec]) -> tuple[Step, ...]:
        if not isinstance(value, list):
            raise self.error("steps", "must be a list")
        steps: list[Step] = []
        previous = start
        for index, item in enumerate(value):
            where = f"steps[{index}]"
            if not isinstance(item, dict):
                raise self.error(where, "must be a mapping with 'at', 'do' and 'node'")
            at = self.moment(item.get("at", "+0m"), f"{where}.at", previous)
            if at < previous:
                raise self.error(f"{where}.at", f"goes back in time ({at.isoformat()} < {previous.isoformat()})")
            action = str(self.require(item, "do", f"{where}.do"))
            node = str(item.get("node", "")) if action in DRIVER_ACTIONS else str(
                self.require(item, "node", f"{where}.node")
            )
            if action not in DRIVER_ACTIONS and node not in nodes:
                raise self.error(f"{where}.node", f"is {node!r}, not one of {sorted(nodes)}")
            arguments = {key: val for key, val in item.items() if key not in ("at", "do", "node", "note")}
            if action in FAULT_ACTIONS:
                self.fault_step(action, node, arguments, at, where, nodes)
            steps.append(Step(index, at, action, node, arguments, str(item.get("note", ""))))
            previous = at
        return tuple(steps)

    def fault_step(
        self, action: str, node: str, arguments: Mapping[str, Any], at: datetime, where: str,
        nodes: Mapping[str, NodeSpec],
    ) -> None:
        """Check a fault, heal or restart step now, so that a typo does not surface half-way through a run."""
        try:
            if action == "fault":
                fault_from_step(where, at, node, arguments, nodes)
        except ScenarioError as exc:
            raise self.error(where, exc.message) from exc
        if action == "heal" and node and node not in nodes:
            raise self.error(f"{where}.node", f"is {node!r}, not one of {sorted(nodes)}")
        if action == "heal" and str(arguments.get("kind", "")) not in ("", *FAULT_KINDS):
            raise self.error(f"{where}.kind", f"is {arguments['kind']!r}; known: {', '.join(FAULT_KINDS)}")
        target = str(arguments.get("target", ""))
        if action == "restart" and target != HUB_TARGET and target not in nodes:
            raise self.error(f"{where}.target", f"is {target!r}: name {HUB_TARGET!r} or one of {sorted(nodes)}")

    def expectations(self, value: Any) -> Expectations:
        if not isinstance(value, dict):
            raise self.error("expect", "must be a mapping")
        known = {"movements", "guarantees", "messages", "documents", "deliveries", "values", "refusals",
                 "message_counts"}
        unknown = set(value) - known
        if unknown:
            raise self.error("expect", f"has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        return Expectations(
            movements=value.get("movements") or {},
            guarantees={str(key): val for key, val in (value.get("guarantees") or {}).items()},
            messages=value.get("messages") or {},
            documents=value.get("documents") or [],
            deliveries=value.get("deliveries") or {},
            values=value.get("values") or [],
            refusals=value.get("refusals") or [],
            message_counts=value.get("message_counts") or {},
        )


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
