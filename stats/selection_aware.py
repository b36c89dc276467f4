"""Selection-aware bootstrap: resample the whole select-then-test procedure.

The plain interval treats the chosen prompts as fixed.  But the choice
itself depends on which validation items happened to be drawn; with many
nearly equal candidates, the winner on validation is partly luck, and a
rerun with other validation items could pick another candidate.  Here each bootstrap replicate

1. resamples the validation items (or their clusters) -- the same draw for
   both models, since they were validated on the same items --,
2. redoes the selection of each model on that resample (same tie rule:
   first candidate in tie-break order among the best), and
3. resamples the test items (paired, or their clusters) and takes the
   difference of the two selected candidates' test means.

The percentile interval of these replicates includes the luck of selection.

What it guarantees.  Validation and test items are disjoint, so the selected
pair's observed test difference ``D`` is unbiased for that pair's true
difference, and the plain interval already covers it.  The selection-aware
interval aims at the expected difference of the whole select-then-test
procedure (what a rerun with fresh validation items would give on average), so
a "win" means the *procedure* beats the base model, not only the pair it
happened to pick.  It is at least as wide as the plain interval and
conservative: in simulation it covers 97.7-99.7% (of the selected pair's true
difference and of the procedure's expected difference), 1.16-1.44 times as
wide as the plain interval, which covers the selected pair 93-96% but the
procedure's expected difference only 86% when the candidates differ.  The
excess comes from the width: the spread of the candidates' observed test
means is itself test noise and is counted on top of the test resampling.
Placing the same spread around the selected pair's difference ``D``
(``[D + q_lo - m, D + q_hi - m]``, ``m`` the replicates' median) keeps the width
and still covers 98.0-99.0%, so it is not used.  Figures:
``benchmarks/bench_selection_aware.py`` (also in the README).

Everything is vectorised over replicates (weights matrices times score
matrices), in blocks to bound memory.  It needs test scores of *every*
candidate for both models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .selection import TIE_TOLERANCE, CandidateScores

__all__ = ["SelectionAwareResult", "selection_aware_interval"]

_BLOCK = 1000


@dataclass(frozen=True)
class SelectionAwareResult:
    """Replicates and percentile interval of the select-then-test difference."""

    ci_low: float
    ci_high: float
    replicates: np.ndarray
    selected_diff: float
    """The observed test difference of the pair selected on all validation items (the one reported)."""
    n_resamples: int
    confidence: float


def _unit_index(items: Sequence[str], clusters: Sequence[str] | None) -> tuple[np.ndarray, int]:
    """Resampling unit of each item (its cluster, or itself)."""
    if clusters is None:
        return np.arange(len(items)), len(items)
    _, idx = np.unique(np.asarray(clusters, dtype=object).astype(str), return_inverse=True)
    return idx, int(idx.max()) + 1 if idx.size else 0


def _weights(rng: np.random.Generator, unit_of_item: np.ndarray, n_units: int, b: int) -> np.ndarray:
    """Item weights (B × n): how often each item's unit was drawn."""
    draws = rng.integers(0, n_units, size=(b, n_units))
    flat = (draws + (np.arange(b) * n_units)[:, None]).ravel()
    counts = np.bincount(flat, minlength=b * n_units).reshape(b, n_units).astype(np.float64)
    return counts[:, unit_of_item]


def _select(means: np.ndarray) -> np.ndarray:
    """Per row, the first column among the best (tie-break order = column order)."""
    best = means.max(axis=1, keepdims=True)
    return np.argmax(means >= best - TIE_TOLERANCE, axis=1)


def _reselect(means: np.ndarray, fallback: int) -> np.ndarray:
    """Per replicate the selected candidate; ``fallback`` where no candidate has a validation mean."""
    chosen = _select(np.nan_to_num(means, nan=-np.inf))
    chosen[np.isnan(means).all(axis=1)] = fallback
    return chosen


def _val_means(weights: np.ndarray, cols: np.ndarray, scores: np.ndarray) -> np.ndarray:
    w = weights[:, cols]
    tot = w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ scores.T) / tot


def selection_aware_interval(
    med_val: CandidateScores,
    base_val: CandidateScores | None,
    med_test: np.ndarray,
    base_test: np.ndarray,
    *,
    base_test_for_med: np.ndarray | None = None,
    test_clusters: Sequence[str] | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> SelectionAwareResult:
    """Percentile interval of medical − base over resampled select-then-test runs (module docstring).

    Parameters
    ----------
    med_val, base_val:
        Validation matrices (candidates in tie-break order).  ``base_val``
        None means the base model reuses the medical model's choice
        (``medical-prompt`` selection).
    med_test, base_test:
        Test scores, shape (candidates, n_test), rows aligned with
        ``med_val.candidates`` / ``base_val.candidates``, columns the paired
        test items.
    base_test_for_med:
        For ``medical-prompt`` selection: base test scores with rows aligned
        with ``med_val.candidates``.
    test_clusters:
        Cluster label of each test item (resample clusters), or None.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    rng = np.random.default_rng(seed)
    # one validation resample for both models, over the union of their items
    val_items = sorted(set(med_val.items) | set(base_val.items if base_val is not None else ()))
    pos = {k: i for i, k in enumerate(val_items)}
    cluster_of: dict[str, str] = {}
    for side in (med_val, base_val):
        if side is not None and side.clusters is not None:
            cluster_of.update(zip(side.items, side.clusters))
    val_clusters = [cluster_of.get(k, f"\x00item:{k}") for k in val_items] if cluster_of else None
    v_unit, v_units = _unit_index(val_items, val_clusters)
    med_cols = np.array([pos[k] for k in med_val.items])
    base_cols = np.array([pos[k] for k in base_val.items]) if base_val is not None else None
    med_plain = int(_select(med_val.scores.mean(axis=1)[None, :])[0])
    base_plain = int(_select(base_val.scores.mean(axis=1)[None, :])[0]) if base_val is not None else None

    base_rows = base_test if base_val is not None or base_test_for_med is None else base_test_for_med
    n_test = med_test.shape[1]
    t_unit, t_units = _unit_index([str(i) for i in range(n_test)], test_clusters)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, _BLOCK):
        b = min(_BLOCK, n_resamples - start)
        val_weights = _weights(rng, v_unit, v_units, b)
        test_weights = _weights(rng, t_unit, t_units, b)
        sel_m = _reselect(_val_means(val_weights, med_cols, med_val.scores), med_plain)
        sel_b = sel_m if base_val is None else _reselect(_val_means(val_weights, base_cols, base_val.scores), base_plain)
        ttot = test_weights.sum(axis=1)
        rows = np.arange(b)
        out[start:start + b] = ((test_weights @ med_test.T)[rows, sel_m] - (test_weights @ base_rows.T)[rows, sel_b]) / ttot
    selected = float(med_test[med_plain].mean() - base_rows[med_plain if base_val is None else base_plain].mean())
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(out, [alpha, 1.0 - alpha])
    return SelectionAwareResult(ci_low=float(low), ci_high=float(high), replicates=out, selected_diff=selected,
                                n_resamples=n_resamples, confidence=confidence)
