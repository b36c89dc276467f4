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

import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from . import compare_scores
from .identity import setting_name, task_name_for
from .logs import read_logs
from .paired import PairedComparison, decide_outcome, outcome_note, single_cluster_comparison
from .records import ComparisonRecord
from .selection import PairChoice, candidate_scores, choose_pair
from .selection_aware import selection_aware_interval

__all__ = ["MissingTestRunsError", "PairComparer", "Side", "load_side", "missing_runs_error"]

logger = logging.getLogger(__name__)

_CELL_KEYS = ["dataset", "regime", "mode", "shots", "metric", "filter", "role"]


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
              progress: bool | None) -> Side:
    """Read (or take from ``cache``) the logs under ``dirs`` as one model's side."""
    key = tuple(sorted(str(Path(d).resolve()) for d in dirs))
    if key not in cache:
        table = read_logs(list(dirs), full_parse=full_parse, progress=progress)
        if table.empty:
            raise ValueError(f"no medpair samples files in {', '.join(map(str, dirs))}")
        cache[key] = table
    table = cache[key]
    per_file = table.groupby("source", observed=True)["model"].first().astype(str)
    names: list[str] = []
    for d in dirs:
        root = str(Path(d).resolve())
        here = sorted({m for src, m in per_file.items() if src == root or src.startswith(root + "/")})
        if len(here) > 1:
            raise ValueError(f"the folder {d} holds logs of several models ({', '.join(here)}); "
                             "give each model's own folder (OUT/<model>)")
        names += [m for m in here if m not in names]
    if len(names) > 1:
        logger.warning("the folders %s name the model differently (%s); treating them as one model, %r",
                       ", ".join(map(str, dirs)), ", ".join(names), label or names[0])
    return Side(label=label or names[0], cells=_split_cells(table), table=table)


def _series(rows: pd.DataFrame, cand: str) -> pd.Series:
    sub = rows[rows["candidate"].astype(str).to_numpy() == cand]
    return pd.Series(sub["score"].to_numpy(), index=sub["item_key"].astype(str).to_numpy())


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
        logger.warning(text)
        self.notes.append(text)

    def pair(self, med: Side, base: Side) -> list[ComparisonRecord]:
        records = []
        filters: dict[tuple, set[str]] = {}
        for side in (med, base):
            for (ds, regime, mode, shots, metric, flt) in side.cells:
                filters.setdefault((ds, mode, metric), set()).add(flt)
        for key in sorted(set(med.cells) | set(base.cells), key=lambda k: (k[0], k[1], k[3], k[2], k[4], k[5])):
            ds, regime, mode, shots, metric, flt = key
            label = metric if len(filters[(ds, mode, metric)]) == 1 else f"{metric},{flt}"
            where = f"{med.label} vs {base.label}, {ds} {setting_name(shots, regime)} {mode} {label}"
            if key not in med.cells or key not in base.cells:
                who = base.label if key not in base.cells else med.label
                self.note(f"{where}: no logs for {who}; not compared")
                continue
            rec = self._cell(med, base, key, label, where)
            if rec is not None:
                records.append(rec)
        return records

    def _cell(self, med: Side, base: Side, key: tuple, label: str, where: str) -> ComparisonRecord | None:
        ds, regime, mode, shots, metric, flt = key
        mr, br = med.cells[key], base.cells[key]
        med_val = candidate_scores(mr["val"], context=f"{where} ({med.label} val)") if "val" in mr else None
        base_val = candidate_scores(br["val"], context=f"{where} ({base.label} val)") if "val" in br else None
        med_test = mr.get("test")
        base_test = br.get("test")
        med_cands = set(med_test["candidate"].astype(str).unique()) if med_test is not None else set()
        base_cands = set(base_test["candidate"].astype(str).unique()) if base_test is not None else set()
        pc = choose_pair(self.selection, med_val, base_val, med_cands, base_cands, shots=shots)
        ok = True
        for side, choice, cands in ((med, pc.medical, med_cands), (base, pc.base, base_cands)):
            if choice.candidate not in cands:
                self.missing.add(self.missing.plain, side.label, task_name_for(ds, mode, choice.candidate, shots))
                ok = False
        aware = self._aware_inputs(med, base, pc, med_val, base_val, med_cands, base_cands, key)
        if not ok or aware is False:
            return None
        if pc.selection.startswith("none: no validation"):
            self.note(f"{where}: no validation logs; compared the test runs present "
                      f"({pc.medical.candidate} vs {pc.base.candidate}) without prompt selection")
        ms, bs = _series(med_test, pc.medical.candidate), _series(base_test, pc.base.candidate)
        items = sorted(set(ms.index) & set(bs.index))
        if len(items) != len(ms) or len(items) != len(bs):
            self.note(f"{where}: test items differ ({len(ms)} for {med.label}, {len(bs)} for "
                      f"{base.label}); compared the {len(items)} items both have")
        if len(items) < 2:
            self.note(f"{where}: fewer than 2 paired test items; not compared")
            return None
        clusters = _clusters(med_test, items)
        rseed = _record_seed(self.seed, where)
        cmp = self._compare(ms.loc[items].to_numpy(), bs.loc[items].to_numpy(), clusters, rseed)
        ci_low, ci_high, outcome, note, is_aware = cmp.ci_low, cmp.ci_high, cmp.outcome, cmp.outcome_note, False
        if aware is not None and cmp.n_clusters > 1:
            res = self._aware(aware, med_test, base_test, items, clusters, rseed, pc, where)
            if res is not None:
                ci_low, ci_high, is_aware = res.ci_low, res.ci_high, True
                outcome = decide_outcome(cmp.p_value, ci_low, ci_high, cmp.confidence)
                note = outcome_note(outcome, cmp.p_value, cmp.min_p, ci_low, ci_high, cmp.confidence)
        if note:
            self.note(f"{where}: {note}")
        base_val_score = pc.base.val_score
        if base_val_score is None and base_val is not None and pc.base.candidate in base_val.candidates:
            base_val_score = float(base_val.row(pc.base.candidate).mean())
        return ComparisonRecord(
            medical=med.label, base=base.label, dataset=ds, setting=setting_name(shots, regime), mode=mode,
            metric=label, medical_prompt=pc.medical.candidate, base_prompt=pc.base.candidate,
            n=cmp.n, medical_score=cmp.medical_score, base_score=cmp.base_score, diff=cmp.diff,
            ci_low=ci_low, ci_high=ci_high, p_value=cmp.p_value, p_adjusted=float("nan"),
            mcnemar_p=cmp.mcnemar_p, mde=cmp.mde, outcome=outcome, outcome_adjusted="tie",
            selection=pc.selection, clustered=cmp.clustered, shots=int(shots), filter=flt,
            n_clusters=cmp.n_clusters, se=cmp.se, b=cmp.b, c=cmp.c,
            medical_val_score=pc.medical.val_score, base_val_score=base_val_score,
            n_val=(pc.medical.n_val or None), selection_aware=is_aware,
            ci_low_plain=cmp.ci_low, ci_high_plain=cmp.ci_high, confidence=cmp.confidence,
            n_resamples=cmp.n_resamples,
            ci_method=("percentile (selection-aware)" if is_aware else cmp.method), seed=rseed,
            min_p=cmp.min_p, p_method=cmp.p_method, outcome_note=note)

    def _compare(self, med: np.ndarray, base: np.ndarray, clusters: list[str] | None, seed: int) -> PairedComparison:
        """The paired comparison; items that all share one cluster give a record without interval."""
        options = {"n_resamples": self.n_resamples, "confidence": self.confidence, "method": self.ci, "seed": seed}
        if clusters is not None and len(set(clusters)) == 1:
            return single_cluster_comparison(med, base, **options)
        return compare_scores(med, base, clusters=clusters, **options)

    def _aware_inputs(self, med, base, pc: PairChoice, med_val, base_val, med_cands, base_cands, key):
        """None: no selection-aware interval; False: missing runs; else the inputs."""
        if not self.selection_aware:
            return None
        ds, _, mode, shots, _, _ = key
        if self.selection == "default" or med_val is None:
            return None
        if self.selection == "per-model" and base_val is None:
            return None
        need = [(med, med_val.candidates, med_cands)]
        if self.selection == "per-model":
            need.append((base, base_val.candidates, base_cands))
        else:
            need.append((base, med_val.candidates, base_cands))
        ok = True
        for side, cands, have in need:
            for c in cands:
                if c not in have:
                    self.missing.add(self.missing.aware, side.label, task_name_for(ds, mode, c, shots))
                    ok = False
        return (med_val, base_val if self.selection == "per-model" else None) if ok else False

    def _aware(self, inputs, med_test, base_test, items, clusters, rseed, pc, where):
        med_val, base_val = inputs
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
        cl = None if clusters is None else [c for c, k in zip(clusters, keep) if k]
        if "base_test_for_med" in extra:
            extra["base_test_for_med"] = base_m[:, keep]
        return selection_aware_interval(med_val, base_val, med_m[:, keep], base_m[:, keep],
                                        test_clusters=cl, n_resamples=self.n_resamples,
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
