"""The ``jeong2024`` protocol against the stored outputs of the reference code (tests/fixtures/reference).

The expected prompts, item ids, demonstrations, draws and extractions were produced by running
Jeong et al.'s own code once on the test data (see tests/fixtures/reference/NOTE.md); here
medpair's versions must equal them character for character.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import pytest
from lm_eval.tasks import TaskManager
from medpair_testlib import prompts_digest, read_reference_cells

from medpair_tasks import jeong2024_roles as roles
from medpair_tasks.family.hooks import extract_filter
from medpair_tasks.jeong2024 import PROFILES, profile_for, render_prompt, stop_strings, system_prompt
from medpair_tasks.jeong2024_extract import cut_at_stops, extract_answer
from medpair_tasks.registry import task_path
from medpair_tasks.knowledge.sources import SOURCES

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"
NO_ANSWER = None


def reference_cells() -> dict[str, list[dict]]:
    """The stored cells of the reference run, per dataset."""
    return read_reference_cells(REFERENCE / "prompts.jsonl.gz")


def digest(prompts: list[str]) -> str:
    """The digest the reference run stored: SHA-256 of the prompts joined by NUL."""
    return prompts_digest(prompts)


def stored_prompts(cell: dict) -> list[str]:
    """The prompts a cell stores in full (all, or the first few)."""
    return cell.get("prompts") or cell["prompts_head"]


def test_the_reference_run_covers_every_knowledge_dataset_profile_format_and_seed():
    cells = reference_cells()
    assert set(cells) == set(SOURCES)
    for dataset_cells in cells.values():
        combos = {(c["role"], c["profile"], c["format"], c["fewshot_seed"]) for c in dataset_cells}
        assert len(combos) == 2 * 3 * 11 * 11


@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_prompts_ids_and_demonstrations_equal_the_reference(dataset, use_data):
    for cell in reference_cells()[dataset]:
        profile = profile_for(None, cell["profile"])
        items = roles.scored_items(dataset, cell["role"])
        assert [item.key for item in items] == cell["keys"]
        seed = cell["fewshot_seed"]
        demos = [] if seed is None else roles.fewshot_items(dataset, seed)
        assert [d.key for d in demos] == (cell["demo_keys"] or [])
        system = system_prompt(profile, dataset, len(items[0].options))
        assert system == cell["system_prompt"]
        prompts = [render_prompt(profile, cell["format"], system, demos, item) for item in items]
        stored = stored_prompts(cell)
        assert prompts[: len(stored)] == stored, (cell["role"], cell["profile"], cell["format"], seed)
        assert digest(prompts) == cell["digest"]
        assert list(stop_strings(profile, cell["format"])) == ["###", *cell["stop_headers"]]


def _tasks(dataset: str, names: list[str], **metadata) -> dict:
    folder = task_path() / ("mmlu_" + dataset[5:] if dataset.startswith("mmlu_") else dataset)
    manager = TaskManager(include_path=str(folder), include_defaults=False,
                          metadata={"protocol": "jeong2024", **metadata})
    return manager.load(names)["tasks"]


def _logged_contexts(task) -> list[str]:
    task.build_all_requests(rank=0, world_size=1)
    contexts = {}
    for instance in task.instances:
        contexts.setdefault(instance.doc_id, instance.arguments[0])
    return [contexts[i] for i in sorted(contexts)]


LM_EVAL_CELLS = [  # (dataset, profile, format, seed, mode): every dataset family, profile and scoring mode
    ("pubmedqa", "generic", "f00", None, "gen"),
    ("pubmedqa", "meditron-7b", "f04", 2, "gen"),
    ("medqa", "biomistral-7b", "f00", 7, "mc"),
    ("medqa", "meditron-7b", "f00", 3, "gen"),
    ("medqa5", "generic", "f10", 0, "gen"),
    ("medmcqa", "generic", "f01", 9, "mc"),
    ("medmcqa", "meditron-7b", "f06", None, "gen"),
    ("mmlu_virology", "biomistral-7b", "f08", 5, "gen"),
    ("mmlu_anatomy", "generic", "f02", 4, "mc"),
]


@pytest.mark.parametrize(("dataset", "profile", "format_id", "seed", "mode"), LM_EVAL_CELLS)
def test_lm_eval_logs_the_reference_prompt(dataset, profile, format_id, seed, mode, use_data):
    (cell,) = [c for c in reference_cells()[dataset]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == ("val", profile, format_id, seed)]
    name = f"medpair_{dataset}_{mode}_{format_id}_k{0 if seed is None else 3}" + ("" if seed is None else f"_s{seed}")
    (task,) = _tasks(dataset, [name], profile=profile).values()
    assert task.config.metadata["protocol"] == "jeong2024"
    contexts = _logged_contexts(task)
    assert contexts[: len(stored_prompts(cell))] == stored_prompts(cell)
    assert digest(contexts) == cell["digest"]
    assert [doc["item_key"] for doc in task.eval_docs] == cell["keys"]


def test_a_local_folder_named_like_a_known_model_gets_its_profile(use_data, tmp_path):
    folder = tmp_path / "meditron-7b"
    (cell,) = [c for c in reference_cells()["medqa"]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == ("test", "meditron-7b", "f00", None)]
    (task,) = _tasks("medqa", ["medpair_medqa_gen"], pretrained=str(folder)).values()
    assert _logged_contexts(task)[0] == cell["prompts_head"][0]
    assert profile_for(str(folder)).name == "meditron-7b"
    assert profile_for("BioMistral/BioMistral-7B").name == "biomistral-7b"
    assert profile_for("/models/Llama-2-7b-hf").name == "llama-2-7b"
    assert profile_for("/models/my-own-model").name == "generic"
    assert profile_for("/models/my-own-model", "biomistral-7b") is PROFILES["biomistral-7b"]
    with pytest.raises(ValueError, match="unknown jeong2024 profile"):
        profile_for(None, "meditron-8b")
    item = roles.scored_items("medqa", "test")[0]
    with pytest.raises(NotImplementedError, match="chat"):
        render_prompt(profile_for("meta-llama/Meta-Llama-3-8B-Instruct"), "f03", "", [], item)


def test_the_default_protocol_is_unchanged_and_recorded(use_data):
    (task,) = _tasks("medqa", ["medpair_medqa_gen_f00_k0"], protocol="medpair").values()
    context = _logged_contexts(task)[0]
    assert task.config.metadata["protocol"] == "medpair"
    assert context.startswith("Question: ") and context.endswith("Answer:")


def test_draws_for_the_real_dataset_sizes_equal_the_reference():
    draws = json.loads((REFERENCE / "draws.json").read_text(encoding="utf-8"))
    for size, expected in draws["val_subsample"].items():
        assert roles.val_subsample(int(size)) == expected
    for size, per_seed in draws["demo_indices"].items():
        for seed, expected in per_seed.items():
            assert roles.demo_indices(int(size), int(seed)) == expected
    split = draws["medmcqa_val_split"]
    val, pool = roles.medmcqa_split(split["n"])
    assert len(val) == split["n_val"] and val[: len(split["head"])] == split["head"]
    assert hashlib.sha256(json.dumps(val).encode()).hexdigest() == split["sha256"]
    assert sorted(val + pool) == list(range(split["n"]))


@cache
def extraction_corpus() -> list[dict]:
    """The generations and the reference extractor's answers."""
    lines = (REFERENCE / "extraction.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_extraction_equals_the_reference_on_every_generation():
    corpus = extraction_corpus()
    assert len(corpus) >= 200
    got = [extract_answer(r["output"], r["options"], r["answer_idx"]) for r in corpus]
    assert got == [r["reference_pred"] for r in corpus]
    assert NO_ANSWER in got and len(set(got)) > 4


def test_the_filter_cuts_at_the_reference_stops_then_extracts():
    doc = {"protocol": "jeong2024", "options": ["yes", "no", "maybe"], "answer_idx": 0,
           "stop_strings": ["###", "Question:"]}
    assert cut_at_stops("B\n### Question: C", doc["stop_strings"]) == "B\n"
    assert extract_filter([["(B) no ### A"], ["Question: A"], ["(b)"]], [doc] * 3) == [["B"], ["[unparseable]"], ["[unparseable]"]]


def test_tasks_outside_the_protocol_are_refused_not_run_under_another():
    from medpair_tasks.clinical.hooks import load as clinical_load
    from medpair_tasks.vqa.hooks import load as vqa_load

    with pytest.raises(ValueError, match="clue2024 protocol does not cover the VQA tasks"):
        vqa_load(dataset="vqa_rad", protocol="clue2024", role="test")
    with pytest.raises(ValueError, match="covers the knowledge datasets and the reference's clinical ones"):
        clinical_load(dataset="meqsum", protocol="jeong2024", role="test")
    with pytest.raises(ValueError, match="unknown protocol"):
        clinical_load(dataset="mednli", protocol="jeong2025")


def test_a_study_under_jeong2024_runs_a_fixed_template_model_on_its_own_template_only(use_data, tmp_path):
    from medpair_tasks.study.execute import EvalOptions
    from medpair_tasks.study.plan import StudyConfig
    from medpair_tasks.study.run import Study
    from medpair_tasks.study.spec import ModelSpec
    from medpair_tasks.taskspec import parse_candidate

    models = {"medical": ModelSpec.parse("/models/BioMistral-7B"), "base": ModelSpec.parse("/models/Mistral-7B-v0.1")}
    config = StudyConfig(("medqa",), val_limit=4, protocol="jeong2024")
    study = Study(tmp_path / "study", models, config, EvalOptions())
    formats = {side: {parse_candidate(t).format_id for s in study._stage1_shards(side) for t in s.tasks}
               for side in models}
    assert formats["medical"] == {"f00"} and len(formats["base"]) == 11
    medpair = Study(tmp_path / "other", models, StudyConfig(("medqa",), val_limit=4), EvalOptions())
    assert len({parse_candidate(t).format_id for s in medpair._stage1_shards("medical") for t in s.tasks}) == 11
    assert study.plan.items["medqa"] == {"val": 4, "test": 10}
    assert study._manager("val", "medical") is not study._manager("val", "base")


@pytest.mark.slow
def test_medpair_eval_logs_and_scores_like_the_reference(tiny_models, data_dir, tmp_path):
    """The real command line on the tiny model (a folder the generic profile serves): logged
    prompts equal the reference's, and each answer is the reference extractor's reading."""
    from medpair_testlib import read_run, run_medpair

    base, _ = tiny_models
    task = "medpair_pubmedqa_gen_f07_k3_s1"
    (cell,) = [c for c in reference_cells()["pubmedqa"]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == ("val", "generic", "f07", 1)]
    run_medpair(["eval", "--model", "hf", "--device", "cpu", "--batch_size", "4", "--log_samples",
                 "--model_args", f"pretrained={base},dtype=float32", "--tasks", task, "--limit", "3",
                 "--metadata", json.dumps({"protocol": "jeong2024"}), "--gen_kwargs", "max_gen_toks=8",
                 "--output_path", str(tmp_path)], data_dir)
    results, samples = read_run(tmp_path)
    assert results["configs"][task]["metadata"]["protocol"] == "jeong2024"
    rows = sorted(samples[task], key=lambda r: r["doc_id"])
    assert [r["arguments"]["gen_args_0"]["arg_0"] for r in rows] == cell["prompts_head"]
    for row in rows:
        doc = row["doc"]
        cut = cut_at_stops(row["resps"][0][0], doc["stop_strings"])
        expected = extract_answer(cut, doc["options"], doc["answer_idx"]) or "[unparseable]"
        assert row["filtered_resps"][0] == expected
