"""Tango's score interval for independent 0/1 pairs, and its agreement with the exact test.

References: the restricted maximum-likelihood estimate found numerically by
``scipy.optimize`` (not the closed-form root the module uses), statsmodels' uncorrected
asymptotic McNemar statistic, ``scipy.stats.binomtest`` (the exact McNemar test) and a
closed form for the table with every item discordant one way.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.contingency_tables import mcnemar

from medpair_stats import compare_scores
from medpair_stats.score_interval import tango_interval, tango_z

ALPHA = 0.05
Z_CRIT = float(stats.norm.isf(ALPHA / 2))


def _score_z_numerical(b: int, c: int, n: int, delta: float) -> float:
    """Tango's statistic with the restricted MLE of p_c found by bounded numerical optimisation."""
    rest = n - b - c
    low, high = max(0.0, -delta), (1.0 - delta) / 2.0

    def negloglik(q: float) -> float:
        terms = [(b, q + delta), (c, q), (rest, 1.0 - 2.0 * q - delta)]
        return -sum(k * math.log(p) for k, p in terms if k > 0)

    pad = 1e-12
    q = optimize.minimize_scalar(negloglik, bounds=(low + pad, high - pad), method="bounded",
                                 options={"xatol": 1e-13}).x
    return (b - c - n * delta) / math.sqrt(n * (2.0 * q + delta * (1.0 - delta)))


@pytest.mark.parametrize("b, c, n", [(12, 2, 50), (3, 1, 10), (0, 0, 25), (7, 9, 40), (40, 15, 300), (5, 0, 10)])
def test_tango_interval_ends_solve_the_score_equation(b: int, c: int, n: int) -> None:
    low, high = tango_interval(b, c, n, 1.0 - ALPHA)
    assert -1.0 < low < (b - c) / n < high < 1.0
    assert _score_z_numerical(b, c, n, low) == pytest.approx(Z_CRIT, abs=1e-5)
    assert _score_z_numerical(b, c, n, high) == pytest.approx(-Z_CRIT, abs=1e-5)
    for inside in np.linspace(low, high, 7)[1:-1]:
        assert abs(_score_z_numerical(b, c, n, float(inside))) < Z_CRIT
    for outside in (low - 0.01, high + 0.01):
        if -1.0 < outside < 1.0:
            assert abs(_score_z_numerical(b, c, n, outside)) > Z_CRIT


@pytest.mark.parametrize("b, c", [(12, 2), (3, 1), (7, 9), (1, 0), (25, 60)])
def test_tango_at_zero_is_the_uncorrected_asymptotic_mcnemar_statistic(b: int, c: int) -> None:
    ref = mcnemar(np.array([[10, b], [c, 10]]), exact=False, correction=False)
    assert tango_z(b, c, b + c + 20, 0.0) ** 2 == pytest.approx(ref.statistic, rel=1e-12)


def test_all_discordant_one_way_has_a_closed_form_lower_end() -> None:
    # b = n: the restricted MLE is (1 - d) / 2 and Z(d) = sqrt(n (1 - d) / (1 + d))
    for n in (5, 30, 400):
        low, high = tango_interval(n, 0, n, 0.95)
        assert high == 1.0 and low == pytest.approx((n - Z_CRIT**2) / (n + Z_CRIT**2), rel=1e-9)


def _tables_at_the_exact_boundary(n: int) -> list[tuple[int, int]]:
    """For each number of discordant items, the tables just inside and just outside the exact test's
    rejection region: the ones where a Monte Carlo interval can disagree with the exact p-value."""
    tables = []
    for m in range(6, 61):
        pvals = [stats.binomtest(k, m, 0.5).pvalue for k in range(m + 1)]
        edge = max(k for k in range(m // 2 + 1) if pvals[k] < ALPHA)
        for k in (edge, edge + 1):
            tables += [(k, m - k), (m - k, k)]
    return [(b, c) for b, c in tables if b + c <= n]


def test_unclustered_binary_interval_excludes_zero_exactly_when_binomtest_rejects() -> None:
    n = 150  # too many sign patterns to enumerate: the old sign-flip interval was Monte Carlo here
    disagreements = []
    for b, c in _tables_at_the_exact_boundary(n):
        med = np.r_[np.ones(b), np.zeros(c), np.ones(40), np.zeros(n - b - c - 40)]
        base = np.r_[np.zeros(b), np.ones(c), np.ones(40), np.zeros(n - b - c - 40)]
        r = compare_scores(med, base, n_resamples=2000, seed=b * 1000 + c)
        exact = stats.binomtest(b, b + c, 0.5).pvalue
        assert r.p_value == pytest.approx(exact, rel=1e-9)
        excludes = r.ci_low > 0.0 or r.ci_high < 0.0
        if excludes != (exact < ALPHA) or (r.outcome != "tie") != (exact < ALPHA):
            disagreements.append((b, c, exact, r.ci_low, r.ci_high, r.outcome))
    assert disagreements == []


def test_exact_rejection_implies_the_score_test_rejects_zero() -> None:
    # what makes the widened interval agree with the exact p-value by construction
    for alpha in (0.1, 0.05, 0.01):
        for m in range(1, 400):
            b = np.arange(m + 1)
            exact = np.minimum(1.0, 2.0 * stats.binom.cdf(np.minimum(b, m - b), m, 0.5))
            asymptotic = 2.0 * stats.norm.sf(np.abs(2 * b - m) / math.sqrt(m))
            assert not np.any((exact < alpha) & (asymptotic >= alpha)), (alpha, m)


def test_widened_interval_says_so_in_the_note() -> None:
    base = np.zeros(100)
    med = base.copy()
    med[:5] = 1.0  # 5 of 5 discordant: Tango's interval excludes 0, the exact test cannot reject
    low, _ = tango_interval(5, 0, 100, 0.95)
    assert low > 0.0
    r = compare_scores(med, base)
    assert r.ci_low == 0.0 and r.outcome == "tie"
    assert "cannot reach" in r.outcome_note and "widened to 0" in r.outcome_note
