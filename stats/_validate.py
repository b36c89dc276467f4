"""Input validation for the paired statistics, kept in one place.

Every public function of :mod:`medpair_stats` routes its arguments through the
helpers here, so that bad input fails early with one clear :class:`ValueError`
instead of a numpy error deep inside a resampling loop.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "INTERVAL_METHODS",
    "PairedInput",
    "as_scores",
    "as_cluster_index",
    "check_confidence",
    "check_n_resamples",
    "check_method",
    "check_seed",
    "validate_paired",
]

#: Interval methods understood by :func:`medpair_stats.compare_scores`.
INTERVAL_METHODS: tuple[str, ...] = ("signflip", "percentile", "bca")


@dataclass(frozen=True)
class PairedInput:
    """Validated, normalised arguments of a paired comparison."""

    medical: np.ndarray
    """Per-item scores of the medical model, float64, shape (n,)."""
    base: np.ndarray
    """Per-item scores of the base model, float64, shape (n,)."""
    cluster_index: np.ndarray | None
    """Cluster number of each item (0 … n_clusters-1, numbered in order of first
    appearance), or None when the items are independent."""
    n_clusters: int
    """Number of resampling units: clusters, or items when unclustered."""
    confidence: float
    n_resamples: int
    method: str
    seed: int | None


def as_scores(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a finite, non-empty, one-dimensional float64 array.

    Raises:
        ValueError: if ``values`` is not one-dimensional, is empty, holds
            something other than numbers (``None``, strings) or holds NaN/inf.
    """
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged nested sequences and the like
        raise ValueError(f"{name} could not be read as an array of numbers: {exc}") from exc
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one score per item); got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one scored item")
    if arr.dtype.kind == "O":
        for i, v in enumerate(arr.tolist()):
            if v is None or isinstance(v, (str, bytes)) or not isinstance(v, numbers.Real):
                raise ValueError(
                    f"{name} must contain real numbers only; item {i} is {v!r}"
                )
        arr = arr.astype(np.float64)
    elif arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must contain real numbers; got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        where = np.flatnonzero(bad)
        raise ValueError(
            f"{name} contains {where.size} non-finite score(s) (NaN or inf), first at "
            f"item {int(where[0])}; drop or score those items before comparing"
        )
    return arr


def as_cluster_index(clusters: ArrayLike, n: int) -> tuple[np.ndarray, int]:
    """Turn cluster labels into integer codes numbered by first appearance.

    Labels may be any hashable values (ints, strings, tuples …). Numbering by first
    appearance (not by sorted label) means that one-item clusters give the units in
    the same order as the items themselves, so a clustered comparison with
    singleton clusters is *identical* to an unclustered one.

    Returns:
        ``(index, n_clusters)`` with ``index`` an intp array of shape (n,).

    Raises:
        ValueError: wrong length, not one-dimensional, or missing labels
            (``None`` / NaN).
    """
    if isinstance(clusters, (str, bytes)):
        raise ValueError("clusters must be a sequence of labels, one per item, not a string")
    try:
        arr = np.asarray(clusters)
    except Exception as exc:
        raise ValueError(f"clusters could not be read as a sequence of labels: {exc}") from exc
    if arr.ndim != 1:
        if isinstance(clusters, np.ndarray) or arr.ndim == 0:
            raise ValueError(
                f"clusters must be one-dimensional (one label per item); got shape {arr.shape}"
            )
        # a list of tuples becomes 2-D; fall back to an object array of labels
        labels = list(clusters)  # type: ignore[arg-type]
        arr = np.empty(len(labels), dtype=object)
        arr[:] = labels
    if arr.shape[0] != n:
        raise ValueError(
            f"clusters has length {arr.shape[0]} but there are {n} paired items; "
            "give exactly one cluster label per item"
        )
    if arr.dtype.kind == "f":
        missing = np.isnan(arr)
        if missing.any():
            raise ValueError(
                f"clusters has {int(missing.sum())} missing (NaN) label(s), first at "
                f"item {int(np.flatnonzero(missing)[0])}"
            )
    if arr.dtype.kind == "O":
        codes: dict[object, int] = {}
        index = np.empty(n, dtype=np.intp)
        for i, label in enumerate(arr.tolist()):
            if label is None or (isinstance(label, float) and label != label):
                raise ValueError(f"clusters has a missing label (None/NaN) at item {i}")
            try:
                index[i] = codes.setdefault(label, len(codes))
            except TypeError as exc:
                raise ValueError(
                    f"cluster label at item {i} ({label!r}) is not hashable"
                ) from exc
        return index, len(codes)
    _, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse.reshape(-1)].astype(np.intp, copy=False), int(order.size)


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` as a float strictly between 0 and 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise ValueError(f"confidence must be a number in (0, 1); got {confidence!r}")
    value = float(confidence)
    if not 0.0 < value < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {value}")
    return value


def check_n_resamples(n_resamples: int) -> int:
    """Return ``n_resamples`` as a positive int."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, numbers.Integral):
        raise ValueError(f"n_resamples must be a positive integer; got {n_resamples!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer; got {n_resamples}")
    return int(n_resamples)


def check_method(method: str) -> str:
    """Return the interval method in canonical (lower-case) spelling."""
    if not isinstance(method, str) or method.lower() not in INTERVAL_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(map(repr, INTERVAL_METHODS))}; got {method!r}"
        )
    return method.lower()


def check_seed(seed: int | None) -> int | None:
    """Return ``seed`` as a non-negative int, or None (fresh OS entropy)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be a non-negative integer or None; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None; got {seed}")
    return int(seed)


def validate_paired(
    medical: ArrayLike,
    base: ArrayLike,
    *,
    clusters: ArrayLike | None,
    n_resamples: int,
    confidence: float,
    method: str,
    seed: int | None,
) -> PairedInput:
    """Validate every argument of :func:`medpair_stats.compare_scores` at once.

    Rules: both score arrays one-dimensional, non-empty, finite and of equal
    length; at least two items; when ``clusters`` is given, one label per item and
    at least two distinct clusters (a single cluster carries no information about
    between-cluster variation, so neither the cluster bootstrap nor the clustered
    standard error is defined).
    """
    med = as_scores(medical, "medical")
    bas = as_scores(base, "base")
    if med.size != bas.size:
        raise ValueError(
            f"medical and base must score the same items: got {med.size} medical and "
            f"{bas.size} base scores"
        )
    n = med.size
    if n < 2:
        raise ValueError(
            "need at least 2 paired items: with a single item there is no variability "
            "to resample and no standard error"
        )
    index: np.ndarray | None = None
    n_clusters = n
    if clusters is not None:
        index, n_clusters = as_cluster_index(clusters, n)
        if n_clusters < 2:
            raise ValueError(
                "all items are in a single cluster: a cluster bootstrap and a "
                "cluster-robust standard error need at least 2 clusters"
            )
    return PairedInput(
        medical=med,
        base=bas,
        cluster_index=index,
        n_clusters=n_clusters,
        confidence=check_confidence(confidence),
        n_resamples=check_n_resamples(n_resamples),
        method=check_method(method),
        seed=check_seed(seed),
    )
