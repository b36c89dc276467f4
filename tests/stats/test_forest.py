"""The forest plot's layout: title, legend, axis and row labels never overlap, whatever the names."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from medpair_stats.forest import write_forest_plot
from medpair_stats.records import ComparisonRecord, finalize_records

LONG_MEDICAL = "/tmp/pytest-of-someone/pytest-12/test_demo_runs_offline_from_sc0/demo_out/demo/models/medical"
LONG_BASE = "/tmp/pytest-of-someone/pytest-12/test_demo_runs_offline_from_sc0/demo_out/demo/models/base"


def _record(diff: float, dataset: str, shots: int, medical: str, base: str) -> ComparisonRecord:
    low, high = diff - 0.06, diff + 0.06
    return ComparisonRecord(
        medical=medical, base=base, dataset=dataset, setting=f"{shots}-shot", mode="mc", metric="acc",
        medical_prompt="f01", base_prompt="f00", n=100, medical_score=0.5 + diff, base_score=0.5, diff=diff,
        ci_low=low, ci_high=high, p_value=0.01, p_adjusted=float("nan"), mcnemar_p=0.01, mde=0.1,
        outcome="win" if low > 0 else "loss" if high < 0 else "tie", outcome_adjusted="tie",
        selection="per-model", clustered=False, shots=shots, filter="none", n_clusters=100, se=0.03, b=10, c=5,
        medical_val_score=0.6, base_val_score=0.5, n_val=50, selection_aware=False, ci_low_plain=low,
        ci_high_plain=high, confidence=0.95, n_resamples=1000, ci_method="percentile", seed=1)


def _demo_like() -> list[ComparisonRecord]:
    return [_record(0.3 * (ds == "medqa"), ds, k, "demo-medical", "demo-base")
            for ds in ("medqa", "mmlu_anatomy") for k in (0, 3)]


def _long_names() -> list[ComparisonRecord]:
    return [_record(0.05 * (k - 1), ds, k, LONG_MEDICAL, LONG_BASE) for ds in ("medqa", "pubmedqa") for k in (0, 3)]


def _many_pairs() -> list[ComparisonRecord]:
    pairs = [(f"organisation/medical-model-with-a-rather-long-name-{i}", f"organisation/base-model-{i}") for i in range(3)]
    return [_record(0.01 * (j % 9 - 4), f"dataset_{j % 5}", j % 4, *pairs[j % 3]) for j in range(60)]


def _drawn_figure(records: list[ComparisonRecord], path: Path, monkeypatch: pytest.MonkeyPatch) -> Figure:
    """Write the plot through the public writer and hand back the figure it saved, drawn."""
    saved: list[Figure] = []
    original = Figure.savefig

    def keep(fig: Figure, *args, **kwargs):
        saved.append(fig)
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    write_forest_plot(finalize_records(records, "holm"), path)
    (fig,) = saved
    fig.canvas.draw()
    return fig


def _drawn_tick_labels(fig: Figure) -> list[Text]:
    """The tick labels matplotlib draws: non-empty, at a tick inside the axis' view limits."""
    drawn = []
    for axes in fig.axes:
        for labels, (low, high), coord in ((axes.get_xticklabels(), axes.get_xlim(), 0),
                                           (axes.get_yticklabels(), axes.get_ylim(), 1)):
            drawn += [t for t in labels if t.get_text().strip() and low <= t.get_position()[coord] <= high]
    return drawn


def _boxes(fig: Figure) -> list[tuple[str, Bbox]]:
    """Each legend as one box, every drawn tick label and every other visible, non-empty text (display pixels)."""
    renderer = fig.canvas.get_renderer()
    legends = fig.findobj(Legend)
    ticks = {id(t) for axes in fig.axes for t in (*axes.get_xticklabels(), *axes.get_yticklabels())}
    skip = ticks | {id(t) for legend in legends for t in legend.findobj(Text)}
    texts = [t for t in fig.findobj(Text) if id(t) not in skip and t.get_visible() and t.get_text().strip()]
    boxes = [(f"legend {i}", legend.get_window_extent(renderer)) for i, legend in enumerate(legends)]
    return boxes + [(repr(t.get_text()), t.get_window_extent(renderer)) for t in texts + _drawn_tick_labels(fig)]


def _overlap(one: Bbox, two: Bbox, slack: float = 0.5) -> bool:
    return (one.x0 < two.x1 - slack and two.x0 < one.x1 - slack
            and one.y0 < two.y1 - slack and two.y0 < one.y1 - slack)


@pytest.mark.parametrize("records", [_demo_like(), _long_names(), _many_pairs()], ids=["demo", "long-names", "many-rows"])
def test_texts_and_legend_never_overlap_and_stay_inside(records, tmp_path: Path, monkeypatch) -> None:
    fig = _drawn_figure(records, tmp_path / "forest.png", monkeypatch)
    boxes = _boxes(fig)
    assert any(name.startswith("'Medical vs base") for name, _ in boxes), "the plot has a title"
    assert any(name.startswith("legend") for name, _ in boxes), "the plot has a legend"
    frame = fig.bbox
    for name, box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, \
            f"{name} leaves the figure: {box.bounds} not in {frame.bounds}"
    clashes = [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if _overlap(box_a, box_b)]
    assert not clashes, f"overlapping texts: {clashes[:5]}"
    (axes,) = fig.axes
    plotted = axes.get_window_extent()
    covering = [name for name, box in boxes if (name.startswith("legend") or "Medical vs base" in name)
                and _overlap(box, plotted)]
    assert not covering, f"{covering} covers the plotting area"


def test_long_title_is_wrapped_not_cut(tmp_path: Path, monkeypatch) -> None:
    """The full pair name is in the title, over several lines when it is long."""
    fig = _drawn_figure(_long_names(), tmp_path / "forest.png", monkeypatch)
    (title,) = [t.get_text() for t in fig.findobj(Text) if t.get_text().startswith("Medical vs base")]
    expected = f"Medical vs base: {LONG_MEDICAL} − {LONG_BASE}"
    assert "".join(title.split()) == "".join(expected.split())
    assert "\n" in title
