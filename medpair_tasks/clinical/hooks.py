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

from medpair_tasks.clinical import clue2024, jeong2024
from medpair_tasks.clinical.metrics import icd_scores, rouge_scores
from medpair_tasks.clinical.roles import BOOK
from medpair_tasks.family.hooks import build_splits
from medpair_tasks.protocols import CLUE2024, JEONG2024, protocol_of


def load(**metadata: Any) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset``: the scored split ``eval`` and the demonstrations ``fewshot``.

    Receives the task metadata merged with the CLI ``--metadata`` and ``--model_args``.
    The ``fewshot`` split is empty for datasets without a few-shot pool; a demonstration never
    shares its note, patient or premise (``cluster``) with the scored item (:mod:`medpair_tasks.family.fewshot`).
    Under ``jeong2024`` the reference's populations and prompts (:mod:`medpair_tasks.clinical.jeong2024`);
    under ``clue2024`` CLUE's records (:func:`medpair_tasks.clinical.clue2024.load_splits`).
    """
    protocol = protocol_of(metadata)
    if protocol is CLUE2024:
        return clue2024.load_splits(metadata)
    if protocol is JEONG2024:
        if metadata.get("dataset") not in jeong2024.DATASETS:
            raise ValueError(f"{metadata.get('dataset')}: the {JEONG2024.id} protocol covers the knowledge datasets "
                             f"and the reference's clinical ones ({', '.join(jeong2024.DATASETS)}) only; run this "
                             "task under another protocol")
        return jeong2024.build_splits(metadata)
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
