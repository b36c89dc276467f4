"""Training on the tiny models: the loss falls, the adapter changes answers, an interrupted grid resumes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from ft_helpers import letter_choices, one_torch_thread, single_thread  # noqa: F401  (autouse fixture)

from medpair_tasks.finetune.config import GridPoint, Recipe, Runtime, make_grid, step_plan
from medpair_tasks.finetune.data import encode_items, select_items
from medpair_tasks.finetune.grid import GridMismatch, check_or_start, point_status, run_grid
from medpair_tasks.finetune.train import PointResult, load_tokenizer, resolve_hardware

LINEAR = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.fixture(scope="module")
def cpu():
    return resolve_hardware(Runtime(device="cpu"))


def _reference_val_loss(model_dir: Path, adapter: Path, examples) -> float:
    """Mean answer-token cross-entropy from the Hugging Face model's own loss, one example at a time."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32), str(adapter)).eval()
    total = tokens = 0.0
    with torch.no_grad():
        for example in examples:
            ids = torch.tensor([example.input_ids])
            loss = model(input_ids=ids, labels=torch.tensor([example.labels()])).loss
            total += float(loss) * example.n_answer
            tokens += example.n_answer
    return total / tokens


@pytest.mark.slow
def test_pubmedqa_fine_tuning_lowers_validation_loss_and_changes_answers(tiny_models, use_data, tmp_path, cpu):
    base, _ = tiny_models
    data = select_items("pubmedqa", "pool", val_limit=40)
    recipe = Recipe(max_epochs=3, max_length=256, checkpoint_every=0)
    run = run_grid(str(base), "medpair_pubmedqa", data, recipe, make_grid((0.03,), (8,)), tmp_path, cpu, progress=False)
    (result,) = run.results
    plan = step_plan(recipe, 50)
    history = [h.val_loss for h in result.history]
    assert result.history[0].step == 0 and result.initial_val_loss == history[0]
    assert result.best_val_loss == min(history[1:]) < result.initial_val_loss - 0.2
    # early stopping, patience 1: training ends at the first evaluation that does not improve, or at the budget
    if result.stopped_early:
        assert history[-1] >= result.best_val_loss and result.steps == result.history[-2].step + plan.steps_per_epoch
        assert result.steps < plan.max_steps
    else:
        assert result.steps == plan.max_steps == 21 and all(b < a for a, b in zip(history[1:], history[2:]))
    assert all(h.train_loss is not None and math.isfinite(h.train_loss) for h in result.history[1:])

    folder = tmp_path / "base"
    assert run.folder == folder and run.adapter == folder / "best"
    grid = json.loads((folder / "grid.json").read_text())
    assert grid["complete"] and grid["best"]["name"] == "lr0.03_r8" and grid["regime"] == "finetuned"
    assert grid["data"]["n_train"] == 50 and grid["data"]["n_val"] == 40 and grid["recipe"]["alpha"] == 16
    assert PointResult.from_dict(grid["points"][0]) == result
    assert "peft=" in grid["best"]["evaluate"] and '"regime": "finetuned"' in grid["best"]["evaluate"]
    config = json.loads((folder / "best" / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["lora_alpha"] == 16 and config["lora_dropout"] == 0.0
    targets = {name.rsplit(".", 1)[-1] for name in config["target_modules"]}
    assert targets == LINEAR and len(config["target_modules"]) in (len(LINEAR), 2 * len(LINEAR))  # all linear layers, no lm_head
    assert Path(config["base_model_name_or_path"]) == Path(base)
    provenance = json.loads((folder / "best" / "medpair_finetune.json").read_text())
    assert provenance["regime"] == "finetuned" and provenance["point"] == "lr0.03_r8" and provenance["train_on"] == "pool"
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (folder / "points" / "lr0.03_r8" / "checkpoint").exists()

    # the reported validation loss is the Hugging Face model's own loss on the answer tokens, with the saved adapter
    val = encode_items(load_tokenizer(str(base)), data.val, "f00", 256)
    assert _reference_val_loss(base, folder / "best", val) == pytest.approx(result.best_val_loss, rel=1e-4)

    before = letter_choices(base, None, data.val)
    after = letter_choices(base, folder / "best", data.val)
    assert before != after  # the adapter changes the model's answers
    gold = [x.answer_idx for x in data.val]
    assert sum(a == g for a, g in zip(after, gold)) > sum(b == g for b, g in zip(before, gold))


class _Stop(Exception):
    pass


MEDQA_RECIPE = Recipe(max_epochs=3, checkpoint_every=2)
MEDQA_GRID = make_grid((0.03, 0.1), (8,))


@pytest.fixture(scope="module")
def medqa_reference(tiny_models, data_dir, tmp_path_factory, cpu):
    """The uninterrupted 2-point grid of the medical tiny model on fixture MedQA (pool -> validation role)."""
    with pytest.MonkeyPatch.context() as patch, one_torch_thread():
        patch.setenv("MEDPAIR_DATA_DIR", str(data_dir))
        data = select_items("medqa", "pool", val_limit=0)
        return run_grid(str(tiny_models[1]), "medpair_medqa", data, MEDQA_RECIPE, MEDQA_GRID, tmp_path_factory.mktemp("straight"),
                        cpu, progress=False)


@pytest.mark.slow
def test_interrupted_grid_resumes_without_repeating_points(tiny_models, use_data, tmp_path, cpu, medqa_reference):
    """Fixture MedQA: a 2-point grid killed inside its second point resumes there and ends like an uninterrupted run."""
    _, medical = tiny_models
    data = select_items("medqa", "pool", val_limit=0)
    recipe, grid, reference = MEDQA_RECIPE, MEDQA_GRID, medqa_reference
    first, second = grid
    best = min(reference.results, key=lambda r: r.best_val_loss)
    assert best.best_val_loss < best.initial_val_loss - 0.2  # the loss falls on the fixture task too

    seen: list[tuple[str, int]] = []

    def stop_in_second_point(point: GridPoint, step: int) -> None:
        seen.append((point.name, step))
        if point == second and step == 5:
            raise _Stop

    out = tmp_path / "interrupted"
    with pytest.raises(_Stop):
        run_grid(str(medical), "medpair_medqa", data, recipe, grid, out, cpu, progress=False, on_step=stop_in_second_point)
    folder = out / "medical"
    first_steps = reference.results[0].steps
    assert seen == [(first.name, s) for s in range(1, first_steps + 1)] + [(second.name, s) for s in range(1, 6)]
    assert point_status(folder, first) == "finished"
    assert point_status(folder, second) == "in progress (step 4)"  # the last checkpoint: every 2 steps
    partial = json.loads((folder / "grid.json").read_text())
    assert not partial["complete"] and [p["name"] for p in partial["points"]] == [first.name]
    finished_file = folder / "points" / first.name / "result.json"
    stamp = finished_file.stat().st_mtime_ns

    seen.clear()
    resumed = run_grid(str(medical), "medpair_medqa", data, recipe, grid, out, cpu, progress=False, on_step=lambda p, s: seen.append((p.name, s)))
    assert seen == [(second.name, s) for s in range(5, reference.results[1].steps + 1)]  # first point not repeated
    assert finished_file.stat().st_mtime_ns == stamp
    for got, want in zip(resumed.results, reference.results):
        assert [h.step for h in got.history] == [h.step for h in want.history]
        assert [h.val_loss for h in got.history] == pytest.approx([h.val_loss for h in want.history], rel=1e-6)
        assert [h.train_loss for h in got.history[1:]] == pytest.approx([h.train_loss for h in want.history[1:]], rel=1e-6)
        assert (got.best_step, got.steps, got.stopped_early) == (want.best_step, want.steps, want.stopped_early)
    assert resumed.best.name == reference.best.name
    assert json.loads((folder / "grid.json").read_text())["complete"]

    seen.clear()  # a rerun of a complete grid trains nothing
    again = run_grid(str(medical), "medpair_medqa", data, recipe, grid, out, cpu, progress=False, on_step=lambda p, s: seen.append((p.name, s)))
    assert seen == [] and again.results == resumed.results

    with pytest.raises(GridMismatch):  # another recipe in the same folder is refused, not mixed in
        run_grid(str(medical), "medpair_medqa", data, Recipe(max_epochs=4, checkpoint_every=2), grid, out, cpu, progress=False)


def test_fresh_discards_an_earlier_run(tmp_path):
    record = {"model": "m", "task": "t", "recipe": Recipe().as_dict(), "data": {"fingerprint": "x"}}
    check_or_start(tmp_path / "m", record)
    (tmp_path / "m" / "points").mkdir()
    other = {**record, "recipe": Recipe(alpha=32).as_dict()}
    with pytest.raises(GridMismatch, match="recipe"):
        check_or_start(tmp_path / "m", other)
    check_or_start(tmp_path / "m", other, fresh=True)
    assert not (tmp_path / "m" / "points").exists()
    assert json.loads((tmp_path / "m" / "run.json").read_text())["recipe"]["alpha"] == 32


@pytest.mark.slow
def test_two_processes_train_like_one(tiny_models, data_dir, tmp_path, medqa_reference):
    """``torchrun`` with 2 CPU processes × batch 4 (gloo, the data-parallel code path of ``accelerate launch``)
    ends where one process × batch 8 ends: same examples per step, averaged gradients, summed validation losses."""
    import subprocess
    import sys

    from medpair_testlib import subprocess_env

    _, medical = tiny_models
    # --log-dir: without it torch's elastic agent leaves a torchelastic_* folder in the temp folder
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--log-dir", str(tmp_path / "torchrun-logs"),
               "-m", "medpair_tasks.finetune.cli",
               "--model", str(medical), "--task", "medpair_medqa", "--out", str(tmp_path), "--lr", "0.03", "0.1", "--rank", "8",
               "--epochs", "3", "--checkpoint-every", "2", "--batch-size", "4", "--device", "cpu", "--val-limit", "0", "-q"]
    env = {**subprocess_env(data_dir), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    grid = json.loads((tmp_path / "medical" / "grid.json").read_text())
    assert grid["recipe"]["batch_size"] == 4 and grid["complete"]
    for got, want in zip(grid["points"], medqa_reference.results):
        got = PointResult.from_dict(got)
        assert [h.step for h in got.history] == [h.step for h in want.history]
        # before training: the same model, so the validation loss summed over the two shards is exact
        assert got.history[0].val_loss == pytest.approx(want.history[0].val_loss, rel=1e-6)
        # after: equal up to float noise (padding widths differ with batch 4, and Adam amplifies the last bits)
        assert [h.val_loss for h in got.history[1:]] == pytest.approx([h.val_loss for h in want.history[1:]], rel=1e-2)
        assert got.best_step == want.best_step and got.history[-1].val_loss < got.initial_val_loss - 0.2


@pytest.mark.slow
def test_gpu_code_path_bf16_and_gradient_checkpointing(tiny_models, data_dir, tmp_path):
    """The GPU recipe (bf16 autocast, base weights in bf16, gradient checkpointing) run on the CPU: it trains,
    and the saved adapter keeps float32 weights."""
    from safetensors.torch import load_file

    from medpair_testlib import run_medpair

    base, _ = tiny_models
    run_medpair(["finetune", "--model", str(base), "--task", "medpair_medqa", "--out", str(tmp_path), "--lr", "0.05", "--rank", "8",
                 "--epochs", "2", "--device", "cpu", "--precision", "bf16", "--gradient-checkpointing", "on", "-q"], data_dir)
    grid = json.loads((tmp_path / "base" / "grid.json").read_text())
    assert grid["hardware"] == {"device": "cpu", "processes": 1, "precision": "bf16", "gradient_checkpointing": True}
    (point,) = grid["points"]
    assert point["best_val_loss"] < point["initial_val_loss"] - 0.2
    weights = load_file(tmp_path / "base" / "best" / "adapter_model.safetensors")
    assert weights and {str(w.dtype) for w in weights.values()} == {"torch.float32"}


@pytest.mark.slow
def test_training_leaves_the_callers_random_state(tiny_models, use_data, tmp_path, cpu):
    """A grid point seeds torch on a fork of its random state: the caller's is the same after training."""
    import torch

    data = select_items("medqa", "pool", val_limit=0)
    torch.manual_seed(2024)
    before = torch.get_rng_state()
    result = run_grid(str(tiny_models[1]), "medpair_medqa", data, Recipe(max_epochs=1, checkpoint_every=2),
                      make_grid((0.1,), (8,)), tmp_path, cpu, progress=False)
    assert result.results[0].steps > 0
    assert torch.equal(torch.get_rng_state(), before)
