"""Which prompt candidates a study searches for one model: its protocol's per-model rule.

Under ``medpair`` every model searches the 11 formats (× the few-shot seeds) with no system
prompt. Under ``jeong2024`` the reference code (GitHub ``taekb/eval-medical-dapt`` at 908bb86,
``src/llm/_infer_llm.py``) searches, for each model, every system prompt × template × few-shot
seed it does not fix (its ``COMPONENTS_TO_FIX_FOR_SAMPLING``, medpair's ``Profile.fixed``):

- a model it does not know (the generic profile): the model's own system prompt and the 3
  sampled ones (seeds 0–2) × the 11 templates: 44 zero-shot, 440 three-shot candidates;
- a model whose system prompt it fixes (every known model): the 11 templates, 11 / 110;
- a model whose template it fixes too (BioMistral-7B, Med42-v1): its own template only, 1 / 10.

The candidates of one cell are ordered as the reference enumerates them (system prompt, then
template, then few-shot seed), which is also the tie-break order of the selection.
"""

from __future__ import annotations

from dataclasses import dataclass

from medpair_tasks.formats import format_ids
from medpair_tasks.jeong2024 import Profile, profile_for
from medpair_tasks.jeong2024_system import N_SYSTEM_PROMPT_SEEDS
from medpair_tasks.protocols import JEONG2024
from medpair_tasks.study.spec import ModelSpec

DEFAULT_FORMAT = "f00"


@dataclass(frozen=True)
class SearchSpace:
    """The system prompts (None: the model's own) and formats a model's search crosses."""

    system_prompt_seeds: tuple[int | None, ...]
    format_ids: tuple[str, ...]


FULL_FORMATS = SearchSpace((None,), format_ids())


def model_profile(spec: ModelSpec) -> Profile:
    """The ``jeong2024`` profile of a study's model, found as its tasks find it (model args)."""
    return profile_for(spec.args.get("pretrained"), spec.args.get("profile"))


def profile_space(profile: Profile) -> SearchSpace:
    """What the reference searches for a model of ``profile``: every component it does not fix."""
    systems = (None,) if "system_prompt" in profile.fixed else (None, *range(N_SYSTEM_PROMPT_SEEDS))
    formats = (DEFAULT_FORMAT,) if "prompt_template" in profile.fixed else format_ids()
    return SearchSpace(systems, formats)


def search_space(protocol: str, spec: ModelSpec) -> SearchSpace:
    """The search space of ``spec`` under ``protocol`` (see the module docstring)."""
    if protocol != JEONG2024.id:
        return FULL_FORMATS
    return profile_space(model_profile(spec))


def model_spaces(protocol: str, models: dict[str, ModelSpec]) -> dict[str, SearchSpace]:
    """Each side's search space (side -> space), for :func:`medpair_tasks.study.plan.make_plan`."""
    return {side: search_space(protocol, spec) for side, spec in models.items()}
