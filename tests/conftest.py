"""Test bed: offline Hugging Face settings, one torch thread, a private temp folder, tiny models, fixture data.

No test may touch the network or the user's home cache: the hub is switched off, and HF_HOME,
matplotlib's cache and XDG_CACHE_HOME point into a temporary folder before any of those
libraries is imported.

The suite runs on two pytest-xdist workers (``addopts`` in setup.cfg; ``-n 0`` runs it in one
process). ``--dist loadscope`` keeps each module (or test class: a long test that shares no
fixture with its module can be a class of its own) on one worker, which builds its module
fixtures once. ``--no-loadscope-reorder`` hands the units out in collection order, and
:func:`pytest_collection_modifyitems` puts the modules with an end-to-end (``slow``) test first:
both workers start on the long units, and the short ones fill the end of the run. The first process (the xdist controller, or the only process with ``-n 0``) makes
one private temp folder for the session and points TMPDIR at it, so that every worker and every
``medpair`` / ``torchrun`` subprocess writes its temporary files there; pytest's own
``tmp_path`` folders stay where pytest keeps them. At the end the session fails if a
``medpair-test-hf-*`` or ``torchelastic_*`` folder was left behind in it, then removes it.
Each process on one torch thread: two workers on two cores, no oversubscription.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from medpair_testlib import FIXTURE_DATA, SESSION_TMP_ENV, build_once_per_run, leftover_temp_folders

_CONTROLLER = "PYTEST_XDIST_WORKER" not in os.environ
if _CONTROLLER:
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())  # pytest's tmp_path folders: where they always were
    os.environ[SESSION_TMP_ENV] = tempfile.mkdtemp(prefix="medpair-test-session-")
os.environ["TMPDIR"] = os.environ[SESSION_TMP_ENV]
tempfile.tempdir = None  # tempfile reads TMPDIR again on its next call

_HF_HOME = tempfile.mkdtemp(prefix="medpair-test-hf-")
os.environ.update(
    HF_HUB_OFFLINE="1",
    HF_DATASETS_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
    HF_HOME=_HF_HOME,
    HF_DATASETS_CACHE=str(Path(_HF_HOME) / "datasets"),
    TOKENIZERS_PARALLELISM="false",
    MPLCONFIGDIR=str(Path(_HF_HOME) / "matplotlib"),
    XDG_CACHE_HOME=str(Path(_HF_HOME) / "cache"),
    OMP_NUM_THREADS="1",
    MKL_NUM_THREADS="1",
)
os.environ.pop("MEDPAIR_DATA_DIR", None)

import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove this process's HF_HOME; in the first process, fail the run if the suite left a temp folder behind.

    A worker removes its HF_HOME here, before it tells the controller that it has finished, so
    the controller's check never races a worker's clean-up.
    """
    shutil.rmtree(_HF_HOME, ignore_errors=True)
    if not _CONTROLLER:
        return
    leftovers = leftover_temp_folders(Path(os.environ[SESSION_TMP_ENV]))
    if leftovers:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the test run left temporary folders behind: " + ", ".join(p.name for p in leftovers)
        if reporter is not None:
            reporter.write_line(message, red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """The first process removes the session's private temp folder once every worker has gone."""
    shutil.rmtree(_HF_HOME, ignore_errors=True)
    if _CONTROLLER:
        shutil.rmtree(os.environ[SESSION_TMP_ENV], ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MEDPAIR_DATA_DIR with every knowledge dataset: the fixtures and the real PubMedQA release files."""
    root = tmp_path_factory.mktemp("medpair-data")
    for folder in FIXTURE_DATA.iterdir():
        (root / folder.name).symlink_to(folder, target_is_directory=True)
    return root


@pytest.fixture()
def use_data(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MEDPAIR_DATA_DIR at the test data for this test."""
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(data_dir))
    return data_dir


@pytest.fixture(scope="session")
def tiny_models() -> tuple[Path, Path]:
    """(base, medical): the tiny Llama pair, built once per test run and shared by the workers."""
    from medpair_tasks.tinymodels import build_pair

    return build_once_per_run("tiny-models", build_pair)


def _has_slow_test(items: list[pytest.Item]) -> set[Path]:
    """The test files with at least one test marked ``slow``."""
    return {item.path for item in items if item.get_closest_marker("slow") is not None}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with a ``slow`` test first (stable: the order within and among modules is kept).

    The xdist workers take units of work in this order, so the long end-to-end units start at
    once and the many short ones balance the two workers at the end of the run.
    """
    slow_files = _has_slow_test(items)
    items.sort(key=lambda item: item.path not in slow_files)

