"""Read lm-eval output folders into one tidy per-item table.

:func:`read_logs` loads any number of lm-eval output folders (``OUT`` or
``OUT/<model>``, searched recursively; several runs and timestamps) and
returns a :class:`pandas.DataFrame` with one row per model × candidate × role
× item × metric (× filter) and the columns :data:`TABLE_COLUMNS`.

Runs of one task (same model, dataset, regime, mode, format, shots, seed,
system-prompt seed and role; runs are ordered by the timestamp in the file name, then by path):

* runs on disjoint items are shards of one evaluation and are combined;
* a newer run that covers every item of an older one replaces it (by the
  duplicate rule below);
* a newer run that covers only some of an older run's items is a *partial
  rerun*: by default it is not used (the newest complete run is), because
  mixing would pair items scored by two different runs; ``mix_runs=True``
  mixes them, the newest run winning item by item.

Duplicate rule (lm-eval opens sample files in append mode): two rows are *the
same record* when they share model, dataset, regime, mode, format, shots,
seed, system-prompt seed, role, item_key, filter and metric.  Of the same record, the newest run
wins, and within one file a later line wins.  Identical duplicates (same
score and doc_hash) collapse; conflicting ones are resolved by that rule with
a WARNING that counts them and names examples.  Every such decision is also
a sentence in the summary's ``notes`` (the report prints them).

A NaN (or null) metric value is kept as a row with a NaN score (selection and
pairing leave it out and say so); other values that are not numbers (e.g.
corpus-level metrics' tuples) are skipped.

Files are streamed line by line (see :mod:`medpair_stats.lineparse` for the
fast decoding); a malformed line is an error naming file and line, except a
malformed last line (a crashed run), which is skipped with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .lineparse import ANSWER_UNKNOWN, Interner, LogFormatError, SampleLineReader
from .logfiles import SamplesFile, discover_samples_files

__all__ = [
    "TABLE_COLUMNS",
    "DataVersionMismatchError",
    "LogFormatError",
    "ReadSummary",
    "check_data_versions",
    "read_logs",
]

logger = logging.getLogger(__name__)

#: Columns of the tidy table returned by :func:`read_logs`.
TABLE_COLUMNS: tuple[str, ...] = (
    "model", "task", "candidate", "dataset", "regime", "mode", "format", "shots", "seed",
    "role", "item_key", "doc_id", "doc_hash", "cluster", "filter", "metric",
    "score", "answer", "gold", "n_options", "source", "line", "timestamp",
)
"""``answer``: the option index the response chose (-1 none, -2 unknown; read for logs that are
not of the validation role only, the report's answer distributions being of test items);
``gold``: the doc's answer index (-1 without one); ``n_options``: the doc's number of options (0
when not multiple choice)."""

_RECORD_KEY = ("model", "dataset", "regime", "mode", "format", "shots", "seed", "candidate", "role", "item_key", "filter",
               "metric")  # candidate: format and seed, and a jeong2024 run's system-prompt seed
_MAX_EXAMPLES = 3


class DataVersionMismatchError(ValueError):
    """The same item has different ``doc_hash`` values in the logs to be paired."""


@dataclass(frozen=True)
class ReadSummary:
    """What one :func:`read_logs` call read (also in ``table.attrs["medpair"]``)."""

    files: int
    lines: int
    fast_lines: int
    rows_read: int
    rows_kept: int
    identical_duplicates: int
    conflicting_duplicates: int
    truncated_lines: int
    skipped_values: int
    nan_values: int = 0
    notes: tuple[str, ...] = ()
    """Every data decision of the reading, as sentences (duplicates, reruns, skipped lines)."""
    limited: tuple[tuple[str, int, int], ...] = ()
    """(samples file, items evaluated, items in the split) of runs made with lm-eval's ``--limit``."""


def _progress(total: int, enabled: bool | None):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc="reading lm-eval logs",
                disable=(None if enabled is None else not enabled), leave=False)


def _categorical(codes: np.ndarray, categories: Sequence[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(categories), dtype=object))


def _file_level_codes(files: list[SamplesFile]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per-file codes of the file-level string columns."""
    out: dict[str, tuple[np.ndarray, list[str]]] = {}
    getters = {
        "model": lambda f: f.model,
        "task": lambda f: f.task,
        "candidate": lambda f: f.identity.candidate,
        "dataset": lambda f: f.identity.dataset,
        "regime": lambda f: f.identity.regime,
        "mode": lambda f: f.identity.mode,
        "format": lambda f: f.identity.format,
        "source": lambda f: str(f.path),
        "timestamp": lambda f: f.timestamp,
    }
    for col, get in getters.items():
        interner = Interner()
        codes = np.array([interner.code(get(f)) for f in files], dtype=np.int32)
        out[col] = (codes, interner.values)
    return out


def _resolve_roles(files: list[SamplesFile], file_idx: np.ndarray, doc_role: np.ndarray,
                   role_values: list[str]) -> tuple[np.ndarray, list[str]]:
    """Role per row: the task metadata's role, else the doc's ``role``."""
    roles = Interner()
    for r in role_values:
        roles.code(r)
    meta_role = np.array([-1 if f.identity.role is None else roles.code(f.identity.role) for f in files],
                         dtype=np.int64)
    row_meta = meta_role[file_idx] if len(file_idx) else np.zeros(0, dtype=np.int64)
    # doc role codes share the first len(role_values) codes with `roles`
    conflict = (row_meta >= 0) & (doc_role >= 0) & (row_meta != doc_role)
    if conflict.any():
        bad = sorted({str(files[i].path) for i in np.unique(file_idx[conflict])})
        logger.warning("%d rows have doc['role'] different from their task's metadata role; "
                       "the metadata wins (files: %s)", int(conflict.sum()), ", ".join(bad[:3]))
    role = np.where(row_meta >= 0, row_meta, doc_role)
    if (role < 0).any():
        bad = sorted({str(files[i].path) for i in np.unique(file_idx[role < 0])})
        raise LogFormatError(
            "cannot tell the split role (val/test) of some samples: neither the results file's "
            f"task metadata nor doc['role'] gives it (files: {', '.join(bad[:3])})")
    return role, roles.values


def _task_key(f: SamplesFile, role: int) -> tuple:
    ident = f.identity
    return (f.model, ident.dataset, ident.regime, ident.mode, ident.format, ident.shots, ident.seed,
            ident.system_prompt_seed, role)


def _select_runs(files: list[SamplesFile], file_idx: np.ndarray, role: np.ndarray, item: np.ndarray,
                 role_values: list[str], mix_runs: bool) -> tuple[np.ndarray, list[str]]:
    """Mask of the rows of the runs used (module doc: shards, reruns, partial reruns) and notes."""
    n_roles = max(len(role_values), 1)
    unit = file_idx * n_roles + role
    pairs = pd.DataFrame({"unit": unit, "item": item}).drop_duplicates()
    items_of = {int(u): frozenset(g.tolist()) for u, g in pairs.groupby("unit", sort=True)["item"]}
    by_task: dict[tuple, list[int]] = {}
    for u in items_of:  # in file order, i.e. oldest run first
        by_task.setdefault(_task_key(files[u // n_roles], u % n_roles), []).append(u)
    dropped: set[int] = set()
    partial, mixed = [], []
    for units in by_task.values():
        kept: list[int] = []
        for u in units:
            mine = items_of[u]
            over = [k for k in kept if items_of[k] & mine]
            if over and all(items_of[k] <= mine for k in over):
                kept = [k for k in kept if k not in over]  # replaced: the duplicate rule keeps the newest rows
            elif over:
                older = frozenset().union(*(items_of[k] for k in over))
                f = files[u // n_roles]
                text = (f"{f.task} ({f.model}, {role_values[u % n_roles]} role): {len(mine)} items in {f.path.name}, "
                        f"{len(older)} in the older run")
                (mixed if mix_runs else partial).append(text)
                if not mix_runs:
                    dropped.add(u)
                    continue
            kept.append(u)
    notes = []
    if partial:
        notes.append(f"{len(partial)} newer partial rerun(s) were NOT mixed with the older complete run, which is "
                     f"used instead (--mix-runs mixes them item by item): {'; '.join(partial[:_MAX_EXAMPLES])}")
    if mixed:
        notes.append(f"{len(mixed)} newer partial rerun(s) were mixed with older runs, the newest run winning item "
                     f"by item (--mix-runs): {'; '.join(mixed[:_MAX_EXAMPLES])}")
    for text in notes:
        logger.warning(text)
    keep = ~np.isin(unit, np.fromiter(dropped, dtype=np.int64, count=len(dropped)))
    return keep, notes


def _dedupe(frame: pd.DataFrame) -> tuple[np.ndarray, int, int, list[str]]:
    """Mask of rows to keep (newest wins), identical and conflicting dup counts, notes."""
    key_frame = pd.DataFrame({k: frame[k].cat.codes if isinstance(frame[k].dtype, pd.CategoricalDtype)
                              else frame[k] for k in _RECORD_KEY})
    dup_any = key_frame.duplicated(keep=False).to_numpy()
    keep = ~key_frame.duplicated(keep="last").to_numpy()
    if not dup_any.any():
        return keep, 0, 0, []
    sub = frame.loc[dup_any, list(_RECORD_KEY) + ["score", "doc_hash", "source", "line"]]
    grp = key_frame.loc[dup_any].groupby(list(_RECORD_KEY), sort=False, dropna=False).ngroup().to_numpy()
    score = sub["score"].to_numpy()
    last_score = pd.Series(score).groupby(grp).transform("last").to_numpy()
    last_hash = pd.Series(sub["doc_hash"].cat.codes.to_numpy()).groupby(grp).transform("last").to_numpy()
    same_score = (score == last_score) | (np.isnan(score) & np.isnan(last_score))
    differs = ~same_score | (sub["doc_hash"].cat.codes.to_numpy() != last_hash)
    n_groups = int(np.unique(grp).size)
    conflicting_groups = np.unique(grp[differs])
    n_conf = int(conflicting_groups.size)
    notes = []
    if n_conf:
        examples = []
        for g in conflicting_groups[:_MAX_EXAMPLES]:
            rows = sub[grp == g]
            first, last = rows.iloc[0], rows.iloc[-1]
            examples.append(
                f"{first['model']} {first['dataset']} {first['role']} item {first['item_key']} "
                f"{first['metric']}: {first['score']} ({first['source']}:{first['line']}) vs kept "
                f"{last['score']} ({last['source']}:{last['line']})")
        notes.append(f"{n_conf} records appear more than once with different scores or doc_hash; kept the newest "
                     f"run's (by file timestamp, then the later line). E.g. {'; '.join(examples)}")
        logger.warning(notes[-1])
    if n_groups - n_conf:
        notes.append(f"{n_groups - n_conf} sample records logged more than once with the same score were counted once "
                     "(duplicate samples collapsed)")
        logger.info(notes[-1])
    return keep, n_groups - n_conf, n_conf, notes


def _read_notes(counts: Any) -> list[str]:
    notes = []
    if counts.truncated:
        notes.append(f"{counts.truncated} malformed last line(s) skipped (a crashed run?), their rows dropped: "
                     f"{', '.join(counts.truncated_at[:_MAX_EXAMPLES])}")
    if counts.skipped_values:
        notes.append(f"{counts.skipped_values} metric values were not numbers (e.g. corpus-level metrics) and were skipped")
    return notes


def _build_frame(files: list[SamplesFile], reader: SampleLineReader,
                 counts: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The tidy table of every row read (before run selection and deduplication), and each row's file."""
    cols = reader.cols
    n = len(cols)
    file_idx = np.repeat(np.arange(len(files), dtype=np.int64), counts)
    level = _file_level_codes(files)
    data: dict[str, object] = {}
    for col in ("model", "task", "candidate", "dataset", "regime", "mode", "format"):
        codes, cats = level[col]
        data[col] = _categorical(codes[file_idx], cats)
    data["shots"] = np.array([f.identity.shots for f in files], dtype=np.int16)[file_idx]
    seeds = np.array([-1 if f.identity.seed is None else f.identity.seed for f in files], dtype=np.int64)[file_idx]
    data["seed"] = pd.arrays.IntegerArray(seeds, seeds < 0)
    head_fields = len(reader.heads[0]) if reader.heads else 5
    heads = np.array(reader.heads, dtype=np.int64).reshape(-1, head_fields)
    golds = np.array(reader.golds, dtype=np.int64).reshape(-1, 2)
    fms = np.array(reader.fms, dtype=np.int64).reshape(-1, 2)
    head = np.frombuffer(cols.head, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    fm_code = np.frombuffer(cols.fm, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
    row_head = heads[head] if n else np.zeros((0, head_fields), dtype=np.int64)
    row_gold = golds[head] if n else np.zeros((0, 2), dtype=np.int64)
    row_fm = fms[fm_code] if n else np.zeros((0, 2), dtype=np.int64)
    doc_id, item, doc_role, cluster, doc_hash = (row_head[:, i] for i in range(5))
    role, role_values = _resolve_roles(files, file_idx, doc_role, reader.roles.values)
    data["role"] = _categorical(role.astype(np.int32), role_values)
    data["item_key"] = _categorical(item.astype(np.int32), reader.items.values)
    data["doc_id"] = doc_id.copy()
    data["doc_hash"] = _categorical(doc_hash.astype(np.int32), reader.hashes.values)
    data["cluster"] = _categorical(cluster.astype(np.int32), reader.clusters.values)
    data["filter"] = _categorical(row_fm[:, 0].astype(np.int32), reader.filters.values)
    data["metric"] = _categorical(row_fm[:, 1].astype(np.int32), reader.metrics.values)
    data["score"] = np.frombuffer(cols.score, dtype=np.float64).copy() if n else np.zeros(0)
    data["answer"] = (np.frombuffer(cols.answer, dtype=np.int8).copy() if n
                      else np.full(0, ANSWER_UNKNOWN, dtype=np.int8))
    data["gold"] = row_gold[:, 0].astype(np.int8)
    data["n_options"] = row_gold[:, 1].astype(np.int8)
    for col in ("source", "timestamp"):
        codes, cats = level[col]
        data[col] = _categorical(codes[file_idx], cats)
    data["line"] = (np.frombuffer(cols.line, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)).astype(np.int32)
    return pd.DataFrame(data, columns=list(TABLE_COLUMNS)), file_idx


def read_logs(paths: Sequence[str | Path], *, full_parse: bool = False,
              progress: bool | None = None, mix_runs: bool = False) -> pd.DataFrame:
    """Read lm-eval output folders into the tidy per-item table.

    Parameters
    ----------
    paths:
        Output folders (``OUT`` or ``OUT/<model>``, searched recursively,
        symlinked folders followed) or individual ``samples_*.jsonl`` files.
    full_parse:
        Decode every byte of every line instead of the exact fast path that
        skips the rendered prompts (slower; validates the whole line).
    progress:
        Show a tqdm progress bar (default: only on a terminal).
    mix_runs:
        Mix a newer partial rerun of a task with its older run, item by item
        (default: use the newest complete run; see the module doc).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`; string columns are categorical,
        ``seed`` is nullable (None for zero-shot), ``cluster`` is NaN when the
        doc carries none.  ``attrs["medpair"]`` holds a :class:`ReadSummary`
        as a dict.  Runs and duplicates are resolved as described in the
        module doc.
    """
    files = discover_samples_files(paths)
    reader = SampleLineReader(full_parse=full_parse)
    counts = np.zeros(len(files), dtype=np.int64)
    bar = _progress(sum(f.size for f in files), progress)
    try:
        for i, f in enumerate(files):
            counts[i] = reader.read_file(f.path, answers=f.identity.role != "val")
            if bar is not None:
                bar.update(f.size)
    finally:
        if bar is not None:
            bar.close()
    n = len(reader.cols)
    frame, file_idx = _build_frame(files, reader, counts)
    del reader.cols  # free the arrays early
    notes = _read_notes(reader.stats)
    if n:
        used, run_notes = _select_runs(files, file_idx, frame["role"].cat.codes.to_numpy().astype(np.int64),
                                       frame["item_key"].cat.codes.to_numpy().astype(np.int64),
                                       list(frame["role"].cat.categories), mix_runs)
        notes += run_notes
        if not used.all():
            frame = frame.loc[used].reset_index(drop=True)
    keep, n_ident, n_conf, dup_notes = _dedupe(frame) if len(frame) else (np.ones(0, dtype=bool), 0, 0, [])
    notes += dup_notes
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
    counts = reader.stats
    summary = ReadSummary(files=len(files), lines=counts.lines, fast_lines=counts.fast, rows_read=n,
                          rows_kept=len(frame), identical_duplicates=n_ident,
                          conflicting_duplicates=n_conf, truncated_lines=counts.truncated,
                          skipped_values=counts.skipped_values, nan_values=counts.nan_values, notes=tuple(notes),
                          limited=tuple((str(f.path), *f.limit) for f in files if f.limit))
    if counts.skipped_values:
        logger.warning("%d metric values were not numbers and were skipped", counts.skipped_values)
    logger.info("read %d samples files, %d lines (%d on the fast path), %d rows kept",
                len(files), counts.lines, counts.fast, len(frame))
    frame.attrs["medpair"] = asdict(summary)
    return frame


def check_data_versions(tables: Sequence[tuple[str, pd.DataFrame]]) -> None:
    """Refuse to pair items whose data differ between (or within) logs.

    ``tables`` are (label, table) pairs, e.g. ``[("medical", t1), ("base",
    t2)]``.  An item is identified by (dataset, mode, role, item_key); if its
    ``doc_hash`` (lm-eval's fingerprint of the document) is not the same in
    every row, the logs were produced from different versions of the data and
    :class:`DataVersionMismatchError` is raised naming the items, hashes and
    files.
    """
    cols = ["dataset", "mode", "role", "item_key", "doc_hash"]
    parts = []
    for label, t in tables:
        if t.empty:
            continue
        u = t.drop_duplicates(cols)[cols + ["source"]]
        part = pd.DataFrame({c: u[c].astype(str).to_numpy() for c in cols + ["source"]})
        part["label"] = label
        parts.append(part)
    if not parts:
        return
    allu = pd.concat(parts, ignore_index=True)
    n_hashes = allu.drop_duplicates(cols).groupby(cols[:-1], sort=True)["doc_hash"].nunique()
    bad = n_hashes[n_hashes > 1]
    if bad.empty:
        return
    lines = []
    for key in list(bad.index)[:5]:
        dataset, mode, role, item = key
        rows = allu[(allu.dataset == dataset) & (allu["mode"] == mode) & (allu.role == role) & (allu.item_key == item)]
        desc = "; ".join(
            f"{r.label}: doc_hash {r.doc_hash[:12]}… in {Path(r.source).name}"
            for r in rows.drop_duplicates(["label", "doc_hash"]).itertuples())
        lines.append(f"  {dataset} ({mode}, {role}) item {item!r}: {desc}")
    raise DataVersionMismatchError(
        f"{len(bad)} item(s) have different data versions (doc_hash) in the logs, so they cannot "
        "be paired; re-run the models on the same version of the data:\n" + "\n".join(lines))
