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


_INTERVAL_TEXT = {"signflip": "Interval by inverting the paired sign-flip test (the shifts it does not reject) of"}


def _setting_shots(setting: str) -> int:
    head = setting.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


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


def _record_dict(r: ComparisonRecord) -> dict[str, Any]:
    return {k: _clean(v) for k, v in r.to_dict().items()}


def outcome_shares(records: Sequence[ComparisonRecord], field: str = "outcome") -> dict[str, Any]:
    """Counts and shares (percent) of win / tie / loss over ``records``."""
    n = len(records)
    out: dict[str, Any] = {"n": n}
    for k in ("win", "tie", "loss"):
        c = sum(1 for r in records if getattr(r, field) == k)
        out[k] = c
        out[f"{k}_pct"] = round(100.0 * c / n, 1) if n else None
    return out


def write_json(records: Sequence[ComparisonRecord], path: Path, method: MethodInfo,
               notes: Sequence[str] = ()) -> None:
    """``{"method": ..., "summary": ..., "notes": [...], "records": [...]}``."""
    recs = sort_records(records)
    doc = {
        "method": {k: _clean(v) for k, v in method.__dict__.items()},
        "summary": {"outcome": outcome_shares(recs), "outcome_adjusted": outcome_shares(recs, "outcome_adjusted")},
        "notes": list(notes),
        "records": [_record_dict(r) for r in recs],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def _csv_cell(v: Any) -> str:
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


def render_markdown(records: Sequence[ComparisonRecord], method: MethodInfo, notes: Sequence[str] = ()) -> str:
    """The markdown report: shares of wins/ties/losses, method, table, notes."""
    recs = sort_records(records)
    conf = f"{100 * method.confidence:g}%"
    alpha = 1.0 - method.confidence
    adjust_name = {"holm": "Holm", "bh": "Benjamini–Hochberg"}.get(method.adjust, method.adjust)
    lines = ["# medpair: medical vs base model", ""]
    interval = ("selection-aware" if method.selection_aware else
                "sign-flip" if method.ci_method == "signflip" else "paired bootstrap")
    lines.append(_share_line(outcome_shares(recs), "",
                             f" (win or loss: p < {alpha:.3g} and the {conf} {interval} interval excludes 0)"))
    lines.append("")
    lines.append(_share_line(outcome_shares(recs, "outcome_adjusted"),
                             f"After {adjust_name} adjustment over {len(recs)} comparisons: "))
    lines += ["", "## Method", ""]
    sa = (" Intervals are selection-aware: each resample redoes the prompt selection on resampled "
          "validation items (percentile); p-values are those of the plain paired test of the chosen prompts."
          if method.selection_aware else "")
    lines.append(
        f"{_INTERVAL_TEXT.get(method.ci_method, 'Paired bootstrap of')} the mean test-score difference "
        f"(medical − base) over items, or over "
        f"clusters where docs carry one: B = {method.n_resamples:,} resamples, seed {method.seed} "
        f"(per-record seeds derived from it), {method.ci_method} {conf} intervals; win/loss only when "
        f"p < {alpha:.3g} and the interval excludes 0 (a design that cannot reach p < {alpha:.3g} is a "
        f"tie, noted).{sa}  ")
    lines.append(
        f"p-values (paired randomization test) adjusted with {adjust_name} over all {len(recs)} records; "
        f"adjusted outcome = win/loss only if p_adj < {alpha:.3g} and the interval excludes 0. "
        f"Prompt selection: {method.selection} (best mean on common validation items, ties to f00 "
        f"then candidate id).")
    lines += ["", "## Comparisons", ""]
    header = ["medical", "base", "dataset", "setting", "mode", "metric", "medical prompt", "base prompt",
              "n", "medical", "base", "diff", f"{conf} CI", "p", "p adj", "McNemar p", "MDE",
              "outcome", "adjusted", "selection"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for r in recs:
        cells = [r.medical, r.base, r.dataset, r.setting, r.mode, r.metric, r.medical_prompt, r.base_prompt,
                 str(r.n) + (f" ({r.n_clusters} clusters)" if r.clustered else ""),
                 _f(r.medical_score), _f(r.base_score), _f(r.diff),
                 f"[{_f(r.ci_low)}, {_f(r.ci_high)}]", _p(r.p_value), _p(r.p_adjusted), _p(r.mcnemar_p),
                 _f(r.mde), r.outcome, r.outcome_adjusted, r.selection]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def write_markdown(records: Sequence[ComparisonRecord], path: Path, method: MethodInfo,
                   notes: Sequence[str] = ()) -> None:
    """Write :func:`render_markdown` to ``path``."""
    Path(path).write_text(render_markdown(records, method, notes), encoding="utf-8")
