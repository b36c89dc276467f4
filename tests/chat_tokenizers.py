"""Offline stand-ins for chat models' tokenizers: special tokens and chat templates as published.

Only prompt rendering uses them (``apply_chat_template(..., tokenize=False)``), so the vocabulary
is just the special tokens. Each stand-in is saved in a folder named like the last part of the
model's hub id, so that medpair finds the model's ``jeong2024`` profile from the folder name.
The same builder made the tokenizers the reference code was given when the stored chat prompts
were made (tests/fixtures/reference/NOTE.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Meta's chat template for Llama-3-8B-Instruct / Llama-3-70B-Instruct (tokenizer_config.json).
LLAMA3_INSTRUCT = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# Mistral AI's chat template for Mistral-7B-Instruct-v0.1 (no space after [/INST]).
MISTRAL_INSTRUCT = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
# Meta's chat template for Llama-2-7b-chat-hf (tokenizer_config.json): the system prompt goes into
# the first user turn between <<SYS>> markers.
LLAMA2_CHAT = (
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = "
    "messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"
)


@dataclass(frozen=True)
class StandIn:
    """A chat model's tokenizer facts: hub id, special tokens, chat template (None: it has none)."""

    hub_id: str
    bos: str
    eos: str
    chat_template: str | None


STAND_INS = {
    # profile name -> the tokenizer the tests (and the reference run) use for it
    "llama-3-8b-instruct": StandIn("meta-llama/Meta-Llama-3-8B-Instruct", "<|begin_of_text|>", "<|eot_id|>",
                                   LLAMA3_INSTRUCT),
    # without a template: exercises the reference's Llama-3 fallback for OpenBioLLM
    "openbiollm-8b": StandIn("aaditya/Llama3-OpenBioLLM-8B", "<|begin_of_text|>", "<|eot_id|>", None),
    # the reference replaces Mistral-Instruct's template with its own variant
    "mistral-7b-v0.1": StandIn("mistralai/Mistral-7B-Instruct-v0.1", "<s>", "</s>", MISTRAL_INSTRUCT),
    # without a template: exercises the reference's Llama-2 fallback for ClinicalCamel
    "clinical-camel-70b": StandIn("wanglab/ClinicalCamel-70B", "<s>", "</s>", None),
    # the Llama-3-70B profile uses the chat layout for f00 (the 8B one the generic layout)
    "llama-3-70b-instruct": StandIn("meta-llama/Meta-Llama-3-70B-Instruct", "<|begin_of_text|>", "<|eot_id|>",
                                    LLAMA3_INSTRUCT),
    "openbiollm-70b": StandIn("aaditya/Llama3-OpenBioLLM-70B", "<|begin_of_text|>", "<|eot_id|>", None),
    # Med42-v2 (Llama-3-Instruct fine-tunes) ship Meta's Llama-3 template
    "med42-v2-8b": StandIn("m42-health/Llama3-Med42-8B", "<|begin_of_text|>", "<|eot_id|>", LLAMA3_INSTRUCT),
    "med42-v2-70b": StandIn("m42-health/Llama3-Med42-70B", "<|begin_of_text|>", "<|eot_id|>", LLAMA3_INSTRUCT),
    "llama-2-7b-chat": StandIn("meta-llama/Llama-2-7b-chat-hf", "<s>", "</s>", LLAMA2_CHAT),
}


def build_stand_in(profile: str, root: Path) -> Path:
    """Save the stand-in tokenizer of ``profile`` in ``root/<last part of its hub id>``; return the folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    spec = STAND_INS[profile]
    vocab = {token: number for number, token in enumerate(dict.fromkeys(["<unk>", spec.bos, spec.eos]))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=spec.bos, eos_token=spec.eos,
                                        unk_token="<unk>")
    if spec.chat_template is not None:
        tokenizer.chat_template = spec.chat_template
    folder = root / spec.hub_id.rsplit("/", 1)[-1]
    tokenizer.save_pretrained(folder)
    return folder
