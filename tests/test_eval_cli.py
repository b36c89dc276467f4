"""End to end: the real ``medpair eval`` command line on the tiny model."""

from __future__ import annotations

import json

import pytest

from medpair_testlib import PUBMEDQA_DIR, read_run, run_medpair, run_medpair_here
from medpair_tasks.extract import UNPARSEABLE
from medpair_tasks.registry import task_manager
from medpair_tasks.knowledge.roles import scored_items
from medpair_tasks.knowledge.sources import SOURCES
from medpair_tasks.taskspec import parse_candidate

MODEL = ["eval", "--model", "hf", "--device", "cpu", "--batch_size", "16", "--log_samples"]


@pytest.mark.slow
def test_pubmedqa_real_test_split(tiny_models, data_dir, tmp_path):
    base, _ = tiny_models
    run_medpair([*MODEL, "--model_args", f"pretrained={base},dtype=float32", "--tasks", "medpair_pubmedqa",
                 "--output_path", str(tmp_path)], data_dir)
    results, samples = read_run(tmp_path)
    rows = samples["medpair_pubmedqa"]
    truth = json.loads((PUBMEDQA_DIR / "test_ground_truth.json").read_text())
    assert len(rows) == 500
    assert sorted(r["doc"]["item_key"] for r in rows) == sorted(truth)
    assert {r["doc"]["role"] for r in rows} == {"test"} and {r["doc"]["dataset"] for r in rows} == {"pubmedqa"}
    assert all(r["acc"] in (0.0, 1.0) for r in rows)
    meta = results["configs"]["medpair_pubmedqa"]["metadata"]
    assert {k: meta[k] for k in ("dataset", "mode", "format", "shots", "fewshot_seed", "role")} == {
        "dataset": "pubmedqa", "mode": "mc", "format": "f00", "shots": 0, "fewshot_seed": None, "role": "test"}
    assert results["n-shot"]["medpair_pubmedqa"] == 0
    acc = sum(r["acc"] for r in rows) / 500
    assert abs(results["results"]["medpair_pubmedqa"]["acc,none"] - acc) < 1e-12


@pytest.mark.slow
def test_every_knowledge_task_in_both_modes_and_shot_settings(tiny_models, data_dir, use_data, tmp_path):
    """Fixtures (and real PubMedQA) through mc and gen, 0-shot and 3-shot, on the validation role."""
    _, medical = tiny_models
    chosen = [("mc", "f00", 0, None), ("mc", "f05", 3, 2), ("gen", "f00", 0, None), ("gen", "f07", 3, 4)]
    tasks = []
    for dataset in SOURCES:
        for mode, fmt, shots, seed in chosen:
            tasks.append(f"medpair_{dataset}_{mode}_{fmt}_k{shots}" + ("" if seed is None else f"_s{seed}"))
    run_medpair([*MODEL, "--model_args", f"pretrained={medical},dtype=float32", "--tasks", ",".join(tasks),
                 "--metadata", json.dumps({"val_limit": 5}), "--gen_kwargs", "max_gen_toks=8",
                 "--output_path", str(tmp_path)], data_dir)
    results, samples = read_run(tmp_path)
    assert sorted(samples) == sorted(tasks)
    for task in tasks:
        candidate = parse_candidate(task)
        rows = samples[task]
        meta = results["configs"][task]["metadata"]
        assert (meta["dataset"], meta["mode"], meta["format"], meta["shots"], meta["fewshot_seed"], meta["role"]) == (
            candidate.dataset, candidate.mode, candidate.format_id, candidate.shots, candidate.seed, "val")
        assert results["n-shot"][task] == candidate.shots
        expected_keys = [item.key for item in scored_items(candidate.dataset, "val", 5)]
        assert sorted(r["doc"]["item_key"] for r in rows) == sorted(expected_keys), task
        for row in rows:
            prompt = row["arguments"]["gen_args_0"]["arg_0"]
            assert prompt.count(row["doc"]["question"]) == 1, "a scored question must not be its own shot"
            assert row["acc"] in (0.0, 1.0)
            if candidate.mode == "gen":
                assert row["filter"] == "extract"
                assert row["filtered_resps"][0] in ("A", "B", "C", "D", "E", UNPARSEABLE)
            else:
                assert len(row["arguments"]) == len(row["doc"]["options"])
                assert [a["arg_1"] for a in row["arguments"].values()] == [" " + "ABCDE"[i] for i in range(len(row["doc"]["options"]))]


@pytest.mark.slow
def test_users_include_path_keeps_working(tiny_models, data_dir, tmp_path):
    base, _ = tiny_models
    user_tasks = tmp_path / "my_tasks"
    user_tasks.mkdir()
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps({"q": f"Is {i} even?", "a": i % 2}) + "\n" for i in range(4)))
    (user_tasks / "mine.yaml").write_text(
        "task: my_own_task\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
        "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{q}}'\n"
        "doc_to_choice: [' yes', ' no']\ndoc_to_target: a\nmetadata:\n  version: 1\n"
    )
    out = tmp_path / "out"
    run_medpair([*MODEL, "--model_args", f"pretrained={base},dtype=float32", "--include_path", str(user_tasks),
                 "--tasks", "my_own_task,medpair_mmlu_anatomy", "--output_path", str(out)], data_dir)
    _, samples = read_run(out)
    assert len(samples["my_own_task"]) == 4 and len(samples["medpair_mmlu_anatomy"]) == 8


@pytest.mark.slow
def test_lm_eval_builtin_tasks_stay_registered(tmp_path):
    """An lm-eval task manager with its defaults also indexes medpair's tasks; a user's folder is kept."""
    from medpair_tasks.lm_eval_internals import task_manager_class

    (tmp_path / "mine.yaml").write_text("task: my_own_task\ndataset_path: json\ntest_split: test\n"
                                        "output_type: multiple_choice\ndoc_to_text: q\ndoc_to_choice: ['a']\ndoc_to_target: 0\n")
    manager = task_manager_class()(include_path=str(tmp_path))
    assert {"arc_easy", "hellaswag", "my_own_task", "medpair_medqa", "medpair_knowledge"} <= set(manager.all_tasks)
    assert len(task_manager().all_tasks) == 6189


def test_eval_checks_names_before_anything_is_loaded(tmp_path):
    """A misspelt name: suggestions from medpair's names, no lm-eval traceback, no model load."""
    done = run_medpair_here(["eval", "--model", "hf", "--model_args", f"pretrained={tmp_path / 'no-model'}",
                             "--tasks", "medpair_pubmedqq,medpair_medqa_mc_f03_k9,arc_easy"], data_dir=None)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "'medpair_pubmedqq'; did you mean medpair_pubmedqa" in done.stderr
    assert "'medpair_medqa_mc_f03_k9'; did you mean medpair_medqa_mc_f03_k0" in done.stderr
    assert "arc_easy" not in done.stderr and "no-model" not in done.stderr


def test_eval_reports_every_missing_dataset_before_the_model_loads(tmp_path):
    done = run_medpair_here(["eval", "--model", "hf", "--model_args", f"pretrained={tmp_path / 'no-model'}",
                             "--tasks", "medpair_medmcqa,medpair_medqa_gen_f02_k0,medpair_pubmedqa"], data_dir=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "3 datasets of this run are missing" in done.stderr
    for dataset in ("medmcqa", "medqa", "pubmedqa"):
        assert f"the {dataset} data is not available" in done.stderr
    assert "no-model" not in done.stderr


def test_eval_help_explains_medpairs_part():
    done = run_medpair_here(["eval", "--help"], data_dir=None)
    text = done.stdout
    assert done.returncode == 0 and "medpair eval run --help" in text and "--allow-remote" in text and "did you mean" in text
    done = run_medpair_here(["eval", "run", "--help"], data_dir=None)
    lm_eval_help = done.stdout
    assert done.returncode == 0
    assert "--model_args" in lm_eval_help


def _stdout(args: list[str], data_dir) -> str:
    """What ``medpair ARGS`` prints (run in this process: the console script is tested end to end in test_wheel.py)."""
    done = run_medpair_here(args, data_dir)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_tasks_command_lists_identity(data_dir):
    listing = _stdout(["tasks", "medpair_medqa_mc_f03_*"], data_dir)
    lines = [line.split() for line in listing.splitlines() if line.startswith("medpair_")]
    assert len(lines) == 11
    assert ["medpair_medqa_mc_f03_k3_s7", "medqa", "val", "mc", "3", "f03", "7"] in lines
    overview = _stdout(["tasks"], data_dir)
    assert "medpair_pubmedqa " in overview and "6116 prompt candidates" in overview
    path = _stdout(["task-path"], data_dir).strip()
    assert path.endswith("task_yaml")


def test_a_group_of_one_says_member(data_dir):
    rows = [line.split() for line in _stdout(["tasks", "medpair_slake"], data_dir).splitlines()]
    assert ["medpair_slake", "1", "member", "test", "gen", "0", "f00"] in rows


@pytest.mark.slow
def test_missing_data_is_one_clear_message(tiny_models, tmp_path):
    import subprocess

    from medpair_testlib import subprocess_env

    base, _ = tiny_models
    done = subprocess.run(["medpair", *MODEL, "--model_args", f"pretrained={base}", "--tasks", "medpair_medmcqa",
                           "--output_path", str(tmp_path)], env=subprocess_env(tmp_path), capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "the medmcqa data is not available" in done.stderr and str(tmp_path / "medmcqa") in done.stderr
    assert "openlifescienceai/medmcqa" in done.stderr and "medmcqa.github.io" in done.stderr
