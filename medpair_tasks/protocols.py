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
  populations and its extractor.
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
    profiles="medpair_tasks.jeong2024.PROFILES: each known model's own template and system prompt as f00",
    draws="medpair_tasks.jeong2024_roles: validation numpy.random.seed(42) choice, demonstrations "
    "default_rng(seed).permutation(n)[:3]",
    populations="medpair_tasks.jeong2024_roles: PubMedQA 500 validation, PQA-A few-shot pool; MMLU nine subjects",
    shots=3,
    scoring="greedy generation, 64 new tokens (gen); letter log-likelihood after the prompt (mc)",
    generation_stops="'###' and the template's own headers (cut after lm-eval's blank-line stop)",
    extraction="medpair_tasks.jeong2024_extract",
)

PROTOCOLS: dict[str, Protocol] = {p.id: p for p in (MEDPAIR, JEONG2024)}
DEFAULT_PROTOCOL = MEDPAIR.id


def protocol_of(metadata: Mapping[str, Any]) -> Protocol:
    """The protocol a task's metadata names (the default when it names none)."""
    name = str(metadata.get("protocol") or DEFAULT_PROTOCOL)
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
