"""Successive halving over prompt candidates: a cheaper stage 1 (cf. FormatSpread's bandit search).

All candidates are scored on a first slice of the validation items (in one fixed random order);
the best ``1/eta`` go on to a larger slice, and so on, until the finalists are scored on every
item and the best of them is chosen — by the same rule as the exhaustive search, which
restricted to the candidates covering the most items gives exactly the finalists
(:func:`medpair_stats.selection.candidate_scores`). Ties go to the earlier candidate in
tie-break order (default format first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Round:
    """One round: ``n_candidates`` are scored on the first ``n_items`` items (cumulative)."""

    n_candidates: int
    n_items: int


def schedule(n_candidates: int, n_items: int, eta: int = 3, min_items: int = 50) -> tuple[Round, ...]:
    """The rounds for ``n_candidates`` and ``n_items``; the last round scores its candidates on all items.

    Rounds keep ``ceil(k / eta)`` candidates each; item slices grow by ``eta`` up to all items,
    never below ``min_items`` (or all items, if fewer).
    """
    if n_candidates < 1 or n_items < 1:
        raise ValueError("need at least one candidate and one item")
    if eta < 2:
        raise ValueError("eta must be at least 2")
    counts = [n_candidates]
    while counts[-1] > 1:
        counts.append(math.ceil(counts[-1] / eta))
    # the last entry (1) is the choice itself, not a round
    counts = counts[:-1] or [1]
    rounds = []
    for r, k in enumerate(counts):
        size = n_items if r == len(counts) - 1 else math.ceil(n_items / eta ** (len(counts) - 1 - r))
        rounds.append(Round(k, min(n_items, max(size, min(min_items, n_items)))))
    return tuple(rounds)


def item_order(n_items: int, seed: int) -> np.ndarray:
    """The fixed random order in which rounds take validation items."""
    return np.random.default_rng(seed).permutation(n_items)


def requests(rounds: tuple[Round, ...]) -> int:
    """Candidate-item evaluations of a schedule (each item scored once per surviving candidate)."""
    done, total = 0, 0
    for rnd in rounds:
        total += rnd.n_candidates * (rnd.n_items - done)
        done = rnd.n_items
    return total


def survivors(means: np.ndarray, keep: int) -> np.ndarray:
    """Indices of the ``keep`` best means, ties to the lower index, in index order."""
    order = np.lexsort((np.arange(means.size), -means))
    return np.sort(order[:keep])


def run_schedule(
    rounds: tuple[Round, ...],
    order: np.ndarray,
    evaluate: Callable[[int, np.ndarray, np.ndarray], None],
    rank: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> list[np.ndarray]:
    """Drive a schedule; the one loop of ``medpair run --search halving`` and of its replays.

    For each round, ``evaluate(number, alive, new_items)`` scores the alive candidates (indices
    into the cell's candidates) on the round's new items (the next slice of ``order``, sorted);
    between rounds, ``rank(alive, items)`` returns the alive candidates' means on every item
    scored so far (``order``'s first ``n_items``) and the best go on. Returns the candidates
    alive in each round; the last entry holds the finalists, which the selection rule of
    :func:`medpair_stats.selection.candidate_scores` then decides between on all items.
    """
    alive = np.arange(rounds[0].n_candidates)
    done = 0
    history = []
    for number, rnd in enumerate(rounds):
        history.append(alive)
        new = np.sort(order[done : rnd.n_items])
        if new.size:
            evaluate(number, alive, new)
        done = rnd.n_items
        keep = rounds[number + 1].n_candidates if number + 1 < len(rounds) else alive.size
        if keep < alive.size:
            alive = alive[survivors(rank(alive, order[:done]), keep)]
    return history


def coverage(rounds: tuple[Round, ...]) -> np.ndarray:
    """Items each candidate is scored on under ``rounds``, sorted: what a halving run's logs must show."""
    counts = []
    for number, rnd in enumerate(rounds):
        later = rounds[number + 1].n_candidates if number + 1 < len(rounds) else 0
        counts += [rnd.n_items] * (rnd.n_candidates - later)
    return np.sort(np.array(counts, dtype=np.int64))


def simulate(scores: np.ndarray, order: np.ndarray, rounds: tuple[Round, ...]) -> int:
    """Replay a schedule on a full candidates × items score matrix; returns the chosen candidate's row."""
    finalists = run_schedule(rounds, order, lambda *_: None,
                             lambda alive, items: scores[np.ix_(alive, items)].mean(axis=1))[-1]
    return int(finalists[survivors(scores[finalists].mean(axis=1), 1)[0]])
