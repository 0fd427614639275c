"""Two versions of caravan on one scenario, run in alternating pairs: how a change is measured on a drifting host.

    .venv/bin/python -m bench.ab REV [--countries 11] [--movements 100] [--pairs 6] [--out out/bench-ab]

The host's speed drifts by up to a factor of two within an hour (docs/bench-history.md, sessions 8 and 9): a share of
the ceiling taken now and one taken an hour ago cannot show a 10 % change. Two versions run in turn can: each
pair sees the same stretch of the host, and the pairs' medians compare.

REV (any git revision) is written out with `git archive` into OUT/REV and run from there with this interpreter,
so its own `exchange` and `nodes` shadow the installed ones; its dependencies are this environment's (a
revision that needs others cannot be compared this way). Both versions run the same scenario file, written by
this tree's writer, as `caravan run` runs it, their bytecode written beforehand; a run's CPU is its process's
user + system time from `wait4`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.run import ROOT, SCENARIO_WRITERS, compile_packages

__all__ = ["Pair", "ab_report", "main"]


@dataclass(frozen=True)
class Pair:
    """CPU seconds of one run of each version, the revision's first."""

    before_s: float
    after_s: float


def ab_report(revision: str, pairs: Sequence[Pair]) -> str:
    """The pairs as a Markdown table, and the medians' change."""
    lines = [f"| pair | {revision} (CPU s) | this tree (CPU s) | change |", "|---:|---:|---:|---:|"]
    rows = [(str(number), pair.before_s, pair.after_s) for number, pair in enumerate(pairs, 1)]
    rows.append(("median", statistics.median(pair.before_s for pair in pairs),
                 statistics.median(pair.after_s for pair in pairs)))
    for name, before, after in rows:
        lines.append(f"| {name} | {before:.2f} | {after:.2f} | {100 * (after - before) / before:+.1f} % |")
    return "\n".join(lines)


def _run(tree: Path, scenario: Path, out: Path) -> float:
    """CPU seconds of one `caravan run` of `scenario` with the code in `tree`; SystemExit if the run fails."""
    shutil.rmtree(out, ignore_errors=True)
    log = out.with_suffix(".txt")
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "exchange.cli", "run", str(scenario), "--out", str(out)],
                                   cwd=tree, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the run in {tree} failed; its output: {log}")
    return usage.ru_utime + usage.ru_stime


def _checkout(revision: str, out: Path) -> Path:
    """`revision`'s files under OUT/REVISION, written afresh; SystemExit naming what git said."""
    tree = out / revision.replace("/", "_")
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {revision}: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the git revision to compare this tree with (e.g. main, aa200be)")
    parser.add_argument("--countries", type=int, choices=sorted(SCENARIO_WRITERS), default=11)
    parser.add_argument("--movements", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench-ab")
    args = parser.parse_args(argv)
    if args.movements < 1 or args.pairs < 1:
        parser.error("--movements and --pairs: give whole numbers, 1 or more")
    out = args.out.resolve()
    before_tree = _checkout(args.revision, out)
    for tree in (before_tree, ROOT):  # neither side pays for compiling its modules in its runs
        compile_packages(tree)
    scenario = SCENARIO_WRITERS[args.countries](args.movements, out)
    pairs = []
    for number in range(1, args.pairs + 1):
        started = time.perf_counter()
        pair = Pair(_run(before_tree, scenario, out / "before"), _run(ROOT, scenario, out / "after"))
        print(f"pair {number}: {pair.before_s:.2f} -> {pair.after_s:.2f} CPU s "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        pairs.append(pair)
    print()
    print(f"{args.movements} movements across {args.countries} countries, {args.pairs} pairs, {args.revision} first:")
    print(ab_report(args.revision, pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
