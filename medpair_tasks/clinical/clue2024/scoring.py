"""CLUE's extraction and per-item scores, and its BERTScore settings."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from medpair_tasks.clinical.bertscore import BertScoreConfig
from medpair_tasks.clinical.clue2024.prompts import LONGHEALTH_TASKS
from medpair_tasks.clinical.metrics import is_valid_icd10, rouge_scores


BERTSCORE_MODEL = "allenai/scibert_scivocab_uncased"  # bert_score's lang2model["en-sci"]
BERTSCORE_LAYER = 8  # bert_score's model2layers for that model
BERTSCORE_MAX_LENGTH = 512  # bert_score's sent_encode: max_length=512, special tokens included
LONGHEALTH_ANSWER = re.compile(r"The correct answer is (\w):")
ICD10_PATTERN = re.compile(r"\b[A-TV-Z][0-9]{2}(?:\.?[0-9A-Z]{1,4})?\b")  # CLUE's eval/utils.py


def mednli_correct(generation: str, gold_label: str) -> float:
    """CLUE's MedNLI rule: 1 when the gold label occurs exactly once in the upper-cased generation."""
    return float(len(re.findall(gold_label.upper(), generation.upper())) == 1)


def longhealth_choice(generation: str) -> str:
    """CLUE's LongHealth extraction: the letter of the first ``The correct answer is X:``, else ""."""
    found = LONGHEALTH_ANSWER.findall(generation)
    return found[0] if found else ""


def _icd_prf(predicted: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    precision = sum(p in gold for p in predicted) / len(predicted) if predicted else 0.0
    recall = sum(g in predicted for g in gold) / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def icd_scores(generation: str, gold_codes: str) -> dict[str, float]:
    """CLUE's MeDiSumCode scores: parsed codes without dots (a list: a repeated code counts each
    time) against ``gold_codes.split(", ")``; exact, then as sets of 3-character categories."""
    predicted = [code.replace(".", "") for code in ICD10_PATTERN.findall(generation)]
    gold = gold_codes.split(", ")
    scores: dict[str, float] = {}
    for level, pred, true in (("exact", predicted, gold),
                              ("3char", sorted({p[:3] for p in predicted}), sorted({g[:3] for g in gold}))):
        p, r, f = _icd_prf(pred, true)
        scores[f"icd_{level}_precision"], scores[f"icd_{level}_recall"], scores[f"icd_{level}_f1"] = p, r, f
    valid = [code for code in predicted if is_valid_icd10(code)]
    scores["icd_valid_share"] = len(valid) / len(predicted) if predicted else 0.0
    return scores


def extract(doc: Mapping[str, Any], generation: str) -> str:
    """What CLUE scores of a generation: LongHealth's letter, every other task's whole text."""
    return longhealth_choice(generation) if doc["dataset"] in LONGHEALTH_TASKS else generation


def extract_filter(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """lm-eval ``custom`` filter of ``clue2024`` tasks: :func:`extract` of every generation."""
    return [[extract(doc, r) for r in doc_resps] for doc_resps, doc in zip(resps, docs)]


def score(doc: Mapping[str, Any], extracted: str) -> dict[str, float]:
    """CLUE's per-item scores of one (extracted) generation; BERTScore is added by the task."""
    dataset = doc["dataset"]
    if dataset == "mednli":
        return {"acc": mednli_correct(extracted, str(doc["gold_label"]))}
    if dataset in LONGHEALTH_TASKS:
        return {"acc": float(bool(extracted) and extracted == doc["gold_letter"])}
    if dataset == "medisumcode":
        return icd_scores(extracted, str(doc["reference"]))
    return rouge_scores(extracted, str(doc["reference"]))


def bertscore_settings(metadata: Mapping[str, Any]) -> BertScoreConfig:
    """BERTScore as CLUE's ``lang="en-sci"``: SciBERT (uncased) layer 8, 512 tokens, no idf, no
    rescaling, and the ``bert_score`` package's greedy matching (a token's best match may be the
    other text's ``[CLS]`` or ``[SEP]``); ``bertscore_model`` names a local copy (tests, offline
    machines), ``bertscore_layer`` another layer."""
    model = str(metadata.get("bertscore_model") or BERTSCORE_MODEL)
    layer = metadata.get("bertscore_layer")
    return BertScoreConfig(model, BERTSCORE_LAYER if layer is None else int(layer), BERTSCORE_MAX_LENGTH,
                           match_specials=True)
