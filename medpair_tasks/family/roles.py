"""Split roles, shared by every task family: which items a task scores and where its shots come from.

Each dataset has three roles: ``val`` (where the prompt is chosen), ``test`` (where the chosen
prompt is reported) and ``pool`` (where few-shot demonstrations come from); a family's rule
(``roles_from`` in its ``roles`` module) assigns them from the dataset's source splits, and a
:class:`RoleBook` applies it, checks it and caches it per (dataset, data folder).

The validation role is one fixed subsample of at most ``val_limit`` items (default 500,
seed :data:`VAL_SUBSAMPLE_SEED`), the same for every candidate prompt. Few-shot seed ``s`` draws
:data:`FEWSHOT_DRAW` examples from the pool with ``numpy.random.default_rng(s)``; every scored
question of that candidate gets the same examples, in the same order, unless one of them shares
a source with it (:mod:`medpair_tasks.family.fewshot`: it then gets the next ones of the seed's
ranking, :func:`rank_shots`). The pool never shares an item with the validation or test role
(:func:`check_disjoint`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np

from medpair_tasks.family.sources import SourceTable

ROLES = ("val", "test")
SPLIT_SEED = 42
VAL_SUBSAMPLE_SEED = 1234
DEFAULT_VAL_LIMIT = 500
FEWSHOT_DRAW = 3
ROLE_CACHE_SIZE = 32
ItemT = TypeVar("ItemT")
Splits = Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class Roles(Generic[ItemT]):
    """The items of each role of one dataset (before the validation subsample)."""

    val: tuple[ItemT, ...]
    test: tuple[ItemT, ...]
    pool: tuple[ItemT, ...]


def split_off(items: Sequence[ItemT], n_split: int, seed: int) -> tuple[list[ItemT], list[ItemT]]:
    """Split ``items`` into (``n_split`` chosen at random, the rest), both in source order."""
    chosen = set(np.random.default_rng(seed).choice(len(items), size=n_split, replace=False).tolist())
    return [x for i, x in enumerate(items) if i in chosen], [x for i, x in enumerate(items) if i not in chosen]


def check_disjoint(dataset: str, roles_: Roles[Any]) -> None:
    """Refuse roles whose few-shot pool shares an item with a scored role (any dataset family)."""
    overlap = {x.key for x in roles_.pool} & {x.key for x in roles_.val + roles_.test}
    if overlap:
        raise ValueError(f"{dataset}: few-shot pool shares items with a scored role: {sorted(overlap)[:3]}")


def pick_role(roles_: Roles[ItemT], role: str, val_limit: int = DEFAULT_VAL_LIMIT) -> list[ItemT]:
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


def _same(loaded: Any) -> Any:
    return loaded


class RoleBook(Generic[ItemT]):
    """A family's split roles: its rule applied to its sources, checked, cached per (dataset, data folder).

    ``table`` reads the family's sources; ``rule(name, splits)`` assigns the roles of one
    dataset from its source splits; ``splits_of(loaded)`` takes the splits out of what the table
    loads (default: it is the splits); ``check(name, roles)`` refuses roles that break a family
    rule (default :func:`check_disjoint`).
    """

    def __init__(
        self,
        table: SourceTable[Any, Any],
        rule: Callable[[str, Splits], Roles[ItemT]],
        splits_of: Callable[[Any], Splits] = _same,
        check: Callable[[str, Roles[ItemT]], None] = check_disjoint,
    ) -> None:
        self.table = table
        self.rule = rule
        self.splits_of = splits_of
        self.check = check
        self._cached = lru_cache(maxsize=ROLE_CACHE_SIZE)(self._assign)

    def _assign(self, name: str, folder: Path | None) -> Roles[ItemT]:
        """The roles of ``name`` (``folder`` keys the cache: another data folder, other roles)."""
        result = self.rule(name, self.splits_of(self.table.load(name)))
        self.check(name, result)
        return result

    def roles(self, name: str) -> Roles[ItemT]:
        """The validation, test and few-shot-pool items of a dataset (cached per data folder)."""
        return self._cached(name, self.table.folder(name))

    def pool(self, name: str) -> tuple[ItemT, ...]:
        """The few-shot pool of a dataset (empty for a dataset without demonstrations)."""
        return self.roles(name).pool

    def scored_items(self, name: str, role: str, val_limit: int = DEFAULT_VAL_LIMIT) -> list[ItemT]:
        """The items a task scores in ``role`` (see :func:`pick_role`)."""
        return pick_role(self.roles(name), role, val_limit)

    def fewshot_items(self, name: str, seed: int, k: int = FEWSHOT_DRAW) -> list[ItemT]:
        """The ``k`` draws of few-shot seed ``seed`` from the pool (what every item is shown, unless it
        shares a source with one of them); empty for a dataset without a pool."""
        pool = self.pool(name)
        return draw_shots(name, pool, seed, k) if pool else []

    def cache_clear(self) -> None:
        """Forget every dataset's roles (the sources' own cache is the table's)."""
        self._cached.cache_clear()
