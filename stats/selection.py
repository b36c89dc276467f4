"""Prompt selection on validation items, per model (Jeong et al.'s protocol).

For one model and one cell (dataset, mode, shots, metric), every prompt
candidate (format, few-shot seed) was run on the validation items.  The
chosen candidate is the one with the best mean score on the *same* items --
the items on which every candidate has a score.  A candidate never wins
because it covered more (or other) items: when candidates cover different
items, or some scores are NaN, every candidate competes on the items common
to all, and the notes say which candidates lacked which items.  Only a search
that recorded its own schedule (``medpair run --search halving``, whose
``manifest.json`` holds the schedule) restricts the competition to its
finalists, and only when the logs match that schedule.  Ties go to the
default format ``f00`` first, then to the candidate id order (format number,
then seed).

Selection modes (:data:`SELECTION_MODES`):

* ``per-model`` (default, the paper's): each model gets its own best prompt;
* ``medical-prompt``: the base model reuses the medical model's choice;
* ``default``: no selection -- format ``f00`` (lowest seed available).

A model without validation logs for a cell gets no selection: the test run
present is used (``f00`` first, then id order) and the record says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .identity import DEFAULT_FORMAT, candidate_sort_key

__all__ = [
    "SELECTION_MODES",
    "CandidateScores",
    "Choice",
    "PairChoice",
    "SearchRecord",
    "best_candidate",
    "candidate_scores",
    "choose_pair",
    "default_candidate",
    "find_search_record",
    "order_candidates",
]

logger = logging.getLogger(__name__)

SELECTION_MODES: tuple[str, ...] = ("per-model", "medical-prompt", "default")

#: Means closer than this are ties (0/1 means on the same items tie exactly).
TIE_TOLERANCE = 1e-12


def order_candidates(ids: Iterable[str]) -> list[str]:
    """Candidate ids in tie-break order: ``f00`` first, then format, then seed."""
    return sorted(set(ids), key=lambda c: (candidate_sort_key(c), c))


@dataclass(frozen=True)
class SearchRecord:
    """A successive-halving search as ``medpair run`` recorded it in ``OUT/manifest.json``."""

    eta: int
    min_items: int
    val_items: Mapping[str, int]
    """Validation items of each dataset in the study's plan (the last round's slice)."""
    manifest: str
    """Where the record was read, as ``<study folder name>/manifest.json`` (named in the report's notes)."""


def _read_search_record(path: Path) -> SearchRecord | None:
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        config = saved["identity"]["config"]
        if config.get("search") != "halving":
            return None
        items = {str(dataset): int(roles["val"]) for dataset, roles in saved["plan"]["items"].items()}
        return SearchRecord(eta=int(config["halving_eta"]), min_items=int(config["halving_min_items"]),
                            val_items=items, manifest=f"{path.parent.name}/{path.name}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("cannot read the search record of %s (%s); no candidate is treated as a finalist", path, exc)
        return None


def find_search_record(sources: Iterable[str | Path]) -> SearchRecord | None:
    """The halving search recorded for the log files ``sources``, or None.

    ``medpair run`` writes its logs under ``OUT/runs/`` and its schedule in
    ``OUT/manifest.json``; a file under a ``runs`` folder next to such a
    manifest belongs to that study.  All ``sources`` must belong to the same
    halving study, else there is no record (every candidate then competes on
    the items common to all).
    """
    found: set[Path] = set()
    for folder in {Path(s).parent for s in sources}:
        manifest = next((p.parent / "manifest.json" for p in (folder, *folder.parents)
                         if p.name == "runs" and (p.parent / "manifest.json").is_file()), None)
        if manifest is None:
            return None
        found.add(manifest)
    if len(found) != 1:
        return None
    return _read_search_record(found.pop())


@dataclass(frozen=True)
class CandidateScores:
    """Scores of the competing candidates on the items all of them cover.

    ``scores[i, j]`` is candidate ``candidates[i]`` on item ``items[j]``;
    candidates are in tie-break order, items sorted by key.
    """

    candidates: tuple[str, ...]
    items: tuple[str, ...]
    scores: np.ndarray
    clusters: tuple[str, ...] | None
    """Cluster label per item when the docs carry one (else None)."""
    n_union: int
    """Items covered by at least one candidate (>= ``len(items)``)."""
    excluded: tuple[str, ...] = ()
    """Candidates that did not compete: eliminated in earlier rounds of a recorded halving search."""
    notes: tuple[str, ...] = ()
    """What the selection left out and why (candidates lacking items, NaN scores, finalists only)."""

    def row(self, cand: str) -> np.ndarray:
        """Scores of one candidate, aligned with :attr:`items`."""
        return self.scores[self.candidates.index(cand)]


def _halving_finalists(coverage: np.ndarray, record: SearchRecord, dataset: str | None) -> np.ndarray | None:
    """Mask of the finalists when the logs show exactly the recorded schedule, else None."""
    from medpair_tasks.study import halving

    n_items = record.val_items.get(dataset or "", int(coverage.max()))
    rounds = halving.schedule(coverage.size, n_items, record.eta, record.min_items)
    if not np.array_equal(np.sort(coverage), halving.coverage(rounds)):
        return None
    return coverage == n_items


def _coverage_note(names: list[str], valid: np.ndarray, common: int, total: int) -> str:
    counts = valid.sum(axis=1)
    shown = ", ".join(f"{c}: {int(k)}" for c, k in zip(names[:6], counts[:6])) + (", …" if len(names) > 6 else "")
    return (f"the {len(names)} candidates cover different items ({shown} of {total} validation items); "
            f"every candidate competes on the {common} items common to all ({total - common} left out)")


def _restrict(names: list[str], mat: np.ndarray, present: np.ndarray, record: SearchRecord | None,
              dataset: str | None) -> tuple[list[str], np.ndarray, tuple[str, ...], list[str]]:
    """Keep the finalists of a recorded halving search that the logs match; else every candidate."""
    if record is None:
        return names, mat, (), []
    coverage = present.sum(axis=1)
    finalists = _halving_finalists(coverage, record, dataset)
    if finalists is None:
        return names, mat, (), [f"the logs do not match the successive-halving schedule recorded in "
                                 f"{record.manifest}; no candidate is treated as a finalist"]
    if finalists.all():
        return names, mat, (), []
    excluded = tuple(c for c, keep in zip(names, finalists) if not keep)
    kept = [c for c, keep in zip(names, finalists) if keep]
    note = (f"selection among the {len(kept)} finalists of the successive-halving search recorded in "
            f"{record.manifest}; the other {len(excluded)} candidates were eliminated in earlier rounds "
            "on fewer items")
    return kept, mat[finalists], excluded, [note]


def candidate_scores(rows: pd.DataFrame, *, record: SearchRecord | None = None, context: str = "") -> CandidateScores:
    """Build the candidate × item matrix of one model's rows of one cell and role.

    ``rows`` has the columns ``candidate``, ``item_key``, ``score`` and
    ``cluster`` of the tidy table (``dataset`` too with a ``record``), one row
    per (candidate, item); a NaN score counts as no score.  Every candidate
    competes on the items where all of them have a score; with ``record`` (a
    halving search, see :func:`find_search_record`) whose schedule the logs
    match, only its finalists compete.  The notes (and a warning, with
    ``context``) say what was left out.
    """
    cand = rows["candidate"].astype(str).to_numpy()
    item = rows["item_key"].astype(str).to_numpy()
    names = order_candidates(np.unique(cand).tolist())
    cand_pos = {c: i for i, c in enumerate(names)}
    item_names, item_idx = np.unique(item, return_inverse=True)
    cand_idx = np.fromiter((cand_pos[c] for c in cand), dtype=np.int64, count=cand.size)
    mat = np.full((len(names), item_names.size), np.nan)
    mat[cand_idx, item_idx] = rows["score"].to_numpy(dtype=np.float64)
    present = np.zeros(mat.shape, dtype=bool)
    present[cand_idx, item_idx] = True
    dataset = str(rows["dataset"].iloc[0]) if record is not None and "dataset" in rows and len(rows) else None
    names, mat, excluded, notes = _restrict(names, mat, present, record, dataset)
    valid = ~np.isnan(mat)
    nan_counts = (~valid & present[[cand_pos[c] for c in names]]).sum(axis=1)
    if nan_counts.any():
        notes.append("NaN validation scores (left out like missing items): " + ", ".join(
            f"{c} {int(k)}" for c, k in zip(names, nan_counts) if k))
    full = valid.all(axis=0)
    if not full.all():
        notes.append(_coverage_note(names, valid, int(full.sum()), item_names.size))
    for text in notes:
        logger.warning("%s: %s", context or "candidates", text)
    clusters = None
    if "cluster" in rows and rows["cluster"].notna().any():
        first = pd.Series(rows["cluster"].astype(object).to_numpy(), index=item).groupby(level=0).first()
        labels = [first.get(k) for k in item_names[full]]
        clusters = tuple(f"\x00item:{k}" if (c is None or (isinstance(c, float) and np.isnan(c))) else str(c)
                         for k, c in zip(item_names[full], labels))
    return CandidateScores(candidates=tuple(names), items=tuple(item_names[full].tolist()),
                           scores=mat[:, full], clusters=clusters, n_union=int(item_names.size),
                           excluded=excluded, notes=tuple(notes))


@dataclass(frozen=True)
class Choice:
    """The prompt candidate used for one model in one cell."""

    candidate: str
    rule: str
    """``"validation"``, ``"medical-prompt"``, ``"default"`` or ``"no validation logs"``."""
    val_score: float | None = None
    """Mean validation score of the chosen candidate (None without selection)."""
    n_val: int = 0
    n_candidates: int = 0
    tied: tuple[str, ...] = ()
    """Other candidates with the same best mean (the tie-break decided)."""


def best_candidate(validation: CandidateScores) -> Choice:
    """The candidate with the best mean on the common validation items.

    Ties (means within :data:`TIE_TOLERANCE`) go to the first candidate in
    tie-break order (``f00`` first, then by id).
    """
    if validation.scores.shape[1] == 0:
        raise ValueError(f"no validation item has a score for every one of the {len(validation.candidates)} candidates "
                         f"({'; '.join(validation.notes)})")
    means = validation.scores.mean(axis=1)
    best = means.max()
    tied = np.flatnonzero(means >= best - TIE_TOLERANCE)
    win = int(tied[0])
    return Choice(candidate=validation.candidates[win], rule="validation", val_score=float(means[win]),
                  n_val=len(validation.items), n_candidates=len(validation.candidates),
                  tied=tuple(validation.candidates[i] for i in tied[1:]))


def default_candidate(available: Iterable[str]) -> str | None:
    """``f00`` with its lowest seed if available, else the first id in order."""
    ordered = order_candidates(available)
    for c in ordered:
        if c.split("/")[0] == DEFAULT_FORMAT:
            return c
    return ordered[0] if ordered else None


@dataclass(frozen=True)
class PairChoice:
    """Prompts chosen for the two models of one cell, and how."""

    medical: Choice
    base: Choice
    selection: str
    """What the record's ``selection`` field says."""


def _no_val(test_cands: Iterable[str]) -> Choice | None:
    cand = default_candidate(test_cands)
    return None if cand is None else Choice(candidate=cand, rule="no validation logs")


def choose_pair(mode: str, med_val: CandidateScores | None, base_val: CandidateScores | None,
                med_test: Iterable[str], base_test: Iterable[str], *, shots: int) -> PairChoice:
    """Choose both models' prompts for one cell.

    ``med_val`` / ``base_val`` are the validation matrices (None when a model
    has no validation logs for the cell); ``med_test`` / ``base_test`` are the
    candidates with test logs.  The result may name a candidate without test
    logs: the caller reports those as runs to do.
    """
    if mode not in SELECTION_MODES:
        raise ValueError(f"selection must be one of {', '.join(SELECTION_MODES)}; got {mode!r}")
    med_test, base_test = set(med_test), set(base_test)
    if mode == "default":
        both = {c for c in med_test & base_test if c.split("/")[0] == DEFAULT_FORMAT}
        pool = both or {c for c in med_test | base_test if c.split("/")[0] == DEFAULT_FORMAT}
        if not pool:
            vals = [v for v in (med_val, base_val) if v is not None]
            pool = {c for v in vals for c in v.candidates if c.split("/")[0] == DEFAULT_FORMAT}
        cand = default_candidate(pool) or (DEFAULT_FORMAT if shots == 0 else f"{DEFAULT_FORMAT}/s0")
        choice = Choice(candidate=cand, rule="default")
        return PairChoice(choice, choice, "none: default prompt (no selection)")

    med = best_candidate(med_val) if med_val is not None else _no_val(med_test)
    if mode == "medical-prompt":
        if med is None:
            med = Choice(candidate=default_candidate(base_test) or DEFAULT_FORMAT, rule="no validation logs")
        base = Choice(candidate=med.candidate, rule="medical-prompt")
        label = "medical-prompt" if med.rule == "validation" else "none: no validation logs"
        return PairChoice(med, base, label)

    base = best_candidate(base_val) if base_val is not None else _no_val(base_test)
    if med is None:
        med = Choice(candidate=base.candidate if base else DEFAULT_FORMAT, rule="no validation logs")
    if base is None:
        base = Choice(candidate=med.candidate, rule="no validation logs")
    if med.rule == "validation" and base.rule == "validation":
        label = "per-model"
    elif med.rule != "validation" and base.rule != "validation":
        label = "none: no validation logs"
    else:
        missing = "base" if base.rule != "validation" else "medical"
        label = f"per-model; none for {missing}: no validation logs"
    return PairChoice(med, base, label)
