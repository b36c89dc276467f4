"""All-or-nothing writes leave files and folders with the permissions of ordinary ones."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from medpair_tasks.atomic import publish_dir, scratch_dir, write_text_atomic


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under the given umask, then restore the previous one."""
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_file_has_the_umask_permissions(tmp_path, umask):
    target = tmp_path / "manifest.json"
    write_text_atomic(target, "{}\n")
    assert target.read_text() == "{}\n"
    assert _mode(target) == 0o666 & ~umask
    write_text_atomic(target, "{\"a\": 1}\n")  # replacing keeps ordinary permissions too
    assert _mode(target) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


def test_published_folder_has_the_umask_permissions(tmp_path, umask):
    scratch = scratch_dir(tmp_path, "report")
    (scratch / "report.md").write_text("# report\n")
    publish_dir(scratch, tmp_path / "report")
    assert _mode(tmp_path / "report") == 0o777 & ~umask
    assert (tmp_path / "report" / "report.md").read_text() == "# report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_scratch_folders_are_fresh(tmp_path):
    first, second = scratch_dir(tmp_path, "x"), scratch_dir(tmp_path, "x")
    assert first != second and first.name.startswith(".tmp-x-") and second.is_dir()
