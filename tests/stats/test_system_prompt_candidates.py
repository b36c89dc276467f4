"""jeong2024's sampled system prompts are candidates of their cell: ids, logs, selection, stage 2, report.

A sampled system prompt is run metadata (``system_prompt_seed``), not part of the task name, so one
model's logs hold the same task names once per system prompt. These tests write such logs with
lm-eval's own writer (``lmeval_fake``) and check that reading keeps the runs apart, that the
validation choice ranges over every system prompt (ties to the model's own first, as the
reference enumerates), and that stage 2 and the report carry the chosen seed.
"""

from __future__ import annotations

import itertools
import json
import random

from lmeval_fake import candidate, make_docs, write_run

from medpair_stats.compare import run_compare
from medpair_stats.identity import candidate_id, parse_candidate_id
from medpair_stats.logs import read_logs
from medpair_stats.selection import order_candidates
from medpair_tasks.study.choose import choose_candidates
from medpair_tasks.study.execute import EvalOptions
from medpair_tasks.study.jobs import stage2_jobs
from medpair_tasks.study.plan import Cell, StudyConfig, make_plan
from medpair_tasks.study.space import model_spaces
from medpair_tasks.study.spec import ModelSpec

CELL = Cell("medqa", "mc", 0)
VAL = make_docs("medqa", "val", 4)
TEST = make_docs("medqa", "test", 6)


def _run(root, model: str, role: str, docs: list[dict], system: int | None, scores: dict[str, list[float]], when: int):
    """One lm-eval run of zero-shot candidates (format -> scores) under one system prompt."""
    tasks = []
    for fmt, values in scores.items():
        task = candidate("medqa", fmt, 0, None, role, docs, values)
        task.metadata["protocol"] = "jeong2024"
        if system is not None:
            task.metadata["system_prompt_seed"] = system
        tasks.append(task)
    return write_run(root, model, tasks, when=when)


def test_candidate_ids_follow_the_reference_enumeration_order():
    # the reference's loop: system prompt (None, 0, 1, 2), then template (None, 0..9), then few-shot seed
    expected = [candidate_id("f00" if template is None else f"f{template + 1:02d}", shot, system)
                for system, template, shot in itertools.product([None, 0, 1, 2], [None, *range(10)], range(10))]
    assert len(expected) == 440 and expected[0] == "f00/s0" and expected[110] == "f00/s0/sys0"
    shuffled = list(expected)
    random.Random(3).shuffle(shuffled)
    assert order_candidates(shuffled) == expected
    assert [parse_candidate_id(c) for c in ("f03", "f03/s7", "f03/s7/sys1", "f10/sys2")] == [
        ("f03", None, None), ("f03", 7, None), ("f03", 7, 1), ("f10", None, 2)]


def test_logs_keep_each_system_prompt_apart_and_the_choice_ranges_over_all(tmp_path):
    root = tmp_path / "logs"
    _run(root, "m", "val", VAL, None, {"f00": [1, 0, 0, 0], "f01": [1, 1, 0, 0]}, when=0)
    _run(root, "m", "val", VAL, 0, {"f00": [0, 1, 1, 0], "f01": [0, 0, 0, 0]}, when=1)
    folder = _run(root, "m", "val", VAL, 1, {"f00": [1, 1, 1, 0], "f01": [0, 0, 0, 1]}, when=2)
    table = read_logs([folder], progress=False)
    means = table.groupby(table["candidate"].astype(str), observed=True)["score"].mean().to_dict()
    assert means == {"f00": 0.25, "f01": 0.5, "f00/sys0": 0.5, "f01/sys0": 0.0, "f00/sys1": 0.75, "f01/sys1": 0.25}
    chosen = choose_candidates([folder], (CELL,))[CELL.key]
    assert (chosen.format_id, chosen.seed, chosen.system_prompt_seed) == ("f00", None, 1)
    assert chosen.prompt_id == "f00/sys1" and chosen.task_name == "medpair_medqa_mc_f00_k0"


def test_a_tie_goes_to_the_models_own_system_prompt(tmp_path):
    root = tmp_path / "logs"
    _run(root, "m", "val", VAL, 0, {"f00": [1, 1, 0, 0]}, when=0)  # run first: order of runs must not matter
    folder = _run(root, "m", "val", VAL, None, {"f00": [0, 0, 0, 0], "f01": [0, 1, 1, 0]}, when=1)
    chosen = choose_candidates([folder], (CELL,))[CELL.key]
    assert (chosen.format_id, chosen.system_prompt_seed) == ("f01", None)


def test_stage2_jobs_and_the_report_carry_the_chosen_system_prompt(use_data, tmp_path):
    out = tmp_path / "study"
    models = {"medical": ModelSpec.parse("hf:pretrained=/models/my-med-model"),
              "base": ModelSpec.parse("hf:pretrained=/models/meditron-7b")}
    config = StudyConfig(("medqa",), shots=(0,), modes=("mc",), val_limit=4, protocol="jeong2024")
    plan = make_plan(config, model_spaces(config.protocol, models))
    runs = out / "runs"
    _run(runs / "medical" / "stage1", "med", "val", VAL, None, {"f00": [1, 0, 0, 0]}, when=0)
    _run(runs / "medical" / "stage1", "med", "val", VAL, 2, {"f00": [1, 1, 0, 0]}, when=1)
    _run(runs / "base" / "stage1", "base", "val", VAL, None, {"f00": [1, 0, 0, 0]}, when=2)
    jobs = {job.side: job for job in stage2_jobs(plan, out, models, EvalOptions())}
    assert jobs["medical"].id == "medical-test-sys2" and jobs["medical"].system_prompt_seed == 2
    metadata = json.loads(jobs["medical"].command[jobs["medical"].command.index("--metadata") + 1])
    assert metadata == {"role": "test", "val_limit": 4, "protocol": "jeong2024", "system_prompt_seed": 2}
    assert jobs["base"].id == "base-test" and "system_prompt_seed" not in jobs["base"].command[
        jobs["base"].command.index("--metadata") + 1]
    # test logs of the chosen system prompt and, as a decoy, of the model's own on the same task
    _run(runs / "medical" / "stage2", "med", "test", TEST, 2, {"f00": [1, 1, 1, 1, 0, 0]}, when=3)
    _run(runs / "medical" / "stage2", "med", "test", TEST, None, {"f00": [0, 0, 0, 0, 0, 0]}, when=4)
    _run(runs / "base" / "stage2", "base", "test", TEST, None, {"f00": [1, 1, 0, 0, 0, 0]}, when=5)
    result = run_compare([runs / "medical"], [runs / "base"], tmp_path / "report", n_resamples=200)
    record = next(r for r in result.records if r.metric == "acc")
    assert (record.medical_prompt, record.base_prompt) == ("f00/sys2", "f00")
    assert record.medical_score == 4 / 6 and record.base_score == 2 / 6
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| f00/sys2 | f00 |" in report and "sampled system prompt K" in report
