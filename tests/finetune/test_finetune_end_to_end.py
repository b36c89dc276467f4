"""End to end on the command line: fine-tune a pair, evaluate both adapters with lm-eval, compare."""

from __future__ import annotations

import json

import pytest
from ft_helpers import single_thread  # noqa: F401  (autouse fixture)

from medpair_testlib import read_run, run_medpair

pytestmark = pytest.mark.slow  # end to end; `pytest -m "not slow"` leaves it out

EVAL = ["eval", "--model", "hf", "--device", "cpu", "--batch_size", "16", "--log_samples", "--gen_kwargs", "max_gen_toks=8"]


def test_finetune_pair_then_eval_then_compare(tiny_models, data_dir, tmp_path):
    base, medical = tiny_models
    out = tmp_path / "ft"
    done = run_medpair(["finetune", "--medical", str(medical), "--base", str(base), "--task", "medpair_medqa", "--out", str(out),
                        "--lr", "0.05", "--rank", "8", "--epochs", "2", "-q"], data_dir)
    runs = json.loads((out / "finetune_runs.json").read_text())
    assert set(runs) == {"medical", "base"}
    grids = {label: json.loads((out / label / "grid.json").read_text()) for label in runs}
    # the identical recipe, grid and training data for both models
    for key in ("recipe", "grid", "data", "task"):
        assert grids["medical"][key] == grids["base"][key], key
    assert grids["base"]["data"]["n_train"] == 24 and grids["base"]["data"]["n_val"] == 8  # fixture pool / validation role
    for label, grid in grids.items():
        assert grid["complete"] and grid["best"]["name"] == "lr0.05_r8"
        assert (out / label / "best" / "adapter_model.safetensors").is_file() and (out / label / "curves.png").is_file()
        assert f"pretrained={runs[label]['model']},peft={out / label / 'best'}" in done.stdout

    for label, model in (("medical", medical), ("base", base)):
        adapter = out / label / "best"
        run_medpair([*EVAL, "--model_args", f"pretrained={model},peft={adapter},dtype=float32",
                     "--tasks", "medpair_medqa,medpair_medqa_gen", "--metadata", json.dumps({"regime": "finetuned"}),
                     "--output_path", str(out / "eval" / label)], data_dir)
        results, samples = read_run(out / "eval" / label)
        assert results["config"]["model_args"]["peft"] == str(adapter)
        for task in ("medpair_medqa", "medpair_medqa_gen"):
            meta = results["configs"][task]["metadata"]
            assert meta["regime"] == "finetuned" and meta["role"] == "test" and meta["shots"] == 0 and meta["format"] == "f00"
            assert len(samples[task]) == 10 and {s["doc"]["role"] for s in samples[task]} == {"test"}

    report = tmp_path / "report"
    run_medpair(["compare", "--medical", str(out / "eval" / "medical"), "--base", str(out / "eval" / "base"), "--out", str(report),
                 "--n-resamples", "500", "-q"], data_dir)
    for name in ("comparisons.json", "comparisons.csv", "report.md", "forest.png"):
        assert (report / name).is_file(), name
    records = json.loads((report / "comparisons.json").read_text())["records"]
    cells = {(r["dataset"], r["mode"]) for r in records}
    assert cells == {("medqa", "mc"), ("medqa", "gen")}
    for record in records:
        assert record["n"] == 10 and record["medical_prompt"] == record["base_prompt"] == "f00"
        assert record["setting"] == "fine-tuned"  # the regime label, from the runs' metadata
        assert "medical" in record["medical"] and "base" in record["base"]
    assert "medqa" in (report / "report.md").read_text()
