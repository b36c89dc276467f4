"""Split roles of the clinical datasets: validation, test and few-shot pool.

The rule of each dataset is documented in its :class:`~medpair_tasks.clinical.sources.ClinicalSource`
(``roles``) and in the README. Three kinds:

- official splits: ``dev`` → val, ``test`` → test, ``train`` → pool (MedNLI);
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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.clinical.sources import CLINICAL_SOURCES, clinical_folder, load_clinical
from medpair_tasks.family.roles import DEFAULT_VAL_LIMIT, FEWSHOT_DRAW, SPLIT_SEED, check_disjoint, draw_shots, pick_role, split_off

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


@dataclass(frozen=True)
class ClinicalRoles:
    """The items of each role of one clinical dataset (before the validation subsample)."""

    val: tuple[ClinicalItem, ...]
    test: tuple[ClinicalItem, ...]
    pool: tuple[ClinicalItem, ...]


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


def roles_from(name: str, splits: dict[str, list[ClinicalItem]]) -> ClinicalRoles:
    """Apply ``name``'s role rule to its source splits."""
    if name in NO_SPLIT_SHARES:
        pool, val, test = partition(splits["all"], NO_SPLIT_SHARES[name])
    elif name == "mednli":
        pool, val, test = splits["train"], splits["dev"], splits["test"]
    elif name.startswith("n2c2_obesity_"):
        val, pool = _split_train(splits["train"], TRAIN_VAL_SHARE, SPLIT_SEED)
        test = splits["test"]
    elif name == "probsum":
        val, _ = _split_train(splits["train"], TRAIN_VAL_SHARE, SPLIT_SEED)
        pool, test = [], splits["test"]
    else:
        raise KeyError(f"no role rule for clinical dataset {name!r}")
    return ClinicalRoles(tuple(val), tuple(test), tuple(pool))


@lru_cache(maxsize=32)
def _roles_cached(name: str, folder: Path | None) -> ClinicalRoles:
    result = roles_from(name, load_clinical(name))
    scored = {x.key for x in result.val + result.test}
    if len(scored) != len(result.val) + len(result.test):
        raise ValueError(f"{name}: item keys are not unique across the val and test roles")
    check_disjoint(name, result)
    return result


def clinical_roles(name: str) -> ClinicalRoles:
    """The validation, test and few-shot-pool items of a clinical dataset (cached per data folder)."""
    if name not in CLINICAL_SOURCES:
        raise KeyError(f"unknown clinical dataset {name!r}")
    return _roles_cached(name, clinical_folder(name))


def scored_items(name: str, role: str, val_limit: int = DEFAULT_VAL_LIMIT) -> list[ClinicalItem]:
    """The items a task scores in ``role`` (the knowledge tasks' rule: :func:`medpair_tasks.family.roles.pick_role`)."""
    return pick_role(clinical_roles(name), role, val_limit)


def fewshot_items(name: str, seed: int, k: int = FEWSHOT_DRAW) -> list[ClinicalItem]:
    """The ``k`` draws of few-shot seed ``seed`` (shown to every item of another cluster); empty without a pool."""
    pool = clinical_roles(name).pool
    return draw_shots(name, pool, seed, k) if pool else []
