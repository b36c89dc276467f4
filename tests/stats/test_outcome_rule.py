"""One outcome rule: win / tie / loss never contradicts the p-value printed beside it.

References: ``scipy.stats.permutation_test`` (exact sign flips) for the inverted
interval, a brute-force sign-flip computation written out here for the Monte Carlo
paths, and simulation under a true null and under an alternative.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from lmeval_fake import make_docs, write_role_run
from simdata import SIM_DESIGNS, exact_test_size, simulate_paired
from scipy import stats

from medpair_stats import compare_scores
from medpair_stats.compare import main

ALPHA = 0.05


def _sum_stat(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(x, axis=axis)


def _scipy_p(unit_sums: np.ndarray, unit_sizes: np.ndarray, delta: float) -> float:
    """Exact two-sided sign-flip p of H0: mean difference = delta (scipy enumerates 2^K patterns)."""
    res = stats.permutation_test((unit_sums - delta * unit_sizes,), _sum_stat, permutation_type="samples",
                                 n_resamples=np.inf, alternative="two-sided", vectorized=True)
    return float(res.pvalue)


# ---------------------------------------------------------------- the VQA example of issue 15


def _vqa_logs(root: Path) -> tuple[Path, Path]:
    """14 VQA-RAD-format test items about 10 images; 5 of 5 discordant items favour the medical model."""
    images = [f"img{j}" for j in (0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7, 8, 9)]
    docs = make_docs("vqarad", "test", len(images), clusters=images)
    base = np.array([1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0], dtype=float)
    med = base.copy()
    for i in (1, 3, 4, 8, 13):  # one discordant item in each of 5 images, all won by the medical model
        assert base[i] == 0.0
        med[i] = 1.0
    dm = write_role_run(root / "med", "med", "vqarad", "test", {"f00": med}, docs, when=0)
    db = write_role_run(root / "base", "base", "vqarad", "test", {"f00": base}, docs, when=1)
    return dm, db


def test_vqa_example_is_a_tie_through_medpair_compare(tmp_path: Path, capsys) -> None:
    dm, db = _vqa_logs(tmp_path / "logs")
    out = tmp_path / "report"
    assert main(["--medical", str(dm), "--base", str(db), "--out", str(out), "-q"]) == 0
    doc = json.loads((out / "comparisons.json").read_text())
    (rec,) = doc["records"]
    assert (rec["n"], rec["n_clusters"], rec["b"], rec["c"]) == (14, 10, 5, 0)
    # 5 images differ, all one way: the exact sign-flip p is 2 / 2^5, the smallest this design allows
    assert rec["p_value"] == pytest.approx(stats.binomtest(5, 5, 0.5).pvalue)
    assert rec["p_value"] >= ALPHA
    assert rec["outcome"] == "tie" and rec["outcome_adjusted"] == "tie"
    assert rec["min_p"] == pytest.approx(0.0625)
    assert "cannot reach" in rec["outcome_note"]
    assert any("cannot reach" in n for n in doc["notes"])
    assert rec["ci_low"] <= 0.0 <= rec["ci_high"]  # the interval agrees with the test
    assert rec["mcnemar_p"] is None  # clustered: McNemar would treat the 14 items as independent


def test_too_few_discordant_items_is_a_noted_tie() -> None:
    base = np.zeros(100)
    med = base.copy()
    med[:5] = 1.0  # 5 discordant items, all for the medical model; the bootstrap interval excludes 0
    r = compare_scores(med, base, method="percentile", n_resamples=4000)
    assert r.ci_low > 0.0
    assert r.p_value == pytest.approx(stats.binomtest(5, 5, 0.5).pvalue)
    assert r.outcome == "tie" and r.min_p == pytest.approx(2 / 2**5)
    assert "cannot reach" in r.outcome_note
    med[:6] = 1.0  # 6 of 6: 2 / 64 < 0.05, a win by both the test and the interval
    r6 = compare_scores(med, base)
    assert r6.p_value == pytest.approx(stats.binomtest(6, 6, 0.5).pvalue) and r6.outcome == "win"
    assert r6.ci_low > 0.0 and r6.outcome_note == ""


# ---------------------------------------------------------------- the inverted interval against scipy


@pytest.mark.parametrize("clustered", [False, True])
def test_signflip_interval_is_the_set_scipy_does_not_reject(clustered: bool) -> None:
    rng = np.random.default_rng(11)
    n = 30 if clustered else 11
    labels = rng.integers(0, 11, n) if clustered else np.arange(n)
    med = rng.normal(0.4, 1.0, n)
    base = rng.normal(0.0, 1.0, n)
    r = compare_scores(med, base, clusters=labels if clustered else None)
    _, codes = np.unique(labels, return_inverse=True)
    sums = np.bincount(codes, weights=med - base)
    sizes = np.bincount(codes).astype(float)
    assert math.isfinite(r.ci_low) and math.isfinite(r.ci_high)
    eps = 1e-7 * (r.ci_high - r.ci_low)
    assert _scipy_p(sums, sizes, r.ci_low + eps) >= ALPHA > _scipy_p(sums, sizes, r.ci_low - eps)
    assert _scipy_p(sums, sizes, r.ci_high - eps) >= ALPHA > _scipy_p(sums, sizes, r.ci_high + eps)
    assert r.p_value == pytest.approx(_scipy_p(sums, sizes, 0.0), rel=1e-9)
    assert (r.ci_low > 0.0 or r.ci_high < 0.0) == (r.p_value < ALPHA)


def test_clustered_binary_interval_is_the_exact_inversion_even_with_many_unit_kinds() -> None:
    rng = np.random.default_rng(21)
    labels = np.repeat(np.arange(16), rng.integers(2, 7, 16))
    base = (rng.random(labels.size) < 0.5).astype(float)
    med = np.where(rng.random(labels.size) < 0.45, 1.0 - base, base)
    med[labels < 5] = 1.0  # a preference in some clusters, so that the interval's ends are informative
    sums = np.bincount(labels, weights=med - base)
    sizes = np.bincount(labels).astype(float)
    _, kind_counts = np.unique(np.column_stack([sums, sizes]), axis=0, return_counts=True)
    assert np.prod(kind_counts + 1.0) > 4096  # too many patterns for the grouped enumeration with B = 100
    r = compare_scores(med, base, clusters=labels, n_resamples=100)
    eps = 1e-7 * (r.ci_high - r.ci_low)
    assert _scipy_p(sums, sizes, r.ci_low + eps) >= ALPHA > _scipy_p(sums, sizes, r.ci_low - eps)
    assert _scipy_p(sums, sizes, r.ci_high - eps) >= ALPHA > _scipy_p(sums, sizes, r.ci_high + eps)
    assert r.p_value == pytest.approx(_scipy_p(sums, sizes, 0.0), rel=1e-9) and r.p_value_exact
    assert (r.ci_low > 0.0 or r.ci_high < 0.0) == (r.p_value < ALPHA)


def _brute_force_p(d: np.ndarray, deltas: np.ndarray, n_signs: int, seed: int) -> np.ndarray:
    """Sign-flip p(delta) by flipping random sign vectors directly (no grouping, no end points)."""
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n_signs, d.size))
    out = np.empty(deltas.size)
    for j, delta in enumerate(deltas):
        x = d - delta
        t_star = np.abs(signs @ x)
        out[j] = (1 + np.count_nonzero(t_star >= abs(x.sum()) - 1e-9)) / (n_signs + 1)
    return out


def test_signflip_interval_monte_carlo_path_matches_brute_force_on_binary_scores() -> None:
    rng = np.random.default_rng(5)
    n = 300  # 0/1 scores: too many patterns to enumerate, so the interval draws kind counts
    base = (rng.random(n) < 0.6).astype(float)
    med = np.where(rng.random(n) < 0.25, 1.0 - base, base)
    med[rng.random(n) < 0.15] = 1.0
    r = compare_scores(med, base, n_resamples=20_000, seed=3)
    d = med - base
    grid = np.round(np.arange(-0.2, 0.3, 0.004), 6)
    p = _brute_force_p(d, grid, 20_000, seed=8)
    accepted = grid[p >= ALPHA]
    # Monte Carlo error of p near 0.05 with 20,000 draws is ~0.0015: allow one grid step either side
    assert accepted.min() - 0.0041 <= r.ci_low <= accepted.min() + 0.0001
    assert accepted.max() - 0.0001 <= r.ci_high <= accepted.max() + 0.0041
    assert r.ci_low < r.diff < r.ci_high
    assert grid[0] < accepted.min() and accepted.max() < grid[-1]


# ---------------------------------------------------------------- simulation: null and alternative

def _null_run(binary: bool, reps: int, seed: int) -> dict[tuple[int, int], tuple[int, int, int, list[float]]]:
    """Per design: (non-ties, non-ties with p >= alpha, replicates whose design could reach alpha,
    the exact test's size on each replicate for 0/1 scores)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, n in SIM_DESIGNS:
        non_ties = bad = reachable = 0
        sizes = []
        for rep in range(reps):
            med, base, labels = simulate_paired(rng, k, n, binary, 0.0)
            r = compare_scores(med, base, clusters=labels if k < n else None, n_resamples=1000, seed=rep)
            non_ties += r.outcome != "tie"
            bad += r.outcome != "tie" and r.p_value >= ALPHA
            # an exact sign-flip test reaches 2 / 2^K' at best, K' the units whose sum is not 0
            unit_sums = np.bincount(labels, weights=med - base)
            reachable += 2.0 / 2.0 ** np.count_nonzero(unit_sums) < ALPHA
            if binary:
                sizes.append(exact_test_size(unit_sums, ALPHA))
        out[(k, n)] = (non_ties, bad, reachable, sizes)
    return out


@pytest.mark.parametrize("binary", [False, True])
def test_null_non_tie_rate_and_no_null_win_with_large_p(binary: bool) -> None:
    reps = 250
    res = _null_run(binary, reps, seed=2024 + binary)
    total = sum(v[0] for v in res.values())
    assert sum(v[1] for v in res.values()) == 0  # never a win or loss with p >= alpha
    if not binary:
        # continuous scores: every design reaches alpha; pooled rate over 9 x 250 replicates,
        # binomial sd 0.46%, so 3-7% is a +-4.3 sd band
        assert all(v[2] == reps for v in res.values())
        assert 0.03 <= total / (reps * len(SIM_DESIGNS)) <= 0.07
        for v in res.values():  # per design: sd 1.4%, band +-3.3 sd around 5%
            assert v[0] / reps <= 0.05 + 3.3 * math.sqrt(0.05 * 0.95 / reps)
    else:
        # 0/1 scores: the exact test is discrete. Given the units that differ, its size is the largest
        # attainable p below alpha (computed independently in simdata.exact_test_size), so the rule's
        # null non-tie count must match the sum of those sizes (a Poisson-binomial count: sd below)
        for v in res.values():
            expected, var = sum(v[3]), sum(x * (1.0 - x) for x in v[3])
            assert abs(v[0] - expected) <= 3.3 * math.sqrt(var) + 1.0, (v[0], expected)
        # the designs that allow 5 +- 2% (mean exact size >= 3%): their pooled rate is in the band
        # up to binomial noise (~1,000 replicates: sd 0.6 points)
        allowing = [d for d, v in res.items() if np.mean(v[3]) >= 0.03]
        assert {(20, 200), (60, 200), (200, 200)} <= set(allowing)
        rate = sum(res[d][0] for d in allowing) / (reps * len(allowing))
        assert 0.03 - 3.3 * math.sqrt(0.03 * 0.97 / (reps * len(allowing))) <= rate <= 0.07


@pytest.mark.parametrize("binary, delta", [(False, 0.3), (True, 0.08)])
def test_coverage_under_an_alternative_is_about_95_percent(binary: bool, delta: float) -> None:
    rng = np.random.default_rng(77 + binary)
    reps = 200
    # every design, 10 independent 0/1 items included (Tango's score interval there; the inverted
    # sign-flip interval covered only 83.5%)
    designs = SIM_DESIGNS
    covered = {}
    for k, n in designs:
        hits = 0
        for rep in range(reps):
            med, base, labels = simulate_paired(rng, k, n, binary, delta)
            r = compare_scores(med, base, clusters=labels if k < n else None, n_resamples=1000, seed=rep)
            hits += r.ci_low <= delta <= r.ci_high
        covered[(k, n)] = hits / reps
    pooled = float(np.mean(list(covered.values())))
    # pooled over 1,800 replicates: binomial sd 0.51%, so 92-98% is a +-5.8 sd band
    assert 0.92 <= pooled <= 0.98, covered
    for rate in covered.values():  # per design: sd 1.5%, band +-3.3 sd
        assert abs(rate - 0.95) <= 3.3 * math.sqrt(0.95 * 0.05 / reps), covered


# ---------------------------------------------------------------- clustered McNemar (issue 10, item 5)


def test_mcnemar_is_left_empty_for_clustered_items_where_it_would_reject_a_true_null_too_often() -> None:
    from statsmodels.stats.contingency_tables import mcnemar

    rng = np.random.default_rng(99)
    reps = 300
    naive = flip = 0
    for rep in range(reps):
        labels = np.repeat(np.arange(60), 8)
        ease = rng.normal(0.0, 1.0, 60)[labels]
        tilt = rng.normal(0.0, 1.2, 60)[labels]  # per-cluster preference, symmetric: a true null
        med = (rng.random(labels.size) < 1 / (1 + np.exp(-(ease + tilt)))).astype(float)
        base = (rng.random(labels.size) < 1 / (1 + np.exp(-(ease - tilt)))).astype(float)
        r = compare_scores(med, base, clusters=labels, n_resamples=500, seed=rep)
        assert r.mcnemar_p is None and r.b is not None
        table = np.array([[0, r.b], [r.c, 0]])  # McNemar only uses the discordant cells
        naive += mcnemar(table, exact=True).pvalue < ALPHA
        flip += r.p_value < ALPHA
    band = 3.3 * math.sqrt(0.05 * 0.95 / reps)
    assert naive / reps > 0.15  # item-level McNemar on these clusters: far above 5%
    assert abs(flip / reps - 0.05) <= band  # the cluster-aware p printed instead


# ---------------------------------------------------------------- Monte Carlo floor (issue 10, item 6)


def test_large_family_with_a_huge_effect_is_all_wins_after_holm() -> None:
    from medpair_stats import adjust_pvalues
    from medpair_stats.records import adjusted_outcome

    rng = np.random.default_rng(3)
    m, n, b = 600, 60, 2000  # 600 records: Holm multiplies the smallest p by 600 > (b + 1) * 0.05
    results = []
    for i in range(m):
        base = rng.normal(0.5, 0.2, n)
        med = base + 0.3 + rng.normal(0.0, 0.1, n)  # continuous scores: the Monte Carlo path
        results.append(compare_scores(med, base, n_resamples=b, seed=i))
    adjusted = adjust_pvalues([r.p_value for r in results], "holm")
    outcomes = {adjusted_outcome(float(a), r.ci_low, r.ci_high, 0.95) for r, a in zip(results, adjusted)}
    assert outcomes == {"win"}
    assert all(not r.p_value_exact and r.p_value < 1.0 / (b + 1) for r in results)
    assert {r.p_method for r in results} == {"hoeffding bound"}


def test_hoeffding_bound_is_never_below_the_exact_sign_flip_p() -> None:
    from medpair_stats.signflip import hoeffding_p

    rng = np.random.default_rng(12)
    k = 14
    signs = 1.0 - 2.0 * ((np.arange(2**k)[:, None] >> np.arange(k)[None, :]) & 1)  # all 2^14 patterns
    for shift in (0.0, 0.3, 0.8, 2.0):
        for _ in range(20):
            s = rng.normal(shift, 1.0, k)
            exact = float(np.mean(np.abs(signs @ s) >= abs(s.sum()) - 1e-12))
            assert hoeffding_p(abs(s.sum()), float(s @ s)) >= exact


# ---------------------------------------------------------------- a cell in one cluster (issue 10, item 5)


def test_cell_whose_items_share_one_cluster_is_a_noted_record_not_an_abort(tmp_path: Path) -> None:
    from medpair_stats.compare import run_compare

    rng = np.random.default_rng(4)
    dirs = {}
    for when, model in enumerate(("med", "base")):
        for ds, clusters in (("medqa", ["pt0"] * 12), ("pubmedqa", None)):
            docs = make_docs(ds, "test", 12, clusters=clusters)
            scores = {"f00": (rng.random(12) < 0.6).astype(float)}
            dirs[model] = write_role_run(tmp_path / "logs" / model, model, ds, "test", scores, docs,
                                         when=2 * when + (ds == "pubmedqa"))
    res = run_compare([dirs["med"]], [dirs["base"]], tmp_path / "out", n_resamples=500)
    recs = {r["dataset"]: r for r in json.loads((tmp_path / "out" / "comparisons.json").read_text())["records"]}
    assert set(recs) == {"medqa", "pubmedqa"}
    one = recs["medqa"]
    assert (one["n"], one["n_clusters"], one["ci_low"], one["ci_high"], one["outcome"]) == (12, 1, None, None, "tie")
    assert "share one cluster" in one["outcome_note"]
    assert any("medqa" in n and "share one cluster" in n for n in res.notes)
    assert recs["pubmedqa"]["ci_low"] is not None


def test_many_units_with_a_large_b_are_enumerated_exactly() -> None:
    rng = np.random.default_rng(1)
    sums = rng.normal(0.5, 1.0, 20)  # 2^20 patterns: more than the grouped exact rule, fewer than B
    r = compare_scores(sums, np.zeros(20), n_resamples=1 << 21)
    assert r.p_value_exact and r.p_method == "exact"
    assert r.p_value == pytest.approx(_scipy_p(sums, np.ones(20), 0.0), rel=1e-9)
