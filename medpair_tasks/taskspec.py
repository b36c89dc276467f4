"""Names of medpair tasks: what a task name says about dataset, mode, format, shots and seed.

Scheme (documented in the README):

- ``medpair_<dataset>``: default format f00, zero-shot, ``mc`` scoring, test role;
- ``medpair_<dataset>_gen``: the same with ``gen`` scoring;
- ``medpair_<dataset>_<mode>_<format>_k0``: a zero-shot prompt candidate;
- ``medpair_<dataset>_<mode>_<format>_k<shots>_s<seed>``: a few-shot prompt candidate.

Candidates run on the validation role unless the run sets ``role`` to ``test`` through
``--metadata``. The authoritative identity of a logged sample is the task's metadata in
lm-eval's results file plus ``doc["role"]`` and ``doc["item_key"]`` in the samples file; the
name is a readable summary of the same facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODES = ("mc", "gen")
N_FEWSHOT_SEEDS = 10
TASK_VERSION = 1.0

_CANDIDATE = re.compile(
    r"^medpair_(?P<dataset>[a-z0-9_]+?)_(?P<mode>mc|gen)_(?P<format>f\d{2})_k(?P<shots>\d+)(?:_s(?P<seed>\d+))?$"
)


@dataclass(frozen=True)
class Candidate:
    """One prompt candidate of one dataset and scoring mode.

    ``system_prompt_seed`` (``jeong2024`` only) is the reference's sampled system prompt K, which
    a run sets through its metadata: it is not part of the task name. None: the model's own.
    """

    dataset: str
    mode: str
    format_id: str
    shots: int
    seed: int | None
    system_prompt_seed: int | None = None

    @property
    def task_name(self) -> str:
        """The candidate's lm-eval task name."""
        name = f"medpair_{self.dataset}_{self.mode}_{self.format_id}_k{self.shots}"
        return name if self.seed is None else f"{name}_s{self.seed}"

    @property
    def default_task_name(self) -> str:
        """The bare task name of the dataset in this mode (``medpair_medqa``, ``medpair_medqa_gen``)."""
        return f"medpair_{self.dataset}" + ("" if self.mode == "mc" else "_gen")

    @property
    def prompt_id(self) -> str:
        """The candidate's id in medpair's logs and reports: ``f03``, ``f03/s7`` or ``f03/s7/sys1``."""
        from medpair_stats.identity import candidate_id

        return candidate_id(self.format_id, self.seed, self.system_prompt_seed)


def parse_candidate(task_name: str) -> Candidate | None:
    """The candidate a task name denotes, or None for a name outside the candidate scheme."""
    match = _CANDIDATE.match(task_name)
    if not match:
        return None
    seed = match["seed"]
    return Candidate(match["dataset"], match["mode"], match["format"], int(match["shots"]), None if seed is None else int(seed))
