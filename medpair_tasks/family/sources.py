"""Reading a family's datasets: the table of sources, the data folder, the hub, the cache.

Every family (:mod:`medpair_tasks.knowledge`, :mod:`medpair_tasks.clinical`,
:mod:`medpair_tasks.vqa`) keeps its datasets in one table, name → row, in its ``sources``
module; a row names the dataset's folder under ``$MEDPAIR_DATA_DIR`` and its reader(s).
:class:`SourceTable` is that table with the machinery around it: the folder of a dataset
(:meth:`SourceTable.folder`), and its source splits read once per (dataset, data folder)
(:meth:`SourceTable.load`). The family says only how one row is read (``read(name, row,
folder)``): from the local copy (:func:`read_local`, every error one
:class:`DataUnavailable`), else from the Hugging Face hub (:func:`read_from_hub`).

The file helpers (:func:`read_json`, :func:`read_jsonl`, :func:`first_existing`,
:func:`naming_file`) make every data error name the file at fault.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import pickle
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

DATA_DIR_ENV = "MEDPAIR_DATA_DIR"
Loaded = TypeVar("Loaded")
Row = TypeVar("Row")

HUB_PROBE_TIMEOUT_S = 3.0
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}  # what huggingface_hub and datasets accept as "set"
OFFLINE_HINT = f"set HF_HUB_OFFLINE=1 (read the hub cache only) or ${DATA_DIR_ENV} (a local copy)"
#: What a local reader may raise for a file that is missing, unreadable or off its schema.
LOCAL_READ_ERRORS: tuple[type[Exception], ...] = (OSError, ValueError, KeyError, IndexError)
SOURCE_CACHE_SIZE = 32


class DataUnavailable(RuntimeError):
    """A dataset could not be read: names the dataset, where medpair looked and how to get it."""

    def __init__(self, dataset: str, looked_at: str, how_to_get: str, reason: str = "") -> None:
        self.dataset = dataset
        message = f"the {dataset} data is not available.\n  looked at: {looked_at}\n"
        if reason:
            message += f"  problem:   {reason}\n"
        message += f"  get it:    {how_to_get}"
        super().__init__(message)


@contextmanager
def naming_file(path: Path) -> Iterator[None]:
    """Content errors raised inside the block name ``path``.

    A ``KeyError``, ``IndexError``, ``TypeError``, ``ValueError`` (a JSON or UTF-8 decoding error
    among them), ``csv.Error`` or ``pickle.UnpicklingError`` whose message lacks the path becomes
    a ValueError that starts with it, so every data error says which file is at fault.
    """
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, csv.Error, pickle.UnpicklingError) as err:
        if str(path) in str(err):
            raise
        raise ValueError(f"{path}: {_describe(err)}") from err


def _describe(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
    if isinstance(err, UnicodeDecodeError):
        return f"not UTF-8 text (byte {err.start})"
    return f"{type(err).__name__}: {err}"


def read_json(path: Path) -> Any:
    """The content of a JSON file; a file that is not JSON is a ValueError naming it."""
    with naming_file(path):
        return json.loads(path.read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSON-lines file; a bad line is a ValueError naming file and line."""
    with naming_file(path), path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: not a JSON line ({err.msg})") from err


def first_existing(folder: Path, *candidates: str) -> Path:
    """The first of ``candidates`` that exists in ``folder``; FileNotFoundError naming all of them."""
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(" or ".join(str(folder / c) for c in candidates))


def hub_offline() -> bool:
    """Whether Hugging Face's offline mode is on (``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE``)."""
    return any(os.environ.get(name, "").upper() in _TRUE_VALUES for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_unreachable() -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when it answers (one quick probe per endpoint)."""
    return _probe_hub(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))


@lru_cache(maxsize=4)
def _probe_hub(endpoint: str) -> str | None:
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=HUB_PROBE_TIMEOUT_S).close()
    except urllib.error.HTTPError:
        return None  # it answered, if only with an error status
    except (urllib.error.URLError, OSError, ValueError) as err:
        return f"the Hugging Face hub ({endpoint}) cannot be reached ({getattr(err, 'reason', err)})"
    return None


def read_from_hub(name: str, looked_at: str, how_to_get: str, read: Callable[[], Loaded]) -> Loaded:
    """``read()`` a dataset from the hub; every failure is one :class:`DataUnavailable`.

    Without offline mode an unreachable hub fails at once with :data:`OFFLINE_HINT`, instead of
    after the hub clients' retries; in offline mode a failure says that only the cache was read.
    """
    offline = hub_offline()
    if not offline and (problem := hub_unreachable()):
        raise DataUnavailable(name, looked_at, how_to_get, f"{problem}; {OFFLINE_HINT}")
    try:
        return read()
    except Exception as err:  # datasets and huggingface_hub raise many kinds; all mean the same here
        reason = f"{type(err).__name__}: {str(err)[:300]}"
        if offline:
            reason += f"; offline mode is on (HF_HUB_OFFLINE), so only the hub cache was read: put a local copy in ${DATA_DIR_ENV}"
        raise DataUnavailable(name, looked_at, how_to_get, reason) from err


def data_folder(folder: str) -> Path | None:
    """``$MEDPAIR_DATA_DIR/<folder>``, or None when the variable is unset."""
    root = os.environ.get(DATA_DIR_ENV)
    return Path(root).expanduser() / folder if root else None


def read_local(
    name: str,
    folder: Path,
    looked_at: str,
    how_to_get: str,
    read: Callable[[Path], Loaded],
    errors: tuple[type[Exception], ...] = LOCAL_READ_ERRORS,
) -> Loaded:
    """``read(folder)``; a missing file or one of ``errors`` becomes one :class:`DataUnavailable`."""
    try:
        return read(folder)
    except FileNotFoundError as err:
        raise DataUnavailable(name, looked_at, how_to_get, f"missing {err.filename or err}") from err
    except errors as err:
        raise DataUnavailable(name, looked_at, how_to_get, f"{type(err).__name__}: {err}") from err


def hub_looked_at(hub_id: str, hub_config: str | None, folder: str) -> str:
    """Where a dataset read from the hub was looked for: the hub id, and the local folder if one was set."""
    hub = hub_id + (f" (config {hub_config})" if hub_config else "")
    looked_at = f"Hugging Face hub dataset {hub}"
    return looked_at + (f", and {folder} (no such folder)" if folder else f" (set ${DATA_DIR_ENV} for a local copy)")


class SourceTable(Generic[Row, Loaded]):
    """A family's datasets, name → row, and their source splits read once per (dataset, data folder).

    ``rows`` is the family's table (the dict itself: a row added to it is a dataset of the
    family); ``folder_of(row)`` is the row's folder under ``$MEDPAIR_DATA_DIR``; ``read(name,
    row, folder)`` reads a dataset (``folder`` is ``""`` when the variable is unset). ``family``
    names the family in errors.
    """

    def __init__(
        self,
        family: str,
        rows: dict[str, Row],
        folder_of: Callable[[Row], str],
        read: Callable[[str, Row, str], Loaded],
    ) -> None:
        self.family = family
        self.rows = rows
        self._folder_of = folder_of
        self._read = read
        self._cached = lru_cache(maxsize=SOURCE_CACHE_SIZE)(self._read_row)

    def row(self, name: str) -> Row:
        """The table row of ``name``; KeyError naming the known datasets for an unknown one."""
        if name not in self.rows:
            raise KeyError(f"unknown medpair {self.family} dataset {name!r}; known: {', '.join(self.rows)}")
        return self.rows[name]

    def folder(self, name: str) -> Path | None:
        """``$MEDPAIR_DATA_DIR/<folder>`` of a dataset, or None when the variable is unset."""
        return data_folder(self._folder_of(self.row(name)))

    def load(self, name: str) -> Loaded:
        """The source splits of ``name`` (read once per data folder; errors are :class:`DataUnavailable`)."""
        folder = self.folder(name)
        return self._cached(name, str(folder) if folder else "")

    def _read_row(self, name: str, folder: str) -> Loaded:
        return self._read(name, self.rows[name], folder)

    def cache_clear(self) -> None:
        """Forget every dataset read so far (for a test that changes the files under one folder)."""
        self._cached.cache_clear()
