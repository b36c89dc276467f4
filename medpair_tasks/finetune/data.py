"""Training data of the fine-tuned regime: which items, rendered how, with loss where.

Which items (medpair's split roles, :mod:`medpair_tasks.knowledge.roles`; the test role is never read):

- ``train_on="pool"`` (default): train on the dataset's few-shot pool, the items no task ever
  scores (MedQA: train; MedMCQA: 80% of train; PubMedQA: 50 questions; MMLU: the 5 dev
  questions), and early-stop on the validation role, the same fixed subsample of at most
  ``val_limit`` items that prompt selection uses;
- ``train_on="val"``: for datasets whose pool is small (PubMedQA, MMLU), train on the
  validation role, less a held-out slice (``holdout``, default 20%, seed 42) that early-stops.
  The fine-tuned models are then evaluated on the test role with the default prompt, so the
  validation role is not needed for prompt selection; do not also select prompts on it.

How rendered: each item becomes the task's prompt in the default format ``f00`` (the very text
lm-eval's ``medpair_<dataset>`` task scores, rendered with the same Jinja template and
environment), followed by the answer: `` <letter>`` and, by default, the end-of-sequence token
so that greedy generation stops after the letter. The loss covers the answer tokens only;
the prompt is tokenised exactly as lm-eval's ``hf`` model splits a (context, continuation)
pair. A prompt longer than ``max_length`` is cut from the left, as lm-eval does.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from medpair_tasks.family.roles import DEFAULT_VAL_LIMIT, SPLIT_SEED
from medpair_tasks.formats import LETTERS, format_from_id, jinja_template
from medpair_tasks.knowledge.records import Item
from medpair_tasks.knowledge.roles import roles, scored_items

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
SMALL_POOL = 200


@dataclass(frozen=True)
class TrainingData:
    """The items that train and early-stop one fine-tuning run (the same for both models)."""

    dataset: str
    format_id: str
    train_on: str
    train: tuple[Item, ...]
    val: tuple[Item, ...]

    @property
    def fingerprint(self) -> str:
        """sha256 over the dataset, format, roles and item keys: a resumed run must see the same data."""
        text = "\n".join([self.dataset, self.format_id, self.train_on, *(f"t:{x.key}" for x in self.train), *(f"v:{x.key}" for x in self.val)])
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for ``grid.json``."""
        return {
            "dataset": self.dataset,
            "format": self.format_id,
            "train_on": self.train_on,
            "n_train": len(self.train),
            "n_val": len(self.val),
            "fingerprint": self.fingerprint,
        }


def dataset_of_task(task: str) -> str:
    """The dataset id of a medpair task name (``medpair_pubmedqa``, ``medpair_medqa_gen``, a candidate) or a bare dataset id."""
    from medpair_tasks.knowledge.sources import SOURCES
    from medpair_tasks.taskspec import parse_candidate

    candidate = parse_candidate(task)
    if candidate is not None:
        name = candidate.dataset
    else:
        name = task.removeprefix("medpair_")
        if name.endswith("_gen") and name not in SOURCES:
            name = name[: -len("_gen")]
    if name not in SOURCES:
        raise ValueError(f"{task!r} is not a medpair multiple-choice task; known datasets: {', '.join(SOURCES)}")
    return name


def _subsample(items: Sequence[Item], n: int, seed: int) -> list[Item]:
    keep = np.sort(np.random.default_rng(seed).choice(len(items), size=n, replace=False))
    return [items[i] for i in keep]


def select_items(
    dataset: str,
    train_on: str = "pool",
    val_limit: int = DEFAULT_VAL_LIMIT,
    holdout: float = 0.2,
    train_limit: int = 0,
    format_id: str = "f00",
) -> TrainingData:
    """The training and early-stopping items of ``dataset`` (see the module docstring).

    ``val_limit`` caps the early-stopping items (0: no cap); ``train_limit`` > 0 keeps a fixed
    random subsample of the training items (seed 42), for large pools such as MedMCQA's.
    """
    format_from_id(format_id)
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must lie in (0, 1), got {holdout:g}")
    if train_on == "pool":
        train = list(roles(dataset).pool)
        val = scored_items(dataset, "val", val_limit)
        if len(train) < SMALL_POOL:
            log.warning("%s: the few-shot pool has only %d items; consider --train-on val", dataset, len(train))
    elif train_on == "val":
        items = list(roles(dataset).val)
        if len(items) < 2:
            raise ValueError(f"{dataset}: the validation role has {len(items)} items, too few to hold some out")
        n_hold = min(max(1, round(holdout * len(items))), len(items) - 1)
        if val_limit > 0:
            n_hold = min(n_hold, val_limit)
        held = set(np.random.default_rng(SPLIT_SEED).choice(len(items), size=n_hold, replace=False).tolist())
        train = [x for i, x in enumerate(items) if i not in held]
        val = [x for i, x in enumerate(items) if i in held]
    else:
        raise ValueError(f"train_on must be 'pool' or 'val', got {train_on!r}")
    if 0 < train_limit < len(train):
        train = _subsample(train, train_limit, SPLIT_SEED)
    if not train or not val:
        raise ValueError(f"{dataset}: {len(train)} training and {len(val)} validation items; both must be non-empty")
    return TrainingData(dataset, format_id, train_on, tuple(train), tuple(val))


@cache
def _compiled(format_id: str) -> Any:
    """The format's template compiled in lm-eval's own Jinja environment (StrictUndefined, trailing newlines kept)."""
    from medpair_tasks.lm_eval_internals import prompt_environment

    return prompt_environment().from_string(jinja_template(format_from_id(format_id)))


def render_prompt(item: Item, format_id: str = "f00") -> str:
    """The prompt of ``item`` in format ``format_id``, exactly as lm-eval renders the task's ``doc_to_text``."""
    return _compiled(format_id).render(context=item.context, question=item.question, options=list(item.options))


def answer_text(item: Item) -> str:
    """The continuation the model is trained to produce: a space and the gold letter (lm-eval's ``target_delimiter`` + choice)."""
    return " " + LETTERS[item.answer_idx]


@dataclass(frozen=True)
class Encoded:
    """One tokenised example: ``input_ids`` whose last ``n_answer`` tokens carry the loss."""

    input_ids: tuple[int, ...]
    n_answer: int
    truncated: bool = False

    def labels(self) -> list[int]:
        """Targets aligned with ``input_ids``: the prompt is ignored (``-100``)."""
        n_prompt = len(self.input_ids) - self.n_answer
        return [IGNORE_INDEX] * n_prompt + list(self.input_ids[n_prompt:])


def encode(tokenizer: Any, prompt: str, answer: str, max_length: int, answer_eos: bool = True) -> Encoded:
    """Tokenise a (prompt, answer) pair as lm-eval's ``hf`` model does for log-likelihoods.

    The whole string is encoded, the prompt alone is encoded, and the answer tokens are the
    tail of the whole beyond the prompt's length (so merges across the boundary match what is
    scored). The end-of-sequence token is appended to the answer when ``answer_eos``.
    """
    whole = list(tokenizer.encode(prompt + answer))
    n_prompt = len(tokenizer.encode(prompt))
    answer_ids = whole[n_prompt:]
    if not answer_ids:
        raise ValueError(f"answer {answer!r} adds no tokens to its prompt")
    if answer_eos:
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no end-of-sequence token; use --no-answer-eos")
        answer_ids.append(tokenizer.eos_token_id)
    prompt_ids = whole[:n_prompt]
    room = max_length - len(answer_ids)
    if room < 1:
        raise ValueError(f"max_length {max_length} leaves no room for the prompt")
    truncated = len(prompt_ids) > room
    if truncated:
        prompt_ids = prompt_ids[-room:]
    return Encoded(tuple(prompt_ids + answer_ids), len(answer_ids), truncated)


def encode_items(tokenizer: Any, items: Sequence[Item], format_id: str, max_length: int, answer_eos: bool = True) -> list[Encoded]:
    """Render and tokenise ``items``; logs how many prompts were cut to ``max_length``."""
    encoded = [encode(tokenizer, render_prompt(x, format_id), answer_text(x), max_length, answer_eos) for x in items]
    cut = sum(e.truncated for e in encoded)
    if cut:
        log.warning("%d of %d prompts were longer than %d tokens and were cut from the left", cut, len(encoded), max_length)
    return encoded


def collate(batch: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors ``input_ids``, ``attention_mask`` and ``labels`` of a batch."""
    import torch

    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        ids[row, :n] = torch.tensor(example.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(example.labels())
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
