"""Fine-tuning data, recipe, step plan and the dry run: no training here."""

from __future__ import annotations

import math

import pytest
from ft_helpers import single_thread  # noqa: F401  (autouse fixture)

from medpair_testlib import run_medpair_here
from medpair_tasks.finetune.config import DEFAULT_LEARNING_RATES, DEFAULT_RANKS, GridPoint, Recipe, make_grid, step_plan
from medpair_tasks.finetune.data import IGNORE_INDEX, answer_text, dataset_of_task, encode, render_prompt, select_items
from medpair_tasks.finetune.train import micro_batches, step_examples
from medpair_tasks.knowledge.roles import roles, scored_items


def test_defaults_are_the_papers_recipe():
    recipe = Recipe()
    assert (recipe.alpha, recipe.dropout, recipe.target_modules, recipe.max_epochs, recipe.patience) == (16, 0, "all-linear", 10, 1)
    assert (recipe.warmup_ratio, recipe.scheduler, recipe.max_length, recipe.format_id) == (0.05, "cosine", 2048, "f00")
    grid = make_grid()
    assert DEFAULT_LEARNING_RATES == (1e-5, 2e-5, 5e-5, 1e-4, 2e-4) and DEFAULT_RANKS == (16, 32, 64)
    assert len(grid) == 15 and grid[0] == GridPoint(1e-5, 16) and grid[-1] == GridPoint(2e-4, 64)
    assert len({p.name for p in grid}) == 15
    with pytest.raises(ValueError):
        make_grid((1e-4, 1e-4), (16,))
    with pytest.raises(ValueError):
        Recipe(scheduler="step")
    with pytest.raises(ValueError):
        Recipe(batch_size=0)
    assert Recipe.from_dict(Recipe(target_modules=("q_proj", "v_proj")).as_dict()) == Recipe(target_modules=("q_proj", "v_proj"))


def test_dataset_of_task():
    assert dataset_of_task("medpair_pubmedqa") == "pubmedqa"
    assert dataset_of_task("medpair_medqa_gen") == "medqa"
    assert dataset_of_task("medpair_mmlu_anatomy_mc_f03_k3_s7") == "mmlu_anatomy"
    assert dataset_of_task("medqa5") == "medqa5"
    with pytest.raises(ValueError):
        dataset_of_task("medpair_nonsense")


def test_items_come_from_pool_and_validation_never_test(use_data):
    data = select_items("pubmedqa", "pool", val_limit=500)
    r = roles("pubmedqa")
    test_keys = {x.key for x in r.test}
    assert [x.key for x in data.train] == [x.key for x in r.pool] and len(data.train) == 50
    assert [x.key for x in data.val] == [x.key for x in scored_items("pubmedqa", "val", 500)] and len(data.val) == 450
    assert not test_keys & {x.key for x in data.train + data.val}

    held = select_items("pubmedqa", "val", val_limit=500, holdout=0.2)
    train_keys, val_keys = {x.key for x in held.train}, {x.key for x in held.val}
    assert len(held.val) == 90 and len(held.train) == 360
    assert not train_keys & val_keys and train_keys | val_keys == {x.key for x in r.val}
    assert not test_keys & (train_keys | val_keys) and not {x.key for x in r.pool} & train_keys
    assert held.fingerprint != data.fingerprint and held.fingerprint == select_items("pubmedqa", "val").fingerprint

    limited = select_items("pubmedqa", "val", val_limit=30, train_limit=100)
    assert len(limited.val) == 30 and len(limited.train) == 100  # the cap shrinks the held-out slice, not the role
    assert not {x.key for x in limited.train} & {x.key for x in limited.val} and {x.key for x in limited.val} < val_keys | train_keys


@pytest.mark.slow
def test_prompt_is_the_tasks_prompt(use_data):
    """The training text is exactly what lm-eval's medpair_<dataset> task scores: doc_to_text, delimiter, letter."""
    from medpair_tasks.registry import task_manager

    manager = task_manager(metadata={"role": "val"}, datasets=["pubmedqa", "medqa"])  # index those two folders only
    tasks = manager.load(["medpair_pubmedqa", "medpair_medqa"])["tasks"]
    by_key = {"pubmedqa": {x.key: x for x in roles("pubmedqa").val}, "medqa": {x.key: x for x in roles("medqa").val}}
    for name, task in tasks.items():
        dataset = name.removeprefix("medpair_")
        docs = list(task.eval_docs)[:5]
        assert docs
        for doc in docs:
            item = by_key[dataset][doc["item_key"]]
            assert render_prompt(item) == task.doc_to_text(doc)
            choices = task.doc_to_choice(doc)
            assert answer_text(item) == task.config.target_delimiter + choices[task.doc_to_target(doc)]


def test_encoding_puts_the_loss_on_the_answer_only(tiny_models):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models[0])
    prompt = "Question: Which hormone lowers blood glucose?\nA. Insulin\nB. Glucagon\nAnswer:"
    example = encode(tokenizer, prompt, " B", max_length=2048)
    labels = example.labels()
    letter = tokenizer.encode(" B")
    assert letter == tokenizer.encode(prompt + " B")[-1:]  # single-token letter, no merge with the prompt
    assert list(example.input_ids) == tokenizer.encode(prompt) + letter + [tokenizer.eos_token_id]
    assert labels == [IGNORE_INDEX] * len(tokenizer.encode(prompt)) + letter + [tokenizer.eos_token_id]
    no_eos = encode(tokenizer, prompt, " B", max_length=2048, answer_eos=False)
    assert no_eos.labels()[-1] == letter[0] and no_eos.n_answer == 1
    cut = encode(tokenizer, prompt, " B", max_length=6)
    assert cut.truncated and len(cut.input_ids) == 6 and cut.input_ids[-2:] == (letter[0], tokenizer.eos_token_id)
    assert list(cut.input_ids[:4]) == tokenizer.encode(prompt)[-4:]


@pytest.mark.parametrize("n_train,batch,accum,world", [(50, 8, 1, 1), (50, 4, 3, 1), (23, 4, 1, 2), (7, 2, 2, 3)])
def test_each_epoch_visits_every_example(n_train, batch, accum, world):
    recipe = Recipe(batch_size=batch, grad_accum=accum, max_epochs=2)
    plan = step_plan(recipe, n_train, world)
    assert plan.steps_per_epoch == math.ceil(n_train / (batch * accum * world))
    assert plan.max_steps == 2 * plan.steps_per_epoch and plan.warmup_steps == math.ceil(0.05 * plan.max_steps)
    assert plan.eval_steps == (plan.steps_per_epoch, 2 * plan.steps_per_epoch)
    for epoch in range(2):
        seen = []
        for step in range(epoch * plan.steps_per_epoch, (epoch + 1) * plan.steps_per_epoch):
            indices = step_examples(plan, 0, step, n_train, world)
            shards = [micro_batches(indices, recipe, rank, world) for rank in range(world)]
            if world > 1:  # every process gets full micro-batches (padded from the epoch's start)
                assert all(len(mb) == batch for shard in shards for mb in shard)
            flat = [i for shard in shards for mb in shard for i in mb]
            assert sorted(flat) == sorted(indices)
            seen += indices
        assert set(seen) == set(range(n_train))
        if world == 1:
            assert sorted(seen) == list(range(n_train))
    first = [step_examples(plan, 0, s, n_train, world) for s in range(plan.steps_per_epoch)]
    second = [step_examples(plan, 0, s, n_train, world) for s in range(plan.steps_per_epoch, 2 * plan.steps_per_epoch)]
    assert first != second  # a new order each epoch
    assert first == [step_examples(plan, 0, s, n_train, world) for s in range(plan.steps_per_epoch)]  # reproducible


def test_dry_run_prints_grid_and_steps(data_dir, tiny_models, tmp_path):
    base, medical = tiny_models
    done = run_medpair_here(["finetune", "--pair", str(medical), str(base), "--task", "medpair_pubmedqa", "--out", str(tmp_path),
                             "--dry-run"], data_dir)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "training items: 50 (the few-shot pool); early-stopping items: 450 (the validation role)" in out
    assert "7 per epoch (8 examples per step" in out and "at most 70 steps, warm-up 4" in out
    assert "grid: 15 points (1050 steps at most per model, 2100 in all)" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith("lr")]
    assert len(rows) == 30
    assert ["lr1e-05_r16", "1e-05", "16", "70", "to", "do"] in rows and ["lr0.0002_r64", "0.0002", "64", "70", "to", "do"] in rows
    assert f"medical: {medical} -> {tmp_path / 'medical'}" in out and f"base: {base} -> {tmp_path / 'base'}" in out
    assert not any(tmp_path.iterdir())  # a dry run writes nothing

    done = run_medpair_here(["finetune", "--model", str(base), "--task", "medpair_pubmedqa", "--out", str(tmp_path), "--dry-run",
                             "--train-on", "val", "--lr", "1e-4", "--rank", "8", "--batch-size", "4", "--grad-accum", "2",
                             "--epochs", "3"], data_dir)
    assert done.returncode == 0, done.stderr
    val = done.stdout
    assert "training items: 360" in val and "early-stopping items: 90" in val
    assert "45 per epoch (8 examples per step: batch 4 × accumulation 2" in val and "at most 135 steps" in val
    assert "grid: 1 point (" in val


def test_a_missing_local_model_folder_is_refused_before_anything_else(data_dir, tiny_models, tmp_path):
    base, _ = tiny_models
    for missing in (str(tmp_path / "no-such-model"), "./no-such-model", str(base.parent / "medicall")):
        done = run_medpair_here(["finetune", "--model", missing, "--task", "medpair_pubmedqa", "--out", str(tmp_path / "ft"),
                                 "--dry-run"], data_dir, cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"--model {missing}: no such folder (and not a hub id such as org/name)" in done.stderr
    done = run_medpair_here(["finetune", "--pair", str(base), str(tmp_path / "gone"), "--task", "medpair_pubmedqa", "--out",
                             str(tmp_path / "ft"), "--dry-run"], data_dir)
    assert done.returncode == 1 and f"the base model {tmp_path / 'gone'}: no such folder" in done.stderr
    assert not (tmp_path / "ft").exists()


def test_local_or_hub_model_specs(tmp_path, monkeypatch):
    from medpair_tasks.finetune.grid import missing_local_model

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    assert not missing_local_model(str(tmp_path / "models"))  # exists
    assert not missing_local_model("org/model-7b") and not missing_local_model("gpt2")  # may be hub ids
    assert missing_local_model("models/medical")  # its parent folder exists here: a local path
    assert missing_local_model("/nowhere/model") and missing_local_model("~/nowhere") and missing_local_model("a/b/c")
    assert missing_local_model("my model")  # no hub id holds a space


@pytest.mark.parametrize("train_on", ["pool", "val"])
@pytest.mark.parametrize("holdout", [1.5, 1.0, 0.0, -0.2])
def test_holdout_outside_zero_one_is_refused(use_data, train_on, holdout):
    with pytest.raises(ValueError, match=r"holdout must lie in \(0, 1\)"):
        select_items("pubmedqa", train_on, holdout=holdout)


def test_holdout_is_checked_by_the_command(data_dir, tiny_models, tmp_path):
    base, _ = tiny_models
    done = run_medpair_here(["finetune", "--model", str(base), "--task", "medpair_pubmedqa", "--out", str(tmp_path), "--dry-run",
                             "--train-on", "pool", "--holdout", "1.5"], data_dir)
    assert done.returncode == 1 and "holdout must lie in (0, 1), got 1.5" in done.stderr


def test_counts_are_in_the_right_number():
    from medpair_tasks.finetune.grid import curves_title

    assert curves_title("m", "medpair_medqa", 1) == "m on medpair_medqa: LoRA grid (1 point)"
    assert curves_title("m", "medpair_medqa", 15) == "m on medpair_medqa: LoRA grid (15 points)"
