"""The functions medpair's task YAMLs name with ``!function``: data loading, choices, scoring.

They are thin: the data lives in :mod:`medpair_tasks.roles`, the extraction rules in
:mod:`medpair_tasks.extract`. The run-time switches come through lm-eval's task metadata, which
``--metadata '{"role": "test"}'`` on the command line overrides for every task of the run:

- ``role``: ``val`` or ``test`` (candidates default to ``val``, the bare names to ``test``);
- ``val_limit``: size of the fixed validation subsample (default 500; 0 keeps all);
- ``protocol``: ``medpair`` (default) or ``jeong2024`` (see :mod:`medpair_tasks.protocols`);
  under ``jeong2024`` a document carries its finished prompt and ``profile`` names the model's
  prompt profile when its hub id or folder name does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import datasets
import numpy as np

from medpair_tasks import jeong2024_docs, jeong2024_extract
from medpair_tasks.extract import UNPARSEABLE, extract_answer
from medpair_tasks.formats import LETTERS
from medpair_tasks.protocols import JEONG2024, MEDPAIR, protocol_of
from medpair_tasks.roles import DEFAULT_VAL_LIMIT, FEWSHOT_DRAW, fewshot_items, scored_items


def _item_doc(item: Any, dataset: str, role: str) -> dict[str, Any]:
    return item.as_doc(dataset, role)


def build_splits(
    metadata: dict[str, Any],
    scored: Callable[[str, str, int], list],
    shots: Callable[[str, int, int], list],
    as_doc: Callable[[Any, str, str], dict[str, Any]] = _item_doc,
) -> datasets.DatasetDict:
    """The ``eval`` split of the run's role and the ``fewshot`` split of its seed, for any task family.

    ``scored(dataset, role, val_limit)`` and ``shots(dataset, seed, k)`` give the items (no
    shots: an empty ``fewshot`` split), ``as_doc(item, dataset, role)`` turns one into an
    lm-eval document (default: the item's own ``as_doc``).
    """
    dataset = metadata.get("dataset")
    if not dataset:
        raise ValueError("medpair task metadata must name its dataset")
    protocol = protocol_of(metadata)
    if protocol is not MEDPAIR:
        raise ValueError(f"{dataset}: the {protocol.id} protocol covers the knowledge datasets only; "
                         f"run this task under the {MEDPAIR.id} protocol")
    role = str(metadata.get("role", "test"))
    val_limit = int(metadata.get("val_limit", DEFAULT_VAL_LIMIT))
    seed = int(metadata.get("fewshot_seed") or 0)
    eval_docs = [as_doc(item, dataset, role) for item in scored(dataset, role, val_limit)]
    if not eval_docs:
        raise ValueError(f"{dataset}: the {role} role has no items (is the data complete?)")
    demos = shots(dataset, seed, max(FEWSHOT_DRAW, int(metadata.get("shots") or 0)))
    scored_split = datasets.Dataset.from_list(eval_docs)
    fewshot = datasets.Dataset.from_list([as_doc(item, dataset, "fewshot") for item in demos]) if demos else scored_split.select([])
    return datasets.DatasetDict({"eval": scored_split, "fewshot": fewshot})


def load(**metadata: Any) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset``: the scored split ``eval`` and the demonstrations ``fewshot``.

    Receives the task metadata merged with the CLI ``--metadata`` and ``model_args`` (the
    ``jeong2024`` protocol reads the model's name from them to find its prompt profile).
    """
    if protocol_of(metadata) is JEONG2024:
        return jeong2024_docs.build_splits(metadata)
    return build_splits(metadata, scored_items, fewshot_items)


def letters(doc: dict[str, Any]) -> list[str]:
    """The answer letters of a document's options: ``["A", "B", …]``."""
    return list(LETTERS[: len(doc["options"])])


def score_loglikelihood(doc: dict[str, Any], results: list[tuple[float, bool]]) -> dict[str, float]:
    """``mc`` mode: correct when the gold letter has the highest log-likelihood."""
    return {"acc": float(int(np.argmax([loglik for loglik, _ in results])) == doc["answer_idx"])}


def score_generation(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """``gen`` mode: correct when the extracted letter is the gold letter (unparseable is wrong)."""
    return {"acc": float(results[0] == LETTERS[doc["answer_idx"]])}


def _extract(generation: str, doc: dict[str, Any]) -> str:
    if doc.get("protocol") == JEONG2024.id:
        cut = jeong2024_extract.cut_at_stops(generation, doc["stop_strings"])
        return jeong2024_extract.extract_answer(cut, doc["options"], doc["answer_idx"]) or UNPARSEABLE
    return extract_answer(generation, doc["options"])


def extract_filter(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """lm-eval ``custom`` filter: each generation becomes its option letter or ``[unparseable]``
    (under ``jeong2024``, cut at the reference's stop strings and read by its extractor)."""
    return [[_extract(r, doc) for r in doc_resps] for doc_resps, doc in zip(resps, docs)]


__all__ = ["UNPARSEABLE", "extract_filter", "letters", "load", "score_generation", "score_loglikelihood"]
