"""Comparison records: one per pair × dataset × setting × mode × metric.

The first fields are the public contract of ``comparisons.json`` / ``.csv``;
the later ones add detail.  ``outcome`` follows the one rule of
:func:`medpair_stats.paired.decide_outcome` (win / loss only with ``p_value <
1 - confidence`` and the interval on that side of 0); :func:`finalize_records`
adjusts the p-values over the whole family of records and applies the same
rule with ``p_adjusted``:

    outcome_adjusted = "win"  if p_adjusted < 1 - confidence and ci_low > 0
                       "loss" if p_adjusted < 1 - confidence and ci_high < 0
                       "tie"  otherwise

The interval itself is not widened for multiplicity.

With selection-aware intervals, ``ci_low`` / ``ci_high`` come from the
bootstrap of the whole select-then-test procedure, while ``p_value`` (hence
``p_adjusted``) stays the plain paired test of the chosen prompts; the outcome
needs both; ``ci_low_plain`` / ``ci_high_plain`` keep the plain interval.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .multiple import adjust_pvalues
from .paired import decide_outcome

__all__ = ["RECORD_FIELDS", "ComparisonRecord", "adjusted_outcome", "finalize_records"]


@dataclass(frozen=True)
class ComparisonRecord:
    """One head-to-head comparison of a medical model with its base model."""

    medical: str
    base: str
    dataset: str
    setting: str
    """Few-shot setting, e.g. ``"0-shot"``."""
    mode: str
    """Task mode: ``"mc"`` (option-letter scoring) or ``"gen"`` (generation)."""
    metric: str
    """Metric name (``"acc"``), with ``",<filter>"`` when a cell has several filters."""
    medical_prompt: str
    base_prompt: str
    n: int
    medical_score: float
    base_score: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    mcnemar_p: float | None
    mde: float
    outcome: str
    outcome_adjusted: str
    selection: str
    clustered: bool
    # -- detail --------------------------------------------------------------
    shots: int
    filter: str
    n_clusters: int
    se: float
    b: int | None
    c: int | None
    medical_val_score: float | None
    base_val_score: float | None
    n_val: int | None
    selection_aware: bool
    ci_low_plain: float
    """The plain (selection-fixed) interval; equal to ci_low unless selection-aware."""
    ci_high_plain: float
    confidence: float
    n_resamples: int
    ci_method: str
    seed: int
    """The seed passed to ``compare_scores`` for this record (derived from the run's seed)."""
    # -- disclosure (medpair compare fills these; defaults for records built elsewhere) --
    primary: bool = True
    """The record of the primary metric of its (pair, dataset, setting, mode): the one the headline counts."""
    n_test_total: int | None = None
    """Test items of the whole split when a model's logs were made with lm-eval's ``--limit`` (else None)."""
    majority_baseline: float | None = None
    """Multiple choice: accuracy of always answering the most frequent gold option on these test items."""
    majority_option: str | None = None
    medical_answers: tuple[tuple[str, float], ...] | None = None
    """Multiple choice: share of the test items on which the medical model chose each option (``none``: no option)."""
    base_answers: tuple[tuple[str, float], ...] | None = None
    answer_bias: str = ""
    """Models whose answers are mostly one option (share above ``ANSWER_BIAS_SHARE``), e.g. ``medical: A 100%``."""
    min_p: float = float("nan")
    """Smallest p-value the paired test can reach on these units; ``>= 1 - confidence``: always a tie."""
    p_method: str = ""
    """``"exact"``, ``"monte carlo"`` or ``"hoeffding bound"`` (see :mod:`medpair_stats.signflip`)."""
    outcome_note: str = ""
    """Why the outcome is a tie although the interval or the test alone would not say so, or ``""``."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a dict in field order."""
        return dataclasses.asdict(self)


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ComparisonRecord))


def adjusted_outcome(p_adjusted: float, ci_low: float, ci_high: float, confidence: float) -> str:
    """The outcome rule (:func:`~medpair_stats.paired.decide_outcome`) applied with ``p_adjusted``."""
    return decide_outcome(p_adjusted, ci_low, ci_high, confidence)


def finalize_records(records: Sequence[ComparisonRecord], method: str) -> list[ComparisonRecord]:
    """Adjust p-values over all ``records`` and set ``outcome_adjusted``."""
    if not records:
        return []
    p = np.array([r.p_value for r in records], dtype=np.float64)
    adj = adjust_pvalues(p, method=method)
    return [dataclasses.replace(r, p_adjusted=float(a),
                                outcome_adjusted=adjusted_outcome(float(a), r.ci_low, r.ci_high, r.confidence))
            for r, a in zip(records, adj)]
