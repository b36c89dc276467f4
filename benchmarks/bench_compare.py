#!/usr/bin/env python
"""Benchmark of medpair's log reading, paired bootstrap and whole comparison.

Writes synthetic lm-eval logs at the scale of the paper (Jeong et al.) into a
temporary folder -- 2 models × 12 datasets × 121 prompt candidates (11
zero-shot formats + 11 formats × 10 few-shot seeds) × 500 validation items,
plus 1,000 test items per dataset for the default and the selected
candidates -- with lm-eval's record layout and realistic sizes (3-shot
prompts of ~3 KB in ``arguments``, repeated once per answer choice), then
prints, measured in this one run:

1. the reader's throughput vs a plain ``json.loads``-per-line + pandas
   baseline, on the same files (page cache warm for both);
2. :func:`medpair_stats.compare_scores` vs ``scipy.stats.bootstrap``
   (paired, percentile, same B and n);
3. the whole ``medpair compare`` (a subprocess): wall time and peak memory.

Usage::

    python benchmarks/bench_compare.py            # full scale (~23 GB of logs)
    python benchmarks/bench_compare.py --scale 0.1

``--scale s`` shrinks the number of datasets (12·s), validation items (500·s)
and test items (1000·s).  The temp folder is deleted unless ``--keep``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LETTERS = "ABCD"
WORDS = ("patient presents with acute chest pain dyspnea fever tachycardia hypotension the of and a "
         "which following most likely diagnosis treatment next step management history physical "
         "examination shows laboratory serum elevated decreased µg/dL °C mmHg year-old woman man "
         "emergency department blood pressure pulse respirations renal hepatic cardiac pulmonary "
         "infection antibiotic therapy – mechanism drug adverse effect").split()
FORMAT_STYLES = [("Question: ", "\n", "{L}. ", "Answer:"), ("### Question\n", "\n\n", "({L}) ", "The answer is"),
                 ("QUESTION: ", "\n", "[{L}] ", "ANSWER:"), ("", "\n", "{L}) ", "Answer:"),
                 ("**Question** ", " || ", "<{L}> ", "**Answer**:"), ("question - ", "\n", "{L}: ", "answer -"),
                 ("Q: ", "\n", "{L}. ", "A:"), ("Question:: ", "\n", "{L}] ", "The answer is:"),
                 ("QUESTION:\n", "\n", "{L}- ", "ANSWER IS"), ("Question — ", " ; ", "({L}) ", "Answer —"),
                 ("# question: ", "\n", "{L}) ", "# answer:")]


@dataclass
class Generated:
    root: Path
    model_dirs: dict[str, Path]
    files: list[Path] = field(default_factory=list)
    n_lines: int = 0
    n_bytes: int = 0
    selected: dict = field(default_factory=dict)


def _text(rng: np.random.Generator, n_words: int) -> str:
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), n_words))


def _enc(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _render(fmt: int, q: str, opts: list[str]) -> str:
    head, sep, wrap, ans = FORMAT_STYLES[fmt % len(FORMAT_STYLES)]
    body = sep.join(wrap.format(L=LETTERS[j]) + o for j, o in enumerate(opts))
    return f"{head}{q}{sep}{body}{sep}{ans}"


def _candidates(shots_list: tuple[int, ...], n_formats: int, n_seeds: int) -> list[tuple[int, int, int | None]]:
    out = []
    for shots in shots_list:
        for f in range(n_formats):
            if shots == 0:
                out.append((shots, f, None))
            else:
                out.extend((shots, f, s) for s in range(n_seeds))
    return out


def _task(dataset: str, shots: int, f: int, seed: int | None) -> str:
    return f"medpair_{dataset}_mc_f{f:02d}_k{shots}" + ("" if seed is None else f"_s{seed}")


def _cand_id(f: int, seed: int | None) -> str:
    return f"f{f:02d}" + ("" if seed is None else f"/s{seed}")


def _select(means: np.ndarray, cands: list[tuple[int, int, int | None]]) -> int:
    """Independent re-implementation of the selection rule: max, ties to f00 then id order."""
    order = sorted(range(len(cands)), key=lambda i: (cands[i][1] != 0, cands[i][1], -1 if cands[i][2] is None else cands[i][2]))
    best = max(means)
    for i in order:
        if means[i] >= best - 1e-12:
            return i
    raise AssertionError


def _results_json(model: str, tasks: list[tuple[str, str, int, int, int | None, str]]) -> str:
    res: dict = {"results": {}, "group_subtasks": {}, "configs": {}, "versions": {}, "n-shot": {},
                 "higher_is_better": {}, "n-samples": {}}
    for name, dataset, shots, f, seed, role in tasks:
        res["results"][name] = {"alias": name, "acc,none": 0.5, "acc_stderr,none": 0.02}
        res["configs"][name] = {"task": name, "output_type": "multiple_choice", "num_fewshot": shots,
                                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
                                "metadata": {"version": 1.0, "dataset": dataset, "mode": "mc", "format": f"f{f:02d}",
                                             "shots": shots, "fewshot_seed": seed, "role": role}}
        res["versions"][name] = 1.0
        res["n-shot"][name] = shots
        res["higher_is_better"][name] = {"acc": True}
    res["config"] = {"model": "hf", "model_args": f"pretrained={model}"}
    res["model_name"] = model
    res["model_name_sanitized"] = model
    res["lm_eval_version"] = "0.4.13"
    return json.dumps(res, indent=2, ensure_ascii=False)


Candidate = tuple[int, int, int | None]
"""(shots, format index, few-shot seed or None)."""


@dataclass(frozen=True)
class _Dataset:
    """One synthetic dataset: its name, per-role docs and latent difficulties, and few-shot prefixes."""

    name: str
    items: dict[str, tuple[list, np.ndarray]]
    """role -> (per doc: (doc JSON, doc hash, rendering per format, JSON-escaped rendering per format), difficulty)."""
    prefixes: dict[Candidate, tuple[str, str]]
    """candidate -> (few-shot prefix, its JSON-escaped form)."""


def _dataset_docs(rng: np.random.Generator, name: str, role: str, n_items: int, fmts: list[int]) -> list:
    """The docs of one role: (doc JSON, lm-eval's doc hash, rendering per format, escaped rendering per format)."""
    docs = []
    for i in range(n_items):
        question = _text(rng, 110)
        opts = [_text(rng, 5) for _ in range(4)]
        doc = {"item_key": f"{name}/{role}/{i:05d}", "role": role, "dataset": name, "question": question,
               "options": opts, "answer_idx": int(i % 4)}
        doc_json = json.dumps(doc, ensure_ascii=False)
        doc_hash = _sha(json.dumps(doc, indent=2, ensure_ascii=False))
        rendered = {f: _render(f, question, opts) for f in fmts}
        docs.append((doc_json, doc_hash, rendered, {f: _enc(r)[1:-1] for f, r in rendered.items()}))
    return docs


def _shot_prefixes(rng: np.random.Generator, cands: list[Candidate]) -> dict[Candidate, tuple[str, str]]:
    """The few-shot prefix of every candidate (empty for zero-shot) and its JSON-escaped form."""
    prefixes = {}
    for shots, f, s in cands:
        if shots:
            examples = []
            for k in range(shots):
                question = _text(rng, 110)
                examples.append(_render(f, question, [_text(rng, 5) for _ in range(4)]) + f" {LETTERS[(k + (s or 0)) % 4]}")
            prefix = "\n\n".join(examples) + "\n\n"
        else:
            prefix = ""
        prefixes[(shots, f, s)] = (prefix, _enc(prefix)[1:-1])
    return prefixes


def _make_dataset(rng: np.random.Generator, index: int, n_val: int, n_test: int, cands: list[Candidate]) -> _Dataset:
    """Draw one dataset's docs, difficulties and few-shot prefixes (in this order from ``rng``)."""
    name = f"ds{index:02d}"
    fmts = sorted({f for _, f, _ in cands})
    items = {}
    for role, n_items in (("val", n_val), ("test", n_test)):
        docs = _dataset_docs(rng, name, role, n_items, fmts)
        items[role] = (docs, rng.random(n_items))  # latent difficulty
    return _Dataset(name, items, _shot_prefixes(rng, cands))


def _sample_lines(docs: list, prefix: tuple[str, str], fmt: int, scores: np.ndarray,
                  target_hash: dict[int, str]) -> list[str]:
    """One samples file's lines, as lm-eval 0.4.13 writes them (``json.dumps`` key order and spacing)."""
    pre, pre_enc = prefix
    lines = []
    for i, (doc_json, doc_hash, rendered, rendered_enc) in enumerate(docs):
        ctx_enc = '"' + pre_enc + rendered_enc[fmt] + '"'
        args = ", ".join(f'"gen_args_{j}": {{"arg_0": {ctx_enc}, "arg_1": " {LETTERS[j]}"}}' for j in range(4))
        logliks = [f"{-0.3 - 0.37 * j - 0.01 * (i % 7):.16g}" for j in range(4)]
        resps = ", ".join(f'[["{loglik}", "False"]]' for loglik in logliks)
        fresps = ", ".join(f'["{loglik}", "False"]' for loglik in logliks)
        tgt = i % 4
        lines.append(
            f'{{"doc_id": {i}, "doc": {doc_json}, "target": "{tgt}", "arguments": {{{args}}}, '
            f'"resps": [{resps}], "filtered_resps": [{fresps}], "filter": "none", '
            f'"metrics": ["acc"], "doc_hash": "{doc_hash}", "prompt_hash": "{_sha(pre + rendered[fmt])}", '
            f'"target_hash": "{target_hash[tgt]}", "acc": {float(scores[i])!r}}}\n')
    return lines


def _choose(gen: Generated, model: str, dataset: _Dataset, cands: list[Candidate], shots_list: tuple[int, ...],
            val_scores: list[np.ndarray]) -> list[int]:
    """Record each setting's selected candidate in ``gen``; return the candidates with test logs."""
    chosen = {}
    for shots in shots_list:
        idx = [cand for cand, c in enumerate(cands) if c[0] == shots]
        best = idx[_select([val_scores[cand].mean() for cand in idx], [cands[cand] for cand in idx])]
        chosen[shots] = best
        gen.selected[(model, dataset.name, shots)] = _cand_id(cands[best][1], cands[best][2])
    return sorted({cand for cand, c in enumerate(cands) if c[1] == 0 and (c[2] in (None, 0))} | set(chosen.values()))


def _write_model(gen: Generated, rng: np.random.Generator, model_index: int, model: str, dataset_index: int,
                 dataset: _Dataset, cands: list[Candidate], shots_list: tuple[int, ...], base_acc: float,
                 target_hash: dict[int, str], verify_every: int) -> None:
    """Write one model's results and samples files for one dataset (validation: all candidates; test: some)."""
    folder = gen.model_dirs[model]
    folder.mkdir(parents=True, exist_ok=True)
    p = np.clip(base_acc + (0.02 if model_index == 0 else 0.0) + rng.normal(0, 0.03, len(cands)), 0.05, 0.95)

    def scores(role: str, cand: int) -> np.ndarray:
        diff = dataset.items[role][1]
        return ((0.7 * diff + 0.3 * rng.random(diff.size)) < p[cand]).astype(float)

    val_scores = [scores("val", cand) for cand in range(len(cands))]
    test_idx = _choose(gen, model, dataset, cands, shots_list, val_scores)
    for role, which in (("val", range(len(cands))), ("test", test_idx)):
        stamp = f"2026-11-{10 + model_index:02d}T{dataset_index:02d}-{0 if role == 'val' else 30:02d}-00.000001"
        meta = [(_task(dataset.name, *cands[cand]), dataset.name, cands[cand][0], cands[cand][1], cands[cand][2], role)
                for cand in which]
        (folder / f"results_{stamp}.json").write_text(_results_json(model, meta), encoding="utf-8")
        docs, _ = dataset.items[role]
        for cand in which:
            shots, f, s = cands[cand]
            item_scores = val_scores[cand] if role == "val" else scores("test", cand)
            lines = _sample_lines(docs, dataset.prefixes[(shots, f, s)], f, item_scores, target_hash)
            if verify_every and (cand % verify_every == 0):
                obj = json.loads(lines[0])
                assert json.dumps(obj, ensure_ascii=False) + "\n" == lines[0], "generator drifted from json.dumps"
            path = folder / f"samples_{_task(dataset.name, shots, f, s)}_{stamp}.jsonl"
            data = "".join(lines).encode("utf-8")
            path.write_bytes(data)
            gen.files.append(path)
            gen.n_lines += len(lines)
            gen.n_bytes += len(data)


def generate(root: Path, *, n_datasets: int, n_val: int, n_test: int, n_formats: int = 11, n_seeds: int = 10,
             shots_list: tuple[int, ...] = (0, 3), seed: int = 0, verify_every: int = 97) -> Generated:
    """Write lm-eval-format logs for two models (``medical``, ``base``) under ``root``."""
    rng = np.random.default_rng(seed)
    models = ("medical-7b", "base-7b")
    gen = Generated(root=root, model_dirs={m: root / m for m in models})
    cands = _candidates(shots_list, n_formats, n_seeds)
    target_hash = {j: _sha(str(j)) for j in range(4)}
    for dataset_index in range(n_datasets):
        dataset = _make_dataset(rng, dataset_index, n_val, n_test, cands)
        base_acc = rng.uniform(0.4, 0.7)
        for model_index, model in enumerate(models):
            _write_model(gen, rng, model_index, model, dataset_index, dataset, cands, shots_list, base_acc,
                         target_hash, verify_every)
    return gen


def baseline_read(files: list[Path]):
    """Plain reader: ``json.loads`` every line, a dict per row, ``pandas.DataFrame``."""
    import pandas as pd

    rows = []
    for path in files:
        task = path.name[len("samples_"):].rsplit("_", 1)[0]
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                s = json.loads(line)
                doc = s["doc"]
                for m in s["metrics"]:
                    rows.append({"task": task, "doc_id": s["doc_id"], "item_key": doc["item_key"],
                                 "role": doc["role"], "cluster": doc.get("cluster"), "doc_hash": s["doc_hash"],
                                 "filter": s["filter"], "metric": m, "score": s[m], "source": str(path)})
    return pd.DataFrame(rows)


def _warm(files: list[Path]) -> None:
    for p in files:
        with open(p, "rb") as handle:
            while handle.read(1 << 24):
                pass


def bench_reader(files: list[Path]) -> dict:
    from medpair_stats.logs import read_logs

    nbytes = sum(p.stat().st_size for p in files)
    _warm(files)
    start = time.perf_counter()
    ref = baseline_read(files)
    t_base = time.perf_counter() - start
    start = time.perf_counter()
    ours = read_logs(files, progress=False)
    t_ours = time.perf_counter() - start
    assert len(ours) == len(ref), (len(ours), len(ref))
    assert np.isclose(ours["score"].sum(), ref["score"].sum())
    return {"files": len(files), "lines": len(ref), "MB": nbytes / 1e6, "baseline_s": t_base, "reader_s": t_ours,
            "baseline_MBps": nbytes / 1e6 / t_base, "reader_MBps": nbytes / 1e6 / t_ours,
            "ratio": t_base / t_ours, "fast_lines": ours.attrs["medpair"]["fast_lines"]}


def bench_bootstrap(n: int, n_resamples: int, repeats: int = 3) -> dict:
    from scipy import stats

    from medpair_stats import compare_scores

    rng = np.random.default_rng(1)
    med = (rng.random(n) < 0.62).astype(float)
    base = (rng.random(n) < 0.58).astype(float)
    cont_med, cont_base = rng.random(n), rng.random(n)

    def stat(a, b, axis=-1):
        return np.mean(a - b, axis=axis)

    out = {}
    for label, (a, b) in {"0/1": (med, base), "continuous": (cont_med, cont_base)}.items():
        t_ours, t_scipy = [], []
        for r in range(repeats):
            start = time.perf_counter()
            ours = compare_scores(a, b, n_resamples=n_resamples, seed=r, method="percentile")
            t_ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            ref = stats.bootstrap((a, b), stat, paired=True, vectorized=True, n_resamples=n_resamples,
                                  method="percentile", confidence_level=0.95, rng=np.random.default_rng(r))
            t_scipy.append(time.perf_counter() - start)
        out[label] = {"ours_s": min(t_ours), "scipy_s": min(t_scipy), "ratio": min(t_scipy) / min(t_ours),
                      "ours_ci": (ours.ci_low, ours.ci_high),
                      "scipy_ci": (float(ref.confidence_interval.low), float(ref.confidence_interval.high))}
    return out


def bench_compare(gen: Generated, out: Path, n_resamples: int) -> dict:
    med, base = gen.model_dirs["medical-7b"], gen.model_dirs["base-7b"]
    cmd = [sys.executable, "-c", "import sys; from medpair_stats.compare import main; sys.exit(main(sys.argv[1:]))",
           "--medical", str(med), "--base", str(base), "--out", str(out), "--n-resamples", str(n_resamples), "-q"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"medpair compare failed:\n{proc.stdout}\n{proc.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    recs = json.loads((out / "comparisons.json").read_text())["records"]
    bad = [(r["dataset"], r["setting"]) for r in recs
           if (r["medical_prompt"], r["base_prompt"]) != (gen.selected[("medical-7b", r["dataset"], int(r["setting"][0]))],
                                                          gen.selected[("base-7b", r["dataset"], int(r["setting"][0]))])]
    return {"wall_s": wall, "peak_rss_MB": peak_kb / 1024, "records": len(recs), "selection_mismatches": bad,
            "summary": proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the problem (datasets, items) by this factor")
    parser.add_argument("--n-resamples", type=int, default=10_000)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the logs (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    parser.add_argument("--reader-files", type=int, default=242,
                    help="samples files for the reader-vs-baseline measure (default: one dataset's val logs of both models)")
    args = parser.parse_args(argv)
    s = args.scale
    n_ds, n_val, n_test = max(1, round(12 * s)), max(20, round(500 * s)), max(20, round(1000 * s))
    work = Path(tempfile.mkdtemp(prefix="medpair-bench-", dir=args.workdir))
    try:
        print(f"machine: {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
        print(f"scale {s}: 2 models × {n_ds} datasets × 121 candidates × {n_val} val items; "
              f"{n_test} test items per dataset (default + selected candidates)")
        start = time.perf_counter()
        gen = generate(work / "logs", n_datasets=n_ds, n_val=n_val, n_test=n_test)
        print(f"wrote {len(gen.files)} samples files, {gen.n_lines:,} lines, {gen.n_bytes / 1e9:.2f} GB "
              f"(mean {gen.n_bytes / gen.n_lines / 1e3:.1f} KB/line) in {time.perf_counter() - start:.0f} s")

        files = [f for f in gen.files if "_k3_" in f.name and "T00-00-" in f.name][: args.reader_files] or gen.files[: args.reader_files]
        r = bench_reader(files)
        print(f"\n[1] reader vs json.loads+pandas baseline on {r['files']} files, {r['lines']:,} lines, "
              f"{r['MB']:.0f} MB (page cache warm):")
        print(f"    baseline {r['baseline_s']:.2f} s ({r['baseline_MBps']:.0f} MB/s); "
              f"medpair reader {r['reader_s']:.2f} s ({r['reader_MBps']:.0f} MB/s); "
              f"ratio {r['ratio']:.1f}x  (fast path: {r['fast_lines']:,} of {r['lines']:,} lines)")

        b = bench_bootstrap(n_test, args.n_resamples)
        print(f"\n[2] compare_scores vs scipy.stats.bootstrap (paired, percentile, n={n_test}, B={args.n_resamples:,}):")
        for label, v in b.items():
            print(f"    {label:10s}: compare_scores {v['ours_s'] * 1e3:.1f} ms; scipy {v['scipy_s'] * 1e3:.1f} ms; "
                  f"ratio {v['ratio']:.1f}x; CI ours [{v['ours_ci'][0]:.4f}, {v['ours_ci'][1]:.4f}] "
                  f"scipy [{v['scipy_ci'][0]:.4f}, {v['scipy_ci'][1]:.4f}]")

        c = bench_compare(gen, work / "out", args.n_resamples)
        print(f"\n[3] whole `medpair compare` (subprocess, {gen.n_bytes / 1e9:.2f} GB of logs, {c['records']} records, "
              f"B={args.n_resamples:,}): wall {c['wall_s']:.1f} s; peak RSS {c['peak_rss_MB']:.0f} MB")
        print(f"    {c['summary']}")
        print(f"    selected prompts match the generator's own selection: "
              f"{'yes' if not c['selection_mismatches'] else 'NO ' + str(c['selection_mismatches'])}")
    finally:
        if args.keep:
            print(f"\nlogs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
