"""What a scenario costs as its movements grow: wall time of whole runs, and optionally a profile.

    .venv/bin/python bench/state_cost.py                      # the pilot, then 10 and 30 generated movements
    .venv/bin/python bench/state_cost.py --movements 40 --profile out/bench/state.prof
    .venv/bin/python bench/state_cost.py --movements 30 --only-generated --repeat 3

A generated scenario takes the pilot's three countries (UZ, AZ, GE) and sends N complete movements from
Tashkent to Poti, each crossing three offices of transit (Alat, Red Bridge AZ, Red Bridge GE), arriving,
controlled and written off: 19 messages per movement. Every movement ends WrittenOff, GoodsReleased and
Passed, and the scenario expects exactly that, so a fast run that lost a message is no result.

Each run goes through `caravan run` in this process (hub and nodes on loopback, real TLS, signatures and
validation), timed with the wall clock and with the CPU time the process used (every thread, including
SQLite's). On a shared machine wall time moves with the other users' load; CPU time much less, so it is
the figure to compare between two versions. Repeat runs and read the spread, not one number.
`--profile FILE` writes a cProfile of the last run (read it with `python -m pstats FILE`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from exchange.cli import main as caravan

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "scenarios" / "aze-geo-uzb-transit.yaml"
TRANSIT_OFFICES = ("AZ000210", "AZ000310", "GE000110")
NODE_OF_OFFICE = {"AZ000210": "az", "AZ000310": "az", "GE000110": "ge"}
MESSAGES_PER_MOVEMENT = 19  # CC015C CC928C CC028C CD203C CD205C CC029C 3×CD050C CD001C 3×CD118C CC007C CD006C
#                             CC025C CD018C CC045C CD204C


def generated_scenario(movements: int) -> dict[str, Any]:
    """The pilot's nodes with `movements` UZ → GE movements, every one of them completed."""
    pilot = yaml.safe_load(PILOT.read_text(encoding="utf-8"))
    for guarantee in pilot["nodes"]["uz"]["guarantees"]:
        guarantee["reference_amount"] = "100000000.00"  # room for every movement at once
    start = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
    template = pilot["movements"]["M1"]
    scenario: dict[str, Any] = {
        "scenario": f"generated-{movements}",
        "title": f"{movements} movements Tashkent -> Poti",
        "start": "2026-03-02T06:00:00Z",
        "pki": pilot["pki"],
        "nodes": pilot["nodes"],
        "movements": {},
        "steps": [],
        "expect": {"movements": {}, "deliveries": {"failed": 0}},
    }
    steps: list[tuple[datetime, dict[str, Any]]] = []
    for number in range(1, movements + 1):
        key = f"G{number}"
        movement = {k: v for k, v in template.items() if k not in ("title", "leg_outside")}
        movement["title"] = f"Generated movement {number}"
        movement["lrn"] = f"UZ26GEN{number:07d}"
        movement["transit"] = [{"office": office} for office in TRANSIT_OFFICES]
        movement["equipment"] = [{"container": "MSKU1234565", "seals": [f"UZ-GEN-{number:06d}"]}]
        movement["guarantee"] = {**template["guarantee"], "amount": "2000.00"}
        scenario["movements"][key] = movement
        scenario["expect"]["movements"][key] = {
            "departure": "WrittenOff", "destination": "GoodsReleased", "transit": "Passed",
        }
        offset = timedelta(minutes=2 * number)
        steps.append((start + offset, {"node": "uz", "do": "declare", "movement": key}))
        for day, office in enumerate(TRANSIT_OFFICES, start=1):
            at = start + timedelta(days=day) + offset
            steps.append((at, {"node": NODE_OF_OFFICE[office], "do": "present_at_transit", "movement": key,
                               "office": office}))
        arrival = start + timedelta(days=4) + offset
        steps.append((arrival, {"node": "ge", "do": "notify_arrival", "movement": key}))
        steps.append((arrival + timedelta(hours=1), {"node": "ge", "do": "record_control", "movement": key,
                                                     "seals_ok": True}))
    for at, step in sorted(steps, key=lambda pair: pair[0]):
        scenario["steps"].append({"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), **step})
    return scenario


def timed_run(scenario: Path, out: Path, profile: Path | None) -> tuple[float, float]:
    """Seconds of wall time and of CPU time for one `caravan run`; exits if its expectations do not hold."""
    arguments = ["run", str(scenario), "--out", str(out)]
    profiler = cProfile.Profile() if profile else None
    began, began_cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        code = profiler.runcall(caravan, arguments)
    else:
        code = caravan(arguments)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
    if profiler is not None and profile is not None:
        profile.parent.mkdir(parents=True, exist_ok=True)
        profiler.dump_stats(str(profile))
    if code != 0:
        sys.exit(f"{scenario.name}: caravan run exited {code}; the timing is no result")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--movements", type=int, nargs="*", default=[10, 30])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only-generated", action="store_true", help="skip the pilot")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile of the last run to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caravan-bench-") as scratch:
        work = Path(scratch)
        runs: list[tuple[str, Path, int | None]] = [] if args.only_generated else [("pilot", PILOT, None)]
        for count in args.movements:
            path = work / f"generated-{count}.yaml"
            path.write_text(yaml.safe_dump(generated_scenario(count), sort_keys=False), encoding="utf-8")
            runs.append((f"{count} movements", path, count))
        rows = []
        for index, (name, path, count) in enumerate(runs):
            times = []
            for attempt in range(args.repeat):
                last = index == len(runs) - 1 and attempt == args.repeat - 1
                out = work / f"run-{index}-{attempt}"
                with contextlib.redirect_stdout(io.StringIO()):
                    times.append(timed_run(path, out, args.profile if last else None))
            messages = count * MESSAGES_PER_MOVEMENT if count else None
            rows.append((name, messages, times))
    print(f"{'run':<16}{'messages':>10}{'wall s':>9}{'cpu s':>8}{'msg/s':>8}  all runs (wall/cpu)")
    for name, messages, times in rows:
        wall, cpu = min(t[0] for t in times), min(t[1] for t in times)
        rate = f"{messages / wall:.1f}" if messages else "-"
        print(f"{name:<16}{messages or '-':>10}{wall:>9.1f}{cpu:>8.1f}{rate:>8}  "
              + " ".join(f"{t[0]:.1f}/{t[1]:.1f}" for t in times))


if __name__ == "__main__":
    main()
