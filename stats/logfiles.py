"""Find lm-eval output files and tell what each samples file holds.

lm-eval 0.4.13 writes, per run and model, ``OUT/<model>/results_<TS>.json``
and one ``OUT/<model>/samples_<task>_<TS>.jsonl`` per task, with the same
timestamp ``TS`` (``datetime.now().isoformat()`` with ``:`` replaced by
``-``).  A samples file belongs to the results file with its timestamp in its
folder.  This module pairs them and resolves, for every samples file, the
model name and the medpair task identity (metadata first, task name as the
fallback when the results file is missing or does not list the task).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .identity import TaskIdentity, identity_from_metadata, parse_task_name

__all__ = [
    "SamplesFile",
    "check_log_path",
    "discover_samples_files",
    "model_name_from_results",
    "split_samples_filename",
]

logger = logging.getLogger(__name__)

_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?$")
_MODEL_ARG_KEYS = ("peft", "delta", "pretrained", "model", "path", "engine")


@dataclass(frozen=True)
class SamplesFile:
    """One ``samples_<task>_<TS>.jsonl`` file and what it holds."""

    path: Path
    task: str
    timestamp: str
    """The run's timestamp from the file name ("" when the name has none)."""
    model: str
    identity: TaskIdentity
    results_path: Path | None
    """The results file of the same run, None when it is missing."""
    size: int
    limit: tuple[int, int] | None = None
    """(items evaluated, items in the split) when the run was made with lm-eval's ``--limit``."""


def split_samples_filename(name: str) -> tuple[str, str] | None:
    """Split ``samples_<task>_<TS>.jsonl`` into (task, TS); None if not one.

    Task names may hold underscores; the timestamp never does, so the last
    underscore separates them (lm-eval's own ``get_file_task_name`` rule).
    A name without a valid timestamp gives TS "".
    """
    if not (name.startswith("samples_") and name.endswith(".jsonl")):
        return None
    middle = name[len("samples_") : -len(".jsonl")]
    task, sep, stamp = middle.rpartition("_")
    if sep and task and _TS_RE.match(stamp):
        return task, stamp
    return (middle, "") if middle else None


def model_name_from_results(results: Mapping[str, Any]) -> str | None:
    """The model name of a results file: ``model_name``, else ``model_args``."""
    name = results.get("model_name")
    if isinstance(name, str) and name:
        return name
    config = results.get("config")
    args = config.get("model_args") if isinstance(config, Mapping) else None
    if isinstance(args, Mapping):
        for key in _MODEL_ARG_KEYS:
            if key in args and args[key]:
                return str(args[key])
    elif isinstance(args, str):
        for key in _MODEL_ARG_KEYS:
            marker = f"{key}="
            if marker in args:
                return args.split(marker, 1)[1].split(",", 1)[0]
    return None


def _load_results(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        logger.warning("cannot read results file %s (%s); using task names instead", path, exc)
        return None
    if not isinstance(data, dict):
        logger.warning("results file %s is not a JSON object; ignored", path)
        return None
    return data


DEFAULT_PROTOCOL = "medpair"


def protocols_in(paths: Iterable[str | Path]) -> set[str]:
    """The protocol ids that the task metadata of the results files under ``paths`` name.

    A medpair task without a ``protocol`` entry (logs written before protocols existed) counts
    as the default protocol, ``medpair``.
    """
    found: set[str] = set()
    for root in paths:
        root = Path(root)
        files = [root] if root.is_file() else sorted(root.rglob("results_*.json"))
        for path in files:
            configs = (_load_results(path) or {}).get("configs") or {}
            for config in configs.values():
                meta = config.get("metadata") if isinstance(config, Mapping) else None
                if isinstance(meta, Mapping) and "dataset" in meta:
                    found.add(str(meta.get("protocol") or DEFAULT_PROTOCOL))
    return found


def check_log_path(raw: str | Path) -> Path:
    """``raw`` as an absolute path, or FileNotFoundError with a one-line reason (missing, symlink loop)."""
    path = Path(os.path.abspath(raw))
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(f"{raw} is a symbolic link loop (it never reaches a folder or file)") from None
        raise FileNotFoundError(f"no such log folder or file: {raw}") from None
    return path


def _walk_samples(top: Path, seen_dirs: set[tuple[int, int]]) -> list[Path]:
    """``samples_*.jsonl`` under ``top``, following symlinked folders; each real folder is visited once."""
    found = []
    for folder, dirs, names in os.walk(top, followlinks=True):
        info = os.stat(folder)
        if (info.st_dev, info.st_ino) in seen_dirs:
            dirs[:] = []  # a loop, or a folder reached twice
            continue
        seen_dirs.add((info.st_dev, info.st_ino))
        dirs.sort()
        found += [Path(folder) / n for n in sorted(names) if split_samples_filename(n) is not None]
    return found


def _iter_candidate_paths(paths: Iterable[str | Path]) -> list[Path]:
    """The samples files under ``paths`` (as found, absolute), each real file once."""
    found: dict[tuple[int, int], Path] = {}
    seen_dirs: set[tuple[int, int]] = set()
    for raw in paths:
        p = check_log_path(raw)
        if p.is_file():
            candidates = [p] if split_samples_filename(p.name) is not None else []
        else:
            candidates = _walk_samples(p, seen_dirs)
        for f in candidates:
            try:
                info = os.stat(f)
            except OSError:  # a dangling link
                continue
            if os.path.isfile(f):
                found.setdefault((info.st_dev, info.st_ino), f)
    return sorted(found.values())


def _limit_of(results: Mapping[str, Any] | None, task: str) -> tuple[int, int] | None:
    """(evaluated, in the split) of ``task`` when its run used ``--limit``, from the results file."""
    if not results:
        return None
    config = results.get("config")
    if not isinstance(config, Mapping) or config.get("limit") in (None, 0):
        return None
    counts = (results.get("n-samples") or {}).get(task)
    if isinstance(counts, Mapping):
        try:
            used, total = int(counts["effective"]), int(counts["original"])
        except (KeyError, TypeError, ValueError):
            return None
        return (used, total) if used < total else None
    return None


def _results_for_folder(folder: Path, stamps: set[str]) -> dict[str, Path]:
    """Map TS -> results file for the timestamps seen in ``folder``.

    ``results_<TS>.json`` is lm-eval's name; ``<stem>_<TS>.json`` is what it
    writes when ``--output_path`` ends in ``.json``.
    """
    out: dict[str, Path] = {}
    for stamp in sorted(s for s in stamps if s):
        preferred = folder / f"results_{stamp}.json"
        if preferred.is_file():
            out[stamp] = preferred
            continue
        others = sorted(folder.glob(f"*_{stamp}.json"))
        if others:
            out[stamp] = others[0]
    return out


def discover_samples_files(paths: Sequence[str | Path]) -> list[SamplesFile]:
    """Find every medpair samples file under ``paths`` (folders or files).

    Folders are searched recursively, so both ``OUT`` and ``OUT/<model>``
    work; symlinked folders are followed (each real folder once, so a link
    loop ends), and a file reached by two routes counts once.  Files of tasks
    that are not medpair's are skipped (DEBUG log).
    The result is sorted from the oldest run to the newest (timestamp, then
    path), the order in which duplicate records are resolved.
    """
    files = _iter_candidate_paths(paths)
    by_folder: dict[Path, list[tuple[Path, str, str]]] = defaultdict(list)
    for f in files:
        split = split_samples_filename(f.name)
        assert split is not None
        by_folder[f.parent].append((f, split[0], split[1]))

    out: list[SamplesFile] = []
    for folder in sorted(by_folder):
        entries = by_folder[folder]
        res_paths = _results_for_folder(folder, {stamp for _, _, stamp in entries})
        results = {stamp: _load_results(p) for stamp, p in res_paths.items()}
        names = {model_name_from_results(r) for r in results.values() if r}
        names.discard(None)
        folder_model = sorted(names)[0] if len(names) == 1 else folder.name
        for path, task, stamp in entries:
            res = results.get(stamp)
            model = (model_name_from_results(res) if res else None) or folder_model
            ident: TaskIdentity | None
            configs = res.get("configs") if res else None
            if isinstance(configs, Mapping) and isinstance(configs.get(task), Mapping):
                meta = configs[task].get("metadata")
                n_shot = (res.get("n-shot") or {}).get(task) if res else None
                ident = identity_from_metadata(task, meta if isinstance(meta, Mapping) else None, n_shot)
            else:
                if res is not None:
                    logger.info("results file %s does not list task %s; parsing the task name", res_paths[stamp], task)
                ident = parse_task_name(task)
            if ident is None:
                logger.debug("skipping %s: not a medpair task", path)
                continue
            if stamp not in res_paths:
                logger.info("no results file for %s; identity from the task name and docs", path)
            out.append(
                SamplesFile(
                    path=path,
                    task=task,
                    timestamp=stamp,
                    model=model,
                    identity=ident,
                    results_path=res_paths.get(stamp),
                    size=path.stat().st_size,
                    limit=_limit_of(res, task),
                )
            )
    out.sort(key=lambda s: (s.timestamp, str(s.path)))
    return out
