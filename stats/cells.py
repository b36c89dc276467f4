"""Compare the cells of one medical/base pair: selection, pairing, paired test.

A *cell* is one (dataset, mode, shots, metric, filter) of a pair.  For each
cell, :class:`PairComparer` builds the validation matrices, chooses the
prompts (:func:`medpair_stats.selection.choose_pair`), pairs the chosen
candidates' test items, runs :func:`medpair_stats.compare_scores` (and the
selection-aware bootstrap when asked) and returns a
:class:`~medpair_stats.records.ComparisonRecord`.  Chosen candidates without
test logs are collected (not raised one by one) so that one error can list
every task still to run.
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import compare_scores
from .identity import setting_name, task_name_for
from .lineparse import ANSWER_NONE, ANSWER_UNKNOWN, OPTION_LETTERS
from .logfiles import check_log_path
from .logs import read_logs
from .paired import PairedComparison, decide_outcome, outcome_note, single_cluster_comparison
from .records import ComparisonRecord
from .selection import CandidateScores, PairChoice, candidate_scores, choose_pair, find_search_record
from .selection_aware import selection_aware_interval

__all__ = ["ANSWER_BIAS_SHARE", "PRIMARY_METRIC", "AnswerProfile", "MissingTestRunsError", "PairComparer", "Side",
           "answer_profile", "load_side", "missing_runs_error"]

logger = logging.getLogger(__name__)

_CELL_KEYS = ["dataset", "regime", "mode", "shots", "metric", "filter", "role"]

#: A model whose most frequent answer covers more than this share of the test items is flagged.
ANSWER_BIAS_SHARE = 0.8
#: The metric the headline counts when a cell has it; otherwise the first metric the task lists.
PRIMARY_METRIC = "acc"


class MissingTestRunsError(ValueError):
    """Chosen prompt candidates have no test-role logs; ``tasks`` maps model -> task names."""

    def __init__(self, message: str, tasks: Mapping[str, Sequence[str]]) -> None:
        super().__init__(message)
        self.tasks = {k: list(v) for k, v in tasks.items()}


@dataclass
class Side:
    """One model of a pair: its label, its table and the table split into cells."""

    label: str
    cells: dict[tuple, dict[str, pd.DataFrame]]
    table: pd.DataFrame
    read_notes: tuple[str, ...] = ()
    """What reading the logs decided (duplicates, reruns, skipped lines)."""
    limited: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Samples file -> (items evaluated, items in the split) for runs made with ``--limit``."""


@dataclass
class MissingRuns:
    """Tasks without test logs, per model: for the chosen prompts, and for --selection-aware."""

    plain: dict[str, set[str]] = field(default_factory=dict)
    aware: dict[str, set[str]] = field(default_factory=dict)

    def add(self, which: dict[str, set[str]], model: str, task: str) -> None:
        which.setdefault(model, set()).add(task)


def _record_seed(seed: int, key: str) -> int:
    """Independent, reproducible seed of one record from the run seed and its key."""
    state = np.random.SeedSequence([int(seed), zlib.crc32(key.encode("utf-8"))]).generate_state(1)
    return int(state[0])


def _split_cells(table: pd.DataFrame) -> dict[tuple, dict[str, pd.DataFrame]]:
    cells: dict[tuple, dict[str, pd.DataFrame]] = {}
    if table.empty:
        return cells
    for key, sub in table.groupby(_CELL_KEYS, observed=True, sort=True):
        *cell, role = key
        cells.setdefault(tuple(str(k) if not isinstance(k, (int, np.integer)) else int(k) for k in cell),
                         {})[str(role)] = sub
    return cells


def load_side(dirs: Sequence[Path], label: str | None, cache: dict, full_parse: bool,
              progress: bool | None, mix_runs: bool = False) -> Side:
    """Read (or take from ``cache``) the logs under ``dirs`` as one model's side."""
    roots = [check_log_path(d) for d in dirs]
    key = tuple(sorted(str(r) for r in roots))
    if key not in cache:
        table = read_logs(roots, full_parse=full_parse, progress=progress, mix_runs=mix_runs)
        if table.empty:
            raise ValueError(f"no medpair samples files in {', '.join(map(str, dirs))}")
        cache[key] = table
    table = cache[key]
    per_file = table.groupby("source", observed=True)["model"].first().astype(str)
    names: list[str] = []
    for d, root in zip(dirs, map(str, roots)):
        here = sorted({m for src, m in per_file.items() if src == root or src.startswith(root + "/")})
        if len(here) > 1:
            raise ValueError(f"the folder {d} holds logs of several models ({', '.join(here)}); "
                             "give each model's own folder (OUT/<model>)")
        names += [m for m in here if m not in names]
    names = names or sorted(set(per_file))
    if len(names) > 1:
        logger.warning("the folders %s name the model differently (%s); treating them as one model, %r",
                       ", ".join(map(str, dirs)), ", ".join(names), label or names[0])
    summary = table.attrs.get("medpair", {})
    return Side(label=label or names[0], cells=_split_cells(table), table=table,
                read_notes=tuple(summary.get("notes", ())),
                limited={src: (int(used), int(total)) for src, used, total in summary.get("limited", ())})


def _answer_shares(answers: np.ndarray, n_options: int) -> tuple[tuple[str, float], ...] | None:
    """Share of items per option letter (and ``none``), or None when the logs do not tell."""
    if answers.size == 0 or (answers == ANSWER_UNKNOWN).any():
        return None
    shares = [(OPTION_LETTERS[i], float(np.mean(answers == i))) for i in range(n_options)]
    if (answers == ANSWER_NONE).any():
        shares.append(("none", float(np.mean(answers == ANSWER_NONE))))
    return tuple(shares)


@dataclass(frozen=True)
class AnswerProfile:
    """Majority-class baseline of the paired test items and each model's answer distribution."""

    majority_baseline: float | None = None
    majority_option: str | None = None
    medical: tuple[tuple[str, float], ...] | None = None
    base: tuple[tuple[str, float], ...] | None = None
    bias: str = ""


def answer_profile(med_rows: pd.DataFrame, base_rows: pd.DataFrame, med_label: str, base_label: str,
                   threshold: float = ANSWER_BIAS_SHARE) -> AnswerProfile:
    """The :class:`AnswerProfile` of two models' rows on the same items (aligned, one row per item).

    Empty for items that are not multiple choice.  A model is flagged in ``bias`` when one
    option's share exceeds ``threshold``.
    """
    n_options = int(med_rows["n_options"].max()) if len(med_rows) else 0
    gold = med_rows["gold"].to_numpy()
    if n_options <= 0 or (gold < 0).any():
        return AnswerProfile()
    counts = np.bincount(gold.astype(np.int64), minlength=n_options)
    top = int(np.argmax(counts))
    shares = {med_label: _answer_shares(med_rows["answer"].to_numpy(), n_options),
              base_label: _answer_shares(base_rows["answer"].to_numpy(), n_options)}
    flags = []
    for who, dist in (("medical", shares[med_label]), ("base", shares[base_label])):
        if dist is not None:
            letter, share = max(dist, key=lambda pair: pair[1])
            if share > threshold:
                flags.append(f"{who}: {letter} {100 * share:.0f}%")
    return AnswerProfile(majority_baseline=float(counts[top] / gold.size), majority_option=OPTION_LETTERS[top],
                         medical=shares[med_label], base=shares[base_label], bias="; ".join(flags))


def _chosen_rows(rows: pd.DataFrame, cand: str) -> pd.DataFrame:
    """One candidate's rows, indexed by item key."""
    sub = rows[rows["candidate"].astype(str).to_numpy() == cand]
    return sub.set_index(sub["item_key"].astype(str).to_numpy())


def _clusters(rows: pd.DataFrame, items: Sequence[str]) -> list[str] | None:
    if rows["cluster"].notna().sum() == 0:
        return None
    sub = rows[rows["cluster"].notna()]
    m = dict(zip(sub["item_key"].astype(str), sub["cluster"].astype(str)))
    return [m.get(k, f"\x00item:{k}") for k in items]


def _matrix(rows: pd.DataFrame, cands: Sequence[str], items: Sequence[str]) -> np.ndarray:
    sub = rows[rows["candidate"].astype(str).isin(cands)]
    piv = pd.DataFrame({"c": sub["candidate"].astype(str).to_numpy(), "i": sub["item_key"].astype(str).to_numpy(),
                        "s": sub["score"].to_numpy()}).pivot(index="c", columns="i", values="s")
    return piv.reindex(index=list(cands), columns=list(items)).to_numpy(dtype=np.float64)


def _primary_keys(keys: Sequence[tuple], metric_order: Sequence[str]) -> set[tuple]:
    """Per (dataset, regime, mode, shots): the key of the primary metric (``acc``, else the first the
    task lists), first filter by name."""
    rank = {m: i for i, m in enumerate(metric_order)}
    groups: dict[tuple, list[tuple]] = {}
    for key in keys:
        groups.setdefault(key[:4], []).append(key)
    primary = set()
    for members in groups.values():
        metrics = {k[4] for k in members}
        best = PRIMARY_METRIC if PRIMARY_METRIC in metrics else min(metrics, key=lambda m: (rank.get(m, len(rank)), m))
        primary.add(min((k for k in members if k[4] == best), key=lambda k: k[5]))
    return primary


@dataclass(frozen=True)
class _Paired:
    """The chosen candidates' test rows on the items both models have, ready to compare."""

    medical: pd.DataFrame
    base: pd.DataFrame
    n_test_total: int | None


@dataclass(frozen=True)
class _Chosen:
    """The prompts chosen for one cell, the validation scores they were chosen on, the test runs present."""

    choice: PairChoice
    med_val: CandidateScores | None
    base_val: CandidateScores | None
    med_cands: set[str]
    base_cands: set[str]


@dataclass(frozen=True)
class _AwareInputs:
    """What the selection-aware interval of one cell is computed from.

    ``med_val`` is None when the cell gets no such interval (not asked for, or nothing to select
    on); ``base_val`` is None when the base model reuses the medical model's choice. ``complete``
    is False when candidates the interval needs have no test runs (they are recorded as missing
    runs and the cell is not compared).
    """

    med_val: CandidateScores | None = None
    base_val: CandidateScores | None = None
    complete: bool = True


class PairComparer:
    """Compares the cells of one pair and collects records, notes and missing runs."""

    def __init__(self, *, selection: str, n_resamples: int, confidence: float, seed: int, ci: str,
                 selection_aware: bool, notes: list[str], missing: MissingRuns) -> None:
        self.selection = selection
        self.n_resamples = n_resamples
        self.confidence = confidence
        self.seed = seed
        self.ci = ci
        self.selection_aware = selection_aware
        self.notes = notes
        self.missing = missing

    def note(self, text: str) -> None:
        """Log ``text`` and keep it for the report's notes (once)."""
        logger.warning(text)
        if text not in self.notes:
            self.notes.append(text)

    def pair(self, med: Side, base: Side) -> list[ComparisonRecord]:
        """The records of every cell of one medical/base pair."""
        for side in (med, base):
            for text in side.read_notes:
                self.note(f"{side.label} logs: {text}")
        records = []
        filters: dict[tuple, set[str]] = {}
        for side in (med, base):
            for (dataset, regime, mode, shots, metric, flt) in side.cells:
                filters.setdefault((dataset, mode, metric), set()).add(flt)
        keys = sorted(set(med.cells) | set(base.cells), key=lambda k: (k[0], k[1], k[3], k[2], k[4], k[5]))
        primary = _primary_keys([k for k in keys if k in med.cells and k in base.cells],
                                [str(m) for m in med.table["metric"].cat.categories])
        for key in keys:
            dataset, regime, mode, shots, metric, flt = key
            label = metric if len(filters[(dataset, mode, metric)]) == 1 else f"{metric},{flt}"
            where = f"{med.label} vs {base.label}, {dataset} {setting_name(shots, regime)} {mode} {label}"
            if key not in med.cells or key not in base.cells:
                who = base.label if key not in base.cells else med.label
                self.note(f"{where}: no logs for {who}; not compared")
                continue
            rec = self._cell(med, base, key, label, where)
            if rec is not None:
                records.append(dataclasses.replace(rec, primary=key in primary))
        return records

    def _validation(self, side: Side, key: tuple, where: str):
        """The candidate matrix of one side's validation rows (None without them); notes what it left out."""
        rows = side.cells[key].get("val")
        if rows is None:
            return None
        record = find_search_record(rows["source"].astype(str).unique())
        scores = candidate_scores(rows, record=record, context=f"{where} ({side.label} validation)")
        for text in scores.notes:
            self.note(f"{where}: {side.label} validation: {text}")
        return scores

    def _pair_items(self, med: Side, base: Side, choice: PairChoice, key: tuple, where: str) -> _Paired:
        """The chosen test rows on the items both models scored; notes NaN, one-sided items and --limit."""
        picked = []
        total = None
        for side, cand in ((med, choice.medical.candidate), (base, choice.base.candidate)):
            rows = _chosen_rows(side.cells[key]["test"], cand)
            nan = rows["score"].isna().to_numpy()
            if nan.any():
                self.note(f"{where}: {int(nan.sum())} test rows of {side.label} ({cand}) have a NaN score; "
                          "those items were dropped")
            picked.append(rows[~nan])
            limits = [side.limited[src] for src in rows["source"].astype(str).unique() if src in side.limited]
            if limits:
                used, whole = max(u for u, _ in limits), max(t for _, t in limits)
                total = max(total or 0, whole)
                self.note(f"{where}: {side.label} logs were made with lm-eval's --limit: {used} of {whole} test items")
        med_rows, base_rows = picked
        items = sorted(set(med_rows.index) & set(base_rows.index))
        only_med, only_base = len(med_rows) - len(items), len(base_rows) - len(items)
        if only_med or only_base:
            self.note(f"{where}: test items differ ({len(med_rows)} for {med.label}, {len(base_rows)} for {base.label}): "
                      f"{only_med} present only in {med.label}'s logs, {only_base} only in {base.label}'s; "
                      f"compared the {len(items)} items both have")
        return _Paired(med_rows.loc[items], base_rows.loc[items], total)

    def _choose(self, med: Side, base: Side, key: tuple, where: str) -> _Chosen | None:
        """The chosen prompts, or None when the cell cannot be compared (noted, or recorded as missing runs)."""
        dataset, _, mode, shots, _, _ = key
        med_val, base_val = self._validation(med, key, where), self._validation(base, key, where)
        cands = [set(side.cells[key]["test"]["candidate"].astype(str).unique()) if "test" in side.cells[key] else set()
                 for side in (med, base)]
        try:
            choice = choose_pair(self.selection, med_val, base_val, cands[0], cands[1], shots=shots)
        except ValueError as exc:
            self.note(f"{where}: no prompt could be chosen ({exc}); not compared")
            return None
        complete = True
        for side, picked, have in ((med, choice.medical, cands[0]), (base, choice.base, cands[1])):
            if picked.candidate not in have:
                self.missing.add(self.missing.plain, side.label, task_name_for(dataset, mode, picked.candidate, shots))
                complete = False
        return _Chosen(choice, med_val, base_val, cands[0], cands[1]) if complete else None

    def _cell(self, med: Side, base: Side, key: tuple, label: str, where: str) -> ComparisonRecord | None:
        dataset, regime, mode, shots, metric, flt = key
        chosen = self._choose(med, base, key, where)
        if chosen is None:
            return None
        choice, base_val = chosen.choice, chosen.base_val
        aware = self._aware_inputs(med, base, chosen, key)
        if not aware.complete:
            return None
        if choice.selection.startswith("none: no validation"):
            self.note(f"{where}: no validation logs; compared the test runs present "
                      f"({choice.medical.candidate} vs {choice.base.candidate}) without prompt selection")
        paired = self._pair_items(med, base, choice, key, where)
        items = list(paired.medical.index)
        if len(items) < 2:
            self.note(f"{where}: fewer than 2 paired test items; not compared")
            return None
        med_test, base_test = med.cells[key]["test"], base.cells[key]["test"]
        clusters = _clusters(med_test, items)
        rseed = _record_seed(self.seed, where)
        cmp = self._compare(paired.medical["score"].to_numpy(), paired.base["score"].to_numpy(), clusters, rseed)
        ci_low, ci_high, outcome, note, is_aware = cmp.ci_low, cmp.ci_high, cmp.outcome, cmp.outcome_note, False
        if aware.med_val is not None and cmp.n_clusters > 1:
            res = self._aware(aware, med_test, base_test, items, clusters, rseed, where)
            if res is not None:
                ci_low, ci_high, is_aware = res.ci_low, res.ci_high, True
                outcome = decide_outcome(cmp.p_value, ci_low, ci_high, cmp.confidence)
                note = outcome_note(outcome, cmp.p_value, cmp.min_p, ci_low, ci_high, cmp.confidence)
        if note:
            self.note(f"{where}: {note}")
        base_val_score = choice.base.val_score
        if base_val_score is None and base_val is not None and choice.base.candidate in base_val.candidates:
            base_val_score = float(base_val.row(choice.base.candidate).mean())
        answers = answer_profile(paired.medical, paired.base, med.label, base.label)
        if answers.bias:
            self.note(f"{where}: answers mostly one option ({answers.bias}; majority-class baseline "
                      f"{answers.majority_baseline:.3f}, option {answers.majority_option})")
        return ComparisonRecord(
            medical=med.label, base=base.label, dataset=dataset, setting=setting_name(shots, regime), mode=mode,
            metric=label, medical_prompt=choice.medical.candidate, base_prompt=choice.base.candidate,
            n=cmp.n, medical_score=cmp.medical_score, base_score=cmp.base_score, diff=cmp.diff,
            ci_low=ci_low, ci_high=ci_high, p_value=cmp.p_value, p_adjusted=float("nan"),
            mcnemar_p=cmp.mcnemar_p, mde=cmp.mde, outcome=outcome, outcome_adjusted="tie",
            selection=choice.selection, clustered=cmp.clustered, shots=int(shots), filter=flt,
            n_clusters=cmp.n_clusters, se=cmp.se, b=cmp.b, c=cmp.c,
            medical_val_score=choice.medical.val_score, base_val_score=base_val_score,
            n_val=(choice.medical.n_val or None), selection_aware=is_aware,
            ci_low_plain=cmp.ci_low, ci_high_plain=cmp.ci_high, confidence=cmp.confidence,
            n_resamples=cmp.n_resamples,
            ci_method=("percentile (selection-aware)" if is_aware else cmp.method), seed=rseed,
            n_test_total=paired.n_test_total, majority_baseline=answers.majority_baseline,
            majority_option=answers.majority_option, medical_answers=answers.medical, base_answers=answers.base,
            answer_bias=answers.bias, min_p=cmp.min_p, p_method=cmp.p_method, outcome_note=note)

    def _compare(self, med: np.ndarray, base: np.ndarray, clusters: list[str] | None, seed: int) -> PairedComparison:
        """The paired comparison; items that all share one cluster give a record without interval."""
        options = {"n_resamples": self.n_resamples, "confidence": self.confidence, "method": self.ci, "seed": seed}
        if clusters is not None and len(set(clusters)) == 1:
            return single_cluster_comparison(med, base, **options)
        return compare_scores(med, base, clusters=clusters, **options)

    def _aware_inputs(self, med: Side, base: Side, chosen: _Chosen, key: tuple) -> _AwareInputs:
        """The selection-aware interval's inputs; records the test runs it needs that are missing."""
        med_val, base_val = chosen.med_val, chosen.base_val
        if not self.selection_aware or self.selection == "default" or med_val is None:
            return _AwareInputs()
        if self.selection == "per-model" and base_val is None:
            return _AwareInputs()
        dataset, _, mode, shots, _, _ = key
        need = [(med, med_val.candidates, chosen.med_cands)]
        if self.selection == "per-model":
            need.append((base, base_val.candidates, chosen.base_cands))
        else:
            need.append((base, med_val.candidates, chosen.base_cands))
        complete = True
        for side, cands, have in need:
            for cand in cands:
                if cand not in have:
                    self.missing.add(self.missing.aware, side.label, task_name_for(dataset, mode, cand, shots))
                    complete = False
        return _AwareInputs(med_val, base_val if self.selection == "per-model" else None, complete)

    def _aware(self, inputs: _AwareInputs, med_test: pd.DataFrame, base_test: pd.DataFrame, items: list[str],
               clusters: list[str] | None, rseed: int, where: str):
        """The selection-aware interval on the test items every candidate covers (None when under 2)."""
        med_val, base_val = inputs.med_val, inputs.base_val
        med_m = _matrix(med_test, med_val.candidates, items)
        if base_val is not None:
            base_m = _matrix(base_test, base_val.candidates, items)
            extra = {}
        else:
            base_m = _matrix(base_test, med_val.candidates, items)
            extra = {"base_test_for_med": base_m}
        keep = ~(np.isnan(med_m).any(axis=0) | np.isnan(base_m).any(axis=0))
        if not keep.all():
            self.note(f"{where}: selection-aware interval uses the {int(keep.sum())} test items every "
                      f"candidate covers (of {len(items)})")
        if keep.sum() < 2:
            return None
        kept_clusters = None if clusters is None else [c for c, k in zip(clusters, keep) if k]
        if "base_test_for_med" in extra:
            extra["base_test_for_med"] = base_m[:, keep]
        return selection_aware_interval(med_val, base_val, med_m[:, keep], base_m[:, keep],
                                        test_clusters=kept_clusters, n_resamples=self.n_resamples,
                                        confidence=self.confidence, seed=rseed + 1, **extra)


def missing_runs_error(missing: MissingRuns) -> MissingTestRunsError | None:
    if missing.plain:
        lines = [f"  {model}: {', '.join(sorted(tasks))}" for model, tasks in sorted(missing.plain.items())]
        return MissingTestRunsError(
            "the chosen prompt candidates have no test-role logs, so there is nothing to compare. "
            "Run these tasks on the test role (then run medpair compare again):\n" + "\n".join(lines),
            {k: sorted(v) for k, v in missing.plain.items()})
    if missing.aware:
        lines = [f"  {model}: {', '.join(sorted(tasks))}" for model, tasks in sorted(missing.aware.items())]
        return MissingTestRunsError(
            "--selection-aware redoes the prompt selection in every resample, so it needs test-role "
            "logs of EVERY candidate, and these are missing. Run these tasks on the test role, or "
            "drop --selection-aware:\n" + "\n".join(lines),
            {k: sorted(v) for k, v in missing.aware.items()})
    return None
