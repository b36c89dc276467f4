"""``docs_dataset``: the same JSON documents give one dataset object, built once; anything else is built anew."""

from __future__ import annotations

from datetime import date

from medpair_tasks.family import hooks


def test_the_same_documents_are_built_once_and_others_apart():
    docs = [{"question": "q1", "options": ["a", "b"], "answer_idx": 1}, {"question": "q2", "options": ["c", "d"], "answer_idx": 0}]
    first = hooks.docs_dataset(docs)
    again = hooks.docs_dataset([dict(doc) for doc in docs])  # equal documents, other objects
    assert again is first and first.to_list() == docs
    other = hooks.docs_dataset(docs[:1])
    assert other is not first and other.to_list() == docs[:1] and other._fingerprint != first._fingerprint


def test_documents_json_cannot_write_are_always_built_anew():
    """Their text form (``str``) need not tell two values apart, so equal text is no reason to reuse a dataset."""
    docs = [{"question": "q", "seen": date(2024, 1, 2)}]
    assert hooks.docs_dataset(docs) is not hooks.docs_dataset(docs)


def test_the_memory_keeps_the_latest_datasets_only():
    first = hooks.docs_dataset([{"question": "kept?"}])
    for number in range(hooks.DATASET_MEMORY):
        hooks.docs_dataset([{"question": f"filler {number}"}])
    assert hooks.docs_dataset([{"question": "kept?"}]) is not first
