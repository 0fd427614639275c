"""Scenarios of N movements across the eleven CAREC countries, for the bench's volume target (issue 13).

The corridors, offices, traders and flows are those of scenarios/carec-corridors.yaml: eleven customs
nodes, ten flows on corridors 1-6 through their border crossings. For a run of N movements the flows
share N as evenly as they can (the first flows take the remainder; a flow left with none is dropped),
and each flow's mean interval is stretched by the number of flows, so the whole corridor lodges a
declaration every `INTERVAL` on average, as bench/movements.py's single flow does: a run of N
movements has a few hundred under way at once whatever N is. Every guarantee's reference amount is
raised so that every movement under way fits under it. `expect.traffic` is the scenario's own,
scaled: each role's one expected state counts the flow's new size, so every movement is accounted for.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from exchange.faults import duration

__all__ = ["CORRIDORS", "corridors_scenario", "write_corridors_scenario"]

CORRIDORS = Path(__file__).resolve().parent.parent / "scenarios" / "carec-corridors.yaml"
INTERVAL = "10m"
REFERENCE_AMOUNT = "1000000000.00"


def corridors_scenario(count: int, source_path: Path = CORRIDORS) -> dict[str, Any]:
    """The corridor scenario as data, its flows resized to `count` movements in all."""
    source = yaml.safe_load(source_path.read_text(encoding="utf-8"))
    scenario = copy.deepcopy(source)
    for node in scenario["nodes"].values():
        for guarantee in node.get("guarantees") or ():
            guarantee["reference_amount"] = REFERENCE_AMOUNT
    names = list(source["traffic"]["flows"])
    interval_minutes = round(duration(INTERVAL).total_seconds() / 60 * len(names))
    flows, outcomes = {}, {}
    for index, name in enumerate(names):
        size = count // len(names) + (1 if index < count % len(names) else 0)
        if size == 0:
            continue
        flow = dict(source["traffic"]["flows"][name], movements=size, interval=f"{interval_minutes}m")
        flow.pop("daily", None)
        flows[name] = flow
        outcomes[name] = {role: _resized(name, role, states, size)
                          for role, states in source["expect"]["traffic"][name].items()}
    scenario.update(scenario=f"carec-{count}-movements",
                    title=f"{count} movements on CAREC corridors 1-6, eleven countries, to write-off")
    scenario["traffic"] = {"seed": source["traffic"]["seed"], "flows": flows}
    scenario["expect"] = {**source["expect"], "traffic": outcomes}
    return scenario


def _resized(flow: str, role: str, states: dict[str, int], size: int) -> dict[str, int]:
    """A role's expected outcome for `size` movements: every movement ends in the role's one state."""
    if len(states) != 1:
        raise ValueError(f"{CORRIDORS.name}: expect.traffic.{flow}.{role} names {len(states)} states; the bench "
                         "scales only a flow whose movements all end in one state per role")
    [state] = states
    return {state: size}


def write_corridors_scenario(count: int, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"carec-{count}-movements.yaml"
    path.write_text(yaml.safe_dump(corridors_scenario(count), sort_keys=False), encoding="utf-8")
    return path
