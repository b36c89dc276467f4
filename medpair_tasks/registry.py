"""Finding medpair's task YAMLs and registering them with lm-eval."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from medpair_tasks.wording import counted


def task_path() -> Path:
    """The folder of medpair's lm-eval task YAMLs (``task_yaml/``, installed as ``medpair_task_yaml``)."""
    return Path(str(resources.files("medpair_task_yaml")))


class _QuietCustomDatasetNotice(logging.Filter):
    """Drop lm-eval's per-task notice about ``custom_dataset`` kwargs: one line per candidate."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Custom kwargs can be passed to `--metadata`" not in record.getMessage()


def quiet_lm_eval_notices() -> None:
    """Install :class:`_QuietCustomDatasetNotice` on lm-eval's task logger (once)."""
    logger = logging.getLogger("lm_eval.api.task")
    if not any(isinstance(f, _QuietCustomDatasetNotice) for f in logger.filters):
        logger.addFilter(_QuietCustomDatasetNotice())


@cache
def cache_prompt_templates() -> None:
    """Compile each Jinja2 prompt template once instead of once per rendering (lm-eval 0.4.13).

    lm-eval's ``utils.apply_template`` calls ``env.from_string`` for every document; with 121
    candidates × 500 items × 4 prompts that is most of the CPU time of building requests. The
    replacement renders with the same environment, so the text is identical.
    """
    import lm_eval.utils

    compiled = lru_cache(maxsize=1024)(lm_eval.utils.env.from_string)

    def apply_template(template: str, doc: dict) -> str:
        return compiled(template).render(**doc)

    lm_eval.utils.apply_template = apply_template


def task_manager(
    metadata: dict[str, Any] | None = None, include_defaults: bool = False, datasets: Iterable[str] | None = None
):
    """An lm-eval ``TaskManager`` that indexes medpair's tasks (only them, by default: instant).

    ``datasets`` limits the index to those datasets' folders (faster for a study).
    """
    from lm_eval.tasks import TaskManager

    quiet_lm_eval_notices()
    cache_prompt_templates()
    root = task_path()
    paths = [str(root / d) for d in datasets] if datasets else str(root)
    return TaskManager(include_path=paths, include_defaults=include_defaults, metadata=metadata)


def _with_medpair(include_path: Any) -> list[str]:
    paths = [] if include_path is None else list(include_path) if isinstance(include_path, (list, tuple)) else [include_path]
    ours = str(task_path())
    return [ours, *[str(p) for p in paths if str(p) != ours]]


def register_with_lm_eval() -> None:
    """Make every ``TaskManager`` lm-eval creates in this process also index medpair's tasks.

    A user's own ``--include_path`` is kept (and wins on a name clash); lm-eval's built-in
    tasks stay available.
    """
    import lm_eval.evaluator
    import lm_eval.tasks

    quiet_lm_eval_notices()
    cache_prompt_templates()
    base = lm_eval.tasks.TaskManager
    if getattr(base, "_medpair", False):
        return

    class MedpairTaskManager(base):  # type: ignore[misc, valid-type]
        _medpair = True

        def __init__(self, *args: Any, include_path: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, include_path=_with_medpair(include_path), **kwargs)

    lm_eval.tasks.TaskManager = MedpairTaskManager
    lm_eval.evaluator.TaskManager = MedpairTaskManager


@dataclass(frozen=True)
class TaskInfo:
    """One row of ``medpair tasks``."""

    name: str
    kind: str  # "task" or "group"
    dataset: str
    role: str
    mode: str
    shots: int | None
    format_id: str
    seed: int | None


def _member_modes(members: list, index: dict) -> set[str]:
    """Scoring modes of a group's members: inline ones by their metadata, named ones by their index entry."""
    modes: set[str] = set()
    for member in members:
        if isinstance(member, str):
            cfg = index[member].cfg if member in index else None
            member = cfg or {}
        if "metadata" in member and "mode" in member["metadata"]:
            modes.add(member["metadata"]["mode"])
        modes |= _member_modes(member.get("task", []) if isinstance(member.get("task"), list) else [], index)
    return modes


def list_tasks(pattern: str | None = None) -> Iterator[TaskInfo]:
    """medpair's tasks and groups whose name matches the glob ``pattern`` (all when None)."""
    from lm_eval.tasks._index import Kind

    index = task_manager().task_index
    for name in sorted(index):
        if pattern and not fnmatch.fnmatchcase(name, pattern):
            continue
        entry = index[name]
        if entry.kind == Kind.GROUP:
            members = entry.cfg.get("task", []) if entry.cfg else []
            mode = ",".join(sorted(_member_modes(members, index)))
            yield TaskInfo(name, "group", counted(len(members), "member"), "test", mode, 0, "f00", None)
            continue
        meta = (entry.cfg or {}).get("metadata", {})
        yield TaskInfo(
            name,
            "task",
            meta.get("dataset", "?"),
            meta.get("role", "?"),
            meta.get("mode", "?"),
            meta.get("shots"),
            meta.get("format", "?"),
            meta.get("fewshot_seed"),
        )
