"""Split roles of the clinical datasets: validation, test and few-shot pool.

The rule of each dataset is documented in its :class:`~medpair_tasks.clinical.sources.ClinicalSource`
(``roles``) and in the README. Three kinds:

- official splits: ``dev`` → val, ``test`` → test, ``train`` → pool (MedNLI, and the default);
- a validation share of ``train``: n2c2 (20%, the rest is the pool) and ProbSum (20%, no pool);
- no official split (``all``): a seeded partition of *groups* (an item's ``cluster``, so a
  patient's or a letter's questions never straddle roles), within each *stratum* (an
  acronym's samples are split per acronym), into pool / val / test.

As for the knowledge tasks, the validation role is one fixed subsample of at most
``val_limit`` items, and few-shot seed ``s`` draws its demonstrations from the pool with
``numpy.random.default_rng(s)``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.clinical.sources import TABLE
from medpair_tasks.family.roles import SPLIT_SEED, RoleBook, Roles, Splits, check_disjoint, split_off

# (pool, val, test) shares of the datasets without an official split
NO_SPLIT_SHARES = {
    "ehrnoteqa": (0.6, 0.2, 0.2),
    "casi": (0.6, 0.2, 0.2),
    "mimic3_acronym": (0.6, 0.2, 0.2),
    "medisumqa": (0.0, 0.2, 0.8),
    "medisumcode": (0.0, 0.2, 0.8),
    "meqsum": (0.0, 0.2, 0.8),
    "longhealth_task1": (0.0, 0.2, 0.8),
    "longhealth_task2": (0.0, 0.2, 0.8),
    "longhealth_task3": (0.0, 0.2, 0.8),
}
TRAIN_VAL_SHARE = 0.2


def _share(n: int, fraction: float, at_least_one: bool) -> int:
    k = int(round(fraction * n))
    return max(k, 1) if at_least_one and fraction > 0 and n >= 2 else k


def partition(
    items: Sequence[ClinicalItem], shares: tuple[float, float, float], seed: int = SPLIT_SEED
) -> tuple[list[ClinicalItem], list[ClinicalItem], list[ClinicalItem]]:
    """(pool, val, test) of ``items`` by the ``shares`` of their groups, per stratum; source order kept.

    A group is an item's ``cluster`` (else the item alone); each stratum (``item.stratum``)
    is split on its own with a generator seeded by ``seed`` and the stratum's name. Each role
    with a positive share gets at least one group of a stratum with enough groups.
    """
    _, val_share, test_share = shares
    role_of_group: dict[tuple[str, str], str] = {}
    strata: dict[str, list[str]] = {}
    for item in items:
        group = item.cluster if item.cluster is not None else f"item:{item.key}"
        groups = strata.setdefault(item.stratum, [])
        if group not in groups:
            groups.append(group)
    for stratum, groups in sorted(strata.items()):
        n = len(groups)
        order = np.random.default_rng([seed, zlib.crc32(stratum.encode())]).permutation(n)
        n_test = _share(n, test_share, True)
        n_val = min(_share(n, val_share, n - n_test >= 2), n - n_test)
        for rank, index in enumerate(order):
            role = "test" if rank < n_test else "val" if rank < n_test + n_val else "pool"
            role_of_group[(stratum, groups[index])] = role
    out: dict[str, list[ClinicalItem]] = {"pool": [], "val": [], "test": []}
    for item in items:
        group = item.cluster if item.cluster is not None else f"item:{item.key}"
        out[role_of_group[(item.stratum, group)]].append(item)
    return out["pool"], out["val"], out["test"]


def _split_train(train: list[ClinicalItem], share: float, seed: int) -> tuple[list[ClinicalItem], list[ClinicalItem]]:
    """(val, rest) of ``train``: ``share`` of it chosen at random, both in source order."""
    return split_off(train, _share(len(train), share, True), seed)


def roles_from(name: str, splits: Splits) -> Roles[ClinicalItem]:
    """Apply ``name``'s role rule to its source splits."""
    if name in NO_SPLIT_SHARES:
        pool, val, test = partition(splits["all"], NO_SPLIT_SHARES[name])
    elif name.startswith("n2c2_obesity_"):
        val, pool = _split_train(splits["train"], TRAIN_VAL_SHARE, SPLIT_SEED)
        test = splits["test"]
    elif name == "probsum":
        val, _ = _split_train(splits["train"], TRAIN_VAL_SHARE, SPLIT_SEED)
        pool, test = [], splits["test"]
    else:  # official splits: MedNLI, and any dataset without a rule of its own
        pool, val, test = splits["train"], splits["dev"], splits["test"]
    return Roles(tuple(val), tuple(test), tuple(pool))


def _check(name: str, result: Roles[ClinicalItem]) -> None:
    """Refuse item keys repeated across the scored roles, and a pool that shares an item with them."""
    scored = {x.key for x in result.val + result.test}
    if len(scored) != len(result.val) + len(result.test):
        raise ValueError(f"{name}: item keys are not unique across the val and test roles")
    check_disjoint(name, result)


#: The clinical datasets' roles, cached per data folder.
BOOK: RoleBook[ClinicalItem] = RoleBook(TABLE, roles_from, check=_check)
clinical_roles = BOOK.roles
scored_items = BOOK.scored_items
fewshot_items = BOOK.fewshot_items
