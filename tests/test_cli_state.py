"""The commands set up logging (and the demo its data folder) for their own run only.

``medpair run``, ``medpair compare`` and ``medpair finetune`` are also called as functions; after
they return, the root logger's handlers and level, medpair's logger levels and the environment
are as they were. pytest installs its own handlers on the root logger, so each test empties the
root's handlers first: that is the case of a caller who has configured no logging.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from medpair_stats.clilog import command_logging
from medpair_stats.compare import main as compare_main
from medpair_tasks.finetune.cli import main as finetune_main
from medpair_tasks.family.sources import DATA_DIR_ENV
from medpair_tasks.study import demo
from medpair_tasks.study.cli import run_main

LOGGERS = ("medpair_tasks", "medpair_stats")


def _logging_state() -> tuple:
    root = logging.getLogger()
    return tuple(root.handlers), root.level, tuple(logging.getLogger(name).level for name in LOGGERS)


@pytest.fixture()
def bare_logging(monkeypatch: pytest.MonkeyPatch) -> Callable[[], tuple]:
    """Empties the root logger's handlers (as in a caller that configured nothing); returns the state then.

    Called in the test body: pytest adds its capture handlers to the root for each phase of a test.
    """

    def strip() -> tuple:
        monkeypatch.setattr(logging.getLogger(), "handlers", [])
        return _logging_state()

    return strip


def test_command_logging_installs_a_handler_and_levels_for_the_block_only(bare_logging: Callable[[], tuple]) -> None:
    logging_before = bare_logging()
    root = logging.getLogger()
    with command_logging("x: %(message)s", logging.ERROR, {"medpair_tasks": logging.DEBUG}) as installed:
        assert installed and len(root.handlers) == 1 and root.level == logging.ERROR
        assert root.handlers[0].formatter._fmt == "x: %(message)s"
        assert logging.getLogger("medpair_tasks").level == logging.DEBUG
    assert _logging_state() == logging_before


def test_command_logging_leaves_a_configured_root_alone(bare_logging: Callable[[], tuple]) -> None:
    logging_before = bare_logging()
    root = logging.getLogger()
    mine = logging.NullHandler()
    root.addHandler(mine)
    try:
        with command_logging("x: %(message)s", logging.ERROR, {"medpair_stats": logging.INFO}) as installed:
            assert not installed and root.handlers == [mine] and root.level == logging_before[1]
            assert logging.getLogger("medpair_stats").level == logging.INFO
        assert root.handlers == [mine] and logging.getLogger("medpair_stats").level == logging_before[2][1]
    finally:
        root.removeHandler(mine)


def test_command_logging_restores_when_the_command_fails(bare_logging: Callable[[], tuple]) -> None:
    logging_before = bare_logging()
    with pytest.raises(RuntimeError):
        with command_logging("x: %(message)s", logging.INFO, {"medpair_tasks": logging.INFO}):
            raise RuntimeError("the command failed")
    assert _logging_state() == logging_before


def test_medpair_run_demo_restores_logging_and_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                bare_logging: Callable[[], tuple], capsys) -> None:
    """A dry run of the demo (models stubbed: a dry run loads none)."""
    logging_before = bare_logging()
    monkeypatch.setattr(demo, "build_demo_models", lambda root, items: (root / "medical", root / "base"))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "the-user's-data"))
    environ = dict(os.environ)
    assert run_main(["--demo", "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    assert "medpair study plan" in capsys.readouterr().out
    assert dict(os.environ) == environ
    assert _logging_state() == logging_before


def test_medpair_compare_restores_logging(tmp_path: Path, bare_logging: Callable[[], tuple], capsys) -> None:
    logging_before = bare_logging()
    missing = str(tmp_path / "no-such-logs")
    assert compare_main(["--medical", missing, "--base", missing, "--out", str(tmp_path / "out"), "-v"]) == 1
    assert "medpair compare: error" in capsys.readouterr().err
    assert _logging_state() == logging_before


def test_medpair_finetune_restores_logging(tmp_path: Path, bare_logging: Callable[[], tuple], capsys) -> None:
    logging_before = bare_logging()
    missing = str(tmp_path / "no-such-model")
    assert finetune_main(["--model", missing, "--task", "medpair_pubmedqa", "--out", str(tmp_path / "out"), "-v"]) == 1
    assert "no such folder" in capsys.readouterr().err
    assert _logging_state() == logging_before
