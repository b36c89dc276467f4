"""What a study runs: the candidates of stage 1 (validation) and the cells of stage 2 (test)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from medpair_tasks import jeong2024_roles
from medpair_tasks.family.roles import DEFAULT_VAL_LIMIT, FEWSHOT_DRAW
from medpair_tasks.knowledge.roles import scored_items
from medpair_tasks.knowledge.sources import SOURCES
from medpair_tasks.protocols import CLUE2024, DEFAULT_PROTOCOL, JEONG2024, PROTOCOLS
from medpair_tasks.study.space import FULL_FORMATS, SearchSpace
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

    def candidates(self, space: SearchSpace = FULL_FORMATS) -> list[Candidate]:
        """The cell's prompt candidates in ``space``, in the reference's (and the tie-break) order:
        system prompt (the model's own first), then format (default first), then few-shot seed."""
        seeds = [None] if self.shots == 0 else list(range(N_FEWSHOT_SEEDS))
        return [Candidate(self.dataset, self.mode, f, self.shots, s, system)
                for system in space.system_prompt_seeds for f in space.format_ids for s in seeds]


@dataclass(frozen=True)
class Shard:
    """A unit of work that finishes (and resumes) as a whole: some tasks on one role, run with
    one system prompt (``system_prompt_seed``, ``jeong2024`` run metadata; None: the model's own)."""

    id: str
    role: str
    tasks: tuple[str, ...]
    n_items: int
    n_requests: int
    system_prompt_seed: int | None = None


def system_suffix(system_prompt_seed: int | None, sep: str = "_") -> str:
    """The part of a shard or job id that names its sampled system prompt: ``""`` or ``"_sys1"``."""
    return "" if system_prompt_seed is None else f"{sep}sys{system_prompt_seed}"


@dataclass(frozen=True)
class Plan:
    """The study's cells, each model's search space and its shards of stage 1 (side -> shards)."""

    config: StudyConfig
    cells: tuple[Cell, ...]
    stage1: dict[str, tuple[Shard, ...]]
    items: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset -> role -> items
    options: dict[str, int] = field(default_factory=dict)  # dataset -> options per question
    spaces: dict[str, SearchSpace] = field(default_factory=lambda: {side: FULL_FORMATS for side in SIDES})

    def per_item(self, cell: Cell) -> int:
        """Model requests per scored item: one per option in ``mc`` mode, one generation in ``gen``."""
        return self.options[cell.dataset] if cell.mode == "mc" else 1

    def requests(self, cell: Cell, role: str) -> int:
        """Model requests of one candidate of ``cell`` on ``role``."""
        return self.items[cell.dataset][role] * self.per_item(cell)

    def stage2_shard(self, cell: Cell, candidate: Candidate) -> Shard:
        """The stage-2 shard of one cell once its candidate is chosen."""
        return Shard(f"test_{cell.key}", "test", (candidate.task_name,), self.items[cell.dataset]["test"],
                     self.requests(cell, "test"), candidate.system_prompt_seed)

    def candidates(self, cell: Cell, side: str) -> list[Candidate]:
        """The candidates ``side`` searches in ``cell``."""
        return cell.candidates(self.spaces[side])

    def round_shards(self, cell: Cell, number: int, alive: list[Candidate], n_new: int) -> list[Shard]:
        """A halving round's shards (``--search halving``): the ``alive`` candidates of ``cell`` on
        ``n_new`` more items, one shard per system prompt (the round's number in the id)."""
        groups: dict[int | None, list[str]] = {}
        for candidate in alive:
            groups.setdefault(candidate.system_prompt_seed, []).append(candidate.task_name)
        per_item = self.per_item(cell)
        return [Shard(f"val_{cell.key}_r{number}{system_suffix(system)}", "val", tuple(tasks), n_new * len(tasks),
                      per_item * n_new * len(tasks), system) for system, tasks in groups.items()]

    def summary(self) -> dict:
        """Counts per stage and model, for printing and the manifest."""
        stage1 = {side: {"role": "val", "tasks": sum(len(s.tasks) for s in shards), "shards": len(shards),
                         "items": sum(s.n_items for s in shards), "requests": sum(s.n_requests for s in shards)}
                  for side, shards in self.stage1.items()}
        return {
            "cells": [c.key for c in self.cells],
            "stage1": stage1,
            "stage2": {"role": "test", "tasks": len(self.cells),
                       "items": sum(self.items[c.dataset]["test"] for c in self.cells),
                       "requests": sum(self.requests(c, "test") for c in self.cells)},
            "items": self.items,
        }


def _scored(config: StudyConfig, dataset: str, role: str) -> list:
    """The items a role scores under the study's protocol."""
    pick = jeong2024_roles.scored_items if config.protocol == JEONG2024.id else scored_items
    return pick(dataset, role, config.val_limit)


def _stage1_shards(plan: Plan, side: str) -> tuple[Shard, ...]:
    """One side's stage-1 shards: one per (dataset, mode, shots, system prompt, format)."""
    shards = []
    for cell in plan.cells:
        groups: dict[tuple[int | None, str], list[Candidate]] = {}
        for candidate in plan.candidates(cell, side):
            groups.setdefault((candidate.system_prompt_seed, candidate.format_id), []).append(candidate)
        for (system, format_id), group in groups.items():
            shards.append(Shard(f"val_{cell.key}{system_suffix(system)}_{format_id}", "val",
                                tuple(c.task_name for c in group), plan.items[cell.dataset]["val"] * len(group),
                                plan.requests(cell, "val") * len(group), system))
    return tuple(shards)


def make_plan(config: StudyConfig, spaces: dict[str, SearchSpace] | None = None) -> Plan:
    """Count items and build each side's stage-1 shards; ``spaces`` (side -> search space, see
    :func:`medpair_tasks.study.space.search_space`) default to the 11 formats for both models."""
    items, options = {}, {}
    for dataset in config.datasets:
        val = _scored(config, dataset, "val")
        test = _scored(config, dataset, "test")
        items[dataset] = {"val": len(val), "test": len(test)}
        options[dataset] = len(test[0].options)
    cells = tuple(Cell(d, m, k) for d in config.datasets for m in config.modes for k in config.shots)
    spaces = dict(spaces) if spaces is not None else {side: FULL_FORMATS for side in SIDES}
    plan = Plan(config, cells, {}, items, options, spaces)
    return Plan(config, cells, {side: _stage1_shards(plan, side) for side in SIDES}, items, options, spaces)


def _space_text(space: SearchSpace) -> str:
    systems = "its own system prompt" + (
        f" and sampled seeds {', '.join(str(s) for s in space.system_prompt_seeds if s is not None)}"
        if len(space.system_prompt_seeds) > 1 else "")
    return f"{len(space.system_prompt_seeds)} system prompt(s) ({systems}) x {len(space.format_ids)} format(s)"


def format_plan(plan: Plan, models: dict[str, str]) -> str:
    """The plan as the text ``medpair run`` prints before it starts (and alone with --dry-run)."""
    s = plan.summary()
    lines = ["medpair study plan", f"  models:   medical = {models['medical']}", f"            base    = {models['base']}"]
    lines.append(f"  cells:    {len(plan.cells)} (dataset x mode x shots): {', '.join(s['cells'])}")
    for dataset, counts in plan.items.items():
        lines.append(f"  {dataset}: {counts['val']} validation items (limit {plan.config.val_limit}), {counts['test']} test items")
    if any(space != FULL_FORMATS for space in plan.spaces.values()):
        lines += [f"  prompts:  {side} = {_space_text(plan.spaces[side])}" for side in SIDES]
    two = s["stage2"]
    search = plan.config.search
    same = s["stage1"]["medical"] == s["stage1"]["base"]
    for label, one in ([("per model", s["stage1"]["medical"])] if same else list(s["stage1"].items())):
        lines.append(f"  stage 1 (validation, {search} search), {label}: {one['tasks']} candidate tasks in "
                     f"{one['shards']} shards, {one['items']} items, {one['requests']} requests"
                     + (" at most" if search == "halving" else ""))
    lines.append(f"  stage 2 (test), per model: {two['tasks']} tasks (each model's chosen candidate), "
                 f"{two['items']} items, {two['requests']} requests")
    total = sum(one["requests"] for one in s["stage1"].values()) + 2 * two["requests"]
    lines.append(f"  total requests, both models: {total}")
    return "\n".join(lines)
