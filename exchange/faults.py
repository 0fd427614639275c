"""Network faults a scenario scripts into the wire between the hub and the nodes.

A border post's link goes down for a night, two administrations cannot see each other, a message is
lost, sent twice, arrives late or arrives damaged: the protocol must still end with every movement
written off once and every guarantee released once. These faults live in the transport only, never in
domain code. A `FaultPlan` is a tuple of frozen dataclasses, one per fault; every window is in SCENARIO
time (the component's `Clock`), so a fault "from 19:00 for 6 h" means the same whatever the wall clock
does. The scenario driver installs the same plan on every component (`PUT /control/faults`); each
component consults only what concerns its own side of the wire:

| fault       | consulted by           | what happens                                                              |
|-------------|------------------------|---------------------------------------------------------------------------|
| `offline`   | the node and the hub   | its outbox and the hub's pushes to it wait; the node works locally        |
| `partition` | the hub                | envelopes between the two nodes (both ways) wait                          |
| `latency`   | the hub                | each envelope on the link waits until accepted + delay                    |
| `reorder`   | the hub                | the next N on the link wait until a later envelope from elsewhere arrived |
| `drop`      | the sender of the leg  | the next N transmissions are lost: no answer, the sender retries          |
| `duplicate` | the sender of the leg  | the next N transmissions go twice: the receiver absorbs the copy          |
| `corrupt`   | the sender of the leg  | the next N transmissions carry a flipped byte: refused, resent intact     |

A held envelope is not an attempt: nothing is sent and nothing is counted until the fault ends. Within
one link (sender → recipient) delivery stays first-in first-out by design, because NCTS offices expect
an anticipated record before the notifications that refer to it; holds reorder messages only ACROSS
links. Counted faults (`drop`, `duplicate`, `corrupt`, `reorder`) remember how often they fired in
`FaultSwitch`, kept in a file beside the component's database as its virtual clock is, so a restarted
hub neither forgets a window nor fires a spent fault again.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from exchange.client import Route
from exchange.clock import utc
from exchange.errors import ScenarioError

__all__ = [
    "FAULT_KINDS",
    "Corrupt",
    "Drop",
    "Duplicate",
    "Fault",
    "FaultBook",
    "FaultPlan",
    "FaultSwitch",
    "Hold",
    "Latency",
    "Leg",
    "Link",
    "Offline",
    "Partition",
    "Reorder",
    "duration",
    "fault_from_dict",
    "fault_from_step",
    "flip_byte",
]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value: Any) -> timedelta:
    """`90s`, `30m`, `2h`, `1d` (or a number of seconds), as a scenario writes a span of time.

    A span no `timedelta` holds (`99999999999d`, an infinite number of seconds) is a ScenarioError like any other
    that is not a duration, not the OverflowError of deep inside a check."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif (match := _DURATION.match(str(value).strip())) is not None:
        seconds = float(match.group(1)) * _SECONDS[match.group(2)]
    else:
        raise ScenarioError(f"{value!r} is not a duration: use 90s, 30m, 2h or 1d")
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):
        raise ScenarioError(f"{value!r} is longer than any span of time a scenario can take "
                            f"(at most {timedelta.max.days} days)") from None


def _when(moment: datetime | None) -> str:
    return "" if moment is None else f" until {moment:%Y-%m-%d %H:%M}"


class Leg(str, Enum):
    """Which hop of a message's journey a counted fault hits."""

    SUBMIT = "submit"  # the sending node → the hub (the hub is the receiver)
    PUSH = "push"  # the hub → the recipient node (the node is the receiver)


@dataclass(frozen=True)
class Link:
    """Envelopes from one node to another, optionally of one message type only."""

    sender: str
    recipient: str
    message_type: str | None = None

    def matches(self, route: Route) -> bool:
        return (route.sender, route.recipient) == (self.sender, self.recipient) and self.message_type in (
            None,
            route.message_type,
        )

    def __str__(self) -> str:
        kind = f" {self.message_type}" if self.message_type else ""
        return f"{self.sender}→{self.recipient}{kind}"


@dataclass(frozen=True)
class Fault:
    """One scripted fault, active from `start` until `until` (None: until healed), in scenario time."""

    id: str
    start: datetime
    until: datetime | None

    kind: ClassVar[str] = ""
    ARGUMENTS: ClassVar[frozenset[str]] = frozenset()
    """The step arguments this kind takes besides `kind` and `for` (a typo is reported, not ignored)."""

    def active(self, now: datetime) -> bool:
        return self.start <= now and (self.until is None or now < self.until)

    def describe(self) -> str:
        return self.kind


@dataclass(frozen=True)
class Offline(Fault):
    node: str = ""

    kind: ClassVar[str] = "offline"

    def describe(self) -> str:
        return f"offline {self.node}"


@dataclass(frozen=True)
class Partition(Fault):
    nodes: tuple[str, str] = ("", "")

    kind: ClassVar[str] = "partition"
    ARGUMENTS: ClassVar[frozenset[str]] = frozenset({"between"})

    def separates(self, route: Route) -> bool:
        return route.sender != route.recipient and {route.sender, route.recipient} == set(self.nodes)

    def describe(self) -> str:
        return f"partition {self.nodes[0]} ↮ {self.nodes[1]}"


@dataclass(frozen=True)
class LinkFault(Fault):
    """A fault on one link: envelopes from one node to another (`from`, `to`, optionally `type`)."""

    link: Link = field(default_factory=lambda: Link("", ""))

    ARGUMENTS: ClassVar[frozenset[str]] = frozenset({"from", "to", "type"})


@dataclass(frozen=True)
class Latency(LinkFault):
    delay: timedelta = timedelta(0)

    kind: ClassVar[str] = "latency"
    ARGUMENTS: ClassVar[frozenset[str]] = LinkFault.ARGUMENTS | {"delay"}

    def describe(self) -> str:
        return f"latency {self.link} +{_span(self.delay)}"


@dataclass(frozen=True)
class Reorder(LinkFault):
    count: int = 1

    kind: ClassVar[str] = "reorder"
    ARGUMENTS: ClassVar[frozenset[str]] = LinkFault.ARGUMENTS | {"count"}

    def describe(self) -> str:
        return f"reorder: the next {self.count} on {self.link} wait behind later traffic to {self.link.recipient}"


@dataclass(frozen=True)
class Counted(LinkFault):
    """A fault that hits the next `count` transmissions on one leg of a link."""

    count: int = 1
    leg: Leg = Leg.SUBMIT

    ARGUMENTS: ClassVar[frozenset[str]] = LinkFault.ARGUMENTS | {"count", "leg"}

    def describe(self) -> str:
        hop = "submission" if self.leg is Leg.SUBMIT else "push"
        return f"{self.kind}: the next {self.count} {hop}{'s' if self.count > 1 else ''} {self.link}"


@dataclass(frozen=True)
class Drop(Counted):
    kind: ClassVar[str] = "drop"


@dataclass(frozen=True)
class Duplicate(Counted):
    kind: ClassVar[str] = "duplicate"


@dataclass(frozen=True)
class Corrupt(Counted):
    kind: ClassVar[str] = "corrupt"


FAULT_KINDS: Mapping[str, type[Fault]] = {
    kind.kind: kind for kind in (Offline, Partition, Latency, Reorder, Drop, Duplicate, Corrupt)
}

FaultPlan = tuple[Fault, ...]


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- reading faults: scenario steps and the control API ------------------------------------------------------


def _window_end(at: datetime, span: Any) -> datetime:
    """When a fault that lasts `for: span` from `at` ends: some time after it starts, within the calendar."""
    length = duration(span)
    if length <= timedelta(0):
        raise ScenarioError(f"for {span!r}: a fault lasts some time; leave `for` out for one that lasts until healed")
    try:
        return at + length
    except OverflowError:
        raise ScenarioError(f"for {span!r} runs past the calendar's end (year 9999)") from None


def fault_from_step(
    fault_id: str, at: datetime, node: str, arguments: Mapping[str, Any], nodes: Collection[str]
) -> Fault:
    """A `{do: fault, kind: …}` step as a fault starting at `at`; `for: 2h` bounds it, else it lasts until healed."""
    args = dict(arguments)
    kind = str(args.pop("kind", ""))
    if kind not in FAULT_KINDS:
        raise ScenarioError(f"fault kind {kind!r} is unknown; known: {', '.join(FAULT_KINDS)}")
    cls = FAULT_KINDS[kind]
    until = _window_end(at, args.pop("for")) if "for" in args else None
    unknown = set(args) - cls.ARGUMENTS
    if unknown:
        raise ScenarioError(f"fault {kind} takes no {sorted(unknown)}; it takes {sorted(cls.ARGUMENTS | {'for'})}")
    common: dict[str, Any] = {"id": fault_id, "start": at, "until": until}
    if cls is Offline:
        return Offline(**common, node=_known(node, nodes, "node"))
    if cls is Partition:
        between = args.get("between")
        if not isinstance(between, list) or len(set(map(str, between))) != 2:
            raise ScenarioError("a partition names two different nodes: between: [az, ge]")
        return Partition(**common, nodes=(_known(between[0], nodes, "between"), _known(between[1], nodes, "between")))
    link = Link(_known(args.get("from"), nodes, "from"), _known(args.get("to"), nodes, "to"),
                str(args["type"]) if args.get("type") else None)
    if cls is Latency:
        if "delay" not in args:
            raise ScenarioError("a latency fault needs a delay: delay: 30m")
        return Latency(**common, link=link, delay=duration(args["delay"]))
    count = _count(args.get("count", 1))
    if not issubclass(cls, Counted):
        return Reorder(**common, link=link, count=count)
    try:
        leg = Leg(str(args.get("leg", Leg.SUBMIT.value)))
    except ValueError:
        raise ScenarioError(f"leg is {args.get('leg')!r}: use submit (node → hub) or push (hub → node)") from None
    return cls(**common, link=link, count=count, leg=leg)


def _known(value: Any, nodes: Collection[str], name: str) -> str:
    if value is None or str(value) not in nodes:
        raise ScenarioError(f"{name} is {value!r}, not one of the nodes {sorted(nodes)}")
    return str(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ScenarioError(f"count is {value!r}: a whole number of transmissions, at least 1")
    return value


def fault_to_dict(fault: Fault) -> dict[str, Any]:
    """The JSON form the driver PUTs to `/control/faults`."""
    return {"kind": fault.kind, **{f.name: _encode(getattr(fault, f.name)) for f in fields(fault)}}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Link):
        return {"sender": value.sender, "recipient": value.recipient, "message_type": value.message_type}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


_DECODE: Mapping[str, Any] = {
    "start": lambda value: utc(datetime.fromisoformat(value)),
    "until": lambda value: None if value is None else utc(datetime.fromisoformat(value)),
    "delay": lambda value: timedelta(seconds=float(value)),
    "link": lambda value: Link(**value),
    "nodes": lambda value: (str(value[0]), str(value[1])),
    "leg": Leg,
}


def fault_from_dict(data: Mapping[str, Any]) -> Fault:
    """Read one fault of a plan the driver sent; a malformed one is a `ScenarioError` naming it."""
    try:
        cls = FAULT_KINDS[str(data["kind"])]
        return cls(**{f.name: _DECODE.get(f.name, lambda value: value)(data[f.name]) for f in fields(cls)})
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"fault {dict(data)!r} cannot be read: {exc!r}", rule="fault-plan") from exc


# -- what a component does with a plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hold:
    """Why an envelope is not sent now."""

    fault: Fault
    reason: str


class FaultSwitch:
    """A component's installed plan and what its counted faults have used up, kept beside its database.

    Installing a new plan keeps the counters of faults that are still in it (the driver sends the whole
    plan whenever a fault is added or healed), so a spent `drop` does not fire again.
    """

    def __init__(self, keep: Path | None = None) -> None:
        self._keep = keep
        self._plan: FaultPlan = ()
        self._used: dict[str, int] = {}
        self._captured: dict[str, list[int]] = {}
        if keep is not None and keep.is_file():
            kept = json.loads(keep.read_text(encoding="utf-8"))
            self._plan = tuple(fault_from_dict(item) for item in kept["plan"])
            self._used = {str(k): int(v) for k, v in kept["used"].items()}
            self._captured = {str(k): [int(key) for key in v] for k, v in kept["captured"].items()}

    @classmethod
    def beside(cls, database: Path) -> FaultSwitch:
        return cls(database.with_suffix(".faults"))

    @property
    def plan(self) -> FaultPlan:
        return self._plan

    def install(self, plan: Sequence[Fault]) -> None:
        self._plan = tuple(plan)
        ids = {fault.id for fault in self._plan}
        self._used = {key: used for key, used in self._used.items() if key in ids}
        self._captured = {key: keys for key, keys in self._captured.items() if key in ids}
        self._save()

    def offline(self, node: str, now: datetime) -> Hold | None:
        """Is `node` cut off from the exchange now?"""
        for fault in self._active(Offline, now):
            if fault.node == node:
                return Hold(fault, f"{node} offline{_when(fault.until)}")
        return None

    def hold(self, route: Route, accepted_at: datetime, now: datetime) -> Hold | None:
        """Should the hub hold this envelope now (recipient offline, partition, latency)?"""
        held = self.offline(route.recipient, now)
        if held is not None:
            return held
        for partition in self._active(Partition, now):
            if partition.separates(route):
                return Hold(partition, f"{route.sender} and {route.recipient} partitioned{_when(partition.until)}")
        for latency in self._active(Latency, now):
            due = accepted_at + latency.delay
            if latency.link.matches(route) and now < due:
                return Hold(latency, f"latency +{_span(latency.delay)}: due {due:%Y-%m-%d %H:%M}")
        return None

    def could_hold(self, recipient: str, now: datetime) -> bool:
        """Cheap pre-check: may any active fault hold envelopes to `recipient`? (Skips the slow path.)"""
        return any(
            (isinstance(fault, Offline) and fault.node == recipient)
            or (isinstance(fault, Partition) and recipient in fault.nodes)
            or (isinstance(fault, (Latency, Reorder)) and fault.link.recipient == recipient)
            for fault in self._plan
            if fault.active(now)
        )

    def reordered(self, key: int, route: Route, now: datetime, *, capture: bool) -> Reorder | None:
        """The reorder fault that holds envelope `key` back, capturing it if the fault still has room."""
        for fault in self._active(Reorder, now):
            captured = self._captured.get(fault.id, [])
            if key in captured:
                return fault
            if capture and fault.link.matches(route) and len(captured) < fault.count:
                self._captured[fault.id] = [*captured, key]
                self._save()
                return fault
        return None

    def take(self, leg: Leg, route: Route, now: datetime) -> Counted | None:
        """Use one transmission of the first counted fault on this leg and link, if one is left."""
        for fault in self._active(Counted, now):
            if fault.leg is leg and fault.link.matches(route) and self._used.get(fault.id, 0) < fault.count:
                self._used[fault.id] = self._used.get(fault.id, 0) + 1
                self._save()
                return fault
        return None

    def _active(self, kind: type[Any], now: datetime) -> list[Any]:
        return [fault for fault in self._plan if isinstance(fault, kind) and fault.active(now)]

    def _save(self) -> None:
        if self._keep is None:
            return
        kept = {"plan": [fault_to_dict(f) for f in self._plan], "used": self._used, "captured": self._captured}
        staged = self._keep.with_suffix(".faults-tmp")
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_text(json.dumps(kept), encoding="utf-8")
        os.replace(staged, self._keep)


# -- the driver's side ------------------------------------------------------------------------------------


@dataclass
class FaultBook:
    """The plan the driver keeps: faults installed by steps, removed by `heal`, announced when they end."""

    entries: list[tuple[Fault, Mapping[str, Any]]] = field(default_factory=list)
    announced: set[str] = field(default_factory=set)

    @property
    def plan(self) -> FaultPlan:
        return tuple(fault for fault, _ in self.entries)

    def install(self, fault: Fault, arguments: Mapping[str, Any]) -> None:
        self.entries.append((fault, dict(arguments)))

    def heal(self, arguments: Mapping[str, Any]) -> list[Fault]:
        """Remove the faults whose step said everything `arguments` says (`{}` heals them all)."""
        wanted = {key: str(value) for key, value in arguments.items()}
        healed = [fault for fault, said in self.entries if all(str(said.get(k)) == v for k, v in wanted.items())]
        self.entries = [(fault, said) for fault, said in self.entries if fault not in healed]
        return healed

    def ended(self, now: datetime) -> list[Fault]:
        """Faults whose window closed by `now` and were not announced yet."""
        done = [f for f, _ in self.entries if f.until is not None and f.until <= now and f.id not in self.announced]
        self.announced.update(fault.id for fault in done)
        return done


def plan_to_json(plan: Sequence[Fault]) -> dict[str, Any]:
    return {"faults": [fault_to_dict(fault) for fault in plan]}


def plan_from_json(body: Any) -> FaultPlan:
    if not isinstance(body, Mapping) or not isinstance(body.get("faults"), list):
        raise ScenarioError('a fault plan is {"faults": [...]}', rule="fault-plan")
    return tuple(fault_from_dict(item) for item in body["faults"])


# -- corruption ---------------------------------------------------------------------------------------------

_TEXT_START = re.compile(rb">[A-Za-z0-9]")
_SIGNATURE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Signature[\s>]")


def flip_byte(document: bytes) -> tuple[bytes, int]:
    """Flip the lowest bit of one byte: the first character of element text, before any signature inside.

    Only letters and digits are chosen, and flipping their lowest bit yields another harmless character
    (`0`↔`1`, `a`→`` ` ``), so the document stays well-formed and the damage shows as a digest mismatch
    (`signature-digest`), the way bit rot on a real line does. Returns the damaged bytes and the offset.
    """
    signature = _SIGNATURE.search(document)
    end = signature.start() if signature else len(document)
    match = _TEXT_START.search(document, 0, end)
    offset = match.start() + 1 if match else len(document) // 2
    damaged = bytearray(document)
    damaged[offset] ^= 0x01
    return bytes(damaged), offset
