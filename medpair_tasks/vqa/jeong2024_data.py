"""The VQA populations of the ``jeong2024`` protocol: the reference's closed questions, splits and order.

Jeong et al.'s code (GitHub ``taekb/eval-medical-dapt`` at 908bb86) reads VQA-RAD, SLAKE and
PathVQA from the ``closed/{train,val,test}.jsonl`` files that ``notebooks/preprocess-vqa.ipynb``
writes from the releases, and MMMU from the hub (``src/dataset.py``, ``VQADataset`` and
``MMMUDataset``). This module applies the notebook's rules to the release files in
``$MEDPAIR_DATA_DIR/<folder>/`` (the layouts of :mod:`medpair_tasks.vqa.sources`) and keeps the
reference's order:

========= =============================================== ================ ==================
dataset   validation role                                 test role        few-shot pool
========= =============================================== ================ ==================
VQA-RAD   scikit-learn ``train_test_split(test_size=0.2,  ``test``         all of ``train``
          random_state=42)`` test part of ``train``,
          in its draw order
SLAKE     ``validate.json``                               ``test.json``    ``train.json``
PathVQA   ``val``                                         ``test``         ``train``
MMMU      ``datasets`` ``train_test_split(train_size=5,   the rest, in     ``dev``
          seed=42)`` train part of ``validation``          draw order
========= =============================================== ================ ==================

Closed questions, as the notebook selects them: VQA-RAD ``answer_type == "closed"`` (train =
``freeform``/``para``, test = ``test_*``; duplicates and train rows also in test dropped; text
lower-cased); PathVQA answers ``yes``/``no`` (lower case in the file); SLAKE English ``CLOSED``
questions with the notebook's option rules (its table of known questions, else the words after
the first comma; ``both`` / ``almost the same`` appended as an option; a question whose answer
is not an option dropped); MMMU multiple-choice questions. Questions are ``str.capitalize``-d
(the rest lower-cased) and keep the leading ``<image>`` line the reference's files carry.

One step cannot be reproduced from code: the authors edited the options of VQA-RAD's closed
questions whose answer is not yes/no by hand ("we manually fix the options in the .jsonl
files"). medpair derives those options with :func:`medpair_tasks.vqa.records.closed_options`
and drops the few it cannot derive.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from medpair_tasks.family.sources import read_json
from medpair_tasks.vqa.images import table_ref
from medpair_tasks.vqa.records import IMAGE_PLACEHOLDER, VQAItem, closed_options
from medpair_tasks.vqa.sources import MMMU_IMAGE_COLUMNS, MMMU_SUBJECTS, VQA_RAD_JSON, _PlainUnpickler, local_folder

SEED = 42
VQA_RAD_VAL_SHARE = 0.2
MMMU_VAL_SIZE = 5
YES_NO = ["yes", "no"]
SLAKE_EXTRA_ANSWERS = ("both", "almost the same")
MMMU_DATASETS = tuple(f"mmmu_{suffix}" for suffix in MMMU_SUBJECTS)
DATASETS = ("vqa_rad", "slake", "pathvqa", *MMMU_DATASETS)
QUESTION_LINE = f"{IMAGE_PLACEHOLDER}\n"

#: The notebook's SLAKE questions whose options it names itself (substring of the capitalised question).
SLAKE_KNOWN_OPTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Is brain tumor white or gray relative to other tissues?", ("white", "gray")),
    ("Is the abnormality hyperdense or hypodense?", ("hyperdense", "hypodense")),
    ("Is the brain enhancing tumor hyperdense or hypodense?", ("hyperdense", "hypodense")),
    ("Is the brain non-enhancing tumor hyperdense or hypodense?", ("hyperdense", "hypodense")),
    ("Is this a t1 weighted or t2 weighted mri image?", ("t1", "t2")),
    ("Which plane is the image scanned, transverse plane or coronal plane?", ("transverse plane", "coronal plane")),
    ("Which is bigger in this image,left lung or left kidney?", ("left lung", "left kidney")),
    ("Which is bigger in this image,small bowel or kidney?", ("small bowel", "kidney")),
    ("Which is smaller in this image,liver or spinal cord?", ("liver", "spinal cord")),
    ("Which is smaller in this image,liver or right kidney?", ("liver", "right kidney")),
    ("Which is smaller in this image,kidney or spinal cord?", ("kidney", "spinal cord")),
    ("Which is smaller in this image, small bowel or right kidney?", ("small bowel", "right kidney")),
    ("Which is the smallest in this image,spleen,left kidney or liver?", ("left kidney", "liver")),
    ("Which is the smallest in this image, colon, left lung or liver?", ("colon", "left lung", "liver")),
    ("Which is bigger in this image, heart or right lung?", ("heart", "right lung")),
    ("Which is smaller in this image, bladder or small bowel?", ("bladder", "small bowel")),
    ("Which is bigger in this image, colon or small bowel?", ("colon", "small bowel")),
    ("Which is bigger, left kidney or spleen ?", ("left kidney", "spleen")),
    ("Where is the spleen in this image, right or lower right?", ("right", "lower right")),
    ("Which is smaller in this image,liver or left lung?", ("liver", "left lung")),
    ("Which is bigger in this image, small bowel or kidney?", ("small bowel", "kidney")),
    ("Where is the left kidney in this image, right or lower right?", ("right", "lower right")),
    ("Which is bigger in this image,small bowel or liver?", ("small bowel", "liver")),
    ("Which is smaller in this image,spleen or right kidney?", ("spleen", "right kidney")),
    ("Which is bigger in this image, rectum or small bowel?", ("rectum", "small bowel")),
    ("Which is bigger in this image, kidney or spleen?", ("kidney", "spleen")),
    ("Which is bigger in this image, small bowel or colon?", ("small bowel", "colon")),
)


@dataclass(frozen=True)
class Population:
    """A dataset's items per role, each in the reference's order."""

    val: tuple[VQAItem, ...]
    test: tuple[VQAItem, ...]
    pool: tuple[VQAItem, ...]


def _item(key: str, question: str, options: Sequence[str], answer: str, images: tuple[str, ...]) -> VQAItem:
    """An item as the reference holds it: its question line, options, the answer's first position."""
    return VQAItem(key, question, tuple(options), list(options).index(answer), images)


def sklearn_test_order(n_items: int, share: float = VQA_RAD_VAL_SHARE, seed: int = SEED) -> list[int]:
    """The test part of scikit-learn's ``train_test_split(range(n), test_size=share, random_state=seed)``,
    in its order."""
    return np.random.RandomState(seed).permutation(n_items)[: math.ceil(share * n_items)].tolist()


def hf_split_order(n_items: int, train_size: int = MMMU_VAL_SIZE, seed: int = SEED) -> tuple[list[int], list[int]]:
    """(train, test) positions of ``datasets.Dataset.train_test_split(train_size=..., seed=...)``, in order."""
    order = np.random.default_rng(seed).permutation(n_items).tolist()
    n_test = n_items - train_size
    return order[n_test:], order[:n_test]


# --------------------------------------------------------------------------- VQA-RAD


def _vqa_rad_clean(text: object) -> str:
    return re.sub(" +", " ", str(text).lower()).replace(" ?", "?").strip()


def _vqa_rad_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The notebook's closed train and test rows (de-duplicated, no train row also in test), cleaned."""
    rows = read_json(folder / VQA_RAD_JSON)
    closed = [r for r in rows if str(r["answer_type"]).lower().strip() == "closed"]

    def triple(row: dict[str, Any]) -> tuple[str, str, str]:
        return str(row["image_name"]), str(row["question"]), str(row["answer"]).lower().strip()

    def unique(selected: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[tuple[str, str, str]] = set()
        kept = []
        for row in selected:
            if triple(row) not in seen:
                seen.add(triple(row))
                kept.append(row)
        return kept

    test = unique(r for r in closed if r["phrase_type"] in ("test_freeform", "test_para"))
    in_test = {triple(r) for r in test}
    train = unique(r for r in closed if r["phrase_type"] in ("freeform", "para"))
    train = [r for r in train if triple(r) not in in_test]
    return {"train": train, "test": test}


def _vqa_rad_item(row: dict[str, Any]) -> VQAItem | None:
    question, answer = _vqa_rad_clean(row["question"]), _vqa_rad_clean(row["answer"])
    if answer in YES_NO:
        options = list(YES_NO)
    else:  # the authors' hand-made options, derived (module docstring)
        derived = closed_options(question, answer)
        if derived is None:
            return None
        options = list(derived[0])
    return _item(str(row["qid"]), QUESTION_LINE + question.capitalize(), options, answer, (str(row["image_name"]),))


def _vqa_rad(folder: Path) -> Population:
    rows = _vqa_rad_rows(folder)
    train, test = ([x for x in map(_vqa_rad_item, rows[s]) if x is not None] for s in ("train", "test"))
    val = [train[i] for i in sklearn_test_order(len(train))]
    return Population(tuple(val), tuple(test), tuple(train))


# --------------------------------------------------------------------------- SLAKE


def slake_options(question: str, answer: str) -> list[str] | None:
    """The notebook's options of a SLAKE closed question (capitalised), or None when it drops the question."""
    if answer in YES_NO:
        options = list(YES_NO)
    else:
        known = [opts for text, opts in SLAKE_KNOWN_OPTIONS if text in question]
        if known:
            options = list(known[0])
        elif "," in question:
            words = question.split(",", 1)[1].strip("?").replace(",", " ").replace("or", " ").replace("  ", " ")
            options = [w.lower() for w in words.split(" ") if w]
        else:
            options = []
    if not options:
        return None
    if answer not in options:
        if answer not in SLAKE_EXTRA_ANSWERS:
            return None
        options.append(answer)
    return options


def _slake(folder: Path) -> Population:
    roles = {}
    for role, name in (("val", "validate.json"), ("test", "test.json"), ("pool", "train.json")):
        items = []
        for row in read_json(folder / name):
            if row.get("q_lang") != "en" or row.get("answer_type") != "CLOSED":
                continue
            question, answer = str(row["question"]).capitalize(), str(row["answer"]).lower().strip()
            options = slake_options(question, answer)
            if options is not None:
                items.append(_item(str(row["qid"]), QUESTION_LINE + question, options, answer, (str(row["img_name"]),)))
        roles[role] = tuple(items)
    return Population(**roles)


# --------------------------------------------------------------------------- PathVQA


def _pathvqa_closed(answer: str) -> bool:
    """The notebook's test: a lower-case ``yes``/``no`` word, and the answer is yes or no."""
    return bool(re.findall(r"\byes\b|\bno\b", answer)) and answer.lower().strip() in YES_NO


def _pathvqa(folder: Path) -> Population:
    roles = {}
    for role, ours, theirs in (("val", "dev", "val"), ("test", "test", "test"), ("pool", "train", "train")):
        with (folder / "qas" / theirs / f"{theirs}_qa.pkl").open("rb") as stream:
            rows = _PlainUnpickler(stream).load()
        roles[role] = tuple(
            _item(f"{ours}-{i:05d}", QUESTION_LINE + str(r["question"]).capitalize(), YES_NO,
                  str(r["answer"]).lower().strip(), (f"{theirs}/{r['image']}.jpg",))
            for i, r in enumerate(rows) if _pathvqa_closed(str(r["answer"]))
        )
    return Population(**roles)


# --------------------------------------------------------------------------- MMMU


def replace_latex_symbols(text: str) -> str:
    """The reference's clean-up of MMMU text: ``$\\alpha$`` → `` alpha ``, double spaces once, stripped."""
    return re.sub(r"\$\\([^\$]+)\$", r" \1 ", text).replace("  ", " ").strip()


def _mmmu_rows(folder: Path, subject: str, theirs: str) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    files = sorted((folder / subject).glob(f"{theirs}-*.parquet"))
    if not files:
        raise FileNotFoundError(str(folder / subject / f"{theirs}-*.parquet"))
    table = pq.read_table(files)
    text_columns = [c for c in table.column_names if c not in MMMU_IMAGE_COLUMNS]
    present = {c: table.column(c).is_valid().to_pylist() for c in MMMU_IMAGE_COLUMNS if c in table.column_names}
    return [{**row, **{c: bool(valid[i]) for c, valid in present.items()}}
            for i, row in enumerate(table.select(text_columns).to_pylist())]


def _mmmu_items(rows: list[dict[str, Any]], positions: Iterable[int], split: str) -> tuple[VQAItem, ...]:
    items = []
    for i in positions:
        row = rows[i]
        if row["question_type"] == "open":
            continue
        question = replace_latex_symbols(re.sub(r"<image \d+>", IMAGE_PLACEHOLDER, str(row["question"])).strip())
        options = [replace_latex_symbols(o) for o in ast.literal_eval(row["options"])]
        answer = options[ord(str(row["answer"])) - ord("A")]
        images = tuple(table_ref(split, i, c) for c in MMMU_IMAGE_COLUMNS if row.get(c))
        items.append(_item(str(row["id"]), question, options, answer, images))
    return tuple(items)


def _mmmu(folder: Path, dataset: str) -> Population:
    subject = MMMU_SUBJECTS[dataset.removeprefix("mmmu_")]
    dev, validation = _mmmu_rows(folder, subject, "dev"), _mmmu_rows(folder, subject, "validation")
    val_positions, test_positions = hf_split_order(len(validation))
    return Population(_mmmu_items(validation, val_positions, "test"), _mmmu_items(validation, test_positions, "test"),
                      _mmmu_items(dev, range(len(dev)), "train"))


# --------------------------------------------------------------------------- entry point


@lru_cache(maxsize=16)
def _population(dataset: str, folder: str) -> Population:
    path = Path(folder)
    if dataset == "vqa_rad":
        return _vqa_rad(path)
    if dataset == "slake":
        return _slake(path)
    if dataset == "pathvqa":
        return _pathvqa(path)
    return _mmmu(path, dataset)


def population(dataset: str) -> Population:
    """The reference's roles of a VQA dataset, read from its release files in ``$MEDPAIR_DATA_DIR``.

    Raises ValueError for a dataset the protocol does not cover or whose local copy is missing
    (the reference reads its own preprocessed files; medpair does not rebuild them from the hub).
    """
    if dataset not in DATASETS:
        raise ValueError(f"jeong2024 has no VQA dataset {dataset!r}; it covers {', '.join(DATASETS)}")
    folder = local_folder(dataset)
    if folder is None or not folder.exists():
        raise ValueError(f"{dataset}: the jeong2024 protocol reads the release files from $MEDPAIR_DATA_DIR "
                         f"(folder {folder or '<unset>'}); the hub copies are not supported under it")
    return _population(dataset, str(folder))


def role_items(dataset: str, role: str) -> tuple[VQAItem, ...]:
    """The items of ``role`` (``val``, ``test`` or ``pool``) in the reference's order."""
    roles: Mapping[str, tuple[VQAItem, ...]] = vars(population(dataset))
    if role not in roles:
        raise ValueError(f"role must be one of {', '.join(roles)}, got {role!r}")
    return roles[role]


__all__ = ["DATASETS", "Population", "hf_split_order", "population", "replace_latex_symbols", "role_items",
           "sklearn_test_order", "slake_options"]
