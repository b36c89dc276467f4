"""The VQA tasks under the ``jeong2024`` protocol: the reference's VLM prompts, draws and stops.

Jeong et al.'s code (GitHub ``taekb/eval-medical-dapt`` at 908bb86: ``src/vlm/utils.py``,
``src/dataset.py`` ``VQADataset.load_and_apply_prompt_template``, ``src/vlm/*/infer_*.py``)
knows four VLMs, each with its own system prompt and default template (``f00``):

=================== ================== ========================================= ===================
profile             family             question / answer (default template)     generation stops
=================== ================== ========================================= ===================
``llava-v0-7b``     LLaVA (``llava_v0`` question, newline, ``Options: (A) yes (B)    ``###``
                    conversation)      no``; answer ``(A) yes``
``llava-med-7b``    LLaVA              question, ``Please choose from the        ``###``
                                       following options: [yes, no].``; answer
                                       ``yes``
``open-flamingo-9b`` Flamingo          ``Question: q (A) yes, (B) no;``          ``Question:``,
                                       ``Short answer: (A) yes``                 ``<|endofchunk|>``
``med-flamingo-9b`` Flamingo           as Open-Flamingo with ``Answer:``         as Open-Flamingo
=================== ================== ========================================= ===================

Formats ``f01`` … ``f10`` are the grammar's template seeds 0–9 (the same draws as the text tasks,
:func:`medpair_tasks.jeong2024.sampled_format`); the system prompt is always the model's own
(the reference fixes it for all four). A LLaVA prompt is the ``llava_v0`` conversation
(``system\\n`` then ``\\n### Human: …\\n### Assistant: …``), each question followed by one
``\\n<image>`` per ``<image>`` of its question line; a Flamingo prompt is ``system\\n`` then, per
demonstration, ``<image>…question answer.<|endofchunk|>`` and the item's ``<image>…question
answer-header``. ``<image>`` is the placeholder lm-eval's ``hf-multimodal`` model replaces by
the model's image token(s) (LLaVA-v0's ``<im_start>``, 256 ``<im_patch>``, ``<im_end>``).
Three-shot demonstrations are the few-shot seed's ``default_rng(seed).permutation(n)[:3]`` of
the pool, the same for every item; the request's images are each demonstration's first image,
then the item's images, as the reference passes them. Scoring: greedy generation (64 new
tokens), cut at the stops, read by the reference's extractor (exact match).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import datasets

from medpair_tasks.family.hooks import docs_dataset
from medpair_tasks.formats import LETTERS
from medpair_tasks.jeong2024 import answer_header, sampled_format, sampled_question, template_seed
from medpair_tasks.jeong2024_docs import model_name, run_cell
from medpair_tasks.jeong2024_roles import VAL_LIMIT, demo_indices, val_subsample
from medpair_tasks.protocols import JEONG2024
from medpair_tasks.vqa.jeong2024_data import role_items
from medpair_tasks.vqa.records import IMAGE_PLACEHOLDER, VQAItem

LLAVA_SEP = "\n### "
LLAVA_ROLES = ("Human", "Assistant")
LLAVA_STOP = "###"
FLAMINGO_STOPS = ("Question:", "<|endofchunk|>")
END_OF_CHUNK = "<|endofchunk|>"

_GENERIC_SYSTEM = ("The following is a multiple-choice visual question requiring medical knowledge. "
                   "Answer the question by choosing one of the provided answer options.")


@dataclass(frozen=True)
class VLMProfile:
    """A VLM the reference knows: its name (the reference's model name), family, system prompt, template."""

    name: str
    family: str  # "llava" or "flamingo"
    system: str
    template: str  # the key of the default template


PROFILES: dict[str, VLMProfile] = {p.name: p for p in (
    VLMProfile("llava-v0-7b", "llava", (
        "A chat between a curious human and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the human's questions."), "llava-v0"),
    VLMProfile("llava-med-7b", "llava", (
        "You are LLaVA-Med, a large language and vision assistant trained by a group of researchers at Microsoft, "
        "based on the general domain LLaVA architecture. You are able to understand the visual content that the user "
        "provides, and assist the user with a variety of medical and clinical tasks using natural language."
        "Follow the instructions carefully and explain your answers in detail."), "llava-med"),
    VLMProfile("open-flamingo-9b", "flamingo", _GENERIC_SYSTEM, "open-flamingo"),
    VLMProfile("med-flamingo-9b", "flamingo", (
        "You are a helpful medical assistant. You are being provided with images, a question about the image and "
        "an answer. Follow the examples and answer the last question."), "med-flamingo"),
)}
#: The substring of a model's name that selects its profile, as the reference matches model names.
_NAME_MARKERS = (("llava-v0", "llava-v0-7b"), ("llava-7b-delta-v0", "llava-v0-7b"), ("llava-med", "llava-med-7b"),
                 ("open-flamingo", "open-flamingo-9b"), ("openflamingo", "open-flamingo-9b"),
                 ("med-flamingo", "med-flamingo-9b"))


def vlm_profile(model: str | None, override: str | None = None) -> VLMProfile:
    """The profile named by ``override``, else the one whose marker the model's hub id or folder name holds.

    The reference has no prompt for other models (its default template raises NotImplementedError),
    so an unknown model without ``profile`` is a ValueError.
    """
    if override:
        if override not in PROFILES:
            raise ValueError(f"unknown jeong2024 VLM profile {override!r}; known: {', '.join(PROFILES)}")
        return PROFILES[override]
    name = (model or "").rstrip("/").lower()
    for marker, profile in _NAME_MARKERS:
        if marker in name:
            return PROFILES[profile]
    raise ValueError(f"jeong2024 knows the prompts of {', '.join(PROFILES)} only; model {model!r} matches none: "
                     "name one with --metadata '{\"profile\": \"llava-med-7b\"}'")


# --------------------------------------------------------------------------- the question and answer texts


def question_text(item: VQAItem) -> str:
    """The question as the reference renders it: its ``<image>`` marks removed, stripped."""
    return item.question.replace(IMAGE_PLACEHOLDER, "").strip()


def _lettered(item: VQAItem, index: int) -> str:
    return f"({LETTERS[index]}) {item.options[index]}"


def _default_question(template: str, item: VQAItem) -> str:
    text = question_text(item)
    if template == "llava-v0":
        return f"{text}\nOptions: " + " ".join(_lettered(item, i) for i in range(len(item.options)))
    if template == "llava-med":
        return f"{text} Please choose from the following options: [" + ", ".join(item.options) + "]."
    return f"Question: {text} " + ", ".join(_lettered(item, i) for i in range(len(item.options))) + ";"


def _default_answer(template: str, item: VQAItem, shown: bool) -> str:
    head = {"open-flamingo": "Short answer: ", "med-flamingo": "Answer: "}.get(template, "")
    if not shown:
        return head
    if template == "llava-med":
        return item.options[item.answer_idx]
    return head + _lettered(item, item.answer_idx)


def render_pair(profile: VLMProfile, format_id: str, item: VQAItem, shown: bool) -> tuple[str, str]:
    """(question, answer) of ``item`` in ``format_id``; the answer is its header alone unless ``shown``."""
    seed = template_seed(format_id)
    if seed is None:
        return _default_question(profile.template, item), _default_answer(profile.template, item, shown)
    fmt = sampled_format(seed)
    answer = f"{fmt.wrapper.format(LETTERS[item.answer_idx])} {item.options[item.answer_idx]}" if shown else ""
    return sampled_question(fmt, item, question_text), answer_header(fmt) + answer


# --------------------------------------------------------------------------- the two prompt families


def _llava_prompt(profile: VLMProfile, format_id: str, demos: Sequence[VQAItem], item: VQAItem) -> str:
    """The ``llava_v0`` conversation with the reference's changes (system + newline, separator ``\\n### ``)."""
    turns: list[tuple[str, str]] = []
    for shown, answered in [*((demo, True) for demo in demos), (item, False)]:  # an item can be its own demo
        question, answer = render_pair(profile, format_id, shown, answered)
        images = shown.question.count(IMAGE_PLACEHOLDER)
        turns += [(LLAVA_ROLES[0], question + images * f"\n{IMAGE_PLACEHOLDER}"), (LLAVA_ROLES[1], answer)]
    prompt = f"{profile.system}\n{LLAVA_SEP}"
    for role, message in turns:
        prompt += f"{role}: {message}{LLAVA_SEP}" if message else f"{role}:"
    return prompt.removesuffix(LLAVA_SEP)


def _flamingo_prompt(profile: VLMProfile, format_id: str, demos: Sequence[VQAItem], item: VQAItem) -> str:
    prompt = f"{profile.system}\n"
    for demo in demos:
        question, answer = render_pair(profile, format_id, demo, True)
        prompt += f"{IMAGE_PLACEHOLDER * len(demo.images)}{question} {answer}.{END_OF_CHUNK}"
    question, answer = render_pair(profile, format_id, item, False)
    return prompt + f"{IMAGE_PLACEHOLDER * len(item.images)}{question} {answer}"


def render_prompt(profile: VLMProfile, format_id: str, demos: Sequence[VQAItem], item: VQAItem) -> str:
    """The reference's whole prompt for ``item`` with ``demos`` (image placeholders where it puts images)."""
    if profile.family == "llava":
        return _llava_prompt(profile, format_id, demos, item)
    return _flamingo_prompt(profile, format_id, demos, item)


def reference_images(doc: Mapping[str, Any], images: Sequence[Any]) -> list[Any]:
    """The images a request carries under ``jeong2024``: the reference passes each demonstration's first
    image, then the item's; a LLaVA model uses one per image placeholder of the prompt, in order, and
    ignores the rest (``old_llava.py``), so a LLaVA request keeps as many as the prompt has placeholders
    (MMMU mentions images in its text, not always each of them). A Flamingo request keeps them all."""
    if PROFILES[str(doc["profile"])].family == "llava":
        return list(images[: str(doc["prompt"]).count(IMAGE_PLACEHOLDER)])
    return list(images)


def stop_strings(profile: VLMProfile) -> tuple[str, ...]:
    """Where the reference stops a generation, besides the end-of-sequence token."""
    return (LLAVA_STOP,) if profile.family == "llava" else FLAMINGO_STOPS


# --------------------------------------------------------------------------- roles and lm-eval documents


def scored_items(dataset: str, role: str, val_limit: int = VAL_LIMIT) -> list[VQAItem]:
    """The test role, or the validation role's subsample (the reference's draw when it has more than ``val_limit``)."""
    if role == "test":
        return list(role_items(dataset, "test"))
    if role != "val":
        raise ValueError(f"role must be 'val' or 'test', got {role!r}")
    val = role_items(dataset, "val")
    return [val[i] for i in val_subsample(len(val), val_limit if val_limit > 0 else len(val))]


def fewshot_items(dataset: str, seed: int, shots: int) -> list[VQAItem]:
    """The demonstrations of few-shot seed ``seed``, in the order shown."""
    pool = role_items(dataset, "pool")
    return [pool[i] for i in demo_indices(len(pool), seed, shots)]


def build_splits(metadata: Mapping[str, Any], as_doc: Any) -> datasets.DatasetDict:
    """The ``eval`` split (finished prompts) and ``fewshot`` split (its demonstrations, printing empty,
    each carrying the first image the reference passes) of a VQA task under ``jeong2024``.
    ``as_doc(item, dataset, role)`` is the family's document builder."""
    cell = run_cell(metadata)
    dataset, role, format_id = cell.dataset, cell.role, cell.format_id
    profile = vlm_profile(model_name(metadata), metadata.get("profile"))
    demos = fewshot_items(dataset, cell.fewshot_seed, cell.shots) if cell.shots else []
    items = scored_items(dataset, role, cell.val_limit)
    cell.require(items)
    extra = {"protocol": JEONG2024.id, "profile": profile.name, "stop_strings": list(stop_strings(profile)),
             "demo_keys": [d.key for d in demos]}
    docs = [{**as_doc(item, dataset, role), "prompt": render_prompt(profile, format_id, demos, item), **extra}
            for item in items]
    first_images = [VQAItem(d.key, d.question, d.options, d.answer_idx, d.images[:1]) for d in demos]
    fewshot = [{**as_doc(d, dataset, "fewshot"), "prompt": "", "protocol": JEONG2024.id} for d in first_images]
    scored = docs_dataset(docs)
    return datasets.DatasetDict({"eval": scored, "fewshot": docs_dataset(fewshot) if fewshot else scored.select([])})


__all__ = ["PROFILES", "VLMProfile", "build_splits", "fewshot_items", "reference_images", "render_prompt",
           "scored_items", "stop_strings", "vlm_profile"]
