"""Label bias made visible (issue 10, item 8) and the report's wording (item 9), through ``medpair compare``."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from lmeval_fake import make_docs, write_role_run
from scipy.stats import norm
from test_disclosure import compare, notes_of

from medpair_stats.records import finalize_records
from medpair_stats.report import MethodInfo, render_markdown


def pubmedqa_like_docs(n_yes: int, n_no: int, n_maybe: int) -> list[dict]:
    """Three-option docs whose gold answers are sorted by label, as PubMedQA's test file stores them."""
    docs = make_docs("pubmedqa", "test", n_yes + n_no + n_maybe)
    gold = [0] * n_yes + [1] * n_no + [2] * n_maybe
    for doc, g in zip(docs, gold):
        doc["options"] = ["yes", "no", "maybe"]
        doc["answer_idx"] = g
    return docs


def test_a_model_answering_one_option_shows_the_baseline_and_its_answer_distribution(tmp_path) -> None:
    docs = pubmedqa_like_docs(28, 17, 5)
    gold = np.array([d["answer_idx"] for d in docs])
    rng = np.random.default_rng(0)
    always_yes = np.zeros(gold.size, dtype=int)
    base_answers = rng.integers(0, 3, gold.size)
    med = write_role_run(tmp_path / "m", "med", "pubmedqa", "test", {"f00": (always_yes == gold).astype(float)}, docs,
                         when=0, answers={"f00": always_yes})
    base = write_role_run(tmp_path / "b", "base", "pubmedqa", "test", {"f00": (base_answers == gold).astype(float)},
                          docs, when=1, answers={"f00": base_answers})
    doc, md = compare(tmp_path, med, base)
    (rec,) = doc["records"]
    assert rec["medical_score"] == pytest.approx(28 / 50)
    assert rec["majority_baseline"] == pytest.approx(28 / 50) and rec["majority_option"] == "A"
    assert rec["medical_answers"] == {"A": 1.0, "B": 0.0, "C": 0.0}
    expected = {letter: pytest.approx(float(np.mean(base_answers == i))) for i, letter in enumerate("ABC")}
    assert rec["base_answers"] == expected
    assert rec["answer_bias"] == "medical: A 100%"
    assert "## Answers (multiple choice)" in md and "| 0.560 (A) | A 100% · B 0% · C 0% |" in md
    assert notes_of(doc, md, "answers mostly one option (medical: A 100%; majority-class baseline 0.560, option A)")


def test_generation_answers_that_name_no_option_are_counted_as_none(tmp_path) -> None:
    docs = make_docs("medqa", "test", 20)
    gold = np.array([d["answer_idx"] for d in docs])
    med_answers = gold.copy()
    med_answers[:5] = -1  # unparseable generations
    med = write_role_run(tmp_path / "m", "med", "medqa", "test", {"f00": (med_answers == gold).astype(float)}, docs,
                         when=0, mode="gen", answers={"f00": med_answers})
    base = write_role_run(tmp_path / "b", "base", "medqa", "test", {"f00": np.ones(20)}, docs, when=1, mode="gen")
    doc, _ = compare(tmp_path, med, base)
    (rec,) = doc["records"]
    assert rec["medical_answers"]["none"] == pytest.approx(0.25)
    assert rec["base_answers"] == {letter: pytest.approx(float(np.mean(gold == i))) for i, letter in enumerate("ABCD")}
    assert rec["answer_bias"] == ""


def _three_outcomes(tmp_path) -> tuple[dict, str]:
    """One clear win, one exact tie and one clear loss, with an extra metric (brier) in the won cell."""
    n = 40
    rng = np.random.default_rng(1)
    same = (rng.random(n) < 0.5).astype(float)
    for model, (win, loss) in {"med": (np.ones(n), np.zeros(n)), "base": (np.zeros(n), np.ones(n))}.items():
        write_role_run(tmp_path / model, model, "medqa", "test", {"f00": {"acc": win, "brier": rng.random(n)}},
                       make_docs("medqa", "test", n), when=0)
        write_role_run(tmp_path / model, model, "pubmedqa", "test", {"f00": same}, make_docs("pubmedqa", "test", n),
                       when=1)
        write_role_run(tmp_path / model, model, "medmcqa", "test", {"f00": loss}, make_docs("medmcqa", "test", n),
                       when=2)
    return compare(tmp_path, tmp_path / "med", tmp_path / "base")


def test_headline_counts_one_primary_record_per_cell_and_shares_total_100(tmp_path) -> None:
    doc, md = _three_outcomes(tmp_path)
    primary = {(r["dataset"], r["metric"]): r["primary"] for r in doc["records"]}
    assert primary == {("medqa", "acc"): True, ("medqa", "brier"): False, ("pubmedqa", "acc"): True,
                       ("medmcqa", "acc"): True}
    summary = doc["summary"]["outcome"]
    assert (summary["n"], summary["win"], summary["tie"], summary["loss"]) == (3, 1, 1, 1)
    assert summary["win_pct"] + summary["tie_pct"] + summary["loss_pct"] == pytest.approx(100.0, abs=1e-9)
    assert sorted([summary["win_pct"], summary["tie_pct"], summary["loss_pct"]]) == [33.3, 33.3, 33.4]
    assert doc["summary"]["secondary_records"] == 1
    assert "## Other metrics (not in the headline)" in md and "(3 of 3)" not in md.split("\n")[2]


def test_report_headers_are_unique_and_the_mde_line_states_power_and_alpha(tmp_path) -> None:
    doc, md = _three_outcomes(tmp_path)
    for line in md.splitlines():
        if line.startswith("| medical |"):
            names = [c.strip() for c in line.strip("|").split("|")]
            assert len(names) == len(set(names)), names
    assert "two-sided test at α = 0.05 detects with 80% power" in md
    rec = next(r for r in doc["records"] if r["dataset"] == "pubmedqa")
    assert rec["mde"] == pytest.approx((norm.ppf(0.975) + norm.ppf(0.8)) * rec["se"], rel=1e-9)


def test_a_win_never_displays_as_zero_lower_bound() -> None:
    method = MethodInfo(n_resamples=1000, seed=0, confidence=0.95, ci_method="percentile", adjust="holm",
                        selection="per-model", selection_aware=False)
    from test_report import _rec

    recs = finalize_records([_rec(0, 0.01, 0.00031, 0.02, 0.001), _rec(1, -0.01, -0.02, -0.0000042, 0.001)], "holm")
    md = render_markdown(recs, method)
    bounds = re.findall(r"\[(-?[0-9.e-]+), (-?[0-9.e-]+)\]", md)
    assert ("0.00031", "0.020") in bounds and ("-0.020", "-4.2e-06") in bounds
    assert "[0.000," not in md and "-0.000]" not in md
    tie = render_markdown([dataclasses.replace(recs[0], ci_low=0.0, outcome="tie")], method)
    assert "[0.000, 0.020]" in tie  # an exact zero is a zero


@pytest.mark.parametrize(
    ("filtered", "n_options", "expected"),
    [
        ([["-1.5", "False"], ["-0.25", "True"], ["-3", "False"]], 3, 1),  # lm-eval logs log-likelihoods as strings
        ([[-0.5, False], [-0.5, False], [-2.0, False]], 3, 0),  # ties go to the first option, as lm-eval's acc
        (["C"], 4, 2),
        (["[unparseable]"], 4, -1),
        (["E"], 4, -1),  # a letter beyond the options names no option
        ([["-1", "False"], ["-2", "False"]], 3, -2),  # one pair per option, or the shape is unknown
        ("A", 4, -2),
        (["A"], 0, -2),  # not multiple choice
    ],
)
def test_answer_of_logged_responses(filtered, n_options, expected) -> None:
    from medpair_stats.lineparse import answer_of

    assert answer_of(filtered, n_options) == expected


def test_answers_read_on_the_fast_path_equal_the_full_parse(tmp_path) -> None:
    from medpair_stats.logs import read_logs

    docs = pubmedqa_like_docs(5, 4, 3)
    answers = np.array([0, 1, 2, 2, 1, 0, 0, 1, 2, 0, 1, 2])
    write_role_run(tmp_path, "m", "pubmedqa", "test", {"f00": np.ones(12)}, docs, when=0, answers={"f00": answers})
    write_role_run(tmp_path, "m", "pubmedqa", "test", {"f00": np.ones(12)}, docs, when=1, mode="gen",
                   answers={"f00": np.where(answers == 2, -1, answers)})
    fast, full = read_logs([tmp_path]), read_logs([tmp_path], full_parse=True)
    assert fast.attrs["medpair"]["fast_lines"] == 24
    for table in (fast, full):
        by_mode = {m: sub["answer"].tolist() for m, sub in table.groupby("mode", observed=True)}
        assert by_mode == {"mc": answers.tolist(), "gen": np.where(answers == 2, -1, answers).tolist()}
        assert table["gold"].tolist()[:12] == [d["answer_idx"] for d in docs] and set(table["n_options"]) == {3}
