"""Test bed: offline Hugging Face settings, tiny models, fixture data.

No test may touch the network or the user's home cache: the hub is switched off, and HF_HOME,
matplotlib's cache and XDG_CACHE_HOME point into a temporary folder (removed at the end of the
run) before any of those libraries is imported.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

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
)
os.environ.pop("MEDPAIR_DATA_DIR", None)

import pytest  # noqa: E402

from medpair_testlib import FIXTURE_DATA  # noqa: E402


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's private HF_HOME: a test run leaves nothing behind in the temp folder."""
    shutil.rmtree(_HF_HOME, ignore_errors=True)


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
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(base, medical): the tiny Llama pair, built once per test session."""
    from medpair_tasks.tinymodels import build_pair

    return build_pair(tmp_path_factory.mktemp("tiny-models"))

