"""What ``medpair compare`` decides about the data is in report.md and comparisons.json (issue 10).

Each test builds lm-eval-shaped logs (lm-eval's own EvaluationTracker, see ``lmeval_fake``) and
runs ``medpair compare`` as a user does (its ``main``, or the installed command).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from lmeval_fake import make_docs, samples_path, write_role_run
from medpair_testlib import run_medpair_here

from medpair_stats.compare import main
from medpair_tasks.study import halving
from medpair_tasks.study.manifest import Manifest
from medpair_tasks.study.plan import StudyConfig


def compare(tmp_path: Path, med: Path | list[Path], base: Path | list[Path], *extra: str) -> tuple[dict, str]:
    """Run ``medpair compare`` (its main) and return (comparisons.json, report.md)."""
    out = tmp_path / "report"
    meds = [str(p) for p in (med if isinstance(med, list) else [med])]
    bases = [str(p) for p in (base if isinstance(base, list) else [base])]
    rc = main(["--medical", *meds, "--base", *bases, "--out", str(out), "--n-resamples", "500", "-q", *extra])
    assert rc == 0
    doc = json.loads((out / "comparisons.json").read_text(encoding="utf-8"))
    return doc, (out / "report.md").read_text(encoding="utf-8")


def notes_of(doc: dict, md: str, needle: str) -> list[str]:
    """Notes containing ``needle``; each must be in both comparisons.json and report.md."""
    hits = [n for n in doc["notes"] if needle in n]
    for n in hits:
        assert f"- {n}" in md
    return hits


def bernoulli(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    """Exactly round(p * n) ones, in random order."""
    out = np.zeros(n)
    out[: round(p * n)] = 1.0
    return rng.permutation(out)


def test_candidate_covering_one_more_item_does_not_beat_better_ones(tmp_path: Path) -> None:
    # issue 10, item 3: 30% on 101 items beat 90% and 85% on 100 items
    rng = np.random.default_rng(0)
    n_val, n_test = 100, 40
    val = make_docs("medqa", "val", n_val + 1)
    test = make_docs("medqa", "test", n_test)
    for model in ("med", "base"):
        folder = tmp_path / model
        write_role_run(folder, model, "medqa", "val", {"f00": bernoulli(rng, 0.9, n_val), "f01": bernoulli(rng, 0.85, n_val)},
                       val[:n_val], when=0)
        write_role_run(folder, model, "medqa", "val", {"f02": bernoulli(rng, 0.3, n_val + 1)}, val, when=1)
        write_role_run(folder, model, "medqa", "test", {c: bernoulli(rng, 0.5, n_test) for c in ("f00", "f01", "f02")},
                       test, when=2)
    doc, md = compare(tmp_path, tmp_path / "med", tmp_path / "base")
    (rec,) = doc["records"]
    assert rec["medical_prompt"] == "f00" and rec["base_prompt"] == "f00"
    assert rec["medical_val_score"] == pytest.approx(0.9) and rec["n_val"] == n_val
    (note, *_) = notes_of(doc, md, "med validation: the 3 candidates cover different items")
    assert "f02: 101" in note and "100 items common to all (1 left out)" in note


def test_nan_validation_scores_are_left_out_and_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n_val = 60
    val, test = make_docs("medqa", "val", n_val), make_docs("medqa", "test", 30)
    for model in ("med", "base"):
        good = bernoulli(rng, 0.7, n_val)
        nan_run = bernoulli(rng, 0.6, n_val)
        nan_run[:5] = np.nan  # five items whose metric came out NaN
        write_role_run(tmp_path / model, model, "medqa", "val", {"f00": nan_run, "f01": good}, val, when=0)
        write_role_run(tmp_path / model, model, "medqa", "test", {"f00": bernoulli(rng, 0.5, 30),
                                                                  "f01": bernoulli(rng, 0.5, 30)}, test, when=1)
    doc, md = compare(tmp_path, tmp_path / "med", tmp_path / "base")
    (rec,) = doc["records"]
    assert rec["n_val"] == n_val - 5
    assert notes_of(doc, md, "med validation: NaN validation scores (left out like missing items): f00 5")


def test_a_candidate_without_any_valid_score_stops_selection_of_its_cell_only(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    for model in ("med", "base"):
        for ds, broken in (("medqa", True), ("pubmedqa", False)):
            val, test = make_docs(ds, "val", 30), make_docs(ds, "test", 30)
            f01 = np.full(30, np.nan) if broken else bernoulli(rng, 0.5, 30)
            write_role_run(tmp_path / model, model, ds, "val", {"f00": bernoulli(rng, 0.6, 30), "f01": f01}, val,
                           when=0 if ds == "medqa" else 2)
            write_role_run(tmp_path / model, model, ds, "test", {"f00": bernoulli(rng, 0.5, 30),
                                                                 "f01": bernoulli(rng, 0.5, 30)}, test,
                           when=1 if ds == "medqa" else 3)
    doc, md = compare(tmp_path, tmp_path / "med", tmp_path / "base")
    assert [r["dataset"] for r in doc["records"]] == ["pubmedqa"]
    (note,) = notes_of(doc, md, "medqa 0-shot mc acc: no prompt could be chosen")
    assert "NaN validation scores (left out like missing items): f01 30" in note and note.endswith("not compared")


def _halving_study(root: Path, scores: dict[str, np.ndarray], n_val: int, eta: int, min_items: int) -> list[np.ndarray]:
    """Logs laid out as ``medpair run --search halving`` writes them, with its manifest."""
    config = StudyConfig(("medqa",), shots=(0,), search="halving", halving_eta=eta, halving_min_items=min_items)
    Manifest(root / "manifest.json", {"models": {}, "config": config.as_dict()},
             {"items": {"medqa": {"val": n_val, "test": 20}}}).save()
    val, test = make_docs("medqa", "val", n_val), make_docs("medqa", "test", 20)
    cands = [f"f{i:02d}" for i in range(next(iter(scores.values())).shape[0])]
    order = halving.item_order(n_val, 0)
    rounds = halving.schedule(len(cands), n_val, eta, min_items)
    rng = np.random.default_rng(5)
    for side, matrix in scores.items():
        stage1 = root / "runs" / side / "stage1"

        def evaluate(number: int, alive: np.ndarray, new: np.ndarray, side=side, matrix=matrix) -> None:
            write_role_run(stage1 / f"val_medqa_mc_k0_r{number}", side, "medqa", "val",
                           {cands[i]: matrix[i, new] for i in alive}, [val[j] for j in new], when=number)

        history = halving.run_schedule(rounds, order, evaluate,
                                       lambda alive, items, matrix=matrix: matrix[np.ix_(alive, items)].mean(axis=1))
        write_role_run(root / "runs" / side / "stage2" / "test_medqa_mc_k0", side, "medqa", "test",
                       {c: bernoulli(rng, 0.5, 20) for c in cands}, test, when=10)
    return history


def test_halving_finalists_compete_only_when_the_manifest_records_the_schedule(tmp_path: Path) -> None:
    n_val, eta, min_items = 60, 3, 10
    rng = np.random.default_rng(2)
    matrix = (rng.random((11, n_val)) < 0.5).astype(float)
    order = halving.item_order(n_val, 0)
    first = order[:min_items]
    # f05 is perfect on the first slice and is eliminated later; f07 and f09 are the finalists
    matrix[5] = 0.0
    matrix[5, first] = 1.0
    matrix[7] = bernoulli(rng, 0.7, n_val)
    matrix[9] = bernoulli(rng, 0.6, n_val)
    matrix[9, first] = 1.0
    matrix[7, first] = 1.0
    history = _halving_study(tmp_path, {"medical": matrix, "base": matrix}, n_val, eta, min_items)
    finalists = [f"f{i:02d}" for i in history[-1]]
    assert "f05" not in finalists and {"f07", "f09"} <= set(finalists)
    runs = tmp_path / "runs"
    doc, md = compare(tmp_path / "with", runs / "medical", runs / "base")
    rec = doc["records"][0]
    assert rec["medical_prompt"] == "f07" and rec["n_val"] == n_val
    assert notes_of(doc, md, f"selection among the {len(finalists)} finalists of the successive-halving search")
    # without the record, every candidate competes on the items all of them cover
    (tmp_path / "manifest.json").unlink()
    doc, md = compare(tmp_path / "without", runs / "medical", runs / "base")
    rec = doc["records"][0]
    assert rec["n_val"] == min_items and rec["medical_prompt"] == "f05"  # perfect on the first slice only
    assert notes_of(doc, md, f"every candidate competes on the {min_items} items common to all")


def test_duplicate_samples_collapsed_are_disclosed(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 20)
    rng = np.random.default_rng(3)
    med = write_role_run(tmp_path / "m", "med", "medqa", "test", {"f00": bernoulli(rng, 0.6, 20)}, docs, when=0,
                         repeat_samples=2)
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": bernoulli(rng, 0.5, 20)}, docs, when=1)
    doc, md = compare(tmp_path, med, base)
    assert doc["records"][0]["n"] == 20
    (note,) = notes_of(doc, md, "duplicate samples collapsed")
    assert note.startswith("med logs: 20 sample records")


def _partial_rerun(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray, np.ndarray]:
    docs = make_docs("medqa", "test", 40)
    rng = np.random.default_rng(4)
    old, rerun, base_scores = bernoulli(rng, 0.5, 40), bernoulli(rng, 0.9, 10), bernoulli(rng, 0.5, 40)
    write_role_run(tmp_path / "m", "med", "medqa", "test", {"f00": old}, docs, when=0)
    med = write_role_run(tmp_path / "m", "med", "medqa", "test", {"f00": rerun}, docs[:10], when=5)
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": base_scores}, docs, when=1)
    return med, base, old, rerun, base_scores


def test_a_newer_partial_rerun_is_not_mixed_by_default(tmp_path: Path) -> None:
    med, base, old, rerun, base_scores = _partial_rerun(tmp_path)
    doc, md = compare(tmp_path, med, base)
    rec = doc["records"][0]
    assert rec["n"] == 40 and rec["medical_score"] == pytest.approx(old.mean())
    (note,) = notes_of(doc, md, "newer partial rerun(s) were NOT mixed")
    assert "medpair_medqa_mc_f00_k0 (med, test role): 10 items" in note and "40 in the older run" in note


def test_mix_runs_mixes_item_by_item_and_says_so(tmp_path: Path) -> None:
    med, base, old, rerun, base_scores = _partial_rerun(tmp_path)
    doc, md = compare(tmp_path, med, base, "--mix-runs")
    mixed = np.concatenate([rerun, old[10:]])
    assert doc["records"][0]["medical_score"] == pytest.approx(mixed.mean())
    assert notes_of(doc, md, "were mixed with older runs, the newest run winning item by item (--mix-runs)")


def test_nan_test_scores_and_a_truncated_line_are_disclosed(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 30)
    rng = np.random.default_rng(6)
    scores = bernoulli(rng, 0.6, 30)
    scores[[3, 7]] = np.nan
    med = write_role_run(tmp_path / "m", "med", "medqa", "test", {"f00": scores}, docs, when=0)
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": bernoulli(rng, 0.5, 30)}, docs, when=1)
    path = samples_path(base, "medpair_medqa_mc_f00_k0")
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) - 40], encoding="utf-8")  # the last line cut by a crash
    doc, md = compare(tmp_path, med, base)
    assert doc["records"][0]["n"] == 27
    assert notes_of(doc, md, "2 test rows of med (f00) have a NaN score; those items were dropped")
    (note,) = notes_of(doc, md, "malformed last line(s) skipped (a crashed run?), their rows dropped")
    assert note.startswith("base logs:") and f"{path.name}:30" in note


def test_logs_made_with_limit_are_marked(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 12)
    rng = np.random.default_rng(7)
    med = write_role_run(tmp_path / "m", "med", "medqa", "test", {"f00": bernoulli(rng, 0.6, 12)}, docs, when=0)
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": bernoulli(rng, 0.5, 12)}, docs, when=1)
    for folder in (med, base):  # as `lm_eval --limit 12` records it on a 500-item split
        (res_path,) = folder.glob("results_*.json")
        res = json.loads(res_path.read_text(encoding="utf-8"))
        res["config"]["limit"] = 12
        res["n-samples"]["medpair_medqa_mc_f00_k0"] = {"original": 500, "effective": 12}
        res_path.write_text(json.dumps(res, indent=2), encoding="utf-8")
    doc, md = compare(tmp_path, med, base)
    rec = doc["records"][0]
    assert rec["n"] == 12 and rec["n_test_total"] == 500
    assert notes_of(doc, md, "med logs were made with lm-eval's --limit: 12 of 500 test items")
    assert "| 12 of 500 (--limit) |" in md


def test_symlinked_run_folders_are_followed_and_loops_end(tmp_path: Path) -> None:
    docs = make_docs("medqa", "test", 20)
    rng = np.random.default_rng(8)
    elsewhere = write_role_run(tmp_path / "elsewhere", "med", "medqa", "test", {"f00": bernoulli(rng, 0.7, 20)},
                               docs, when=0)
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": bernoulli(rng, 0.5, 20)}, docs, when=1)
    med = tmp_path / "med_runs"
    med.mkdir()
    os.symlink(elsewhere, med / "run1")  # a run folder linked in
    os.symlink(med, med / "loop")  # a link back up: must not loop forever
    doc, _ = compare(tmp_path, med, base)
    assert doc["records"][0]["n"] == 20 and doc["records"][0]["medical"] == "med"


def test_a_symlink_loop_as_medical_is_a_one_line_error(tmp_path: Path) -> None:
    os.symlink(tmp_path / "a", tmp_path / "b")
    os.symlink(tmp_path / "b", tmp_path / "a")
    base = write_role_run(tmp_path / "base", "base", "medqa", "test", {"f00": [1, 0, 1]}, make_docs("medqa", "test", 3),
                          when=0)
    proc = run_medpair_here(["compare", "--medical", str(tmp_path / "a"), "--base", str(base), "--out", str(tmp_path / "o")], None)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "symbolic link loop" in lines[0] and lines[0].startswith("medpair compare: error:")
