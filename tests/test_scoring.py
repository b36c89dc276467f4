"""Scoring modes in lm-eval itself: one forward pass per question in mc mode; chat templates."""

from __future__ import annotations

import pytest

from medpair_tasks.registry import task_manager

pytestmark = pytest.mark.slow  # lm-eval runs on the tiny models; `pytest -m "not slow"` leaves them out


def _evaluate(model_path, tasks, dataset, **kwargs):
    """lm-eval's own evaluation of ``tasks`` (all of one ``dataset``, whose folder alone is indexed)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    logits_cache = kwargs.pop("logits_cache", True)
    lm = HFLM(pretrained=str(model_path), device="cpu", batch_size=1, dtype="float32", logits_cache=logits_cache)
    calls = []
    lm.model.register_forward_hook(lambda *_: calls.append(1))
    results = simple_evaluate(model=lm, tasks=tasks, task_manager=task_manager(datasets=[dataset]), log_samples=True, **kwargs)
    return results, len(calls)


@pytest.mark.parametrize(("logits_cache", "calls_per_question"), [(True, 1), (False, 4)])
def test_mc_mode_scores_each_question_with_one_forward_pass(use_data, tiny_models, logits_cache, calls_per_question):
    """Single-token letter choices let lm-eval's logits cache share one pass among the 4 choices."""
    base, _ = tiny_models
    results, calls = _evaluate(base, ["medpair_medqa"], "medqa", logits_cache=logits_cache)
    n_questions = len(results["samples"]["medpair_medqa"])
    assert n_questions == 10
    assert calls == calls_per_question * n_questions


def test_tasks_work_with_a_chat_template(use_data, tiny_models):
    _, medical = tiny_models
    results, _ = _evaluate(
        medical, ["medpair_mmlu_anatomy_mc_f02_k3_s1", "medpair_mmlu_anatomy_gen_f00_k0"], "mmlu_anatomy",
        apply_chat_template=True, fewshot_as_multiturn=True, gen_kwargs="max_gen_toks=8",
    )
    for task in ("medpair_mmlu_anatomy_mc_f02_k3_s1", "medpair_mmlu_anatomy_gen_f00_k0"):
        samples = results["samples"][task]
        assert len(samples) == 6
        for sample in samples:
            prompt = sample["arguments"][0][0]
            assert prompt.startswith("<|user|>\n") and prompt.endswith("<|assistant|>\n")
            assert prompt.count("<|user|>") == (4 if task.endswith("_s1") else 1)
            assert sample["acc"] in (0.0, 1.0)
