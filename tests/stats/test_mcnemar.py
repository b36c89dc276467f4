"""Exact McNemar p-values against statsmodels' mcnemar(table, exact=True)."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from medpair_stats import compare_scores, mcnemar_exact_p

# (both right, medical only, base only, both wrong)
TABLES = [
    (40, 0, 0, 10),  # b + c = 0
    (10, 0, 5, 3),
    (10, 5, 0, 3),
    (20, 1, 1, 20),
    (12, 10, 3, 5),
    (30, 3, 10, 7),
    (500, 250, 212, 38),
    (300, 1000, 1100, 100),
    (6000, 3000, 2900, 1000),
    (0, 7, 9, 0),
]


def _arrays(both: int, med_only: int, base_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    med = np.r_[np.ones(both), np.ones(med_only), np.zeros(base_only), np.zeros(neither)]
    base = np.r_[np.ones(both), np.zeros(med_only), np.ones(base_only), np.zeros(neither)]
    order = np.random.default_rng(sum((both, med_only, base_only, neither))).permutation(med.size)
    return med[order], base[order]


@pytest.mark.parametrize("table", TABLES)
def test_mcnemar_exact_p_matches_statsmodels(table):
    both, med_only, base_only, neither = table
    ref = mcnemar(np.array([[both, med_only], [base_only, neither]]), exact=True).pvalue
    assert mcnemar_exact_p(med_only, base_only) == pytest.approx(ref, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("table", TABLES)
def test_compare_scores_reports_mcnemar_and_discordant_counts(table):
    both, med_only, base_only, neither = table
    med, base = _arrays(*table)
    ref = mcnemar(np.array([[both, med_only], [base_only, neither]]), exact=True).pvalue
    r = compare_scores(med, base, n_resamples=500)
    assert (r.b, r.c) == (med_only, base_only)
    assert r.mcnemar_p == pytest.approx(ref, rel=1e-12, abs=1e-300)
    # without clusters, the sign-flip test on 0/1 scores *is* exact McNemar
    assert r.p_value_exact
    assert r.p_value == pytest.approx(ref, rel=1e-9, abs=1e-300)


def test_b_plus_c_zero_is_one():
    assert mcnemar_exact_p(0, 0) == 1.0


def test_symmetry_and_bounds():
    for b, c in [(0, 3), (4, 9), (50, 50), (51, 50)]:
        assert mcnemar_exact_p(b, c) == mcnemar_exact_p(c, b)
        assert 0.0 < mcnemar_exact_p(b, c) <= 1.0
    assert mcnemar_exact_p(50, 50) == 1.0
    # hand value: b=0, c=5 -> 2 * 0.5**5
    assert mcnemar_exact_p(0, 5) == pytest.approx(0.0625)


def test_non_binary_scores_give_none():
    r = compare_scores([1.0, 0.5, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], n_resamples=100)
    assert r.mcnemar_p is None and r.b is None and r.c is None
    r = compare_scores([2.0, 0.0, 1.0], [1.0, 0.0, 1.0], n_resamples=100)
    assert r.mcnemar_p is None


def test_clustered_binary_reports_counts_but_no_mcnemar():
    med = np.array([1, 1, 0, 1, 1, 0, 1, 1], float)
    base = np.array([0, 1, 0, 0, 1, 1, 0, 1], float)
    r = compare_scores(med, base, clusters=[0, 0, 1, 1, 2, 2, 3, 3], n_resamples=200)
    # pairs: both right 3, medical only 3, base only 1, both wrong 1; McNemar would treat the
    # 8 items as independent pairs, so it is left empty and p_value is the cluster-aware test
    assert (r.b, r.c) == (3, 1)
    assert r.mcnemar_p is None
    # one item per cluster is no clustering: McNemar is the item-level test again
    r = compare_scores(med, base, clusters=list("abcdefgh"), n_resamples=200)
    assert r.mcnemar_p == pytest.approx(mcnemar(np.array([[3, 3], [1, 1]]), exact=True).pvalue)


@pytest.mark.parametrize("b, c", [(-1, 3), (2.5, 1), (True, 2), ("3", 1)])
def test_bad_counts_raise(b, c):
    with pytest.raises(ValueError, match="non-negative integer"):
        mcnemar_exact_p(b, c)
