"""The ``medpair`` command.

    medpair tasks [PATTERN]      list medpair's tasks: dataset, split role, scoring mode, shots
    medpair task-path            print the folder of the task YAMLs (for lm_eval --include_path)
    medpair eval ARGS...         lm-eval's own command line, with medpair's checks first (--help)
    medpair compare ...          paired comparison of two models' lm-eval logs (see --help)
    medpair run ...              the whole study in one resumable command (--demo: offline demo)
    medpair plan ...             the study's stages as lm_eval job lists for a scheduler
    medpair finetune ...         LoRA fine-tuning grid for one model or a medical/base pair
"""

from __future__ import annotations

import argparse
import sys

from medpair_tasks import __version__


def _cmd_tasks(args: argparse.Namespace) -> int:
    from medpair_tasks.registry import list_tasks

    from medpair_tasks.registry import count_candidates

    pattern = args.pattern
    rows = list(list_tasks(pattern, candidates=pattern is not None))
    n_candidates = count_candidates() if pattern is None else sum(r.role == "val" for r in rows)
    if not rows:
        print(f"no medpair task matches {pattern!r}", file=sys.stderr)
        return 1
    header = ("task", "dataset", "role", "mode", "shots", "format", "seed")
    table = [header] + [
        (r.name, r.dataset, r.role, r.mode, "" if r.shots is None else str(r.shots), r.format_id, "" if r.seed is None else str(r.seed))
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    if pattern is None:
        print(f"\n+ {n_candidates} prompt candidates (role val): list them with  medpair tasks 'medpair_medqa_mc_*'")
    if n_candidates:
        print("candidates score the validation role; --metadata '{\"role\": \"test\"}' switches a run to the test role")
    return 0


def _cmd_task_path(_: argparse.Namespace) -> int:
    from medpair_tasks.registry import task_path

    print(task_path())
    return 0


def _run_lm_eval(argv: list[str]) -> int:
    from medpair_tasks.evalcmd import main as eval_main

    return eval_main(argv)


def _run_finetune(argv: list[str]) -> int:
    from medpair_tasks.finetune.cli import main as finetune_main

    return finetune_main(argv)


def _run_study(argv: list[str]) -> int:
    from medpair_tasks.study.cli import run_main

    return run_main(argv)


def _plan_study(argv: list[str]) -> int:
    from medpair_tasks.study.cli import plan_main

    return plan_main(argv)


def _run_compare(argv: list[str]) -> int:
    from medpair_stats.compare import main as compare_main

    return compare_main(argv)


PASS_THROUGH = {
    "eval": _run_lm_eval,
    "compare": _run_compare,
    "run": _run_study,
    "plan": _plan_study,
    "finetune": _run_finetune,
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the commands medpair parses itself."""
    parser = argparse.ArgumentParser(
        prog="medpair",
        description="Does the medical model beat the general model it was adapted from? Tasks, studies and "
        "paired statistics on lm-evaluation-harness. Each command has its own --help.",
    )
    parser.add_argument("--version", action="version", version=f"medpair {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    tasks = sub.add_parser("tasks", help="list medpair's tasks")
    tasks.add_argument("pattern", nargs="?", help="glob over task names, e.g. 'medpair_medqa_*'")
    tasks.set_defaults(func=_cmd_tasks)
    path = sub.add_parser("task-path", help="print the task folder, for lm_eval --include_path")
    path.set_defaults(func=_cmd_task_path)
    sub.add_parser("eval", help="lm-eval's command line with medpair's checks first (see medpair eval --help)", add_help=False)
    sub.add_parser("compare", help="compare a medical model with its base from lm-eval logs", add_help=False)
    sub.add_parser("finetune", help="LoRA fine-tuning grid of a model or a medical/base pair on a task (see --help)", add_help=False)
    sub.add_parser("run", help="the whole study, resumable: selection on validation, test, report", add_help=False)
    sub.add_parser("plan", help="the study as job lists (lm_eval command lines) for a scheduler", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``medpair`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in PASS_THROUGH:
        return PASS_THROUGH[argv[0]](argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
