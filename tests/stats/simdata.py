"""Simulated paired scores for the outcome-rule tests and ``benchmarks/bench_outcome_rule.py``."""

from __future__ import annotations

import numpy as np

__all__ = ["SIM_DESIGNS", "simulate_paired"]

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
