"""Prompt selection: best validation mean on common items, ties to f00 then candidate id."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from medpair_stats.selection import (
    best_candidate,
    candidate_scores,
    choose_pair,
    default_candidate,
    order_candidates,
)


def _rows(cands: dict[str, list[float]], items: list[str] | None = None, clusters=None) -> pd.DataFrame:
    recs = []
    for cand, scores in cands.items():
        keys = items or [f"i{j:03d}" for j in range(len(scores))]
        for k, s in zip(keys, scores):
            if s is None:
                continue
            recs.append({"candidate": cand, "item_key": k, "score": float(s),
                         "cluster": None if clusters is None else clusters[k]})
    df = pd.DataFrame(recs)
    df["candidate"] = df["candidate"].astype("category")
    df["item_key"] = df["item_key"].astype("category")
    df["cluster"] = df["cluster"].astype("category")
    return df


def test_candidate_order_is_f00_then_format_then_numeric_seed() -> None:
    ids = ["f01/s10", "f10", "f01/s2", "f00/s3", "f02", "f00/s1", "f00"]
    assert order_candidates(ids) == ["f00", "f00/s1", "f00/s3", "f01/s2", "f01/s10", "f02", "f10"]


@pytest.mark.parametrize(
    ("cands", "expected"),
    [
        ({"f02": [1, 1, 0, 0], "f00": [1, 0, 1, 0], "f01": [0, 0, 1, 1]}, "f00"),  # three-way tie -> f00
        ({"f03": [1, 1, 1, 0], "f00": [1, 0, 0, 0], "f02": [0, 1, 1, 1]}, "f02"),  # tie without f00 -> lower id
        ({"f01/s10": [1, 1, 0], "f01/s2": [0, 1, 1], "f00/s5": [0, 0, 1]}, "f01/s2"),  # numeric seed order
        ({"f04/s0": [1, 0, 0], "f00/s9": [0, 0, 1]}, "f00/s9"),  # f00 first whatever its seed
        ({"f00": [0, 0, 1], "f05": [1, 1, 0]}, "f05"),  # a strictly better candidate beats f00
    ],
)
def test_best_candidate_and_ties(cands: dict, expected: str) -> None:
    choice = best_candidate(candidate_scores(_rows(cands)))
    assert choice.candidate == expected
    means = {c: np.mean(v) for c, v in cands.items()}
    assert choice.val_score == pytest.approx(max(means.values()))
    assert set(choice.tied) == {c for c, m in means.items() if m == max(means.values())} - {expected}


def test_continuous_ties_within_rounding() -> None:
    a = [0.1, 0.2, 0.3]
    b = [0.3, 0.2, 0.1]  # same mean, different float summation order
    assert best_candidate(candidate_scores(_rows({"f01": b, "f00": a}))).candidate == "f00"


def test_selection_uses_only_items_every_candidate_covers(caplog) -> None:
    # f00 and f02 cover different halves of the same number of items: only the
    # items both cover count (on its own items f02 looks better).
    cands = {"f00": [1, 1, 1, 0, None, None], "f02": [None, None, 0, 1, 1, 1]}
    with caplog.at_level(logging.WARNING):
        cs = candidate_scores(_rows(cands), context="medqa 0-shot")
    assert cs.items == ("i002", "i003") and cs.n_union == 6
    assert any("cover different items" in r.getMessage() and "medqa 0-shot" in r.getMessage() for r in caplog.records)
    choice = best_candidate(cs)
    assert choice.candidate == "f00" and choice.val_score == 0.5 and choice.n_val == 2  # tie on shared items -> f00
    np.testing.assert_array_equal(cs.row("f02"), [0, 1])


def test_candidates_covering_fewer_items_still_compete_on_common_items(caplog) -> None:
    # Without a recorded search schedule nobody is dropped for covering fewer items: every
    # candidate competes on the items all of them cover (here f01, which skipped the items it
    # would get wrong, ties with f00 on the 3 common items), and the notes name the coverage.
    cands = {"f00": [1, 1, 1, 0, 0, 0], "f01": [1, 1, 1, None, None, None], "f03": [0, 1, 1, 0, 0, 1]}
    with caplog.at_level(logging.WARNING):
        cs = candidate_scores(_rows(cands), context="medqa 0-shot")
    assert cs.candidates == ("f00", "f01", "f03") and len(cs.items) == 3 and cs.excluded == ()
    assert any("f01: 3" in n and "3 items common to all" in n for n in cs.notes)
    assert any("medqa 0-shot" in r.getMessage() for r in caplog.records)
    choice = best_candidate(cs)
    assert choice.candidate == "f00" and choice.val_score == 1.0 and choice.tied == ("f01",)


def test_clusters_are_carried_per_item() -> None:
    cl = {"i000": "p1", "i001": "p1", "i002": "p2"}
    cs = candidate_scores(_rows({"f00": [1, 0, 1]}, clusters=cl))
    assert cs.clusters == ("p1", "p1", "p2")


def _cs(cands):
    return candidate_scores(_rows(cands))


def test_per_model_selection_each_model_its_own() -> None:
    med = _cs({"f00": [0, 0, 1], "f01": [1, 1, 0]})
    base = _cs({"f00": [1, 1, 0], "f01": [0, 0, 0]})
    pc = choose_pair("per-model", med, base, {"f00", "f01"}, {"f00", "f01"}, shots=0)
    assert (pc.medical.candidate, pc.base.candidate, pc.selection) == ("f01", "f00", "per-model")


def test_medical_prompt_selection_base_reuses_medical_choice() -> None:
    med = _cs({"f00": [0, 0, 1], "f01": [1, 1, 0]})
    base = _cs({"f00": [1, 1, 0], "f01": [0, 0, 0]})
    pc = choose_pair("medical-prompt", med, base, {"f00", "f01"}, {"f00", "f01"}, shots=0)
    assert (pc.medical.candidate, pc.base.candidate, pc.selection) == ("f01", "f01", "medical-prompt")
    assert pc.base.rule == "medical-prompt"


def test_default_selection_takes_f00_lowest_common_seed() -> None:
    med = _cs({"f00/s0": [0, 0, 1], "f01/s0": [1, 1, 1]})
    pc = choose_pair("default", med, None, {"f00/s3", "f00/s1", "f01/s0"}, {"f00/s3", "f00/s5"}, shots=3)
    assert pc.medical.candidate == pc.base.candidate == "f00/s3"
    assert pc.selection.startswith("none: default")


def test_without_validation_logs_no_selection_is_said() -> None:
    pc = choose_pair("per-model", None, None, {"f02", "f00"}, {"f03"}, shots=0)
    assert (pc.medical.candidate, pc.base.candidate) == ("f00", "f03")
    assert pc.selection == "none: no validation logs"
    med = _cs({"f00": [0, 0, 1], "f01": [1, 1, 0]})
    pc = choose_pair("per-model", med, None, {"f01"}, {"f00"}, shots=0)
    assert pc.selection == "per-model; none for base: no validation logs"
    assert default_candidate([]) is None
