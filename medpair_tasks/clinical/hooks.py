"""The functions the clinical task YAMLs name with ``!function``: data loading and scoring.

Multiple-choice clinical tasks score with the knowledge tasks' hooks
(:func:`medpair_tasks.family.hooks.score_loglikelihood`, :func:`~medpair_tasks.family.hooks.score_generation`
with the answer-extraction filter); the generative ones with :func:`score_summary` (ROUGE) and
:func:`score_codes` (ICD-10). All scores go through ``process_results``, which lm-eval calls for
every output type (its ``metric_list`` callables are skipped for ``multiple_choice``).

Run-time switches through the task metadata (``--metadata '{...}'``): ``role`` (``val`` /
``test``), ``val_limit`` (default 500; 0 keeps all), ``truncation`` (``middle`` / ``left`` /
``none``), ``bertscore_model`` / ``bertscore_layer`` (see :mod:`medpair_tasks.clinical.bertscore`).
"""

from __future__ import annotations

from typing import Any

import datasets

from medpair_tasks.clinical.metrics import icd_scores, rouge_scores
from medpair_tasks.clinical.roles import BOOK
from medpair_tasks.family.hooks import build_splits


def load(**metadata: Any) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset``: the scored split ``eval`` and the demonstrations ``fewshot``.

    Receives the task metadata merged with the CLI ``--metadata`` and ``--model_args``.
    The ``fewshot`` split is empty for datasets without a few-shot pool; a demonstration never
    shares its note, patient or premise (``cluster``) with the scored item (:mod:`medpair_tasks.family.fewshot`).
    """
    return build_splits(metadata, BOOK.scored_items, BOOK.pool)


def _generation(results: list[Any]) -> str:
    first = results[0] if results else ""
    return first if isinstance(first, str) else str(first)


def score_summary(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    """ROUGE-1/2/L F-measures of the generated text against ``doc["reference"]``."""
    return rouge_scores(_generation(results).strip(), doc["reference"])


def score_codes(doc: dict[str, Any], results: list[Any]) -> dict[str, float]:
    """MeDiSumCode: exact and 3-character precision/recall/F1 of the ICD-10 codes, share of valid codes."""
    return icd_scores(_generation(results), doc["codes"])
