"""Generated traffic: a `traffic:` block turns a profile into movements and their steps, from a seed.

A pilot scripts a handful of movements by hand; a corridor's year is thousands. A flow describes them
the way a planner would: the offices on the route, the goods, how often a declaration is lodged (a
mean interval, optionally shaped by a daily pattern), how long each leg and each border crossing
takes on average, which share of holders are AEOs and which share of arrivals find a seal broken.
`expand_traffic` draws every movement of every flow from `random.Random(seed:flow)`, so the same
file and seed give the same movements, steps and hence messages; a different seed gives others.

1. Declarations arrive as a Poisson process of the flow's mean `interval`; with a `daily` pattern an
   arrival in hour h is kept with probability weight[h] / max(weight) (thinning), so the busiest hour
   runs at the mean rate and quiet hours are quieter.
2. Each leg (departure → first office of transit → ... → destination) takes a gamma-distributed time
   (shape 4: always positive, skewed to the long side, as waits at borders are) around its mean.
3. At destination the arrival is notified and, `clearance` later, the control recorded: seals intact,
   or with probability `seal_discrepancies` a broken seal, which the office of departure resolves
   `resolve_after` later when the flow gives one (else the movement stays DiscrepanciesPending).
4. The generated steps are merged with the scripted ones in time order; a scripted step keeps its
   index and generated ones follow, so idempotency keys and error paths stay stable.

The reference checks (`check_traffic`) make every generated step valid by construction: the offices
exist with the right roles, the holders are traders of the departure office's node and hold a
guarantee there. `expect.traffic` must say, for each flow, where every one of its movements ends:
counts by state that add up to the flow's size, so a generated run cannot pass by checking nothing.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, FiniteFloat

from exchange.errors import ScenarioError
from exchange.faults import duration
from exchange.language import Amount, Code, Count, Moment, Record, Span, Text, suggest
from exchange.scenario import Scenario, Step
from exchange.yamlmarks import KeyPath
from nodes.customs.forms import Country, PackageType
from nodes.customs.tables import DepartureState, DestinationState, TransitState

__all__ = ["TrafficOutcome", "TrafficSection", "check_traffic", "expand_traffic"]

GAMMA_SHAPE = 4.0  # leg times: mean as given, coefficient of variation 0.5
STANDARD = "standard"  # the risk level of a holder that is no AEO


# -- the language -------------------------------------------------------------------------------------------


class TrafficGoods(Record):
    description: Text = Field(description="description of goods")
    hs: Code = Field(pattern=r"^\d{6}$", description="HS sub-heading, 6 digits (quote it)")
    gross_kg: Amount = Field(description="mean gross mass in kg (each movement draws ±25 %)")
    packages: PackageType = Field("PK", description="UN/ECE Rec 21 package type (CL017, 2 characters)")
    weight: int = Field(1, ge=1, description="how often these goods travel, relative to the flow's other goods")


class TrafficFlow(Record):
    movements: int = Field(ge=1, le=100_000, description="how many movements the flow generates")
    start: Moment = Field(description="when the first declaration may be lodged (ISO-8601, UTC)")
    interval: Span = Field(description="mean time between two declarations (Poisson arrivals), e.g. 20m")
    daily: list[FiniteFloat] | None = Field(None, min_length=24, max_length=24,
                                      description="24 relative weights, hour 0-23 UTC: the daily pattern "
                                                  "(the busiest hour runs at the mean interval)")
    departure: Code = Field(description="office of departure")
    transit: list[Code] = Field(default_factory=list, description="offices of transit, in route order")
    destination: Code = Field(description="office of destination")
    route: list[Country] = Field(default_factory=list, description="countries of routing, ISO alpha-2 (default: "
                                 "the offices')")
    legs: list[Span] = Field(min_length=1, description="mean time of each leg, departure → each office of transit "
                             "→ destination; one value for every leg, or one per leg")
    clearance: Span = Field("1h", description="mean time from the arrival notice to the control at destination")
    holders: list[Code] = Field(min_length=1, description="trader ids of the holders (traders of the departure "
                                "office's node, each holding a guarantee there)")
    aeo_share: float | None = Field(None, ge=0, le=1, description="share of movements whose holder is an AEO "
                                    "(a holder whose risk is not standard); default: holders drawn alike")
    consignees: list[Code] = Field(min_length=1, description="trader ids of the consignees")
    goods: list[TrafficGoods] = Field(min_length=1, description="what travels (one item per movement)")
    amount: Amount = Field(description="guarantee amount each movement reserves")
    seal_discrepancies: float = Field(0.0, ge=0, le=1, description="share of arrivals with a broken seal")
    resolve_after: Span | None = Field(None, description="the office of departure resolves a discrepancy this long "
                                       "after the control; absent: it stays pending")
    transport: Literal["1", "2", "3"] = Field("3", description="mode of transport (CL018): 3 road, 2 rail, 1 sea")


class TrafficSection(Record):
    seed: int = Field(description="the random seed: same seed, same movements and messages")
    flows: dict[Code, TrafficFlow] = Field(min_length=1, description="flow name → its profile")


def _states(enum: Any) -> Any:
    return dict[Literal[tuple(state.value for state in enum)], Count]  # type: ignore[misc]


class TrafficOutcome(Record):
    departure: _states(DepartureState) = Field(default_factory=dict,  # type: ignore[valid-type]
                                               description="state at departure → how many movements end there")
    destination: _states(DestinationState) = Field(default_factory=dict,  # type: ignore[valid-type]
                                                   description="state at destination → how many")
    transit: _states(TransitState) = Field(default_factory=dict,  # type: ignore[valid-type]
                                           description="state at the offices of transit → how many")


# -- reference checks ---------------------------------------------------------------------------------------


def check_traffic(document: Any) -> Iterator[tuple[KeyPath, str]]:
    """Every flow's offices, holders and guarantees exist and fit; every flow's outcome is stated in full."""
    traffic: TrafficSection | None = document.traffic
    flows = traffic.flows if traffic is not None else {}
    directory = _Directory.of_document(document)
    for name, flow in flows.items():
        base: KeyPath = ("traffic", "flows", name)
        yield from _check_offices(directory, flow, base)
        yield from _check_traders(directory, flow, base)
        if len(flow.legs) not in (1, len(flow.transit) + 1):
            yield (*base, "legs"), (f"gives {len(flow.legs)} leg times: give one for every leg, or one per leg "
                                    f"({len(flow.transit) + 1}: departure, {len(flow.transit)} offices of transit)")
        if isinstance(flow.start, str):
            yield (*base, "start"), "must be an absolute time (2026-03-02T06:00:00Z), not relative"
        if flow.daily is not None and (min(flow.daily) < 0 or max(flow.daily) <= 0):
            yield (*base, "daily"), "weights are zero or more, and at least one is above zero"
        else:
            yield from _check_times(flow, base)
        if name not in document.expect.traffic:
            yield (*base,), (f"has no outcome under expect.traffic.{name}: say where its {flow.movements} movements "
                             "end, or a run could pass without checking them")
    yield from _check_scripted_movements(document, flows)
    for name, outcome in document.expect.traffic.items():
        where: KeyPath = ("expect", "traffic", name)
        if name not in flows:
            yield where, f"{name}{suggest(name, flows)} is no flow under traffic.flows"
            continue
        size = flows[name].movements
        given = {role: counts for role, counts in outcome if counts}
        if not given:
            yield where, "states no count: give the departure, destination or transit states of the flow's movements"
        for role, counts in given.items():
            if role == "transit" and not flows[name].transit:
                yield (*where, role), "counts states at offices of transit, and the flow declares none"
            elif sum(counts.values()) != size:
                yield (*where, role), (f"counts {sum(counts.values())} movements, the flow has {size}: "
                                       "account for every one")


def _check_scripted_movements(document: Any, flows: Mapping[str, TrafficFlow]) -> Iterator[tuple[KeyPath, str]]:
    """No scripted movement has the key or the LRN of a generated one: the generated movement would take its
    place in the run (its steps then act on another movement), or the office would refuse the LRN used twice."""
    for key, movement in document.movements.items():
        for number, (name, flow) in enumerate(flows.items(), start=1):
            serial = _serial(key, f"{name}-", 5)
            if serial is not None and serial <= flow.movements:
                yield ("movements", key), (f"is also the key of a movement that traffic flow {name} generates "
                                           f"({_movement_key(name, 1)} to {_movement_key(name, flow.movements)}): "
                                           "rename it")
            serial = _serial(movement.lrn, _lrn_prefix(flow.departure, number), 7)
            if serial is not None and serial <= flow.movements:
                yield ("movements", key, "lrn"), (f"{movement.lrn} is also the LRN of a movement that traffic flow "
                                                  f"{name} generates: give another")


def _serial(text: str, prefix: str, digits: int) -> int | None:
    """The serial number of a generated key or LRN `text` would be, else None."""
    rest = text.removeprefix(prefix)
    return int(rest) if rest != text and len(rest) == digits and rest.isdigit() else None


def _movement_key(flow: str, serial: int) -> str:
    """The key of a flow's `serial`th generated movement."""
    return f"{flow}-{serial:05d}"


def _lrn_prefix(departure: str, number: int) -> str:
    """What the LRNs (and seals) of the `number`th flow start with; its movement's serial follows, in 7 digits."""
    return f"{departure[:2]}TR{number:02d}"


CALENDAR_MARGIN = 10
"""How many times its mean duration a flow must fit before the calendar's end: the draws around the means
cannot reach it then (were they to, `expand_traffic` says so; it never overflows)."""


def _check_times(flow: TrafficFlow, base: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """Declarations arrive at a mean `interval` and legs and the clearance are drawn around theirs: a mean of
    zero has nothing to draw around (the arrival rate would divide by it), and the flow's movements must end
    before the calendar does (year 9999)."""
    means = [("interval", flow.interval), ("clearance", flow.clearance),
             *((("legs", index), leg) for index, leg in enumerate(flow.legs))]
    zero = [(key, span) for key, span in means if duration(span) <= timedelta(0)]
    for key, span in zero:
        yield (*base, *(key if isinstance(key, tuple) else (key,))), f"is {span}: a mean time above zero, e.g. 1m"
    if zero or not isinstance(flow.start, datetime):
        return
    thinning = max(flow.daily) * len(flow.daily) / sum(flow.daily) if flow.daily else 1.0
    legs = sum(duration(leg).total_seconds() for leg in flow.legs) * (len(flow.transit) + 1 if len(flow.legs) == 1
                                                                       else 1)
    seconds = (flow.movements * duration(flow.interval).total_seconds() * thinning + legs
               + duration(flow.clearance).total_seconds()
               + (duration(flow.resolve_after).total_seconds() if flow.resolve_after is not None else 0))
    if flow.start.timestamp() + CALENDAR_MARGIN * seconds > datetime.max.replace(tzinfo=timezone.utc).timestamp():
        yield base, (f"runs {seconds / 86400 / 365.25:,.0f} years on average from {flow.start:%Y-%m-%d}: its "
                     "movements would end past the calendar's end (year 9999); shorten interval or legs")


def _check_offices(directory: _Directory, flow: TrafficFlow, base: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    wanted = [("departure", flow.departure, "DEP"), ("destination", flow.destination, "DES"),
              *((("transit", index), office, "TRA") for index, office in enumerate(flow.transit))]
    for key, office, role in wanted:
        where: KeyPath = (*base, *(key if isinstance(key, tuple) else (key,)))
        found = directory.offices.get(office)
        if found is None:
            yield where, f"office {office}{suggest(office, directory.offices)} is in no node's offices"
        elif role not in found[1]:
            yield where, f"office {office} has no role {role} (roles: {', '.join(found[1])})"


def _check_traders(directory: _Directory, flow: TrafficFlow, base: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    departure_node = directory.offices.get(flow.departure, (None, ()))[0]
    for index, holder in enumerate(flow.holders):
        where: KeyPath = (*base, "holders", index)
        node = directory.trader_nodes.get(holder)
        if node is None:
            yield where, f"{holder}{suggest(holder, directory.trader_nodes)} is no trader of any node"
        elif departure_node is not None and node != departure_node:
            yield where, f"{holder} is a trader of node {node!r}, not of {departure_node!r} where {flow.departure} is"
        elif holder not in directory.guarantees:
            yield where, f"{holder} holds no guarantee at any node: a declaration needs one"
    for index, consignee in enumerate(flow.consignees):
        if consignee not in directory.trader_nodes:
            yield (*base, "consignees", index), (f"{consignee}{suggest(consignee, directory.trader_nodes)} "
                                                 "is no trader of any node")
    if flow.aeo_share is not None:
        risks = {directory.risks.get(holder, STANDARD) != STANDARD for holder in flow.holders}
        if flow.aeo_share > 0 and True not in risks:
            yield (*base, "aeo_share"), "is above 0 but no holder is an AEO (risk other than standard)"
        if flow.aeo_share < 1 and False not in risks:
            yield (*base, "aeo_share"), "is below 1 but every holder is an AEO"


# -- generation ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Directory:
    """Who runs which office and who the traders are: what generation and the checks look up."""

    offices: Mapping[str, tuple[str, tuple[str, ...]]]  # office → (node, roles)
    trader_nodes: Mapping[str, str]  # trader id → node
    risks: Mapping[str, str]  # trader id → risk level
    guarantees: Mapping[str, tuple[str, str]]  # holder → (GRN, access code) of the first guarantee it holds

    @classmethod
    def of_document(cls, document: Any) -> _Directory:
        return cls.of_nodes({node_id: node.model_dump() for node_id, node in document.nodes.items()})

    @classmethod
    def of_nodes(cls, nodes: Mapping[str, Mapping[str, Any]]) -> _Directory:
        offices, trader_nodes, risks, guarantees = {}, {}, {}, {}
        for node_id, node in nodes.items():
            for office in node.get("offices") or ():
                offices[str(office["reference"])] = (node_id, tuple(office["roles"]))
            for trader in node.get("traders") or ():
                trader_nodes[str(trader["id"])] = node_id
                risks[str(trader["id"])] = str(trader.get("risk") or STANDARD)
            for guarantee in node.get("guarantees") or ():
                guarantees.setdefault(str(guarantee["holder"]), (str(guarantee["grn"]), str(guarantee["access_code"])))
        return cls(offices, trader_nodes, risks, guarantees)


@dataclass(frozen=True)
class _Planned:
    """One generated step before it gets its index."""

    at: datetime
    action: str
    node: str
    arguments: Mapping[str, Any]


def expand_traffic(scenario: Scenario) -> Scenario:
    """The scenario with every flow's movements and steps added; unchanged when it has no `traffic:` block."""
    if not scenario.raw.get("traffic"):
        return scenario
    section = TrafficSection.model_validate(scenario.raw["traffic"])
    directory = _Directory.of_nodes(scenario.raw["nodes"])
    movements: dict[str, Mapping[str, Any]] = dict(scenario.movements)
    planned: list[tuple[datetime, int, _Planned]] = []
    keys: dict[str, tuple[str, ...]] = {}
    for number, (name, flow) in enumerate(section.flows.items(), start=1):
        rng = random.Random(f"{section.seed}:{name}")
        try:
            generated = _FlowGenerator(name, number, flow, directory, rng).movements()
        except OverflowError:  # draws far beyond their means, past what check_traffic's margin allows for
            raise ScenarioError(f"traffic.flows.{name}: its movements run past the calendar's end (year 9999); "
                                "shorten interval or legs", path=f"traffic.flows.{name}") from None
        keys[name] = tuple(key for key, _, _ in generated)
        for key, movement, steps in generated:
            movements[key] = movement
            planned.extend((step.at, len(planned), step) for step in steps)
    planned.sort(key=lambda entry: (entry[0], entry[1]))
    first_index = len(scenario.steps)
    generated_steps = [Step(first_index + order, step.at, step.action, step.node, step.arguments, "traffic")
                       for order, (_, _, step) in enumerate(planned)]
    steps = sorted((*scenario.steps, *generated_steps), key=lambda step: (step.at, step.index))
    return replace(scenario, movements=movements, steps=tuple(steps), traffic=keys)


class _FlowGenerator:
    """One flow's movements, drawn in order from its own random stream."""

    def __init__(self, name: str, number: int, flow: TrafficFlow, directory: _Directory, rng: random.Random) -> None:
        self._name, self._number, self._flow, self._directory, self._rng = name, number, flow, directory, rng
        self._offices = [flow.departure, *flow.transit, flow.destination]
        self._legs = [duration(span) for span in (flow.legs * (len(self._offices) - 1) if len(flow.legs) == 1
                                                  else flow.legs)]
        self._aeo = [h for h in flow.holders if directory.risks.get(h, STANDARD) != STANDARD]
        self._standard = [h for h in flow.holders if directory.risks.get(h, STANDARD) == STANDARD]
        # what every movement of the flow has in common is one object, shared: the movements stay in memory
        # for the whole run, and at 10,000 of them copies would cost tens of MB (nothing writes to them)
        self._common = {
            "title": f"generated by traffic flow {name}",
            "departure": flow.departure,
            "transit": [{"office": office} for office in flow.transit],
            "destination": flow.destination,
            "route": flow.route or list(dict.fromkeys(office[:2] for office in self._offices)),
            "transport": {"inland": flow.transport, "border": flow.transport},
        }
        self._guarantees = {holder: {"type": "1", "grn": directory.guarantees[holder][0],
                                     "access_code": directory.guarantees[holder][1], "amount": str(flow.amount),
                                     "currency": "USD"} for holder in flow.holders}

    def movements(self) -> list[tuple[str, dict[str, Any], list[_Planned]]]:
        generated = []
        declared = self._flow.start if isinstance(self._flow.start, datetime) else None
        assert declared is not None, "traffic start is absolute (checked with the scenario)"
        for serial in range(1, self._flow.movements + 1):
            declared = self._next_arrival(declared)
            key = _movement_key(self._name, serial)
            movement = self._movement(serial)
            seal = movement["equipment"][0]["seals"][0]
            generated.append((key, movement, self._steps(key, seal, declared)))
        return generated

    def _next_arrival(self, after: datetime) -> datetime:
        mean = duration(self._flow.interval).total_seconds() / 60
        moment = after
        while True:
            moment += timedelta(minutes=max(1, round(self._rng.expovariate(1 / mean))))
            daily = self._flow.daily
            if daily is None or self._rng.random() * max(daily) < daily[moment.hour]:
                return moment

    def _holder(self) -> str:
        share = self._flow.aeo_share
        if share is None:
            return self._rng.choice(self._flow.holders)
        pool = self._aeo if self._rng.random() < share else self._standard
        return self._rng.choice(pool)

    def _movement(self, serial: int) -> dict[str, Any]:
        flow = self._flow
        holder = self._holder()
        goods = self._rng.choices(flow.goods, weights=[entry.weight for entry in flow.goods])[0]
        gross = (goods.gross_kg * Decimal(str(round(self._rng.uniform(0.75, 1.25), 3)))).quantize(Decimal("1"))
        tag = _lrn_prefix(flow.departure, self._number)
        common = self._common
        return {
            "title": common["title"],
            "lrn": f"{tag}{serial:07d}",
            "holder": holder,
            "consignee": self._rng.choice(flow.consignees),
            "departure": common["departure"],
            "transit": common["transit"],
            "destination": common["destination"],
            "route": common["route"],
            "transport": common["transport"],
            "equipment": [{"seals": [f"{tag}-{serial:06d}"]}],
            "guarantee": self._guarantees[holder],
            "items": [{"description": goods.description, "hs": goods.hs, "gross_kg": str(gross),
                       "packages": {"type": goods.packages, "count": 1}}],
        }

    def _steps(self, key: str, seal: str, declared: datetime) -> list[_Planned]:
        flow, node_of = self._flow, self._node_of
        steps = [_Planned(declared, "declare", node_of(flow.departure), {"movement": key})]
        moment = declared
        for office, leg in zip(self._offices[1:], self._legs, strict=True):
            moment += self._draw(leg)
            if office != flow.destination:
                steps.append(_Planned(moment, "present_at_transit", node_of(office),
                                      {"movement": key, "office": office}))
        destination = node_of(flow.destination)
        steps.append(_Planned(moment, "notify_arrival", destination, {"movement": key, "office": flow.destination}))
        moment += self._draw(duration(flow.clearance))
        broken = self._rng.random() < flow.seal_discrepancies
        control: dict[str, Any] = {"movement": key, "office": flow.destination, "seals_ok": not broken}
        if broken:
            control["discrepancies"] = f"seal {seal} broken on arrival"
        steps.append(_Planned(moment, "record_control", destination, control))
        if broken and flow.resolve_after is not None:
            steps.append(_Planned(moment + duration(flow.resolve_after), "resolve_discrepancies",
                                  node_of(flow.departure), {"movement": key, "office": flow.departure}))
        return steps

    def _draw(self, mean: timedelta) -> timedelta:
        """A time around `mean`, to the minute and at least one minute (a step never shares its predecessor's time)."""
        minutes = self._rng.gammavariate(GAMMA_SHAPE, mean.total_seconds() / 60 / GAMMA_SHAPE)
        return timedelta(minutes=max(1, round(minutes)))

    def _node_of(self, office: str) -> str:
        return self._directory.offices[office][0]
