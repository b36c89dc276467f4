"""Simulated paired scores for the outcome-rule tests and ``benchmarks/bench_outcome_rule.py``."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

__all__ = ["SIM_DESIGNS", "exact_test_size", "simulate_paired"]

SIM_DESIGNS = [  # (clusters, items); clusters == items means unclustered
    (8, 8 * 5), (10, 10), (12, 60), (20, 40), (20, 200), (40, 40), (60, 120), (60, 200), (200, 200),
]


def simulate_paired(rng: np.random.Generator, k: int, n: int, binary: bool, delta: float) -> tuple[np.ndarray, ...]:
    """Medical and base scores and cluster labels; the true mean difference is exactly ``delta``.

    Each cluster carries a preference for one model whose sign is random, so with
    ``delta = 0`` the models are exchangeable on average (a true null) while items of a
    cluster are correlated. Continuous: ``d = delta + tilt_cluster + 0.8 t_5``. 0/1:
    ``P(base right) = 0.1 + 0.7 q`` (q mixes a cluster and an item ease in [0, 1]),
    ``P(medical right) = P(base right) + delta +- 0.1`` per cluster (``|delta| <= 0.1``
    keeps it in [0, 1]); both models read one uniform half of the time, so their
    errors are correlated as two models' errors on one item are.
    """
    labels = np.arange(n) % k  # k clusters of near-equal size; k == n: unclustered
    if not binary:
        tilt = rng.normal(0.0, 0.5, k)[labels]
        base = rng.normal(0.0, 1.0, n)
        return base + delta + tilt + rng.standard_t(5, n) * 0.8, base, labels
    ease = 0.5 * rng.random(k)[labels] + 0.5 * rng.random(n)
    p_base = 0.1 + 0.7 * ease
    p_med = p_base + delta + rng.choice([-0.1, 0.1], k)[labels]
    u = rng.random(n)
    v = np.where(rng.random(n) < 0.5, u, rng.random(n))
    return (u < p_med).astype(float), (v < p_base).astype(float), labels


def exact_test_size(unit_sums: np.ndarray, alpha: float) -> float:
    """Size of the exact sign-flip test given the units' |sums| (integers: 0/1 scores).

    Conditionally on the magnitudes ``|S_u|``, a true null makes every sign pattern
    equally likely, so ``P(p < alpha)`` is the largest tail ``P(|T*| >= t)`` below
    ``alpha`` (0 when none is). Written independently of ``medpair_stats``: a
    convolution of one Binomial(count, 1/2) per magnitude, or the binomial law itself
    when every magnitude is 1 (independent items: the exact McNemar test).
    """
    mags = np.abs(np.asarray(unit_sums, dtype=np.float64))
    mags = mags[mags > 0].round().astype(int)
    pmf = np.ones(1)
    for value in np.unique(mags):
        count = int(np.count_nonzero(mags == value))
        kernel = np.zeros(2 * value * count + 1)
        kernel[:: 2 * value] = binom.pmf(np.arange(count + 1), count, 0.5)
        pmf = np.convolve(pmf, kernel)
    half = (pmf.size - 1) // 2
    magnitude = np.abs(np.arange(-half, half + 1))
    tails = np.array([pmf[magnitude >= t].sum() for t in range(half + 1)])
    below = tails[tails < alpha * (1.0 - 1e-9)]
    return float(below.max()) if below.size else 0.0
