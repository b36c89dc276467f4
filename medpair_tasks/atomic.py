"""Writes that are all or nothing: a reader sees the old file or the new one, never a part.

Temporary files and folders get the permissions of an ordinary file or folder (0666 or 0777 less
the umask), not ``tempfile``'s private 0600 / 0700: they are renamed into place and stay the
results that colleagues on a shared server read.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

_NAME_ATTEMPTS = 100


def _create_fresh(parent: Path, prefix: str, suffix: str, create: Callable[[Path], None]) -> Path:
    """``parent/<prefix><random><suffix>``, created by ``create`` (which fails if the name exists)."""
    for _ in range(_NAME_ATTEMPTS):
        candidate = parent / f"{prefix}{secrets.token_hex(6)}{suffix}"
        try:
            create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name {prefix}*{suffix} in {parent}")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_fresh(path.parent, f".{path.name}.", ".tmp", lambda name: name.touch(exist_ok=False))
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def publish_dir(tmp_dir: Path, final_dir: Path) -> None:
    """Move a finished ``tmp_dir`` to ``final_dir`` in one rename; never replaces a finished one."""
    if final_dir.exists():
        shutil.rmtree(tmp_dir, ignore_errors=True)
        return
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp_dir, final_dir)


def scratch_dir(parent: Path, name: str) -> Path:
    """A fresh temporary folder ``parent/.tmp-<name>-*`` for work that :func:`publish_dir` finishes."""
    parent.mkdir(parents=True, exist_ok=True)
    return _create_fresh(parent, f".tmp-{name}-", "", lambda folder: folder.mkdir())


def clear_scratch(parent: Path) -> int:
    """Delete the leftovers of interrupted work under ``parent``; returns how many."""
    stale = list(parent.glob("**/.tmp-*")) if parent.exists() else []
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(stale)
