"""``medpair plan``: the study's two stages as job lists for a scheduler (Slurm array, GNU parallel).

Each job is one ``medpair eval`` command line (lm-eval's own arguments; one model × one group of
candidates; ``medpair eval`` indexes only the job's task files and checks names and data before
the model loads, where plain ``lm_eval`` would index all ~20,000 task files) writing
into the same folders as ``medpair run`` (``OUT/runs/<side>/<stage>/<job>``), so
``medpair compare --medical OUT/runs/medical --base OUT/runs/base`` merges the scattered
outputs into the same report. Stage 2's list is made from stage 1's outputs.

Under ``jeong2024`` a model the reference does not know also searches 3 sampled system prompts,
which a run sets through its metadata (``system_prompt_seed``): a job runs one system prompt,
so such a model gets at least one job per system prompt (ids ending ``-sysK``).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path

from medpair_tasks.atomic import write_text_atomic
from medpair_tasks.study.choose import choose_candidates
from medpair_tasks.study.execute import EvalOptions
from medpair_tasks.study.plan import SIDES, Plan, Shard, StudyConfig, system_suffix
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
    system_prompt_seed: int | None = None


def _command(spec: ModelSpec, tasks: tuple[str, ...], role: str, config: StudyConfig, output: Path,
             options: EvalOptions, system_prompt_seed: int | None = None) -> tuple[str, ...]:
    metadata = {"role": role, "val_limit": config.val_limit, "protocol": config.protocol}
    if system_prompt_seed is not None:
        metadata["system_prompt_seed"] = system_prompt_seed
    argv = [
        "medpair", "eval", "--model", spec.model_type, "--model_args", spec.model_args,
        "--tasks", ",".join(tasks),
        "--metadata", json.dumps(metadata),
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


def _by_system_prompt(shards: tuple[Shard, ...], n_jobs: int) -> list[tuple[Shard, ...]]:
    """Groups of shards that share a system prompt, ``n_jobs`` shared out by request counts (one at least each)."""
    by_system: dict[int | None, list[Shard]] = {}
    for shard in shards:
        by_system.setdefault(shard.system_prompt_seed, []).append(shard)
    total = sum(s.n_requests for s in shards)
    groups = []
    for part in by_system.values():
        share = max(1, round(n_jobs * sum(s.n_requests for s in part) / total)) if total else 1
        groups += _group(tuple(part), share)
    return groups


def stage1_jobs(plan: Plan, out: Path, models: dict[str, ModelSpec], options: EvalOptions, n_jobs: int) -> list[Job]:
    """Stage 1: every candidate of each model's search space on validation, ``n_jobs`` jobs per model
    (at least one per system prompt the model searches)."""
    jobs = []
    for side in SIDES:
        for number, group in enumerate(_by_system_prompt(plan.stage1[side], n_jobs)):
            system = group[0].system_prompt_seed
            job_id = f"{side}-val-{number:03d}{system_suffix(system, '-')}"
            tasks = tuple(t for shard in group for t in shard.tasks)
            output = out / "runs" / side / "stage1" / job_id
            command = _command(models[side], tasks, "val", plan.config, output, options, system)
            jobs.append(Job(job_id, side, "stage1", "val", tasks, str(output), command, system))
    return jobs


def stage2_jobs(plan: Plan, out: Path, models: dict[str, ModelSpec], options: EvalOptions) -> list[Job]:
    """Stage 2: each model's validation-best candidate of every cell, chosen from stage 1's outputs
    (one job per model and system prompt of the chosen candidates)."""
    jobs = []
    for side in SIDES:
        chosen = choose_candidates([out / "runs" / side / "stage1"], plan.cells)
        by_system: dict[int | None, list[str]] = {}
        for cell in plan.cells:
            by_system.setdefault(chosen[cell.key].system_prompt_seed, []).append(chosen[cell.key].task_name)
        for system, names in by_system.items():
            job_id = f"{side}-test{system_suffix(system, '-')}"
            output = out / "runs" / side / "stage2" / job_id
            command = _command(models[side], tuple(names), "test", plan.config, output, options, system)
            jobs.append(Job(job_id, side, "stage2", "test", tuple(names), str(output), command, system))
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
