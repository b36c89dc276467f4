"""Split roles: which items a task scores (validation or test) and where its shots come from.

The roles per dataset:

========== ======================================= ===================== ==========================
dataset    validation role                         test role             few-shot pool
========== ======================================= ===================== ==========================
MedQA      official dev                            official test         train
MedMCQA    20% of train (seed 42)                  official validation   the other 80% of train
PubMedQA   the 500 non-test questions, less the    the official 500      50 of the 500 non-test
           50 of the few-shot pool                                       questions (seed 42)
MMLU       validation                              test                  dev (5 questions)
========== ======================================= ===================== ==========================

The validation role is one fixed subsample of at most ``val_limit`` items (default 500,
seed :data:`VAL_SUBSAMPLE_SEED`), the same for every candidate prompt. Few-shot seed ``s`` draws
:data:`FEWSHOT_DRAW` examples from the pool with ``numpy.random.default_rng(s)``; every scored
question of that candidate gets the same examples, in the same order, unless one of them shares
a source with it (:mod:`medpair_tasks.family.fewshot`: it then gets the next ones of the seed's
ranking, :func:`rank_shots`). The pool never shares an item with the validation or test role.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from medpair_tasks.knowledge.records import Item
from medpair_tasks.knowledge.sources import SourceSplits, load_source, local_folder

ROLES = ("val", "test")
SPLIT_SEED = 42
VAL_SUBSAMPLE_SEED = 1234
DEFAULT_VAL_LIMIT = 500
FEWSHOT_DRAW = 3
PUBMEDQA_POOL_SIZE = 50


@dataclass(frozen=True)
class Roles:
    """The items of each role of one dataset (before the validation subsample)."""

    val: tuple[Item, ...]
    test: tuple[Item, ...]
    pool: tuple[Item, ...]


def split_off(items: list[Item], n_split: int, seed: int) -> tuple[list[Item], list[Item]]:
    """Split ``items`` into (``n_split`` chosen at random, the rest), both in source order."""
    chosen = set(np.random.default_rng(seed).choice(len(items), size=n_split, replace=False).tolist())
    return [x for i, x in enumerate(items) if i in chosen], [x for i, x in enumerate(items) if i not in chosen]


def _roles_from(dataset: str, splits: SourceSplits) -> Roles:
    if dataset == "medmcqa":
        val, pool = split_off(splits["train"], round(0.2 * len(splits["train"])), SPLIT_SEED)
        return Roles(tuple(val), tuple(splits["dev"]), tuple(pool))
    if dataset == "pubmedqa":
        pool, val = split_off(splits["dev"], PUBMEDQA_POOL_SIZE, SPLIT_SEED)
        return Roles(tuple(val), tuple(splits["test"]), tuple(pool))
    return Roles(tuple(splits["dev"]), tuple(splits["test"]), tuple(splits["train"]))


def check_disjoint(dataset: str, roles_: Roles) -> None:
    """Refuse roles whose few-shot pool shares an item with a scored role (any dataset family)."""
    overlap = {x.key for x in roles_.pool} & {x.key for x in roles_.val + roles_.test}
    if overlap:
        raise ValueError(f"{dataset}: few-shot pool shares items with a scored role: {sorted(overlap)[:3]}")


def pick_role(roles_: Roles, role: str, val_limit: int = DEFAULT_VAL_LIMIT) -> list:
    """The items scored in ``role``; the validation role is one fixed subsample of ``val_limit`` (≤ 0: all)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    if role == "test":
        return list(roles_.test)
    if 0 < val_limit < len(roles_.val):
        keep = np.sort(np.random.default_rng(VAL_SUBSAMPLE_SEED).choice(len(roles_.val), val_limit, replace=False))
        return [roles_.val[i] for i in keep]
    return list(roles_.val)


def rank_shots(dataset: str, pool: Sequence, seed: int, k: int = FEWSHOT_DRAW) -> list:
    """The whole ``pool`` in few-shot seed ``seed``'s order of preference.

    First the seed's ``k`` draws (``numpy.random.default_rng(seed).choice``), then the rest of
    the pool in the order of a permutation by the same generator. Demonstrations are taken from
    the front, skipping those that share a source with the scored item
    (:mod:`medpair_tasks.family.fewshot`).
    """
    if len(pool) < k:
        raise ValueError(f"{dataset}: few-shot pool has {len(pool)} items, fewer than {k}")
    rng = np.random.default_rng(seed)
    drawn = rng.choice(len(pool), size=k, replace=False)
    rest = np.setdiff1d(np.arange(len(pool)), drawn)
    return [pool[i] for i in (*drawn, *rest[rng.permutation(len(rest))])]


def draw_shots(dataset: str, pool: Sequence, seed: int, k: int = FEWSHOT_DRAW) -> list:
    """The ``k`` draws of few-shot seed ``seed``: the front of :func:`rank_shots`."""
    return rank_shots(dataset, pool, seed, k)[:k]


@lru_cache(maxsize=32)
def _roles_cached(dataset: str, folder: Path | None) -> Roles:
    result = _roles_from(dataset, load_source(dataset))
    check_disjoint(dataset, result)
    return result


def roles(dataset: str) -> Roles:
    """The validation, test and few-shot-pool items of a dataset (cached per data folder)."""
    return _roles_cached(dataset, local_folder(dataset))


def scored_items(dataset: str, role: str, val_limit: int = DEFAULT_VAL_LIMIT) -> list[Item]:
    """The items a task scores in ``role`` (see :func:`pick_role`)."""
    return pick_role(roles(dataset), role, val_limit)


def fewshot_items(dataset: str, seed: int, k: int = FEWSHOT_DRAW) -> list[Item]:
    """The ``k`` draws of few-shot seed ``seed`` from the pool (what every knowledge item is shown)."""
    return draw_shots(dataset, roles(dataset).pool, seed, k)
