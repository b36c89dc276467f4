"""Populations and draws of the ``jeong2024`` protocol: which items are scored and which are shown.

As the reference code (``taekb/eval-medical-dapt`` at 908bb86) reads its data:

========== ============================================ =================== ===============================
dataset    validation role (in this order)              test role           few-shot pool (in this order)
========== ============================================ =================== ===============================
MedQA      official dev                                 official test       train
MedMCQA    first 20% of ``default_rng(42).permutation`` official validation the remaining 80%, same order
           of train (Hugging Face ``train_test_split``)
PubMedQA   the 500 non-test PQA-L questions, as fold 0  official 500        PQA-A: ``pqaa_train_set.json``
           of the release's split script orders them                        then ``pqaa_dev_set.json``
MMLU       validation                                   test                dev (5 questions)
========== ============================================ =================== ===============================

Validation subsample: above :data:`VAL_LIMIT` items, ``numpy.random.seed(42)`` then
``numpy.random.choice(n, 500, replace=False)``, in draw order (not sorted). Demonstrations of
few-shot seed ``s``: ``numpy.random.default_rng(s).permutation(len(pool))[:3]``.
"""

from __future__ import annotations

import json
import math
import random
from functools import lru_cache
from pathlib import Path

import numpy as np

from medpair_tasks.family.roles import Roles
from medpair_tasks.family.sources import DataUnavailable
from medpair_tasks.knowledge.records import Item
from medpair_tasks.knowledge.sources import PUBMEDQA_OPTIONS, SOURCES, first_existing, load_source, local_folder

SPLIT_SEED = 42
VAL_LIMIT = 500
N_SHOTS = 3
MEDMCQA_VAL_SHARE = 0.2
PQAL_SPLIT_SEED = 0
PQAL_FOLDS = 10
PQAA_FILES = ("pqaa_train_set.json", "pqaa_dev_set.json")
PQAA_FOLDER = "pubmedqa_artificial"

# MedMCQA options the reference rewrites (its ``clean_option``): stray list numbering in the source.
MEDMCQA_OPTION_FIXES = {
    "c)\tCannot be separated by probe": "Cannot be separated by probe",
    "d)\tIs marginal gingiva": "Is marginal gingiva",
    "A. ii) B. ii) C. i) D. i) E. i)": "A: (ii), B: (ii), C: (i), D: (i), E: (i)",
    "A. i) B. ii) C. ii) D. i) E. i)": "A: (i), B: (ii), C: (ii), D: (i), E: (i)",
    "A. i) B. ii) C. i) D. i) E. ii)": "A: (i), B: (ii), C: (i), D: (i), E: (ii)",
    "A. i) B. ii) C. i) D. i) E. i)": "A: (i), B: (ii), C: (i), D: (i), E: (i)",
    "a)\tTo balance the denture": "To balance the denture",
    "b)\tTo act as a direct retainer": "To act as a direct retainer",
    "c)\tTo counteract the movement of denture which is caused during engagement of retentive arm": (
        "To counteract the movement of denture which is caused during engagement of retentive arm"
    ),
    "d)\tNone of the above": "None of the above",
}


def medmcqa_split(n_train: int) -> tuple[list[int], list[int]]:
    """(validation, pool) indices of MedMCQA's train split, as ``Dataset.train_test_split(test_size=0.2, seed=42)``."""
    n_val = math.ceil(MEDMCQA_VAL_SHARE * n_train)
    n_pool = math.floor((1 - MEDMCQA_VAL_SHARE) * n_train)
    order = np.random.default_rng(SPLIT_SEED).permutation(n_train)
    return order[:n_val].tolist(), order[n_val : n_val + n_pool].tolist()


def val_subsample(n_items: int, limit: int = VAL_LIMIT) -> list[int]:
    """Indices of the validation items scored: all in order up to ``limit``, else the reference's legacy draw."""
    if n_items <= limit:
        return list(range(n_items))
    return np.random.RandomState(SPLIT_SEED).choice(n_items, limit, replace=False).tolist()


def demo_indices(n_pool: int, seed: int, k: int = N_SHOTS) -> list[int]:
    """Pool indices of few-shot seed ``seed``'s demonstrations, in the order they are shown."""
    return np.random.default_rng(seed).permutation(n_pool)[:k].tolist()


# --------------------------------------------------------------------------- PubMedQA


def _spread(pmids_by_label: dict[str, list[str]], n_parts: int, rng: random.Random) -> list[list[str]]:
    """The release's split: shuffle each label's ids, cut into ``n_parts`` runs, then even out the last part."""
    cuts: dict[str, list[list[str]]] = {}
    for label, pmids in pmids_by_label.items():
        shuffled = list(pmids)
        rng.shuffle(shuffled)
        size = math.ceil(len(shuffled) / n_parts)
        cuts[label] = [shuffled[i * size : (i + 1) * size] for i in range(n_parts - 1)] + [shuffled[(n_parts - 1) * size :]]
    parts = [[pmid for label in pmids_by_label for pmid in cuts[label][i]] for i in range(n_parts)]
    if len(parts[-1]) != len(parts[0]):
        for part in parts[:-1]:
            moved = rng.choice(part)
            part.remove(moved)
            parts[-1].append(moved)
    return parts


def pqal_fold0_order(labels: dict[str, str]) -> tuple[list[str], list[str]]:
    """(fold-0 train then dev ids, test ids) of PQA-L as the release's split script (``random.seed(0)``) makes them.

    ``labels`` maps each PubMed id to its label, in the order of ``ori_pqal.json``.
    """
    rng = random.Random(PQAL_SPLIT_SEED)

    def by_label(pmids: list[str]) -> dict[str, list[str]]:
        return {label: [p for p in pmids if labels[p] == label] for label in PUBMEDQA_OPTIONS}

    cv_set, test = _spread(by_label(list(labels)), 2, rng)
    folds = _spread(by_label(cv_set), PQAL_FOLDS, rng)
    return [p for fold in folds[1:] for p in fold] + folds[0], test


def _pubmedqa_item(pmid: str, row: dict) -> Item:
    return Item(pmid, row["QUESTION"], PUBMEDQA_OPTIONS, PUBMEDQA_OPTIONS.index(row["final_decision"]),
                context=" ".join(row["CONTEXTS"]).strip())


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _pqaa_pool(folder: Path) -> list[Item]:
    candidates = [folder, folder.parent / PQAA_FOLDER]
    for place in candidates:
        if all((place / name).is_file() for name in PQAA_FILES):
            return [_pubmedqa_item(p, row) for name in PQAA_FILES for p, row in _read_json(place / name).items()]
    raise DataUnavailable("pubmedqa (PQA-A)", " or ".join(str(c) for c in candidates),
                          "the PubMedQA release's pqaa_train_set.json and pqaa_dev_set.json (its preprocess/"
                          f"split_dataset.py pqaa) into $MEDPAIR_DATA_DIR/pubmedqa/ or $MEDPAIR_DATA_DIR/{PQAA_FOLDER}/")


def _pubmedqa_roles(folder: Path) -> Roles:
    rows = _read_json(first_existing(folder, "ori_pqal.json"))
    truth = list(_read_json(first_existing(folder, "test_ground_truth.json")))
    val_ids, test_ids = pqal_fold0_order({pmid: row["final_decision"] for pmid, row in rows.items()})
    if test_ids != truth:
        raise ValueError(f"{folder}: the release's split does not reproduce test_ground_truth.json")
    items = {pmid: _pubmedqa_item(pmid, row) for pmid, row in rows.items()}
    return Roles(tuple(items[p] for p in val_ids), tuple(items[p] for p in test_ids), tuple(_pqaa_pool(folder)))


# --------------------------------------------------------------------------- all datasets


def _clean_medmcqa(item: Item) -> Item:
    options = tuple(MEDMCQA_OPTION_FIXES.get(o, o) for o in item.options)
    return Item(item.key, item.question, options, item.answer_idx, item.context)


def _roles_from_source(dataset: str) -> Roles:
    splits = load_source(dataset)
    if dataset == "medmcqa":
        train = [_clean_medmcqa(x) for x in splits["train"]]
        val, pool = medmcqa_split(len(train))
        return Roles(tuple(train[i] for i in val), tuple(_clean_medmcqa(x) for x in splits["dev"]), tuple(train[i] for i in pool))
    return Roles(tuple(splits["dev"]), tuple(splits["test"]), tuple(splits["train"]))


@lru_cache(maxsize=32)
def _roles_cached(dataset: str, folder: Path | None) -> Roles:
    if dataset == "pubmedqa":
        if folder is None or not folder.is_dir():
            raise DataUnavailable("pubmedqa", str(folder), SOURCES["pubmedqa"].how_to_get,
                                  "jeong2024 reads PubMedQA from the release files (PQA-L and PQA-A)")
        return _pubmedqa_roles(folder)
    return _roles_from_source(dataset)


def roles(dataset: str) -> Roles:
    """The validation, test and few-shot-pool items of a dataset under jeong2024, each in the reference's order."""
    return _roles_cached(dataset, local_folder(dataset))


def scored_items(dataset: str, role: str, val_limit: int = VAL_LIMIT) -> list[Item]:
    """The items scored in ``role``: the test split, or the validation subsample in draw order."""
    dataset_roles = roles(dataset)
    if role == "test":
        return list(dataset_roles.test)
    if role != "val":
        raise ValueError(f"role must be 'val' or 'test', got {role!r}")
    limit = val_limit if val_limit > 0 else len(dataset_roles.val)
    return [dataset_roles.val[i] for i in val_subsample(len(dataset_roles.val), limit)]


def fewshot_items(dataset: str, seed: int, k: int = N_SHOTS) -> list[Item]:
    """The demonstrations of few-shot seed ``seed``: the first ``k`` of ``default_rng(seed)``'s pool permutation."""
    pool = roles(dataset).pool
    return [pool[i] for i in demo_indices(len(pool), seed, k)]
