"""The functions medpair's VQA task YAMLs name with ``!function``: data loading and images.

Scoring and answer extraction are the knowledge tasks' ``gen`` mode
(:func:`medpair_tasks.family.hooks.score_generation`, :func:`medpair_tasks.family.hooks.extract_filter`).
The run-time switches come through lm-eval's task metadata (``--metadata``): ``role``
(``val``/``test``), ``val_limit`` and ``evidence_file`` (:mod:`medpair_tasks.vqa.evidence`).

A document holds text and image *references* (plus the images' sha256), never pixels, so that
its ``doc_hash`` is a stable fingerprint of the item: the same for every prompt candidate and
with or without evidence.
"""

from __future__ import annotations

from typing import Any

import datasets

from medpair_tasks.family.hooks import build_splits
from medpair_tasks.protocols import JEONG2024, MEDPAIR, protocol_of
from medpair_tasks.vqa import jeong2024
from medpair_tasks.vqa.records import VQAItem
from medpair_tasks.vqa.roles import BOOK
from medpair_tasks.vqa.sources import load_vqa_source

CLUSTER_HASH_CHARS = 16


def as_doc(item: VQAItem, dataset: str, role: str) -> dict[str, Any]:
    """The lm-eval document of an item: data fields, dataset, role, item key and image identity.

    ``cluster`` names the item's image(s) by content, so that questions about one image are
    resampled together by ``medpair compare``; ``image_sha256`` also keeps a demonstration
    about one of the item's images out of its prompt (:mod:`medpair_tasks.family.fewshot`).
    """
    source = load_vqa_source(dataset)
    shas = [source.sha256(ref) for ref in item.images]
    return {
        "item_key": item.key,
        "dataset": dataset,
        "role": role,
        "question": item.question,
        "options": list(item.options),
        "answer_idx": item.answer_idx,
        "images": list(item.images),
        "image_sha256": shas,
        "cluster": "+".join(sha[:CLUSTER_HASH_CHARS] for sha in shas),
    }


def load(**metadata: Any) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset``: the scored split ``eval`` and the demonstrations ``fewshot``
    (under ``jeong2024``, the reference's populations and finished prompts: :mod:`medpair_tasks.vqa.jeong2024`)."""
    protocol = protocol_of(metadata)
    if protocol is JEONG2024:
        return jeong2024.build_splits(metadata, as_doc)
    if protocol is not MEDPAIR:
        raise ValueError(f"{metadata.get('dataset')}: the {protocol.id} protocol does not cover the VQA tasks; "
                         f"run them under {MEDPAIR.id} or {JEONG2024.id}")
    return build_splits(metadata, BOOK.scored_items, BOOK.pool, as_doc)


def doc_images(doc: dict[str, Any]) -> list[Any]:
    """The PIL images of one document, in order (opened lazily)."""
    source = load_vqa_source(str(doc["dataset"]))
    return [source.image(ref) for ref in doc["images"]]


def doc_to_image(doc: dict[str, Any]) -> list[Any]:
    """lm-eval ``doc_to_image`` of the item alone (``VQATask`` adds the demonstrations' images)."""
    return doc_images(doc)
