"""Identity of medpair tasks and prompt candidates in lm-eval logs.

The contract (fixed by the task side) names a candidate task
``medpair_<dataset>_<mode>_<format>_k<shots>[_s<seed>]``; the bare names
``medpair_<dataset>`` and ``medpair_<dataset>_gen`` are the default prompt
(format ``f00``, zero shots) on the test role.  The authoritative identity is
the task's ``metadata`` in the results file; the name is the fallback.

A *candidate* is one (format, few-shot seed) pair; its id is ``"f03"`` without
a seed and ``"f03/s7"`` with one.  Under the ``jeong2024`` protocol a run's
metadata may also name a sampled system prompt (``system_prompt_seed`` K, the
reference's system-prompt seed); its candidates' ids end in ``"/sysK"``
(``"f03/s7/sys1"``), and the task name, which does not carry it, is the same.
Candidates are ordered for tie-breaking as the reference enumerates them: the
model's own system prompt first, then system-prompt seeds 0, 1, 2; within one,
the default format ``f00`` first, then by format number, then by seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

__all__ = [
    "DEFAULT_FORMAT",
    "TaskIdentity",
    "candidate_id",
    "candidate_sort_key",
    "parse_candidate_id",
    "identity_from_metadata",
    "parse_task_name",
    "setting_name",
    "task_name_for",
]

#: The model's default prompt format; selection ties go to it first.
DEFAULT_FORMAT = "f00"

_CANDIDATE_RE = re.compile(
    r"^medpair_(?P<dataset>[a-z0-9_]+?)_(?P<mode>mc|gen)_(?P<format>f\d{2})"
    r"_k(?P<shots>\d+)(?:_s(?P<seed>\d+))?$"
)
_BARE_RE = re.compile(r"^medpair_(?P<dataset>[a-z0-9_]+?)(?P<gen>_gen)?$")
_CANDIDATE_ID_RE = re.compile(r"^f(?P<fmt>\d+)(?:/s(?P<seed>\d+))?(?:/sys(?P<system>\d+))?$")


@dataclass(frozen=True)
class TaskIdentity:
    """What a medpair task evaluates: one prompt candidate of one dataset.

    ``role`` is None when neither the metadata nor the name tell it (the
    per-sample ``doc["role"]`` then decides).
    """

    dataset: str
    mode: str
    format: str
    shots: int
    seed: int | None
    role: str | None
    regime: str = "prompted"
    """``"prompted"`` (zero-/few-shot), or the run's ``regime`` metadata (e.g. ``"finetuned"``)."""
    system_prompt_seed: int | None = None
    """The run's sampled system prompt (``jeong2024`` metadata ``system_prompt_seed``); None: the model's own."""

    @property
    def candidate(self) -> str:
        """Candidate id, e.g. ``"f03"``, ``"f03/s7"`` or ``"f03/s7/sys1"``."""
        return candidate_id(self.format, self.seed, self.system_prompt_seed)


def candidate_id(fmt: str, seed: int | None, system_prompt_seed: int | None = None) -> str:
    """Return the candidate id of a (format, few-shot seed[, system-prompt seed]): ``f03``, ``f03/s7``, ``f03/s7/sys1``."""
    name = fmt if seed is None else f"{fmt}/s{int(seed)}"
    return name if system_prompt_seed is None else f"{name}/sys{int(system_prompt_seed)}"


def parse_candidate_id(cand: str) -> tuple[str, int | None, int | None]:
    """(format, few-shot seed, system-prompt seed) of a candidate id; inverse of :func:`candidate_id`.

    Raises ValueError for an id outside the ``fNN[/sK][/sysJ]`` grammar.
    """
    m = _CANDIDATE_ID_RE.match(cand)
    if m is None:
        raise ValueError(f"not a candidate id: {cand!r}")
    seed, system = m.group("seed"), m.group("system")
    return f"f{m.group('fmt')}", None if seed is None else int(seed), None if system is None else int(system)


def candidate_sort_key(cand: str) -> tuple[int, int, int, int]:
    """Tie-break order of candidate ids: the model's own system prompt, then system-prompt
    seeds in order; within each, ``f00`` first, then format, then few-shot seed.

    Ids that do not follow the ``fNN[/sK][/sysJ]`` grammar sort last (by the caller's
    secondary key, usually the id itself).
    """
    m = _CANDIDATE_ID_RE.match(cand)
    if m is None:
        return (1, 0, 0, 0)
    fmt = int(m.group("fmt"))  # f00, the default format, is the smallest
    seed = -1 if m.group("seed") is None else int(m.group("seed"))
    system = -1 if m.group("system") is None else int(m.group("system"))
    return (0, system, fmt, seed)


def setting_name(shots: int, regime: str = "prompted") -> str:
    """Human name of a setting: ``"0-shot"``, ``"3-shot"``; ``"fine-tuned"`` for a fine-tuned model's
    zero-shot run (``regime`` metadata ``finetuned``); ``"<regime> <k>-shot"`` otherwise."""
    if regime == "prompted":
        return f"{int(shots)}-shot"
    name = "fine-tuned" if regime == "finetuned" else regime
    return name if int(shots) == 0 else f"{name} {int(shots)}-shot"


def task_name_for(dataset: str, mode: str, cand: str, shots: int) -> str:
    """Inverse of :func:`parse_task_name` for a candidate id (used in messages)."""
    m = _CANDIDATE_ID_RE.match(cand)
    if m is None:
        return f"medpair_{dataset}_{mode}_{cand}_k{shots}"
    fmt = f"f{m.group('fmt')}"
    seed = m.group("seed")
    suffix = "" if seed is None else f"_s{seed}"
    name = f"medpair_{dataset}_{mode}_{fmt}_k{int(shots)}{suffix}"
    system = m.group("system")  # run metadata, not part of the name
    return name if system is None else f"{name} (metadata system_prompt_seed {system})"


def parse_task_name(task: str) -> TaskIdentity | None:
    """Parse a medpair task name; return None for tasks that are not medpair's.

    Candidate names carry no role (None); the bare default names are the
    test role by contract.
    """
    m = _CANDIDATE_RE.match(task)
    if m is not None:
        seed = m.group("seed")
        return TaskIdentity(
            dataset=m.group("dataset"),
            mode=m.group("mode"),
            format=m.group("format"),
            shots=int(m.group("shots")),
            seed=None if seed is None else int(seed),
            role=None,
        )
    m = _BARE_RE.match(task)
    if m is not None:
        return TaskIdentity(
            dataset=m.group("dataset"),
            mode="gen" if m.group("gen") else "mc",
            format=DEFAULT_FORMAT,
            shots=0,
            seed=None,
            role="test",
        )
    return None


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def identity_from_metadata(
    task: str, metadata: Mapping[str, Any] | None, n_shot: Any = None
) -> TaskIdentity | None:
    """Identity of ``task`` from its results-file metadata, name as fallback.

    Each field is taken from ``metadata`` when present there, else from the
    task name; ``shots`` falls back to ``results["n-shot"][task]`` too.
    Returns None when the task is not a medpair task by either source.
    """
    by_name = parse_task_name(task)
    meta = dict(metadata or {})
    has_meta = all(k in meta for k in ("dataset", "mode", "format"))
    if not has_meta and by_name is None:
        return None
    base = by_name
    dataset = str(meta["dataset"]) if "dataset" in meta else (base.dataset if base else None)
    mode = str(meta["mode"]) if "mode" in meta else (base.mode if base else None)
    fmt = str(meta["format"]) if "format" in meta else (base.format if base else None)
    if dataset is None or mode is None or fmt is None:
        return None
    shots = _as_int(meta.get("shots"))
    if shots is None:
        shots = base.shots if base is not None else _as_int(n_shot)
    if shots is None:
        shots = 0
    if "fewshot_seed" in meta:
        seed = _as_int(meta.get("fewshot_seed"))
    else:
        seed = base.seed if base is not None else None
    if shots == 0:
        seed = None  # a few-shot seed means nothing without shots
    role = meta.get("role")
    role = str(role) if role is not None else (base.role if base else None)
    regime = str(meta.get("regime") or "prompted")
    system_prompt_seed = _as_int(meta.get("system_prompt_seed"))
    return TaskIdentity(dataset=dataset, mode=mode, format=fmt, shots=shots, seed=seed, role=role, regime=regime,
                        system_prompt_seed=system_prompt_seed)
