"""PubMedQA's items come in an order that does not follow their label, in every role."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from medpair_testlib import PUBMEDQA_DIR, read_run, run_medpair
from medpair_tasks.knowledge.roles import roles

LIMIT = 30


def _labels(items) -> list[str]:
    return [item.options[item.answer_idx] for item in items]


@pytest.mark.slow
def test_limit_on_pubmedqa_takes_items_of_every_label(tiny_models, data_dir, tmp_path):
    """test_ground_truth.json is sorted by label: its first 30 items are all "yes" (a constant model scores 100%)."""
    base, _ = tiny_models
    run_medpair(["eval", "--model", "hf", "--device", "cpu", "--batch_size", "16", "--log_samples", "--model_args",
                 f"pretrained={base},dtype=float32", "--tasks", "medpair_pubmedqa", "--limit", str(LIMIT),
                 "--output_path", str(tmp_path)], data_dir)
    _, samples = read_run(tmp_path)
    docs = [row["doc"] for row in sorted(samples["medpair_pubmedqa"], key=lambda row: row["doc_id"])]
    labels = Counter(doc["options"][doc["answer_idx"]] for doc in docs)
    assert sum(labels.values()) == LIMIT and set(labels) == {"yes", "no", "maybe"}
    assert labels["yes"] / LIMIT < 0.7  # 276 of the 500 test items (55%) are "yes"
    questions = json.loads((PUBMEDQA_DIR / "ori_pqal.json").read_text())
    truth = json.loads((PUBMEDQA_DIR / "test_ground_truth.json").read_text())
    assert [doc["item_key"] for doc in docs] == [pmid for pmid in questions if pmid in truth][:LIMIT]


def test_every_role_starts_with_mixed_labels(use_data):
    parts = roles("pubmedqa")
    for name, items in (("val", parts.val), ("test", parts.test), ("fewshot pool", parts.pool)):
        first = Counter(_labels(items[:LIMIT]))
        assert first["yes"] < LIMIT and len(first) >= 2, (name, first)
