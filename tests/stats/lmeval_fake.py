"""Write synthetic lm-eval output folders in lm-eval 0.4.13's exact format.

The samples and results files are written by lm-eval's own
``EvaluationTracker`` (``save_results_aggregated`` then
``save_results_samples``, as ``lm_eval run`` does), so file names, key order,
JSON formatting and append-mode semantics are lm-eval's.  Only the sample
dicts (built as ``lm_eval.evaluator`` builds them) and the results dict are
assembled here.  Timestamps are controlled by fixing the tracker's clock (through medpair's door to lm-eval).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Sequence

from lm_eval.loggers import EvaluationTracker

from medpair_tasks.lm_eval_internals import json_default, tracker_clock

LETTERS = "ABCDE"
BASE_TIME = datetime(2026, 11, 22, 3, 3, 3, 744921)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def doc_hash(doc: dict) -> str:
    """lm-eval's doc_hash of a doc."""
    return sha(json.dumps(doc, indent=2, default=json_default, ensure_ascii=False))


def make_docs(dataset: str, role: str, n: int, *, clusters: Sequence[str] | None = None,
              version: str = "", start: int = 0) -> list[dict]:
    """Docs as the medpair loaders emit them (item_key, role, dataset, ...)."""
    docs = []
    for i in range(start, start + n):
        doc: dict[str, Any] = {
            "item_key": f"{dataset}/{role}/{i:04d}",
            "role": role,
            "dataset": dataset,
            "question": f"Question {i} about {dataset}{version}: which option is right? é",
            "options": [f"option {j} of {i}" for j in range(4)],
            "answer_idx": i % 4,
        }
        if clusters is not None:
            doc["cluster"] = clusters[i - start]
        docs.append(doc)
    return docs


@dataclass
class FakeTask:
    """One lm-eval task run: its docs, per-doc metric values and identity."""

    name: str
    docs: list[dict]
    scores: dict[str, list[float]]
    metadata: dict[str, Any] | None
    num_fewshot: int = 0
    mode: str = "mc"
    prompt_padding: str = ""
    filters: tuple[str, ...] = field(default=())
    answers: list[int] | None = None
    """Option index each response chose (-1: none); default: always option A (mc) / the gold letter (gen)."""

    @property
    def filter_names(self) -> tuple[str, ...]:
        return self.filters or (("none",) if self.mode == "mc" else ("extract",))


def candidate(dataset: str, fmt: str, shots: int, seed: int | None, role: str, docs: list[dict],
              scores: Sequence[float] | dict[str, Sequence[float]], *, mode: str = "mc",
              with_metadata: bool = True, name: str | None = None,
              prompt_padding: str = "", answers: Sequence[int] | None = None) -> FakeTask:
    """A medpair candidate task named by the contract."""
    if name is None:
        suffix = "" if seed is None else f"_s{seed}"
        name = f"medpair_{dataset}_{mode}_{fmt}_k{shots}{suffix}"
    sc = dict(scores) if isinstance(scores, dict) else {"acc": list(scores)}
    meta = None
    if with_metadata:
        meta = {"version": 1.0, "dataset": dataset, "mode": mode, "format": fmt, "shots": shots,
                "fewshot_seed": seed, "role": role}
    return FakeTask(name=name, docs=docs, scores={k: [float(v) for v in vals] for k, vals in sc.items()},
                    metadata=meta, num_fewshot=shots, mode=mode, prompt_padding=prompt_padding,
                    answers=None if answers is None else [int(a) for a in answers])


def _render(task: FakeTask, doc: dict) -> str:
    opts = "".join(f"{LETTERS[j]}. {o}\n" for j, o in enumerate(doc["options"]))
    return f"{task.prompt_padding}Question: {doc['question']}\n{opts}Answer:"


def _samples(task: FakeTask) -> list[dict]:
    out = []
    for i, doc in enumerate(task.docs):
        ctx = _render(task, doc)
        target = doc["answer_idx"]
        for flt in task.filter_names:
            if task.mode == "mc":
                choices = [f" {LETTERS[j]}" for j in range(len(doc["options"]))]
                arguments = [(ctx, c) for c in choices]
                pick = 0 if task.answers is None else task.answers[i]
                lls = [-0.5 - 0.1 * ((j - pick) % len(choices)) for j in range(len(choices))]
                resps = [[(ll, False)] for ll in lls]
                filtered = [(ll, False) for ll in lls]
            else:
                pick = target if task.answers is None else task.answers[i]
                arguments = [(ctx, {"until": ["\n\n"], "max_gen_toks": 64, "do_sample": False})]
                resps = [[f" The answer is {LETTERS[pick] if pick >= 0 else 'unclear'}."]]
                filtered = [LETTERS[pick] if pick >= 0 else "[unparseable]"]
            metrics = {m: vals[i] for m, vals in task.scores.items()}
            example = {
                "doc_id": i,
                "doc": doc,
                "target": target,
                "arguments": arguments,
                "resps": resps,
                "filtered_resps": filtered,
                "filter": flt,
                "metrics": list(metrics.keys()),
                "doc_hash": doc_hash(doc),
                "prompt_hash": sha(arguments[0][0]),
                "target_hash": sha(str(target)),
            }
            example.update(metrics)
            out.append(example)
    return out


def _results(task_list: Sequence[FakeTask], model: str) -> dict:
    res: dict[str, Any] = {"results": {}, "group_subtasks": {}, "configs": {}, "versions": {},
                           "n-shot": {}, "higher_is_better": {}, "n-samples": {}}
    for t in task_list:
        entry: dict[str, Any] = {"name": t.name, "alias": t.name, "sample_len": len(t.docs)}
        for m, vals in t.scores.items():
            for flt in t.filter_names:
                entry[f"{m},{flt}"] = sum(vals) / max(len(vals), 1)
                entry[f"{m}_stderr,{flt}"] = 0.01
        res["results"][t.name] = entry
        cfg: dict[str, Any] = {"task": t.name, "test_split": "eval",
                               "output_type": "multiple_choice" if t.mode == "mc" else "generate_until",
                               "num_fewshot": t.num_fewshot,
                               "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True}
                                               for m in t.scores]}
        if t.metadata is not None:
            cfg["metadata"] = dict(t.metadata)
        res["configs"][t.name] = cfg
        res["versions"][t.name] = 1.0
        res["n-shot"][t.name] = t.num_fewshot
        res["higher_is_better"][t.name] = {m: True for m in t.scores}
        res["n-samples"][t.name] = {"original": len(t.docs), "effective": len(t.docs)}
    res["config"] = {"model": "hf", "model_args": f"pretrained={model}", "batch_size": 1,
                     "batch_sizes": [], "device": "cpu", "use_cache": None, "limit": None,
                     "bootstrap_iters": 100000, "gen_kwargs": {}, "random_seed": 0,
                     "numpy_seed": 1234, "torch_seed": 1234, "fewshot_seed": 1234}
    res["git_hash"] = None
    res["date"] = 1795316535.446994
    return res


class _FixedClock:
    def __init__(self, when: datetime) -> None:
        self.when = when

    def now(self) -> datetime:
        return self.when


def write_run(out_root: str | Path, model: str, tasks: Sequence[FakeTask], *,
              when: datetime | int = 0, write_results: bool = True,
              repeat_samples: int = 1) -> Path:
    """Write one lm-eval run (results + samples files) under ``out_root``.

    ``when`` is the run's clock (an int n means ``BASE_TIME + n minutes``).
    ``write_results=False`` leaves only the samples files (a results file
    lost or never written).  ``repeat_samples=2`` saves every task's samples
    twice into the same file, as lm-eval's append mode does when a save is
    repeated.  Returns the model folder ``out_root/<model_sanitized>``.
    """
    names = [t.name for t in tasks]
    assert len(names) == len(set(names)), "one lm-eval run holds each task once (val and test are separate runs)"
    if isinstance(when, int):
        when = BASE_TIME + timedelta(minutes=when)
    tracker = EvaluationTracker(output_path=str(out_root))
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf", model_args=f"pretrained={model}", system_instruction=None,
        chat_template=None, fewshot_as_multiturn=False)
    samples = {t.name: _samples(t) for t in tasks}
    if write_results:
        results = _results(tasks, model)
        with tracker_clock(_FixedClock(when)):
            tracker.save_results_aggregated(results=results, samples=samples)
    else:
        tracker.date_id = when.isoformat().replace(":", "-")
    for t in tasks:
        for _ in range(repeat_samples):
            # the tracker rewrites arguments/resps in place: give it fresh copies
            tracker.save_results_samples(task_name=t.name, samples=_samples(t))
    folder = Path(out_root) / tracker.general_config_tracker.model_name_sanitized
    assert folder.is_dir(), folder
    return folder


def samples_path(folder: Path, task: str) -> Path:
    """The (single) samples file of ``task`` in ``folder``."""
    found = sorted(folder.glob(f"samples_{task}_*.jsonl"))
    assert len(found) == 1, found
    return found[0]


def parse_candidate(cand: str) -> tuple[str, int | None]:
    """``"f03/s7"`` -> ("f03", 7); ``"f03"`` -> ("f03", None)."""
    fmt, _, seed = cand.partition("/s")
    return fmt, (int(seed) if seed else None)


def write_role_run(out_root: str | Path, model: str, dataset: str, role: str,
                   cand_scores: dict[str, Sequence[float]], docs: list[dict], *, when: datetime | int,
                   shots: int = 0, mode: str = "mc", answers: dict[str, Sequence[int]] | None = None,
                   **kwargs: Any) -> Path:
    """One lm-eval run of several candidates of one dataset on one role (``answers``: per candidate)."""
    tasks = []
    for cand, scores in cand_scores.items():
        fmt, seed = parse_candidate(cand)
        tasks.append(candidate(dataset, fmt, shots, seed, role, docs, scores, mode=mode,
                               answers=(answers or {}).get(cand)))
    return write_run(out_root, model, tasks, when=when, **kwargs)
