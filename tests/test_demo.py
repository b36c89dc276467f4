"""``medpair run --demo``: an honest win and honest ties, readable names, the same report on every run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from medpair_testlib import run_medpair
from medpair_tasks.family.sources import DATA_DIR_ENV
from medpair_tasks import lm_eval_internals
from medpair_tasks.study import demo
from medpair_tasks.study.cli import run_main


def _run_demo(folder: Path, *options: str) -> tuple[str, Path]:
    folder.mkdir()
    done = run_medpair(["run", "--demo", "--out", str(folder / "demo_out"), *options], None, cwd=folder)
    return done.stdout, folder / "demo_out"


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.slow
def test_demo_shows_a_win_and_ties_with_readable_names_and_is_made_the_same_way_twice(tmp_path: Path) -> None:
    """The README's first command, from scratch; then its random part again in a fresh folder.

    Everything random in the demo happens before the study: the made-up questions and the two
    tiny models (built and fine-tuned from seeds). A second ``--dry-run`` demo in another folder
    makes them again, and they must be byte-identical to the first run's; from equal data and
    models a study gives the same report on every run (``test_study_identity.py`` runs one study
    twice, the second time killed and resumed, and compares the reports byte for byte).
    """
    stdout, out = _run_demo(tmp_path / "first")
    report = out / "report"
    assert "medpair study plan" in stdout and "comparisons: medical better in" in stdout
    records = json.loads((report / "comparisons.json").read_text())["records"]
    assert {(r["dataset"], r["setting"]) for r in records} == {
        ("medqa", "0-shot"), ("medqa", "3-shot"), ("mmlu_anatomy", "0-shot"), ("mmlu_anatomy", "3-shot")}
    assert all(r["n"] == 120 for r in records)
    outcomes = {(r["dataset"], r["setting"]): r["outcome"] for r in records}
    assert any(o != "tie" for o in outcomes.values()) and any(o == "tie" for o in outcomes.values()), outcomes
    # the medical model was trained on MedQA's training questions only, so it can only win there
    assert all(outcomes[("mmlu_anatomy", s)] == "tie" for s in ("0-shot", "3-shot")), outcomes
    assert {(r["medical"], r["base"]) for r in records} == {("demo-medical", "demo-base")}
    markdown = (report / "report.md").read_text()
    assert "| demo-medical | demo-base |" in markdown
    for name in ("report.md", "comparisons.json", "comparisons.csv"):
        assert str(tmp_path) not in (report / name).read_text(), f"{name} shows a temporary path"

    _, again = _run_demo(tmp_path / "second", "--dry-run")
    for part in ("data", "models"):
        first, second = _files(out / "demo" / part), _files(again / "demo" / part)
        assert first and sorted(first) == sorted(second), part
        assert [name for name in first if first[name] != second[name]] == [], f"the demo's {part} differ on a second run"


def test_demo_leaves_the_environment_as_it_found_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """The demo's data folder is $MEDPAIR_DATA_DIR during the run only (models stubbed: a dry run loads none)."""
    monkeypatch.setattr(demo, "build_demo_models", lambda root, items: (root / "medical", root / "base"))
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "the-user's-data"))
    before = dict(os.environ)
    assert run_main(["--demo", "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    assert dict(os.environ) == before
    plan = capsys.readouterr().out
    assert "medqa: 12 validation items (limit 500), 120 test items" in plan  # read from the demo's data, not the user's


@pytest.mark.parametrize("before", [None, "/somewhere/else"])
def test_data_dir_set_restores_the_variable(before: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if before is None:
        monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    else:
        monkeypatch.setenv(DATA_DIR_ENV, before)
    with demo.data_dir_set(tmp_path):
        assert os.environ[DATA_DIR_ENV] == str(tmp_path)
    assert os.environ.get(DATA_DIR_ENV) == before


def test_demo_trains_on_training_questions_only(tmp_path: Path) -> None:
    """No validation or test question of either dataset is among the medical model's training prompts."""
    items = demo.demo_items(demo.write_demo_data(tmp_path))
    trained = {prompt for prompt, _ in demo.as_examples(items["medqa"]["train"])}
    assert len(trained) == demo.MEDQA_SIZES["train"]
    held_out = [item.question for dataset in items.values() for split in ("dev", "test") for item in dataset[split]]
    assert len(held_out) == 2 * (12 + 120)
    assert not [question for question in held_out if any(question in prompt for prompt in trained)]


def test_environment_is_collected_once_per_block_and_lm_eval_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    import lm_eval.evaluator as evaluator

    calls: list[int] = []

    def collect(storage: dict) -> None:
        calls.append(1)
        storage["pretty_env_info"] = f"collected {len(calls)} time(s)"

    monkeypatch.setattr(evaluator, "add_env_info", collect)
    results = [{}, {}, {}]
    with lm_eval_internals.environment_recorded_once():
        for storage in results:
            evaluator.add_env_info(storage)
    assert len(calls) == 1
    assert results == [{"pretty_env_info": "collected 1 time(s)"}] * 3
    assert evaluator.add_env_info is collect
