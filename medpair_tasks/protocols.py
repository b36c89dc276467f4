"""Protocols: everything that decides a prompt, a draw or a score, named as data.

A protocol is chosen per run with ``--metadata '{"protocol": "jeong2024"}'`` (``lm_eval`` and
``medpair eval``) or ``--protocol`` (``medpair run``); every task's metadata carries its
protocol id, so lm-eval's results file records it, and two runs under different protocols are
never paired. The README's "Protocols" section tabulates the differences and why.

- ``medpair``: medpair's own choices (one model-neutral format grammar, source-disjoint draws,
  its extractor, stops at a blank line), kept because each is easier to defend statistically;
- ``jeong2024``: the reference code of Jeong et al. (``taekb/eval-medical-dapt`` at 908bb86),
  reproduced: the model's profile (own template and system prompt) as ``f00``, the reference's
  grammar draws as ``f01`` … ``f10``, its validation subsample and demonstrations, its
  populations and its extractor;
- ``clue2024``: CLUE's evaluation code (``TIO-IKIM/CLUE``) for its six clinical tasks, reproduced
  (:mod:`medpair_tasks.clinical.clue2024`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Protocol:
    """One protocol's choices; each field names the module or rule that implements it."""

    id: str
    reference: str
    grammar: str
    profiles: str
    draws: str
    populations: str
    shots: int
    scoring: str
    generation_stops: str
    extraction: str


MEDPAIR = Protocol(
    id="medpair",
    reference="medpair's design (this repository)",
    grammar="medpair_tasks.formats: 11 model-neutral formats, numpy draws (seed 2024); no system prompt",
    profiles="none: every model reads the same f00",
    draws="medpair_tasks.family.roles: validation subsample default_rng(1234), demonstrations default_rng(seed).choice",
    populations="medpair_tasks.knowledge.roles: PubMedQA 450 validation / 50 few-shot pool from PQA-L; MMLU nine subjects",
    shots=3,
    scoring="letter log-likelihood (mc) or greedy generation (gen), 64 new tokens",
    generation_stops="a blank line",
    extraction="medpair_tasks.extract",
)

JEONG2024 = Protocol(
    id="jeong2024",
    reference="GitHub taekb/eval-medical-dapt at commit 908bb86",
    grammar="medpair_tasks.jeong2024: the reference grammar (13/4/8 separators, 6 wrappers), Python random draws",
    profiles="medpair_tasks.jeong2024.PROFILES: each known model's own template and system prompt as f00; chat "
    "models through their tokenizer's chat template (medpair_tasks.jeong2024_chat); for other models, sampled "
    "system prompts by run metadata system_prompt_seed 0-2 (medpair_tasks.jeong2024_system); VLMs: LLaVA-v0, "
    "LLaVA-Med, Open-/Med-Flamingo (medpair_tasks.vqa.jeong2024)",
    draws="medpair_tasks.jeong2024_roles: validation numpy.random.seed(42) choice, demonstrations "
    "default_rng(seed).permutation(n)[:3]",
    populations="medpair_tasks.jeong2024_roles: PubMedQA 500 validation, PQA-A few-shot pool; MMLU nine subjects; "
    "medpair_tasks.clinical.jeong2024: EHRNoteQA level 1, n2c2 test notes of at most 3,000 Llama-2 tokens, "
    "CASI / MIMIC-III at most 500 windows per acronym; medpair_tasks.vqa.jeong2024_data: the VQA notebook's closed "
    "questions, its splits and order",
    shots=3,  # EHRNoteQA and n2c2: zero-shot only (medpair_tasks.clinical.jeong2024.ZERO_SHOT_ONLY)
    scoring="greedy generation, 64 new tokens (gen); letter log-likelihood after the prompt (mc)",
    generation_stops="end of sequence and '###' (a study's until), then the template's own headers and "
    "<|eot_id|> (cut by the filter); Flamingo VLMs: 'Question:' and '<|endofchunk|>' (cut by the filter)",
    extraction="medpair_tasks.jeong2024_extract",
)

CLUE2024 = Protocol(
    id="clue2024",
    reference="GitHub TIO-IKIM/CLUE (eval/), CLUE's six clinical tasks",
    grammar="medpair_tasks.clinical.clue2024.PROMPTS: CLUE's system prompts and turns through the model's chat template",
    profiles="none: every model's own chat template",
    draws="medpair_tasks.clinical.clue2024: random.seed(1) shuffle, the first shots are the demonstrations; "
    "LongHealth's document shuffles (of the documents the model's budget keeps) and distractor samples on "
    "random.Random(1)",
    populations="the file CLUE reads, less the demonstrations; LongHealth five repeats per question and setting",
    shots=3,  # MedNLI, MeQSum, ProbSum; MeDiSumQA and MeDiSumCode 1, LongHealth 0 (clue2024.PROMPTS)
    scoring="sampled generation (temperature 1), CLUE's max tokens per task; BERTScore en-sci (SciBERT layer 8, "
    "bert_score's matching); UMLS F1 with a user-supplied scispaCy pipeline",
    generation_stops="end of sequence",
    extraction="medpair_tasks.clinical.clue2024.extract",
)

PROTOCOLS: dict[str, Protocol] = {p.id: p for p in (MEDPAIR, JEONG2024, CLUE2024)}
# A task run without a protocol (plain ``lm_eval``/``medpair eval``, whose task files record this
# id) keeps medpair's; ``medpair run``/``medpair plan`` without ``--protocol`` reproduce the paper.
DEFAULT_PROTOCOL = MEDPAIR.id
STUDY_DEFAULT_PROTOCOL = JEONG2024.id
# ``medpair run --demo``: its tiny models were fine-tuned on medpair's prompt format
DEMO_PROTOCOL = MEDPAIR.id


def protocol_of(metadata: Mapping[str, Any]) -> Protocol:
    """The protocol a task's metadata names (the default when it names none)."""
    name = str(metadata.get("protocol") or DEFAULT_PROTOCOL)
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
