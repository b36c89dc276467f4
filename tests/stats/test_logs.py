"""Reading lm-eval output folders into the tidy table (logs written by lm-eval's own tracker)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lmeval_fake import candidate, doc_hash, make_docs, samples_path, write_role_run, write_run

from medpair_stats.logs import (
    TABLE_COLUMNS,
    DataVersionMismatchError,
    LogFormatError,
    check_data_versions,
    read_logs,
)


def _scores(table: pd.DataFrame, **where) -> pd.Series:
    sub = table
    for k, v in where.items():
        sub = sub[sub[k].astype(str) == str(v)]
    return pd.Series(sub["score"].to_numpy(), index=sub["item_key"].astype(str).to_numpy()).sort_index()


def test_reads_out_and_model_folders_recursively(tmp_path: Path) -> None:
    docs = make_docs("medqa", "val", 6)
    s1, s2 = [1, 0, 1, 1, 0, 0], [0, 0, 1, 0, 1, 1]
    write_role_run(tmp_path / "out", "org/med-7b", "medqa", "val", {"f00": s1, "f03": s2}, docs, when=1)
    write_role_run(tmp_path / "out", "org/base-7b", "medqa", "val", {"f00": s2}, docs, when=2)
    whole = read_logs([tmp_path / "out"])
    assert list(whole.columns) == list(TABLE_COLUMNS)
    assert sorted(whole["model"].astype(str).unique()) == ["org/base-7b", "org/med-7b"]
    assert len(whole) == 18
    med = read_logs([tmp_path / "out" / "org__med-7b"])  # lm-eval's sanitised folder name
    assert set(med["model"].astype(str)) == {"org/med-7b"}  # the name from the results file
    got = _scores(med, candidate="f03")
    assert got.to_list() == s2
    assert list(got.index) == [d["item_key"] for d in docs]
    row = med.iloc[0]
    assert (row["dataset"], row["mode"], row["format"], row["shots"], row["role"], row["metric"], row["filter"]) == (
        "medqa", "mc", "f00", 0, "val", "acc", "none")
    assert pd.isna(row["seed"]) and pd.isna(row["cluster"])
    assert row["doc_hash"] == doc_hash(docs[0])
    assert med.attrs["medpair"]["fast_lines"] == 12


def test_identity_comes_from_metadata_first(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 3)
    # a task whose name follows no medpair grammar: only its metadata tells what it is
    t = candidate("medqa", "f07", 3, 4, "test", docs, [1, 1, 0], name="my_custom_medqa_task")
    write_run(tmp_path, "m", [t], when=0)
    table = read_logs([tmp_path])
    assert set(table["candidate"].astype(str)) == {"f07/s4"}
    assert set(table["shots"]) == {3} and set(table["seed"].astype(int)) == {4}
    assert set(table["task"].astype(str)) == {"my_custom_medqa_task"}


def test_missing_results_file_falls_back_to_task_name_and_doc_role(tmp_path: Path) -> None:
    val = make_docs("mmlu_anatomy", "val", 4)
    t1 = candidate("mmlu_anatomy", "f02", 3, 7, "val", val, [1, 0, 0, 1], mode="gen")
    t2 = candidate("mmlu_anatomy", "f00", 0, None, "test", make_docs("mmlu_anatomy", "test", 2), [1, 0],
                   name="medpair_mmlu_anatomy")
    folder = write_run(tmp_path, "base", [t1], when=0, write_results=False)
    write_run(tmp_path, "base", [t2], when=1, write_results=False)
    assert not list(folder.glob("results_*.json"))
    table = read_logs([tmp_path])
    a = table[table["task"].astype(str) == t1.name]
    assert set(a["candidate"].astype(str)) == {"f02/s7"}
    assert set(a["mode"].astype(str)) == {"gen"} and set(a["filter"].astype(str)) == {"extract"}
    assert set(a["role"].astype(str)) == {"val"}  # from doc["role"]
    b = table[table["task"].astype(str) == "medpair_mmlu_anatomy"]
    assert set(b["candidate"].astype(str)) == {"f00"} and set(b["role"].astype(str)) == {"test"}
    assert set(table["model"].astype(str)) == {"base"}  # the folder name


def test_other_tasks_are_ignored(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 2)
    t = candidate("medqa", "f00", 0, None, "test", docs, [1, 0], name="hellaswag", with_metadata=False)
    write_run(tmp_path, "m", [t, candidate("medqa", "f01", 0, None, "test", docs, [0, 0])], when=0)
    table = read_logs([tmp_path])
    assert set(table["task"].astype(str)) == {"medpair_medqa_mc_f01_k0"}


def test_identical_duplicates_from_append_mode_collapse(tmp_path: Path, caplog) -> None:
    docs = make_docs("medqa", "val", 5)
    folder = write_role_run(tmp_path, "m", "medqa", "val", {"f01": [1, 0, 1, 0, 1]}, docs, when=0, repeat_samples=2)
    path = samples_path(folder, "medpair_medqa_mc_f01_k0")
    assert sum(1 for _ in open(path, encoding="utf-8")) == 10  # lm-eval appended the samples twice
    with caplog.at_level(logging.WARNING):
        table = read_logs([tmp_path])
    assert len(table) == 5 and _scores(table).to_list() == [1, 0, 1, 0, 1]
    assert table.attrs["medpair"]["identical_duplicates"] == 5
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_newest_run_wins_over_older_and_warns(tmp_path: Path, caplog) -> None:
    docs = make_docs("medqa", "test", 4)
    new, old = [1, 1, 1, 0], [0, 0, 1, 0]
    # the newer run is written first, so file order on disk cannot decide
    write_role_run(tmp_path / "b", "m", "medqa", "test", {"f00": new}, docs, when=30)
    write_role_run(tmp_path / "a", "m", "medqa", "test", {"f00": old}, docs, when=5)
    with caplog.at_level(logging.WARNING):
        table = read_logs([tmp_path / "b", tmp_path / "a"])
    assert _scores(table).to_list() == new
    assert table.attrs["medpair"]["conflicting_duplicates"] == 2
    assert any("newest run" in r.getMessage() for r in caplog.records)
    # order of the arguments does not matter
    assert _scores(read_logs([tmp_path / "a", tmp_path / "b"])).to_list() == new


def test_same_timestamp_conflict_later_line_wins(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 3)
    write_role_run(tmp_path, "m", "medqa", "test", {"f00": [0, 0, 0]}, docs, when=3)
    folder = write_role_run(tmp_path, "m", "medqa", "test", {"f00": [1, 0, 1]}, docs, when=3)
    assert sum(1 for _ in open(samples_path(folder, "medpair_medqa_mc_f00_k0"), encoding="utf-8")) == 6
    assert _scores(read_logs([tmp_path])).to_list() == [1, 0, 1]


def test_several_runs_and_roles_are_kept_apart(tmp_path: Path) -> None:
    val, test = make_docs("pubmedqa", "val", 3), make_docs("pubmedqa", "test", 4)
    write_role_run(tmp_path, "m", "pubmedqa", "val", {"f00": [1, 1, 0], "f01": [0, 1, 0]}, val, when=0)
    write_role_run(tmp_path, "m", "pubmedqa", "test", {"f01": [1, 0, 0, 1]}, test, when=10)
    write_role_run(tmp_path, "m", "pubmedqa", "val", {"f00/s1": [0, 0, 0]}, val, when=20, shots=3)
    table = read_logs([tmp_path])
    assert len(table) == 3 + 3 + 4 + 3
    assert _scores(table, role="test").to_list() == [1, 0, 0, 1]
    assert _scores(table, role="val", candidate="f00/s1").to_list() == [0, 0, 0]
    assert set(table[table["candidate"].astype(str) == "f00/s1"]["shots"]) == {3}
    assert table["timestamp"].nunique() == 3


def test_truncated_last_line_is_skipped_with_warning(tmp_path: Path, caplog) -> None:
    docs = make_docs("medqa", "test", 4)
    folder = write_role_run(tmp_path, "m", "medqa", "test", {"f00": [1, 0, 1, 1]}, docs, when=0)
    path = samples_path(folder, "medpair_medqa_mc_f00_k0")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 300])  # crash in the middle of the last record
    with caplog.at_level(logging.WARNING):
        table = read_logs([tmp_path])
    assert _scores(table).to_list() == [1, 0, 1]
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{path}:4" in m and "last line" in m for m in msgs)
    assert table.attrs["medpair"]["truncated_lines"] == 1


def test_malformed_middle_line_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 4)
    folder = write_role_run(tmp_path, "m", "medqa", "test", {"f00": [1, 0, 1, 1]}, docs, when=0)
    path = samples_path(folder, "medpair_medqa_mc_f00_k0")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1][:-200] + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(LogFormatError, match=rf"{path}:2: malformed"):
        read_logs([tmp_path])


def test_glued_records_are_not_misread(tmp_path: Path) -> None:
    """A record cut short and glued to the next one is invalid JSON: error, not a mixed row."""
    docs = make_docs("medqa", "test", 4)
    folder = write_role_run(tmp_path, "m", "medqa", "test", {"f00": [1, 0, 1, 1]}, docs, when=0)
    path = samples_path(folder, "medpair_medqa_mc_f00_k0")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    glued = lines[0][: len(lines[0]) // 2] + lines[1]  # head of item 0, tail of item 1
    path.write_text(glued + "".join(lines[2:]), encoding="utf-8")
    with pytest.raises(LogFormatError, match=rf"{path}:1: malformed"):
        read_logs([tmp_path])


def test_clusters_and_bare_default_names(tmp_path: Path) -> None:
    docs = make_docs("longhealth", "test", 6, clusters=["p1", "p1", "p2", "p2", "p3", "p3"])
    t = candidate("longhealth", "f00", 0, None, "test", docs, [1, 1, 0, 1, 0, 0], name="medpair_longhealth",
                  with_metadata=False)
    write_run(tmp_path, "m", [t], when=0)
    table = read_logs([tmp_path])
    assert table["cluster"].astype(str).to_list() == ["p1", "p1", "p2", "p2", "p3", "p3"]
    assert set(table["role"].astype(str)) == {"test"} and set(table["candidate"].astype(str)) == {"f00"}


def test_non_numeric_metric_values_are_skipped_and_nan_kept_as_nan(tmp_path: Path, caplog) -> None:
    docs = make_docs("mednli", "test", 3)
    t = candidate("mednli", "f00", 0, None, "test", docs, {"acc": [1, 0, 1], "rouge1": [0.25, 0.5, 0.75]})
    folder = write_run(tmp_path, "m", [t], when=0)
    path = samples_path(folder, t.name)
    lines = path.read_text(encoding="utf-8").splitlines()
    obj = json.loads(lines[2])
    obj["rouge1"] = float("nan")
    obj["acc"] = "n/a"
    lines[2] = json.dumps(obj, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        table = read_logs([tmp_path])
    # a NaN score stays a row (selection and pairing leave it out and say so); a string is skipped
    assert _scores(table, metric="rouge1").to_list()[:2] == [0.25, 0.5]
    assert np.isnan(_scores(table, metric="rouge1").to_list()[2])
    assert _scores(table, metric="acc").to_list() == [1, 0]
    assert table.attrs["medpair"]["skipped_values"] == 1 and table.attrs["medpair"]["nan_values"] == 1


def test_doc_hash_mismatch_between_models_is_refused(tmp_path: Path) -> None:
    write_role_run(tmp_path / "a", "med", "medqa", "test", {"f00": [1, 0, 1]}, make_docs("medqa", "test", 3), when=0)
    write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": [1, 1, 1]},
                   make_docs("medqa", "test", 3, version=" (v2)"), when=1)
    med, base = read_logs([tmp_path / "a"]), read_logs([tmp_path / "b"])
    with pytest.raises(DataVersionMismatchError, match=r"(?s)3 item\(s\).*medqa/test/0000"):
        check_data_versions([("med", med), ("base", base)])
    check_data_versions([("med", med), ("med again", med)])  # the same data passes


def test_full_parse_gives_the_same_table(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    docs = make_docs("medmcqa", "val", 30, clusters=[f"c{i % 7}" for i in range(30)])
    cands = {f"f{i:02d}/s{s}": rng.integers(0, 2, 30) for i in range(3) for s in range(2)}
    write_role_run(tmp_path, "m", "medmcqa", "val", cands, docs, when=0, shots=3)
    fast, full = read_logs([tmp_path]), read_logs([tmp_path], full_parse=True)
    assert fast.attrs["medpair"]["fast_lines"] == 180 and full.attrs["medpair"]["fast_lines"] == 0
    pd.testing.assert_frame_equal(fast, full)


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_logs([tmp_path / "nope"])
