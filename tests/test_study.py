"""``medpair run``: the plan, the whole study, and the same study as ``medpair plan`` jobs (resuming after
``kill -9``: test_study_identity.py)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import pytest

from medpair_testlib import run_medpair, run_medpair_here, subprocess_env
from medpair_tasks.knowledge.roles import scored_items
from medpair_tasks.study.cli import parse_datasets
from medpair_tasks.study.plan import StudyConfig, make_plan
from medpair_tasks.study.spec import ModelSpec


def _here(args: list[str], data_dir: Path) -> tuple[int, str, str]:
    """``medpair ARGS`` in this process: exit status, stdout and stderr."""
    result = run_medpair_here(args, data_dir)
    return result.returncode, result.stdout, result.stderr

TASKS = "medqa,mmlu_anatomy"


def _study_args(models, out: Path) -> list[str]:
    base, medical = models
    return ["run", "--medical", f"hf:pretrained={medical},dtype=float32", "--base", f"hf:pretrained={base},dtype=float32",
            "--tasks", TASKS, "--out", str(out), "--val-limit", "4", "--device", "cpu", "--batch-size", "8",
            "--protocol", "medpair", "--n-resamples", "2000"]


@pytest.fixture(scope="module")
def whole_study(tiny_models, data_dir, tmp_path_factory) -> Path:
    """One uninterrupted study, the reference for the scattered one (the kill test is in test_study_identity.py)."""
    out = tmp_path_factory.mktemp("whole")
    run_medpair(_study_args(tiny_models, out), data_dir)
    return out


def test_model_specs():
    assert ModelSpec.parse("org/model") == ModelSpec("hf", "pretrained=org/model")
    assert ModelSpec.parse("pretrained=a,peft=b").args == {"pretrained": "a", "peft": "b"}
    spec = ModelSpec.parse("vllm:pretrained=a,tensor_parallel_size=2")
    assert spec.model_type == "vllm" and spec.args["tensor_parallel_size"] == "2"
    assert ModelSpec.parse("hf:pretrained=a").with_defaults(dtype="bfloat16").model_args == "pretrained=a,dtype=bfloat16"
    assert ModelSpec.parse("hf:pretrained=a,dtype=float32").with_defaults(dtype="bfloat16").args["dtype"] == "float32"


@pytest.mark.parametrize("name, family", [("mednli", "clinical"), ("medpair_mednli", "clinical"), ("medpair_n2c2_obesity", "clinical"),
                                          ("medpair_longhealth_task2", "clinical"), ("vqa_rad", "visual QA"),
                                          ("medpair_mmmu_health", "visual QA")])
def test_run_names_the_other_task_families_and_what_to_use(name, family):
    with pytest.raises(argparse.ArgumentTypeError) as err:
        parse_datasets(f"medqa,{name}")
    message = str(err.value)
    assert f"{name!r} is a {family} task" in message and "unknown" not in message
    assert "knowledge datasets only" in message and "medpair eval --tasks medpair_" in message and "medpair compare" in message


def test_run_still_says_unknown_for_a_name_medpair_does_not_have():
    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown task 'medqq'; medpair run and medpair plan cover the knowledge datasets only \(medqa,"):
        parse_datasets("medqq")


def test_missing_data_error_of_run_has_one_prefix(tmp_path):
    status, _, stderr = _here(["run", "--medical", "org/m", "--base", "org/b", "--tasks", "medmcqa",
                                       "--out", str(tmp_path / "s"), "--dry-run"], tmp_path)
    assert status == 1 and "Traceback" not in stderr
    assert "medpair run: error: the medmcqa data is not available" in stderr
    assert "medpair: the" not in stderr


def test_plan_counts(use_data):
    plan = make_plan(StudyConfig(("medqa", "mmlu_anatomy"), val_limit=4))
    summary = plan.summary()
    assert summary["stage1"]["medical"] == summary["stage1"]["base"]  # medpair: the same candidates for both models
    stage1 = summary["stage1"]["medical"]
    assert stage1["tasks"] == 2 * 121 and stage1["shards"] == 2 * 2 * 11
    val = {d: len(scored_items(d, "val", 4)) for d in ("medqa", "mmlu_anatomy")}
    test = {d: len(scored_items(d, "test")) for d in ("medqa", "mmlu_anatomy")}
    assert stage1["requests"] == sum(121 * val[d] * 4 for d in val)  # 4 options, mc
    assert summary["stage2"]["requests"] == sum(2 * test[d] * 4 for d in test)  # 2 shot settings
    assert len({s.id for s in plan.stage1["medical"]}) == len(plan.stage1["medical"])
    assert sorted(t for s in plan.stage1["medical"] for t in s.tasks) == sorted(
        n for c in plan.cells for n in (x.task_name for x in c.candidates()))


def test_dry_run_prints_the_plan_only(tiny_models, data_dir, tmp_path):
    out = tmp_path / "study"
    status, text, stderr = _here([*_study_args(tiny_models, out), "--dry-run"], data_dir)
    assert status == 0, stderr
    assert "242 candidate tasks in 44 shards" in text
    assert "medqa: 4 validation items (limit 4), 10 test items" in text
    assert not (out / "runs").exists()


def test_a_different_study_in_the_same_folder_is_refused(tiny_models, data_dir, tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"identity": {"models": {}}}))
    status, _, stderr = _here(_study_args(tiny_models, out), data_dir)
    assert status == 1 and "holds a different study" in stderr


@pytest.mark.slow
def test_plan_jobs_run_through_medpair_eval_and_merge_to_the_run_report(tiny_models, data_dir, tmp_path, whole_study):
    """Stage lists → medpair eval (scattered jobs) → medpair compare == medpair run's report."""
    scattered, whole = tmp_path / "scattered", whole_study
    study = _study_args(tiny_models, scattered)[1:-2]  # without --n-resamples
    text = run_medpair(["plan", *study, "--jobs", "1"], data_dir).stdout
    assert text.startswith("2 jobs")
    jobs = json.loads((scattered / "jobs" / "stage1.json").read_text())["jobs"]
    assert sorted(j["side"] for j in jobs) == ["base", "medical"]
    assert sorted(t for j in jobs if j["side"] == "base" for t in j["tasks"]) == sorted(
        t for s in make_plan_for(data_dir).stage1["base"] for t in s.tasks)
    lines = [line for line in (scattered / "jobs" / "stage1.sh").read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 2 and all(line.startswith("medpair eval ") for line in lines)
    for line in lines:
        subprocess.run(["bash", "-c", line], env=subprocess_env(data_dir), check=True, capture_output=True)
    run_medpair(["plan", *study, "--stage", "2"], data_dir)
    test_job_lines = [line for line in (scattered / "jobs" / "stage2.sh").read_text().splitlines() if not line.startswith("#")]
    assert len(test_job_lines) == 2
    for line in test_job_lines:
        subprocess.run(["bash", "-c", line], env=subprocess_env(data_dir), check=True, capture_output=True)
    run_medpair(["compare", "--medical", str(scattered / "runs" / "medical"), "--base", str(scattered / "runs" / "base"),
                 "--out", str(scattered / "report"), "--n-resamples", "2000", "--seed", "0"], data_dir)
    for name in ("comparisons.json", "comparisons.csv"):
        assert (scattered / "report" / name).read_bytes() == (whole / "report" / name).read_bytes(), name
    report = (scattered / "report" / "report.md").read_text()
    records = json.loads((scattered / "report" / "comparisons.json").read_text())["records"]
    assert all(f"| {r['medical_prompt']} | {r['base_prompt']} |" in report for r in records)
    assert (scattered / "report" / "forest.png").read_bytes().startswith(b"\x89PNG")

    manifest = json.loads((whole / "manifest.json").read_text())
    assert set(manifest["selection"]) == {"medical", "base"}
    assert set(manifest["selection"]["medical"]) == {"medqa_mc_k0", "medqa_mc_k3", "mmlu_anatomy_mc_k0", "mmlu_anatomy_mc_k3"}
    assert manifest["software"]["lm_eval"].startswith("0.4")
    assert len(manifest["progress"]["base"]["stage2"]) == 4
    assert {(r["dataset"], r["setting"]) for r in records} == {
        ("medqa", "0-shot"), ("medqa", "3-shot"), ("mmlu_anatomy", "0-shot"), ("mmlu_anatomy", "3-shot")}
    # the report names the prompt that stage 2 of medpair run ran on the test role
    for record in records:
        fmt, _, seed = record["medical_prompt"].partition("/s")
        shots = record["setting"].split("-")[0]
        expected = f"medpair_{record['dataset']}_mc_{fmt}_k{shots}" + (f"_s{seed}" if seed else "")
        assert manifest["selection"]["medical"][f"{record['dataset']}_mc_k{shots}"] == expected


def make_plan_for(data_dir: Path):
    os.environ["MEDPAIR_DATA_DIR"] = str(data_dir)
    try:
        return make_plan(StudyConfig(("medqa", "mmlu_anatomy"), val_limit=4))
    finally:
        del os.environ["MEDPAIR_DATA_DIR"]
