"""Split roles of the VQA datasets, as Jeong et al. (2024) used them.

=========== ============================================ ===================== =====================
dataset     validation role                              test role             few-shot pool
=========== ============================================ ===================== =====================
VQA-RAD     20% of train (seed 42)                       official test         the other 80% of train
SLAKE       official validation                          official test         train
PathVQA     official validation                          official test         train
MMMU (each  5 of the validation questions (seed 42)      the other validation  dev (5 questions)
subject)                                                 questions
=========== ============================================ ===================== =====================

The two seeded splits reproduce the authors' code: VQA-RAD's validation is scikit-learn's
``train_test_split(range(n), test_size=0.2, random_state=42)`` test part (the first
``ceil(0.2 n)`` of ``RandomState(42).permutation(n)``); MMMU's validation is ``datasets``'
``train_test_split(train_size=5, seed=42)`` train part (the last 5 of
``default_rng(42).permutation(n)``). Unlike the authors, who drew VQA-RAD demonstrations from the
whole train split, medpair's pool never shares an item with a scored role, and no prompt shows
a demonstration about the scored item's own image (:mod:`medpair_tasks.family.fewshot`).

Validation subsampling (``val_limit``) and few-shot draws work as for the knowledge tasks
(:mod:`medpair_tasks.family.roles`).
"""

from __future__ import annotations

import math

import numpy as np

from medpair_tasks.family.roles import SPLIT_SEED, RoleBook, Roles, Splits
from medpair_tasks.vqa.records import VQAItem
from medpair_tasks.vqa.sources import TABLE, LoadedSource

MMMU_VAL_SIZE = 5
VQA_RAD_VAL_SHARE = 0.2


def sklearn_test_indices(n: int, test_share: float, seed: int) -> np.ndarray:
    """The test indices of scikit-learn's ``train_test_split(range(n), test_size=test_share, random_state=seed)``."""
    return np.random.RandomState(seed).permutation(n)[: math.ceil(test_share * n)]


def hf_train_indices(n: int, train_size: int, seed: int) -> np.ndarray:
    """The train indices of ``datasets.Dataset.train_test_split(train_size=train_size, seed=seed)``."""
    return np.random.default_rng(seed).permutation(n)[n - train_size :]


def _pick(items: tuple[VQAItem, ...], chosen: np.ndarray) -> tuple[tuple[VQAItem, ...], tuple[VQAItem, ...]]:
    keep = set(chosen.tolist())
    return tuple(x for i, x in enumerate(items) if i in keep), tuple(x for i, x in enumerate(items) if i not in keep)


def roles_from(dataset: str, splits: Splits) -> Roles[VQAItem]:
    """The roles of ``dataset`` given its source splits (see the table above)."""
    if dataset == "vqa_rad":
        train = splits["train"]
        val, pool = _pick(train, sklearn_test_indices(len(train), VQA_RAD_VAL_SHARE, SPLIT_SEED))
        return Roles(val, splits["test"], pool)
    if dataset.startswith("mmmu_"):
        questions = splits["test"]
        if len(questions) <= MMMU_VAL_SIZE:
            raise ValueError(f"{dataset}: {len(questions)} validation questions, need more than {MMMU_VAL_SIZE}")
        val, test = _pick(questions, hf_train_indices(len(questions), MMMU_VAL_SIZE, SPLIT_SEED))
        return Roles(val, test, splits["train"])
    return Roles(splits["dev"], splits["test"], splits["train"])


def _splits(loaded: LoadedSource) -> Splits:
    return loaded.splits


#: The VQA datasets' roles, cached per data folder.
BOOK: RoleBook[VQAItem] = RoleBook(TABLE, roles_from, _splits)
vqa_roles = BOOK.roles
scored_items = BOOK.scored_items
fewshot_items = BOOK.fewshot_items
