"""One grid point: LoRA training with early stopping on validation loss, resumable.

The loop is plain PyTorch driven by 🤗 Accelerate, so one code path serves the CPU, one GPU
(bf16 autocast, gradient checkpointing) and several GPUs (``accelerate launch``: data parallel,
each process takes its share of every step's examples; validation sums are reduced over
processes).

Data order is a function of (seed, epoch) only, so a run interrupted anywhere resumes from its
last checkpoint and continues exactly as it would have gone on. A point's folder holds

- ``checkpoint/``: the adapter, optimiser and scheduler state and ``state.json`` (step, history,
  best so far), replaced atomically every ``checkpoint_every`` steps and at every evaluation;
- ``best/``: the adapter of the evaluation with the lowest validation loss so far;
- ``result.json``: written when the point has finished (the checkpoint is then deleted);
  :mod:`medpair_tasks.finetune.grid` skips a point that has one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medpair_tasks.finetune.config import GridPoint, Recipe, Runtime, StepPlan, step_plan
from medpair_tasks.finetune.data import IGNORE_INDEX, Encoded, collate
from medpair_tasks.torchrng import own_torch_rng

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
CHECKPOINT = "checkpoint"
BEST = "best"
STATE_FILE = "state.json"

StepHook = Callable[[GridPoint, int], None]


@dataclass(frozen=True)
class Evaluation:
    """One validation pass: after ``step`` optimiser steps (``epoch`` in fractional epochs)."""

    step: int
    epoch: float
    train_loss: float | None
    val_loss: float


@dataclass(frozen=True)
class PointResult:
    """The outcome of one grid point; ``history[0]`` is the validation loss before training."""

    name: str
    lr: float
    rank: int
    best_val_loss: float
    best_step: int
    best_epoch: float
    initial_val_loss: float
    steps: int
    max_steps: int
    stopped_early: bool
    seconds: float
    history: tuple[Evaluation, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PointResult:
        """Inverse of :meth:`as_dict`."""
        values = dict(values)
        values["history"] = tuple(Evaluation(**h) for h in values.get("history", ()))
        return cls(**values)


def read_result(point_dir: Path) -> PointResult | None:
    """The finished result of a point, or None while it has not finished."""
    path = point_dir / RESULT_FILE
    return PointResult.from_dict(json.loads(path.read_text())) if path.is_file() else None


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON through a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- hardware


@dataclass(frozen=True)
class Hardware:
    """What :func:`resolve_hardware` chose: the accelerator and how to load the model."""

    accelerator: Any
    dtype: Any
    gradient_checkpointing: bool

    @property
    def device(self) -> str:
        """``cpu`` or ``cuda:N`` of this process."""
        return str(self.accelerator.device)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for ``grid.json``."""
        return {
            "device": self.accelerator.device.type,
            "processes": self.accelerator.num_processes,
            "precision": "bf16" if str(self.dtype) == "torch.bfloat16" else "fp32",
            "gradient_checkpointing": self.gradient_checkpointing,
        }


def resolve_hardware(runtime: Runtime) -> Hardware:
    """Pick device, precision and gradient checkpointing from ``runtime`` and what is visible.

    ``auto`` means: a GPU when CUDA sees one; bf16 there when the GPU supports it; gradient
    checkpointing with a GPU. Under ``accelerate launch`` every process gets its own GPU.
    """
    import torch
    from accelerate import Accelerator

    cuda = torch.cuda.is_available()
    if runtime.device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {runtime.device!r}")
    if runtime.device == "cuda" and not cuda:
        raise RuntimeError("--device cuda asked for, but torch sees no GPU")
    on_cpu = runtime.device == "cpu" or not cuda
    if runtime.precision == "auto":
        bf16 = (not on_cpu) and torch.cuda.is_bf16_supported()
    elif runtime.precision in ("bf16", "fp32"):
        bf16 = runtime.precision == "bf16"
    else:
        raise ValueError(f"precision must be auto, bf16 or fp32, got {runtime.precision!r}")
    if runtime.gradient_checkpointing not in ("auto", "on", "off"):
        raise ValueError(f"gradient checkpointing must be auto, on or off, got {runtime.gradient_checkpointing!r}")
    checkpointing = runtime.gradient_checkpointing == "on" or (runtime.gradient_checkpointing == "auto" and not on_cpu)
    accelerator = Accelerator(cpu=on_cpu, mixed_precision="bf16" if bf16 else "no")
    return Hardware(accelerator, torch.bfloat16 if bf16 else torch.float32, checkpointing)


# --------------------------------------------------------------------------- model


def load_tokenizer(model: str, trust_remote_code: bool = False) -> Any:
    """The model's tokenizer, with a padding token (end-of-sequence when it has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _lora_model(model_spec: str, point: GridPoint, recipe: Recipe, hardware: Hardware, trust_remote_code: bool = False) -> Any:
    """The base model wrapped with a fresh LoRA adapter of the point's rank (seeded)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(recipe.seed)
    model = AutoModelForCausalLM.from_pretrained(model_spec, dtype=hardware.dtype, trust_remote_code=trust_remote_code)
    model.config.use_cache = False
    if hardware.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    target = list(recipe.target_modules) if isinstance(recipe.target_modules, tuple) else recipe.target_modules
    config = LoraConfig(
        r=point.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=target,
        bias="none",
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft reads transformers' deprecated is_gradient_checkpointing
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, config)


def answer_loss_sum(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Sum of the next-token cross-entropy over the answer tokens of ``batch``, and their count."""
    import torch

    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    targets = batch["labels"][:, 1:]
    logits = logits[:, :-1].float()
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction="sum"
    )
    return loss, int((targets != IGNORE_INDEX).sum())


def validation_loss(model: Any, examples: Sequence[Encoded], recipe: Recipe, hardware: Hardware, pad_id: int) -> float:
    """Mean cross-entropy per answer token over ``examples``, summed over every process."""
    import torch

    acc = hardware.accelerator
    model = acc.unwrap_model(model)  # no DDP communication: processes may hold different numbers of batches
    mine = sorted(examples[acc.process_index :: acc.num_processes], key=lambda e: len(e.input_ids))
    total = torch.zeros(2, dtype=torch.float64, device=acc.device)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(mine), recipe.eval_batch_size):
            batch = {k: v.to(acc.device) for k, v in collate(mine[start : start + recipe.eval_batch_size], pad_id).items()}
            with acc.autocast():
                loss, count = answer_loss_sum(model, batch)
            total[0] += loss.double()
            total[1] += count
    if was_training:
        model.train()
    total = acc.reduce(total, reduction="sum")
    return float(total[0] / total[1])


# --------------------------------------------------------------------------- data order


def step_examples(plan: StepPlan, seed: int, step: int, n_train: int, world_size: int) -> list[int]:
    """Indices of the training examples of optimiser step ``step`` (0-based), over all processes.

    Epoch ``e`` visits the examples in the order ``default_rng([seed, e]).permutation``; with
    several processes a short last step is filled up from the epoch's start so that every
    process has a full batch (as PyTorch's ``DistributedSampler`` pads).
    """
    epoch, within = divmod(step, plan.steps_per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n_train)
    chosen = order[within * plan.examples_per_step : (within + 1) * plan.examples_per_step].tolist()
    if world_size > 1 and len(chosen) < plan.examples_per_step:
        chosen += np.resize(order, plan.examples_per_step - len(chosen)).tolist()
    return chosen


def micro_batches(indices: list[int], recipe: Recipe, rank: int, world_size: int) -> list[list[int]]:
    """This process's micro-batches of one step (micro-batch ``j`` of rank ``r`` is slice ``j·W + r``)."""
    out = []
    for j in range(recipe.grad_accum):
        start = (j * world_size + rank) * recipe.batch_size
        chunk = indices[start : start + recipe.batch_size]
        if chunk:
            out.append(chunk)
    return out


# --------------------------------------------------------------------------- checkpoints


@dataclass
class _State:
    step: int = 0
    best_val_loss: float = math.inf
    best_step: int = 0
    best_epoch: float = 0.0
    bad_evals: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    window_loss: float = 0.0
    window_tokens: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def _checkpoint_dir(point_dir: Path) -> Path | None:
    for name in (CHECKPOINT, CHECKPOINT + ".old"):
        candidate = point_dir / name
        if (candidate / STATE_FILE).is_file():
            return candidate
    return None


def _save_checkpoint(point_dir: Path, model: Any, optimizer: Any, scheduler: Any, state: _State, hardware: Hardware) -> None:
    import torch

    acc = hardware.accelerator
    acc.wait_for_everyone()
    if acc.is_main_process:
        tmp, final, old = point_dir / (CHECKPOINT + ".tmp"), point_dir / CHECKPOINT, point_dir / (CHECKPOINT + ".old")
        shutil.rmtree(tmp, ignore_errors=True)
        acc.unwrap_model(model).save_pretrained(tmp)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        rng = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save(rng, tmp / "rng.pt")
        (tmp / STATE_FILE).write_text(json.dumps(asdict(state), indent=2))
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    acc.wait_for_everyone()


def _save_best(point_dir: Path, model: Any, hardware: Hardware) -> None:
    acc = hardware.accelerator
    acc.wait_for_everyone()
    if acc.is_main_process:
        tmp = point_dir / (BEST + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        acc.unwrap_model(model).save_pretrained(tmp)
        shutil.rmtree(point_dir / BEST, ignore_errors=True)
        os.replace(tmp, point_dir / BEST)
    acc.wait_for_everyone()


# --------------------------------------------------------------------------- the loop


def _restore_adapter(model: Any, resume: Path | None, point: GridPoint, plan: StepPlan) -> _State:
    """Load the checkpoint's adapter weights into ``model`` and return its loop state (fresh without one)."""
    if resume is None:
        return _State()
    from peft import set_peft_model_state_dict
    from peft.utils import load_peft_weights

    set_peft_model_state_dict(model, load_peft_weights(str(resume), device="cpu"))
    state = _State(**json.loads((resume / STATE_FILE).read_text()))
    log.info("%s: resuming at step %d of %d from %s", point.name, state.step, plan.max_steps, resume)
    return state


def _restore_optimiser(resume: Path, optimizer: Any, scheduler: Any, hardware: Hardware) -> None:
    """Load the checkpoint's optimiser, scheduler and random-number-generator states."""
    import torch

    device = hardware.accelerator.device
    optimizer.load_state_dict(torch.load(resume / "optimizer.pt", map_location=device, weights_only=True))
    scheduler.load_state_dict(torch.load(resume / "scheduler.pt", weights_only=True))
    rng = torch.load(resume / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available() and len(rng["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(rng["cuda"])


def _accumulate_step(model: Any, train: Sequence[Encoded], batches: list[list[int]], tokens: int, pad_id: int,
                     hardware: Hardware) -> float:
    """Forward and backward passes over one step's micro-batches; returns the step's summed answer loss.

    Gradients are synchronised across processes only on the last micro-batch.
    """
    acc = hardware.accelerator
    step_loss = 0.0
    for j, chunk in enumerate(batches):
        batch = {k: v.to(acc.device) for k, v in collate([train[i] for i in chunk], pad_id).items()}
        sync = nullcontext() if j == len(batches) - 1 else acc.no_sync(model)
        with sync:
            with acc.autocast():
                loss_sum, _ = answer_loss_sum(model, batch)
            acc.backward(loss_sum / tokens)
        step_loss += float(loss_sum.detach())
    return step_loss


def _point_result(point: GridPoint, plan: StepPlan, state: _State) -> PointResult:
    """The finished point's result from its loop state."""
    history = tuple(Evaluation(**h) for h in state.history)
    return PointResult(
        name=point.name, lr=point.lr, rank=point.rank, best_val_loss=state.best_val_loss, best_step=state.best_step,
        best_epoch=state.best_epoch, initial_val_loss=history[0].val_loss, steps=state.step, max_steps=plan.max_steps,
        stopped_early=state.stopped_early, seconds=state.seconds, history=history,
    )


def _write_result(point_dir: Path, result: PointResult, hardware: Hardware) -> None:
    """Write ``result.json`` (main process) and delete the checkpoints, then release the accelerator's memory."""
    acc = hardware.accelerator
    acc.wait_for_everyone()
    if acc.is_main_process:
        write_json_atomic(point_dir / RESULT_FILE, result.as_dict())
        for name in (CHECKPOINT, CHECKPOINT + ".old", CHECKPOINT + ".tmp"):
            shutil.rmtree(point_dir / name, ignore_errors=True)
    acc.wait_for_everyone()
    acc.free_memory()


@own_torch_rng
def train_point(
    model_spec: str,
    train: Sequence[Encoded],
    val: Sequence[Encoded],
    point: GridPoint,
    recipe: Recipe,
    hardware: Hardware,
    point_dir: Path,
    pad_id: int,
    trust_remote_code: bool = False,
    on_step: StepHook | None = None,
    progress: bool = True,
) -> PointResult:
    """Train one grid point to its end (early stop or ``max_epochs``), resuming a checkpoint if one exists.

    Runs on a fork of torch's random state (:func:`medpair_tasks.torchrng.own_torch_rng`): the
    point's seed and a resumed checkpoint's random state do not leak into the caller's.
    ``on_step(point, step)`` runs after every optimiser step (and after the checkpoint of that
    step): tests use it to interrupt a run. Returns the finished result, also written to
    ``point_dir/result.json``; the best adapter is in ``point_dir/best``.
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    finished = read_result(point_dir)
    if finished is not None:
        return finished
    acc = hardware.accelerator
    point_dir.mkdir(parents=True, exist_ok=True)
    plan = step_plan(recipe, len(train), acc.num_processes)
    model = _lora_model(model_spec, point, recipe, hardware, trust_remote_code)
    resume = _checkpoint_dir(point_dir)
    state = _restore_adapter(model, resume, point, plan)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=point.lr, weight_decay=recipe.weight_decay)
    scheduler = get_scheduler(recipe.scheduler, optimizer, num_warmup_steps=plan.warmup_steps, num_training_steps=plan.max_steps)
    model, optimizer = acc.prepare(model, optimizer)
    if resume is not None:
        _restore_optimiser(resume, optimizer, scheduler, hardware)
    model.train()

    if not state.history:
        initial = validation_loss(model, val, recipe, hardware, pad_id)
        state.history.append(asdict(Evaluation(0, 0.0, None, initial)))
    evals = set(plan.eval_steps)
    started = time.monotonic() - state.seconds
    bar = tqdm(total=plan.max_steps, initial=state.step, desc=point.name, unit="step", leave=False,
               disable=not (progress and acc.is_local_main_process), dynamic_ncols=True)
    try:
        while state.step < plan.max_steps and not state.stopped_early:
            indices = step_examples(plan, recipe.seed, state.step, len(train), acc.num_processes)
            batches = micro_batches(indices, recipe, acc.process_index, acc.num_processes)
            tokens = sum(train[i].n_answer for chunk in batches for i in chunk)
            step_loss = _accumulate_step(model, train, batches, tokens, pad_id, hardware)
            if recipe.max_grad_norm > 0:
                acc.clip_grad_norm_(params, recipe.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            state.window_loss += step_loss
            state.window_tokens += tokens
            bar.update(1)
            bar.set_postfix(loss=f"{step_loss / tokens:.4f}", val=f"{state.history[-1]['val_loss']:.4f}", refresh=False)
            evaluated = state.step in evals
            if evaluated:
                _evaluate(model, val, recipe, hardware, pad_id, plan, state, point_dir, point)
            state.seconds = time.monotonic() - started
            if evaluated or (recipe.checkpoint_every and state.step % recipe.checkpoint_every == 0):
                _save_checkpoint(point_dir, model, optimizer, scheduler, state, hardware)
            if on_step is not None:
                on_step(point, state.step)
    finally:
        bar.close()
    state.seconds = time.monotonic() - started
    result = _point_result(point, plan, state)
    _write_result(point_dir, result, hardware)
    return result


def _evaluate(model: Any, val: Sequence[Encoded], recipe: Recipe, hardware: Hardware, pad_id: int, plan: StepPlan,
              state: _State, point_dir: Path, point: GridPoint) -> None:
    """Validation pass: record it, keep the best adapter, count evaluations without improvement."""
    val_loss = validation_loss(model, val, recipe, hardware, pad_id)
    epoch = state.step / plan.steps_per_epoch
    train_loss = state.window_loss / state.window_tokens if state.window_tokens else None
    state.history.append(asdict(Evaluation(state.step, epoch, train_loss, val_loss)))
    state.window_loss, state.window_tokens = 0.0, 0
    if val_loss < state.best_val_loss:
        state.best_val_loss, state.best_step, state.best_epoch, state.bad_evals = val_loss, state.step, epoch, 0
        _save_best(point_dir, model, hardware)
    else:
        state.bad_evals += 1
        if state.bad_evals >= recipe.patience:
            state.stopped_early = True
    log.info("%s step %d (epoch %.2f): train loss %s, validation loss %.4f (best %.4f at step %d)", point.name,
             state.step, epoch, "n/a" if train_loss is None else f"{train_loss:.4f}", val_loss, state.best_val_loss, state.best_step)
