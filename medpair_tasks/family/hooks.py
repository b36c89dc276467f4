"""The lm-eval hooks every task family shares: data splits, choices, scoring, answer extraction.

A family's ``hooks.load`` (lm-eval's ``custom_dataset``) is :func:`build_splits` over its roles;
the multiple-choice tasks of every family name :func:`letters`, :func:`score_loglikelihood`,
:func:`score_generation` and :func:`extract_filter` with ``!function`` (the extraction rules are
in :mod:`medpair_tasks.extract`). The run-time switches come through lm-eval's task metadata,
which ``--metadata '{"role": "test"}'`` on the command line overrides for every task of the run:

- ``role``: ``val`` or ``test`` (candidates default to ``val``, the bare names to ``test``);
- ``val_limit``: size of the fixed validation subsample (default 500; 0 keeps all);
- ``protocol``: ``medpair`` (default) or ``jeong2024`` (see :mod:`medpair_tasks.protocols`);
  under ``jeong2024`` a document carries its finished prompt and ``profile`` names the model's
  prompt profile when its hub id or folder name does not.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import datasets
import numpy as np
import pyarrow as pa

from medpair_tasks import jeong2024_extract
from medpair_tasks.extract import UNPARSEABLE, extract_answer
from medpair_tasks.family.fewshot import candidate_prefix, fewshot_rule, shared_source_demonstrations
from medpair_tasks.family.roles import DEFAULT_VAL_LIMIT, FEWSHOT_DRAW, rank_shots
from medpair_tasks.formats import LETTERS
from medpair_tasks.protocols import JEONG2024, MEDPAIR, protocol_of


def _item_doc(item: Any, dataset: str, role: str) -> dict[str, Any]:
    return item.as_doc(dataset, role)


DATASET_MEMORY = 64
"""How many of the latest documents' datasets :func:`docs_dataset` keeps: the tasks of a study that
score one role (every prompt candidate) share its documents, and one few-shot seed's draws recur."""

_built_datasets: OrderedDict[str, datasets.Dataset] = OrderedDict()


def docs_dataset(docs: list[dict[str, Any]]) -> datasets.Dataset:
    """An in-memory ``datasets.Dataset`` of JSON-like documents, fingerprinted by their content.

    Equivalent to ``Dataset.from_list``, whose own fingerprint pickles the whole Arrow table and
    takes most of a task's build time; the sha256 of the documents' JSON is just as unique. The
    same JSON documents give the same (read-only) dataset object, one of the :data:`DATASET_MEMORY`
    latest ones, built once for all the tasks that score them; documents with values JSON cannot
    write (images) are always built anew, since their text form does not say what they hold.
    """
    not_json: list[str] = []

    def as_text(value: Any) -> str:
        not_json.append(type(value).__name__)
        return str(value)

    text = json.dumps(docs, sort_keys=True, ensure_ascii=False, default=as_text)
    fingerprint = hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    if not_json:
        return datasets.Dataset(pa.Table.from_pylist(docs), fingerprint=fingerprint)
    if fingerprint in _built_datasets:
        _built_datasets.move_to_end(fingerprint)
    else:
        _built_datasets[fingerprint] = datasets.Dataset(pa.Table.from_pylist(docs), fingerprint=fingerprint)
        if len(_built_datasets) > DATASET_MEMORY:
            _built_datasets.popitem(last=False)
    return _built_datasets[fingerprint]


def build_splits(
    metadata: dict[str, Any],
    scored: Callable[[str, str, int], list],
    pool: Callable[[str], Sequence],
    as_doc: Callable[[Any, str, str], dict[str, Any]] = _item_doc,
    per_item: bool = True,
) -> datasets.DatasetDict:
    """The ``eval`` split of the run's role and the ``fewshot`` split of its seed, for any task family.

    ``scored(dataset, role, val_limit)`` gives the scored items, ``pool(dataset)`` the few-shot
    pool (empty: an empty ``fewshot`` split), ``as_doc(item, dataset, role)`` turns an item into
    an lm-eval document (default: the item's own ``as_doc``). The ``fewshot`` split is the front
    of the seed's ranking of the pool (:func:`medpair_tasks.family.roles.rank_shots`): for a few-shot
    task with ``per_item`` (a :class:`medpair_tasks.family.sampler.SourceDisjointTask`), as far as every
    scored item needs to find its demonstrations that share no source with it
    (:mod:`medpair_tasks.family.fewshot`); otherwise the seed's draws, which every item is shown, so
    that a draw sharing a source with a scored item is an error.
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
    rule = fewshot_rule(metadata)
    eval_docs = [as_doc(item, dataset, role) for item in scored(dataset, role, val_limit)]
    if not eval_docs:
        raise ValueError(f"{dataset}: the {role} role has no items (is the data complete?)")
    scored_split = docs_dataset(eval_docs)
    shots = int(metadata.get("shots") or 0)
    items = pool(dataset)
    if not items:
        return datasets.DatasetDict({"eval": scored_split, "fewshot": scored_split.select([])})
    k = max(FEWSHOT_DRAW, shots)
    ranked = rank_shots(dataset, items, seed, k)

    def to_doc(item: Any) -> dict[str, Any]:
        return as_doc(item, dataset, "fewshot")

    if shots > 0 and per_item and rule == "source_disjoint":
        demos = candidate_prefix(eval_docs, ranked, to_doc, k)
    else:
        demos = [to_doc(item) for item in ranked[:k]]
    if shots > 0 and not per_item:
        _refuse_shared_sources(dataset, eval_docs, demos, shots)
    return datasets.DatasetDict({"eval": scored_split, "fewshot": docs_dataset(demos)})


def _refuse_shared_sources(
    dataset: str, eval_docs: list[dict[str, Any]], demos: list[dict[str, Any]], shots: int
) -> None:
    """Raise ValueError when a fixed draw, shown to every item, shares a source with one of them."""
    shared = shared_source_demonstrations(eval_docs, demos, [range(shots)] * len(eval_docs))
    if shared.count:
        raise ValueError(
            f"{dataset}: {shared.count} few-shot demonstrations share a source with the scored item they would "
            f"be shown with (items {', '.join(shared.items[:3])}); this task shows one draw to every item, so it "
            "needs a pool with no source in common with the scored items"
        )


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


__all__ = ["UNPARSEABLE", "build_splits", "docs_dataset", "extract_filter", "letters", "score_generation",
           "score_loglikelihood"]
