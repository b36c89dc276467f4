"""Chat-model prompts of the ``jeong2024`` protocol: the reference's conversation, through the tokenizer.

For the chat models it knows (Llama-3-Instruct, OpenBioLLM, Med42-v2, Llama-2-chat, Mistral-Instruct,
ClinicalCamel), the reference code (GitHub ``taekb/eval-medical-dapt`` at 908bb86) does not use a
text template: it builds a conversation and renders it with the tokenizer's chat template.

- the system prompt is a ``system`` turn when the chat template accepts one; otherwise it is
  dropped, except that with demonstrations the first user turn becomes
  ``system prompt + "\\n" + the demonstration's bare question`` (the reference's own rule: that
  turn then shows no options);
- each demonstration is a user turn (the question block) and an assistant turn (the answer);
- the scored item is a user turn and an assistant turn holding only the answer header (empty
  for the profile's own chat template); the rendered text is then cut before its last
  end-of-sequence token (and before a last ``<|eot_id|>``), so that the model continues the
  assistant turn.

The question and answer blocks are those of the format: for ``f00`` the profile's own blocks
(``Question: …`` / ``(B) text`` for the chat layout; ``### Question: …`` / ``### Answer: (B) text``
for Llama-3-8B-Instruct, which the reference serves the generic layout), else the sampled
format's. medpair renders this text itself (in :func:`render_chat_prompt`), so lm-eval must not
apply a chat template again: run ``jeong2024`` tasks without ``--apply_chat_template``.

The tokenizer is the model's own (``model_args`` ``tokenizer`` or ``pretrained``). As in the
reference, ClinicalCamel and OpenBioLLM get a Llama-2 / Llama-3 chat template when their tokenizer
has none, and Mistral-7B-Instruct always gets the reference's variant of Mistral's template (a
space after ``[/INST]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Protocol as TypingProtocol

from medpair_tasks.formats import LETTERS
from medpair_tasks.jeong2024 import (
    Profile,
    sampled_question,
    answer_header,
    question_text,
    sampled_format,
    stop_strings,
    template_seed,
)
from medpair_tasks.knowledge.records import Item

LLAMA3_TURN_END = "<|eot_id|>"
LLAMA3_FAMILY = ("llama-3", "openbiollm", "med42-v2")  # the reference adds <|eot_id|> to their stops

# Chat templates the reference gives a tokenizer (written here, as Jinja, to render the same text).
LLAMA3_TEMPLATE = (
    "{% for turn in messages %}"
    "{% if loop.first %}{{ bos_token }}{% endif %}"
    "{{ '<|start_header_id|>' + turn['role'] + '<|end_header_id|>\\n\\n' + (turn['content'] | trim) + '<|eot_id|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
LLAMA2_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}"
    "{% set head = '<<SYS>>\\n' + messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% set turns = messages[1:] %}"
    "{% else %}{% set head = none %}{% set turns = messages %}{% endif %}"
    "{% for turn in turns %}"
    "{% if (turn['role'] == 'user') != (loop.index0 is even) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% set text = (head + turn['content']) if (loop.first and head is not none) else turn['content'] %}"
    "{% if turn['role'] == 'user' %}{{ bos_token + '[INST] ' + text.strip() + ' [/INST]' }}"
    "{% elif turn['role'] == 'assistant' %}{{ ' ' + text.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}"
    "{% for turn in messages %}"
    "{% if (turn['role'] == 'user') != (loop.index0 is even) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if turn['role'] == 'user' %}{{ '[INST] ' + turn['content'] + ' [/INST] ' }}"
    "{% elif turn['role'] == 'assistant' %}{{ turn['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
    "{% endfor %}"
)
# profile name -> template used when the tokenizer has none / always
FALLBACK_TEMPLATES = {
    "clinical-camel-70b": LLAMA2_TEMPLATE,
    "openbiollm-8b": LLAMA3_TEMPLATE,
    "openbiollm-70b": LLAMA3_TEMPLATE,
}
FORCED_TEMPLATES = {"mistral-7b-v0.1": MISTRAL_TEMPLATE}


class ChatTokenizer(TypingProtocol):
    """What rendering needs of a tokenizer (a ``transformers`` tokenizer has all of it)."""

    chat_template: str | None
    eos_token: str

    def apply_chat_template(self, conversation: list[dict[str, str]], **kwargs: Any) -> Any:
        """Render ``conversation`` with the tokenizer's chat template."""


@cache
def load_tokenizer(profile: Profile, path: str) -> ChatTokenizer:
    """The model's tokenizer from ``path`` (a local folder or hub id), with the chat template the
    reference gives this profile (see the module docstring); loaded once per process, as every
    candidate task of a model renders with it."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"jeong2024: the chat model profile {profile.name!r} renders prompts with the model's "
                         f"tokenizer, and none could be loaded from {path!r} ({err})") from err
    return with_reference_template(profile, tokenizer)


def with_reference_template(profile: Profile, tokenizer: ChatTokenizer) -> ChatTokenizer:
    """``tokenizer`` with the reference's fallback or forced chat template for ``profile`` set."""
    if profile.name in FORCED_TEMPLATES:
        tokenizer.chat_template = FORCED_TEMPLATES[profile.name]
    elif tokenizer.chat_template is None and profile.name in FALLBACK_TEMPLATES:
        tokenizer.chat_template = FALLBACK_TEMPLATES[profile.name]
    if tokenizer.chat_template is None:
        raise ValueError(f"jeong2024: the tokenizer of the chat model profile {profile.name!r} has no chat template")
    return tokenizer


def allows_system_turn(tokenizer: ChatTokenizer) -> bool:
    """Whether the tokenizer's chat template renders a system turn (the reference tries one)."""
    probe = [{"role": "system", "content": "System prompt."}, {"role": "user", "content": "User prompt."},
             {"role": "assistant", "content": "Assistant prompt."}]
    try:
        tokenizer.apply_chat_template(probe, tokenize=False)
    except Exception:  # noqa: BLE001 - any refusal of the template means "no system turn", as in the reference
        return False
    return True


def _options_block(item: Item, wrapper: str) -> str:
    return "\n".join(f"{wrapper.format(LETTERS[i])} {option}" for i, option in enumerate(item.options))


def _gold(item: Item, wrapper: str) -> str:
    return f"{wrapper.format(LETTERS[item.answer_idx])} {item.options[item.answer_idx]}"


def turn_texts(profile: Profile, format_id: str, item: Item, answered: bool) -> tuple[str, str]:
    """(user turn, assistant turn) of ``item`` in ``format_id``; the assistant turn holds the
    answer when ``answered`` (a demonstration), else only the answer header."""
    seed = template_seed(format_id)
    if seed is not None:
        fmt = sampled_format(seed)
        return sampled_question(fmt, item), answer_header(fmt) + (_gold(item, fmt.wrapper) if answered else "")
    wrapper = "({})"
    if profile.template == "generic":
        user = f"### Question: {question_text(item)}\n{_options_block(item, wrapper)}"
        return user, "### Answer: " + (_gold(item, wrapper) if answered else "")
    if profile.template != "chat":
        raise ValueError(f"jeong2024: profile {profile.name!r} has no chat layout")
    return f"Question: {question_text(item)}\n{_options_block(item, wrapper)}", _gold(item, wrapper) if answered else ""


def conversation(profile: Profile, format_id: str, system: str, demos: Sequence[Item], item: Item,
                 system_turn: bool) -> list[dict[str, str]]:
    """The reference's conversation for ``item``: system turn (if allowed), demonstrations as
    turns, the item and its open assistant turn."""
    turns: list[dict[str, str]] = [{"role": "system", "content": system}] if system_turn else []
    for number, demo in enumerate(demos):
        user, assistant = turn_texts(profile, format_id, demo, answered=True)
        if number == 0 and not system_turn:
            user = f"{system}\n{question_text(demo)}"
        turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    user, assistant = turn_texts(profile, format_id, item, answered=False)
    return turns + [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]


def _cut_before_last(text: str, marker: str | None) -> str:
    if marker and text.strip().endswith(marker):
        return text[: text.rindex(marker)]
    return text


def render_chat_prompt(tokenizer: ChatTokenizer, profile: Profile, format_id: str, system: str,
                       demos: Sequence[Item], item: Item) -> str:
    """The reference's prompt text for a chat model: its conversation through the tokenizer's chat
    template, cut before the closing end-of-sequence (or ``<|eot_id|>``) of the open assistant turn."""
    turns = conversation(profile, format_id, system, demos, item, allows_system_turn(tokenizer))
    text = tokenizer.apply_chat_template(turns, tokenize=False)
    return _cut_before_last(_cut_before_last(text, tokenizer.eos_token), LLAMA3_TURN_END)


def chat_stop_strings(profile: Profile, format_id: str) -> tuple[str, ...]:
    """The reference's stops for a chat profile: ``###``, the format's headers (``Question:`` for the
    chat layout) and, for the Llama-3 family, ``<|eot_id|>``."""
    head, *headers = stop_strings(profile, format_id)
    extra = set(headers)
    if template_seed(format_id) is None and profile.template == "chat":
        extra.add("Question:")
    if any(part in profile.name for part in LLAMA3_FAMILY):
        extra.add(LLAMA3_TURN_END)
    return (head, *sorted(extra))


def tokenizer_path(metadata: Mapping[str, Any], model: str | None) -> str | None:
    """Where a run's tokenizer lives: ``model_args`` ``tokenizer``, else the model itself."""
    return str(metadata.get("tokenizer") or model or "") or None
