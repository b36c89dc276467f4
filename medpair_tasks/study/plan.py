"""What a study runs: the candidates of stage 1 (validation) and the cells of stage 2 (test)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from medpair_tasks import jeong2024_roles
from medpair_tasks.family.roles import DEFAULT_VAL_LIMIT, FEWSHOT_DRAW
from medpair_tasks.formats import format_ids
from medpair_tasks.knowledge.roles import scored_items
from medpair_tasks.knowledge.sources import SOURCES
from medpair_tasks.protocols import CLUE2024, DEFAULT_PROTOCOL, JEONG2024, PROTOCOLS
from medpair_tasks.taskspec import MODES, N_FEWSHOT_SEEDS, Candidate

SIDES = ("medical", "base")


@dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a study's results (models aside); a resumed run must match it."""

    datasets: tuple[str, ...]
    shots: tuple[int, ...] = (0, 3)
    modes: tuple[str, ...] = ("mc",)
    val_limit: int = DEFAULT_VAL_LIMIT
    seed: int = 0
    search: str = "exhaustive"
    halving_eta: int = 3
    halving_min_items: int = 50
    protocol: str = DEFAULT_PROTOCOL

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; known: {', '.join(PROTOCOLS)}")
        if self.protocol == CLUE2024.id:
            raise ValueError("the clue2024 protocol covers CLUE's clinical tasks, which medpair run does not run; "
                             "run them with medpair eval … --metadata '{\"protocol\": \"clue2024\"}'")
        unknown = [d for d in self.datasets if d not in SOURCES]
        if unknown:
            raise ValueError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
        if not self.datasets:
            raise ValueError("no dataset to run")
        if bad := [s for s in self.shots if s not in (0, FEWSHOT_DRAW)]:
            raise ValueError(f"shots must be 0 or {FEWSHOT_DRAW}, got {bad}")
        if bad := [m for m in self.modes if m not in MODES]:
            raise ValueError(f"mode must be one of {MODES}, got {bad}")
        if self.search not in ("exhaustive", "halving"):
            raise ValueError(f"search must be 'exhaustive' or 'halving', got {self.search!r}")

    def as_dict(self) -> dict:
        """JSON-able form (for the manifest)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Cell:
    """One (dataset, mode, shots) setting: a prompt is selected per cell and model."""

    dataset: str
    mode: str
    shots: int

    @property
    def key(self) -> str:
        """A stable name, e.g. ``medqa_mc_k3``."""
        return f"{self.dataset}_{self.mode}_k{self.shots}"

    def candidates(self) -> list[Candidate]:
        """The cell's prompt candidates, default format first."""
        seeds = [None] if self.shots == 0 else list(range(N_FEWSHOT_SEEDS))
        return [Candidate(self.dataset, self.mode, f, self.shots, s) for f in format_ids() for s in seeds]


@dataclass(frozen=True)
class Shard:
    """A unit of work that finishes (and resumes) as a whole: some tasks on one role."""

    id: str
    role: str
    tasks: tuple[str, ...]
    n_items: int
    n_requests: int


@dataclass(frozen=True)
class Plan:
    """The study's cells and the shards of stage 1 (the same for both models)."""

    config: StudyConfig
    cells: tuple[Cell, ...]
    stage1: tuple[Shard, ...]
    items: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset -> role -> items
    options: dict[str, int] = field(default_factory=dict)  # dataset -> options per question

    def per_item(self, cell: Cell) -> int:
        """Model requests per scored item: one per option in ``mc`` mode, one generation in ``gen``."""
        return self.options[cell.dataset] if cell.mode == "mc" else 1

    def requests(self, cell: Cell, role: str) -> int:
        """Model requests of one candidate of ``cell`` on ``role``."""
        return self.items[cell.dataset][role] * self.per_item(cell)

    def stage2_shard(self, cell: Cell, candidate: Candidate) -> Shard:
        """The stage-2 shard of one cell once its candidate is chosen."""
        return Shard(f"test_{cell.key}", "test", (candidate.task_name,), self.items[cell.dataset]["test"],
                     self.requests(cell, "test"))

    def summary(self) -> dict:
        """Counts per stage and model, for printing and the manifest."""
        s1_tasks = sum(len(s.tasks) for s in self.stage1)
        return {
            "cells": [c.key for c in self.cells],
            "stage1": {"role": "val", "tasks": s1_tasks, "shards": len(self.stage1),
                       "items": sum(s.n_items for s in self.stage1), "requests": sum(s.n_requests for s in self.stage1)},
            "stage2": {"role": "test", "tasks": len(self.cells),
                       "items": sum(self.items[c.dataset]["test"] for c in self.cells),
                       "requests": sum(self.requests(c, "test") for c in self.cells)},
            "items": self.items,
        }


def _scored(config: StudyConfig, dataset: str, role: str) -> list:
    """The items a role scores under the study's protocol."""
    pick = jeong2024_roles.scored_items if config.protocol == JEONG2024.id else scored_items
    return pick(dataset, role, config.val_limit)


def make_plan(config: StudyConfig) -> Plan:
    """Count items and build the stage-1 shards: one per (dataset, mode, shots, format)."""
    items, options = {}, {}
    for dataset in config.datasets:
        val = _scored(config, dataset, "val")
        test = _scored(config, dataset, "test")
        items[dataset] = {"val": len(val), "test": len(test)}
        options[dataset] = len(test[0].options)
    cells = tuple(Cell(d, m, k) for d in config.datasets for m in config.modes for k in config.shots)
    plan = Plan(config, cells, (), items, options)
    shards = []
    for cell in cells:
        by_format: dict[str, list[Candidate]] = {}
        for candidate in cell.candidates():
            by_format.setdefault(candidate.format_id, []).append(candidate)
        for format_id, group in by_format.items():
            per_task = plan.requests(cell, "val")
            shards.append(Shard(f"val_{cell.key}_{format_id}", "val", tuple(c.task_name for c in group),
                                items[cell.dataset]["val"] * len(group), per_task * len(group)))
    return Plan(config, cells, tuple(shards), items, options)


def format_plan(plan: Plan, models: dict[str, str]) -> str:
    """The plan as the text ``medpair run`` prints before it starts (and alone with --dry-run)."""
    s = plan.summary()
    lines = ["medpair study plan", f"  models:   medical = {models['medical']}", f"            base    = {models['base']}"]
    lines.append(f"  cells:    {len(plan.cells)} (dataset x mode x shots): {', '.join(s['cells'])}")
    for dataset, counts in plan.items.items():
        lines.append(f"  {dataset}: {counts['val']} validation items (limit {plan.config.val_limit}), {counts['test']} test items")
    one, two = s["stage1"], s["stage2"]
    search = plan.config.search
    lines.append(f"  stage 1 (validation, {search} search), per model: {one['tasks']} candidate tasks in {one['shards']} "
                 f"shards, {one['items']} items, {one['requests']} requests" + (" at most" if search == "halving" else ""))
    lines.append(f"  stage 2 (test), per model: {two['tasks']} tasks (each model's chosen candidate), "
                 f"{two['items']} items, {two['requests']} requests")
    lines.append(f"  total requests, both models: {2 * (one['requests'] + two['requests'])}")
    return "\n".join(lines)
