"""The shipped task YAMLs: current with their generator, all indexed, all built, no few-shot leak."""

from __future__ import annotations

import importlib

import pytest

from medpair_tasks.formats import format_from_id
from medpair_tasks.lm_eval_internals import is_group_entry, is_task_entry
from medpair_tasks.registry import task_manager, task_path
from medpair_tasks.taskspec import parse_candidate

generator = importlib.import_module("medpair_task_yaml._generate")


def test_generated_files_are_current():
    assert generator.stale_files(task_path()) == [], "run: python task_yaml/_generate.py"


@pytest.fixture(scope="module")
def index() -> dict:
    """The task index of medpair's YAMLs, built once for the tests that only read it."""
    return task_manager().task_index


def test_every_yaml_is_indexed(index):
    yaml_files = sorted(task_path().rglob("*.yaml"))
    assert len(index) == len(yaml_files) == 6189
    assert {e.yaml_path.resolve() for e in index.values()} == {p.resolve() for p in yaml_files}
    groups = sorted(n for n, e in index.items() if is_group_entry(e))
    assert groups == ["medpair_knowledge", "medpair_knowledge_gen", "medpair_longhealth", "medpair_longhealth_gen",
                      "medpair_mmlu_medical", "medpair_mmlu_medical_gen", "medpair_mmmu_health", "medpair_n2c2_obesity",
                      "medpair_n2c2_obesity_gen", "medpair_pathvqa", "medpair_slake", "medpair_vqa", "medpair_vqa_rad"]


def test_names_match_metadata(index):
    for name, entry in index.items():
        if not is_task_entry(entry):  # the VQA tasks are lm-eval Python tasks (``class:``): tasks too
            continue
        meta = entry.cfg["metadata"]
        assert format_from_id(meta["format"]).spec == meta["format_spec"]
        candidate = parse_candidate(name)
        if candidate is None:  # a bare default name
            assert name in (f"medpair_{meta['dataset']}", f"medpair_{meta['dataset']}_gen")
            assert (meta["role"], meta["shots"], meta["format"], meta["fewshot_seed"]) == ("test", 0, "f00", None)
            continue
        assert (candidate.dataset, candidate.mode, candidate.format_id, candidate.shots, candidate.seed) == (
            meta["dataset"], meta["mode"], meta["format"], meta["shots"], meta["fewshot_seed"])
        assert meta["role"] == "val" and entry.cfg["num_fewshot"] == meta["shots"]


def _every_task_builds_and_never_shows_a_scored_item_as_a_shot(role: str) -> None:
    """All 6,176 tasks build on the fixture data; no demonstration is a scored item (3-shot)."""
    manager = task_manager(metadata={"role": role})
    names = sorted(n for n, e in manager.task_index.items() if is_task_entry(e))
    tasks = manager.load(names)["tasks"]
    assert len(tasks) == len(names) == 6176
    three_shot = 0
    for name, task in tasks.items():
        docs = list(task.eval_docs)
        assert {doc["role"] for doc in docs} == {role}  # the run-time switch reaches every task
        keys = {doc["item_key"] for doc in docs}
        shots = task.config.num_fewshot
        if shots:
            three_shot += 1
            shown = list(task.sampler.sample(n=shots, eval_doc=docs[0]))
            assert len(shown) == 3 and not keys & {d["item_key"] for d in shown}, name
    assert three_shot == 5500


# one test class per role: under --dist loadscope a class is a unit of work of its own, so the two roles can build on the
# two workers side by side (xdist gives the next unit to a worker with at most 2 tests left: both may still land on one)
@pytest.mark.slow
class TestEveryTaskBuildsOnTheValidationRole:
    def test_every_task_builds_and_never_shows_a_scored_item_as_a_shot(self, use_data):
        _every_task_builds_and_never_shows_a_scored_item_as_a_shot("val")


@pytest.mark.slow
class TestEveryTaskBuildsOnTheTestRole:
    def test_every_task_builds_and_never_shows_a_scored_item_as_a_shot(self, use_data):
        _every_task_builds_and_never_shows_a_scored_item_as_a_shot("test")


def test_rendered_prompts_contain_the_scored_question_once(use_data):
    manager = task_manager(metadata={"role": "val"})
    names = [n for n in manager.task_index if n.endswith("_k3_s4") and "_f06_" in n]
    for name, task in manager.load(names)["tasks"].items():
        for doc in task.eval_docs:
            prompt = task.fewshot_context(doc, num_fewshot=3)
            own = doc.get("context") or doc["question"]  # clinical questions can be templates; their notes are not
            assert prompt.count(own) == 1, name
