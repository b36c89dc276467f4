"""Shared pieces of the fine-tuning tests (a module, not a conftest: ``from medpair_testlib import`` must keep
meaning the top-level tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# One CPU thread: the tiny models are ~50× faster single-threaded on a shared two-core machine.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread in this process and in ``medpair`` subprocesses, restored afterwards.

    Module-scoped fixtures are built before the function-scoped :func:`single_thread`, so a
    fixture whose numbers a test compares with its own run must train inside this context too:
    one and two threads sum in different orders, and a large learning rate amplifies that.
    """
    import torch

    before_threads = torch.get_num_threads()
    before_env = {key: os.environ.get(key) for key in THREAD_ENV}
    os.environ.update(THREAD_ENV)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before_threads)
        for key, value in before_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def single_thread() -> Iterator[None]:
    """Every fine-tuning test runs on one torch thread (see :func:`one_torch_thread`)."""
    with one_torch_thread():
        yield


def letter_choices(model_dir: Path, adapter: Path | None, items, format_id: str = "f00") -> list[int]:
    """The option whose letter has the highest next-token log-probability after each item's prompt
    (what lm-eval's ``mc`` mode picks, single-token letters), with or without a PEFT adapter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from medpair_tasks.finetune.data import render_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    model.eval()
    picks = []
    with torch.no_grad():
        for item in items:
            ids = tokenizer.encode(render_prompt(item, format_id))[-512:]
            logits = model(input_ids=torch.tensor([ids])).logits[0, -1]
            letters = [tokenizer.encode(" " + "ABCDE"[i])[0] for i in range(len(item.options))]
            picks.append(int(torch.argmax(logits[letters])))
    return picks
