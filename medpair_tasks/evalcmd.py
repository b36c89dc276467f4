"""``medpair eval``: lm-eval's own command line, run in this process with medpair's part done first."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from typing import Any

from medpair_tasks.clinical.safety import ALLOW_FLAGS
from medpair_tasks.family.sources import DataUnavailable

HELP = """\
usage: medpair eval [--allow-remote] LM_EVAL_ARGUMENTS...

Runs lm-eval's own command line (the arguments of `lm_eval` / `lm_eval run`) in this process,
after medpair's part:

  1. task names: every name that starts with medpair_ must be one of medpair's tasks or groups
     (a misspelt one is reported with "did you mean" suggestions) - before anything is loaded;
  2. data: every medpair dataset the tasks read must be present; all missing datasets are
     reported at once, before the model is loaded;
  3. start-up: only the task files the requested names need are indexed (lm-eval's ~14,700
     built-in task files too only when a name is not medpair's);
  4. the clinical-data guard: credentialed clinical tasks (PhysioNet, n2c2) run only with a
     model that keeps the prompts on this machine, without log uploads and without
     trust_remote_code=True, unless --allow-remote is given.

Plain `lm_eval --tasks medpair_...` works too after `pip install medpair` (with the same guard);
`medpair eval` adds steps 1-3.

  --allow-remote   let this run send credentialed notes off this machine (see the README)

lm-eval's options:       medpair eval run --help
lm-eval's other commands pass through, e.g.  medpair eval ls tasks
"""


def requested_tasks(args: Any) -> list[str]:
    """The task names of lm-eval's parsed ``run`` arguments (``--tasks``, else its ``--config`` file)."""
    from medpair_tasks.lm_eval_internals import config_file_tasks, names_of

    tasks = args.tasks
    if not tasks and getattr(args, "config", None):
        tasks = config_file_tasks(args.config)
    return names_of(tasks if isinstance(tasks, (list, tuple)) else [tasks] if tasks else [])


def unknown_names(names: Iterable[str]) -> list[str]:
    """One line per medpair-looking name that is not medpair's, with close names as suggestions."""
    from medpair_tasks.registry import PREFIX, matching, task_files

    lines = []
    for name in names:
        if not name.startswith(PREFIX) or matching(name):
            continue
        close = difflib.get_close_matches(name, task_files(), n=3, cutoff=0.75)
        hint = f"; did you mean {', '.join(close)}?" if close else "; list them with  medpair tasks"
        lines.append(f"medpair: no medpair task or group matches {name!r}{hint}")
    return lines


def data_problems(datasets: Iterable[str]) -> list[DataUnavailable]:
    """Every dataset among ``datasets`` whose data cannot be read (each read once, then cached)."""
    from medpair_tasks.clinical.sources import TABLE as CLINICAL
    from medpair_tasks.knowledge.sources import TABLE as KNOWLEDGE
    from medpair_tasks.vqa.sources import TABLE as VISUAL

    problems = []
    for dataset in sorted(datasets):
        table = next((table for table in (KNOWLEDGE, CLINICAL, VISUAL) if dataset in table.rows), None)
        if table is None:
            continue
        try:
            table.load(dataset)
        except DataUnavailable as err:
            problems.append(err)
    return problems


def _report(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr)


def _prepare_run(args: Any, stack: ExitStack) -> int:
    """medpair's steps before lm-eval's ``run``: names, data, index scope. Non-zero: stop with that code."""
    from medpair_tasks.lm_eval_internals import IndexScope, index_scope
    from medpair_tasks.registry import datasets_of, files_for

    names = requested_tasks(args)
    unknown = [] if getattr(args, "include_path", None) else unknown_names(names)  # the user's may be medpair_*
    if unknown:
        _report(unknown)
        return 2
    files = files_for(names) if names else None
    problems = data_problems(datasets_of(files or ()))
    if problems:
        if len(problems) == 1:
            _report([f"medpair eval: error: {problems[0]}"])
        else:
            _report([f"medpair eval: error: {len(problems)} datasets of this run are missing:", *map(str, problems)])
        return 1
    stack.enter_context(index_scope(IndexScope(files, include_defaults=files is None)))
    return 0


def main(argv: list[str]) -> int:
    """Run ``medpair eval`` with ``argv`` (lm-eval's arguments, plus ``--allow-remote``)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(HELP, end="")
        return 0
    from medpair_tasks.clinical.safety import remote_use_allowed
    from medpair_tasks.lm_eval_internals import IndexScope, index_scope, install, parse_lm_eval_args, run_lm_eval

    allow = any(a in ALLOW_FLAGS for a in argv)
    argv = [a for a in argv if a not in ALLOW_FLAGS]
    install()
    with ExitStack() as stack:
        try:
            cli, args = parse_lm_eval_args(argv)
            if allow:
                stack.enter_context(remote_use_allowed())
            if getattr(args, "command", None) == "run":
                code = _prepare_run(args, stack)
                if code:
                    return code
            else:  # ls, validate: every task, medpair's included even with MEDPAIR_LM_EVAL_PLUGIN=0
                stack.enter_context(index_scope(IndexScope(None, include_defaults=True)))
            run_lm_eval(cli, args)
        except SystemExit as exit_:
            if exit_.code is None or isinstance(exit_.code, int):
                return exit_.code or 0
            print(exit_.code, file=sys.stderr)
            return 1
        except DataUnavailable as err:  # one clear message, not lm-eval's and datasets' tracebacks
            print(f"medpair eval: error: {err}", file=sys.stderr)
            return 1
    return 0

