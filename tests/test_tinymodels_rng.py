"""Building a tiny model seeds torch for the build only: the caller's random state is left as it was."""

from __future__ import annotations

from pathlib import Path

import torch

from medpair_tasks.tinymodels import build_base


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder).state_dict()


def test_build_base_keeps_the_callers_random_state_and_its_seed(tmp_path: Path) -> None:
    torch.manual_seed(12345)
    state = torch.get_rng_state()
    build_base(tmp_path / "first", seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(7)  # the caller's random state moves on; the build does not depend on it
    build_base(tmp_path / "second", seed=3)
    first, second = _weights(tmp_path / "first"), _weights(tmp_path / "second")
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
