"""The lm-eval documents of the CLUE tasks under ``clue2024`` (the ``custom_dataset`` hook)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import datasets

from medpair_tasks.clinical.clue2024.prompts import CLUE_DATASETS, LONGHEALTH_TASKS, PROMPTS, messages_of
from medpair_tasks.clinical.clue2024.records import FILES, data_folder, clue_order, read_records
from medpair_tasks.clinical.clue2024.repeats import benchmark_of, clue_counter, kept_count, longhealth_limit, longhealth_rounds
from medpair_tasks.clinical.readers import short_hash
from medpair_tasks.clinical.sources import CLINICAL_SOURCES
from medpair_tasks.clinical.truncate import resolve_budget
from medpair_tasks.family.sources import DataUnavailable
from medpair_tasks.protocols import CLUE2024


def _longhealth_sizes(texts: Mapping[str, str], metadata: Mapping[str, Any]) -> Callable[[dict, int], int] | None:
    """How many documents CLUE keeps per repeat with the run's tokenizer and context (None: unknown)."""
    budget = resolve_budget(metadata)
    if budget is None:
        return None
    counter = clue_counter(budget.counter)
    limits = {setting: longhealth_limit(setting, metadata, budget.max_length, counter) for setting in (1, 2, 3)}
    return lambda doc, setting: kept_count(doc, texts, limits[setting], counter)


def clue_docs(dataset: str, folder: Path, role: str, metadata: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The scored lm-eval documents of ``dataset`` under ``clue2024``, in CLUE's order. LongHealth's
    draws depend on the documents the run's budget keeps (``metadata``: the model arguments)."""
    if dataset in LONGHEALTH_TASKS:
        if not (folder / FILES["longhealth"]).is_file():
            raise DataUnavailable(dataset, str(folder), CLINICAL_SOURCES[dataset].how_to_get(),
                                  f"missing {FILES['longhealth']}")
        benchmark, texts = benchmark_of(str(folder))
        sizes = _longhealth_sizes(texts, metadata) if metadata else None
        repeats = longhealth_rounds(benchmark, size_of=sizes)[dataset]
        return [{**doc, "dataset": dataset, "role": role, "protocol": CLUE2024.id} for doc in repeats]
    prompt = PROMPTS[dataset]
    demos, scored = clue_order(dataset, read_records(dataset, folder))
    docs = []
    for record in scored:
        doc = {
            "item_key": record["item_key"],
            "dataset": dataset,
            "role": role,
            "protocol": CLUE2024.id,
            "messages": messages_of(prompt, demos, record),
            "demo_keys": [demo["item_key"] for demo in demos],
            "context": "",
            "question": "",
        }
        if dataset == "mednli":
            labels = ["entailment", "contradiction", "neutral"]
            doc.update(gold_label=record["gold_label"], options=labels,
                       answer_idx=labels.index(record["gold_label"]) if record["gold_label"] in labels else 0,
                       cluster=f"premise-{short_hash(str(record['sentence1']).strip())}")
        else:
            doc["reference"] = str(record[prompt.assistant.split("{")[-1].rstrip("}")])
        if dataset == "medisumqa":
            doc["cluster"] = str(record.get("note_id", record["item_key"]))
        docs.append(doc)
    return docs


def load_splits(metadata: Mapping[str, Any]) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset`` under ``clue2024``: every scored record in ``eval``; ``fewshot``
    is empty (CLUE's demonstrations are inside each document's ``messages``)."""
    dataset = str(metadata.get("dataset"))
    if dataset not in CLUE_DATASETS:
        raise ValueError(f"{dataset}: the {CLUE2024.id} protocol covers CLUE's tasks only "
                         f"({', '.join(CLUE_DATASETS)})")
    docs = clue_docs(dataset, data_folder(dataset), str(metadata.get("role", "test")), metadata)
    if not docs:
        raise ValueError(f"{dataset}: CLUE's file holds no scored records")
    scored = datasets.Dataset.from_list(docs)
    return datasets.DatasetDict({"eval": scored, "fewshot": scored.select([])})
