"""The canonical multiple-choice record every medpair knowledge dataset is converted into."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One multiple-choice question, as the task templates read it.

    ``key`` is stable within the dataset (a source id, or ``split-index`` of the source file);
    ``context`` is empty for datasets without a passage.
    """

    key: str
    question: str
    options: tuple[str, ...]
    answer_idx: int
    context: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.answer_idx < len(self.options):
            raise ValueError(f"item {self.key}: answer index {self.answer_idx} outside {len(self.options)} options")

    def as_doc(self, dataset: str, role: str) -> dict:
        """The lm-eval document: data fields plus dataset, role and item key; no prompt text."""
        return {
            "item_key": self.key,
            "dataset": dataset,
            "role": role,
            "context": self.context,
            "question": self.question,
            "options": list(self.options),
            "answer_idx": self.answer_idx,
        }
