"""How much running movements side by side could speed a run up, bounded from its own event log.

The driver takes a scenario's steps one after another and waits, after each, until nothing is in flight: a
step's cascade of messages happens at the step's virtual instant, and every node sees its inputs in one
order. That order is what makes a run repeat exactly from its seed (MRNs are numbered per office, a
guarantee's balance is drawn in turn). Steps of different movements could run at the same time, on several
cores, and keep it only while no node sees two cascades interleaved: each node would still take its
steps one at a time, in the scenario's order.

    python -m bench.concurrency RUN_DIR

replays the steps of a finished run (RUN_DIR/events.jsonl) under exactly that rule and nothing else, on as
many cores as there are steps. A step holds every node its cascade touched (the node that acted, and the
sender and recipient of each message logged after it) for a time in proportion to its work (its messages,
plus one for the action), and starts as soon as those nodes and its movement's previous step are free. A
step that names no node (a drill, a fault, a note) waits for everything before it and holds every node.
Total work over that schedule's length is the most such concurrency could give, before the hub, which is
in every cascade, or the cost of coordinating steps is counted. The busiest node's share of the work gives
a second, simpler bound: its steps run one at a time whatever the rest does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Bound", "StepFootprint", "bound", "main", "read_footprints"]


@dataclass(frozen=True)
class StepFootprint:
    """One step of a run: the nodes its cascade touched and the messages it caused."""

    index: int
    movement: str | None
    nodes: frozenset[str]  # empty: the step named no node, and holds every node
    messages: int

    @property
    def work(self) -> int:
        return self.messages + 1  # the action itself costs about one message's work


@dataclass(frozen=True)
class Bound:
    """What running non-interleaving steps side by side could give a run at most."""

    steps: int
    work: int
    span: int  # the length of the schedule on unlimited cores, in the same units as `work`
    busiest_node: str
    busiest_work: int  # the work of every step that touched the busiest node

    @property
    def speed_up(self) -> float:
        return self.work / self.span

    @property
    def busiest_share(self) -> float:
        return self.busiest_work / self.work


def read_footprints(events: Path) -> list[StepFootprint]:
    """Each step of the event log with the nodes of the messages logged after it, up to the next step."""
    footprints: list[StepFootprint] = []
    step: dict | None = None
    nodes: set[str] = set()
    messages = 0
    with events.open(encoding="utf-8") as log:
        for line in log:
            entry = json.loads(line)
            if entry["kind"] == "step":
                if step is not None:
                    footprints.append(_footprint(step, nodes, messages))
                step, nodes, messages = entry, set(), 0
            elif entry["kind"] == "message" and step is not None:
                nodes.update((entry["sender"], entry["recipient"]))
                messages += 1
    if step is not None:
        footprints.append(_footprint(step, nodes, messages))
    return footprints


def _footprint(step: dict, nodes: set[str], messages: int) -> StepFootprint:
    movement = step.get("arguments", {}).get("movement")
    held = frozenset(nodes | {step["node"]}) if step.get("node") else frozenset()
    return StepFootprint(step["index"], movement if isinstance(movement, str) else None, held, messages)


def bound(footprints: Sequence[StepFootprint]) -> Bound:
    """The schedule on unlimited cores in which no node takes two steps at once, nor out of their order."""
    every_node = frozenset().union(*(footprint.nodes for footprint in footprints))
    free_at: dict[str, int] = defaultdict(int)  # when each node has finished the steps it took so far
    movement_done: dict[str, int] = {}
    node_work: Counter[str] = Counter()
    span = 0
    for footprint in footprints:
        held = footprint.nodes or every_node
        # a step that names no node holds every node, so it also waits for everything before it
        start = max([free_at[node] for node in held] + [movement_done.get(footprint.movement or "", 0)])
        end = start + footprint.work
        for node in held:
            free_at[node] = end
            node_work[node] += footprint.work
        if footprint.movement:
            movement_done[footprint.movement] = end
        span = max(span, end)
    busiest, busiest_work = node_work.most_common(1)[0] if node_work else ("-", 0)
    work = sum(footprint.work for footprint in footprints)
    return Bound(len(footprints), work, span, busiest, busiest_work)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a run's output directory (the one holding events.jsonl)")
    args = parser.parse_args(argv)
    events = args.run / "events.jsonl"
    if not events.is_file():
        print(f"no events.jsonl in {args.run}: give the directory a run wrote (caravan run --out DIR)",
              file=sys.stderr)
        return 2
    result = bound(read_footprints(events))
    if not result.steps:
        print(f"{events} holds no steps", file=sys.stderr)
        return 2
    print(f"{result.steps} steps, {result.work} units of work (messages + actions)")
    print(f"on unlimited cores, no node taking two steps at once: {result.span} units, "
          f"at most {result.speed_up:.2f} times faster than one step after another")
    print(f"busiest node {result.busiest_node}: {100 * result.busiest_share:.1f} % of the work, "
          f"so at most {1 / result.busiest_share:.2f} times")
    return 0


if __name__ == "__main__":
    sys.exit(main())
