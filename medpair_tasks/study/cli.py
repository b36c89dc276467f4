"""Command lines of ``medpair run`` (the whole study) and ``medpair plan`` (its job lists)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from medpair_tasks.family.roles import DEFAULT_VAL_LIMIT
from medpair_tasks.jeong2024 import GENERATION_STOP
from medpair_tasks.knowledge.sources import MMLU_SUBJECTS, SOURCES
from medpair_tasks.protocols import DEMO_PROTOCOL, JEONG2024, PROTOCOLS, STUDY_DEFAULT_PROTOCOL

GROUPS = {
    "knowledge": tuple(SOURCES),
    "mmlu_medical": tuple(f"mmlu_{s}" for s in MMLU_SUBJECTS),
}


def parse_datasets(text: str) -> tuple[str, ...]:
    """``medqa,pubmedqa``, ``medpair_medqa`` or a group (``medpair_knowledge``) → dataset ids."""
    datasets: list[str] = []
    for name in filter(None, (part.strip() for part in text.split(","))):
        bare = name.removeprefix("medpair_")
        expanded = GROUPS.get(bare, (bare,))
        for dataset in expanded:
            if dataset not in SOURCES:
                raise argparse.ArgumentTypeError(_not_a_knowledge_dataset(name))
            if dataset not in datasets:
                datasets.append(dataset)
    return tuple(datasets)


def _family(name: str) -> str | None:
    """``clinical`` or ``visual QA`` when ``name`` is one of medpair's other tasks, a candidate or a group of them."""
    from medpair_tasks.clinical.sources import CLINICAL_SOURCES
    from medpair_tasks.clinical.taskfiles import GROUPS as CLINICAL_GROUPS
    from medpair_tasks.vqa.sources import VQA_SOURCES
    from medpair_tasks.vqa.taskfiles import GROUPS as VQA_GROUPS

    bare = name.removeprefix("medpair_")
    for family, datasets, groups in (("clinical", CLINICAL_SOURCES, CLINICAL_GROUPS), ("visual QA", VQA_SOURCES, VQA_GROUPS)):
        if f"medpair_{bare}" in groups or any(bare == d or bare.startswith(f"{d}_") for d in datasets):
            return family
    return None


def _not_a_knowledge_dataset(name: str) -> str:
    """Why ``name`` cannot be a study dataset, and what to use instead."""
    knowledge = f"the knowledge datasets only ({', '.join(SOURCES)}; groups medpair_knowledge, medpair_mmlu_medical)"
    family = _family(name)
    if family is None:
        return f"unknown task {name!r}; medpair run and medpair plan cover {knowledge}"
    task = name if name.startswith("medpair_") else f"medpair_{name}"
    return (f"{name!r} is a {family} task, and medpair run and medpair plan cover {knowledge}. Evaluate it with "
            f"'medpair eval --tasks {task} --log_samples --output_path OUT_MODEL ...' for each model, then "
            "'medpair compare --medical OUT_MEDICAL --base OUT_BASE --out REPORT'")


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _str_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_study_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``medpair run`` and ``medpair plan``."""
    parser.add_argument("--medical", metavar="SPEC", help="the medical model: TYPE:ARGS (hf:pretrained=X,peft=Y), ARGS, or a model id")
    parser.add_argument("--base", metavar="SPEC", help="its base model, same forms")
    parser.add_argument("--tasks", type=parse_datasets, metavar="LIST",
                        help="datasets or groups, comma-separated: medqa,pubmedqa or medpair_knowledge")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="study folder (resumable)")
    parser.add_argument("--shots", type=_int_list, default=(0, 3), help="shot settings (default 0,3)")
    parser.add_argument("--mode", type=_str_list,
                        help="scoring modes: mc, gen or mc,gen (default: gen under jeong2024, the paper's "
                        "generation and extraction; mc under medpair)")
    parser.add_argument("--val-limit", type=int, default=DEFAULT_VAL_LIMIT,
                        help=f"validation items, one fixed subsample for all candidates (default {DEFAULT_VAL_LIMIT}; 0 = all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of lm-eval and of the bootstrap (default 0)")
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS),
                        help=f"prompts, draws, populations and extraction (default {STUDY_DEFAULT_PROTOCOL}, the "
                        f"reference code of Jeong et al.; {DEMO_PROTOCOL} with --demo; see the README's Protocols section)")
    parser.add_argument("--batch-size", default="1", help="lm-eval batch size (a number or 'auto')")
    parser.add_argument("--max-batch-size", type=int, help="upper bound for --batch-size auto")
    parser.add_argument("--device", help="e.g. cuda:0 or cpu; medpair run: the GPU when torch sees one, else the CPU "
                        "(medpair plan: lm_eval's own default)")
    parser.add_argument("--dtype", help="model dtype for hf models, e.g. bfloat16 (added to the model args)")
    parser.add_argument("--apply-chat-template", action="store_true", help="format prompts with the model's chat template")
    parser.add_argument("--fewshot-as-multiturn", action="store_true", help="few-shot examples as chat turns")
    parser.add_argument("--system-instruction", help="system instruction for every prompt")
    parser.add_argument("--gen-kwargs", help="generation overrides for gen mode, e.g. max_gen_toks=32")


def build_run_parser() -> argparse.ArgumentParser:
    """The argument parser of ``medpair run``."""
    parser = argparse.ArgumentParser(
        prog="medpair run",
        description="The whole head-to-head study: every prompt candidate on validation (stage 1), each "
        "model's best candidate on test (stage 2), the paired comparison (OUT/report). Run the same "
        "command again to resume after an interruption.",
    )
    add_study_arguments(parser)
    parser.add_argument("--search", choices=("exhaustive", "halving"), default="exhaustive",
                        help="stage 1: score every candidate on every validation item (exhaustive, default), or "
                        "successive halving: all candidates on a first slice, the best third on a larger one, ... "
                        "(a fraction of the requests; see benchmarks/bench_halving.py)")
    parser.add_argument("--halving-eta", type=int, default=3, help="halving: keep 1/eta of the candidates per round")
    parser.add_argument("--halving-min-items", type=int, default=50, help="halving: items of the first round")
    parser.add_argument("--n-resamples", type=int, default=10_000, help="bootstrap resamples of the report")
    parser.add_argument("--medical-name", metavar="NAME",
                        help="the medical model's name in the report and forest plot (default: the name lm-eval "
                        "logs, i.e. the pretrained path or hub id)")
    parser.add_argument("--base-name", metavar="NAME", help="the base model's name in the report, likewise")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    parser.add_argument("--demo", action="store_true",
                        help="offline demo: sample MedQA and anatomy questions and two tiny models (demo-base, and "
                        "demo-medical fine-tuned on the MedQA training questions), all built in OUT/demo")
    return parser


def build_plan_parser() -> argparse.ArgumentParser:
    """The argument parser of ``medpair plan``."""
    parser = argparse.ArgumentParser(
        prog="medpair plan",
        description="Write the study's stages as job lists (medpair eval command lines, lm-eval's arguments, and JSON) for a "
        "scheduler. Stage 1 first; after its jobs ran, --stage 2 reads their outputs and lists each model's "
        "test run. Then: medpair compare --medical OUT/runs/medical --base OUT/runs/base --out OUT/report.",
    )
    add_study_arguments(parser)
    parser.add_argument("--stage", type=int, choices=(1, 2), default=1, help="which stage to list (default 1)")
    parser.add_argument("--jobs", type=int, default=1, help="stage-1 jobs per model (default 1)")
    return parser


def plan_main(argv: list[str] | None = None) -> int:
    """``medpair plan``: returns the exit status."""
    from medpair_tasks.family.sources import DataUnavailable
    from medpair_tasks.study.jobs import stage1_jobs, stage2_jobs, write_jobs
    from medpair_tasks.study.plan import make_plan
    from medpair_tasks.study.space import model_spaces

    parser = build_plan_parser()
    args = parser.parse_args(argv)
    missing = [name for name in ("medical", "base", "tasks") if not getattr(args, name)]
    if missing:
        parser.error(f"give {', '.join('--' + m for m in missing)}")
    try:
        models, config, options = _settings_from_args(args)
        plan = make_plan(config, model_spaces(config.protocol, models))
        if args.stage == 1:
            jobs = stage1_jobs(plan, args.out, models, options, args.jobs)
        else:
            jobs = stage2_jobs(plan, args.out, models, options)
    except (DataUnavailable, ValueError) as err:
        print(f"medpair plan: error: {err}", file=sys.stderr)
        return 1
    script, listing = write_jobs(jobs, args.out / "jobs", f"stage{args.stage}")
    print(f"{len(jobs)} jobs: {script} (one medpair eval command per line) and {listing}")
    return 0


def study_protocol(args: argparse.Namespace) -> str:
    """The protocol a study runs: ``--protocol``, else the demo's (``medpair``: its tiny models were
    fine-tuned on medpair's prompt format), else the paper's (``jeong2024``)."""
    if args.protocol:
        return str(args.protocol)
    return DEMO_PROTOCOL if getattr(args, "demo", False) else STUDY_DEFAULT_PROTOCOL


def protocol_gen_kwargs(protocol: str, args: argparse.Namespace) -> str | None:
    """lm-eval ``--gen_kwargs`` of a study. Under ``jeong2024`` generation stops where the
    reference's does: ``until=###`` replaces the tasks' blank-line stop (end of sequence is
    lm-eval's own), and the task's filter cuts at the template's headers; a prompt is already
    in the model's chat template, so lm-eval must not apply one again."""
    if protocol != JEONG2024.id:
        return args.gen_kwargs
    if args.apply_chat_template or args.fewshot_as_multiturn or args.system_instruction:
        raise ValueError("under --protocol jeong2024 medpair renders each model's prompt itself (chat models "
                         "through their chat template); drop --apply-chat-template, --fewshot-as-multiturn and "
                         "--system-instruction")
    given = args.gen_kwargs or ""
    if "until=" in given:
        return given
    return ",".join(part for part in (f"until={GENERATION_STOP}", given) if part)


def _settings_from_args(args: argparse.Namespace):
    from medpair_tasks.study.execute import EvalOptions
    from medpair_tasks.study.plan import StudyConfig
    from medpair_tasks.study.spec import ModelSpec

    models = {}
    for side in ("medical", "base"):
        spec = ModelSpec.parse(getattr(args, side))
        if args.dtype and spec.model_type.startswith("hf"):
            spec = spec.with_defaults(dtype=args.dtype)
        models[side] = spec
    protocol = study_protocol(args)
    modes = tuple(args.mode) if args.mode else (("gen",) if protocol == JEONG2024.id else ("mc",))
    config = StudyConfig(tuple(args.tasks), tuple(args.shots), modes, args.val_limit, args.seed,
                         getattr(args, "search", "exhaustive"), getattr(args, "halving_eta", 3),
                         getattr(args, "halving_min_items", 50), protocol)
    options = EvalOptions(batch_size=str(args.batch_size), max_batch_size=args.max_batch_size, device=args.device,
                          apply_chat_template=args.apply_chat_template, fewshot_as_multiturn=args.fewshot_as_multiturn,
                          system_instruction=args.system_instruction, gen_kwargs=protocol_gen_kwargs(protocol, args),
                          seed=args.seed)
    return models, config, options


def _study_from_args(args: argparse.Namespace):
    from dataclasses import replace

    from medpair_tasks.study.execute import resolve_device
    from medpair_tasks.study.run import Study

    models, config, options = _settings_from_args(args)
    options = replace(options, device=resolve_device(options.device))
    compare = {"n_resamples": args.n_resamples, "seed": args.seed}
    names = {"medical": args.medical_name, "base": args.base_name}
    return Study(args.out, models, config, options, compare, names={k: v for k, v in names.items() if v})


def run_main(argv: list[str] | None = None) -> int:
    """``medpair run``: returns the exit status."""
    parser = build_run_parser()
    args = parser.parse_args(argv)
    from medpair_stats.clilog import command_logging

    # medpair's own INFO messages are shown only with medpair's handler, not under a caller's configuration
    levels = None if logging.getLogger().handlers else dict.fromkeys(("medpair_tasks", "medpair_stats"), logging.INFO)
    with command_logging("medpair: %(levelname)s: %(message)s", logging.WARNING, levels):
        from medpair_tasks.study.demo import data_dir_set, prepare_demo

        data_dir = prepare_demo(args) if args.demo else None
        missing = [name for name in ("medical", "base", "tasks") if not getattr(args, name)]
        if missing:
            parser.error(f"give {', '.join('--' + m for m in missing)} (or --demo)")
        with data_dir_set(data_dir):
            return _run_study(args)


def _run_study(args: argparse.Namespace) -> int:
    from medpair_tasks.family.sources import DataUnavailable

    try:
        study = _study_from_args(args)
        print(study.describe(), flush=True)
        if args.dry_run:
            return 0
        result = study.run()
    except (DataUnavailable, ValueError) as err:
        print(f"medpair run: error: {err}", file=sys.stderr)
        return 1
    print(f"\nreport: {result.report_dir}/report.md (and comparisons.json, comparisons.csv, forest.png)")
    print(result.summary)
    return 0
