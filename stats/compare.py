"""``medpair compare``: from lm-eval logs of two models to the paired report.

:func:`run_compare` reads the logs of each medical/base pair, checks that
both saw the same data, chooses each model's prompt on validation items
(:mod:`medpair_stats.selection`), compares the chosen prompts' test scores
item by item (:func:`medpair_stats.compare_scores`), adjusts the p-values over
the whole family of records and writes ``comparisons.json``,
``comparisons.csv``, ``report.md`` and ``forest.png``.  :func:`main` is the
command line (the ``medpair`` CLI calls it for ``medpair compare``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ._validate import INTERVAL_METHODS
from .cells import MissingRuns, MissingTestRunsError, PairComparer, load_side, missing_runs_error
from .clilog import command_logging
from .forest import write_forest_plot
from .logfiles import DEFAULT_PROTOCOL, protocols_in
from .logs import check_data_versions
from .pairs import PairSpec, read_pairs_file
from .records import ComparisonRecord, finalize_records
from .report import MethodInfo, outcome_shares, sort_records, write_csv, write_json, write_markdown
from .selection import SELECTION_MODES

__all__ = ["CompareResult", "MissingTestRunsError", "build_parser", "main", "run_compare"]

logger = logging.getLogger(__name__)

OUTPUT_FILES = {"json": "comparisons.json", "csv": "comparisons.csv", "markdown": "report.md",
                "forest": "forest.png"}


@dataclass(frozen=True)
class CompareResult:
    """What :func:`run_compare` produced."""

    records: tuple[ComparisonRecord, ...]
    out_dir: Path
    files: Mapping[str, Path]
    notes: tuple[str, ...]
    method: MethodInfo


class ProtocolMismatchError(ValueError):
    """The two sides of a pair were evaluated under different protocols (never paired)."""


def check_protocols(spec: PairSpec, comparer: PairComparer) -> set[str]:
    """Refuse a pair whose sides' logs name different protocols; note the protocol in the report.

    Returns the pair's protocol (as a set; the default when the logs name none). Under any other
    protocol the documents carry their model-dependent prompts, so lm-eval's ``doc_hash`` differs
    between prompts of one item and the data-version check (which compares it) does not apply.
    """
    sides = {"medical": protocols_in(spec.medical_dirs), "base": protocols_in(spec.base_dirs)}
    for side, found in sides.items():
        if len(found) > 1:
            raise ProtocolMismatchError(f"the {side} logs mix protocols {sorted(found)}; compare one protocol at a time")
    if sides["medical"] and sides["base"] and sides["medical"] != sides["base"]:
        raise ProtocolMismatchError(
            f"the medical logs were run under protocol {sorted(sides['medical'])[0]!r} and the base logs under "
            f"{sorted(sides['base'])[0]!r}; two sides with different protocols are never paired")
    found = (sides["medical"] | sides["base"]) or {DEFAULT_PROTOCOL}
    for name in sorted(found - {DEFAULT_PROTOCOL}):  # the default protocol goes without saying
        comparer.notes.append(f"protocol: {name} (prompts, draws and extraction of that protocol; its documents "
                              "carry their prompts, so data versions are not compared by doc_hash)")
    return found


def run_compare(
    medical: Sequence[str | Path] | None = None,
    base: Sequence[str | Path] | None = None,
    out: str | Path = "medpair_compare",
    *,
    pairs: str | Path | Sequence[PairSpec] | None = None,
    selection: str = "per-model",
    adjust: str = "holm",
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
    ci: str = "signflip",
    selection_aware: bool = False,
    full_parse: bool = False,
    progress: bool | None = None,
    mix_runs: bool = False,
) -> CompareResult:
    """Compare medical models with their base models from lm-eval logs and write the report.

    Parameters
    ----------
    medical, base:
        Log folders (``OUT`` or ``OUT/<model>``) of one medical model and its
        base model.  Optional when ``pairs`` is given.
    out:
        Output folder (created) for ``comparisons.json``, ``comparisons.csv``,
        ``report.md`` and ``forest.png``.
    pairs:
        A pairs file (JSON/CSV, see :mod:`medpair_stats.pairs`) or a list of
        :class:`~medpair_stats.pairs.PairSpec`, to compare many pairs at once.
    selection:
        ``"per-model"``, ``"medical-prompt"`` or ``"default"``.
    adjust:
        ``"holm"`` or ``"bh"``, over all records of the run.
    n_resamples, confidence, seed, ci:
        Passed to :func:`medpair_stats.compare_scores` (each record gets its
        own seed derived from ``seed`` and the record's key).
    selection_aware:
        Replace the interval by the selection-aware one (needs test logs of
        every candidate).
    full_parse:
        Decode every byte of the logs (see :func:`medpair_stats.logs.read_logs`).
    mix_runs:
        Mix a newer partial rerun of a task with its older run item by item
        (default: the newest complete run of each task is used).

    Raises
    ------
    MissingTestRunsError
        A chosen candidate (or, with ``selection_aware``, any candidate) has
        no test-role logs; the message lists the tasks to run.
    medpair_stats.logs.DataVersionMismatchError
        The two models' logs hold different versions of the same items.
    """
    if selection not in SELECTION_MODES:
        raise ValueError(f"selection must be one of {', '.join(SELECTION_MODES)}; got {selection!r}")
    specs: list[PairSpec] = []
    if pairs is not None:
        specs += read_pairs_file(pairs) if isinstance(pairs, (str, Path)) else list(pairs)
    if medical or base:
        if not (medical and base):
            raise ValueError("give both --medical and --base folders")
        specs.append(PairSpec(tuple(Path(p) for p in medical), tuple(Path(p) for p in base)))
    if not specs:
        raise ValueError("nothing to compare: give --medical and --base, or --pairs")

    notes: list[str] = []
    missing = MissingRuns()
    comparer = PairComparer(selection=selection, n_resamples=n_resamples, confidence=confidence, seed=seed,
                         ci=ci, selection_aware=selection_aware, notes=notes, missing=missing)
    cache: dict = {}
    records: list[ComparisonRecord] = []
    for spec in specs:
        med = load_side(spec.medical_dirs, spec.medical, cache, full_parse, progress, mix_runs)
        bas = load_side(spec.base_dirs, spec.base, cache, full_parse, progress, mix_runs)
        if med.label == bas.label:
            comparer.note(f"the medical and the base model have the same name {med.label!r}")
        if check_protocols(spec, comparer) == {DEFAULT_PROTOCOL}:
            check_data_versions([(med.label, med.table), (bas.label, bas.table)])
        records += comparer.pair(med, bas)
    err = missing_runs_error(missing)
    if err is not None:
        raise err
    if not records:
        raise ValueError("no (dataset, setting, mode, metric) cell has test logs for both models; nothing to compare")
    final = sort_records(finalize_records(records, adjust))
    method = MethodInfo(n_resamples=n_resamples, seed=seed, confidence=confidence, ci_method=ci,
                        adjust=adjust, selection=selection, selection_aware=selection_aware)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {k: out_dir / v for k, v in OUTPUT_FILES.items()}
    write_json(final, files["json"], method, notes)
    write_csv(final, files["csv"])
    write_markdown(final, files["markdown"], method, notes)
    write_forest_plot(final, files["forest"])
    return CompareResult(records=tuple(final), out_dir=out_dir, files=files, notes=tuple(notes), method=method)


def build_parser(prog: str = "medpair compare") -> argparse.ArgumentParser:
    """The argument parser of ``medpair compare``."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Compare medical models with their base models, item by item, from lm-eval logs: "
                    "per-model prompt selection on validation items, paired bootstrap on test items, "
                    "multiplicity adjustment; writes comparisons.json/.csv, report.md and forest.png.")
    p.add_argument("--medical", nargs="+", metavar="DIR", help="lm-eval output folder(s) of the medical model")
    p.add_argument("--base", nargs="+", metavar="DIR", help="lm-eval output folder(s) of the base model")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--pairs", metavar="FILE", help="JSON or CSV file of medical/base names and folders")
    p.add_argument("--selection", choices=SELECTION_MODES, default="per-model",
                   help="prompt selection (default: per-model)")
    p.add_argument("--adjust", choices=("holm", "bh"), default="holm",
                   help="multiple-comparison adjustment over all records (default: holm)")
    p.add_argument("--n-resamples", type=int, default=10_000, metavar="B", help="bootstrap resamples (default 10000)")
    p.add_argument("--confidence", type=float, default=0.95, help="interval confidence (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--ci", choices=INTERVAL_METHODS, default="signflip",
                   help="interval method (default signflip: the shifts the paired sign-flip test does not "
                        "reject, so interval and p-value agree; percentile/bca: paired bootstrap)")
    p.add_argument("--selection-aware", action="store_true",
                   help="intervals that include the luck of prompt selection (needs test logs of every candidate)")
    p.add_argument("--strict-json", action="store_true",
                   help="decode every byte of every log line (slower; the default fast path skips prompts)")
    p.add_argument("--mix-runs", action="store_true",
                   help="mix a newer partial rerun of a task with its older run item by item (default: use the "
                        "newest complete run of each task)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, warnings only")
    p.add_argument("-v", "--verbose", action="store_true", help="log INFO messages")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``medpair compare``; returns the exit status (0 ok, 1 error)."""
    args = build_parser().parse_args(argv)
    if not args.pairs and not (args.medical and args.base):
        build_parser().error("give --medical and --base, or --pairs")
    with command_logging("medpair: %(levelname)s: %(message)s", logging.INFO if args.verbose else logging.WARNING):
        return _compare_command(args)


def _compare_command(args: argparse.Namespace) -> int:
    """``medpair compare`` on parsed arguments: run the comparison, print its summary."""
    try:
        res = run_compare(args.medical, args.base, args.out, pairs=args.pairs, selection=args.selection,
                          adjust=args.adjust, n_resamples=args.n_resamples, confidence=args.confidence,
                          seed=args.seed, ci=args.ci, selection_aware=args.selection_aware,
                          full_parse=args.strict_json, progress=False if args.quiet else None,
                          mix_runs=args.mix_runs)
    except (ValueError, FileNotFoundError, OSError) as exc:
        print(f"medpair compare: error: {exc}", file=sys.stderr)
        return 1
    plain, adjusted = outcome_shares(res.records), outcome_shares(res.records, "outcome_adjusted")
    print(f"{plain['n']} comparisons: medical better in {plain['win_pct']:.1f}%, tie {plain['tie_pct']:.1f}%, "
          f"worse {plain['loss_pct']:.1f}% (adjusted: {adjusted['win_pct']:.1f}% / {adjusted['tie_pct']:.1f}% / "
          f"{adjusted['loss_pct']:.1f}%)")
    for f in res.files.values():
        print(f"wrote {f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
