"""lm-eval documents of the ``jeong2024`` protocol: each carries its whole prompt.

The reference's prompt depends on the model (its profile) and puts demonstrations, separators
and system prompt where lm-eval's own few-shot joiner cannot (one delimiter per task, shared
by both protocols). So under ``jeong2024`` a document's ``prompt`` field holds the finished
text, the format templates print it unchanged (``{% if prompt is defined %}``), and the
``fewshot`` split holds the demonstrations with an empty ``prompt`` and an empty target, which
lm-eval joins as nothing. The logged ``arguments`` are then exactly the reference's prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import datasets

from medpair_tasks import jeong2024_chat
from medpair_tasks.jeong2024 import (Profile, QuestionText, profile_for, question_text, render_prompt, stop_strings,
                                     system_prompt)
from medpair_tasks.jeong2024_system import sampled_system_prompt, system_prompt_seed
from medpair_tasks.jeong2024_roles import VAL_LIMIT, fewshot_items, scored_items
from medpair_tasks.family.hooks import docs_dataset
from medpair_tasks.protocols import JEONG2024
from medpair_tasks.knowledge.records import Item

MODEL_KEYS = ("pretrained",)


def model_name(metadata: Mapping[str, Any]) -> str | None:
    """The model a run loads, from lm-eval's ``model_args`` merged into the metadata."""
    for key in MODEL_KEYS:
        if metadata.get(key):
            return str(metadata[key])
    return None


@dataclass(frozen=True)
class RunCell:
    """The cell a ``jeong2024`` task's metadata names (knowledge, clinical and VQA tasks alike)."""

    dataset: str
    role: str
    format_id: str
    shots: int
    fewshot_seed: int
    val_limit: int

    def require(self, items: Sequence[Any]) -> None:
        """A ValueError when the role holds no items."""
        if not items:
            raise ValueError(f"{self.dataset}: the {self.role} role has no items (is the data complete?)")


def run_cell(metadata: Mapping[str, Any]) -> RunCell:
    """The :class:`RunCell` of a task's metadata (role ``test``, format ``f00``, zero-shot by default)."""
    return RunCell(dataset=str(metadata["dataset"]), role=str(metadata.get("role", "test")),
                   format_id=str(metadata.get("format") or "f00"), shots=int(metadata.get("shots") or 0),
                   fewshot_seed=int(metadata.get("fewshot_seed") or 0),
                   val_limit=int(metadata.get("val_limit", VAL_LIMIT)))


def _doc(item: Item, dataset: str, role: str, prompt: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {**item.as_doc(dataset, role), "prompt": prompt, **extra}


Renderer = Callable[[str, Sequence[Item], Item], str]


def renderer(metadata: Mapping[str, Any], profile: Profile, format_id: str,
             question: QuestionText = question_text) -> Renderer:
    """How a document's prompt is made: the profile's text template, or (chat models) the
    reference's conversation through the model's tokenizer (:mod:`medpair_tasks.jeong2024_chat`).
    ``question`` gives an item's question text (the clinical datasets pass theirs verbatim)."""
    if not profile.chat:
        return lambda system, demos, item: render_prompt(profile, format_id, system, demos, item, question)
    path = jeong2024_chat.tokenizer_path(metadata, model_name(metadata))
    if path is None:
        raise ValueError(f"jeong2024: the chat model profile {profile.name!r} needs the model's tokenizer "
                         "(model_args pretrained= or tokenizer=)")
    tokenizer = jeong2024_chat.load_tokenizer(profile, path)
    system_turn = jeong2024_chat.allows_system_turn(tokenizer)
    return lambda system, demos, item: jeong2024_chat.render_chat_prompt(tokenizer, profile, format_id, system,
                                                                         demos, item, question, system_turn)


def generation_stops(profile: Profile, format_id: str) -> tuple[str, ...]:
    """Where the reference stops a generation for ``profile`` in ``format_id`` (besides the
    end-of-sequence token): a chat profile's stops or the text template's."""
    if profile.chat:
        return jeong2024_chat.chat_stop_strings(profile, format_id)
    return stop_strings(profile, format_id)


def _system(metadata: Mapping[str, Any], profile: Profile, dataset: str, n_options: int) -> str:
    seed = system_prompt_seed(metadata, profile)
    return system_prompt(profile, dataset, n_options) if seed is None else sampled_system_prompt(seed, n_options)


def build_splits(metadata: Mapping[str, Any]) -> datasets.DatasetDict:
    """The ``eval`` split (finished prompts) and the ``fewshot`` split (its demonstrations, printing empty)."""
    cell = run_cell(metadata)
    dataset, role, format_id = cell.dataset, cell.role, cell.format_id
    profile = profile_for(model_name(metadata), metadata.get("profile"))
    demos = fewshot_items(dataset, cell.fewshot_seed, cell.shots) if cell.shots else []
    items = scored_items(dataset, role, cell.val_limit)
    cell.require(items)
    stops = generation_stops(profile, format_id)
    extra = {
        "protocol": JEONG2024.id,
        "profile": profile.name,
        "system_prompt_seed": system_prompt_seed(metadata, profile),
        "stop_strings": list(stops),
        "demo_keys": [d.key for d in demos],
    }
    system = _system(metadata, profile, dataset, len(items[0].options))
    render = renderer(metadata, profile, format_id)
    docs = [_doc(item, dataset, role, render(system, demos, item), extra) for item in items]
    fewshot = [_doc(demo, dataset, "fewshot", "", {"protocol": JEONG2024.id}) for demo in demos]
    scored = docs_dataset(docs)
    return datasets.DatasetDict({"eval": scored, "fewshot": docs_dataset(fewshot) if fewshot else scored.select([])})
