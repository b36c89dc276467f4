"""Each model's prompt per cell, chosen from its stage-1 logs with ``medpair compare``'s own rule."""

from __future__ import annotations

from pathlib import Path

from medpair_stats.cells import PRIMARY_METRIC
from medpair_tasks.study.plan import Cell
from medpair_tasks.taskspec import Candidate

__all__ = ["PRIMARY_METRIC", "choose_candidates"]  # PRIMARY_METRIC: the report's, re-exported for run.py


def choose_candidates(log_dirs: list[Path], cells: tuple[Cell, ...]) -> dict[str, Candidate]:
    """The validation-best candidate of every cell (key: :attr:`Cell.key`) in one model's logs.

    Uses :func:`medpair_stats.selection.best_candidate`, the rule of ``medpair compare`` (halving
    finalists only where the manifest records that search), so the prompt run on the test role is
    the one the report names. Under ``jeong2024`` the candidates of a cell include each sampled
    system prompt (its runs' metadata ``system_prompt_seed``), which the chosen candidate carries.
    Raises ValueError for a cell with no validation logs.
    """
    from medpair_stats.identity import parse_candidate_id
    from medpair_stats.logs import read_logs
    from medpair_stats.selection import best_candidate, candidate_scores, find_search_record

    table = read_logs(log_dirs, progress=False)
    table = table[(table["role"] == "val") & (table["metric"] == PRIMARY_METRIC)]
    chosen = {}
    for cell in cells:
        rows = table[(table["dataset"] == cell.dataset) & (table["mode"] == cell.mode) & (table["shots"] == cell.shots)]
        if rows.empty:
            raise ValueError(f"no validation logs for {cell.key} under {', '.join(map(str, log_dirs))}")
        record = find_search_record(rows["source"].astype(str).unique())
        choice = best_candidate(candidate_scores(rows, record=record, context=cell.key))
        format_id, seed, system_prompt_seed = parse_candidate_id(choice.candidate)
        chosen[cell.key] = Candidate(cell.dataset, cell.mode, format_id, cell.shots, seed, system_prompt_seed)
    return chosen
