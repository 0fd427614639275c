"""Corridor figures as people read them: terminal tables, CSV and Markdown files, and one PNG plot.

`write_figures` writes into OUT:

- `corridors.csv`, `crossings.csv`, `legs.csv`: one row per distribution (n, p50, p90, max in hours);
- `movements.csv`: one row per movement (corridor, declared, controlled, hours end to end);
- `figures.md`: the three tables in Markdown, for a README or a report;
- `figures.png`: box plots of end-to-end time per corridor and of border-crossing time per country
  pair, drawn by matplotlib with its Agg backend (no display needed, the same image on any machine).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from nodes.customs.figures import CorridorFigures, Distribution

__all__ = ["figure_files", "terminal_text", "write_figures"]

HEADER = ["what", "kind", "movements", "p50 h", "p90 h", "max h"]
SECTIONS = (("End to end, per corridor", "corridors"), ("Border crossings, per country pair", "crossings"),
            ("Legs and time at offices", "legs"))


def _rows(distributions: Sequence[Distribution]) -> list[list[str]]:
    return [[d.what, d.kind, str(d.count), f"{d.p50:.1f}", f"{d.p90:.1f}", f"{d.max:.1f}"] for d in distributions]


def _summary(figures: CorridorFigures) -> str:
    complete = len(figures.movements) - figures.incomplete
    return (f"{figures.scenario}: {len(figures.movements)} movements, {complete} controlled at destination, "
            f"{figures.incomplete} not (left out of end-to-end times); hours of scenario time, "
            "nearest-rank percentiles")


def _shortfall(figures: CorridorFigures) -> list[str]:
    """A line before the summary when the run did not finish: its figures are not those of the whole run."""
    if figures.shortfall is None:
        return []
    return [f"The run did not finish: {figures.shortfall}. These figures are of what it did until then."]


def terminal_text(figures: CorridorFigures) -> str:
    """The three tables in fixed-width columns, for the terminal."""
    lines = [*_shortfall(figures), _summary(figures)]
    for title, attribute in SECTIONS:
        rows = _rows(getattr(figures, attribute))
        lines += ["", title]
        if not rows:
            lines.append("  (none)")
            continue
        widths = [max(len(row[column]) for row in [HEADER, *rows]) for column in range(len(HEADER))]
        for row in [HEADER, *rows]:
            cells = [cell.ljust(width) if column < 2 else cell.rjust(width)
                     for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
            lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def _markdown(figures: CorridorFigures) -> str:
    lines = [f"# Corridor figures: {figures.scenario}", ""]
    lines += [part for line in _shortfall(figures) for part in (f"**{line}**", "")]
    lines.append(_summary(figures) + ".")
    for title, attribute in SECTIONS:
        lines += ["", f"## {title}", "", "| " + " | ".join(HEADER) + " |", "|---|---|---:|---:|---:|---:|"]
        lines += ["| " + " | ".join(row) + " |" for row in _rows(getattr(figures, attribute))]
    lines += ["", "![End to end per corridor, border crossings per country pair](figures.png)", ""]
    return "\n".join(lines)


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _plot(figures: CorridorFigures, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    from matplotlib import pyplot

    panels = [(title, distributions) for title, distributions in (
        ("End to end, per corridor", figures.corridors), ("Border crossings, per country pair", figures.crossings),
    ) if distributions]
    figure, axes = pyplot.subplots(1, max(1, len(panels)), figsize=(6 * max(1, len(panels)), 4.5), squeeze=False)
    for axis, (title, distributions) in zip(axes[0], panels, strict=False):
        axis.boxplot([d.hours for d in distributions], whis=(0, 100), usermedians=[d.p50 for d in distributions])
        axis.set_xticks(range(1, len(distributions) + 1), [f"{d.what}\n(n={d.count})" for d in distributions])
        axis.set_title(title)
        axis.set_ylabel("hours (scenario time)")
        axis.grid(axis="y", alpha=0.3)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no movement reached its destination", ha="center", va="center")
        axes[0][0].set_axis_off()
    figure.suptitle(f"{figures.scenario}: line p50 (as in the tables), box p25-p75, whiskers min-max")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def figure_files(out: Path) -> list[Path]:
    """The files `write_figures` writes in `out`, in the order it writes them."""
    return [*(out / f"{attribute}.csv" for _, attribute in SECTIONS), out / "movements.csv", out / "figures.md",
            out / "figures.png"]


def write_figures(figures: CorridorFigures, out: Path) -> list[Path]:
    """Every file of the figures in `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    *tables, movements, markdown, plot = figure_files(out)
    for (_, attribute), path in zip(SECTIONS, tables, strict=True):
        _write_csv(path, HEADER, _rows(getattr(figures, attribute)))
    _write_csv(movements, ["movement", "corridor", "declared", "controlled", "hours"], [
        [m.movement, m.corridor, m.declared.isoformat(), m.controlled.isoformat() if m.controlled else "",
         "" if m.hours is None else f"{m.hours:.2f}"] for m in figures.movements])
    markdown.write_text(_markdown(figures), encoding="utf-8")
    _plot(figures, plot)
    return [*tables, movements, markdown, plot]
