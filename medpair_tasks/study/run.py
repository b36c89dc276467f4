"""``medpair run``: stage 1 (every candidate on validation), stage 2 (each model's choice on test), report."""

from __future__ import annotations

import gc
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from medpair_tasks.atomic import clear_scratch, publish_dir, scratch_dir
from medpair_tasks.lm_eval_internals import environment_recorded_once
from medpair_tasks.protocols import JEONG2024
from medpair_tasks.registry import task_manager
from medpair_tasks.study import halving
from medpair_tasks.study.choose import PRIMARY_METRIC, choose_candidates
from medpair_tasks.study.execute import EvalOptions, load_model, run_shard
from medpair_tasks.study.identity import data_identity, folder_changes, model_identity, result_args, write_identity
from medpair_tasks.study.manifest import Manifest
from medpair_tasks.study.plan import SIDES, Cell, Plan, Shard, StudyConfig, format_plan, make_plan, system_suffix
from medpair_tasks.study.space import model_spaces
from medpair_tasks.study.spec import ModelSpec

log = logging.getLogger(__name__)

REPORT_DIR = "report"
STAGES = ("stage1", "stage2")
SHARD_PART = "shard"  # the key of a shard identity's own part (id, role, tasks, items)


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
            study.manifest.save()  # the first shard can start: from here on the folder is this study's
        started = time.perf_counter()
        run_shard(self.lm, study.models[self.side], shard, study.stage_dir(self.side, self.stage), study.options,
                  study._manager(shard.role, self.side, shard.system_prompt_seed),
                  study.shard_identity(self.side, shard, samples),
                  samples=samples)
        study.manifest.done(self.side, self.stage, shard.id, shard.tasks, time.perf_counter() - started)
        self.bar.update(shard.n_requests)

    def __exit__(self, *exc: object) -> None:
        self.bar.close()
        if self.lm is not None:
            self.lm = None
            _release_memory()


def candidate_means(shard_dirs: list[Path], cell: Cell, candidates: list[str]) -> np.ndarray:
    """Mean primary-metric score of each candidate (id, e.g. ``f03/s7/sys1``) of ``cell`` over its validation shards."""
    from medpair_stats.logs import read_logs

    table = read_logs(shard_dirs, progress=False)
    rows = table[(table["role"] == "val") & (table["metric"] == PRIMARY_METRIC) & (table["dataset"] == cell.dataset)
                 & (table["mode"] == cell.mode) & (table["shots"] == cell.shots)]
    means = rows.groupby(rows["candidate"].astype(str), observed=True)["score"].mean()
    return np.array([means[c] for c in candidates])


class Study:
    """One medical-vs-base study in one output folder; every method resumes where it stopped."""

    def __init__(self, out: Path, models: dict[str, ModelSpec], config: StudyConfig, options: EvalOptions,
                 compare_options: dict[str, Any] | None = None, names: dict[str, str] | None = None) -> None:
        """``names`` (``{"medical": ..., "base": ...}``, either optional) label the models in the report only;
        without them the report uses the names lm-eval logs (the ``pretrained`` path or hub id)."""
        self.out = out
        self.models = models
        self.names = names or {}
        self.config = config
        self.options = options
        self.compare_options = compare_options or {}
        self.plan: Plan = make_plan(config, model_spaces(config.protocol, models))
        self.model_identities = {side: model_identity(spec) for side, spec in models.items()}
        self.results_identity = {"config": config.as_dict(), "eval_options": options.result_settings(),
                                 "data": data_identity(config.datasets, config.val_limit)}
        identity = {"models": {side: result_args(spec) for side, spec in models.items()},
                    "model_identity": self.model_identities, "compare": self.compare_options, **self.results_identity}
        self.manifest = Manifest.open(out, identity, self.plan.summary())
        self.manifest.execution = {name: getattr(options, name) for name in sorted(EvalOptions.EXECUTION_FIELDS)}
        self._managers: dict[str, Any] = {}

    def stage_dir(self, side: str, stage: str) -> Path:
        """Where a model's shards of one stage are published."""
        return self.out / "runs" / side / stage

    def describe(self) -> str:
        """The plan, as printed before the run."""
        return format_plan(self.plan, {k: str(v) for k, v in self.models.items()}) + (
            f"\n  device:   {self.options.device}, batch size {self.options.batch_size}")

    def shard_identity(self, side: str, shard: Shard | None = None,
                       samples: dict[str, list[int]] | None = None) -> dict[str, Any]:
        """What a shard of ``side`` belongs to: the model, the data, the settings and (given ``shard``) its own work."""
        identity: dict[str, Any] = {"model": self.model_identities[side], **self.results_identity}
        if shard is not None:
            identity[SHARD_PART] = {"id": shard.id, "role": shard.role, "tasks": list(shard.tasks), "samples": samples}
            if shard.system_prompt_seed is not None:
                identity[SHARD_PART]["system_prompt_seed"] = shard.system_prompt_seed
        return identity

    def check_shards(self) -> None:
        """Refuse, before any work, finished shards under ``OUT/runs`` that another model, data or setting made."""
        problems: dict[tuple[str, ...], list[Path]] = {}
        for side in SIDES:
            expected = self.shard_identity(side)
            for stage in STAGES:
                folder = self.stage_dir(side, stage)
                for shard_dir in sorted(folder.iterdir()) if folder.is_dir() else []:
                    if shard_dir.name.startswith(".") or not shard_dir.is_dir():
                        continue
                    changed = folder_changes(shard_dir, expected, ignore=(SHARD_PART,))
                    if changed:
                        problems.setdefault(tuple(changed), []).append(shard_dir)
        report = self.out / REPORT_DIR
        if report.is_dir():
            changed = folder_changes(report, self.manifest.identity)
            if changed:
                problems.setdefault(tuple(changed), []).append(report)
        if problems:
            raise ValueError(self._refusal(problems))

    def _refusal(self, problems: dict[tuple[str, ...], list[Path]]) -> str:
        """The message that refuses shards of another study, naming the fields that differ."""
        count = sum(len(dirs) for dirs in problems.values())
        lines = [f"{self.out} holds {count} finished shard(s) or report made with another model, data or setting; "
                 "medpair never reuses them for this command:"]
        for changed, dirs in problems.items():
            more = f" (and {len(dirs) - 1} more with the same differences)" if len(dirs) > 1 else ""
            lines.append(f"  {dirs[0].relative_to(self.out)}{more}:")
            lines += [f"    - {line}" for line in changed]
        lines.append(f"Use another --out for this study, or delete the whole folder {self.out} to start over.")
        return "\n".join(lines)

    def _finished(self, side: str, stage: str, shard: Shard, samples: dict[str, list[int]] | None = None) -> bool:
        """True when ``shard`` is already done for ``side``; raises ValueError when its folder holds other work."""
        folder = self.stage_dir(side, stage) / shard.id
        if not folder.exists():
            return False
        changed = folder_changes(folder, self.shard_identity(side, shard, samples))
        if changed:
            raise ValueError(self._refusal({tuple(changed): [folder]}))
        return True

    def _manager(self, role: str, side: str, system_prompt_seed: int | None = None) -> Any:
        """One indexed task manager per role (and, where prompts depend on the model, per side and
        system prompt), limited to the study's datasets; its metadata names the protocol (and the
        side's model and sampled system prompt)."""
        metadata = {"role": role, "val_limit": self.config.val_limit, "protocol": self.config.protocol}
        key = role
        if self.config.protocol == JEONG2024.id:
            metadata.update(self.models[side].args)
            key = f"{role}/{side}{system_suffix(system_prompt_seed)}"
        if system_prompt_seed is not None:
            metadata["system_prompt_seed"] = system_prompt_seed
        if key not in self._managers:
            self._managers[key] = task_manager(metadata=metadata, datasets=self.config.datasets)
        return self._managers[key]

    def _run_shards(self, side: str, stage: str, shards: list[Shard]) -> None:
        todo = [s for s in shards if not self._finished(side, stage, s)]
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
        """The stage-1 shards a side runs: its search space's (under ``jeong2024`` the reference's per
        model, :mod:`medpair_tasks.study.space`)."""
        return list(self.plan.stage1[side])

    def _stage1_halving(self, side: str) -> None:
        folder = self.stage_dir(side, "stage1")
        work = [(cell, halving.schedule(len(self.plan.candidates(cell, side)), self.plan.items[cell.dataset]["val"],
                                        self.config.halving_eta, self.config.halving_min_items)) for cell in self.plan.cells]
        total = sum(halving.requests(rounds) * self.plan.per_item(cell) for cell, rounds in work)
        with _Worker(self, side, "stage1", total, 0) as worker:
            for cell, rounds in work:
                self._halving_cell(worker, folder, cell, rounds)

    def _halving_cell(self, worker: _Worker, folder: Path, cell: Cell, rounds: tuple[halving.Round, ...]) -> None:
        """One cell's successive halving: a shard per round, ranked on this cell's round shards only."""
        order = halving.item_order(self.plan.items[cell.dataset]["val"], self.config.seed)
        candidates = self.plan.candidates(cell, worker.side)
        shard_dirs: list[Path] = []  # this cell's rounds so far

        def evaluate(number: int, alive: np.ndarray, new: np.ndarray) -> None:
            for shard in self.plan.round_shards(cell, number, [candidates[i] for i in alive], len(new)):
                samples = {task: new.tolist() for task in shard.tasks}
                if self._finished(worker.side, "stage1", shard, samples):
                    worker.bar.update(shard.n_requests)
                else:
                    worker.run(shard, samples=samples)
                shard_dirs.append(folder / shard.id)

        def rank(alive: np.ndarray, items: np.ndarray) -> np.ndarray:
            return candidate_means(shard_dirs, cell, [candidates[i].prompt_id for i in alive])

        halving.run_schedule(rounds, order, evaluate, rank)

    def stage2(self) -> None:
        """Each model's validation-best candidate of every cell on the test role."""
        for side in SIDES:
            chosen = choose_candidates([self.stage_dir(side, "stage1")], self.plan.cells)
            self.manifest.selection[side] = {cell: c.task_name for cell, c in chosen.items()}
            self.manifest.selected_prompts[side] = {cell: c.prompt_id for cell, c in chosen.items()}
            self.manifest.save()
            shards = [self.plan.stage2_shard(cell, chosen[cell.key]) for cell in self.plan.cells]
            self._run_shards(side, "stage2", shards)

    def report(self) -> StudyResult:
        """``medpair compare`` on both stages' logs, published as ``OUT/report`` in one step."""
        from medpair_stats.compare import run_compare
        from medpair_stats.pairs import PairSpec
        from medpair_stats.report import outcome_shares

        final = self.out / REPORT_DIR
        tmp = scratch_dir(self.out, REPORT_DIR)
        runs = self.out / "runs"
        pair = PairSpec((runs / "medical",), (runs / "base",), self.names.get("medical"), self.names.get("base"))
        result = run_compare(out=tmp, pairs=[pair], progress=False, **self.compare_options)
        shares = outcome_shares(result.records)
        summary = (f"{shares['n']} comparisons: medical better in {shares['win_pct']:.1f}%, "
                   f"tie {shares['tie_pct']:.1f}%, worse {shares['loss_pct']:.1f}%")
        write_identity(tmp, self.manifest.identity)
        publish_dir(tmp, final)  # a finished report (from the same logs) is kept as it is
        self.manifest.report = str(final)
        self.manifest.save()
        return StudyResult(final, summary)

    def run(self) -> StudyResult:
        """The whole study; safe to call again after any interruption."""
        self.check_shards()
        cleared = clear_scratch(self.out)
        if cleared:
            log.info("removed %d leftovers of an interrupted run", cleared)
        with environment_recorded_once():
            self.stage1()
            self.stage2()
        return self.report()
