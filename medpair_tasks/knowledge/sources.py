"""Where each knowledge dataset comes from, and how its files become :class:`Item` lists.

Every dataset reads from the Hugging Face hub by default. A local copy in the source's own
release format overrides the hub: put it in ``$MEDPAIR_DATA_DIR/<dataset>/`` (layouts in
:data:`SOURCES` and the README). A local folder that exists but lacks a file is an error,
never a silent fall-back to the hub.

Each reader returns the dataset's *source splits* under the names ``train``, ``dev`` and
``test``; :mod:`medpair_tasks.family.roles` turns them into medpair's split roles.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from medpair_tasks.formats import LETTERS
from medpair_tasks.knowledge.records import DataUnavailable, Item

log = logging.getLogger(__name__)

DATA_DIR_ENV = "MEDPAIR_DATA_DIR"
SourceSplits = dict[str, list[Item]]
Loaded = TypeVar("Loaded")

HUB_PROBE_TIMEOUT_S = 3.0
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}  # what huggingface_hub and datasets accept as "set"
OFFLINE_HINT = f"set HF_HUB_OFFLINE=1 (read the hub cache only) or ${DATA_DIR_ENV} (a local copy)"

MMLU_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
    "high_school_biology",
    "nutrition",
    "virology",
)


@dataclass(frozen=True)
class Source:
    """One dataset: its hub id, its local layout and its two readers."""

    name: str
    title: str
    hub_id: str
    hub_config: str | None
    local_files: tuple[str, ...]
    how_to_get: str
    read_local: Callable[[Path], SourceSplits]
    read_hub: Callable[[], SourceSplits]


# --------------------------------------------------------------------------- file helpers


@contextmanager
def naming_file(path: Path) -> Iterator[None]:
    """Content errors raised inside the block name ``path``.

    A ``KeyError``, ``IndexError``, ``TypeError``, ``ValueError`` (a JSON or UTF-8 decoding error
    among them), ``csv.Error`` or ``pickle.UnpicklingError`` whose message lacks the path becomes
    a ValueError that starts with it, so every data error says which file is at fault.
    """
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, csv.Error, pickle.UnpicklingError) as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"{path}: {_describe(err)}") from err


def _describe(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text (byte {err.start})"
    return f"{type(err).__name__}: {err}"


def read_json(path: Path) -> Any:
    """The content of a JSON file; a file that is not JSON is a ValueError naming it."""
    with naming_file(path):
        return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSON-lines file; a bad line is a ValueError naming file and line."""
    with naming_file(path), path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: not a JSON line ({err.msg})") from err


def first_existing(folder: Path, *candidates: str) -> Path:
    """The first of ``candidates`` that exists in ``folder``; FileNotFoundError naming all of them."""
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(" or ".join(str(folder / c) for c in candidates))


def hub_offline() -> bool:
    """Whether Hugging Face's offline mode is on (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(os.environ.get(name, "").upper() in _TRUE_VALUES for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when it answers (one quick probe per endpoint)."""
    return _probe_hub(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))


@lru_cache(maxsize=4)
def _probe_hub(endpoint: str) -> str | None:
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return None  # it answered, if only with an error status
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"the Hugging Face hub ({endpoint}) cannot be reached ({getattr(err, 'reason', err)})"
    return None


def read_from_hub(name: str, looked_at: str, how_to_get: str, read: Callable[[], Loaded]) -> Loaded:
    """``read()`` a dataset from the hub; every failure is one :class:`DataUnavailable`.

    Without offline mode an unreachable hub fails at once with :data:`OFFLINE_HINT`, instead of
    after the hub clients' retries; in offline mode a failure says that only the cache was read.
    """
    offline = hub_offline()
    if not offline and (problem := hub_unreachable()):
        raise DataUnavailable(name, looked_at, how_to_get, f"{problem}; {OFFLINE_HINT}")
    try:
        return read()
    except Exception as err:  # datasets and huggingface_hub raise many kinds; all mean the same here
        reason = f"{type(err).__name__}: {str(err)[:300]}"
        if offline:
            reason += f"; offline mode is on (HF_HUB_OFFLINE), so only the hub cache was read: put a local copy in ${DATA_DIR_ENV}"
        raise DataUnavailable(name, looked_at, how_to_get, reason) from err


def _hub(hub_id: str, config: str | None = None) -> Any:
    import datasets

    return datasets.load_dataset(hub_id, config)


# --------------------------------------------------------------------------- MedQA


def _medqa_release_item(row: dict[str, Any], key: str) -> Item:
    options = row["options"]
    if isinstance(options, list):  # bigbio source schema: [{"key": "A", "value": ...}, ...]
        options = {o["key"]: o["value"] for o in options}
    letters = sorted(options)
    return Item(key, row["question"], tuple(options[k] for k in letters), letters.index(row["answer_idx"]))


def _medqa_local(subdir: str) -> Callable[[Path], SourceSplits]:
    def read(folder: Path) -> SourceSplits:
        splits = {}
        for split in ("train", "dev", "test"):
            path = first_existing(folder, f"{split}.jsonl", f"{subdir}{split}.jsonl")
            with naming_file(path):
                splits[split] = [_medqa_release_item(row, f"{split}-{i:05d}") for i, row in enumerate(read_jsonl(path))]
        return splits

    return read


def _medqa4_hub() -> SourceSplits:
    data = _hub("GBaker/MedQA-USMLE-4-options-hf")
    return {
        ours: [
            Item(f"{ours}-{i:05d}", row["sent1"], tuple(row[f"ending{j}"] for j in range(4)), int(row["label"]))
            for i, row in enumerate(data[theirs])
        ]
        for ours, theirs in (("train", "train"), ("dev", "validation"), ("test", "test"))
    }


def _medqa5_hub() -> SourceSplits:
    data = _hub("bigbio/med_qa", "med_qa_en_source")
    return {
        ours: [_medqa_release_item(row, f"{ours}-{i:05d}") for i, row in enumerate(data[theirs])]
        for ours, theirs in (("train", "train"), ("dev", "validation"), ("test", "test"))
    }


# --------------------------------------------------------------------------- MedMCQA


def _medmcqa_items(rows: list[dict[str, Any]], one_based: bool) -> list[Item]:
    shift = 1 if one_based else 0
    return [
        Item(str(row["id"]), row["question"], (row["opa"], row["opb"], row["opc"], row["opd"]), int(row["cop"]) - shift)
        for row in rows
    ]


def _medmcqa_local(folder: Path) -> SourceSplits:
    paths = {split: first_existing(folder, f"{split}.json", f"{split}.jsonl") for split in ("train", "dev")}
    rows = {split: list(read_jsonl(path)) for split, path in paths.items()}
    answers: set[int] = set()
    for split, path in paths.items():
        with naming_file(path):
            answers |= {int(row["cop"]) for row in rows[split]}
    if 0 in answers and 4 in answers or not answers <= {0, 1, 2, 3, 4}:
        raise ValueError(f"{folder}: 'cop' values {sorted(answers)} are neither 0-3 nor 1-4")
    if not (0 in answers or 4 in answers):
        raise ValueError(f"{folder}: cannot tell whether 'cop' counts from 0 or 1 (values {sorted(answers)})")
    one_based = 4 in answers
    splits = {}
    for split, path in paths.items():
        with naming_file(path):
            splits[split] = _medmcqa_items(rows[split], one_based)
    return splits


def _medmcqa_hub() -> SourceSplits:
    data = _hub("openlifescienceai/medmcqa")
    return {"train": _medmcqa_items(list(data["train"]), False), "dev": _medmcqa_items(list(data["validation"]), False)}


# --------------------------------------------------------------------------- PubMedQA

PUBMEDQA_OPTIONS = ("yes", "no", "maybe")


def pubmedqa_test_ids() -> list[str]:
    """The 500 PubMed ids of the official PQA-L test split, as shipped with medpair, in the release's question order.

    ``test_ground_truth.json`` lists the test ids sorted by label (276 yes, then 169 no, then 55
    maybe), so its first items are all "yes" and ``--limit 30`` would score a model that always
    answers "yes" at 100%. medpair orders the test items as ``ori_pqal.json`` orders its questions
    instead, which does not follow the label.
    """
    text = resources.files("medpair_tasks").joinpath("data/pubmedqa_test_pmids.txt").read_text()
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _pubmedqa_split(items: dict[str, Item], test_ids: list[str]) -> SourceSplits:
    missing = [pmid for pmid in test_ids if pmid not in items]
    if missing:
        raise ValueError(f"{len(missing)} test ids are not among the questions (first: {missing[0]})")
    test = set(test_ids)
    return {"dev": [item for pmid, item in items.items() if pmid not in test], "test": [items[p] for p in test_ids]}


def _pubmedqa_local(folder: Path) -> SourceSplits:
    questions_path = folder / "ori_pqal.json"
    questions = read_json(questions_path)
    truth = read_json(folder / "test_ground_truth.json")
    with naming_file(questions_path):
        items = {
            pmid: Item(
                pmid,
                row["QUESTION"],
                PUBMEDQA_OPTIONS,
                PUBMEDQA_OPTIONS.index(row["final_decision"]),
                context="\n".join(row["CONTEXTS"]),
            )
            for pmid, row in questions.items()
        }
    for pmid, label in truth.items():
        if pmid in items and PUBMEDQA_OPTIONS[items[pmid].answer_idx] != label:
            raise ValueError(f"{folder}: test_ground_truth.json and ori_pqal.json disagree on {pmid}")
    # the release's question order: test_ground_truth.json is sorted by label (see pubmedqa_test_ids)
    position = {pmid: number for number, pmid in enumerate(questions)}
    with naming_file(folder / "test_ground_truth.json"):
        return _pubmedqa_split(items, sorted(truth, key=lambda pmid: position.get(pmid, len(position))))


def _pubmedqa_hub() -> SourceSplits:
    rows = _hub("qiaojin/PubMedQA", "pqa_labeled")["train"]
    items = {
        str(row["pubid"]): Item(
            str(row["pubid"]),
            row["question"],
            PUBMEDQA_OPTIONS,
            PUBMEDQA_OPTIONS.index(row["final_decision"]),
            context="\n".join(row["context"]["contexts"]),
        )
        for row in rows
    }
    return _pubmedqa_split(items, pubmedqa_test_ids())


# --------------------------------------------------------------------------- MMLU


def _mmlu_local(subject: str) -> Callable[[Path], SourceSplits]:
    def read(folder: Path) -> SourceSplits:
        splits = {}
        for ours, theirs in (("train", "dev"), ("dev", "val"), ("test", "test")):
            path = folder / theirs / f"{subject}_{theirs}.csv"
            with naming_file(path), path.open(encoding="utf-8", newline="") as fh:
                splits[ours] = [
                    Item(f"{ours}-{i:04d}", row[0], tuple(row[1:5]), LETTERS.index(row[5].strip()))
                    for i, row in enumerate(csv.reader(fh))
                ]
        return splits

    return read


def _mmlu_hub(subject: str) -> Callable[[], SourceSplits]:
    def read() -> SourceSplits:
        data = _hub("cais/mmlu", subject)
        return {
            ours: [
                Item(f"{ours}-{i:04d}", row["question"], tuple(row["choices"]), int(row["answer"]))
                for i, row in enumerate(data[theirs])
            ]
            for ours, theirs in (("train", "dev"), ("dev", "validation"), ("test", "test"))
        }

    return read


# --------------------------------------------------------------------------- registry

_MEDQA_GET = (
    "the MedQA release (github.com/jind11/MedQA, data_clean.zip); copy "
    "questions/US/{path}{{train,dev,test}}.jsonl into $MEDPAIR_DATA_DIR/{name}/"
)


def _build_registry() -> dict[str, Source]:
    sources = [
        Source(
            "medqa",
            "MedQA (USMLE, 4 options)",
            "GBaker/MedQA-USMLE-4-options-hf",
            None,
            ("train.jsonl", "dev.jsonl", "test.jsonl"),
            _MEDQA_GET.format(path="4_options/phrases_no_exclude_", name="medqa"),
            _medqa_local("questions/US/4_options/phrases_no_exclude_"),
            _medqa4_hub,
        ),
        Source(
            "medqa5",
            "MedQA (USMLE, 5 options)",
            "bigbio/med_qa",
            "med_qa_en_source",
            ("train.jsonl", "dev.jsonl", "test.jsonl"),
            _MEDQA_GET.format(path="", name="medqa5"),
            _medqa_local("questions/US/"),
            _medqa5_hub,
        ),
        Source(
            "medmcqa",
            "MedMCQA",
            "openlifescienceai/medmcqa",
            None,
            ("train.json", "dev.json"),
            "the MedMCQA release (medmcqa.github.io): train.json and dev.json (JSON lines) into $MEDPAIR_DATA_DIR/medmcqa/",
            _medmcqa_local,
            _medmcqa_hub,
        ),
        Source(
            "pubmedqa",
            "PubMedQA (PQA-L)",
            "qiaojin/PubMedQA",
            "pqa_labeled",
            ("ori_pqal.json", "test_ground_truth.json"),
            "the PubMedQA release (github.com/pubmedqa/pubmedqa, data/): ori_pqal.json and test_ground_truth.json "
            "into $MEDPAIR_DATA_DIR/pubmedqa/",
            _pubmedqa_local,
            _pubmedqa_hub,
        ),
    ]
    for subject in MMLU_SUBJECTS:
        sources.append(
            Source(
                f"mmlu_{subject}",
                f"MMLU {subject.replace('_', ' ')}",
                "cais/mmlu",
                subject,
                tuple(f"{split}/{subject}_{split}.csv" for split in ("dev", "val", "test")),
                "the MMLU release (people.eecs.berkeley.edu/~hendrycks/data.tar): its data/dev, data/val and data/test "
                "folders into $MEDPAIR_DATA_DIR/mmlu/ (one folder serves all subjects)",
                _mmlu_local(subject),
                _mmlu_hub(subject),
            )
        )
    return {source.name: source for source in sources}


SOURCES: dict[str, Source] = _build_registry()


def local_folder(name: str) -> Path | None:
    """``$MEDPAIR_DATA_DIR/<folder>`` for a dataset, or None when the variable is unset."""
    root = os.environ.get(DATA_DIR_ENV)
    if not root:
        return None
    return Path(root).expanduser() / ("mmlu" if name.startswith("mmlu_") else name)


def load_source(name: str) -> SourceSplits:
    """The source splits of a dataset, from ``$MEDPAIR_DATA_DIR`` if present, else the hub.

    Raises :class:`DataUnavailable` with the paths looked at and where to get the data.
    """
    if name not in SOURCES:
        raise KeyError(f"unknown medpair dataset {name!r}; known: {', '.join(SOURCES)}")
    folder = local_folder(name)
    return _load_cached(name, str(folder) if folder else "")


@lru_cache(maxsize=32)
def _load_cached(name: str, folder: str) -> SourceSplits:
    source = SOURCES[name]
    if folder and Path(folder).is_dir():
        try:
            splits = source.read_local(Path(folder))
        except FileNotFoundError as err:
            raise DataUnavailable(name, folder, source.how_to_get, f"missing {err.filename or err}") from err
        except (OSError, ValueError, KeyError, IndexError) as err:
            raise DataUnavailable(name, folder, source.how_to_get, f"{type(err).__name__}: {err}") from err
        log.info("%s read from %s", name, folder)
        return splits
    hub = source.hub_id + (f" (config {source.hub_config})" if source.hub_config else "")
    looked_at = f"Hugging Face hub dataset {hub}"
    looked_at += f", and {folder} (no such folder)" if folder else f" (set ${DATA_DIR_ENV} for a local copy)"
    return read_from_hub(name, looked_at, source.how_to_get, source.read_hub)

