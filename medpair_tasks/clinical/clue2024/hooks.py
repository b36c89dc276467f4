"""What a clinical task does differently under ``clue2024``: generation settings, prompt, scores."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from medpair_tasks import lm_eval_internals as door
from medpair_tasks.clinical.bertscore import BertScoreConfig, scorer
from medpair_tasks.clinical.clue2024.prompts import LONGHEALTH_SYSTEM, LONGHEALTH_TASKS, prompt_of
from medpair_tasks.clinical.clue2024.records import data_folder
from medpair_tasks.clinical.clue2024.repeats import (
    clue_counter, longhealth_limit, longhealth_texts, longhealth_user_turn,
)
from medpair_tasks.clinical.clue2024.scoring import bertscore_settings, extract_filter, score
from medpair_tasks.clinical.clue2024.umls import UMLS_DATASETS, UMLS_METRICS, check_umls_pipeline, load_linker, umls_scores
from medpair_tasks.protocols import CLUE2024

log = logging.getLogger(__name__)


class ClueTaskHooks:
    """What a :class:`~medpair_tasks.clinical.task.ClinicalTask` does differently under ``clue2024``."""

    def __init__(self, dataset: str, metadata: Mapping[str, Any]) -> None:
        self.dataset = dataset
        self.metadata = dict(metadata)
        self._bertscore: BertScoreConfig | None = None
        if dataset in ("meqsum", "probsum", "medisumqa"):
            self._bertscore = bertscore_settings(metadata)
        self._umls = check_umls_pipeline(self.metadata) if dataset in UMLS_DATASETS else None

    @property
    def extra_metrics(self) -> tuple[str, ...]:
        """Per-item scores beyond the task file's metric list (averaged): CLUE's UMLS scores when asked for."""
        return UMLS_METRICS if self._umls else ()

    @classmethod
    def for_task(cls, metadata: Mapping[str, Any]) -> ClueTaskHooks | None:
        """The hooks of a task whose metadata names ``clue2024``; None for other protocols."""
        from medpair_tasks.protocols import protocol_of

        if protocol_of(metadata) is not CLUE2024:
            return None
        return cls(str(metadata.get("dataset")), metadata)

    def configure(self, task: Any) -> None:
        """CLUE's generation settings and extraction filter on ``task``; refuses scoring by likelihood."""
        if task.OUTPUT_TYPE != "generate_until":
            raise ValueError(f"{task.config.task}: CLUE scores {self.dataset} by generation; under "
                             f"{CLUE2024.id} run the generation task (…_gen)")
        task.config.generation_kwargs = {
            "until": [], "max_gen_toks": prompt_of(self.dataset).max_tokens,
            "do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
        }
        if task.config.filter_list:
            door.replace_filters(task, "extract", extract_filter)

    def prompt(self, doc: Mapping[str, Any], chat_template: Callable[..., str] | None, counter: Any,
               max_length: int | None) -> str:
        """The rendered prompt of ``doc``: CLUE's turns through the model's chat template."""
        if chat_template is None:
            raise ValueError(f"{self.dataset}: CLUE prompts every model through its chat template; under "
                             f"{CLUE2024.id} run with --apply_chat_template")
        return chat_template(self.messages(doc, counter, max_length))

    def messages(self, doc: Mapping[str, Any], counter: Any = None, max_length: int | None = None) -> list[dict]:
        """CLUE's chat turns of ``doc`` (LongHealth's built now, from the run's token counter)."""
        if self.dataset not in LONGHEALTH_TASKS:
            return [dict(turn) for turn in doc["messages"]]
        texts = longhealth_texts(data_folder(self.dataset))
        counter = clue_counter(counter)
        limit = longhealth_limit(LONGHEALTH_TASKS[self.dataset], self.metadata, max_length, counter)
        user = longhealth_user_turn(doc, texts, limit, counter)
        return [{"role": "system", "content": LONGHEALTH_SYSTEM}, {"role": "user", "content": user}]

    def score(self, doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, float]:
        """CLUE's scores of the (filtered) generation, with BERTScore F1 for the summaries and, when
        ``umls_pipeline`` is given, UMLS precision, recall and F1 for ProbSum and MeDiSumQA."""
        generation = str(results[0]) if results else ""
        scores = score(doc, generation)
        if self._umls:
            scores.update(umls_scores(generation, str(doc["reference"]), load_linker(self._umls)))
        if self._bertscore is not None:
            try:
                pair = generation.strip(), str(doc["reference"]).strip()  # bert_score strips both
                scores["bertscore_f1"] = scorer(self._bertscore).score(*pair)[2]
            except OSError as err:  # no local copy of the model: medpair never downloads one
                log.warning("medpair: %s: BERTScore skipped: %s is not on this machine (%s); pass "
                            "--metadata '{\"bertscore_model\": \"/path/to/scibert_scivocab_uncased\"}'",
                            self.dataset, self._bertscore.model, err)
                self._bertscore = None
        return scores
