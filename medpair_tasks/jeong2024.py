"""Prompts of the ``jeong2024`` protocol: the reference code's grammar, model profiles and system prompts.

Jeong et al. (EMNLP 2024; code: GitHub ``taekb/eval-medical-dapt`` at commit 908bb86) prompt each
model with its authors' own template and system prompt (the model's *profile*) and with formats
drawn from a grammar after Sclar et al. This module rebuilds those prompt strings character for
character; ``tests/fixtures/reference`` holds the reference code's own output, and the tests
compare the two.

- :func:`sampled_format` draws format ``f01`` … ``f10`` (the reference's template seeds 0–9) with
  Python's ``random`` module, axis by axis in the reference's order;
- :data:`PROFILES` holds the known models, keyed by the reference's model name;
  :func:`profile_for` finds a model's profile from its hub id or local folder name;
- :func:`render_prompt` builds the text a model reads: system prompt, demonstrations, question,
  answer header.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath

from medpair_tasks.formats import LETTERS
from medpair_tasks.knowledge.records import Item

# Grammar axes, each in the reference's order (the draw order is that of sampled_format).
FIELD_SEPARATORS = ("\n", "\n\n", " || ", " ")
DESCRIPTOR_SEPARATORS = (": ", " : ", " :: ", ":\n", "= ", " = ", " == ", "=\n", " - ", " -- ", " --- ", "\n", "\n\n")
OPTION_SEPARATORS = ("\n", "\n\n", "; ", ";\n", ";\n\n", " || ", " ", ", ")
QUESTION_DESCRIPTORS = ("", "Question")
OPTION_DESCRIPTORS = ("", "Options", "Choices")
ANSWER_DESCRIPTORS = ("Answer", "The answer is")
CASINGS = ("identity", "title", "upper", "lower", "heading", "bold")
NUMBERINGS = ("upper-letter",)
LETTER_WRAPPERS = ("({})", "{}.", "{})", "{} )", "[{}]", "<{}>")
N_TEMPLATE_SEEDS = 10
GENERATION_STOP = "###"


@dataclass(frozen=True)
class SampledFormat:
    """One draw of the grammar: the strings that make up a sampled prompt."""

    field_sep: str
    descriptor_sep: str
    option_sep: str
    casing: str
    question: str
    options: str
    wrapper: str
    answer: str


@cache
def sampled_format(seed: int) -> SampledFormat:
    """The reference's template seed ``seed``: ``random.Random(seed)`` draws each axis in turn.

    Sclar et al.'s constraint: when the field separator has no newline, neither may the
    descriptor or option separator.
    """
    rng = random.Random(seed)
    field_sep = rng.choice(FIELD_SEPARATORS)
    allow_newline = "\n" in field_sep
    descriptor_sep = rng.choice([s for s in DESCRIPTOR_SEPARATORS if allow_newline or "\n" not in s])
    option_sep = rng.choice([s for s in OPTION_SEPARATORS if allow_newline or "\n" not in s])
    casing = rng.choice(CASINGS)
    question = rng.choice(QUESTION_DESCRIPTORS)
    options = rng.choice(OPTION_DESCRIPTORS)
    rng.choice(NUMBERINGS)  # a single numbering, but its draw advances the stream
    wrapper = rng.choice(LETTER_WRAPPERS)
    answer = rng.choice(ANSWER_DESCRIPTORS)
    return SampledFormat(field_sep, descriptor_sep, option_sep, casing, question, options, wrapper, answer)


def template_seed(format_id: str) -> int | None:
    """The reference's template seed of a format id: ``f00`` → None (the profile's own), ``fNN`` → NN − 1."""
    index = int(format_id[1:])
    if not 0 <= index <= N_TEMPLATE_SEEDS:
        raise ValueError(f"jeong2024 has formats f00 … f{N_TEMPLATE_SEEDS:02d}, not {format_id!r}")
    return None if index == 0 else index - 1


def _cased(text: str, casing: str) -> str:
    return {
        "identity": text,
        "title": text.title(),
        "upper": text.upper(),
        "lower": text.lower(),
        "heading": f"### {text}",
        "bold": f"**{text}**",
    }[casing]


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """A known model's prompt defaults, as the reference code fixes them.

    ``template``: its default template (``generic``, ``meditron``, ``biomistral``, ``biomedgpt``,
    ``med42-v1``); ``system``: its system-prompt family; ``chat``: whether the reference renders
    it through the tokenizer's chat template; ``fixed``: the components the reference does not
    sample for it (``system_prompt``, ``prompt_template``); ``hub_ids``: where it lives.
    """

    name: str
    template: str
    system: str
    chat: bool
    fixed: tuple[str, ...]
    hub_ids: tuple[str, ...]


def _profile(name: str, template: str, system: str, hub_id: str, chat: bool = False,
             fixed: tuple[str, ...] = ("system_prompt",)) -> Profile:
    return Profile(name, template, system, chat, fixed, (hub_id,) if hub_id else ())


GENERIC = "generic"
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _profile(GENERIC, "generic", "generic", "", fixed=()),
        _profile("meditron-7b", "meditron", "meditron", "epfl-llm/meditron-7b"),
        _profile("meditron-70b", "meditron", "meditron", "epfl-llm/meditron-70b"),
        _profile("biomistral-7b", "biomistral", "biomistral", "BioMistral/BioMistral-7B",
                 fixed=("system_prompt", "prompt_template")),
        _profile("biomedgpt-7b", "biomedgpt", "generic", "PharMolix/BioMedGPT-LM-7B"),
        _profile("med42-v1-70b", "med42-v1", "med42-v1", "m42-health/med42-70b",
                 fixed=("system_prompt", "prompt_template")),
        _profile("llama-2-7b", "generic", "generic", "meta-llama/Llama-2-7b-hf"),
        _profile("llama-2-70b", "generic", "generic", "meta-llama/Llama-2-70b-hf"),
        _profile("llama-3-8b", "generic", "generic", "meta-llama/Meta-Llama-3-8B"),
        _profile("llama-2-7b-chat", "chat", "generic", "meta-llama/Llama-2-7b-chat-hf", chat=True),
        _profile("llama-3-8b-instruct", "generic", "generic", "meta-llama/Meta-Llama-3-8B-Instruct", chat=True),
        _profile("llama-3-70b-instruct", "chat", "generic", "meta-llama/Meta-Llama-3-70B-Instruct", chat=True),
        _profile("mistral-7b-v0.1", "chat", "generic", "mistralai/Mistral-7B-Instruct-v0.1", chat=True),
        _profile("clinical-camel-70b", "chat", "generic", "wanglab/ClinicalCamel-70B", chat=True),
        _profile("openbiollm-8b", "chat", "openbiollm", "aaditya/Llama3-OpenBioLLM-8B", chat=True),
        _profile("openbiollm-70b", "chat", "openbiollm", "aaditya/Llama3-OpenBioLLM-70B", chat=True),
        _profile("med42-v2-8b", "chat", "med42-v2", "m42-health/Llama3-Med42-8B", chat=True),
        _profile("med42-v2-70b", "chat", "med42-v2", "m42-health/Llama3-Med42-70B", chat=True),
    )
}


def profile_for(model: str | None, override: str | None = None) -> Profile:
    """The profile of a model: ``override`` (a profile name) if given, else the one whose hub id
    ends like ``model``'s last path part (``epfl-llm/meditron-7b`` or a folder ``…/meditron-7b``),
    else the generic profile."""
    if override:
        if override not in PROFILES:
            raise ValueError(f"unknown jeong2024 profile {override!r}; known: {', '.join(PROFILES)}")
        return PROFILES[override]
    if model:
        leaf = PurePath(str(model).rstrip("/")).name.casefold()
        for profile in PROFILES.values():
            if any(hub.rsplit("/", 1)[-1].casefold() == leaf for hub in profile.hub_ids):
                return profile
    return PROFILES[GENERIC]


# --------------------------------------------------------------------------- system prompts

_MEDITRON_USMLE = (
    "You are a medical doctor taking the US Medical Licensing Examination. You need to demonstrate your "
    "understanding of basic and clinical science, medical knowledge, and mechanisms underlying health, disease, "
    "patient care, and modes of therapy. Show your ability to apply the knowledge essential for medical practice. "
    "For the following multiple-choice question, select one correct answer from A to {last}. Base your answer on "
    "the current and standard practices referenced in medical guidelines."
)
_MEDITRON_EXAM = (
    "You are a medical doctor answering real-world medical entrance exam questions. Based on your understanding of "
    "basic and clinical science, medical knowledge, and mechanisms underlying health, disease, patient care, and "
    "modes of therapy, answer the following multiple-choice question. Select one correct answer from A to D. Base "
    "your answer on the current and standard practices referenced in medical guidelines."
)
_MEDITRON_PUBMEDQA = (
    "As an expert doctor in clinical science and medical knowledge, can you tell me if the following statement is "
    "correct? Answer yes, no, or maybe."
)
_FIXED_SYSTEM = {
    "biomistral": "The following are multiple choice questions (with answers) about medical knowledge.",
    "openbiollm": (
        "You are an expert and experienced from the healthcare and biomedical domain with extensive medical knowledge "
        "and practical experience. Your name is OpenBioLLM, and you were developed by Saama AI Labs. who's willing to "
        "help answer the user's query with explanation. In your explanation, leverage your deep medical expertise "
        "such as relevant anatomical structures, physiological processes, diagnostic criteria, treatment guidelines, "
        "or other pertinent medical concepts. Use precise medical terminology while still aiming to make the "
        "explanation clear and accessible to a general audience."
    ),
    "med42-v1": "You are a helpful medical assistant created by M42 Health in the UAE.",
    "med42-v2": (
        "You are a helpful, respectful and honest medical assistant. You are a second version of Med42 developed by "
        "the AI team at M42, UAE. Always answer as helpfully as possible, while being safe. Your answers should not "
        "include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. Please ensure that "
        "your responses are socially unbiased and positive in nature. If a question does not make any sense, or is "
        "not factually coherent, explain why instead of answering something not correct. If you don\u2019t know the "
        "answer to a question, please don\u2019t share false information."
    ),
}
_GENERIC_SYSTEM = (
    "The following is a multiple-choice question about medical knowledge. "
    "Answer the question by choosing one of the options from A to {last}."
)


def system_prompt(profile: Profile, dataset: str, n_options: int) -> str:
    """The profile's system prompt for a knowledge dataset (``n_options`` names the last letter)."""
    last = LETTERS[n_options - 1]
    if profile.system == "meditron":
        if dataset in ("medqa", "medqa5"):
            return _MEDITRON_USMLE.format(last=last)
        return _MEDITRON_PUBMEDQA if dataset == "pubmedqa" else _MEDITRON_EXAM
    if profile.system in _FIXED_SYSTEM:
        return _FIXED_SYSTEM[profile.system]
    return _GENERIC_SYSTEM.format(last=last)


# --------------------------------------------------------------------------- rendering


def question_text(item: Item) -> str:
    """The question as the reference shows it: PubMedQA puts the abstract first, a blank line between."""
    question = item.question.strip()
    return f"{item.context.strip()}\n\n{question}" if item.context else question


@dataclass(frozen=True)
class _Layout:
    """A profile's default template, as prefixes and separators around the same parts."""

    system_head: str
    system_end: str
    question_head: str
    question_end: str
    options_head: str
    wrapper: str
    option_end: str
    answer_head: str
    demo_answer: str  # "letter" or "wrapped-text" or "open-paren"
    demo_end: str
    stops: tuple[str, ...]


_LAYOUTS = {
    "generic": _Layout("", "\n\n", "### Question: ", "\n", "", "({})", "\n", "### Answer: ", "wrapped-text", "\n\n",
                       ("### Question:", "### Answer:")),
    "meditron": _Layout("", "\n", "Question: ", "\n\n", "Options:\n", "{}.", "\n", "The answer is: ", "letter", "\n\n",
                        ("Question:", "Options:", "The answer is:")),
    "biomistral": _Layout("", "\n", "**Question:** ", "\n", "", "({})", "\n", "**Answer:** ", "open-paren", "\n\n",
                          ("**Question:**", "**Answer:**")),
    "biomedgpt": _Layout("", " ", "### Human: ", " ", "", "({})", " ", "### Assistant: ", "wrapped-text", " ",
                         ("### Human:", "### Assistant:")),
    "med42-v1": _Layout("<|system|>: ", "\n", "<|prompter|>: ", "\n", "", "{}.", "\n", "<|assistant|>: ", "wrapped-text", "\n\n",
                        ("<|prompter|>:", "<|assistant|>:")),
}


QuestionText = Callable[[Item], str]


def _default_block(layout: _Layout, item: Item, question: QuestionText) -> str:
    lines = "".join(f"{layout.wrapper.format(LETTERS[i])} {option}{layout.option_end}" for i, option in enumerate(item.options))
    return f"{layout.question_head}{question(item)}{layout.question_end}{layout.options_head}{lines}{layout.answer_head}"


def _default_answer(layout: _Layout, item: Item) -> str:
    letter = LETTERS[item.answer_idx]
    if layout.demo_answer == "letter":
        return letter
    if layout.demo_answer == "open-paren":
        return f"({letter}"
    return f"{layout.wrapper.format(letter)} {item.options[item.answer_idx]}"


def _render_default(layout: _Layout, system: str, demos: Sequence[Item], item: Item, question: QuestionText) -> str:
    text = f"{layout.system_head}{system}{layout.system_end}" if system else ""
    for demo in demos:
        text += f"{_default_block(layout, demo, question)}{_default_answer(layout, demo)}{layout.demo_end}"
    text += _default_block(layout, item, question)
    return text + ("(" if layout.demo_answer == "open-paren" else "")


def sampled_question(fmt: SampledFormat, item: Item, question: QuestionText = question_text) -> str:
    """A sampled format's question block: descriptor, the question text, field separator, the options."""
    head = f"{_cased(fmt.question, fmt.casing)}{fmt.descriptor_sep}" if fmt.question else ""
    options_head = f"{_cased(fmt.options, fmt.casing)}{fmt.descriptor_sep}" if fmt.options else ""
    options = fmt.option_sep.join(f"{fmt.wrapper.format(LETTERS[i])} {o}" for i, o in enumerate(item.options))
    return f"{head}{question(item)}{fmt.field_sep}{options_head}{options}"


def answer_header(fmt: SampledFormat) -> str:
    """The text a sampled format puts before the answer: cased descriptor and separator."""
    return f"{_cased(fmt.answer, fmt.casing)}{fmt.descriptor_sep}"


def _render_sampled(fmt: SampledFormat, system: str, demos: Sequence[Item], item: Item, question: QuestionText) -> str:
    space = fmt.field_sep
    text = f"{system}{space}" if system else ""
    for demo in demos:
        answer = f"{fmt.wrapper.format(LETTERS[demo.answer_idx])} {demo.options[demo.answer_idx]}"
        text += f"{sampled_question(fmt, demo, question)}{space}{answer_header(fmt)}{answer}{space}"
    return f"{text}{sampled_question(fmt, item, question)}{space}{answer_header(fmt)}"


def render_prompt(profile: Profile, format_id: str, system: str, demos: Sequence[Item], item: Item,
                  question: QuestionText = question_text) -> str:
    """The reference's prompt for ``item``: ``f00`` in the profile's own template, else a sampled format.

    ``question`` gives an item's question text (default :func:`question_text`; the clinical
    datasets pass their reference question verbatim). Raises NotImplementedError for a chat
    model's profile: its prompt is rendered through the model's tokenizer
    (:func:`medpair_tasks.jeong2024_chat.render_chat_prompt`).
    """
    if profile.chat:
        raise NotImplementedError(f"jeong2024: the chat model profile {profile.name!r} is rendered through its "
                                  "tokenizer's chat template (medpair_tasks.jeong2024_chat.render_chat_prompt)")
    seed = template_seed(format_id)
    if seed is not None:
        return _render_sampled(sampled_format(seed), system, demos, item, question)
    return _render_default(_LAYOUTS[profile.template], system, demos, item, question)


def stop_strings(profile: Profile, format_id: str) -> tuple[str, ...]:
    """Where the reference stops a generation, besides the end-of-sequence token: ``###`` and the
    template's own non-empty headers."""
    seed = template_seed(format_id)
    if seed is None:
        headers = _LAYOUTS[profile.template].stops if profile.template in _LAYOUTS else ()
    else:
        fmt = sampled_format(seed)
        headers = tuple(
            f"{_cased(d, fmt.casing)}{fmt.descriptor_sep}" for d in (fmt.question, fmt.options) if d
        ) + (answer_header(fmt),)
    return (GENERATION_STOP, *sorted(set(headers)))
