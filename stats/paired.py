"""Head-to-head comparison of a medical model with its base model on the same items.

:func:`compare_scores` is the one entry point: it takes two aligned arrays of
per-item scores and returns a :class:`PairedComparison` with the accuracy
difference, its interval, win / tie / loss, a paired randomization p-value, the
exact McNemar p-value for unclustered 0/1 scores, the closed-form standard error
and the minimum detectable effect.

**The outcome rule** (:func:`decide_outcome`, one rule for every record):
``"win"`` when ``p < alpha`` and the interval lies above 0, ``"loss"`` when
``p < alpha`` and the interval lies below 0, ``"tie"`` otherwise, with ``alpha =
1 - confidence`` and ``p`` the paired sign-flip p-value printed beside it. So no
win or loss ever has ``p >= alpha``. The default interval (``"signflip"``) is the
set of shifts the same test does not reject, so the two conditions coincide: the
sign-flip test of shifted unit sums, or, for independent 0/1 pairs, a family
whose test of 0 is the exact McNemar (= sign-flip) test and whose other members
are Tango's score tests (:mod:`medpair_stats.score_interval`; the inverted
sign-flip test under-covers there because shifted 0/1 differences are not
symmetric: 83.5% on 10 items in simulation). With a bootstrap interval
(``"percentile"``, ``"bca"``) the stricter of the two applies and ``outcome_note``
says when they disagree. When the design
cannot reach ``alpha`` at all (``min_p >= alpha``, e.g. fewer than 6 units that
differ between the models at alpha = 0.05) the outcome is a tie and
``outcome_note`` says so.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from ._validate import PairedInput, as_scores, check_confidence, validate_paired
from .bootstrap import (
    ResamplingUnits,
    bca_interval,
    bootstrap_means,
    jackknife_means,
    make_units,
    percentile_interval,
)
from .mcnemar import discordant_counts, mcnemar_exact_p
from .score_interval import paired_binary_interval
from .signflip import sign_flip_analysis
from .stderr import minimum_detectable_effect, paired_se

__all__ = ["Outcome", "PairedComparison", "compare_scores", "decide_outcome", "outcome_note",
           "single_cluster_comparison"]

logger = logging.getLogger(__name__)

Outcome = Literal["win", "tie", "loss"]

#: Appended to the note when Tango's score interval excluded 0 but the exact test did not reject.
_WIDENED_NOTE = ("Tango's score interval alone excludes 0 but the exact McNemar test does not reject "
                 "(p = {p:.3g}), so the interval is widened to 0")

#: Below this many resampling units a bootstrap interval is too narrow to trust.
_FEW_UNITS = 20


@dataclass(frozen=True)
class PairedComparison:
    """Result of :func:`compare_scores`. All fields are plain Python values."""

    n: int
    """Number of paired items."""
    n_clusters: int
    """Number of resampling units: clusters when clustered, else ``n``."""
    clustered: bool
    """Whether items were resampled in clusters."""
    medical_score: float
    """Mean score of the medical model."""
    base_score: float
    """Mean score of the base model."""
    diff: float
    """Mean paired difference, medical - base."""
    ci_low: float
    """Lower end of the interval of ``diff`` (``method``); -inf when the test rejects no shift below."""
    ci_high: float
    """Upper end of the interval of ``diff``; +inf when the test rejects no shift above."""
    p_value: float
    """Two-sided paired sign-flip randomization p-value for ``diff = 0``."""
    p_value_exact: bool
    """True when ``p_value`` is exact, False when it is a Monte Carlo estimate or a bound."""
    mcnemar_p: float | None
    """Exact McNemar p-value; None unless all scores are 0/1, and None for clustered items
    (McNemar assumes independent pairs; ``p_value`` is then the cluster-aware test)."""
    b: int | None
    """Items only the medical model gets right (0/1 scores), else None."""
    c: int | None
    """Items only the base model gets right (0/1 scores), else None."""
    se: float
    """Closed-form standard error of ``diff`` (cluster-robust when clustered)."""
    mde: float
    """Minimum detectable difference: two-sided level ``1 - confidence``, 80% power."""
    outcome: Outcome
    """By :func:`decide_outcome`: a win or loss needs ``p_value < 1 - confidence`` and an
    interval on that side of 0; else ``"tie"``."""
    confidence: float
    n_resamples: int
    method: str
    """Interval method: ``"signflip"`` (the inverted paired test: sign-flip, or for unclustered 0/1
    scores exact McNemar at 0 and Tango's score test elsewhere), ``"percentile"`` or ``"bca"``."""
    seed: int | None
    min_p: float
    """Smallest p-value the sign-flip test can give with these units (``2 / 2^K'``, ``K'`` units
    that differ); ``>= 1 - confidence`` means no outcome but a tie is possible."""
    p_method: str
    """How ``p_value`` was obtained: ``"exact"``, ``"monte carlo"`` or ``"hoeffding bound"``."""
    outcome_note: str
    """Why the outcome is a tie despite the data, or ``""``."""

    def to_dict(self) -> dict[str, Any]:
        """The result as a dict of plain JSON-serialisable Python values."""
        return dataclasses.asdict(self)


def compare_scores(
    medical: ArrayLike,
    base: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    method: str = "signflip",
    seed: int | None = 0,
) -> PairedComparison:
    """Compare two models' per-item scores on the same items, pairing item by item.

    Args:
        medical: per-item scores of the medical model (0/1 accuracy or any real
            score), one-dimensional.
        base: per-item scores of the base model, aligned with ``medical``.
        clusters: optional label per item (patient id, passage id …). Items that
            share a label are resampled, flipped and counted together, and the
            standard error is cluster-robust.
        n_resamples: Monte Carlo sign patterns of the randomization test and its
            interval when they cannot be enumerated exactly; bootstrap replicates
            for the bootstrap intervals.
        confidence: confidence level of the interval; the test's level (and the
            MDE's) is ``alpha = 1 - confidence``.
        method: ``"signflip"`` (default: the shifts the paired sign-flip test does
            not reject, so the interval and ``p_value`` always agree),
            ``"percentile"`` (the paired bootstrap of Jeong et al.) or ``"bca"``
            (bias-corrected and accelerated, Efron 1987).
        seed: seed of ``numpy.random.default_rng``; the generator is split into
            two independent streams (``default_rng(seed).spawn(2)``), one for the
            bootstrap and one for the randomization test, so each result depends
            only on the seed. ``None`` draws fresh OS entropy (not reproducible).

    Returns:
        A :class:`PairedComparison`.

    Raises:
        ValueError: unequal lengths, empty input, fewer than 2 items, NaN or
            infinite scores, non-numeric scores, clusters of the wrong length or
            with missing labels, a single cluster, or a bad option value.

    Method notes:
        * Interval, ``"signflip"``: inverts the test below over shifts of the
          item-level mean difference (see :mod:`medpair_stats.signflip`); cut to
          [-1, 1] for 0/1 scores. For unclustered 0/1 scores it is Tango's score
          interval instead, widened to include 0 when the exact test does not
          reject (:func:`medpair_stats.score_interval.paired_binary_interval`).
          ``"percentile"`` / ``"bca"``: paired bootstrap
          of the mean difference over items, or over whole clusters (the
          replicate is the pseudo-sample's item-level mean); 0/1 data are
          resampled by exact category counts (see :mod:`medpair_stats.bootstrap`).
        * ``p_value``: paired sign-flip randomization test (swap the two models'
          scores within an item, or within a whole cluster). Exact whenever the
          null distribution is small enough to enumerate — always for 0/1 scores
          without clusters (up to 262,143 discordant items), where it coincides
          with the exact McNemar test — and
          Monte Carlo with ``n_resamples`` draws otherwise
          (``p = (1 + hits) / (B + 1)``, or Hoeffding's bound on the exact
          p-value where that is smaller, so there is no floor at ``1 / (B + 1)``).
        * ``outcome``: :func:`decide_outcome` (see the module docstring).
        * ``mcnemar_p``: exact McNemar for unclustered 0/1 scores only; with
          clusters it would reject a true null far too often, and ``p_value``
          (whole clusters flipped) is the cluster-aware test.
        * Degenerate data: when every paired difference is equal (e.g. identical
          score arrays) both intervals are ``[diff, diff]`` (the sign-flip one once
          there are at least ``1 + log2(1 / alpha)`` units) and ``se = mde = 0``;
          identical arrays give ``diff = 0``, ``p_value = 1``, ``outcome = "tie"``.
          Unclustered 0/1 scores are the exception: Tango's interval is not a
          point (no discordant item among 30 does not prove ``diff = 0``).
          With very few units (fewer than 20) a bootstrap interval cannot be wider
          than the data's range; a warning is logged. With fewer than
          ``1 + log2(1 / alpha)`` units the sign-flip test rejects no shift and
          its interval is unbounded (``[-1, 1]`` for 0/1 scores).
    """
    inp = validate_paired(
        medical,
        base,
        clusters=clusters,
        n_resamples=n_resamples,
        confidence=confidence,
        method=method,
        seed=seed,
    )
    d = inp.medical - inp.base
    units = make_units(d, inp.cluster_index, inp.n_clusters)
    boot_rng, flip_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(inp.seed).spawn(2)
    )
    counts = discordant_counts(inp.medical, inp.base)
    b, c = counts if counts is not None else (None, None)
    # independent 0/1 pairs: Tango's score interval tied to the exact test (medpair_stats.score_interval)
    score_ci = inp.method == "signflip" and counts is not None and units.unit_sized
    flip = sign_flip_analysis(units.sums, units.sizes, inp.confidence, inp.n_resamples, flip_rng,
                              interval=inp.method == "signflip" and not score_ci)
    widened = False
    if score_ci:
        ci_low, ci_high, widened = paired_binary_interval(b, c, units.n_units, flip.test.p_value,
                                                          inp.confidence)
    elif inp.method == "signflip":
        ci_low, ci_high = flip.ci_low, flip.ci_high
    else:
        ci_low, ci_high = _bootstrap_interval(d, units, inp, boot_rng)
    if counts is not None:  # a difference of 0/1 scores lies in [-1, 1] whatever the test says
        ci_low, ci_high = max(ci_low, -1.0), min(ci_high, 1.0)
    # McNemar assumes independent pairs: only when no two items share a cluster
    mcnemar_p = mcnemar_exact_p(b, c) if counts is not None and units.unit_sized else None
    se = paired_se(d, inp.cluster_index)
    p_value = float(flip.test.p_value)
    outcome = decide_outcome(p_value, ci_low, ci_high, inp.confidence)
    return PairedComparison(
        n=int(d.size), n_clusters=units.n_units, clustered=inp.cluster_index is not None,
        medical_score=float(np.mean(inp.medical)), base_score=float(np.mean(inp.base)),
        diff=float(np.mean(d)), ci_low=float(ci_low), ci_high=float(ci_high),
        p_value=p_value, p_value_exact=bool(flip.test.exact), mcnemar_p=mcnemar_p, b=b, c=c,
        se=se, mde=minimum_detectable_effect(se, inp.confidence), outcome=outcome,
        confidence=inp.confidence, n_resamples=inp.n_resamples, method=inp.method, seed=inp.seed,
        min_p=flip.min_p, p_method=flip.test.p_method,
        outcome_note="; ".join(filter(None, (
            outcome_note(outcome, p_value, flip.min_p, ci_low, ci_high, inp.confidence),
            _WIDENED_NOTE.format(p=p_value) if widened else ""))),
    )


def _bootstrap_interval(d: np.ndarray, units: ResamplingUnits, inp: PairedInput,
                        rng: np.random.Generator) -> tuple[float, float]:
    """Paired bootstrap interval (percentile or BCa) of the mean difference."""
    if units.n_units < _FEW_UNITS:
        logger.warning(
            "only %d resampling units: bootstrap intervals are unreliable with so few "
            "(they cannot extend past the observed values); prefer the signflip interval",
            units.n_units,
        )
    if np.all(d == d[0]):
        return float(d[0]), float(d[0])  # every difference equal: a point mass
    replicates = bootstrap_means(units, inp.n_resamples, rng)
    if inp.method == "bca":
        return bca_interval(replicates, units.estimate, jackknife_means(units), inp.confidence)
    return percentile_interval(replicates, inp.confidence)


def _alpha(confidence: float) -> float:
    return round(1.0 - confidence, 12)  # 1 - 0.95 is 0.05000000000000004 in floating point


def decide_outcome(p_value: float, ci_low: float, ci_high: float, confidence: float) -> Outcome:
    """The one outcome rule: win / loss only with ``p_value < 1 - confidence`` and the interval
    on that side of 0; otherwise (or when ``p_value`` is not finite) ``"tie"``."""
    if not math.isfinite(p_value) or p_value >= _alpha(confidence):
        return "tie"
    return "win" if ci_low > 0.0 else "loss" if ci_high < 0.0 else "tie"


def outcome_note(outcome: str, p_value: float, min_p: float, ci_low: float, ci_high: float,
                 confidence: float) -> str:
    """Why a record is a tie although its interval or its test alone would say otherwise."""
    alpha = _alpha(confidence)
    if outcome != "tie":
        return ""
    if min_p >= alpha:
        return (f"the design cannot reach p < {alpha:g}: too few units differ between the models "
                f"(smallest attainable p = {min_p:.3g}); tie")
    if ci_low > 0.0 or ci_high < 0.0:
        return f"the interval excludes 0 but the paired test does not reject (p = {p_value:.3g}); tie"
    if math.isfinite(p_value) and p_value < alpha:
        return f"the paired test rejects (p = {p_value:.3g}) but the interval includes 0; tie"
    return ""


def single_cluster_comparison(medical: ArrayLike, base: ArrayLike, *, n_resamples: int = 10_000,
                              confidence: float = 0.95, method: str = "signflip",
                              seed: int | None = 0) -> PairedComparison:
    """The record of items that all share one cluster: scores and difference, no interval.

    One cluster is one resampling unit: the sign-flip test has two equally likely
    patterns with the same ``|T|`` (``p = 1``), and neither an interval nor a
    cluster-robust standard error exists (NaN). The outcome is a tie.
    """
    med, bas = as_scores(medical, "medical"), as_scores(base, "base")
    if med.size != bas.size:
        raise ValueError(f"medical and base must score the same items: got {med.size} and {bas.size}")
    confidence = check_confidence(confidence)
    counts = discordant_counts(med, bas)
    nan = float("nan")
    return PairedComparison(
        n=int(med.size), n_clusters=1, clustered=True, medical_score=float(med.mean()),
        base_score=float(bas.mean()), diff=float((med - bas).mean()), ci_low=nan, ci_high=nan,
        p_value=1.0, p_value_exact=True, mcnemar_p=None, b=counts[0] if counts else None,
        c=counts[1] if counts else None, se=nan, mde=nan, outcome="tie", confidence=confidence,
        n_resamples=int(n_resamples), method=method, seed=seed, min_p=1.0, p_method="exact",
        outcome_note=f"all {med.size} items share one cluster: no interval or test is possible; tie")
