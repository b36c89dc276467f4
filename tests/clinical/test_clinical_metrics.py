"""Scores of the generative clinical tasks, against values worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from medpair_testlib import write_tiny_bert

from medpair_tasks.clinical.bertscore import NOT_CONFIGURED, BertScoreConfig, bertscore_config, scorer
from medpair_tasks.clinical.hooks import score_codes, score_summary
from medpair_tasks.clinical.metrics import icd_scores, parse_icd10_codes, precision_recall_f1, rouge_scores


def test_rouge_against_hand_counts():
    # unigrams: 5 of 6 shared; bigrams: "the cat", "on the", "the mat" of 5; LCS "the cat on the mat" = 5
    scores = rouge_scores("the cat sat on the mat", "the cat lay on the mat")
    assert scores == pytest.approx({"rouge1": 5 / 6, "rouge2": 3 / 5, "rougeL": 5 / 6})
    # precision and recall differ: prediction 2 tokens, reference 4, one shared unigram
    assert rouge_scores("aspirin daily", "take aspirin every morning")["rouge1"] == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert rouge_scores("", "anything")["rouge1"] == 0.0
    assert score_summary({"reference": "What treats asthma?"}, ["  What treats asthma?\n"]) == pytest.approx(
        {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0})


def test_icd10_parsing_follows_clue():
    assert parse_icd10_codes("Codes: E11.9, I10; J44.9 and e11.9, U07.1, A1") == ["E119", "I10", "J449"]


def test_icd_scores_by_hand():
    scores = icd_scores("I25.10, E11.65, N17.9, I25.10", ["I2510", "E119", "N179"])
    assert scores["icd_exact_precision"] == pytest.approx(2 / 3)  # E1165 is not E119; the repeat counts once
    assert scores["icd_exact_recall"] == pytest.approx(2 / 3)
    assert scores["icd_exact_f1"] == pytest.approx(2 / 3)
    assert (scores["icd_3char_precision"], scores["icd_3char_recall"], scores["icd_3char_f1"]) == (1.0, 1.0, 1.0)
    assert scores["icd_valid_share"] == 1.0
    mixed = icd_scores("E11.9 X99.99 Z99.99", ["E119"])
    assert mixed["icd_valid_share"] == pytest.approx(1 / 3)  # X9999 and Z9999 are not ICD-10-CM codes
    assert mixed["icd_exact_precision"] == pytest.approx(1 / 3) and mixed["icd_exact_recall"] == 1.0
    assert mixed["icd_exact_f1"] == pytest.approx(2 * (1 / 3) / (4 / 3))
    nothing = icd_scores("no codes here", ["E119"])
    assert all(v == 0.0 for v in nothing.values())
    assert score_codes({"codes": ["E119"]}, ["E11.9"])["icd_exact_f1"] == 1.0


def test_precision_recall_f1_edge_cases():
    assert precision_recall_f1([], []) == (0.0, 0.0, 0.0)
    assert precision_recall_f1(["a"], []) == (0.0, 0.0, 0.0)
    p, r, f = precision_recall_f1(["a", "b", "c", "d"], ["a", "e"])
    assert (p, r) == (0.25, 0.5) and f == pytest.approx(1 / 3)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A randomly initialised BERT with a trained WordPiece tokenizer, saved to a folder."""
    texts = ["the patient has a cough and fever", "what is the dose of aspirin for pain"]
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), texts, layers=2, hidden=32)


def _reference_bertscore(folder: Path, layer: int, candidate: str, reference: str) -> tuple[float, float, float]:
    """Zhang et al.'s greedy matching, written out with loops over tokens."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()

    def embed(text: str) -> list[list[float]]:
        ids = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            states = model(**ids, output_hidden_states=True).hidden_states[layer][0]
        return [v.tolist() for v in states[1:-1]]  # without [CLS] and [SEP]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    cand, ref = embed(candidate), embed(reference)
    recall = sum(max(cosine(r, c) for c in cand) for r in ref) / len(ref)
    precision = sum(max(cosine(c, r) for r in ref) for c in cand) / len(cand)
    return precision, recall, 2 * precision * recall / (precision + recall)


def test_bertscore_with_a_local_model(tiny_bert):
    config = bertscore_config({"bertscore_model": str(tiny_bert), "bertscore_layer": 1})
    assert config == BertScoreConfig(str(tiny_bert.resolve()), 1)
    bert = scorer(config)
    assert bert.score("the patient has a cough", "the patient has a cough") == pytest.approx((1.0, 1.0, 1.0))
    got = bert.score("the patient has fever", "what is the dose of aspirin")
    assert got == pytest.approx(_reference_bertscore(tiny_bert, 1, "the patient has fever", "what is the dose of aspirin"), abs=1e-5)
    assert bert.score("", "anything") == (0.0, 0.0, 0.0)


def test_bertscore_needs_a_local_folder(tmp_path):
    assert bertscore_config({}) is None
    with pytest.raises(ValueError, match="not a folder on this machine"):
        bertscore_config({"bertscore_model": "roberta-large"})
    (tmp_path / "roberta-large").mkdir()
    assert bertscore_config({"bertscore_model": str(tmp_path / "roberta-large")}).layer == 17  # the paper's layer
    assert "never downloads" in NOT_CONFIGURED and "bertscore_model" in NOT_CONFIGURED


def test_bertscore_lands_in_the_task_results(tiny_bert, data_dir, monkeypatch, caplog):
    from medpair_tasks.clinical.task import ClinicalTask
    from medpair_tasks.lm_eval_internals import read_task_yaml
    from medpair_tasks.registry import task_path

    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(data_dir))
    config = read_task_yaml(task_path() / "clinical" / "meqsum" / "medpair_meqsum.yaml", resolve_functions=True)
    config["metadata"] = {**config["metadata"], "bertscore_model": str(tiny_bert), "bertscore_layer": 2}
    task = ClinicalTask(config=config)
    doc = next(iter(task.eval_docs))
    scores = task.process_results(doc, [doc["reference"]])
    assert scores["bertscore_f1"] == pytest.approx(1.0) and scores["rougeL"] == pytest.approx(1.0)
    assert [m["metric"] for m in json.loads(json.dumps(config["metric_list"]))][-1] == "bertscore_f1"
    plain = dict(config, metadata={k: v for k, v in config["metadata"].items() if not k.startswith("bertscore_")})
    with caplog.at_level("WARNING"):
        without = ClinicalTask(config=plain)
    assert "bertscore_f1" not in without.process_results(doc, [doc["reference"]])
    assert any("BERTScore is not computed" in r.getMessage() for r in caplog.records)
