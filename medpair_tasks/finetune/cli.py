"""``medpair finetune``: LoRA fine-tuning grid of a model, or of a medical/base pair, on a medpair task.

    medpair finetune --model SPEC --task medpair_pubmedqa --out DIR
    medpair finetune --pair MEDICAL BASE --task medpair_medqa --out DIR     (same as --medical M --base B)

Each model gets the same LoRA recipe and grid (defaults after the extended study of Jeong et al.:
learning rate {1e-5, 2e-5, 5e-5, 1e-4, 2e-4} × rank {16, 32, 64}, early stopping on validation
loss); its best adapter lands in ``DIR/<model-name>/best``, ready for ``medpair eval --model hf
--model_args pretrained=SPEC,peft=DIR/<model-name>/best --metadata '{"regime": "finetuned"}'``.
Interrupted? Run the same command again: finished grid points are kept, the running one
resumes from its last checkpoint. Several GPUs: ``accelerate launch -m medpair_tasks.finetune.cli ...``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from medpair_tasks.finetune.config import DEFAULT_LEARNING_RATES, DEFAULT_RANKS, SCHEDULERS, TRAIN_ON, Recipe, Runtime, make_grid, step_plan

log = logging.getLogger("medpair_tasks.finetune")
_DEFAULT = Recipe()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``medpair finetune``."""
    doc = (__doc__ or "").split("\n\n")
    parser = argparse.ArgumentParser(prog="medpair finetune", description=doc[0], epilog="\n\n".join(doc[1:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    models = parser.add_argument_group("models (one of --model, --pair, or --medical with --base)")
    models.add_argument("--model", metavar="SPEC", help="a model: hub id or local folder")
    models.add_argument("--pair", nargs=2, metavar=("MEDICAL", "BASE"), help="a medical model and its base: both get the identical grid")
    models.add_argument("--medical", metavar="SPEC", help="the medical model of a pair")
    models.add_argument("--base", metavar="SPEC", help="the base model of a pair")
    models.add_argument("--name", help="output folder name of --model (default: the folder name, or the hub id with / as __)")
    models.add_argument("--trust-remote-code", action="store_true", help="allow model code from the hub")

    data = parser.add_argument_group("data")
    data.add_argument("--task", required=True, help="medpair task (medpair_pubmedqa, medpair_medqa_gen, a candidate name) or dataset id")
    data.add_argument("--out", required=True, type=Path, help="output folder: OUT/<model-name>/{grid.json,best/,curves.png}")
    data.add_argument("--train-on", choices=TRAIN_ON, default="pool",
                      help="pool: train on the few-shot pool, early-stop on the validation role (default); "
                           "val: train on the validation role less a held-out slice that early-stops (small pools: PubMedQA, MMLU)")
    data.add_argument("--holdout", type=float, default=0.2, help="--train-on val: share of the validation role held out for early stopping (default 0.2)")
    data.add_argument("--val-limit", type=int, default=500, help="at most this many early-stopping items (default 500, the validation subsample; 0: all)")
    data.add_argument("--train-limit", type=int, default=0, help="train on a fixed random subsample of this many items (default 0: all)")
    data.add_argument("--format", dest="format_id", default=_DEFAULT.format_id, help="prompt format the examples are rendered in (default f00, the task's default)")
    data.add_argument("--no-answer-eos", dest="answer_eos", action="store_false",
                      help="do not train the end-of-sequence token after the answer letter (default: train it, so generation stops)")
    data.add_argument("--max-length", type=int, default=_DEFAULT.max_length, help=f"tokens per example; longer prompts are cut from the left (default {_DEFAULT.max_length})")

    recipe = parser.add_argument_group("recipe and grid (defaults after the extended study of Jeong et al.)")
    recipe.add_argument("--lr", type=float, nargs="+", default=list(DEFAULT_LEARNING_RATES), metavar="LR",
                        help="grid learning rates (default 1e-5 2e-5 5e-5 1e-4 2e-4)")
    recipe.add_argument("--rank", type=int, nargs="+", default=list(DEFAULT_RANKS), metavar="R", help="grid LoRA ranks (default 16 32 64)")
    recipe.add_argument("--alpha", type=float, default=_DEFAULT.alpha, help="LoRA alpha (default 16)")
    recipe.add_argument("--dropout", type=float, default=_DEFAULT.dropout, help="LoRA dropout (default 0)")
    recipe.add_argument("--target-modules", default="all-linear",
                        help="LoRA targets: all-linear (every linear layer but the output head; default) or a comma list of module names")
    recipe.add_argument("--epochs", type=int, default=_DEFAULT.max_epochs, help="at most this many epochs (default 10)")
    recipe.add_argument("--patience", type=int, default=_DEFAULT.patience, help="stop after this many evaluations without a lower validation loss (default 1)")
    recipe.add_argument("--eval-every", type=int, default=_DEFAULT.eval_every, help="also evaluate every N steps (default 0: at each epoch's end only)")
    recipe.add_argument("--warmup", type=float, default=_DEFAULT.warmup_ratio, help="warm-up share of the step budget (default 0.05)")
    recipe.add_argument("--scheduler", choices=SCHEDULERS, default=_DEFAULT.scheduler, help="learning-rate schedule (default cosine)")
    recipe.add_argument("--weight-decay", type=float, default=_DEFAULT.weight_decay, help="AdamW weight decay (default 0)")
    recipe.add_argument("--max-grad-norm", type=float, default=_DEFAULT.max_grad_norm, help="gradient clipping norm (default 1; 0: none)")
    recipe.add_argument("--batch-size", type=int, default=_DEFAULT.batch_size, help="examples per step and device (default 8)")
    recipe.add_argument("--grad-accum", type=int, default=_DEFAULT.grad_accum, help="gradient accumulation micro-batches per step (default 1)")
    recipe.add_argument("--eval-batch-size", type=int, default=_DEFAULT.eval_batch_size, help="validation batch size (default 8)")
    recipe.add_argument("--seed", type=int, default=_DEFAULT.seed, help="seed of LoRA initialisation and data order (default 0)")

    run = parser.add_argument_group("running")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="default auto: a GPU when one is visible")
    run.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto", help="default auto: bf16 on a GPU that has it, else fp32")
    run.add_argument("--gradient-checkpointing", choices=("auto", "on", "off"), default="auto", help="default auto: on with a GPU")
    run.add_argument("--checkpoint-every", type=int, default=_DEFAULT.checkpoint_every,
                     help="write a resumable checkpoint every N steps (default 100; also at every evaluation)")
    run.add_argument("--fresh", action="store_true", help="discard an earlier run of these models under --out instead of resuming it")
    run.add_argument("--dry-run", action="store_true", help="print the data, the grid and the number of steps; train nothing")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    run.add_argument("-v", "--verbose", action="store_true", help="log every evaluation")
    return parser


def _models(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(label, spec) of each model to fine-tune, medical first for a pair."""
    given = [args.model is not None, args.pair is not None, args.medical is not None or args.base is not None]
    if sum(given) != 1:
        parser.error("give exactly one of --model SPEC, --pair MEDICAL BASE, or --medical SPEC --base SPEC")
    if args.model is not None:
        return [("model", args.model)]
    if args.name:
        parser.error("--name applies to --model only (a pair's folders are named after the models)")
    medical, base = args.pair if args.pair is not None else (args.medical, args.base)
    if not medical or not base:
        parser.error("a pair needs both --medical and --base")
    return [("medical", medical), ("base", base)]


def _recipe(args: argparse.Namespace) -> Recipe:
    modules = args.target_modules
    target: str | tuple[str, ...] = modules if modules == "all-linear" else tuple(m.strip() for m in modules.split(",") if m.strip())
    return Recipe(
        alpha=args.alpha, dropout=args.dropout, target_modules=target, max_epochs=args.epochs, patience=args.patience,
        warmup_ratio=args.warmup, scheduler=args.scheduler, weight_decay=args.weight_decay, max_grad_norm=args.max_grad_norm,
        max_length=args.max_length, batch_size=args.batch_size, grad_accum=args.grad_accum, eval_batch_size=args.eval_batch_size,
        eval_every=args.eval_every, checkpoint_every=args.checkpoint_every, answer_eos=args.answer_eos,
        format_id=args.format_id, seed=args.seed,
    )


def dry_run_text(models: list[tuple[str, str]], names: list[str], task: str, data, recipe: Recipe, grid, out: Path, world_size: int) -> str:
    """What a run would do: data, recipe, step budget, and each grid point's status per model."""
    from medpair_tasks.finetune.grid import point_status
    from medpair_tasks.wording import counted

    plan = step_plan(recipe, len(data.train), world_size)
    source = {"pool": "the few-shot pool", "val": "the validation role less the held-out slice"}[data.train_on]
    held = {"pool": "the validation role", "val": "the held-out slice of the validation role"}[data.train_on]
    evals = ", ".join(map(str, plan.eval_steps[:6])) + (", …" if len(plan.eval_steps) > 6 else "")
    lines = [
        f"medpair finetune (dry run): task {task}, dataset {data.dataset}, prompt format {data.format_id}",
        f"training items: {len(data.train)} ({source}); early-stopping items: {len(data.val)} ({held}); the test role is not read",
        f"recipe: LoRA on {recipe.target_modules}, alpha {recipe.alpha:g}, dropout {recipe.dropout:g}; AdamW (weight decay {recipe.weight_decay:g}), "
        f"{recipe.scheduler} schedule, warm-up {recipe.warmup_ratio:.0%}; at most {recipe.max_epochs} epochs, early stopping patience "
        f"{recipe.patience} on validation loss; max length {recipe.max_length}; loss on the answer tokens only",
        f"steps per point: {plan.steps_per_epoch} per epoch ({plan.examples_per_step} examples per step: batch {recipe.batch_size} × "
        f"accumulation {recipe.grad_accum} × {world_size} process(es)), at most {plan.max_steps} steps, warm-up {plan.warmup_steps}, "
        f"evaluations after steps {evals}",
        f"grid: {counted(len(grid), 'point')} ({len(grid) * plan.max_steps} steps at most per model, {len(models) * len(grid) * plan.max_steps} in all)",
    ]
    for (label, spec), name in zip(models, names):
        folder = out / name
        lines.append(f"\n{label}: {spec} -> {folder}")
        lines.append(f"  {'point':<16}{'lr':>10}{'rank':>6}{'max steps':>11}  status")
        for point in grid:
            lines.append(f"  {point.name:<16}{point.lr:>10g}{point.rank:>6}{plan.max_steps:>11}  {point_status(folder, point)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``medpair finetune``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    models = _models(args, parser)
    from medpair_stats.clilog import command_logging

    level = logging.WARNING if args.quiet else logging.INFO if args.verbose else logging.WARNING
    with command_logging("%(levelname)s %(name)s: %(message)s", logging.WARNING, {"medpair_tasks": level}):
        return _finetune(args, models)


def _finetune(args: argparse.Namespace, models: list[tuple[str, str]]) -> int:
    """``medpair finetune`` on parsed arguments: check the models and data, then run (or describe) the grid."""
    from medpair_tasks.finetune.data import dataset_of_task, select_items
    from medpair_tasks.finetune.grid import GridMismatch, eval_command, eval_folder, missing_local_model, model_name, run_grid
    from medpair_tasks.family.sources import DataUnavailable

    for label, spec in models:
        if missing_local_model(spec):
            what = "--model" if label == "model" else f"the {label} model"
            print(f"medpair finetune: {what} {spec}: no such folder (and not a hub id such as org/name)", file=sys.stderr)
            return 1
    try:
        recipe = _recipe(args)
        grid = make_grid(tuple(args.lr), tuple(args.rank))
        dataset = dataset_of_task(args.task)
        data = select_items(dataset, args.train_on, args.val_limit, args.holdout, args.train_limit, recipe.format_id)
    except (ValueError, DataUnavailable) as error:
        print(f"medpair finetune: {error}", file=sys.stderr)
        return 1
    names = [args.name or model_name(spec) for _, spec in models]
    if len(set(names)) != len(names):
        print(f"medpair finetune: both models would write to {args.out / names[0]}; give them differently named folders", file=sys.stderr)
        return 1
    if args.dry_run:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        print(dry_run_text(models, names, args.task, data, recipe, grid, args.out, world))
        return 0

    from medpair_tasks.finetune.train import resolve_hardware

    runtime = Runtime(args.device, args.precision, args.gradient_checkpointing, args.trust_remote_code, not args.quiet)
    hardware = resolve_hardware(runtime)
    runs = []
    try:
        for (_, spec), name in zip(models, names):
            runs.append(run_grid(spec, args.task, data, recipe, grid, args.out, hardware, name=name,
                                 trust_remote_code=args.trust_remote_code, fresh=args.fresh, progress=not args.quiet))
    except KeyboardInterrupt:
        print("\nmedpair finetune: interrupted; run the same command again to resume (finished grid points are kept)", file=sys.stderr)
        return 130
    except (GridMismatch, ValueError) as error:
        print(f"medpair finetune: {error}", file=sys.stderr)
        return 1
    if hardware.accelerator.is_main_process:
        for (label, _), run in zip(models, runs):
            print(f"{label} {run.model}: best {run.best.name} (validation loss {run.best.best_val_loss:.4f} at epoch "
                  f"{run.best.best_epoch:g}; before training {run.best.initial_val_loss:.4f}) -> {run.adapter}")
        print("\nevaluate (zero-shot, test role, labelled fine-tuned):")
        for run in runs:
            print("  " + eval_command(run.model, run.adapter, dataset, eval_folder(run.folder)))
        if len(runs) == 2:
            print(f"\ncompare:\n  medpair compare --medical {eval_folder(runs[0].folder)} --base {eval_folder(runs[1].folder)} --out REPORT_DIR")
        summary = {label: {"model": run.model, "adapter": str(run.adapter), "grid": str(run.folder / "grid.json")} for (label, _), run in zip(models, runs)}
        (args.out / "finetune_runs.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
