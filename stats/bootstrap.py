"""Paired bootstrap of a mean difference, over items or over whole clusters.

The statistic is the item-level mean of the paired differences ``d = medical -
base``. Items are grouped into *resampling units*: each item on its own, or each
cluster (all items sharing a source, e.g. questions about one patient). A unit
``u`` is summarised by the sum of its differences ``S_u`` and its size ``m_u``; a
bootstrap replicate draws ``K`` units with replacement and takes
``sum(S) / sum(m)`` over the drawn units, i.e. the mean difference of the
pseudo-sample. Unclustered data are the special case ``m_u = 1``.

Two exact ways to draw the replicates, chosen automatically:

* **Category counts.** Units with equal ``(S_u, m_u)`` are interchangeable, so
  only how many of each kind were drawn matters; those counts follow a
  multinomial law over the ``U`` distinct kinds with probabilities
  ``count_kind / K``. For 0/1 accuracy without clusters ``d`` takes only the
  values -1, 0, 1, so a replicate costs three numbers instead of ``n`` index
  draws. This is the *same distribution* as index resampling, not an
  approximation.
* **Index draws.** Otherwise, integer indices are drawn in chunks.

Both are vectorised over resamples and processed in chunks whose size is bounded
by ``_CHUNK_ELEMENTS`` random numbers, so 10,000 items x 10,000 resamples never
allocates the full matrix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = [
    "ResamplingUnits",
    "make_units",
    "bootstrap_means",
    "jackknife_means",
    "percentile_interval",
    "bca_interval",
]

logger = logging.getLogger(__name__)

#: Upper bound on random numbers materialised per chunk (about 16 MiB of int64).
_CHUNK_ELEMENTS = 1 << 21
#: A multinomial draw over U kinds costs about as much as this many index draws
#: per kind (measured: ~125 ns per multinomial category against ~4 ns per index
#: draw plus gather); the counts path is used when U * ratio <= K.
_CATEGORY_COST_RATIO = 32


@dataclass(frozen=True)
class ResamplingUnits:
    """The units a bootstrap draws: per-unit sums of differences and sizes."""

    sums: np.ndarray
    """Sum of the paired differences in each unit, float64, shape (K,)."""
    sizes: np.ndarray
    """Number of items in each unit, float64, shape (K,)."""

    @property
    def n_units(self) -> int:
        """Number of resampling units K."""
        return int(self.sums.size)

    @property
    def estimate(self) -> float:
        """The observed statistic: total difference over total items."""
        return float(self.sums.sum() / self.sizes.sum())

    @property
    def unit_sized(self) -> bool:
        """True when every unit holds exactly one item (no clustering)."""
        return bool(np.all(self.sizes == 1.0))


def make_units(d: np.ndarray, cluster_index: np.ndarray | None, n_clusters: int) -> ResamplingUnits:
    """Group the paired differences ``d`` into resampling units.

    Args:
        d: per-item differences, float64, shape (n,).
        cluster_index: cluster code of each item (0 … n_clusters-1) or None.
        n_clusters: number of clusters (ignored when ``cluster_index`` is None).
    """
    if cluster_index is None:
        return ResamplingUnits(sums=np.array(d, dtype=np.float64), sizes=np.ones(d.size))
    sums = np.bincount(cluster_index, weights=d, minlength=n_clusters)
    sizes = np.bincount(cluster_index, minlength=n_clusters).astype(np.float64)
    return ResamplingUnits(sums=sums, sizes=sizes)


def bootstrap_means(units: ResamplingUnits, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of the item-level mean difference.

    Each replicate resamples ``K`` units with replacement and returns
    ``sum(S) / sum(m)`` over the drawn units.

    Args:
        units: the resampling units (see :func:`make_units`).
        n_resamples: number of replicates B.
        rng: source of randomness; consumed deterministically.

    Returns:
        float64 array of shape (B,).
    """
    k = units.n_units
    kinds, counts = np.unique(
        np.column_stack([units.sums, units.sizes]), axis=0, return_counts=True
    )
    if kinds.shape[0] * _CATEGORY_COST_RATIO <= k:
        logger.debug("bootstrap: multinomial over %d unit kinds (K=%d)", kinds.shape[0], k)
        return _by_category_counts(kinds[:, 0], kinds[:, 1], counts, n_resamples, rng)
    logger.debug("bootstrap: index draws over K=%d units", k)
    return _by_index_draws(units, n_resamples, rng)


def _by_category_counts(
    kind_sums: np.ndarray,
    kind_sizes: np.ndarray,
    counts: np.ndarray,
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    k = int(counts.sum())
    probs = counts / k
    out = np.empty(n_resamples)
    step = max(1, _CHUNK_ELEMENTS // max(1, kind_sums.size))
    for start in range(0, n_resamples, step):
        stop = min(n_resamples, start + step)
        drawn = rng.multinomial(k, probs, size=stop - start).astype(np.float64)
        out[start:stop] = (drawn @ kind_sums) / (drawn @ kind_sizes)
    return out


def _by_index_draws(units: ResamplingUnits, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    k = units.n_units
    sums, sizes = units.sums, units.sizes
    unit_sized = units.unit_sized
    out = np.empty(n_resamples)
    step = max(1, _CHUNK_ELEMENTS // k)
    for start in range(0, n_resamples, step):
        stop = min(n_resamples, start + step)
        # native index width: np.take converts narrower indices first, which costs more
        idx = rng.integers(0, k, size=(stop - start, k), dtype=np.intp)
        total = np.take(sums, idx).sum(axis=1)
        if unit_sized:
            out[start:stop] = total / k
        else:
            out[start:stop] = total / np.take(sizes, idx).sum(axis=1)
    return out


def jackknife_means(units: ResamplingUnits) -> np.ndarray:
    """Leave-one-unit-out values of the statistic, shape (K,). Needs K >= 2."""
    total_s = units.sums.sum()
    total_m = units.sizes.sum()
    return (total_s - units.sums) / (total_m - units.sizes)


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of the bootstrap replicates.

    Uses linear interpolation between order statistics (numpy's default
    quantile rule, the one ``scipy.stats.bootstrap`` uses).
    """
    alpha = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(replicates, [alpha, 1.0 - alpha])
    return float(lower), float(upper)


def bca_interval(
    replicates: np.ndarray,
    estimate: float,
    jackknife: np.ndarray,
    confidence: float,
) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa) interval (Efron & Tibshirani 1993, ch. 14).

    * Bias correction ``z0 = Phi^-1(p0)`` with ``p0`` the share of replicates below
      the estimate, counting ties as one half (mid-rank; the same convention as
      ``scipy.stats.bootstrap``). Discrete statistics such as accuracy differences
      tie often, and counting ties as one half keeps ``z0 = 0`` for a symmetric
      bootstrap distribution. ``p0`` is clipped to ``[1/(2B), 1 - 1/(2B)]`` so
      that ``z0`` stays finite.
    * Acceleration ``a = sum(D^3) / (6 * sum(D^2)^1.5)`` with ``D`` the deviations
      of the leave-one-unit-out values from their mean (whole clusters are left
      out when clustered); ``a = 0`` when all jackknife values are equal.
    * Adjusted levels ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for ``z`` the
      normal quantiles of the two tails, then quantiles of the replicates as in
      :func:`percentile_interval`. When ``1 - a (z0 + z) <= 0`` (extreme skew)
      the level is pushed to the end of that tail.
    """
    b = replicates.size
    below = np.count_nonzero(replicates < estimate)
    at_or_below = np.count_nonzero(replicates <= estimate)
    below_share = (below + at_or_below) / (2.0 * b)  # p0 above
    below_share = min(max(below_share, 0.5 / b), 1.0 - 0.5 / b)
    bias_z = float(ndtri(below_share))  # z0 above

    dev = jackknife.mean() - jackknife
    denom = float(np.sum(dev**2)) ** 1.5
    accel = float(np.sum(dev**3)) / (6.0 * denom) if denom > 0.0 else 0.0

    alpha = (1.0 - confidence) / 2.0
    levels = []
    for z, tail in ((float(ndtri(alpha)), 0.0), (float(ndtri(1.0 - alpha)), 1.0)):
        num = bias_z + z
        scale = 1.0 - accel * num
        if scale <= 0.0:
            logger.warning("BCa: acceleration %.3g too large for this tail; using %s", accel, tail)
            levels.append(tail)
        else:
            levels.append(float(ndtr(bias_z + num / scale)))
    lower, upper = np.quantile(replicates, levels)
    return float(lower), float(upper)
