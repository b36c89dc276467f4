"""``OUT/manifest.json``: what a study is, how far it got, and with which software."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

from medpair_tasks.atomic import write_text_atomic
from medpair_tasks.study.identity import differences
from medpair_tasks.taskspec import TASK_VERSION

MANIFEST = "manifest.json"


def software_versions() -> dict[str, str]:
    """Versions of the packages that decide a study's numbers."""
    versions = {"python": platform.python_version()}
    for package in ("medpair", "lm_eval", "transformers", "torch", "peft", "datasets", "numpy", "scipy"):
        try:
            versions[package] = pkg_metadata.version(package)
        except pkg_metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@dataclass
class Manifest:
    """The study's identity (models, data, config) and its progress; saved after every finished shard."""

    path: Path
    identity: dict[str, Any]
    plan: dict[str, Any]
    progress: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    selection: dict[str, dict[str, str]] = field(default_factory=dict)  # side -> cell -> chosen task name
    selected_prompts: dict[str, dict[str, str]] = field(default_factory=dict)  # side -> cell -> candidate id (f03/s7/sys1)
    report: str | None = None
    execution: dict[str, Any] = field(default_factory=dict)  # the latest run's batch size and device (not identity)

    @classmethod
    def open(cls, out: Path, identity: dict[str, Any], plan: dict[str, Any]) -> Manifest:
        """Load the manifest of ``out`` or start one (saved only by :meth:`save`); refuse another study's folder.

        The refusal names every field of the identity that differs from this command's.
        """
        path = out / MANIFEST
        if path.is_file():
            saved = json.loads(path.read_text(encoding="utf-8"))
            changed = differences(saved.get("identity"), identity)
            if changed:
                raise ValueError(
                    f"{out} holds a different study: {len(changed)} field(s) of its identity differ from this command\n"
                    + "".join(f"  - {line}\n" for line in changed)
                    + f"Use another --out for this study. Deleting {path} does not start over: every finished shard "
                    f"under {out / 'runs'} records the model and data it was made with and is never reused for "
                    f"another; delete the whole folder {out} to start over."
                )
            return cls(path, identity, plan, saved.get("progress", {}), saved.get("selection", {}),
                       saved.get("selected_prompts", {}), saved.get("report"))
        return cls(path, identity, plan)

    def done(self, side: str, stage: str, shard: str, tasks: tuple[str, ...], seconds: float) -> None:
        """Record a finished shard (its tasks reached ``stage``) and save."""
        entry = {"tasks": list(tasks), "seconds": round(seconds, 3)}
        self.progress.setdefault(side, {}).setdefault(stage, {})[shard] = entry
        self.save()

    def save(self) -> None:
        """Write the manifest atomically."""
        body = {
            "identity": self.identity,
            "execution": self.execution,
            "software": software_versions(),
            "task_version": TASK_VERSION,
            "plan": self.plan,
            "progress": self.progress,
            "selection": self.selection,
            "selected_prompts": self.selected_prompts,
            "report": self.report,
        }
        write_text_atomic(self.path, json.dumps(body, indent=1, sort_keys=True) + "\n")
