"""Fitting notes into the model's context: the cut, the budget, the task class, the record."""

from __future__ import annotations

import itertools
import random

import pytest

from clinical_testlib import FIXTURES
from medpair_tasks.clinical.truncate import (
    MARKER,
    ApproxCounter,
    HFCounter,
    resolve_budget,
    shorten,
    water_fill,
)

MAX_LENGTH = 512


def _reference_cap(lengths: list[int], budget: int) -> int | None:
    """Brute force: the largest cap c with sum(min(L, c)) <= budget (None when nothing is cut)."""
    if sum(lengths) <= budget:
        return None
    best = 0
    for cap in range(max(lengths) + 1):
        if sum(min(length, cap) for length in lengths) <= budget:
            best = cap
    return best


def test_water_fill_matches_brute_force():
    rng = random.Random(0)
    for _ in range(300):
        lengths = [rng.randrange(0, 60) for _ in range(rng.randrange(1, 5))]
        budget = rng.randrange(-5, 150)
        assert water_fill(lengths, budget) == _reference_cap(lengths, budget), (lengths, budget)


@pytest.fixture(scope="module")
def counter(tiny_models):
    from transformers import AutoTokenizer

    base, _ = tiny_models
    return HFCounter(AutoTokenizer.from_pretrained(str(base)), str(base))


NOTE = " ".join(f"Sentence {i} of a made-up note about chest pain and aspirin." for i in range(60))


@pytest.mark.parametrize("make_counter", ["hf", "approx"])
def test_shorten_keeps_the_ends_it_should(counter, make_counter):
    count = counter if make_counter == "hf" else ApproxCounter()
    total = count.count(NOTE)
    for cap in (20, 57, 200):
        middle = shorten(NOTE, cap, "middle", count)
        assert count.count(middle) <= cap + 1  # cuts on token boundaries; the joins may merge one token
        head, tail = middle.split(MARKER)
        assert NOTE.startswith(head) and NOTE.endswith(tail) and head and tail
        left = shorten(NOTE, cap, "left", count)
        assert count.count(left) <= cap + 1 and left.startswith(MARKER.lstrip("\n"))
        assert NOTE.endswith(left[len(MARKER.lstrip("\n")):])
    assert shorten(NOTE, total, "middle", count) == NOTE


def test_budget_from_model_arguments(tiny_models):
    base, _ = tiny_models
    budget = resolve_budget({"pretrained": str(base)})
    assert budget is not None and budget.max_length == 8192 and budget.source == "model config max_position_embeddings"
    assert isinstance(budget.counter, HFCounter)
    assert resolve_budget({"pretrained": str(base), "max_length": "300"}).max_length == 300
    assert resolve_budget({"dataset": "mednli"}) is None
    api = resolve_budget({"model": "some-api-model", "max_length": 1000})
    assert api is not None and isinstance(api.counter, ApproxCounter)


@pytest.fixture(scope="module")
def clinical_tasks(tiny_models, data_dir):
    """Build clinical tasks in-process with a 400-token budget (and other settings)."""
    import os

    from medpair_tasks.registry import task_manager

    base, _ = tiny_models
    old = os.environ.get("MEDPAIR_DATA_DIR")
    os.environ["MEDPAIR_DATA_DIR"] = str(data_dir)
    managers = {}

    def build(names: list[str], **metadata):
        key = tuple(sorted(metadata.items()))
        if key not in managers:
            managers[key] = task_manager(metadata={"pretrained": str(base), "role": "test", "val_limit": 0, **metadata},
                                         datasets=["clinical"])  # index the clinical folder only
        return managers[key].load(names)["tasks"]

    yield build
    if old is None:
        os.environ.pop("MEDPAIR_DATA_DIR", None)
    else:
        os.environ["MEDPAIR_DATA_DIR"] = old


TASKS = [
    "medpair_ehrnoteqa",
    "medpair_ehrnoteqa_gen_f05_k3_s2",
    "medpair_n2c2_obesity_asthma_mc_f07_k3_s0",
    "medpair_longhealth_task1",
    "medpair_longhealth_task2_gen",
    "medpair_medisumcode",
    "medpair_probsum",
]


@pytest.mark.slow
def test_prompts_fit_and_keep_question_and_options(clinical_tasks, counter):
    tasks = clinical_tasks(TASKS, max_length=MAX_LENGTH)
    untruncated = clinical_tasks(TASKS)
    for name in TASKS:
        task = tasks[name]
        docs = list(task.eval_docs)
        assert docs == list(untruncated[name].eval_docs), "the lm-eval document must not depend on the model"
        reserve = task._reserve() + 8
        cut_seen = 0
        for doc in docs:
            prompt = task.fewshot_context(doc, task.config.num_fewshot)
            assert counter.count(prompt) <= MAX_LENGTH - reserve, name
            if doc.get("question"):
                assert doc["question"] in prompt
            for option in doc.get("options", []):
                assert option in prompt
            full = untruncated[name].fewshot_context(doc, task.config.num_fewshot)
            if full != prompt:
                cut_seen += 1
                assert MARKER in prompt or doc.get("documents"), name
        summary = task.dump_config()["metadata"]["truncation"]
        assert "still_too_long" not in summary, name
        assert summary["active"] and summary["max_length"] == MAX_LENGTH and summary["side"] == "middle"
        assert summary["items"] == len(docs) and summary["truncated"] == len(summary["truncated_items"])
        assert set(summary["truncated_items"]) <= {d["item_key"] for d in docs}
        assert cut_seen >= summary["truncated"] > 0, name
        assert all(isinstance(k, str) and "SYNTHETIC" not in k for k in summary["truncated_items"])


def test_left_truncation_keeps_the_end_of_the_note(clinical_tasks):
    (task,) = clinical_tasks(["medpair_medisumcode"], max_length=300, truncation="left").values()
    for doc in task.eval_docs:
        prompt = task.fewshot_context(doc, 0)
        assert doc["context"][-40:] in prompt
        if MARKER.strip() in prompt:
            assert doc["context"][:40] not in prompt


def test_prompts_too_long_without_notes_are_reported(clinical_tasks):
    (task,) = clinical_tasks(["medpair_ehrnoteqa_gen_f05_k3_s2"], max_length=200).values()
    for doc in task.eval_docs:
        task.fewshot_context(doc, 3)
    summary = task.dump_config()["metadata"]["truncation"]
    assert summary["still_too_long"] == sorted(d["item_key"] for d in task.eval_docs)


def test_no_truncation_without_need_or_when_off(clinical_tasks):
    (roomy,) = clinical_tasks(["medpair_medisumqa"]).values()  # the tiny model's 8192 tokens
    for doc in roomy.eval_docs:
        assert doc["context"] in roomy.fewshot_context(doc, 0)
    assert roomy.dump_config()["metadata"]["truncation"]["truncated"] == 0
    (off,) = clinical_tasks(["medpair_medisumqa"], max_length=MAX_LENGTH, truncation="none").values()
    doc = next(iter(off.eval_docs))
    assert doc["context"] in off.fewshot_context(doc, 0)
    assert off.dump_config()["metadata"]["truncation"] == {"active": False, "side": "none"}


def test_longhealth_prompts_pack_the_right_documents(clinical_tasks):
    from medpair_tasks.clinical.sources import longhealth_texts

    tasks = clinical_tasks(["medpair_longhealth_task1", "medpair_longhealth_task3"])
    texts = longhealth_texts()
    for doc in tasks["medpair_longhealth_task3"].eval_docs:
        prompt = tasks["medpair_longhealth_task3"].fewshot_context(doc, 0)
        patient = doc["cluster"]
        assert not any(text in prompt for key, text in texts.items() if key.startswith(f"{patient}/"))
        assert prompt.rstrip().endswith("Answer:") and "F. Question cannot be answered" in prompt
    for doc in tasks["medpair_longhealth_task1"].eval_docs:
        prompt = tasks["medpair_longhealth_task1"].fewshot_context(doc, 0)
        assert all(texts[d] in prompt for d in doc["documents"])  # everything fits in 8192 tokens
        assert doc["context"] == "" and "documents_sha256" in doc


@pytest.mark.slow
def test_all_pairs_of_settings_give_the_same_documents(clinical_tasks):
    """Different budgets and sides change prompts, never the logged documents (doc_hash)."""
    settings = [{}, {"max_length": 300}, {"max_length": 300, "truncation": "left"}]
    docs = []
    for metadata in settings:
        (task,) = clinical_tasks(["medpair_ehrnoteqa_mc_f02_k0"], **metadata).values()
        docs.append(list(task.eval_docs))
    for a, b in itertools.combinations(docs, 2):
        assert a == b


def test_fixture_folder_is_complete():
    assert (FIXTURES / "data" / "longhealth" / "benchmark_v5.json").is_file()
