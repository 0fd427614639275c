"""Small traffic scenarios for tests: the shipped corridor scenario, cut down to a run of seconds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORRIDOR = ROOT / "scenarios" / "corridor-traffic.yaml"
SOURCE = yaml.safe_load(CORRIDOR.read_text(encoding="utf-8"))


def small_corridor(seed: int = 2026, *, eastbound: int = 2, broken: float = 0.0,
                   expect: dict[str, Any] | None = None) -> dict[str, Any]:
    """The corridor scenario with one small eastbound flow and no scripted movement: a run of seconds."""
    scenario = copy.deepcopy(SOURCE)
    flow = scenario["traffic"]["flows"]["tashkent-poti"]
    flow.update(movements=eastbound, seal_discrepancies=broken, interval="30m")
    flow.pop("daily")
    flow.pop("resolve_after")
    scenario["traffic"] = {"seed": seed, "flows": {"tashkent-poti": flow}}
    scenario.pop("movements")
    scenario["steps"] = [{"at": "2026-03-02T06:00:00Z", "do": "note", "text": "a scripted step beside the traffic"}]
    scenario["expect"] = {"traffic": {"tashkent-poti": expect or {"departure": {"WrittenOff": eastbound},
                                                                  "destination": {"GoodsReleased": eastbound}}}}
    return scenario


def write(tmp_path: Path, scenario: dict[str, Any], name: str = "traffic.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(scenario, sort_keys=False), encoding="utf-8")
    return path
