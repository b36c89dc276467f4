"""``medpair run`` / ``medpair plan`` under jeong2024 search the reference's candidate set per model.

The reference (``taekb/eval-medical-dapt`` 908bb86, ``src/llm/_infer_llm.py``) crosses, for each
model, the system prompts and templates it does not fix with the few-shot seeds: a model it does
not know searches its own system prompt and sampled seeds 0-2 x the default template and template
seeds 0-9 (44 zero-shot / 440 three-shot candidates); MediTron-7B (system prompt fixed) 11 / 110;
BioMistral-7B (system prompt and template fixed) 1 / 10. The expected sets below are built from
that rule, not from medpair's code.
"""

from __future__ import annotations

import itertools
import json

import pytest

from medpair_tasks.study.cli import plan_main
from medpair_tasks.study.execute import EvalOptions
from medpair_tasks.study.plan import Cell, StudyConfig, make_plan
from medpair_tasks.study.run import Study
from medpair_tasks.study.spec import ModelSpec

UNKNOWN, FIXED_SYSTEM, FIXED_TEMPLATE = "/models/my-own-7b", "/models/meditron-7b", "/models/BioMistral-7B"


def _order(system_prompt_seed: int | None) -> int:
    return -1 if system_prompt_seed is None else system_prompt_seed


def reference_candidates(model: str, shots: int) -> list[tuple[int | None, str, int | None]]:
    """(system-prompt seed, format, few-shot seed) in the reference's loop order, for three models it treats apart."""
    fixed = {FIXED_SYSTEM: {"system_prompt"}, FIXED_TEMPLATE: {"system_prompt", "prompt_template"}}.get(model, set())
    systems = [None] if "system_prompt" in fixed else [None, 0, 1, 2]
    templates = [None] if "prompt_template" in fixed else [None, *range(10)]
    shot_seeds = list(range(10)) if shots else [None]
    return [(system, "f00" if template is None else f"f{template + 1:02d}", shot)
            for system, template, shot in itertools.product(systems, templates, shot_seeds)]


@pytest.mark.parametrize("model, counts", [(UNKNOWN, (44, 440)), (FIXED_SYSTEM, (11, 110)), (FIXED_TEMPLATE, (1, 10))])
def test_the_candidates_of_a_cell_are_the_references(model, counts):
    from medpair_tasks.study.space import search_space

    space = search_space("jeong2024", ModelSpec.parse(model))
    for shots, count in zip((0, 3), counts):
        got = [(c.system_prompt_seed, c.format_id, c.seed) for c in Cell("medqa", "gen", shots).candidates(space)]
        assert got == reference_candidates(model, shots) and len(got) == count
    medpair = search_space("medpair", ModelSpec.parse(model))
    assert len(Cell("medqa", "gen", 3).candidates(medpair)) == 110 and medpair.system_prompt_seeds == (None,)


def _jeong_models() -> dict[str, ModelSpec]:
    return {"medical": ModelSpec.parse(f"hf:pretrained={UNKNOWN}"), "base": ModelSpec.parse(FIXED_TEMPLATE)}


def test_plan_shards_run_one_system_prompt_each(use_data):
    from medpair_tasks.study.space import model_spaces

    config = StudyConfig(("medqa",), shots=(0, 3), modes=("gen",), val_limit=4, protocol="jeong2024")
    plan = make_plan(config, model_spaces(config.protocol, _jeong_models()))
    for side, model in (("medical", UNKNOWN), ("base", FIXED_TEMPLATE)):
        shards = plan.stage1[side]
        assert len({s.id for s in shards}) == len(shards)
        run = sorted((_order(s.system_prompt_seed), t) for s in shards for t in s.tasks)
        expected = sorted((_order(system), f"medpair_medqa_gen_{fmt}_k{k}" + ("" if seed is None else f"_s{seed}"))
                          for k in (0, 3) for system, fmt, seed in reference_candidates(model, k))
        assert run == expected
        assert plan.summary()["stage1"][side]["tasks"] == len(expected)
    assert {s.id for s in plan.stage1["medical"] if s.system_prompt_seed == 1} >= {"val_medqa_gen_k0_sys1_f00"}


def test_medpair_plan_jobs_carry_the_system_prompt_seed(use_data, tmp_path):
    out = tmp_path / "study"
    assert plan_main(["--medical", f"hf:pretrained={UNKNOWN}", "--base", FIXED_TEMPLATE, "--tasks", "medqa",
                      "--shots", "0", "--val-limit", "4", "--out", str(out), "--jobs", "2"]) == 0
    jobs = json.loads((out / "jobs" / "stage1.json").read_text())["jobs"]
    seen = {}
    for job in jobs:
        metadata = json.loads(job["command"][job["command"].index("--metadata") + 1])
        assert metadata.get("system_prompt_seed") == job["system_prompt_seed"] and metadata["protocol"] == "jeong2024"
        for task in job["tasks"]:
            seen.setdefault(job["side"], []).append((job["system_prompt_seed"], task))
    assert sorted(seen["medical"], key=str) == sorted(
        ((system, f"medpair_medqa_gen_{fmt}_k0") for system, fmt, _ in reference_candidates(UNKNOWN, 0)), key=str)
    assert seen["base"] == [(None, "medpair_medqa_gen_f00_k0")]
    assert len({job["id"] for job in jobs}) == len(jobs)


def test_halving_searches_each_models_reference_candidates(use_data, tmp_path, monkeypatch):
    """Regression: ``--search halving`` ran every model on the 11 formats and the own system prompt."""
    config = StudyConfig(("medqa",), shots=(0, 3), modes=("gen",), val_limit=4, protocol="jeong2024", search="halving")
    study = Study(tmp_path / "study", _jeong_models(), config, EvalOptions())
    scheduled = {}
    monkeypatch.setattr(Study, "_halving_cell", lambda self, worker, folder, cell, rounds:
                        scheduled.setdefault(worker.side, []).append(rounds[0].n_candidates))
    for side in ("medical", "base"):
        study._stage1_halving(side)
    assert scheduled == {"medical": [44, 440], "base": [1, 10]}


def test_a_halving_round_runs_each_system_prompt_in_its_own_shard(use_data):
    from medpair_tasks.study.space import model_spaces

    config = StudyConfig(("medqa",), shots=(0,), modes=("gen",), val_limit=4, protocol="jeong2024", search="halving")
    plan = make_plan(config, model_spaces(config.protocol, _jeong_models()))
    cell = plan.cells[0]
    alive = plan.candidates(cell, "medical")[::5]  # 9 of the 44, from every system prompt
    shards = plan.round_shards(cell, 2, alive, 3)
    assert [(s.id, s.system_prompt_seed) for s in shards] == [
        ("val_medqa_gen_k0_r2", None), ("val_medqa_gen_k0_r2_sys0", 0), ("val_medqa_gen_k0_r2_sys1", 1),
        ("val_medqa_gen_k0_r2_sys2", 2)]
    assert sorted((_order(s.system_prompt_seed), t) for s in shards for t in s.tasks) == sorted(
        (_order(c.system_prompt_seed), c.task_name) for c in alive)
    assert sum(s.n_items for s in shards) == 3 * len(alive)


@pytest.mark.slow
def test_a_jeong2024_study_selects_among_system_prompts_and_reports_the_seed(tiny_models, data_dir, tmp_path):
    from medpair_stats.identity import candidate_id, parse_candidate_id
    from medpair_stats.logs import read_logs
    from medpair_testlib import run_medpair

    base, medical = tiny_models
    out = tmp_path / "study"
    run_medpair(["run", "--medical", f"hf:pretrained={medical},dtype=float32", "--base", f"hf:pretrained={base},dtype=float32",
                 "--tasks", "medqa", "--shots", "0", "--mode", "mc", "--val-limit", "4", "--out", str(out),
                 "--device", "cpu", "--batch-size", "8", "--search", "halving", "--halving-min-items", "2",
                 "--n-resamples", "200", "--protocol", "jeong2024"], data_dir)
    manifest = json.loads((out / "manifest.json").read_text())
    record = json.loads((out / "report" / "comparisons.json").read_text())["records"][0]
    report = (out / "report" / "report.md").read_text()
    order = [candidate_id(fmt, None, system) for system, fmt, _ in reference_candidates(UNKNOWN, 0)]
    for side, prompt in (("medical", record["medical_prompt"]), ("base", record["base_prompt"])):
        stage1 = out / "runs" / side / "stage1"
        for system in (None, 0, 1, 2):  # the first round: every system prompt, one shard each
            shard = json.loads((stage1 / f"val_medqa_mc_k0_r0{'' if system is None else f'_sys{system}'}"
                                / "identity.json").read_text())["shard"]
            assert shard.get("system_prompt_seed") == system and len(shard["tasks"]) == 11
        val = read_logs([stage1], progress=False)
        val = val[val["metric"] == "acc"]
        assert sorted(val["candidate"].astype(str).unique(), key=order.index) == order
        # the choice, recomputed: best mean over all items among the finalists, ties to the reference's first
        finalists = val.groupby(val["candidate"].astype(str), observed=True)["score"].agg(["mean", "size"])
        finalists = finalists[finalists["size"] == finalists["size"].max()]
        best = max(finalists.index, key=lambda c: (finalists.loc[c, "mean"], -order.index(c)))
        assert prompt == best == manifest["selected_prompts"][side]["medqa_mc_k0"]
        system = parse_candidate_id(prompt)[2]
        test = json.loads((out / "runs" / side / "stage2" / "test_medqa_mc_k0" / "identity.json").read_text())
        assert test["shard"].get("system_prompt_seed") == system
        tested = read_logs([out / "runs" / side / "stage2"], progress=False)
        assert set(tested["candidate"].astype(str)) == {prompt}
    assert f"| {record['medical_prompt']} | {record['base_prompt']} |" in report
    assert ("sampled system prompt K" in report) == any("/sys" in p for p in (record["medical_prompt"], record["base_prompt"]))
