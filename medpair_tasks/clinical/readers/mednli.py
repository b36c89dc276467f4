"""MedNLI 1.0.0 (PhysioNet): the reader of its three JSON-lines files."""

from __future__ import annotations

from pathlib import Path

from medpair_tasks.clinical.readers.files import SourceSplits, required_field, short_hash
from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.family.sources import first_existing, read_jsonl


MEDNLI_LABELS = ("entailment", "contradiction", "neutral")
MEDNLI_FILES = {"train": "mli_train_v1.jsonl", "dev": "mli_dev_v1.jsonl", "test": "mli_test_v1.jsonl"}


def mednli_question(premise: str, hypothesis: str) -> str:
    """The question text of a MedNLI pair (after Jeong et al.'s format, from Lehman et al. 2023)."""
    return (
        f'Premise: "{premise}"\nHypothesis: "{hypothesis}"\n'
        "Does the premise entail the hypothesis, contradict it, or neither (neutral)?"
    )


def read_mednli(folder: Path) -> SourceSplits:
    """MedNLI 1.0.0 (PhysioNet): ``mli_{train,dev,test}_v1.jsonl``, SNLI-style JSON lines."""
    splits: SourceSplits = {}
    for split, name in MEDNLI_FILES.items():
        path = first_existing(folder, name)
        items = []
        for number, row in enumerate(read_jsonl(path), 1):
            where = f"{path}:{number}"
            premise = str(required_field(row, "sentence1", where)).strip()
            label = required_field(row, "gold_label", where)
            if label not in MEDNLI_LABELS:
                raise ValueError(f"{where}: gold_label {label!r} is not one of {MEDNLI_LABELS}")
            items.append(
                ClinicalItem(
                    key=str(required_field(row, "pairID", where)),
                    question=mednli_question(premise, str(required_field(row, "sentence2", where)).strip()),
                    options=MEDNLI_LABELS,
                    answer_idx=MEDNLI_LABELS.index(label),
                    cluster=f"premise-{short_hash(premise)}",  # three hypotheses share each premise
                )
            )
        splits[split] = items
    return splits
