"""Forest plot of the paired differences and their intervals, by dataset.

Drawn with matplotlib's Agg canvas directly (no pyplot state, no global
backend switch) and saved without the ``Software`` PNG text chunk, so the
same records give the same bytes.

Layout: the title (wrapped to the figure's width) on top, the rows' labels on
the left, the outcome legend below the x-axis label. Matplotlib's constrained
layout keeps them apart, and the figure grows with the longest row label and
the number of rows, so no two texts overlap whatever the model names.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .records import ComparisonRecord
from .report import sort_records

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["OUTCOME_COLOURS", "forest_figure", "write_forest_plot"]

OUTCOME_COLOURS = {"win": "#1b7837", "tie": "#6b6b6b", "loss": "#b2182b"}

DATA_WIDTH_IN = 5.5
"""Width of the plotting area, in inches; the figure adds the labels' width to it."""
MIN_WIDTH_IN = 9.0
ROW_HEIGHT_IN = 0.28
FRAME_HEIGHT_IN = 1.9
"""Height of the title, x-axis and legend bands, in inches (the title's extra lines are added)."""
MARGIN_IN = 0.3
LABEL_SIZE = 8
TITLE_SIZE = 10
LEGEND_SIZE = 8
INDENT = "    "
"""Indentation of a record's label under its dataset's (bold) label."""


def _rows(records: Sequence[ComparisonRecord]) -> list[tuple[str, ComparisonRecord | None]]:
    """The plot's rows top to bottom: a dataset's label (no record), then its records."""
    recs = sorted(sort_records(records), key=lambda r: r.dataset)
    multi_pair = len({(r.medical, r.base) for r in recs}) > 1
    rows: list[tuple[str, ComparisonRecord | None]] = []
    for dataset in sorted({r.dataset for r in recs}):
        rows.append((dataset, None))
        for rec in (r for r in recs if r.dataset == dataset):
            name = f"{rec.setting} {rec.mode} {rec.metric}"
            rows.append((INDENT + (f"{rec.medical} vs {rec.base}, {name}" if multi_pair else name), rec))
    return rows


def _title(records: Sequence[ComparisonRecord]) -> str:
    pairs = sorted({(r.medical, r.base) for r in records})
    return f"Medical vs base: {pairs[0][0]} − {pairs[0][1]}" if len(pairs) == 1 else "Medical vs base"


def _draw_rows(axes: Axes, rows: list[tuple[str, ComparisonRecord | None]]) -> None:
    """One interval and point per record at y = -row; a thin rule above each dataset."""
    for row, (_, rec) in enumerate(rows):
        if rec is None:
            axes.axhline(-row + 0.5, color="#dddddd", linewidth=0.8)
            continue
        colour = OUTCOME_COLOURS.get(rec.outcome, "#000000")
        low, high = min(rec.ci_low, rec.diff), max(rec.ci_high, rec.diff)
        axes.plot([low, high], [-row, -row], color=colour, linewidth=1.6, solid_capstyle="butt")
        axes.plot([rec.diff], [-row], marker="s", color=colour, markersize=5)
    axes.axvline(0.0, color="#000000", linewidth=0.8, linestyle="--")
    axes.set_yticks([-row for row in range(len(rows))])
    axes.set_yticklabels([label for label, _ in rows], fontsize=LABEL_SIZE)
    for tick, (_, rec) in zip(axes.get_yticklabels(), rows):
        if rec is None:
            tick.set_fontweight("bold")
    axes.set_ylim(-len(rows) + 0.4, 0.8)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.6)


def _fit(fig: Figure, axes: Axes, title: str) -> None:
    """Widen the figure for the longest row label, then wrap the title to the figure's width."""
    renderer = fig.canvas.get_renderer()
    label_in = max((t.get_window_extent(renderer).width for t in axes.get_yticklabels()), default=0.0) / fig.dpi
    width = max(MIN_WIDTH_IN, DATA_WIDTH_IN + label_in + 2 * MARGIN_IN)
    text = fig.suptitle(title, fontsize=TITLE_SIZE, x=MARGIN_IN / width, horizontalalignment="left")
    chars = len(title)
    while text.get_window_extent(renderer).width / fig.dpi > width - 2 * MARGIN_IN and chars > 10:
        chars = int(chars * 0.9)
        text.set_text("\n".join(textwrap.wrap(title, chars, break_on_hyphens=False)))
    extra_lines = text.get_text().count("\n")
    fig.set_size_inches(width, fig.get_figheight() + extra_lines * TITLE_SIZE * 1.4 / 72)


def forest_figure(records: Sequence[ComparisonRecord], *, dpi: int = 110) -> Figure:
    """The forest plot of ``records`` (diff with interval, grouped by dataset) as a matplotlib Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    rows = _rows(records)
    fig = Figure(figsize=(MIN_WIDTH_IN, FRAME_HEIGHT_IN + ROW_HEIGHT_IN * max(len(rows), 1)), dpi=dpi,
                 layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.add_subplot(1, 1, 1)
    _draw_rows(axes, rows)
    conf = f"{100 * records[0].confidence:g}% " if records else ""
    axes.set_xlabel(f"difference in mean score (medical − base), {conf}interval")
    handles = [Line2D([0], [0], color=c, marker="s", linewidth=1.6, label=k) for k, c in OUTCOME_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=LEGEND_SIZE, frameon=False)
    _fit(fig, axes, _title(records))
    return fig


def write_forest_plot(records: Sequence[ComparisonRecord], path: Path, *, dpi: int = 110) -> None:
    """Save a forest plot of ``records`` (diff with interval, grouped by dataset) as PNG."""
    forest_figure(records, dpi=dpi).savefig(Path(path), format="png", metadata={"Software": None})
