"""Sampled system prompts of the ``jeong2024`` protocol (for models the reference does not know).

For every model it knows, the reference code (GitHub ``taekb/eval-medical-dapt`` at 908bb86)
fixes the system prompt to the model's own (its ``COMPONENTS_TO_FIX_FOR_SAMPLING``). For any other
model it searches over system prompts too: the default one (system-prompt seed None) and three
drawn from a pool of eleven phrasings (seeds 0, 1, 2), each with the 11 formats — 4 × 11 = 44
zero-shot candidates, and × 10 few-shot seeds = 440 three-shot candidates. A draw is
``random.seed(seed); random.choice(pool)``, then ``{}`` becomes the last option letter.

medpair names the system prompt with the run's metadata, as it does the role:
``--metadata '{"protocol": "jeong2024", "system_prompt_seed": 1}'`` gives every candidate of the
run the reference's system-prompt seed 1; without it a candidate uses the profile's own system
prompt (seed None). The seed is recorded in the task's metadata and in each document.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from medpair_tasks.formats import LETTERS
from medpair_tasks.jeong2024 import Profile

N_SYSTEM_PROMPT_SEEDS = 3
SYSTEM_PROMPT_POOL = (
    "The following is a multiple-choice question about medical knowledge. Answer the question by choosing one of "
    "the options from A to {}.",
    "This is a multiple-choice medical knowledge question. Select your answer from options A to {}.",
    "Answer the following multiple-choice question on medical knowledge by choosing from A to {}.",
    "Choose an answer for the medical knowledge multiple-choice question from A to {}.",
    "Below is a multiple-choice query about medical knowledge. Please select from A to {}.",
    "The next item is a medical knowledge multiple-choice question. Pick one option from A to {}.",
    "For the following medical knowledge multiple-choice question, select your answer from A to {}.",
    "Respond to this multiple-choice question on medical knowledge by selecting from A to {}.",
    "This multiple-choice question covers medical knowledge. Choose your answer from A to {}.",
    "Select your answer to the upcoming multiple-choice question on medical knowledge from A to {}.",
    "Answer the multiple-choice question below on medical knowledge by choosing from A to {}.",
)


def sampled_system_template(seed: int) -> str:
    """The pool entry the reference draws for system-prompt seed ``seed``, its ``{}`` not yet filled."""
    return random.Random(seed).choice(SYSTEM_PROMPT_POOL)


def sampled_system_prompt(seed: int, n_options: int) -> str:
    """The reference's system-prompt seed ``seed`` for a question with ``n_options`` options."""
    return sampled_system_template(seed).format(LETTERS[n_options - 1])


def system_prompt_seed(metadata: Mapping[str, Any], profile: Profile) -> int | None:
    """The run's system-prompt seed (None: the profile's own system prompt).

    Raises ValueError for a seed outside 0–2, or for a profile whose system prompt the
    reference fixes (every known model).
    """
    value = metadata.get("system_prompt_seed")
    if value is None:
        return None
    seed = int(value)
    if not 0 <= seed < N_SYSTEM_PROMPT_SEEDS:
        raise ValueError(f"jeong2024 samples system-prompt seeds 0–{N_SYSTEM_PROMPT_SEEDS - 1}, not {seed}")
    if "system_prompt" in profile.fixed:
        raise ValueError(f"jeong2024: the reference fixes the system prompt of {profile.name!r}; "
                         "system_prompt_seed applies to models it does not know (the generic profile)")
    return seed
