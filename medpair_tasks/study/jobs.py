"""``medpair plan``: the study's two stages as job lists for a scheduler (Slurm array, GNU parallel).

Each job is one ``medpair eval`` command line (lm-eval's own arguments; one model × one group of
candidates; ``medpair eval`` indexes only the job's task files and checks names and data before
the model loads, where plain ``lm_eval`` would index all ~20,000 task files) writing
into the same folders as ``medpair run`` (``OUT/runs/<side>/<stage>/<job>``), so
``medpair compare --medical OUT/runs/medical --base OUT/runs/base`` merges the scattered
outputs into the same report. Stage 2's list is made from stage 1's outputs.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

from medpair_tasks.atomic import write_text_atomic
from medpair_tasks.study.choose import choose_candidates
from medpair_tasks.study.execute import EvalOptions
from medpair_tasks.study.plan import SIDES, Plan, Shard, StudyConfig
from medpair_tasks.study.spec import ModelSpec


@dataclass(frozen=True)
class Job:
    """One ``medpair eval`` (lm-eval) run: a model, some tasks on one role, an output folder."""

    id: str
    side: str
    stage: str
    role: str
    tasks: tuple[str, ...]
    output_path: str
    command: tuple[str, ...]


def _command(spec: ModelSpec, tasks: tuple[str, ...], role: str, config: StudyConfig, output: Path,
             options: EvalOptions) -> tuple[str, ...]:
    argv = [
        "medpair", "eval", "--model", spec.model_type, "--model_args", spec.model_args,
        "--tasks", ",".join(tasks),
        "--metadata", json.dumps({"role": role, "val_limit": config.val_limit, "protocol": config.protocol}),
        "--log_samples", "--output_path", str(output), "--batch_size", options.batch_size,
        "--seed", str(options.seed),
    ]
    if options.max_batch_size:
        argv += ["--max_batch_size", str(options.max_batch_size)]
    if options.device:
        argv += ["--device", options.device]
    if options.apply_chat_template:
        argv.append("--apply_chat_template")
    if options.fewshot_as_multiturn:
        argv.append("--fewshot_as_multiturn")
    if options.system_instruction:
        argv += ["--system_instruction", options.system_instruction]
    if options.gen_kwargs:
        argv += ["--gen_kwargs", options.gen_kwargs]
    return tuple(argv)


def _group(shards: tuple[Shard, ...], n_jobs: int) -> list[tuple[Shard, ...]]:
    """Split shards into at most ``n_jobs`` contiguous groups of near-equal request counts."""
    n_jobs = max(1, min(n_jobs, len(shards)))
    total = sum(s.n_requests for s in shards)
    groups: list[list[Shard]] = [[]]
    done = 0
    for shard in shards:
        if groups[-1] and len(groups) < n_jobs and done + shard.n_requests / 2 > total * len(groups) / n_jobs:
            groups.append([])
        groups[-1].append(shard)
        done += shard.n_requests
    return [tuple(g) for g in groups]


def stage1_jobs(plan: Plan, out: Path, models: dict[str, ModelSpec], options: EvalOptions, n_jobs: int) -> list[Job]:
    """Stage 1: every candidate on validation, ``n_jobs`` jobs per model."""
    jobs = []
    for side in SIDES:
        for number, group in enumerate(_group(plan.stage1, n_jobs)):
            job_id = f"{side}-val-{number:03d}"
            tasks = tuple(t for shard in group for t in shard.tasks)
            output = out / "runs" / side / "stage1" / job_id
            command = _command(models[side], tasks, "val", plan.config, output, options)
            jobs.append(Job(job_id, side, "stage1", "val", tasks, str(output), command))
    return jobs


def stage2_jobs(plan: Plan, out: Path, models: dict[str, ModelSpec], options: EvalOptions) -> list[Job]:
    """Stage 2: each model's validation-best candidate of every cell, chosen from stage 1's outputs."""
    jobs = []
    for side in SIDES:
        chosen = choose_candidates([out / "runs" / side / "stage1"], plan.cells)
        tasks = tuple(chosen[cell.key].task_name for cell in plan.cells)
        job_id = f"{side}-test"
        output = out / "runs" / side / "stage2" / job_id
        command = _command(models[side], tasks, "test", plan.config, output, options)
        jobs.append(Job(job_id, side, "stage2", "test", tasks, str(output), command))
    return jobs


def write_jobs(jobs: list[Job], folder: Path, stage: str) -> tuple[Path, Path]:
    """Write ``<stage>.sh`` (one command per line) and ``<stage>.json``; returns both paths."""
    script = folder / f"{stage}.sh"
    listing = folder / f"{stage}.json"
    lines = [f"# medpair {stage}: {len(jobs)} independent jobs, one lm-eval run (medpair eval) per line",
             "# run them anywhere, e.g.  parallel -j 4 < " + script.name + "  or one line per Slurm array task"]
    lines += [shlex.join(job.command) for job in jobs]
    write_text_atomic(script, "\n".join(lines) + "\n")
    write_text_atomic(listing, json.dumps({"stage": stage, "jobs": [asdict(j) for j in jobs]}, indent=1) + "\n")
    return script, listing
