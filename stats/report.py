"""Write comparison records as JSON, CSV and a markdown report.

Output is byte-for-byte reproducible: records are sorted, floats are rounded
to 12 significant digits and written in Python's shortest round-trip form,
NaN / None become ``null`` (JSON) or an empty cell (CSV).  Only item ids and
numbers are written, never prompt or document text.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .cells import ANSWER_BIAS_SHARE
from .stderr import MDE_POWER
from .records import RECORD_FIELDS, ComparisonRecord

__all__ = [
    "MethodInfo",
    "outcome_shares",
    "render_markdown",
    "sort_records",
    "write_csv",
    "write_json",
    "write_markdown",
]


@dataclass(frozen=True)
class MethodInfo:
    """How the comparison was run (printed in the report)."""

    n_resamples: int
    seed: int
    confidence: float
    ci_method: str
    adjust: str
    selection: str
    selection_aware: bool


_INTERVAL_TEXT = {"signflip": "Interval by inverting the paired test (the shifts it does not reject; the sign-flip "
                               "test, or for unclustered 0/1 scores exact McNemar at 0 and Tango's score test "
                               "elsewhere) of"}


def sort_records(records: Sequence[ComparisonRecord]) -> list[ComparisonRecord]:
    """Records in report order: pair, dataset, shots, mode, metric."""
    return sorted(records, key=lambda r: (r.medical, r.base, r.dataset, r.shots, r.mode, r.metric,
                                          tuple(repr(v) for v in r.to_dict().values())))


def _clean(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.12g}")
    if hasattr(value, "item"):  # numpy scalar
        return _clean(value.item())
    return value


_ANSWER_FIELDS = ("medical_answers", "base_answers")
_OUTCOMES = ("win", "tie", "loss")
#: Shares are printed to one decimal: they are rounded in tenths of a percent.
_SHARE_UNITS = 1000


def _record_dict(r: ComparisonRecord) -> dict[str, Any]:
    out = {k: _clean(v) for k, v in r.to_dict().items()}
    for k in _ANSWER_FIELDS:
        if out[k] is not None:
            out[k] = {opt: _clean(share) for opt, share in out[k]}
    return out


def largest_remainder(counts: Sequence[int], units: int = _SHARE_UNITS) -> list[int]:
    """Split ``units`` in proportion to ``counts`` in whole units that sum to ``units`` exactly.

    Hamilton's largest-remainder method: every part gets the floor of its quota and the units
    left go to the largest remainders (ties to the earlier part).
    """
    total = sum(counts)
    if total <= 0:
        return [0] * len(counts)
    quotas = [c * units / total for c in counts]
    parts = [math.floor(q) for q in quotas]
    order = sorted(range(len(counts)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in order[: units - sum(parts)]:
        parts[i] += 1
    return parts


def outcome_shares(records: Sequence[ComparisonRecord], field: str = "outcome",
                   primary_only: bool = True) -> dict[str, Any]:
    """Counts and shares (percent, summing to 100) of win / tie / loss over ``records``.

    By default only the primary records count (one per pair, dataset, setting and mode: the
    headline); ``primary_only=False`` counts every record.
    """
    chosen = [r for r in records if r.primary or not primary_only]
    n = len(chosen)
    counts = [sum(1 for r in chosen if getattr(r, field) == k) for k in _OUTCOMES]
    out: dict[str, Any] = {"n": n}
    for k, c, units in zip(_OUTCOMES, counts, largest_remainder(counts)):
        out[k] = c
        out[f"{k}_pct"] = units * 100 / _SHARE_UNITS if n else None
    return out


def write_json(records: Sequence[ComparisonRecord], path: Path, method: MethodInfo,
               notes: Sequence[str] = ()) -> None:
    """``{"method": ..., "summary": ..., "notes": [...], "records": [...]}``."""
    recs = sort_records(records)
    doc = {
        "method": {k: _clean(v) for k, v in method.__dict__.items()},
        "summary": {"outcome": outcome_shares(recs), "outcome_adjusted": outcome_shares(recs, "outcome_adjusted"),
                    "secondary_records": sum(1 for r in recs if not r.primary)},
        "notes": list(notes),
        "records": [_record_dict(r) for r in recs],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def _csv_cell(v: Any) -> str:
    if isinstance(v, tuple) and v and all(isinstance(pair, tuple) for pair in v):  # an answer distribution
        return json.dumps({opt: _clean(share) for opt, share in v})
    v = _clean(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    return str(v)


def write_csv(records: Sequence[ComparisonRecord], path: Path) -> None:
    """One row per record, columns :data:`~medpair_stats.records.RECORD_FIELDS`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RECORD_FIELDS)
    for r in sort_records(records):
        d = r.to_dict()
        w.writerow([_csv_cell(d[k]) for k in RECORD_FIELDS])
    Path(path).write_text(buf.getvalue(), encoding="utf-8")


def _f(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}f}"


def _bound(x: float | None) -> str:
    """An interval bound: 3 decimals, or 2 significant digits when 3 decimals would show 0.000."""
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0.0 or abs(x) >= 0.0005:
        return f"{x:.3f}"
    return f"{x:.2g}"


def _answers(dist: Sequence[tuple[str, float]] | None) -> str:
    if dist is None:
        return "–"
    return " · ".join(f"{opt} {100 * share:.0f}%" for opt, share in dist)


def _p(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _share_line(s: Mapping[str, Any], prefix: str, suffix: str = "") -> str:
    if not s["n"]:
        return f"{prefix}no comparisons."
    head = "Medical" if not prefix else "medical"
    return (f"{prefix}{head} better in {s['win_pct']:.1f}% of cases ({s['win']} of {s['n']}), "
            f"tie {s['tie_pct']:.1f}% ({s['tie']}), worse {s['loss_pct']:.1f}% ({s['loss']}){suffix}.")


def _headline(recs: Sequence[ComparisonRecord], method: MethodInfo, conf: str, adjust_name: str) -> list[str]:
    """The shares of the primary records, adjusted shares, and the secondary records' count."""
    alpha = 1.0 - method.confidence
    interval = ("selection-aware" if method.selection_aware else
                "sign-flip" if method.ci_method == "signflip" else "paired bootstrap")
    suffix = f" (win or loss: p < {alpha:.3g} and the {conf} {interval} interval excludes 0)"
    lines = [_share_line(outcome_shares(recs), "", suffix), ""]
    lines.append(_share_line(outcome_shares(recs, "outcome_adjusted"),
                             f"After {adjust_name} adjustment over {len(recs)} comparisons: "))
    secondary = [r for r in recs if not r.primary]
    if secondary:
        s = outcome_shares(secondary, primary_only=False)
        lines += ["", f"The shares count one record per (pair, dataset, setting, mode): its primary metric (`acc` "
                  f"where the task has it, else the first metric it lists). The {s['n']} records of other metrics "
                  f"are listed separately below (win {s['win']}, tie {s['tie']}, loss {s['loss']}); the "
                  f"adjustment's family holds all {len(recs)} records."]
    return lines


def _system_prompt_text(recs: Sequence[ComparisonRecord]) -> str:
    """What a ``/sysK`` prompt id means, when a record names one (``jeong2024``'s sampled system prompts)."""
    if not any("/sys" in f"{r.medical_prompt} {r.base_prompt}" for r in recs):
        return ""
    return (" A prompt id ending `/sysK` ran with the reference's sampled system prompt K (run metadata "
            "`system_prompt_seed`); without it, with the model's own; ties go to the own system prompt first.")


def _method(recs: Sequence[ComparisonRecord], method: MethodInfo, conf: str, adjust_name: str) -> list[str]:
    alpha = 1.0 - method.confidence
    aware_text = (" Intervals are selection-aware: each resample redoes the prompt selection on resampled "
                  "validation items (percentile); p-values are those of the plain paired test of the chosen prompts."
                  if method.selection_aware else "")
    return [
        f"{_INTERVAL_TEXT.get(method.ci_method, 'Paired bootstrap of')} the mean test-score difference "
        f"(medical − base) over items, or over "
        f"clusters where docs carry one: B = {method.n_resamples:,} resamples, seed {method.seed} "
        f"(per-record seeds derived from it), {method.ci_method} {conf} intervals; win/loss only when "
        f"p < {alpha:.3g} and the interval excludes 0 (a design that cannot reach p < {alpha:.3g} is a "
        f"tie, noted).{aware_text}  ",
        f"p-values (paired randomization test) adjusted with {adjust_name} over all {len(recs)} records; "
        f"adjusted outcome = win/loss only if p_adj < {alpha:.3g} and the interval excludes 0. "
        f"Prompt selection: {method.selection} (best mean on the validation items every candidate "
        f"covers, ties to f00 then candidate id).{_system_prompt_text(recs)}  ",
        f"MDE: the smallest true difference that a two-sided test at α = {alpha:.3g} detects with "
        f"{100 * MDE_POWER:.0f}% power, given the record's standard error.  ",
        f"Answers (multiple choice): the majority-class baseline is the accuracy of always giving the most "
        f"frequent correct option of the test items; a model whose most frequent answer covers more than "
        f"{100 * ANSWER_BIAS_SHARE:.0f}% of the test items is flagged.",
    ]


_HEADER = ["medical", "base", "dataset", "setting", "mode", "metric", "medical prompt", "base prompt", "n",
           "medical score", "base score", "diff", "{conf} CI", "p", "p adj", "McNemar p", "MDE", "outcome",
           "adjusted", "selection"]


def _table(recs: Sequence[ComparisonRecord], conf: str) -> list[str]:
    header = [h.format(conf=conf) for h in _HEADER]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for r in recs:
        n = str(r.n) + (f" ({r.n_clusters} clusters)" if r.clustered else "")
        if r.n_test_total is not None:
            n += f" of {r.n_test_total} (--limit)"
        cells = [r.medical, r.base, r.dataset, r.setting, r.mode, r.metric, r.medical_prompt, r.base_prompt, n,
                 _f(r.medical_score), _f(r.base_score), _f(r.diff),
                 f"[{_bound(r.ci_low)}, {_bound(r.ci_high)}]", _p(r.p_value), _p(r.p_adjusted), _p(r.mcnemar_p),
                 _f(r.mde), r.outcome, r.outcome_adjusted, r.selection]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def _answer_table(recs: Sequence[ComparisonRecord]) -> list[str]:
    rows = [r for r in recs if r.majority_baseline is not None]
    if not rows:
        return []
    lines = ["", "## Answers (multiple choice)", "",
             "| medical | base | dataset | setting | mode | metric | majority baseline | medical answers | "
             "base answers | mostly one option |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r.medical, r.base, r.dataset, r.setting, r.mode, r.metric,
                 f"{_f(r.majority_baseline)} ({r.majority_option})", _answers(r.medical_answers),
                 _answers(r.base_answers), r.answer_bias or "–"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def render_markdown(records: Sequence[ComparisonRecord], method: MethodInfo, notes: Sequence[str] = ()) -> str:
    """The markdown report: shares of wins/ties/losses, method, tables, notes."""
    recs = sort_records(records)
    conf = f"{100 * method.confidence:g}%"
    adjust_name = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(method.adjust, method.adjust)
    lines = ["# medpair: medical vs base model", ""]
    lines += _headline(recs, method, conf, adjust_name)
    lines += ["", "## Method", ""] + _method(recs, method, conf, adjust_name)
    primary, secondary = [r for r in recs if r.primary], [r for r in recs if not r.primary]
    lines += ["", "## Comparisons", ""] + _table(primary, conf)
    if secondary:
        lines += ["", "## Other metrics (not in the headline)", ""] + _table(secondary, conf)
    lines += _answer_table(recs)
    if notes:
        lines += ["", "## Notes", "", "What the comparison decided about the data (also in comparisons.json `notes`):",
                  ""]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_markdown(records: Sequence[ComparisonRecord], path: Path, method: MethodInfo,
                   notes: Sequence[str] = ()) -> None:
    """Write :func:`render_markdown` to ``path``."""
    Path(path).write_text(render_markdown(records, method, notes), encoding="utf-8")
