"""Fitting long notes into the model's context: token counting, the budget, cutting a note.

A clinical prompt has parts that must stay whole (instruction, question, options, the answer
cue, few-shot answers) and notes that may be cut. :class:`~medpair_tasks.clinical.task.ClinicalTask`
renders the full prompt, and when it does not fit ``max_length - reserve`` tokens it gives
every note in the prompt the same cap (:func:`water_fill`: short notes stay whole, the long
ones share what is left) and cuts each longer note with :func:`shorten`:

- ``middle`` (default): keep the note's beginning and end, drop the middle;
- ``left``: drop the beginning, keep the end (the latest part of a note);

with :data:`MARKER` where text was dropped. The budget comes from the run's model arguments,
which lm-eval merges into every task's metadata (:func:`resolve_budget`; lm-eval's command line
always does, ``simple_evaluate`` only when it builds the task manager itself, and a caller that
passes its own task manager puts them into its metadata; dependency 12 of
:mod:`medpair_tasks.lm_eval_internals`, tested there): the tokenizer of
``tokenizer`` or ``pretrained``, and ``max_length`` (or ``max_model_len``), else the model's
configured context length, resolved as lm-eval's Hugging Face backend does. Settings, through
the task metadata (``--metadata '{...}'``): ``truncation`` = ``middle`` | ``left`` | ``none``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from medpair_tasks.protocols import JEONG2024

log = logging.getLogger(__name__)

MARKER = "\n[...]\n"
SIDES = ("middle", "left", "none")
DEFAULT_SIDE = "middle"
DEFAULT_MAX_LENGTH = 2048  # lm-eval's default for Hugging Face models without a configured length
CHARS_PER_TOKEN = 4
_HUGE = 10**8


class TokenCounter(Protocol):
    """Counts tokens and cuts text at token boundaries."""

    name: str

    def count(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens)."""

    def head(self, text: str, n: int) -> str:
        """The text of the first ``n`` tokens."""

    def tail(self, text: str, n: int) -> str:
        """The text of the last ``n`` tokens."""


class HFCounter:
    """A Hugging Face tokenizer; cuts on character offsets when the tokenizer is a fast one."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name

    def _encode(self, text: str) -> Any:
        if getattr(self.tokenizer, "is_fast", False):
            return self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return self.tokenizer(text, add_special_tokens=False, verbose=False)

    def count(self, text: str) -> int:
        return len(self._encode(text)["input_ids"]) if text else 0

    def head(self, text: str, n: int) -> str:
        if n <= 0:
            return ""
        enc = self._encode(text)
        if n >= len(enc["input_ids"]):
            return text
        if "offset_mapping" in enc:
            return text[: enc["offset_mapping"][n - 1][1]]
        return self.tokenizer.decode(enc["input_ids"][:n])

    def tail(self, text: str, n: int) -> str:
        if n <= 0:
            return ""
        enc = self._encode(text)
        ids = enc["input_ids"]
        if n >= len(ids):
            return text
        if "offset_mapping" in enc:
            return text[enc["offset_mapping"][len(ids) - n][0] :]
        return self.tokenizer.decode(ids[len(ids) - n :])


class ApproxCounter:
    """About :data:`CHARS_PER_TOKEN` characters per token: for models medpair has no tokenizer of."""

    name = f"approximate ({CHARS_PER_TOKEN} characters per token)"

    def count(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def head(self, text: str, n: int) -> str:
        return text[: max(n, 0) * CHARS_PER_TOKEN]

    def tail(self, text: str, n: int) -> str:
        return text[len(text) - max(n, 0) * CHARS_PER_TOKEN :] if n > 0 else ""


@dataclass(frozen=True)
class Budget:
    """How many tokens a prompt may take, and how to count them."""

    max_length: int
    counter: TokenCounter
    source: str

    def describe(self) -> dict[str, Any]:
        """For the results file: the limit, the tokenizer and where the limit came from."""
        return {"max_length": self.max_length, "tokenizer": self.counter.name, "max_length_from": self.source}


def shorten(text: str, cap: int, side: str, counter: TokenCounter) -> str:
    """``text`` cut to at most ``cap`` tokens (the marker included), keeping what ``side`` says."""
    if side not in ("middle", "left"):
        raise ValueError(f"truncation side must be 'middle' or 'left', got {side!r}")
    if counter.count(text) <= cap:
        return text
    keep = max(cap - counter.count(MARKER), 0)
    if side == "left":
        return MARKER.lstrip("\n") + counter.tail(text, keep)
    head = (keep + 1) // 2
    return counter.head(text, head) + MARKER + counter.tail(text, keep - head)


def water_fill(lengths: Sequence[int], budget: int) -> int | None:
    """The largest cap ``c`` with ``sum(min(L, c) for L in lengths) <= budget``; None if all fit.

    Notes shorter than the cap stay whole; the longer ones all get ``c`` tokens. A budget
    below zero gives cap 0.
    """
    if sum(lengths) <= budget:
        return None
    if budget <= 0:
        return 0
    ordered = sorted(lengths)
    remaining = budget
    for i, length in enumerate(ordered):
        share = remaining // (len(ordered) - i)
        if length > share:
            return share
        remaining -= length
    return None  # unreachable: the sum exceeds the budget


def truncation_side(metadata: Mapping[str, Any]) -> str:
    """The ``truncation`` setting of a task's metadata (default :data:`DEFAULT_SIDE`; ``none`` under
    ``jeong2024``, whose reference filters notes instead, so that asking it to cut is an error)."""
    if metadata.get("protocol") == JEONG2024.id:
        if str(metadata.get("truncation", "none")).lower() != "none":
            raise ValueError("notes are truncated under the medpair protocol only; jeong2024 filters them as the reference does")
        return "none"
    side = str(metadata.get("truncation", DEFAULT_SIDE)).lower()
    if side not in SIDES:
        raise ValueError(f"metadata 'truncation' must be one of {', '.join(SIDES)}, got {side!r}")
    return side


@lru_cache(maxsize=8)
def _hf_tokenizer(name: str, revision: str | None, trust_remote_code: bool) -> Any:
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    return AutoTokenizer.from_pretrained(name, **kwargs)


@lru_cache(maxsize=8)
def _configured_length(name: str, revision: str | None, trust_remote_code: bool) -> tuple[int, str]:
    """The model's context length from its config, as lm-eval's HF backend resolves it."""
    from transformers import AutoConfig

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    try:
        config = AutoConfig.from_pretrained(name, **kwargs)
    except (OSError, ValueError):
        return DEFAULT_MAX_LENGTH, "lm-eval's default (no model config found)"
    inner = getattr(config, "text_config", None) or config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(inner, attr, None)
        if value is not None:
            return int(value), f"model config {attr}"
    return DEFAULT_MAX_LENGTH, "lm-eval's default (the config names no length)"


def _as_bool(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def resolve_budget(metadata: Mapping[str, Any]) -> Budget | None:
    """The run's token budget from the task metadata (lm-eval merges ``--model_args`` into it: see the module doc).

    None when neither a tokenizer nor a ``max_length`` is known (e.g. a task built without a
    model): no truncation then, which the results file records.
    """
    revision = metadata.get("revision")
    trust = _as_bool(metadata.get("trust_remote_code", False))
    name = metadata.get("tokenizer") or metadata.get("pretrained")
    explicit = metadata.get("max_length") or metadata.get("max_model_len")
    counter: TokenCounter | None = None
    if isinstance(name, str) and name:
        try:
            counter = HFCounter(_hf_tokenizer(name, revision, trust), name)
        except Exception as err:  # transformers raises many kinds for "not a tokenizer here"
            log.warning("medpair: no tokenizer could be loaded from %r (%s); counting tokens approximately", name, err)
    if explicit:
        length, source = int(explicit), "max_length argument"
    elif counter is not None and isinstance(metadata.get("pretrained"), str):
        length, source = _configured_length(metadata["pretrained"], revision, trust)
        if source.startswith("lm-eval's default"):
            model_max = getattr(counter.tokenizer, "model_max_length", None)  # type: ignore[attr-defined]
            if isinstance(model_max, int) and 0 < model_max < _HUGE:
                length, source = model_max, "tokenizer model_max_length"
    else:
        return None
    return Budget(length, counter or ApproxCounter(), source)
