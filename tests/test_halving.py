"""Successive halving: the schedule, its replay, and ``medpair run --search halving``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from medpair_testlib import run_medpair
from medpair_tasks.study import halving


@pytest.mark.parametrize(("n_candidates", "n_items"), [(121, 500), (11, 500), (110, 30), (1, 7), (2, 3)])
def test_schedule_shape(n_candidates, n_items):
    rounds = halving.schedule(n_candidates, n_items, eta=3, min_items=50)
    assert rounds[0].n_candidates == n_candidates and rounds[-1].n_items == n_items
    for earlier, later in zip(rounds, rounds[1:]):
        assert later.n_candidates == math.ceil(earlier.n_candidates / 3)
        assert earlier.n_items <= later.n_items
    assert rounds[-1].n_candidates <= 3 or n_candidates == 1
    assert halving.requests(rounds) <= n_candidates * n_items


def test_request_count_is_the_sum_over_rounds():
    rounds = halving.schedule(121, 500, eta=3, min_items=50)
    assert [(r.n_candidates, r.n_items) for r in rounds] == [(121, 50), (41, 50), (14, 56), (5, 167), (2, 500)]
    assert halving.requests(rounds) == 121 * 50 + 41 * 0 + 14 * 6 + 5 * 111 + 2 * 333


def test_replay_finds_a_clearly_better_candidate_and_breaks_ties_to_the_first():
    rng = np.random.default_rng(1)
    scores = (rng.random((121, 500)) < 0.5).astype(float)
    scores[77] = (rng.random(500) < 0.8).astype(float)
    rounds = halving.schedule(121, 500)
    assert halving.simulate(scores, halving.item_order(500, 0), rounds) == 77
    assert halving.simulate(np.ones((11, 60)), halving.item_order(60, 0), halving.schedule(11, 60)) == 0
    assert list(halving.survivors(np.array([0.5, 0.7, 0.7, 0.1]), 2)) == [1, 2]


@pytest.mark.slow
def test_study_with_halving_search(tiny_models, data_dir, tmp_path):
    base, medical = tiny_models
    out = tmp_path / "study"
    run_medpair(["run", "--medical", f"hf:pretrained={medical},dtype=float32", "--base", f"hf:pretrained={base},dtype=float32",
                 "--tasks", "medqa", "--shots", "0,3", "--out", str(out), "--device", "cpu", "--batch-size", "8",
                 "--search", "halving", "--halving-min-items", "2", "--n-resamples", "1000", "--protocol", "medpair"], data_dir)
    shards = sorted(p.name for p in (out / "runs" / "medical" / "stage1").iterdir())
    assert shards[0].startswith("val_medqa_mc_k0_r0") and any(s.startswith("val_medqa_mc_k3_r") for s in shards)
    manifest = json.loads((out / "manifest.json").read_text())
    progress = manifest["progress"]["medical"]["stage1"]
    first, *later = [progress[s]["tasks"] for s in sorted(progress) if "_k3_" in s]
    assert len(first) == 110 and all(len(t) < 110 for t in later)
    report = json.loads((out / "report" / "comparisons.json").read_text())
    records = report["records"]
    # the report's selection used the schedule recorded in the manifest: finalists only, on all items
    assert any("finalists of the successive-halving search recorded in study/manifest.json" in n for n in report["notes"])
    k3 = next(r for r in records if r["setting"] == "3-shot")
    assert k3["n_val"] == manifest["plan"]["items"]["medqa"]["val"]
    fmt, _, seed = k3["medical_prompt"].partition("/s")
    assert manifest["selection"]["medical"]["medqa_mc_k3"] == f"medpair_medqa_mc_{fmt}_k3_s{seed}"
    assert manifest["selection"]["medical"]["medqa_mc_k3"] in later[-1]
