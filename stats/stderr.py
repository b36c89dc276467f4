"""Closed-form standard error of a paired mean difference, and the minimum detectable effect.

Formulas follow Miller (2024), "Adding Error Bars to Evals: A Statistical Approach
to Language Model Evaluations" (arXiv:2411.00640):

* paired, independent items: ``SE = sd(d) / sqrt(n)`` with ``d = medical - base``
  and the sample standard deviation (ddof = 1); this already contains the
  ``- 2 Cov(medical, base)`` term that makes pairing worthwhile;
* clustered items: ``SE^2 = sd(d)^2 / n + (1/n^2) * sum_c sum_{i != j in c}
  (d_i - dbar)(d_j - dbar)``, the i.i.d. variance plus the within-cluster
  cross products. With one item per cluster the extra term is zero.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

from ._validate import check_confidence

__all__ = ["MDE_POWER", "paired_se", "minimum_detectable_effect"]


def paired_se(d: np.ndarray, cluster_index: np.ndarray | None = None) -> float:
    """Standard error of ``mean(d)``; cluster-robust when ``cluster_index`` is given.

    Args:
        d: per-item paired differences, at least 2 of them.
        cluster_index: integer cluster code per item, or None for independent items.

    Returns:
        The standard error (0.0 when every difference is the same).
    """
    d = np.asarray(d, dtype=np.float64)
    n = d.size
    resid = d - d.mean()
    sum_sq = float(np.dot(resid, resid))
    var = sum_sq / (n * (n - 1.0))
    if cluster_index is not None:
        cluster_tot = np.bincount(cluster_index, weights=resid)
        # sum over clusters of sum_{i != j} e_i e_j = sum_c (sum_i e_i)^2 - sum_i e_i^2
        var += (float(np.dot(cluster_tot, cluster_tot)) - sum_sq) / (n * n)
    return math.sqrt(max(var, 0.0))


#: Power of the minimum detectable effect that records report.
MDE_POWER = 0.8


def minimum_detectable_effect(se: float, confidence: float = 0.95, power: float = MDE_POWER) -> float:
    """Smallest true difference a two-sided test at level ``1 - confidence`` detects with ``power``.

    ``MDE = (z_{1 - alpha/2} + z_{power}) * se`` with ``alpha = 1 - confidence``
    (Miller 2024, power analysis). At 95% confidence and 80% power the multiplier
    is 1.95996 + 0.84162 = 2.80158.
    """
    confidence = check_confidence(confidence)
    if not 0.0 < float(power) < 1.0:
        raise ValueError(f"power must lie strictly between 0 and 1; got {power}")
    if not math.isfinite(se) or se < 0.0:
        raise ValueError(f"se must be a finite non-negative number; got {se}")
    alpha = 1.0 - confidence
    return float((ndtri(1.0 - alpha / 2.0) + ndtri(float(power))) * se)
