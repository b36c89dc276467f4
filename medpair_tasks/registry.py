"""Finding medpair's task YAMLs: by name, for lm-eval's index, and for ``medpair tasks``.

Every medpair task or group lives in one YAML file named after it (``<name>.yaml``), so a
requested name maps to its file without parsing anything; a group's file names its members.
:func:`files_for` uses that to index only what a run needs; :func:`list_tasks` reads the files
itself (plain YAML, no lm-eval import) so that ``medpair tasks`` starts in well under a second.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from medpair_tasks.wording import counted

CANDIDATE_FOLDER = "candidates"
_GLOB_CHARS = "*?["
PREFIX = "medpair_"


def task_path() -> Path:
    """The folder of medpair's lm-eval task YAMLs (``task_yaml/``, installed as ``medpair_task_yaml``)."""
    return Path(str(resources.files("medpair_task_yaml")))


@cache
def _task_files(root: Path) -> dict[str, Path]:
    table: dict[str, Path] = {}
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for file in files:
            if file.endswith(".yaml"):
                table[file[: -len(".yaml")]] = Path(folder) / file
    return table


def task_files() -> dict[str, Path]:
    """Every medpair task or group name → its YAML file."""
    return _task_files(task_path())


def is_candidate_file(path: Path) -> bool:
    """Whether a task file is a prompt candidate (they live in ``<dataset>/candidates/``)."""
    return path.parent.name == CANDIDATE_FOLDER


class _TaskYamlLoader(yaml.SafeLoader):
    """Plain YAML with lm-eval's ``!function`` tags read as their dotted path."""


_TaskYamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


@cache
def read_task_file(path: Path) -> dict[str, Any]:
    """One medpair task YAML as written (its ``include:`` not merged; medpair keeps metadata in each file)."""
    loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskYamlLoader)  # noqa: S506 (a SafeLoader)
    return loaded if isinstance(loaded, dict) else {}


def _is_glob(name: str) -> bool:
    return any(c in name for c in _GLOB_CHARS)


def owns(name: str) -> bool:
    """Whether ``name`` (a task or group name, or a glob) can only mean medpair tasks."""
    if _is_glob(name):
        literal = name[: min(name.find(c) for c in _GLOB_CHARS if c in name)]
        return literal.startswith(PREFIX)
    return name in task_files()


def matching(name: str) -> list[str]:
    """medpair's task and group names that ``name`` denotes (itself, or a glob's matches)."""
    table = task_files()
    if _is_glob(name):
        return sorted(fnmatch.filter(table, name))
    return [name] if name in table else []


def _string_members(config: dict[str, Any]) -> list[str]:
    """The members of a group config named by a string (inline members come with the group's file)."""
    members = config.get("task") if "group" in config else None
    found: list[str] = []
    for member in members if isinstance(members, list) else []:
        if isinstance(member, str):
            found.append(member)
        elif isinstance(member, dict):
            found += _string_members(member)
    return found


def files_for(names: Iterable[str]) -> tuple[Path, ...] | None:
    """The YAML files that the requested names need (groups with their members), or None when a name
    is not medpair's (then lm-eval's full index is needed)."""
    table = task_files()
    wanted: dict[str, Path] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        if not owns(name):
            return None
        for match in matching(name):
            if match not in wanted:
                wanted[match] = table[match]
                pending += _string_members(read_task_file(table[match]))
    return tuple(sorted(wanted.values()))


def _inline_datasets(config: dict[str, Any]) -> set[str]:
    metadata = config.get("metadata")
    found = {metadata["dataset"]} if isinstance(metadata, dict) and isinstance(metadata.get("dataset"), str) else set()
    members = config.get("task")
    for member in members if isinstance(members, list) else []:
        if isinstance(member, dict):
            found |= _inline_datasets(member)
    return found


def datasets_of(files: Iterable[Path]) -> set[str]:
    """The datasets the given task files read (their metadata, and their inline group members')."""
    found: set[str] = set()
    for path in files:
        found |= _inline_datasets(read_task_file(path))
    return found


def task_manager(
    metadata: dict[str, Any] | None = None, include_defaults: bool = False, datasets: Iterable[str] | None = None
):
    """An lm-eval ``TaskManager`` that indexes medpair's tasks (only them, by default: instant).

    ``datasets`` limits the index to those datasets' folders (faster for a study).
    """
    from medpair_tasks.lm_eval_internals import cache_prompt_templates, quiet_lm_eval_notices, task_manager_class

    quiet_lm_eval_notices()
    cache_prompt_templates()
    root = task_path()
    paths = [str(root / d) for d in datasets] if datasets else str(root)
    return task_manager_class()(include_path=paths, include_defaults=include_defaults, metadata=metadata)


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


def _member_modes(members: list) -> set[str]:
    """Scoring modes of a group's members: inline ones by their metadata, named ones by their file."""
    table = task_files()
    modes: set[str] = set()
    for member in members:
        if isinstance(member, str):
            member = read_task_file(table[member]) if member in table else {}
        if "metadata" in member and "mode" in member["metadata"]:
            modes.add(member["metadata"]["mode"])
        modes |= _member_modes(member.get("task", []) if isinstance(member.get("task"), list) else [])
    return modes


def _info(name: str, config: dict[str, Any]) -> TaskInfo:
    if "group" in config:
        members = config.get("task", [])
        mode = ",".join(sorted(_member_modes(members)))
        return TaskInfo(name, "group", counted(len(members), "member"), "test", mode, 0, "f00", None)
    meta = config.get("metadata", {})
    return TaskInfo(name, "task", meta.get("dataset", "?"), meta.get("role", "?"), meta.get("mode", "?"),
                    meta.get("shots"), meta.get("format", "?"), meta.get("fewshot_seed"))


def list_tasks(pattern: str | None = None, candidates: bool = True) -> Iterator[TaskInfo]:
    """medpair's tasks and groups whose name matches the glob ``pattern`` (all when None).

    ``candidates=False`` leaves the prompt candidates out without reading their files.
    """
    table = task_files()
    for name in sorted(table):
        if pattern and not fnmatch.fnmatchcase(name, pattern):
            continue
        if not candidates and is_candidate_file(table[name]):
            continue
        yield _info(name, read_task_file(table[name]))


def count_candidates() -> int:
    """How many prompt candidates medpair has (without reading them)."""
    return sum(is_candidate_file(path) for path in task_files().values())
