"""Library functions that seed torch do so on a fork of its random state, never the caller's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

_Seeding = TypeVar("_Seeding", bound=Callable[..., Any])


def own_torch_rng(function: _Seeding) -> _Seeding:
    """Run ``function`` on a fork of torch's random state (the CPU generator and every CUDA device's
    when CUDA is available): the seeds it sets and the draws it makes do not outlive the call."""

    @functools.wraps(function)
    def forked(*args: Any, **kwargs: Any) -> Any:
        import torch

        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            return function(*args, **kwargs)

    return forked  # type: ignore[return-value]
