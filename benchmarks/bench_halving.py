#!/usr/bin/env python
"""Replay of exhaustive logs: would successive halving have given the same prompt, and the same verdict?

For every (dataset, shots, mode) cell of a medical/base pair whose logs hold an exhaustive stage 1
(every candidate on every validation item) and test logs of every candidate, it replays
``medpair run --search halving`` per model through the same code: the same schedule
(``halving.schedule``), the run's own item order (``halving.item_order(n, seed)`` over the
validation documents' ``doc_id``, as the run passes them to lm-eval, not a sorted copy), the same
loop (``halving.run_schedule``) and the same final choice (``candidate_scores`` with the halving
record, then ``best_candidate``, as ``medpair run`` and ``medpair compare`` choose). It prints:

- same choice: halving picked the exhaustive search's prompt (per model and cell);
- verdict agreement: the test verdict (win / tie / loss of the paired bootstrap,
  ``medpair_stats.compare_scores``) with both models' halving choices equals the verdict with
  their exhaustive choices;
- the ceiling: how often the exhaustive selection's own verdict survives a bootstrap resample of
  the validation items (selection redone on the resample): halving cannot be expected to agree
  with the exhaustive verdict more often than the exhaustive search agrees with itself;
- the request ratio: candidate-item evaluations of halving / of the exhaustive search.

Usage::

    python benchmarks/bench_halving.py --medical OUT/runs/medical --base OUT/runs/base
    python benchmarks/bench_halving.py            # synthetic exhaustive logs written here
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from medpair_stats import compare_scores
from medpair_stats.logs import read_logs
from medpair_stats.selection import CandidateScores, SearchRecord, best_candidate, candidate_scores
from medpair_tasks.study import halving

PRIMARY_METRIC = "acc"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The replayed search and the verdict's bootstrap."""

    eta: int
    min_items: int
    seed: int
    resamples: int
    n_resamples: int


def _val_cells(table: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    rows = table[(table["role"] == "val") & (table["metric"] == PRIMARY_METRIC)]
    return {tuple(map(str, k)): sub for k, sub in rows.groupby(["dataset", "shots", "mode"], observed=True)}


def _test_scores(table: pd.DataFrame, key: tuple) -> dict[str, pd.Series]:
    rows = table[(table["role"] == "test") & (table["metric"] == PRIMARY_METRIC) & (table["dataset"] == key[0])
                 & (table["shots"].astype(str) == key[1]) & (table["mode"] == key[2])]
    return {str(c): pd.Series(sub["score"].to_numpy(), index=sub["item_key"].astype(str).to_numpy())
            for c, sub in rows.groupby("candidate", observed=True)}


def halving_choice(rows: pd.DataFrame, validation: CandidateScores, settings: Settings) -> tuple[str, float]:
    """The prompt ``medpair run --search halving`` would choose from these exhaustive logs, and its request ratio."""
    n_cands, n_items = validation.scores.shape
    first = rows.drop_duplicates("item_key")
    doc_of = dict(zip(first["item_key"].astype(str), first["doc_id"].astype(int)))
    column_of_doc = {doc_of[item]: col for col, item in enumerate(validation.items)}
    order = np.array([column_of_doc[int(d)] for d in halving.item_order(n_items, settings.seed)])
    rounds = halving.schedule(n_cands, n_items, settings.eta, settings.min_items)
    history = halving.run_schedule(rounds, order, lambda *_: None,
                                   lambda alive, items: validation.scores[np.ix_(alive, items)].mean(axis=1))
    reached = np.zeros(n_cands, dtype=np.int64)
    for rnd, alive in zip(rounds, history):
        reached[alive] = rnd.n_items
    items_seen = {c: set(np.asarray(validation.items)[order[: reached[i]]]) for i, c in enumerate(validation.candidates)}
    cand, item = rows["candidate"].astype(str).to_numpy(), rows["item_key"].astype(str).to_numpy()
    logged = rows[[i in items_seen[c] for c, i in zip(cand, item)]]
    record = SearchRecord(eta=settings.eta, min_items=settings.min_items,
                          val_items={str(rows["dataset"].iloc[0]): n_items}, manifest="(replay)")
    chosen = best_candidate(candidate_scores(logged, record=record)).candidate
    return chosen, halving.requests(rounds) / (n_cands * n_items)


class Verdicts:
    """Test verdicts of (medical prompt, base prompt) pairs, computed once each."""

    def __init__(self, med: dict[str, pd.Series], base: dict[str, pd.Series], settings: Settings) -> None:
        self.med, self.base, self.settings = med, base, settings
        self.cache: dict[tuple[str, str], str | None] = {}

    def __call__(self, med_prompt: str, base_prompt: str) -> str | None:
        key = (med_prompt, base_prompt)
        if key not in self.cache:
            if med_prompt not in self.med or base_prompt not in self.base:
                self.cache[key] = None
            else:
                med_scores, base_scores = self.med[med_prompt], self.base[base_prompt]
                items = sorted(set(med_scores.index) & set(base_scores.index))
                self.cache[key] = compare_scores(med_scores.loc[items].to_numpy(), base_scores.loc[items].to_numpy(),
                                                 n_resamples=self.settings.n_resamples, seed=self.settings.seed).outcome
        return self.cache[key]


def stability(med: CandidateScores, base: CandidateScores, verdict: Verdicts, target: str | None,
              settings: Settings) -> float | None:
    """Share of validation-item resamples on which the exhaustive selection gives the verdict ``target``."""
    if target is None or med.items != base.items:
        return None
    rng = np.random.default_rng(settings.seed)
    agree = 0
    for _ in range(settings.resamples):
        idx = rng.integers(0, len(med.items), len(med.items))
        pick = [best_candidate(dataclasses.replace(side, scores=side.scores[:, idx])).candidate for side in (med, base)]
        agree += verdict(*pick) == target
    return agree / settings.resamples


def replay(med_dirs: list[Path], base_dirs: list[Path], settings: Settings) -> list[dict]:
    """One row per cell of the pair: choices, verdicts, the ceiling and the request ratio."""
    med_table, base_table = read_logs(med_dirs, progress=False), read_logs(base_dirs, progress=False)
    med_cells, base_cells = _val_cells(med_table), _val_cells(base_table)
    rows = []
    for key in sorted(set(med_cells) & set(base_cells)):
        scores = {side: candidate_scores(cells[key]) for side, cells in (("medical", med_cells), ("base", base_cells))}
        exhaustive = {side: best_candidate(validation).candidate for side, validation in scores.items()}
        picks = {side: halving_choice(cells[key], scores[side], settings)
                 for side, cells in (("medical", med_cells), ("base", base_cells))}
        verdict = Verdicts(_test_scores(med_table, key), _test_scores(base_table, key), settings)
        ex_verdict = verdict(exhaustive["medical"], exhaustive["base"])
        hv_verdict = verdict(picks["medical"][0], picks["base"][0])
        rows.append({"cell": " ".join(key), "candidates": scores["medical"].scores.shape[0],
                     "items": scores["medical"].scores.shape[1], "exhaustive": exhaustive,
                     "halving": {s: p[0] for s, p in picks.items()},
                     "same": [exhaustive[s] == picks[s][0] for s in picks],
                     "verdicts": (ex_verdict, hv_verdict),
                     "agree": None if None in (ex_verdict, hv_verdict) else ex_verdict == hv_verdict,
                     "ceiling": stability(scores["medical"], scores["base"], verdict, ex_verdict, settings),
                     "ratio": picks["medical"][1]})
    return rows


def _task(dataset: str, shots: int, fmt: int, seed: int | None) -> str:
    return f"medpair_{dataset}_mc_f{fmt:02d}_k{shots}" + ("" if seed is None else f"_s{seed}")


def _results(model: str, dataset: str, cands: list[tuple[int, int, int | None]], role: str) -> str:
    configs = {_task(dataset, *c): {"task": _task(dataset, *c), "output_type": "multiple_choice", "num_fewshot": c[0],
                               "metadata": {"dataset": dataset, "mode": "mc", "format": f"f{c[1]:02d}", "shots": c[0],
                                            "fewshot_seed": c[2], "role": role}} for c in cands}
    return json.dumps({"results": {}, "configs": configs, "config": {"model_args": f"pretrained={model}"},
                       "model_name": model}, indent=1)


def _line(i: int, doc: str, doc_hash: str, score: float) -> str:
    lls = ", ".join(f'["{-0.3 - 0.37 * j:.6g}", "False"]' for j in range(4))
    return (f'{{"doc_id": {i}, "doc": {doc}, "target": "{i % 4}", "arguments": {{}}, "resps": [], '
            f'"filtered_resps": [{lls}], "filter": "none", "metrics": ["acc"], "doc_hash": "{doc_hash}", '
            f'"prompt_hash": "{"0" * 64}", "target_hash": "{"0" * 64}", "acc": {score!r}}}\n')


def write_synthetic(root: Path, n_datasets: int, n_val: int, n_test: int, seed: int) -> tuple[Path, Path]:
    """Exhaustive logs of a medical and a base model (11 zero-shot and 110 three-shot candidates each).

    Per dataset, a true medical effect (from -0.06 to +0.08), candidates within a few points of each
    other, items of shared latent difficulty; every candidate is also run on the test items.
    """
    rng = np.random.default_rng(seed)
    cands = [(0, f, None) for f in range(11)] + [(3, f, s) for f in range(11) for s in range(10)]
    for d in range(n_datasets):
        dataset = f"ds{d:02d}"
        effect = rng.choice([-0.06, 0.0, 0.0, 0.03, 0.08])
        base_acc = rng.uniform(0.45, 0.7)
        docs = {}
        for role, n in (("val", n_val), ("test", n_test)):
            docs[role] = []
            for i in range(n):
                doc = {"item_key": f"{dataset}/{role}/{i:05d}", "role": role, "dataset": dataset, "question": f"q{i}",
                       "options": ["a", "b", "c", "d"], "answer_idx": i % 4}
                digest = hashlib.sha256(json.dumps(doc, indent=2, ensure_ascii=False).encode()).hexdigest()
                docs[role].append((json.dumps(doc), digest))
        difficulty = {role: rng.random(len(items)) for role, items in docs.items()}
        for model, shift in (("medical", effect), ("base", 0.0)):
            quality = np.clip(base_acc + shift + rng.normal(0, 0.03, len(cands)), 0.05, 0.95)
            folder = root / model
            folder.mkdir(parents=True, exist_ok=True)
            for role in ("val", "test"):
                stamp = f"2026-11-{10 + d:02d}T00-{0 if role == 'val' else 30:02d}-00.000001"
                (folder / f"results_{stamp}.json").write_text(_results(model, dataset, cands, role))
                for cand_index, cand in enumerate(cands):
                    noise = 0.3 * rng.random(len(docs[role]))
                    scores = ((0.7 * difficulty[role] + noise) < quality[cand_index]).astype(float)
                    lines = [_line(i, doc, digest, float(s)) for i, ((doc, digest), s) in enumerate(zip(docs[role], scores))]
                    (folder / f"samples_{_task(dataset, *cand)}_{stamp}.jsonl").write_text("".join(lines))
    return root / "medical", root / "base"


def _print(rows: list[dict]) -> None:
    width = max(len(r["cell"]) for r in rows)
    print(f"{'cell'.ljust(width)}  cands  items  exhaustive (med/base)  halving (med/base)  same  "
          f"verdict exh/halv  agree  ceiling  requests")
    for r in rows:
        exhaustive, halved = r["exhaustive"], r["halving"]
        ceiling = "n/a" if r["ceiling"] is None else f"{r['ceiling']:.0%}"
        agree = "n/a" if r["agree"] is None else ("yes" if r["agree"] else "no")
        print(f"{r['cell'].ljust(width)}  {r['candidates']:5d}  {r['items']:5d}  "
              f"{exhaustive['medical'] + '/' + exhaustive['base']:>21}  {halved['medical'] + '/' + halved['base']:>18}  "
              f"{sum(r['same'])}/2  {str(r['verdicts'][0]) + '/' + str(r['verdicts'][1]):>16}  {agree:>5}  "
              f"{ceiling:>7}  {r['ratio']:.3f}")
    same = [s for r in rows for s in r["same"]]
    judged = [r for r in rows if r["agree"] is not None and r["ceiling"] is not None]
    print(f"\n{len(rows)} cells ({len(same)} model-cells): halving chose the exhaustive search's prompt in "
          f"{np.mean(same):.0%} of model-cells; requests {np.mean([r['ratio'] for r in rows]):.3f} x the exhaustive "
          f"search's")
    if judged:
        print(f"test verdict (win/tie/loss) with halving's prompts = with the exhaustive prompts in "
              f"{np.mean([r['agree'] for r in judged]):.0%} of {len(judged)} cells; ceiling (the exhaustive "
              f"verdict's own stability over bootstrap resamples of the validation items): "
              f"{np.mean([r['ceiling'] for r in judged]):.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--medical", nargs="+", type=Path, help="the medical model's log folders (exhaustive stage 1 "
                        "and test logs of every candidate)")
    parser.add_argument("--base", nargs="+", type=Path, help="the base model's log folders")
    parser.add_argument("--eta", type=int, default=3)
    parser.add_argument("--min-items", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0, help="the run's --seed (it fixes the item order)")
    parser.add_argument("--resamples", type=int, default=200, help="validation resamples for the ceiling")
    parser.add_argument("--n-resamples", type=int, default=2000, help="bootstrap resamples of each test verdict")
    parser.add_argument("--datasets", type=int, default=6, help="synthetic datasets (without --medical/--base)")
    parser.add_argument("--val-items", type=int, default=300, help="synthetic validation items")
    parser.add_argument("--test-items", type=int, default=400, help="synthetic test items")
    args = parser.parse_args(argv)
    settings = Settings(args.eta, args.min_items, args.seed, args.resamples, args.n_resamples)
    logging.basicConfig(level=logging.ERROR)  # the replay's selection notes are expected: finalists only
    with tempfile.TemporaryDirectory() as tmp:
        if args.medical and args.base:
            med, base = args.medical, args.base
        else:
            med_dir, base_dir = write_synthetic(Path(tmp), args.datasets, args.val_items, args.test_items, args.seed)
            med, base = [med_dir], [base_dir]
            print(f"synthetic exhaustive logs: 2 models x {args.datasets} datasets x (11 + 110) candidates, "
                  f"{args.val_items} validation and {args.test_items} test items")
        rows = replay(med, base, settings)
    _print(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
