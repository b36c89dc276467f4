"""Tiny Llama-shaped models built offline: the test bed and the embedded demo.

:func:`build_pair` writes two Hugging Face model folders that lm-eval's ``hf`` model loads
like any hub model:

- ``base``: a random-weight Llama with a byte-level BPE tokenizer trained in memory on
  :data:`CORPUS` (plus a small chat template, so ``--apply_chat_template`` works);
- ``medical``: the same model after a few optimiser steps on medical text, so that the two
  models really differ, as a medical model and its base do.

The embedded demo (:mod:`medpair_tasks.study.demo`) builds a wider pair with the same functions:
its tokenizer is trained on the demo's own questions and its medical model is fine-tuned on
the answers of the demo's training questions (:func:`fine_tune_on_answers`).

Everything is seeded: the same call gives byte-identical weights on the same machine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from medpair_tasks.formats import LETTERS
from medpair_tasks.torchrng import own_torch_rng

log = logging.getLogger(__name__)

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

CORPUS = (
    "Question: Which drug is first-line for anaphylaxis? Answer: A",
    "The patient presented with fever, cough and shortness of breath. Options: B C D E",
    "Context: Randomised trials compared aspirin with placebo in patients with heart disease.",
    "Choices: (A) yes (B) no (C) maybe. The answer is C. ### Answer: D. **Answer**: E",
    "Insulin lowers blood glucose; glucagon raises it. Hyperkalemia causes peaked T waves.",
    "Vancomycin covers MRSA. The radial nerve is injured in wrist drop. Scurvy is vitamin C deficiency.",
    "Results: mortality was lower in the treated group (p < 0.05). Conclusions: the therapy may help.",
    "A 45-year-old man is seen in clinic with chest pain radiating to the left arm.",
)

MEDICAL_TEXT = (
    "Question: Which hormone lowers blood glucose?\nA. Insulin\nB. Glucagon\nC. Cortisol\nD. Epinephrine\nAnswer: A",
    "Question: Which antibiotic covers MRSA?\nA. Ceftriaxone\nB. Vancomycin\nC. Amoxicillin\nD. Cefazolin\nAnswer: B",
    "Context: Trials of early mobilisation after surgery showed shorter stays.\nQuestion: Does it help?\n"
    "A. yes\nB. no\nC. maybe\nAnswer: A",
)


@dataclass(frozen=True)
class TinyShape:
    """The size of a tiny Llama: hidden width, MLP width, layers and attention heads."""

    hidden_size: int = 32
    intermediate_size: int = 64
    layers: int = 2
    heads: int = 2


def train_tokenizer(texts: Iterable[str], vocab_size: int = 600):
    """A byte-level BPE tokenizer (``PreTrainedTokenizerFast``) in which `` A`` … `` J`` are single tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    letters = [" ".join(f"Answer: {c} ({c}) {c}." for c in LETTERS)] * 50
    tokenizer.train_from_iterator([*texts, *letters], trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    for letter in LETTERS:
        if len(fast(f" {letter}", add_special_tokens=False)["input_ids"]) != 1:
            raise RuntimeError(f"tokenizer splits ' {letter}' into several tokens")
    return fast


@own_torch_rng
def build_base(out: Path, seed: int = 0, max_positions: int = 8192, texts: Iterable[str] = CORPUS + MEDICAL_TEXT,
               shape: TinyShape = TinyShape(), vocab_size: int = 600) -> Path:
    """Write a random-weight Llama of ``shape`` and its tokenizer (trained on ``texts``) to ``out``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@own_torch_rng
def build_medical(base: Path, out: Path, texts: Iterable[str] = MEDICAL_TEXT, steps: int = 30, seed: int = 0) -> Path:
    """Write ``base`` after ``steps`` AdamW steps of causal-LM training on ``texts``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    batch = tokenizer(list(texts), return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    train_and_save(model, dict(batch), labels, steps, out, tokenizer, "medical sibling")
    return out


def train_and_save(model, batch: dict, labels, steps: int, out: Path, processor, name: str) -> None:
    """``steps`` full-batch AdamW steps (lr 1e-2) on ``batch``, then save model and tokenizer/processor."""
    import torch

    model.train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for step in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if step in (0, steps - 1):
            log.info("%s: step %d loss %.3f", name, step, loss.item())
    _save(model, processor, out)


def _save(model, processor, out: Path) -> None:
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)


@own_torch_rng
def fine_tune_on_answers(base: Path, out: Path, examples: Sequence[tuple[str, str]], *, steps: int = 300,
                         batch_size: int = 32, lr: float = 3e-3, seed: int = 0) -> Path:
    """Write ``base`` after ``steps`` AdamW steps of supervised fine-tuning on ``(prompt, answer)`` pairs.

    The loss is the answer tokens' only; each step takes ``batch_size`` examples drawn with
    ``seed``, so the same call gives the same weights.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medpair_tasks.finetune.data import collate, encode

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    encoded = [encode(tokenizer, prompt, answer, model.config.max_position_embeddings, answer_eos=False)
               for prompt, answer in examples]
    batch = collate(encoded, tokenizer.pad_token_id)
    draws = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        rows = torch.randint(len(encoded), (batch_size,), generator=draws)
        loss = model(**{name: tensor[rows] for name, tensor in batch.items()}).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if step in (0, steps - 1):
            log.info("fine-tuning on answers: step %d loss %.3f", step, loss.item())
    _save(model, tokenizer, out)
    return out


def build_pair(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """Build (or reuse) ``root/base`` and ``root/medical``; returns their paths."""
    base, medical = root / "base", root / "medical"
    if not (base / "config.json").is_file():
        build_base(base, seed=seed)
    if not (medical / "config.json").is_file():
        build_medical(base, medical, seed=seed)
    return base, medical
