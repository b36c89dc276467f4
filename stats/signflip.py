"""Paired sign-flip randomization test of a mean difference.

Under the null hypothesis that the medical and the base model are exchangeable
on every item (or, when clustered, on every cluster), swapping the two models'
scores within a unit only flips the sign of that unit's summed difference
``S_u``. The test statistic is the total difference ``T = sum_u S_u`` (the mean
difference times the fixed number of items), and the two-sided p-value is
``P(|T*| >= |T_obs|)`` over the ``2^K`` equally likely sign patterns.

How the null distribution is obtained, first applicable rule wins:

1. Units with ``S_u = 0`` never change ``T`` and are dropped; if none is left,
   ``p = 1``.
2. **Exact, grouped.** Units of equal magnitude ``|S_u| = v`` are
   interchangeable: if ``m_v`` of them exist, their contribution is
   ``v * (2 X_v - m_v)`` with ``X_v ~ Binomial(m_v, 1/2)``, independent across
   magnitudes. When ``prod_v (m_v + 1) <= _EXACT_MAX_SUPPORT`` the exact
   distribution is enumerated from these binomials. For 0/1 accuracy without
   clusters there is one magnitude (1) and ``m = b + c`` discordant items, so the
   test *is* the exact McNemar test. Any data with at most 18 non-zero units is
   enumerated exactly here too (``2^18`` sign patterns).
3. **Exact, integer lattice.** When every ``|S_u|`` is an integer (0/1 scores
   with clusters), ``T`` lives on the integers ``-L … L`` (``L = sum |S_u|``) and
   its distribution is the convolution of the per-magnitude binomials, computed
   densely when that costs at most ``_EXACT_MAX_WORK`` multiply-adds.
4. **Monte Carlo** otherwise (e.g. continuous scores over many units), on the
   ``B`` random sign patterns the interval below also uses, and
   ``p = (1 + #{|T*| >= |T_obs|}) / (B + 1)``, a valid (slightly conservative)
   p-value for any B. Where few kinds of unit ``(S_u, m_u)`` exist, a pattern is
   drawn as one Binomial(count, 1/2) per kind (how many of that kind keep their
   sign); otherwise as one random bit per unit, drawn as bytes, each byte mapped
   to the totals of its 8 units through a 256-entry lookup table.

``|T*| >= |T_obs|`` is evaluated with a tolerance of ``1e-10 * sum|S|`` so that
sign patterns that give the observed statistic up to rounding count as ties.

**Floor of the Monte Carlo p-value.** ``(1 + hits) / (B + 1)`` is never below
``1 / (B + 1)``, so after Holm over ``m`` records a Monte Carlo p-value can never
go below ``m / (B + 1)``: with B = 10,000 and more than 500 records no
continuous-score record could be a win. Hoeffding's inequality for Rademacher
sums bounds the *exact* p-value from above, ``P(|T*| >= t) <= 2 exp(-t^2 / (2
sum S_u^2))``; the Monte Carlo path reports the smaller of the two
(``p_method = "hoeffding bound"`` when the bound is used). The bound is never
below the exact p-value, so using it only makes the test more conservative than
the exact one, and it has no floor.

**Interval by inverting the same test** (:func:`sign_flip_analysis`). The test
of ``mean difference = delta`` flips the signs of the shifted unit sums
``S_u - delta m_u`` (``m_u`` the unit's number of items). A sign pattern splits
the units into kept and flipped ones, and it reaches the observed statistic,
``|T*(delta)| >= |T_obs(delta)|``, exactly when ``delta`` lies between the kept
units' item-level mean and the flipped units' item-level mean (expand
``T*^2 - T_obs^2`` into ``-4 M_kept M_flipped (mean_kept - delta)(mean_flipped -
delta)``). So ``p(delta)`` is the weight of the patterns whose
``[min(mean_kept, mean_flipped), max(...)]`` contains ``delta``, every ``p(delta)``
comes from one sweep over sorted end points, and the interval ``{delta : p(delta)
>= alpha}`` excludes 0 exactly when the same test rejects ``delta = 0`` (up to the
Monte Carlo error of the interval when the p-value is exact and the interval is
not). The patterns are enumerated (grouped by unit kind) when there are at most
``max(4096, B)`` of them; otherwise, when every ``S_u`` is an integer (0/1 scores
in clusters) and the lattice is affordable, the exact law of the kept units'
(total, items) is built on an integer grid when that costs at most
``_EXACT_MAX_WORK`` multiply-adds, so the interval is exact and agrees with the
exact p-value; otherwise B random patterns are drawn. With fewer than
``1 + log2(1 / alpha)`` units the test cannot reject any
``delta`` and the interval is the whole line.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln
from scipy.stats import binom

__all__ = ["SignFlipAnalysis", "SignFlipResult", "hoeffding_p", "min_attainable_p", "sign_flip_analysis"]

logger = logging.getLogger(__name__)

#: Largest support enumerated by the grouped exact rule.
_EXACT_MAX_SUPPORT = 1 << 18
#: Largest number of multiply-adds spent on the dense integer-lattice convolution.
_EXACT_MAX_WORK = 50_000_000
#: Random numbers (bytes) materialised per Monte Carlo chunk.
_CHUNK_ELEMENTS = 1 << 21
#: Largest lookup table (entries) for the byte-wise Monte Carlo; above it, bits are unpacked.
_MAX_TABLE_ENTRIES = 1 << 22
#: Relative tolerance for |T*| >= |T_obs|, relative to sum |S_u|.
_REL_TOL = 1e-10
#: The interval enumerates its sign patterns (grouped by unit kind) exactly when there are at
#: most this many, or at most as many as the Monte Carlo draws it would otherwise make.
_INTERVAL_EXACT_MIN_SUPPORT = 1 << 12
#: Binomial draws per unit kind cost about as much as this many random signs; the interval's
#: Monte Carlo draws kind counts when kinds * ratio <= units (as the bootstrap does).
_KIND_COST_RATIO = 32
#: Relative slack when comparing a pattern weight with alpha (sums of float probabilities).
_WEIGHT_TOL = 1e-9


@dataclass(frozen=True)
class SignFlipResult:
    """The sign-flip test of ``diff = 0`` (part of :class:`SignFlipAnalysis`)."""

    p_value: float
    """Two-sided p-value."""
    exact: bool
    """True when the null distribution was enumerated exactly."""
    n_resamples: int
    """Monte Carlo draws used (0 when exact)."""
    p_method: str = "exact"
    """``"exact"``, ``"monte carlo"`` or ``"hoeffding bound"`` (the Monte Carlo floor was lifted)."""


@dataclass(frozen=True)
class SignFlipAnalysis:
    """The sign-flip test of ``diff = 0`` and the interval that inverts the same test."""

    test: SignFlipResult
    ci_low: float
    """Smallest shift the test does not reject at level ``1 - confidence`` (-inf if none is rejected)."""
    ci_high: float
    """Largest shift the test does not reject (+inf if none is rejected)."""
    min_p: float
    """Smallest p-value the test can give on these units (:func:`min_attainable_p`)."""


def sign_flip_analysis(
    unit_sums: np.ndarray,
    unit_sizes: np.ndarray,
    confidence: float,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    interval: bool = True,
) -> SignFlipAnalysis:
    """The paired sign-flip test and its inverted interval, from one set of sign patterns.

    The p-value is exact by rules 1-3 of the module docstring; otherwise (rule 4)
    it is counted on the same Monte Carlo patterns as the interval, so the
    interval excludes 0 exactly when ``p < 1 - confidence``.

    Args:
        unit_sums: summed paired difference of each unit (item or cluster).
        unit_sizes: number of items in each unit.
        confidence: level of the interval; the test's level is ``1 - confidence``.
        n_resamples: Monte Carlo sign patterns where exact enumeration is too large.
        rng: generator used only for Monte Carlo patterns.
        interval: False skips the interval (NaN) and, where the p-value is
            exact, the sign patterns too (for the bootstrap interval methods).
    """
    sums = np.asarray(unit_sums, dtype=np.float64)
    sizes = np.asarray(unit_sizes, dtype=np.float64)
    exact = _exact_p(sums)
    if not interval and exact is not None:
        return SignFlipAnalysis(SignFlipResult(exact, True, 0), math.nan, math.nan, min_attainable_p(sums))
    patterns = _null_patterns(sums, sizes, n_resamples, rng)
    hit = np.abs(2.0 * patterns.kept_values - float(sums.sum())) >= _threshold(sums)
    if exact is None and patterns.exact:  # many kinds of unit but few patterns (a large B)
        exact = float(min(1.0, patterns.weights[hit].sum()))
    if exact is not None:
        test = SignFlipResult(exact, True, 0)
    else:
        test = _monte_carlo_result(int(np.count_nonzero(hit)), n_resamples, sums)
    ci_low, ci_high = _inverted_interval(sums, sizes, patterns, 1.0 - confidence) if interval else (math.nan,) * 2
    return SignFlipAnalysis(test=test, ci_low=ci_low, ci_high=ci_high, min_p=min_attainable_p(sums))


def _exact_p(sums: np.ndarray) -> float | None:
    """Exact p-value by rules 1-3 of the module docstring, or None when too large to enumerate."""
    mags = np.abs(sums[sums != 0.0])
    if mags.size == 0:
        return 1.0
    threshold = _threshold(sums)
    values, counts = np.unique(mags, return_counts=True)
    if float(np.sum(np.log2(counts + 1.0))) <= math.log2(_EXACT_MAX_SUPPORT):
        return _grouped_exact(values, counts, threshold)
    if np.all(values == np.round(values)):
        total = int(round(float(mags.sum())))
        work = (2 * total + 1) * int(np.sum(2 * values * counts + 1))
        if work <= _EXACT_MAX_WORK:
            return _lattice_exact(values, counts, threshold)
    return None


def _threshold(sums: np.ndarray) -> float:
    """Observed ``|T|`` less the rounding tolerance: patterns at or above it count as hits."""
    return abs(float(sums.sum())) - _REL_TOL * float(np.abs(sums).sum())


def _monte_carlo_result(hits: int, n_resamples: int, sums: np.ndarray) -> SignFlipResult:
    """Monte Carlo p-value, replaced by the Hoeffding bound where that is smaller (no floor)."""
    p_mc = (1.0 + hits) / (n_resamples + 1.0)
    bound = hoeffding_p(abs(float(sums.sum())), float(np.dot(sums, sums)))
    if bound < p_mc:
        return SignFlipResult(bound, False, n_resamples, "hoeffding bound")
    return SignFlipResult(p_mc, False, n_resamples, "monte carlo")


def hoeffding_p(observed: float, sum_squares: float) -> float:
    """Hoeffding's upper bound on the two-sided sign-flip p-value.

    ``P(|sum_u e_u S_u| >= t) <= 2 exp(-t^2 / (2 sum_u S_u^2))`` for independent
    random signs ``e_u``; ``t`` is the observed ``|sum_u S_u|``. Returns 1 when
    ``sum_squares`` is 0.
    """
    if sum_squares <= 0.0:
        return 1.0
    return float(min(1.0, 2.0 * math.exp(-observed * observed / (2.0 * sum_squares))))


def min_attainable_p(unit_sums: np.ndarray) -> float:
    """Smallest two-sided p-value the sign-flip test can give on units of these magnitudes.

    Only the all-kept and the all-flipped patterns reach the largest possible
    ``|T| = sum |S_u|``, so the smallest p-value is ``2 / 2^K'`` with ``K'`` the
    number of units whose sum is not 0 (1 when ``K' = 0``). When it is not below
    ``alpha`` the design cannot give a significant result whatever the data.
    """
    nonzero = int(np.count_nonzero(np.asarray(unit_sums, dtype=np.float64)))
    return 1.0 if nonzero == 0 else math.ldexp(1.0, 1 - nonzero)


def _grouped_exact(values: np.ndarray, counts: np.ndarray, threshold: float) -> float:
    """Exact P(|T| >= threshold), enumerating one binomial per distinct magnitude."""
    support = np.zeros(1)
    probs = np.ones(1)
    for v, m in zip(values.tolist(), counts.tolist(), strict=True):
        k = np.arange(m + 1)
        support = (support[:, None] + (v * (2 * k - m))[None, :]).ravel()
        probs = (probs[:, None] * _half_binomial_pmf(m)[None, :]).ravel()
    return float(min(1.0, probs[np.abs(support) >= threshold].sum()))


def _half_binomial_pmf(m: int) -> np.ndarray:
    """Binomial(m, 1/2) probabilities of 0 … m (log-gamma form: no overflow, no per-call overhead)."""
    k = np.arange(m + 1, dtype=np.float64)
    return np.exp(gammaln(m + 1.0) - gammaln(k + 1.0) - gammaln(m - k + 1.0) - m * math.log(2.0))


def _lattice_exact(values: np.ndarray, counts: np.ndarray, threshold: float) -> float:
    """Exact P(|T| >= threshold) for integer magnitudes by dense convolution."""
    pmf = np.ones(1)  # pmf[j] = P(T = j - half_width)
    half_width = 0
    for v, m in zip(values.astype(np.int64).tolist(), counts.tolist(), strict=True):
        kernel = np.zeros(2 * v * m + 1)
        kernel[:: 2 * v] = binom.pmf(np.arange(m + 1), m, 0.5)
        pmf = np.convolve(pmf, kernel)
        half_width += v * m
    support = np.arange(-half_width, half_width + 1, dtype=np.float64)
    return float(min(1.0, pmf[np.abs(support) >= threshold].sum()))


def _random_kept_totals(
    values: np.ndarray, sizes: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Random sign patterns (one bit per unit, set = kept): per pattern the kept units' totals.

    Returns ``(kept_values, kept_sizes)``, each of shape (B,): the sums of
    ``values`` and of ``sizes`` over the kept units. Vectorised and chunked: bits
    are drawn as bytes and each byte is mapped to the totals of its 8 units through
    a 256-entry lookup table per byte position.
    """
    k = values.size
    columns = np.column_stack([values, sizes]).astype(np.float64)
    row_bytes = (k + 7) // 8
    padded = np.zeros((row_bytes * 8, 2))
    padded[:k] = columns
    use_table = row_bytes * 256 <= _MAX_TABLE_ENTRIES
    if use_table:
        byte_bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float64)
        # table[j * 256 + byte] = totals of the units of byte position j whose bits are set
        table = np.einsum("bi,jic->jbc", byte_bits, padded.reshape(row_bytes, 8, 2)).reshape(-1, 2)
        offsets = np.arange(row_bytes, dtype=np.intp) * 256
    out = np.empty((n_resamples, 2))
    step = max(1, _CHUNK_ELEMENTS // row_bytes)
    for start in range(0, n_resamples, step):
        stop = min(n_resamples, start + step)
        raw = np.frombuffer(rng.bytes((stop - start) * row_bytes), dtype=np.uint8)
        raw = raw.reshape(stop - start, row_bytes)
        if use_table:
            out[start:stop] = np.take(table, raw.astype(np.intp) + offsets, axis=0).sum(axis=1)
        else:
            out[start:stop] = np.unpackbits(raw, axis=1).astype(np.float64) @ padded
    return out[:, 0], out[:, 1]


@dataclass(frozen=True)
class _NullPatterns:
    """Sign patterns of all units with their weights: per pattern the kept units' totals."""

    kept_values: np.ndarray
    kept_sizes: np.ndarray
    weights: np.ndarray
    """Probability of each pattern (exact) or 1 per Monte Carlo draw."""
    exact: bool


def _null_patterns(sums: np.ndarray, sizes: np.ndarray, n_resamples: int,
                   rng: np.random.Generator) -> _NullPatterns:
    """All sign patterns grouped by unit kind when no more than ``max(4096, n_resamples)``, else
    grouped by kept totals on an integer lattice when affordable (:func:`_lattice_patterns`),
    else ``n_resamples`` random ones.

    Units with equal ``(S_u, m_u)`` are interchangeable: only how many of each kind
    are kept matters (Binomial(count, 1/2), independent across kinds).
    """
    kinds, counts = np.unique(np.column_stack([sums, sizes]), axis=0, return_counts=True)
    if float(np.sum(np.log2(counts + 1.0))) <= math.log2(max(_INTERVAL_EXACT_MIN_SUPPORT, n_resamples)):
        kept_v, kept_m, weights = np.zeros(1), np.zeros(1), np.ones(1)
        for (value, size), count in zip(kinds.tolist(), counts.tolist(), strict=True):
            kept = np.arange(count + 1, dtype=np.float64)
            kept_v = (kept_v[:, None] + value * kept[None, :]).ravel()
            kept_m = (kept_m[:, None] + size * kept[None, :]).ravel()
            weights = (weights[:, None] * _half_binomial_pmf(count)[None, :]).ravel()
        return _NullPatterns(kept_v, kept_m, weights, True)
    lattice = _lattice_patterns(kinds, counts)
    if lattice is not None:
        return lattice
    if kinds.shape[0] * _KIND_COST_RATIO <= sums.size:
        drawn = rng.binomial(counts, 0.5, size=(n_resamples, counts.size)).astype(np.float64)
        return _NullPatterns(drawn @ kinds[:, 0], drawn @ kinds[:, 1], np.ones(n_resamples), False)
    kept_v, kept_m = _random_kept_totals(sums, sizes, n_resamples, rng)
    return _NullPatterns(kept_v, kept_m, np.ones(n_resamples), False)


def _lattice_patterns(kinds: np.ndarray, counts: np.ndarray) -> _NullPatterns | None:
    """Exact law of (kept units' total, kept units' items) when both are integers (0/1 scores in
    clusters), or None when not integer or dearer than ``_EXACT_MAX_WORK`` multiply-adds.

    The interval only needs each pattern's kept totals, so patterns with equal totals are
    merged: a dense grid over [sum of negative S_u, sum of positive S_u] x [0, n], built by
    one Binomial(count, 1/2) per unit kind. The p-value of rule 3 comes from the same law,
    so the interval excludes 0 exactly when ``p < alpha``.
    """
    if not np.all(kinds == np.round(kinds)):
        return None
    values, sizes = kinds[:, 0].astype(np.int64), kinds[:, 1].astype(np.int64)
    low, high = int(np.sum(np.minimum(values, 0) * counts)), int(np.sum(np.maximum(values, 0) * counts))
    rows, cols = high - low + 1, int(np.sum(sizes * counts)) + 1
    if rows * cols * int(np.sum(counts + 1)) > _EXACT_MAX_WORK:
        return None
    grid = np.zeros((rows, cols))
    grid[-low, 0] = 1.0  # row r holds kept total r + low
    for value, size, count in zip(values.tolist(), sizes.tolist(), counts.tolist(), strict=True):
        new = np.zeros_like(grid)
        for kept, weight in enumerate(_half_binomial_pmf(count).tolist()):
            shift_v, shift_m = kept * value, kept * size
            new[max(0, shift_v):rows + min(0, shift_v), shift_m:] += (
                weight * grid[max(0, -shift_v):rows - max(0, shift_v), :cols - shift_m])
        grid = new
    row, col = np.nonzero(grid)
    return _NullPatterns((row + low).astype(np.float64), col.astype(np.float64), grid[row, col], True)


def _inverted_interval(sums: np.ndarray, sizes: np.ndarray, patterns: _NullPatterns,
                       alpha: float) -> tuple[float, float]:
    """Hull of the shifts ``delta`` with ``p(delta) >= alpha`` (see the module docstring).

    A pattern reaches the observed statistic at ``delta`` exactly when ``delta``
    lies between its kept and its flipped units' item-level means; the patterns
    that keep or flip every unit reach it at every ``delta``. Monte Carlo
    patterns count the observed pattern once more (``p = (1 + hits) / (B + 1)``).
    """
    total_v, total_m = float(sums.sum()), float(sizes.sum())
    kept_m = patterns.kept_sizes
    flip_m = total_m - kept_m
    split = (kept_m > 0.5) & (flip_m > 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept_mean = patterns.kept_values / kept_m
        flip_mean = (total_v - patterns.kept_values) / flip_m
    lower = np.where(split, np.minimum(kept_mean, flip_mean), -np.inf)
    upper = np.where(split, np.maximum(kept_mean, flip_mean), np.inf)
    weights = patterns.weights
    if not patterns.exact:
        lower, upper = np.append(lower, -np.inf), np.append(upper, np.inf)
        weights = np.append(weights, 1.0)
    need = alpha * float(weights.sum()) * (1.0 - _WEIGHT_TOL)
    return _acceptance_hull(lower, upper, weights, need)


def _acceptance_hull(lower: np.ndarray, upper: np.ndarray, weights: np.ndarray, need: float) -> tuple[float, float]:
    """Smallest and largest point covered by closed intervals ``[lower, upper]`` of total weight >= need."""
    lo_order, hi_order = np.argsort(lower, kind="stable"), np.argsort(upper, kind="stable")
    lo_sorted, hi_sorted = lower[lo_order], upper[hi_order]
    started = np.concatenate([[0.0], np.cumsum(weights[lo_order])])
    ended = np.concatenate([[0.0], np.cumsum(weights[hi_order])])

    def cover(points: np.ndarray) -> np.ndarray:
        return (started[np.searchsorted(lo_sorted, points, side="right")]
                - ended[np.searchsorted(hi_sorted, points, side="left")])

    # the covered weight only rises at a start and only falls after an end
    low_ok = cover(lo_sorted) >= need
    high_ok = cover(hi_sorted) >= need
    return float(lo_sorted[np.argmax(low_ok)]), float(hi_sorted[len(hi_sorted) - 1 - np.argmax(high_ok[::-1])])
