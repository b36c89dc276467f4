"""The fine-tuning recipe and its hyper-parameter grid.

The defaults follow the extended study of Jeong et al.: LoRA on every linear layer but the
output head, alpha 16, dropout 0, AdamW, cosine schedule with 5% warm-up, at most 10 epochs
with early stopping (patience 1) on validation loss, sequences of at most 2048 tokens; the grid
is learning rate {1e-5, 2e-5, 5e-5, 1e-4, 2e-4} × LoRA rank {16, 32, 64}, and the best point
is the one with the lowest validation loss. The batch size, weight decay and gradient clipping
are not fixed by the paper: medpair uses 8 examples per step, no weight decay and clipping at
norm 1 (the defaults of Hugging Face's ``Trainer``), all changeable.

A :class:`Recipe` is everything that decides the trained weights; hardware choices (device,
precision, gradient checkpointing) live in :class:`Runtime`, so an interrupted run may resume
on another machine.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_LEARNING_RATES: tuple[float, ...] = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4)
DEFAULT_RANKS: tuple[int, ...] = (16, 32, 64)
SCHEDULERS = ("cosine", "linear", "constant_with_warmup")
TRAIN_ON = ("pool", "val")


@dataclass(frozen=True)
class Recipe:
    """The training recipe shared by every grid point (and by both models of a pair).

    The validation loss is computed at the end of every epoch and, when ``eval_every`` > 0, also
    every ``eval_every`` steps; ``patience`` counts evaluations, so with the defaults training
    stops after the first epoch that does not lower the validation loss.
    ``checkpoint_every`` is in optimiser steps; a checkpoint is also written at every evaluation.
    """

    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: str | tuple[str, ...] = "all-linear"
    max_epochs: int = 10
    patience: int = 1
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 2048
    batch_size: int = 8
    grad_accum: int = 1
    eval_batch_size: int = 8
    eval_every: int = 0
    checkpoint_every: int = 100
    answer_eos: bool = True
    format_id: str = "f00"
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ("max_epochs", "patience", "max_length", "batch_size", "grad_accum", "eval_batch_size")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"recipe: {name} must be at least 1, got {getattr(self, name)}")
        if self.eval_every < 0 or self.checkpoint_every < 0:
            raise ValueError("recipe: eval_every and checkpoint_every must be ≥ 0 (0: at each epoch's end)")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"recipe: warmup_ratio must lie in [0, 1), got {self.warmup_ratio}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"recipe: dropout must lie in [0, 1), got {self.dropout}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"recipe: scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.alpha <= 0 or self.weight_decay < 0 or self.max_grad_norm < 0:
            raise ValueError("recipe: alpha must be > 0, weight_decay and max_grad_norm ≥ 0")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists)."""
        out = asdict(self)
        if isinstance(self.target_modules, tuple):
            out["target_modules"] = list(self.target_modules)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Recipe:
        """Inverse of :meth:`as_dict`."""
        values = dict(values)
        if isinstance(values.get("target_modules"), list):
            values["target_modules"] = tuple(values["target_modules"])
        return cls(**values)


@dataclass(frozen=True)
class Runtime:
    """Hardware choices: they change speed and memory, not the recipe.

    ``device``: ``auto`` (a GPU when one is visible, else the CPU), ``cpu`` or ``cuda``;
    ``precision``: ``auto`` (bf16 on a GPU that supports it, else float32), ``bf16`` or ``fp32``;
    ``gradient_checkpointing``: ``auto`` (on with a GPU), ``on`` or ``off``.
    """

    device: str = "auto"
    precision: str = "auto"
    gradient_checkpointing: str = "auto"
    trust_remote_code: bool = False
    progress: bool = True


@dataclass(frozen=True)
class GridPoint:
    """One point of the hyper-parameter grid."""

    lr: float
    rank: int

    @property
    def name(self) -> str:
        """Folder-safe name, e.g. ``lr2e-05_r16``."""
        return f"lr{self.lr:g}_r{self.rank}"


def make_grid(learning_rates: tuple[float, ...] = DEFAULT_LEARNING_RATES, ranks: tuple[int, ...] = DEFAULT_RANKS) -> tuple[GridPoint, ...]:
    """The grid, learning rate major: ties in validation loss go to the earlier point."""
    if not learning_rates or not ranks:
        raise ValueError("the grid needs at least one learning rate and one rank")
    if any(not (lr > 0 and math.isfinite(lr)) for lr in learning_rates) or any(r < 1 for r in ranks):
        raise ValueError(f"learning rates must be positive and ranks ≥ 1: {learning_rates}, {ranks}")
    points = tuple(GridPoint(float(lr), int(rank)) for lr in learning_rates for rank in ranks)
    if len({p.name for p in points}) != len(points):
        raise ValueError(f"the grid repeats a point: {[p.name for p in points]}")
    return points


@dataclass(frozen=True)
class StepPlan:
    """How many optimiser steps one grid point takes at most."""

    n_train: int
    examples_per_step: int
    steps_per_epoch: int
    max_steps: int
    warmup_steps: int
    eval_steps: tuple[int, ...] = field(default=())


def step_plan(recipe: Recipe, n_train: int, world_size: int = 1) -> StepPlan:
    """The step budget of one grid point for ``n_train`` training examples on ``world_size`` processes.

    An epoch is ``ceil(n_train / (batch_size × grad_accum × world_size))`` optimiser steps; the
    schedule spans ``max_epochs`` epochs (early stopping may end sooner); the warm-up is
    ``ceil(warmup_ratio × max_steps)`` steps, as in Hugging Face's ``Trainer``.
    """
    if n_train < 1:
        raise ValueError("no training examples")
    per_step = recipe.batch_size * recipe.grad_accum * world_size
    steps_per_epoch = math.ceil(n_train / per_step)
    max_steps = steps_per_epoch * recipe.max_epochs
    warmup = math.ceil(recipe.warmup_ratio * max_steps)
    if recipe.eval_every:
        evals = set(range(recipe.eval_every, max_steps + 1, recipe.eval_every))
    else:
        evals = set()
    evals |= set(range(steps_per_epoch, max_steps + 1, steps_per_epoch))
    return StepPlan(n_train, per_step, steps_per_epoch, max_steps, warmup, tuple(sorted(evals)))
