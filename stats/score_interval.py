"""Tango's score interval for the difference of two paired proportions, tied to the exact test.

For independent items scored 0/1 by two models, let ``b`` be the items only the
medical model gets right, ``c`` those only the base model gets right and ``n``
all items. The difference of accuracies is ``delta = p_b - p_c``. Tango (1998,
Statistics in Medicine 17:891-908) tests ``delta = delta0`` with the score statistic

``Z(delta0) = (b - c - n delta0) / sqrt(n (2 q + delta0 (1 - delta0)))``,

where ``q`` is the maximum-likelihood estimate of ``p_c`` under ``p_b = p_c +
delta0``: the positive root of ``2n q^2 + (delta0 (2n - b + c) - b - c) q - c
delta0 (1 - delta0) = 0``. At ``delta0 = 0`` it is the uncorrected asymptotic
McNemar statistic ``(b - c) / sqrt(b + c)``. The score interval is the set of
``delta0`` with ``|Z(delta0)| <= z_{1 - alpha/2}``; its coverage stays close to
the nominal level down to small samples (compared by Fagerland, Lydersen & Laake,
"Recommended tests and confidence intervals for paired binomial proportions",
Statistics in Medicine, 2014; 96.8% on 10 items in ``benchmarks/bench_outcome_rule.py``),
where the inverted sign-flip test
of shifted 0/1 differences, which are not symmetric, under-covers.

:func:`paired_binary_interval` makes the interval agree with the exact McNemar
p-value reported beside it: it is the set of shifts not rejected by a family of
tests whose member at ``delta0 = 0`` is the exact McNemar test and whose other
members are Tango's. So 0 is added whenever the exact test does not reject.
Whenever the exact test rejects at level ``alpha``, the asymptotic one does too
(checked for every table with up to 2,000 discordant items at alpha = 0.1, 0.05,
0.01, 0.001), so the interval excludes 0 exactly when ``p < alpha``.
"""

from __future__ import annotations

import math

from scipy.optimize import brentq
from scipy.stats import norm

__all__ = ["paired_binary_interval", "tango_interval", "tango_z"]

#: |Z| used in place of an infinite statistic (zero variance at delta0 = +-1).
_Z_CAP = 1e12


def tango_z(b: int, c: int, n: int, delta0: float) -> float:
    """Tango's score statistic for ``delta = delta0`` (positive when ``b - c > n delta0``)."""
    quad_a = 2.0 * n
    quad_b = -b - c + (2.0 * n - b + c) * delta0
    quad_c = -c * delta0 * (1.0 - delta0)
    root = (math.sqrt(max(quad_b * quad_b - 4.0 * quad_a * quad_c, 0.0)) - quad_b) / (2.0 * quad_a)
    variance = n * (2.0 * max(root, 0.0) + delta0 * (1.0 - delta0))
    numerator = b - c - n * delta0
    if variance <= 0.0:
        return 0.0 if numerator == 0 else math.copysign(_Z_CAP, numerator)
    return max(-_Z_CAP, min(_Z_CAP, numerator / math.sqrt(variance)))


def tango_interval(b: int, c: int, n: int, confidence: float) -> tuple[float, float]:
    """Tango's score interval ``{delta0 : |Z(delta0)| <= z}`` for ``p_b - p_c``, within [-1, 1].

    ``Z`` decreases in ``delta0`` from ``+inf`` at -1 (unless ``c = n``) through 0
    at ``(b - c) / n`` to ``-inf`` at 1 (unless ``b = n``), so each end is one root.
    """
    if not 0 <= b + c <= n or min(b, c) < 0 or n < 1:
        raise ValueError(f"need 0 <= b, c and b + c <= n >= 1; got b={b}, c={c}, n={n}")
    crit = float(norm.isf((1.0 - confidence) / 2.0))
    estimate = (b - c) / n
    lower = -1.0 if c == n else brentq(lambda d: tango_z(b, c, n, d) - crit, -1.0, estimate, xtol=1e-13)
    upper = 1.0 if b == n else brentq(lambda d: tango_z(b, c, n, d) + crit, estimate, 1.0, xtol=1e-13)
    return float(lower), float(upper)


def paired_binary_interval(b: int, c: int, n: int, exact_p: float,
                           confidence: float) -> tuple[float, float, bool]:
    """Interval for independent 0/1 pairs: Tango's, widened to include 0 when ``exact_p >= alpha``.

    ``exact_p`` is the exact McNemar (sign-flip) p-value of ``delta = 0``; ``alpha
    = 1 - confidence``. See the module docstring for why the result then excludes
    0 exactly when ``exact_p < alpha``.

    Returns:
        ``(lower, upper, widened)``; ``widened`` is True when Tango's interval
        alone excluded 0 and was extended to it.
    """
    lower, upper = tango_interval(b, c, n, confidence)
    widened = exact_p >= round(1.0 - confidence, 12) and (lower > 0.0 or upper < 0.0)
    if widened:
        lower, upper = min(lower, 0.0), max(upper, 0.0)
    return lower, upper, widened
