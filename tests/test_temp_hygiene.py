"""A test run leaves nothing in the temp folder, and says so when it does (conftest.py's check)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from medpair_testlib import REPO, SESSION_TMP_ENV, leftover_temp_folders

LEAKY_TEST = '''
import tempfile

def test_leaves_a_folder():
    tempfile.mkdtemp(prefix="torchelastic_")  # what torchrun does without --log-dir
    print("SESSION-TMP", tempfile.gettempdir())
'''


def test_leftovers_are_the_named_patterns_only(tmp_path: Path) -> None:
    for name in ("medpair-test-hf-abc", "torchelastic_x1", "torchelastic", "other", "pytest-of-me"):
        (tmp_path / name).mkdir()
    assert [p.name for p in leftover_temp_folders(tmp_path)] == ["medpair-test-hf-abc", "torchelastic_x1"]


def test_this_run_writes_its_temp_files_into_the_session_folder() -> None:
    session = Path(os.environ[SESSION_TMP_ENV])
    assert session.name.startswith("medpair-test-session-")
    assert Path(tempfile.gettempdir()) == session and os.environ["TMPDIR"] == str(session)
    assert Path(os.environ["HF_HOME"]).parent == session


def test_a_run_that_leaves_a_folder_fails_and_is_cleaned_up(tmp_path: Path) -> None:
    """The test bed's conftest in a pytest run of its own, whose only test leaves a torchelastic_* folder."""
    inner = tmp_path / "inner"
    inner.mkdir()
    for name in ("conftest.py", "medpair_testlib.py"):
        shutil.copy(REPO / "tests" / name, inner / name)
    (inner / "test_leak.py").write_text(LEAKY_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST_", "PYTEST_ADDOPTS"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:xdist", str(inner)],
                          cwd=inner, env=env, capture_output=True, text=True, timeout=300)
    assert "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.returncode == 1, done.stdout[-3000:]
    assert "the test run left temporary folders behind: torchelastic_" in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("SESSION-TMP")]
    inner_session = Path(line.split(maxsplit=1)[1])
    assert inner_session.name.startswith("medpair-test-session-") and not inner_session.exists()
