"""The family interface: every family has the same modules, and a new dataset is one reader and one row.

The second test follows the README's "Adding a dataset" to the letter: a reader function for a
toy dataset's release files and one row in the knowledge table, nothing else; then its roles,
its items, its task files and the lm-eval tasks built from those files are checked.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
from lm_eval.tasks import TaskManager

from medpair_tasks.family.roles import VAL_SUBSAMPLE_SEED, Roles
from medpair_tasks.family.sources import DATA_DIR_ENV, DataUnavailable, read_jsonl
from medpair_tasks.knowledge.records import Item
from medpair_tasks.knowledge.roles import BOOK, fewshot_items, roles, scored_items
from medpair_tasks.knowledge.sources import SOURCES, TABLE, Source, SourceSplits, load_source
from medpair_tasks.knowledge.taskfiles import knowledge_files

FAMILIES = ("knowledge", "clinical", "vqa")
INTERFACE = ("records", "sources", "roles", "hooks", "taskfiles")
TOY = "toyqa"
TOY_SIZES = {"train": 8, "dev": 6, "test": 5}


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_has_the_same_modules_and_the_shared_machinery(family):
    modules = {name: importlib.import_module(f"medpair_tasks.{family}.{name}") for name in INTERFACE}
    sources, roles_, hooks = modules["sources"], modules["roles"], modules["hooks"]
    assert sources.TABLE.family and sources.TABLE.rows, "a family's sources hold its table"
    assert roles_.BOOK.table is sources.TABLE and roles_.BOOK.rule is roles_.roles_from
    assert callable(hooks.load)
    assert all(path.endswith("yaml") for path in getattr(modules["taskfiles"], f"{family}_files")())


def read_toy(folder: Path) -> SourceSplits:
    """The toy release: ``<split>.jsonl`` with ``question``, ``options`` (a list) and ``answer`` (a letter)."""
    return {
        split: [
            Item(f"{split}-{number}", row["question"], tuple(row["options"]), "ABCD".index(row["answer"]))
            for number, row in enumerate(read_jsonl(folder / f"{split}.jsonl"))
        ]
        for split in ("train", "dev", "test")
    }


TOY_ROW = Source(TOY, "Toy QA", "", None, ("train.jsonl", "dev.jsonl", "test.jsonl"),
                 "write train.jsonl, dev.jsonl and test.jsonl into $MEDPAIR_DATA_DIR/toyqa/", read_toy)


def _write_release(root: Path) -> None:
    folder = root / TOY
    folder.mkdir(parents=True)
    for split, size in TOY_SIZES.items():
        rows = [{"question": f"{split} question {i}?", "options": ["one", "two", "three", "four"], "answer": "ABCD"[i % 4]}
                for i in range(size)]
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture()
def toy_dataset(tmp_path, monkeypatch):
    """The toy dataset's release files under a fresh MEDPAIR_DATA_DIR and its row in the table."""
    _write_release(tmp_path / "data")
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.setitem(SOURCES, TOY, TOY_ROW)
    yield tmp_path
    TABLE.cache_clear()
    BOOK.cache_clear()


def test_a_new_dataset_is_one_reader_and_one_row(toy_dataset, monkeypatch):
    splits = load_source(TOY)
    assert {split: len(items) for split, items in splits.items()} == TOY_SIZES
    assert splits["test"][1] == Item("test-1", "test question 1?", ("one", "two", "three", "four"), 1)
    # the default role rule: dev → val, test → test, train → few-shot pool
    assert roles(TOY) == Roles(tuple(splits["dev"]), tuple(splits["test"]), tuple(splits["train"]))
    assert scored_items(TOY, "test") == splits["test"]
    assert scored_items(TOY, "val", val_limit=4) == [splits["dev"][i] for i in _subsample(6, 4)]
    shots = fewshot_items(TOY, seed=3)
    assert len(shots) == 3 and set(shots) <= set(splits["train"])
    monkeypatch.setenv(DATA_DIR_ENV, str(toy_dataset / "nowhere"))
    with pytest.raises(DataUnavailable, match="local copy only"):
        load_source(TOY)


def _subsample(n: int, k: int) -> list[int]:
    return sorted(np.random.default_rng(VAL_SUBSAMPLE_SEED).choice(n, k, replace=False).tolist())


def test_a_new_dataset_gets_task_files_that_lm_eval_builds(toy_dataset):
    files = {path: text for path, text in knowledge_files().items() if path.startswith((f"{TOY}/", "_templates/"))}
    toy_files = [path for path in files if path.startswith(f"{TOY}/")]
    assert len(toy_files) == 2 * (1 + 11 + 110)  # per mode: the bare task, 11 zero-shot and 110 three-shot candidates
    root = toy_dataset / "task_yaml"
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    manager = TaskManager(include_path=str(root), include_defaults=False)
    bare, candidate = "medpair_toyqa", "medpair_toyqa_gen_f02_k3_s4"
    tasks = manager.load([bare, candidate])["tasks"]
    test_docs = list(tasks[bare].test_docs())
    assert [doc["item_key"] for doc in test_docs] == [f"test-{i}" for i in range(TOY_SIZES["test"])]
    assert tasks[bare].doc_to_choice(test_docs[0]) == ["A", "B", "C", "D"]
    val_docs = list(tasks[candidate].test_docs())
    assert [doc["item_key"] for doc in val_docs] == [f"dev-{i}" for i in range(TOY_SIZES["dev"])]
    demos = [doc["item_key"] for doc in tasks[candidate].fewshot_docs()][:3]
    assert demos == [item.key for item in fewshot_items(TOY, seed=4)]
