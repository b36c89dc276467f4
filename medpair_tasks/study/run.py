"""``medpair run``: stage 1 (every candidate on validation), stage 2 (each model's choice on test), report."""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from medpair_tasks.atomic import clear_scratch, publish_dir, scratch_dir
from medpair_tasks.jeong2024 import profile_for
from medpair_tasks.protocols import JEONG2024
from medpair_tasks.registry import task_manager
from medpair_tasks.study import halving
from medpair_tasks.study.choose import PRIMARY_METRIC, choose_candidates
from medpair_tasks.study.execute import EvalOptions, load_model, run_shard
from medpair_tasks.study.manifest import Manifest
from medpair_tasks.study.plan import SIDES, Cell, Plan, Shard, StudyConfig, format_plan, make_plan
from medpair_tasks.study.spec import ModelSpec
from medpair_tasks.taskspec import parse_candidate

log = logging.getLogger(__name__)

REPORT_DIR = "report"


@dataclass(frozen=True)
class StudyResult:
    """Where a finished study's report is, and its win / tie / loss line."""

    report_dir: Path
    summary: str


def _release_memory() -> None:
    """Return a dropped model's memory (host and GPU) before the next model loads."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


class _Worker:
    """A stage's model, loaded once, with its progress bar; runs shards and records them."""

    def __init__(self, study: Study, side: str, stage: str, total: int, initial: int) -> None:
        self.study, self.side, self.stage = study, side, stage
        self.bar = tqdm(total=total, initial=initial, unit="req", desc=f"{stage} {side}", dynamic_ncols=True)
        self.lm: Any = None

    def __enter__(self) -> _Worker:
        return self

    def run(self, shard: Shard, samples: dict[str, list[int]] | None = None) -> None:
        """Evaluate and publish one shard, loading the model on first use."""
        study = self.study
        if self.lm is None:
            self.lm = load_model(study.models[self.side], study.options)
        started = time.perf_counter()
        run_shard(self.lm, study.models[self.side], shard, study.stage_dir(self.side, self.stage), study.options,
                  study._manager(shard.role, self.side), samples=samples)
        study.manifest.done(self.side, self.stage, shard.id, shard.tasks, time.perf_counter() - started)
        self.bar.update(shard.n_requests)

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
        if self.lm is not None:
            self.lm = None
            _release_memory()


def candidate_means(shard_dirs: list[Path], cell: Cell, tasks: list[str]) -> np.ndarray:
    """Mean primary-metric score of each task (candidate) of ``cell`` over its validation shards."""
    from medpair_stats.logs import read_logs

    table = read_logs(shard_dirs, progress=False)
    rows = table[(table["role"] == "val") & (table["metric"] == PRIMARY_METRIC) & (table["dataset"] == cell.dataset)
                 & (table["mode"] == cell.mode) & (table["shots"] == cell.shots)]
    means = rows.groupby(rows["task"].astype(str), observed=True)["score"].mean()
    return np.array([means[t] for t in tasks])


class Study:
    """One medical-vs-base study in one output folder; every method resumes where it stopped."""

    def __init__(self, out: Path, models: dict[str, ModelSpec], config: StudyConfig, options: EvalOptions,
                 compare_options: dict[str, Any] | None = None) -> None:
        self.out = out
        self.models = models
        self.config = config
        self.options = options
        self.compare_options = compare_options or {}
        self.plan: Plan = make_plan(config)
        identity = {"models": {k: str(v) for k, v in models.items()}, "config": config.as_dict(),
                    "eval_options": asdict(options), "compare": self.compare_options}
        self.manifest = Manifest.open(out, identity, self.plan.summary())
        self._managers: dict[str, Any] = {}

    def stage_dir(self, side: str, stage: str) -> Path:
        """Where a model's shards of one stage are published."""
        return self.out / "runs" / side / stage

    def describe(self) -> str:
        """The plan, as printed before the run."""
        return format_plan(self.plan, {k: str(v) for k, v in self.models.items()})

    def _manager(self, role: str, side: str) -> Any:
        """One indexed task manager per role (and, where prompts depend on the model, per side),
        limited to the study's datasets; its metadata names the protocol (and the side's model)."""
        metadata = {"role": role, "val_limit": self.config.val_limit, "protocol": self.config.protocol}
        key = role
        if self.config.protocol == JEONG2024.id:
            metadata.update(self.models[side].args)
            key = f"{role}/{side}"
        if key not in self._managers:
            self._managers[key] = task_manager(metadata=metadata, datasets=self.config.datasets)
        return self._managers[key]

    def _run_shards(self, side: str, stage: str, shards: list[Shard]) -> None:
        folder = self.stage_dir(side, stage)
        todo = [s for s in shards if not (folder / s.id).exists()]
        if not todo:
            return
        total = sum(s.n_requests for s in shards)
        with _Worker(self, side, stage, total, total - sum(s.n_requests for s in todo)) as worker:
            for shard in todo:
                worker.run(shard)

    def stage1(self) -> None:
        """Every candidate (or, with halving search, the surviving ones) on the validation role."""
        for side in SIDES:
            if self.config.search == "halving":
                self._stage1_halving(side)
            else:
                self._run_shards(side, "stage1", self._stage1_shards(side))

    def _stage1_shards(self, side: str) -> list[Shard]:
        """The stage-1 shards a side runs: all of them, except that under ``jeong2024`` a model whose
        template the reference fixes (BioMistral-7B, Med42-v1) runs only its own template, ``f00``."""
        shards = list(self.plan.stage1)
        if self.config.protocol != JEONG2024.id:
            return shards
        profile = profile_for(self.models[side].args.get("pretrained"))
        if "prompt_template" not in profile.fixed:
            return shards
        return [s for s in shards if all(parse_candidate(t).format_id == "f00" for t in s.tasks)]

    def _stage1_halving(self, side: str) -> None:
        folder = self.stage_dir(side, "stage1")
        work = [(cell, halving.schedule(len(cell.candidates()), self.plan.items[cell.dataset]["val"],
                                        self.config.halving_eta, self.config.halving_min_items)) for cell in self.plan.cells]
        total = sum(halving.requests(rounds) * self.plan.per_item(cell) for cell, rounds in work)
        with _Worker(self, side, "stage1", total, 0) as worker:
            for cell, rounds in work:
                per_item = self.plan.per_item(cell)
                order = halving.item_order(self.plan.items[cell.dataset]["val"], self.config.seed)
                alive = cell.candidates()
                done = 0
                shard_dirs: list[Path] = []  # this cell's rounds so far
                for number, rnd in enumerate(rounds):
                    new = sorted(order[done : rnd.n_items].tolist())
                    if new:
                        tasks = tuple(c.task_name for c in alive)
                        shard = Shard(f"val_{cell.key}_r{number}", "val", tasks, len(new) * len(tasks),
                                      per_item * len(new) * len(tasks))
                        if (folder / shard.id).exists():
                            worker.bar.update(shard.n_requests)
                        else:
                            worker.run(shard, samples={task: new for task in tasks})
                        shard_dirs.append(folder / shard.id)
                    done = rnd.n_items
                    keep = rounds[number + 1].n_candidates if number + 1 < len(rounds) else 1
                    if keep < len(alive):
                        means = candidate_means(shard_dirs, cell, [c.task_name for c in alive])
                        alive = [alive[i] for i in halving.survivors(means, keep)]

    def stage2(self) -> None:
        """Each model's validation-best candidate of every cell on the test role."""
        for side in SIDES:
            chosen = choose_candidates([self.stage_dir(side, "stage1")], self.plan.cells)
            self.manifest.selection[side] = {cell: c.task_name for cell, c in chosen.items()}
            self.manifest.save()
            shards = [self.plan.stage2_shard(cell, chosen[cell.key]) for cell in self.plan.cells]
            self._run_shards(side, "stage2", shards)

    def report(self) -> StudyResult:
        """``medpair compare`` on both stages' logs, published as ``OUT/report`` in one step."""
        from medpair_stats.compare import run_compare
        from medpair_stats.report import outcome_shares

        final = self.out / REPORT_DIR
        tmp = scratch_dir(self.out, REPORT_DIR)
        result = run_compare([self.out / "runs" / "medical"], [self.out / "runs" / "base"], tmp,
                             progress=False, **self.compare_options)
        shares = outcome_shares(result.records)
        summary = (f"{shares['n']} comparisons: medical better in {shares['win_pct']:.1f}%, "
                   f"tie {shares['tie_pct']:.1f}%, worse {shares['loss_pct']:.1f}%")
        publish_dir(tmp, final)  # a finished report (from the same logs) is kept as it is
        self.manifest.report = str(final)
        self.manifest.save()
        return StudyResult(final, summary)

    def run(self) -> StudyResult:
        """The whole study; safe to call again after any interruption."""
        cleared = clear_scratch(self.out)
        if cleared:
            log.info("removed %d leftovers of an interrupted run", cleared)
        self.manifest.save()
        self.stage1()
        self.stage2()
        return self.report()
