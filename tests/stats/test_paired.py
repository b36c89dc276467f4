"""compare_scores against independent references.

References: scipy.stats.bootstrap (percentile and BCa, paired), scipy.stats.permutation_test
(paired "samples" permutations), closed-form standard errors written out here from
Miller (2024), and hand-derived values for the degenerate cases. Nothing is compared with
the code's own earlier output.
"""

from __future__ import annotations

import json
import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from medpair_stats import PairedComparison, compare_scores, minimum_detectable_effect


def _correlated_binary(n: int, p_med: float, p_base: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """0/1 scores of two models sharing per-item difficulty (positively correlated)."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    med = (u < p_med).astype(float)
    # flip a random 30% of items to decouple the two models partly
    v = np.where(rng.random(n) < 0.3, rng.random(n), u)
    base = (v < p_base).astype(float)
    return med, base


def _continuous(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.gamma(2.0, 0.5, n)  # skewed, so BCa differs from percentile
    med = base + shift + rng.exponential(0.4, n) - 0.4
    return med, base


def _mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _scipy_ci(med, base, method: str, n_resamples: int, seed: int, confidence=0.95):
    res = stats.bootstrap(
        (med, base),
        statistic=_mean_diff,
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        method=method,
        confidence_level=confidence,
        rng=np.random.default_rng(seed),
    )
    return res.confidence_interval.low, res.confidence_interval.high


# ---------------------------------------------------------------- bootstrap intervals


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_ci_matches_scipy_on_binary_scores(method):
    med, base = _correlated_binary(300, 0.72, 0.65, seed=1)
    lo, hi = _scipy_ci(med, base, method, 20_000, seed=99)
    r = compare_scores(med, base, n_resamples=20_000, method=method.lower(), seed=5)
    # Monte Carlo error of a 2.5% quantile here is ~0.001; the lattice step is 1/300
    assert abs(r.ci_low - lo) < 0.01
    assert abs(r.ci_high - hi) < 0.01
    assert r.ci_low < r.diff < r.ci_high


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_ci_matches_scipy_on_continuous_scores(method):
    med, base = _continuous(300, 0.05, seed=2)
    lo, hi = _scipy_ci(med, base, method, 20_000, seed=7, confidence=0.9)
    r = compare_scores(med, base, n_resamples=20_000, method=method.lower(), seed=3, confidence=0.9)
    width = hi - lo
    assert abs(r.ci_low - lo) < 0.03 * width
    assert abs(r.ci_high - hi) < 0.03 * width


def test_bca_differs_from_percentile_on_skewed_data():
    rng = np.random.default_rng(4)
    base = np.zeros(60)
    med = rng.lognormal(0.0, 1.2, 60)  # strongly right-skewed differences
    pct = compare_scores(med, base, n_resamples=20_000, seed=1)
    bca = compare_scores(med, base, n_resamples=20_000, seed=1, method="bca")
    lo, hi = _scipy_ci(med, base, "BCa", 20_000, seed=11)
    # BCa shifts both ends to the right for right-skewed data, as scipy's does
    assert bca.ci_low > pct.ci_low and bca.ci_high > pct.ci_high
    assert abs(bca.ci_low - lo) < 0.04 * (hi - lo)
    assert abs(bca.ci_high - hi) < 0.04 * (hi - lo)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_cluster_bootstrap_matches_scipy_on_cluster_totals(method):
    # unequal cluster sizes; the statistic is the pooled item-level mean difference
    rng = np.random.default_rng(8)
    sizes = rng.integers(1, 9, size=60)
    labels = np.repeat(np.arange(60), sizes)
    effect = rng.normal(0.0, 0.15, 60)[labels]
    med = (rng.random(labels.size) < 0.6 + effect).astype(float)
    base = (rng.random(labels.size) < 0.55).astype(float)
    d = med - base
    totals = np.bincount(labels, weights=d)
    counts = np.bincount(labels).astype(float)
    ref = stats.bootstrap(
        (totals, counts),
        statistic=lambda s, m, axis=-1: s.sum(axis=axis) / m.sum(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=20_000,
        method=method,
        rng=np.random.default_rng(21),
    ).confidence_interval
    r = compare_scores(med, base, clusters=labels, n_resamples=20_000, method=method.lower(), seed=4)
    assert r.n_clusters == 60 and r.clustered
    assert abs(r.ci_low - ref.low) < 0.01
    assert abs(r.ci_high - ref.high) < 0.01


def _scipy_cluster_ci(d, labels, method, seed, n_resamples=20_000):
    totals = np.bincount(labels, weights=d)
    counts = np.bincount(labels).astype(float)
    return stats.bootstrap(
        (totals, counts),
        statistic=lambda s, m, axis=-1: s.sum(axis=axis) / m.sum(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=n_resamples,
        method=method,
        rng=np.random.default_rng(seed),
    ).confidence_interval


def test_cluster_bootstrap_pools_items_when_sizes_differ(caplog):
    # big clusters favour the base model, small ones the medical model: the pooled
    # item-level mean and the mean of cluster means differ by ~0.3 here
    rng = np.random.default_rng(9)
    sizes = rng.integers(1, 11, size=50)
    labels = np.repeat(np.arange(50), sizes)
    size_of_item = sizes[labels]
    med = rng.normal(0.0, 0.3, labels.size) + np.where(size_of_item > 5, -0.4, 0.4)
    base = np.zeros(labels.size)
    d = med - base
    cluster_means = np.bincount(labels, weights=d) / sizes
    assert abs(d.mean() - cluster_means.mean()) > 0.15
    ref = _scipy_cluster_ci(d, labels, "percentile", seed=5)
    with caplog.at_level("DEBUG", logger="medpair_stats.bootstrap"):
        r = compare_scores(med, base, clusters=labels, n_resamples=20_000, seed=6, method="percentile")
    assert "index draws" in caplog.text
    assert r.diff == pytest.approx(d.mean())
    width = ref.high - ref.low
    assert abs(r.ci_low - ref.low) < 0.03 * width
    assert abs(r.ci_high - ref.high) < 0.03 * width


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_cluster_bootstrap_by_category_counts_matches_scipy(method, caplog):
    # many small clusters of 0/1 scores: few distinct (cluster total, size) kinds,
    # so the bootstrap draws multinomial counts of kinds instead of indices
    rng = np.random.default_rng(10)
    sizes = rng.integers(1, 4, size=1500)
    labels = np.repeat(np.arange(1500), sizes)
    skill = rng.normal(0.0, 0.15, 1500)[labels]
    med = (rng.random(labels.size) < 0.66 + skill).astype(float)
    base = (rng.random(labels.size) < 0.63 + skill).astype(float)
    ref = _scipy_cluster_ci(med - base, labels, method, seed=8)
    with caplog.at_level("DEBUG", logger="medpair_stats.bootstrap"):
        r = compare_scores(med, base, clusters=labels, n_resamples=20_000, seed=9, method=method.lower())
    assert "multinomial" in caplog.text
    width = ref.high - ref.low
    assert abs(r.ci_low - ref.low) < 0.03 * width
    assert abs(r.ci_high - ref.high) < 0.03 * width


# ---------------------------------------------------------------- randomization p-value


def _scipy_pvalue(med, base, n_resamples=np.inf, seed=0):
    res = stats.permutation_test(
        (med, base),
        _mean_diff,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=np.random.default_rng(seed),
    )
    return res.pvalue


def test_pvalue_exact_matches_scipy_permutation_test_continuous():
    med, base = _continuous(12, 0.3, seed=10)
    r = compare_scores(med, base, n_resamples=1000)
    assert r.p_value_exact
    assert r.p_value == pytest.approx(_scipy_pvalue(med, base), abs=1e-12)


def test_pvalue_exact_matches_scipy_permutation_test_binary():
    med = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1], float)
    base = np.array([0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1], float)
    r = compare_scores(med, base)
    assert r.p_value_exact
    assert r.p_value == pytest.approx(_scipy_pvalue(med, base), abs=1e-12)


def test_pvalue_monte_carlo_matches_scipy_permutation_test():
    med, base = _continuous(200, 0.06, seed=12)
    ref = _scipy_pvalue(med, base, n_resamples=50_000, seed=1)
    r = compare_scores(med, base, n_resamples=50_000, seed=2)
    assert not r.p_value_exact
    assert 0.005 < ref < 0.5  # the comparison is informative
    tol = 4.5 * math.sqrt(ref * (1 - ref) * 2 / 50_000) + 2 / 50_000
    assert abs(r.p_value - ref) < tol


def test_clustered_pvalue_flips_whole_clusters_like_scipy_one_sample_flip():
    rng = np.random.default_rng(13)
    labels = np.repeat(np.arange(14), rng.integers(1, 6, size=14))
    med = rng.normal(0.2, 1.0, labels.size)
    base = rng.normal(0.0, 1.0, labels.size)
    totals = np.bincount(labels, weights=med - base)
    # scipy's one-sample "samples" permutation flips the sign of each observation
    ref = stats.permutation_test(
        (totals,), lambda s, axis=-1: s.sum(axis=axis), permutation_type="samples",
        vectorized=True, n_resamples=np.inf,
    ).pvalue
    r = compare_scores(med, base, clusters=labels)
    assert r.p_value_exact
    assert r.p_value == pytest.approx(ref, abs=1e-12)


def test_clustered_binary_pvalue_is_exact_and_matches_monte_carlo_reference():
    rng = np.random.default_rng(14)
    labels = np.repeat(np.arange(80), 5)
    med = (rng.random(400) < 0.62 + rng.normal(0, 0.2, 80)[labels]).astype(float)
    base = (rng.random(400) < 0.55).astype(float)
    totals = np.bincount(labels, weights=med - base)
    ref = stats.permutation_test(
        (totals,), lambda s, axis=-1: s.sum(axis=axis), permutation_type="samples",
        vectorized=True, n_resamples=100_000, rng=np.random.default_rng(3),
    ).pvalue
    r = compare_scores(med, base, clusters=labels)
    assert r.p_value_exact  # few distinct cluster totals: exact, grouped by magnitude
    assert abs(r.p_value - ref) < 4.5 * math.sqrt(ref * (1 - ref) / 100_000) + 2e-5


def test_many_clusters_binary_pvalue_exact_on_integer_lattice():
    rng = np.random.default_rng(15)
    labels = np.repeat(np.arange(400), 5)
    med = (rng.random(2000) < 0.6 + rng.normal(0, 0.25, 400)[labels]).astype(float)
    base = (rng.random(2000) < 0.57).astype(float)
    totals = np.bincount(labels, weights=med - base)
    _, counts = np.unique(np.abs(totals[totals != 0]), return_counts=True)
    assert np.prod(counts + 1.0) > 1e7  # too many patterns to enumerate one by one
    ref = stats.permutation_test(
        (totals,), lambda s, axis=-1: s.sum(axis=axis), permutation_type="samples",
        vectorized=True, n_resamples=40_000, rng=np.random.default_rng(4),
    ).pvalue
    r = compare_scores(med, base, clusters=labels)
    assert r.p_value_exact
    assert 0.002 < ref < 0.5
    assert abs(r.p_value - ref) < 4.5 * math.sqrt(ref * (1 - ref) / 40_000) + 5e-5


# ---------------------------------------------------------------- standard error and MDE


def test_se_is_paired_closed_form_and_mde_uses_normal_quantiles():
    med, base = _correlated_binary(500, 0.7, 0.66, seed=20)
    r = compare_scores(med, base, n_resamples=500)
    d = med - base
    assert r.se == pytest.approx(np.std(d, ddof=1) / math.sqrt(d.size), rel=1e-12)
    # Miller (2024): Var(A - B) = Var(A) + Var(B) - 2 Cov(A, B), over n
    cov = np.cov(med, base, ddof=1)
    assert r.se == pytest.approx(math.sqrt((cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]) / d.size), rel=1e-12)
    assert r.mde == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * r.se, rel=1e-12)
    assert r.mde == pytest.approx(2.8016 * r.se, rel=1e-4)
    r90 = compare_scores(med, base, n_resamples=500, confidence=0.9)
    assert r90.mde == pytest.approx((stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * r.se, rel=1e-12)


def _miller_clustered_se(d: np.ndarray, labels: np.ndarray) -> float:
    """Miller (2024) clustered SE, written out term by term."""
    n = d.size
    dbar = d.mean()
    var_clt = sum((x - dbar) ** 2 for x in d) / (n - 1) / n
    cross = 0.0
    for c in set(labels.tolist()):
        members = [i for i in range(n) if labels[i] == c]
        for i in members:
            for j in members:
                if i != j:
                    cross += (d[i] - dbar) * (d[j] - dbar)
    return math.sqrt(var_clt + cross / n**2)


def test_clustered_se_matches_miller_formula():
    rng = np.random.default_rng(21)
    labels = rng.integers(0, 25, size=150)
    med = (rng.random(150) < 0.5 + rng.normal(0, 0.2, 25)[labels]).astype(float)
    base = (rng.random(150) < 0.5).astype(float)
    r = compare_scores(med, base, clusters=[f"patient-{x}" for x in labels], n_resamples=200)
    assert r.se == pytest.approx(_miller_clustered_se(med - base, labels), rel=1e-10)
    assert r.mde == pytest.approx(minimum_detectable_effect(r.se), rel=1e-12)


def test_clustered_interval_width_tracks_clustered_se():
    rng = np.random.default_rng(22)
    labels = np.repeat(np.arange(100), 5)
    shared = rng.normal(0.0, 1.0, 100)[labels]  # strong within-cluster correlation of d
    med = shared + rng.normal(0.1, 0.5, 500)
    base = rng.normal(0.0, 0.5, 500)
    clustered = compare_scores(med, base, clusters=labels, n_resamples=20_000, seed=1)
    plain = compare_scores(med, base, n_resamples=20_000, seed=1)
    z = stats.norm.ppf(0.975)
    ratio = (clustered.ci_high - clustered.ci_low) / (2 * z * clustered.se)
    assert 0.9 < ratio < 1.1
    assert clustered.se > 1.5 * plain.se
    assert clustered.ci_high - clustered.ci_low > 1.5 * (plain.ci_high - plain.ci_low)


def test_singleton_clusters_equal_unclustered():
    med, base = _continuous(80, 0.1, seed=23)
    plain = compare_scores(med, base, n_resamples=3000, seed=9, method="bca")
    single = compare_scores(
        med, base, clusters=[f"q{i}" for i in range(80)], n_resamples=3000, seed=9, method="bca"
    )
    a, b = plain.to_dict(), single.to_dict()
    assert b.pop("clustered") is True and a.pop("clustered") is False
    assert a == b
    assert math.isclose(single.se, np.std(med - base, ddof=1) / math.sqrt(80), rel_tol=1e-12)


def test_cluster_labels_only_matter_through_the_grouping():
    rng = np.random.default_rng(24)
    labels = rng.integers(0, 30, size=200)
    med = rng.normal(0.1, 1, 200)
    base = rng.normal(0, 1, 200)
    renamed = np.array([f"doc-{(7 * x + 3) % 31}" for x in labels])
    r1 = compare_scores(med, base, clusters=labels, n_resamples=2000)
    r2 = compare_scores(med, base, clusters=renamed, n_resamples=2000)
    assert r1 == r2


@pytest.mark.parametrize(
    "n, accuracy, paper_se_pct",
    [
        (5000, 0.655, 0.7),  # MATH, Galleon
        (5000, 0.630, 0.7),  # MATH, Dreadnought
        (164, 0.836, 2.9),  # HumanEval, Galleon
        (164, 0.867, 2.7),  # HumanEval, Dreadnought
        (2500, 0.753, 0.9),  # MGSM, Galleon
        (2500, 0.780, 0.8),  # MGSM, Dreadnought
    ],
)
def test_miller_worked_example_standard_errors(n, accuracy, paper_se_pct):
    """Miller (2024) opening example: per-eval SEs sqrt(p(1-p)/n), reported in percentage points."""
    correct = round(accuracy * n)
    scores = np.r_[np.ones(correct), np.zeros(n - correct)]
    r = compare_scores(scores, np.zeros(n), n_resamples=200)
    p = correct / n
    assert r.se == pytest.approx(math.sqrt(p * (1 - p) / (n - 1)), rel=1e-12)
    assert round(100 * r.se, 1) == paper_se_pct


# ---------------------------------------------------------------- outcome, determinism, output


def test_outcome_win_loss_tie():
    med, base = _correlated_binary(800, 0.80, 0.60, seed=30)
    assert compare_scores(med, base).outcome == "win"
    assert compare_scores(base, med).outcome == "loss"
    med, base = _correlated_binary(100, 0.70, 0.69, seed=31)
    r = compare_scores(med, base)
    assert r.outcome == "tie" and r.ci_low <= 0 <= r.ci_high


def test_same_seed_same_result_and_other_seed_other_resamples():
    med, base = _continuous(200, 0.02, seed=40)
    r1 = compare_scores(med, base, seed=123)
    r2 = compare_scores(med, base, seed=123)
    r3 = compare_scores(med, base, seed=124)
    assert r1 == r2
    assert (r1.ci_low, r1.ci_high) != (r3.ci_low, r3.ci_high)
    assert r1.p_value != r3.p_value  # Monte Carlo path uses the seed too
    assert r1.diff == r3.diff and r1.se == r3.se


def test_to_dict_is_plain_json():
    med, base = _correlated_binary(50, 0.7, 0.6, seed=41)
    d = compare_scores(med, base, clusters=np.arange(50) // 5).to_dict()
    assert json.loads(json.dumps(d)) == d
    for key, value in d.items():
        assert value is None or type(value) in (int, float, str, bool), key
    for field in ("n", "n_clusters", "medical_score", "base_score", "diff", "ci_low", "ci_high",
                  "p_value", "mcnemar_p", "b", "c", "se", "mde", "outcome", "confidence",
                  "n_resamples", "method", "seed"):
        assert field in d
    assert isinstance(compare_scores(med, base), PairedComparison)


def test_scores_accept_lists_and_bools():
    med = [True, True, False, True, True, False, True, True]
    base = [1, 0, 0, 1, 0, 0, 1, 0]
    r = compare_scores(med, base, n_resamples=500)
    assert r.medical_score == pytest.approx(6 / 8) and r.base_score == pytest.approx(3 / 8)
    assert (r.b, r.c) == (3, 0)


def test_large_input_is_chunked_and_memory_bounded():
    rng = np.random.default_rng(50)
    med = rng.random(10_000)
    base = rng.random(10_000)
    tracemalloc.start()
    try:
        compare_scores(med, base, n_resamples=10_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # a full 10k x 10k index matrix alone would be 800 MB
    assert peak < 150 * 2**20


# ---------------------------------------------------------------- degenerate cases


@pytest.mark.parametrize("scores", [
    np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], float),
    np.linspace(0.1, 0.9, 25),
])
def test_identical_arrays(scores):
    for method in ("percentile", "bca"):
        r = compare_scores(scores, scores.copy(), method=method)
        assert r.diff == 0.0
        assert (r.ci_low, r.ci_high) == (0.0, 0.0)
        assert r.p_value == 1.0 and r.p_value_exact
        assert r.outcome == "tie"
        assert r.se == 0.0 and r.mde == 0.0
    binary = bool(np.isin(scores, (0, 1)).all())
    r = compare_scores(scores, scores.copy())
    assert (r.mcnemar_p, r.b, r.c) == ((1.0, 0, 0) if binary else (None, None, None))


def test_identical_arrays_clustered():
    scores = np.array([1, 0, 1, 1, 0, 1], float)
    r = compare_scores(scores, scores, clusters=[0, 0, 1, 1, 2, 2], method="percentile")
    assert (r.ci_low, r.ci_high, r.p_value, r.outcome, r.se) == (0.0, 0.0, 1.0, "tie", 0.0)
    # the sign-flip test cannot reject any shift with 3 units (2 / 2^3 >= 0.05): the inverted
    # interval is the whole range a difference of 0/1 scores can take
    r = compare_scores(scores, scores, clusters=[0, 0, 1, 1, 2, 2])
    assert (r.ci_low, r.ci_high, r.p_value, r.outcome, r.min_p) == (-1.0, 1.0, 1.0, "tie", 1.0)


def test_medical_right_on_every_item_base_wrong():
    n = 30
    r = compare_scores(np.ones(n), np.zeros(n))
    assert (r.diff, r.ci_high, r.outcome) == (1.0, 1.0, "win")
    # Tango's score interval (b = n, c = 0): Z(d) = sqrt(n (1 - d) / (1 + d)), so the lower end
    # solves Z = z in closed form; 30 of 30 does not prove a difference of exactly 1
    z2 = stats.norm.isf(0.025) ** 2
    assert r.ci_low == pytest.approx((n - z2) / (n + z2), rel=1e-9)
    # only two of the 2^30 sign patterns reach |T| = 30
    assert r.p_value == pytest.approx(2 * 0.5**n, rel=1e-12)
    assert r.mcnemar_p == pytest.approx(2 * 0.5**n, rel=1e-12)
    assert r.se == 0.0 and (r.b, r.c) == (30, 0)


def test_constant_nonzero_difference_continuous():
    base = np.linspace(0, 1, 40)
    r = compare_scores(base - 0.25, base, method="bca")
    assert r.ci_low == r.ci_high == r.diff == pytest.approx(-0.25)
    assert r.outcome == "loss" and r.se == pytest.approx(0.0, abs=1e-15)


def test_no_discordant_pairs_but_different_scores_is_not_binary():
    med = np.array([1.0, 0.5, 0.0, 1.0])
    base = np.array([1.0, 0.5, 0.0, 1.0])
    r = compare_scores(med, base)
    assert r.mcnemar_p is None and r.p_value == 1.0


def test_two_items_is_the_minimum():
    r = compare_scores([1.0, 0.0], [0.0, 1.0])
    assert r.diff == 0.0 and r.p_value == 1.0 and r.outcome == "tie"
    # Tango's score interval for b = c = 1 of 2 items: symmetric about 0 (its ends are checked
    # against a numerical restricted MLE in test_score_interval.py)
    assert r.ci_low == pytest.approx(-r.ci_high) and 0.5 < r.ci_high <= 1.0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "medical, base, kwargs, message",
    [
        ([1, 0, 1], [1, 0], {}, "same items"),
        ([], [], {}, "empty"),
        ([1.0], [0.0], {}, "at least 2"),
        ([1.0, np.nan, 0.0], [1.0, 1.0, 0.0], {}, "non-finite"),
        ([1.0, 0.0, 1.0], [1.0, np.inf, 0.0], {}, "non-finite"),
        ([1.0, None, 0.0], [1.0, 1.0, 0.0], {}, "real numbers"),
        (["1", "0"], [1, 0], {}, "real numbers"),
        ([[1, 0], [0, 1]], [[1, 0], [0, 1]], {}, "one-dimensional"),
        ([1, 0, 1], [1, 1, 0], {"clusters": [0, 1]}, "clusters has length 2"),
        ([1, 0, 1], [1, 1, 0], {"clusters": ["a", None, "b"]}, "missing"),
        ([1, 0, 1], [1, 1, 0], {"clusters": [0.0, np.nan, 1.0]}, "missing"),
        ([1, 0, 1], [1, 1, 0], {"clusters": ["p1", "p1", "p1"]}, "single cluster"),
        ([1, 0, 1], [1, 1, 0], {"clusters": np.zeros((3, 1))}, "one-dimensional"),
        ([1, 0, 1], [1, 1, 0], {"confidence": 1.0}, "confidence"),
        ([1, 0, 1], [1, 1, 0], {"confidence": 0}, "confidence"),
        ([1, 0, 1], [1, 1, 0], {"confidence": True}, "confidence"),
        ([1, 0, 1], [1, 1, 0], {"n_resamples": 0}, "n_resamples"),
        ([1, 0, 1], [1, 1, 0], {"n_resamples": 100.5}, "n_resamples"),
        ([1, 0, 1], [1, 1, 0], {"method": "basic"}, "method"),
        ([1, 0, 1], [1, 1, 0], {"seed": -1}, "seed"),
        ([1, 0, 1], [1, 1, 0], {"seed": 1.5}, "seed"),
    ],
)
def test_bad_input_raises_clear_value_error(medical, base, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare_scores(medical, base, **kwargs)


def test_method_name_is_case_insensitive_and_seed_none_runs():
    med, base = _correlated_binary(40, 0.7, 0.6, seed=60)
    assert compare_scores(med, base, method="BCa").method == "bca"
    assert compare_scores(med, base, seed=None).seed is None
