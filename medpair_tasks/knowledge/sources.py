"""Where each knowledge dataset comes from, and how its files become :class:`Item` lists.

Every dataset reads from the Hugging Face hub by default. A local copy in the source's own
release format overrides the hub: put it in ``$MEDPAIR_DATA_DIR/<dataset>/`` (layouts in
:data:`SOURCES` and the README). A local folder that exists but lacks a file is an error,
never a silent fall-back to the hub.

Each reader returns the dataset's *source splits* under the names ``train``, ``dev`` and
``test``; :mod:`medpair_tasks.knowledge.roles` turns them into medpair's split roles.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from medpair_tasks.family.sources import (
    DATA_DIR_ENV,
    DataUnavailable,
    SourceTable,
    first_existing,
    hub_looked_at,
    naming_file,
    read_from_hub,
    read_json,
    read_jsonl,
    read_local,
)
from medpair_tasks.formats import LETTERS
from medpair_tasks.knowledge.records import Item

log = logging.getLogger(__name__)

SourceSplits = dict[str, list[Item]]

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
    """One dataset (one row of :data:`SOURCES`): its hub id, its local layout and its readers.

    ``read_local(folder)`` reads the release files in ``folder`` into the source splits
    ``train`` / ``dev`` / ``test``; ``read_hub()`` reads the hub copy (None: the dataset has none,
    only a local copy is read); ``folder`` is its folder under ``$MEDPAIR_DATA_DIR`` (default:
    the dataset's name).
    """

    name: str
    title: str
    hub_id: str
    hub_config: str | None
    local_files: tuple[str, ...]
    how_to_get: str
    read_local: Callable[[Path], SourceSplits]
    read_hub: Callable[[], SourceSplits] | None = None
    folder: str = ""


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
            with naming_file(path), path.open(encoding="utf-8", newline="") as stream:
                splits[ours] = [
                    Item(f"{ours}-{i:04d}", row[0], tuple(row[1:5]), LETTERS.index(row[5].strip()))
                    for i, row in enumerate(csv.reader(stream))
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
                folder="mmlu",
            )
        )
    return {source.name: source for source in sources}


SOURCES: dict[str, Source] = _build_registry()


def _read(name: str, source: Source, folder: str) -> SourceSplits:
    """A dataset's source splits from its local copy in ``folder`` if that exists, else from the hub."""
    if folder and Path(folder).is_dir():
        splits = read_local(name, Path(folder), folder, source.how_to_get, source.read_local)
        log.info("%s read from %s", name, folder)
        return splits
    if source.read_hub is None:
        looked_at = f"{folder} (no such folder)" if folder else f"${DATA_DIR_ENV} (not set)"
        raise DataUnavailable(name, looked_at, source.how_to_get, "this dataset is read from a local copy only")
    return read_from_hub(name, hub_looked_at(source.hub_id, source.hub_config, folder), source.how_to_get, source.read_hub)


#: The knowledge datasets, read once per data folder.
TABLE: SourceTable[Source, SourceSplits] = SourceTable("knowledge", SOURCES, lambda row: row.folder or row.name, _read)


def local_folder(name: str) -> Path | None:
    """``$MEDPAIR_DATA_DIR/<folder>`` for a dataset, or None when the variable is unset."""
    return TABLE.folder(name)


def load_source(name: str) -> SourceSplits:
    """The source splits of a dataset, from ``$MEDPAIR_DATA_DIR`` if present, else the hub.

    Raises :class:`~medpair_tasks.family.sources.DataUnavailable` with the paths looked at and
    where to get the data.
    """
    return TABLE.load(name)
