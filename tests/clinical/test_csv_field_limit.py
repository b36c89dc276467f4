"""Clinical CSV readers raise csv's field size limit for their own reading only."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from medpair_tasks.clinical import readers

DEFAULT_LIMIT = 128 * 1024  # csv's own default field size limit
LONG_FIELD = DEFAULT_LIMIT + 1000


@pytest.fixture()
def default_limit() -> Iterator[int]:
    """csv's field size limit set to its default for the test, and the session's limit restored after it."""
    session_limit = csv.field_size_limit(DEFAULT_LIMIT)
    yield DEFAULT_LIMIT
    csv.field_size_limit(session_limit)


def _write_probsum(folder: Path, subjective: str) -> None:
    folder.mkdir()
    for split, name in readers.PROBSUM_FILES.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*readers.PROBSUM_COLUMNS, "Subjective Sections"])
            writer.writeheader()
            writer.writerow({"File ID": f"{split}-1", "Assessment": "stable", "Summary": "pneumonia",
                             "Subjective Sections": subjective})


def test_a_reader_reads_long_fields_and_leaves_the_limit_as_it_was(tmp_path: Path, default_limit: int) -> None:
    _write_probsum(tmp_path / "probsum", "x" * LONG_FIELD)
    splits = readers.read_probsum(tmp_path / "probsum")
    assert len(splits["train"][0].context) > LONG_FIELD
    assert csv.field_size_limit() == default_limit


def test_the_limit_is_restored_when_a_reader_fails(tmp_path: Path, default_limit: int) -> None:
    (tmp_path / "probsum").mkdir()
    (tmp_path / "probsum" / readers.PROBSUM_FILES["train"]).write_text("not,the,columns\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no column"):
        readers.read_probsum(tmp_path / "probsum")
    assert csv.field_size_limit() == default_limit
