"""Scenarios of N complete movements Tashkent → Poti, for measuring how a run's cost grows with its traffic.

Each movement has the shape of the pilot's M1 (scenarios/aze-geo-uzb-transit.yaml): declared at
Tashkent (UZ000100), presented at the three offices of transit (Alat port AZ000210, Red Bridge AZ000310
and GE000110), notified at Poti (GE000510), controlled with seals intact and so released and written
off. The administrations, offices and traders are the pilot's own; only the guarantee's reference
amount is raised so that N movements fit under it. Every movement's steps follow the previous one's,
a minute apart, so a run of N movements is N times the same work.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["PILOT", "STEPS_PER_MOVEMENT", "movements_scenario", "write_movements_scenario"]

PILOT = Path(__file__).resolve().parent.parent / "scenarios" / "aze-geo-uzb-transit.yaml"
TEMPLATE = "M1"
GUARANTEE = "26UZ0009000000011"
STEPS_PER_MOVEMENT = 6


def movements_scenario(count: int, pilot: Path = PILOT) -> dict[str, Any]:
    """The scenario as data: the pilot's nodes, `count` copies of M1 and their steps, and what must hold."""
    source = yaml.safe_load(pilot.read_text(encoding="utf-8"))
    nodes = copy.deepcopy(source["nodes"])
    for guarantee in nodes["uz"]["guarantees"]:
        if guarantee["grn"] == GUARANTEE:
            guarantee["reference_amount"] = "1000000000.00"
    template = {name: value for name, value in source["movements"][TEMPLATE].items() if name != "title"}
    movements: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    for n in range(1, count + 1):
        key = f"B{n:05d}"
        movement = copy.deepcopy(template)
        movement["lrn"] = f"UZ26BEN{n:07d}"
        movement["equipment"][0]["seals"] = [f"UZ-BEN-{n:06d}"]
        movements[key] = movement
        steps += [
            {"at": "+1m", "node": "uz", "do": "declare", "movement": key},
            *({"at": "+1m", "node": node, "do": "present_at_transit", "movement": key, "office": office}
              for node, office in (("az", "AZ000210"), ("az", "AZ000310"), ("ge", "GE000110"))),
            {"at": "+1m", "node": "ge", "do": "notify_arrival", "movement": key},
            {"at": "+1m", "node": "ge", "do": "record_control", "movement": key, "seals_ok": True},
        ]
    steps[0]["at"] = "2026-03-02T08:00:00Z"
    return {
        "scenario": f"bench-{count}-movements",
        "title": f"{count} movements Tashkent -> Poti, three offices of transit each, to write-off",
        "start": source["start"],
        "pki": source.get("pki", {}),
        "nodes": nodes,
        "movements": movements,
        "steps": steps,
        "expect": {
            "movements": {key: {"departure": "WrittenOff", "destination": "GoodsReleased", "transit": "Passed"}
                          for key in movements},
            "guarantees": {GUARANTEE: {"reserved": "0.00"}},
            "deliveries": {"failed": 0},
        },
    }


def write_movements_scenario(count: int, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{count}-movements.yaml"
    path.write_text(yaml.safe_dump(movements_scenario(count), sort_keys=False), encoding="utf-8")
    return path
