"""Scenarios of N complete movements Tashkent → Poti, for measuring how a run's cost grows with its traffic.

The movements are generated traffic (a `traffic:` flow, nodes/customs/traffic.py), in the shape of the
pilot's M1 (scenarios/aze-geo-uzb-transit.yaml): declared at Tashkent (UZ000100), presented at the
three offices of transit (Alat port AZ000210, Red Bridge AZ000310 and GE000110), notified at Poti
(GE000510), controlled with seals intact and so released and written off: 6 steps and 19 messages
each. A declaration is lodged every `INTERVAL` on average and a movement takes about three days, so
a run of N movements has many of them under way at once, as a corridor has. The administrations,
offices and traders are the pilot's own; only the guarantee's reference amount is raised so that
every movement under way fits under it. The seed is fixed: every size runs the same kind of work.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["FLOW", "PILOT", "STEPS_PER_MOVEMENT", "movement_key", "movements_scenario", "write_movements_scenario"]

PILOT = Path(__file__).resolve().parent.parent / "scenarios" / "aze-geo-uzb-transit.yaml"
FLOW = "bench"
HOLDER = "UZ301234567001"
GUARANTEE = "26UZ0009000000011"
INTERVAL = "10m"
STEPS_PER_MOVEMENT = 6


def movement_key(number: int) -> str:
    """The key of the flow's `number`th movement (1-based), as the traffic generator names it."""
    return f"{FLOW}-{number:05d}"


def movements_scenario(count: int, pilot: Path = PILOT) -> dict[str, Any]:
    """The scenario as data: the pilot's nodes, a flow of `count` movements, and where they must end."""
    source = yaml.safe_load(pilot.read_text(encoding="utf-8"))
    nodes = copy.deepcopy(source["nodes"])
    for guarantee in nodes["uz"]["guarantees"]:
        if guarantee["grn"] == GUARANTEE:
            guarantee["reference_amount"] = "1000000000.00"
    item = source["movements"]["M1"]["items"][0]
    flow = {
        "movements": count,
        "start": "2026-03-02T08:00:00Z",
        "interval": INTERVAL,
        "departure": "UZ000100",
        "transit": ["AZ000210", "AZ000310", "GE000110"],
        "destination": "GE000510",
        "route": ["UZ", "TM", "AZ", "GE"],
        "legs": ["2d", "12h", "2h", "10h"],
        "holders": [HOLDER],
        "consignees": ["GE204512345"],
        "goods": [{"description": item["description"], "hs": item["hs"], "gross_kg": item["gross_kg"],
                   "packages": item["packages"]["type"]}],
        "amount": "40000.00",
    }
    return {
        "scenario": f"bench-{count}-movements",
        "title": f"{count} movements Tashkent -> Poti, three offices of transit each, to write-off",
        "start": source["start"],
        "pki": source.get("pki", {}),
        "nodes": nodes,
        "traffic": {"seed": 13, "flows": {FLOW: flow}},
        "expect": {
            "traffic": {FLOW: {"departure": {"WrittenOff": count}, "destination": {"GoodsReleased": count},
                               "transit": {"Passed": count}}},
            "guarantees": {GUARANTEE: {"reserved": "0.00"}},
            "deliveries": {"failed": 0},
        },
    }


def write_movements_scenario(count: int, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{count}-movements.yaml"
    path.write_text(yaml.safe_dump(movements_scenario(count), sort_keys=False), encoding="utf-8")
    return path
