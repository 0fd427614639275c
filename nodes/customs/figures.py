"""Corridor figures from a run: how long movements take at each office, at each border and end to end.

The CAREC corridor performance measurement programme (CPMM) publishes, for paper procedures, the time
and its spread at each border crossing and along each corridor. A caravan run has the same facts in
its events.jsonl, in virtual time: every CATS step the driver took, when, by which node, at which
office. This module reads them back:

1. The scenario record (`kind: scenario`, the first of events.jsonl) gives each node's country and each
   movement's declared offices of departure and destination. Each step that names a movement is a milestone
   of that movement: declared (at departure), presented at an office of transit, arrival notified and
   control recorded (at destination). Its place is the office the step names, else the movement's declared
   office for that step (a scripted step may leave it implicit), else the acting node's country.
2. Consecutive milestones of a movement make a leg. A leg that stays at one place is time *at* that
   office (arrival notice → control at destination: clearance); a leg between two countries is a
   *border crossing* (presented at the exit post → presented at the entry post, the wait included);
   others are inland legs.
3. A movement whose control at destination was recorded is complete: its end-to-end time runs from
   the declaration to that control. Its corridor is the countries it passed, in order (UZ-AZ-GE).
4. Distributions are given as count, p50, p90 and max (nearest-rank percentiles: each figure is a
   time some movement really took), per leg, per country pair and per corridor.

Nothing here reads the wall clock: every time is the scenario's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from exchange.errors import InputError
from exchange.inputs import read_json_lines

__all__ = ["CorridorFigures", "Distribution", "Leg", "MovementTimes", "corridor_figures", "read_run"]

MILESTONES = {"declare": "declared", "present_at_transit": "presented", "notify_arrival": "arrived",
              "record_control": "controlled"}
"""The CATS steps that mark where a movement is, and what each one means for it."""


@dataclass(frozen=True)
class Milestone:
    at: datetime
    what: str  # declared, presented, arrived, controlled
    place: str  # an office reference, or a country code when the step names no office
    country: str


@dataclass(frozen=True)
class Leg:
    """The time between two consecutive milestones of one movement."""

    movement: str
    start: Milestone
    end: Milestone

    @property
    def hours(self) -> float:
        return (self.end.at - self.start.at) / timedelta(hours=1)

    @property
    def kind(self) -> str:
        if self.start.place == self.end.place:
            return "at office"
        return "border crossing" if self.start.country != self.end.country else "inland"

    @property
    def label(self) -> str:
        if self.kind == "at office":
            return f"at {self.end.place} ({self.start.what} → {self.end.what})"
        return f"{self.start.place} → {self.end.place}"


@dataclass(frozen=True)
class MovementTimes:
    movement: str
    corridor: str
    declared: datetime
    controlled: datetime | None

    @property
    def hours(self) -> float | None:
        return None if self.controlled is None else (self.controlled - self.declared) / timedelta(hours=1)


@dataclass(frozen=True)
class Distribution:
    """How long something took across movements, in hours."""

    what: str
    kind: str
    hours: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.hours)

    def percentile(self, share: float) -> float:
        """Nearest rank: the smallest time at least `share` of the movements did not exceed."""
        ordered = sorted(self.hours)
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]

    @property
    def p50(self) -> float:
        return self.percentile(0.5)

    @property
    def p90(self) -> float:
        return self.percentile(0.9)

    @property
    def max(self) -> float:
        return max(self.hours)


@dataclass(frozen=True)
class CorridorFigures:
    scenario: str
    movements: tuple[MovementTimes, ...]
    legs: tuple[Distribution, ...]  # per leg (from place → to place, or at an office)
    crossings: tuple[Distribution, ...]  # border crossings per country pair
    corridors: tuple[Distribution, ...]  # end to end per corridor
    shortfall: str | None = None  # how the run fell short of its end; None when it ended

    @property
    def incomplete(self) -> int:
        return sum(movement.controlled is None for movement in self.movements)


UNDONE = frozenset({"step-failed", "step-declined"})
"""Entries that say a step events.jsonl records was not carried out: it is no milestone of its movement."""


def read_run(run_dir: Path) -> tuple[Mapping[str, Any], list[Mapping[str, Any]], str | None]:
    """The run record and the records of the steps carried out, from RUN_DIR/events.jsonl, and how the run fell
    short of its end (None when it ended): figures of a run cut short are only what it did, and must say so.
    InputError names the file and line."""
    path = run_dir / "events.jsonl"
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: {'is not a directory' if run_dir.exists() else 'does not exist'}: "
                         "give the --out directory of a `caravan run`", document=str(run_dir))
    if not path.is_file():
        raise InputError(f"{path}: does not exist: {run_dir} is no run directory (caravan run --out writes it)",
                         document=str(path))
    events = [event for _, event in read_json_lines(path, "run's events.jsonl")]
    run = next((event for event in events if event.get("kind") == "scenario"), None)
    if run is None:
        raise InputError(f"{path}: has no scenario record (kind: scenario): it was written by a caravan without "
                         "`figures`; run the scenario again", document=str(path), rule="events-jsonl")
    undone = {event.get("index") for event in events if event.get("kind") in UNDONE}
    steps = [event for event in events if event.get("kind") == "step" and event.get("index") not in undone]
    return run, steps, _shortfall(events)


def _shortfall(events: list[dict[str, Any]]) -> str | None:
    """How a run whose events these are fell short of its end, in words; None when it wrote its last entry."""
    if any(event.get("kind") == "driver" for event in events):
        return None
    last = events[-1]
    if last.get("kind") == "interrupted":
        step = last.get("step")
        return (f"it was interrupted (Ctrl-C) at step {step + 1 if isinstance(step, int) else '?'} at virtual "
                f"{last.get('at') or 'start'}")
    if last.get("kind") == "step-failed":
        return f"it stopped: {last.get('detail')}"
    return "its events.jsonl ends before the run did: the run is still going, or it was killed"


def corridor_figures(run: Mapping[str, Any], steps: Iterable[Mapping[str, Any]],
                     shortfall: str | None = None) -> CorridorFigures:
    """Legs, crossings and end-to-end times of every movement the steps name; `shortfall` says how the run fell
    short of its end, if it did."""
    countries: Mapping[str, str] = run.get("countries") or {}
    declared_offices: Mapping[str, Mapping[str, Any]] = run.get("routes") or {}
    by_movement: dict[str, list[Milestone]] = {}
    for step in steps:
        what = MILESTONES.get(str(step.get("do")))
        arguments = step.get("arguments") or {}
        if what is None or "movement" not in arguments:
            continue
        key = str(arguments["movement"])
        implied = declared_offices.get(key, {}).get("departure" if what == "declared" else "destination")
        office = arguments.get("office") or (None if what == "presented" else implied)
        country = str(office)[:2] if office else countries.get(str(step.get("node")), str(step.get("node")))
        at = datetime.fromisoformat(str(step["at"]).replace("Z", "+00:00"))
        by_movement.setdefault(key, []).append(Milestone(at, what, str(office or country), country))
    movements: list[MovementTimes] = []
    legs: list[Leg] = []
    for key, milestones in by_movement.items():
        milestones.sort(key=lambda milestone: milestone.at)
        legs += [Leg(key, start, end) for start, end in zip(milestones, milestones[1:], strict=False)]
        declared = next((m.at for m in milestones if m.what == "declared"), None)
        if declared is None:
            continue
        controlled = next((m.at for m in milestones if m.what == "controlled"), None)
        corridor = "-".join(dict.fromkeys(m.country for m in milestones))
        movements.append(MovementTimes(key, corridor, declared, controlled))
    return CorridorFigures(
        scenario=str(run.get("scenario", "")),
        movements=tuple(movements),
        legs=_distributions(((leg.label, leg.kind), leg.hours) for leg in legs),
        crossings=_distributions(((f"{leg.start.country} → {leg.end.country}", "border crossing"), leg.hours)
                                 for leg in legs if leg.kind == "border crossing"),
        corridors=_distributions(((movement.corridor, "end to end"), movement.hours)
                                 for movement in movements if movement.hours is not None),
        shortfall=shortfall,
    )


def _distributions(samples: Iterable[tuple[tuple[str, str], float]]) -> tuple[Distribution, ...]:
    grouped: dict[tuple[str, str], list[float]] = {}
    for key, hours in samples:
        grouped.setdefault(key, []).append(hours)
    return tuple(Distribution(what, kind, tuple(hours)) for (what, kind), hours in grouped.items())

