"""The grid of one model: every point trained once, resumable, best adapter chosen by validation loss.

Layout under ``OUT/<model-name>/``::

    run.json                  model, task, recipe and data fingerprint of this run
    points/<point>/           one folder per grid point (see medpair_tasks.finetune.train)
    grid.json                 every finished point's result, the best point, "complete"
    best/                     the best point's PEFT adapter (+ medpair_finetune.json provenance)
    curves.png                training and validation loss of every point

Resume: rerun the same command. A point with ``result.json`` is never trained again; a point
with a checkpoint continues from it; the others start. ``run.json`` guards the resume: a
different recipe or different data is refused (start afresh with ``--fresh`` or another
``--out``); learning rates and ranks may be added to the grid.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medpair_tasks import __version__
from medpair_tasks.finetune.config import GridPoint, Recipe
from medpair_tasks.finetune.data import TrainingData, encode_items
from medpair_tasks.finetune.plot import plot_curves
from medpair_tasks.finetune.train import (
    BEST,
    Hardware,
    PointResult,
    StepHook,
    load_tokenizer,
    read_result,
    train_point,
    write_json_atomic,
)
from medpair_tasks.wording import counted

log = logging.getLogger(__name__)

RUN_FILE = "run.json"
GRID_FILE = "grid.json"
CURVES_FILE = "curves.png"
PROVENANCE_FILE = "medpair_finetune.json"
REGIME = "finetuned"


class GridMismatch(RuntimeError):
    """The output folder holds a run with another recipe, other data or another model."""


@dataclass(frozen=True)
class GridRun:
    """A finished grid of one model."""

    name: str
    model: str
    folder: Path
    results: tuple[PointResult, ...]
    best: PointResult

    @property
    def adapter(self) -> Path:
        """The best adapter: ``pretrained=MODEL,peft=<this>`` in lm-eval's ``--model_args``."""
        return self.folder / BEST


def model_name(spec: str) -> str:
    """Output folder name of a model: a local folder's name, or the hub id with ``/`` as ``__`` (as lm-eval names folders)."""
    path = Path(spec)
    if path.is_dir():
        return path.resolve().name
    return spec.strip("/").replace("/", "__")


_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")


def curves_title(name: str, task: str, n_points: int) -> str:
    """The title of a model's learning-curve plot."""
    return f"{name} on {task}: LoRA grid ({counted(n_points, 'point')})"


def missing_local_model(spec: str) -> bool:
    """True when ``spec`` is meant as a local folder that does not exist.

    A spec that exists is a local model; one that cannot be a hub id (``org/name`` or ``name``)
    — an absolute or ``./``/``~`` path, more than one ``/``, characters a hub id cannot hold —
    or whose parent folder exists is meant as a local folder. The rest may be hub ids.
    """
    path = Path(spec).expanduser()
    if path.exists():
        return False
    if spec.startswith((".", "~", "/")) or not _HUB_ID.fullmatch(spec):
        return True
    return path.parent != Path(".") and path.parent.is_dir()


def point_dir(folder: Path, point: GridPoint) -> Path:
    """The folder of one grid point."""
    return folder / "points" / point.name


def point_status(folder: Path, point: GridPoint) -> str:
    """``finished``, ``in progress (step N)`` or ``to do``: what a rerun would do with the point."""
    pdir = point_dir(folder, point)
    if read_result(pdir) is not None:
        return "finished"
    for name in ("checkpoint", "checkpoint.old"):
        state = pdir / name / "state.json"
        if state.is_file():
            return f"in progress (step {json.loads(state.read_text())['step']})"
    return "to do"


def _run_record(model: str, task: str, recipe: Recipe, data: TrainingData) -> dict[str, Any]:
    return {"model": model, "task": task, "recipe": recipe.as_dict(), "data": data.describe()}


def check_or_start(folder: Path, record: dict[str, Any], fresh: bool = False) -> None:
    """Start ``folder`` for this run, or check that its earlier run is the same; ``fresh`` wipes it first."""
    if fresh and folder.exists():
        log.warning("--fresh: removing the earlier run in %s", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_FILE
    if path.is_file():
        earlier = json.loads(path.read_text())
        diffs = [key for key in ("model", "task", "recipe", "data") if earlier.get(key) != record[key]]
        if diffs:
            detail = "; ".join(f"{k}: was {earlier.get(k)!r}, now {record[k]!r}" for k in diffs)
            raise GridMismatch(
                f"{folder} holds a run with a different {', '.join(diffs)} ({detail[:600]}). "
                "Resume it with the same options, or start over with --fresh, or choose another --out."
            )
    else:
        write_json_atomic(path, record)


def choose_best(results: Sequence[PointResult]) -> PointResult:
    """The point with the lowest best validation loss; ties go to the earlier point of the grid."""
    if not results:
        raise ValueError("no finished grid point")
    return min(results, key=lambda r: r.best_val_loss)


def _copy_adapter(source: Path, target: Path, provenance: dict[str, Any]) -> None:
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    (tmp / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)


def eval_command(model: str, adapter: Path, dataset: str, output_path: Path | str = "EVAL_DIR") -> str:
    """The ``medpair eval`` command that evaluates an adapter zero-shot on the test role, labelled fine-tuned.

    It scores both modes of the dataset's default task (``medpair_<dataset>`` and
    ``medpair_<dataset>_gen``: greedy generation, as the paper evaluates fine-tuned models);
    ``--metadata`` puts ``regime: finetuned`` into every task's metadata in the results file.
    """
    tasks = f"medpair_{dataset},medpair_{dataset}_gen"
    return (
        f"medpair eval --model hf --model_args pretrained={model},peft={adapter} --tasks {tasks} "
        f"--metadata '{{\"regime\": \"{REGIME}\"}}' --log_samples --output_path {output_path}"
    )


def eval_folder(folder: Path) -> Path:
    """Where the suggested evaluation of a model's adapter writes its lm-eval logs: ``OUT/eval/<model-name>``."""
    return folder.parent / "eval" / folder.name


def write_grid_file(folder: Path, record: dict[str, Any], grid: Sequence[GridPoint], results: Sequence[PointResult],
                    best: PointResult | None, hardware: dict[str, Any] | None = None) -> Path:
    """Write ``grid.json``: the run record, every finished point, the best point and whether the grid is complete."""
    payload = {
        **record,
        "hardware": hardware,
        "medpair_version": __version__,
        "regime": REGIME,
        "grid": [{"name": p.name, "lr": p.lr, "rank": p.rank} for p in grid],
        "complete": len(results) == len(grid),
        "best": None if best is None else {
            "name": best.name, "lr": best.lr, "rank": best.rank, "best_val_loss": best.best_val_loss,
            "best_epoch": best.best_epoch, "adapter": str(folder / BEST),
            "evaluate": eval_command(record["model"], folder / BEST, record["data"]["dataset"], eval_folder(folder)),
        },
        "points": [r.as_dict() for r in results],
    }
    write_json_atomic(folder / GRID_FILE, payload)
    return folder / GRID_FILE


def run_grid(
    model: str,
    task: str,
    data: TrainingData,
    recipe: Recipe,
    grid: Sequence[GridPoint],
    out: Path,
    hardware: Hardware,
    name: str | None = None,
    trust_remote_code: bool = False,
    fresh: bool = False,
    progress: bool = True,
    on_step: StepHook | None = None,
) -> GridRun:
    """Train every grid point of ``model`` (skipping finished ones), then save the best adapter, ``grid.json`` and the curves."""
    from tqdm.auto import tqdm

    name = name or model_name(model)
    folder = Path(out) / name
    record = _run_record(model, task, recipe, data)
    acc = hardware.accelerator
    if acc.is_main_process:
        check_or_start(folder, record, fresh)
    acc.wait_for_everyone()
    tokenizer = load_tokenizer(model, trust_remote_code)
    train = encode_items(tokenizer, data.train, data.format_id, recipe.max_length, recipe.answer_eos)
    val = encode_items(tokenizer, data.val, data.format_id, recipe.max_length, recipe.answer_eos)
    results: list[PointResult] = []
    bar = tqdm(grid, desc=f"{name}: grid", unit="point", disable=not (progress and acc.is_local_main_process), dynamic_ncols=True)
    for point in bar:
        pdir = point_dir(folder, point)
        done = read_result(pdir)
        if done is not None:
            log.info("%s %s: finished earlier (validation loss %.4f), not repeated", name, point.name, done.best_val_loss)
        else:
            done = train_point(model, train, val, point, recipe, hardware, pdir, tokenizer.pad_token_id,
                               trust_remote_code=trust_remote_code, on_step=on_step, progress=progress)
        results.append(done)
        bar.set_postfix(best=f"{min(r.best_val_loss for r in results):.4f}")
        if acc.is_main_process:
            write_grid_file(folder, record, grid, results, None, hardware.describe())
    best = choose_best(results)
    if acc.is_main_process:
        provenance = {
            "regime": REGIME, "base_model": model, "task": task, "dataset": data.dataset, "format": data.format_id,
            "train_on": data.train_on, "point": best.name, "lr": best.lr, "rank": best.rank,
            "best_val_loss": best.best_val_loss, "best_epoch": best.best_epoch, "recipe": recipe.as_dict(),
            "data_fingerprint": data.fingerprint, "medpair_version": __version__,
        }
        _copy_adapter(point_dir(folder, best) / BEST, folder / BEST, provenance)
        write_grid_file(folder, record, grid, results, best, hardware.describe())
        plot_curves(results, best.name, folder / CURVES_FILE, curves_title(name, task, len(results)))
    acc.wait_for_everyone()
    log.info("%s: best %s, validation loss %.4f -> %s", name, best.name, best.best_val_loss, folder / BEST)
    return GridRun(name, model, folder, tuple(results), best)
