"""Helpers shared by the clinical readers: JSON records, required fields, compressed text, big CSV fields."""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.family.sources import naming_file, read_json, read_jsonl

SourceSplits = dict[str, list[ClinicalItem]]


def json_records(path: Path) -> list[dict[str, Any]]:
    """A JSON array of objects, or JSON lines (the CLUE scripts write the latter)."""
    with naming_file(path):
        text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):
        rows = read_json(path)
    else:
        rows = list(read_jsonl(path))
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected JSON objects")
    return rows


def required_field(row: dict[str, Any], name: str, where: str) -> Any:
    """``row[name]``; a ValueError naming ``where`` and the fields present when it is missing."""
    if name not in row:
        raise ValueError(f"{where}: no field {name!r} (fields: {', '.join(sorted(row))})")
    return row[name]


def open_text(path: Path) -> io.TextIOBase:
    """A text file (UTF-8, csv newlines), gunzipped on the fly when its name ends in ``.gz``."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def short_hash(text: str, n: int = 12) -> str:
    """First ``n`` hex digits of the sha256 of ``text``: an id, never the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


_CSV_FIELD_LIMIT = 2**31 - 1  # discharge summaries exceed csv's default 128 KiB field limit

_Reader = TypeVar("_Reader", bound=Callable[..., Any])


def big_csv_fields(reader: _Reader) -> _Reader:
    """Run ``reader`` with csv's field size limit raised, and restore the caller's limit after it."""

    @functools.wraps(reader)
    def with_big_fields(*args: Any, **kwargs: Any) -> Any:
        before = csv.field_size_limit(_CSV_FIELD_LIMIT)
        try:
            return reader(*args, **kwargs)
        finally:
            csv.field_size_limit(before)

    return with_big_fields  # type: ignore[return-value]
