"""End to end: ``medpair eval --model hf-multimodal`` on the tiny VLMs, then ``medpair compare``.

Three runs on the test role of the four VQA datasets (MMMU: pharmacy), 0-shot and 3-shot: the
base model, the medical model, and the medical model with an evidence file. Then one
``medpair compare`` for medical vs base and for with vs without evidence.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from medpair_testlib import read_run, run_medpair
from vqa_testbed import tiny_vlm_pair

from medpair_tasks.extract import UNPARSEABLE
from medpair_tasks.lm_eval_internals import image_hash
from medpair_tasks.vqa.hooks import doc_images
from medpair_tasks.family.roles import rank_shots
from medpair_tasks.vqa.roles import vqa_roles

pytestmark = pytest.mark.slow  # end to end; `pytest -m "not slow"` leaves it out

DATASETS = ("vqa_rad", "slake", "pathvqa", "mmmu_pharmacy")
CANDIDATES = (("f00", 0, None), ("f03", 3, 1))
TASKS = [f"medpair_{d}_gen_{f}_k{k}" + (f"_s{s}" if s is not None else "") for d in DATASETS for f, k, s in CANDIDATES]
EVAL = ["eval", "--model", "hf-multimodal", "--device", "cpu", "--batch_size", "16", "--log_samples",
        "--gen_kwargs", "max_gen_toks=4", "--tasks", ",".join(TASKS)]
NO_FINDINGS = ("vqa_rad", 0)  # (dataset, index of the test item) left out of the evidence file


def _evidence_file(path) -> None:
    """Findings for every test item but one, and for the few-shot pools."""
    lines = []
    for dataset in DATASETS:
        roles = vqa_roles(dataset)
        for i, item in enumerate(roles.test):
            if (dataset, i) != NO_FINDINGS:
                lines.append({"dataset": dataset, "item_key": item.key, "evidence": f"classifier: {item.options[item.answer_idx]}"})
        lines += [{"dataset": dataset, "item_key": item.key, "evidence": "classifier: unsure"} for item in roles.pool]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """(folder of each run, evidence file): base, medical, medical + evidence."""
    base, medical = tiny_vlm_pair()
    root = tmp_path_factory.mktemp("vqa-runs")
    evidence = root / "findings.jsonl"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEDPAIR_DATA_DIR", str(data_dir))
        _evidence_file(evidence)
    folders = {}
    for label, model, metadata in (
        ("base", base, {"role": "test"}),
        ("medical", medical, {"role": "test"}),
        ("medical+evidence", medical, {"role": "test", "evidence_file": str(evidence)}),
    ):
        folders[label] = root / label
        run_medpair([*EVAL, "--model_args", f"pretrained={model},dtype=float32", "--metadata", json.dumps(metadata),
                     "--output_path", str(folders[label])], data_dir)
    return folders, evidence


def _demonstrations(dataset: str, seed: int, shots: int, own: set[str]) -> list[tuple[str, list[str]]]:
    """(key, image hashes) of an item's demonstrations: the seed's ranking, less what shows one of its images."""
    demos: list[tuple[str, list[str]]] = []
    for item in rank_shots(dataset, vqa_roles(dataset).pool, seed):
        if len(demos) == shots:
            break
        hashes = [image_hash(i) for i in doc_images({"dataset": dataset, "images": list(item.images)})]
        if own.isdisjoint(hashes):
            demos.append((item.key, hashes))
    return demos


def test_every_vqa_task_runs_zero_and_three_shot(runs, use_data):
    folders, evidence = runs
    logs = {label: read_run(folder) for label, folder in folders.items()}
    for label, (results, samples) in logs.items():
        assert sorted(samples) == sorted(TASKS), label
        for task in TASKS:
            meta = results["configs"][task]["metadata"]
            dataset, shots = meta["dataset"], meta["shots"]
            rows = samples[task]
            assert sorted(r["doc"]["item_key"] for r in rows) == sorted(i.key for i in vqa_roles(dataset).test)
            assert results["n-shot"][task] == shots and meta["role"] == "test" and meta["mode"] == "gen"
            assert meta["evidence"] is (label == "medical+evidence")
            for row in rows:
                assert row["filter"] == "extract" and row["acc"] in (0.0, 1.0)
                assert row["filtered_resps"][0] in (*"ABCD"[: len(row["doc"]["options"])], UNPARSEABLE)
                prompt, _, images = row["arguments"]["gen_args_0"].values()
                own = [image_hash(i) for i in doc_images(row["doc"])]
                demos = _demonstrations(dataset, meta["fewshot_seed"] or 0, shots, set(own))
                documents = [*[key for key, _ in demos], row["doc"]["item_key"]]
                assert prompt.count("<image>") == len(images["visual"]) >= shots + 1, documents
                # lm-eval logs each image of the request by hash, in order: the demonstrations', then the item's
                assert images["visual"] == [h for _, hashes in demos for h in hashes] + own, task
    # the evidence run: recorded in the metadata, in the prompts, and the documents unchanged
    results, samples = logs["medical+evidence"]
    plain_results, plain_samples = logs["medical"]
    sha = hashlib.sha256(evidence.read_bytes()).hexdigest()
    for task in TASKS:
        meta = results["configs"][task]["metadata"]
        assert meta["evidence_sha256"] == sha and meta["evidence_file"] == str(evidence)
        assert plain_results["configs"][task]["metadata"]["evidence_sha256"] is None
        missing = 1 if meta["dataset"] == NO_FINDINGS[0] else 0
        assert (meta["evidence_missing"], meta["evidence_scored"]) == (missing, len(samples[task]) - missing)
        plain = {r["doc"]["item_key"]: r for r in plain_samples[task]}
        with_findings = 0
        for row in samples[task]:
            twin = plain[row["doc"]["item_key"]]
            assert row["doc_hash"] == twin["doc_hash"], "evidence must not change the documents"
            own, twin_own = (r["arguments"]["gen_args_0"]["arg_0"].split("<image>")[-1] for r in (row, twin))
            assert ("classifier: " in own) == (own != twin_own) and "classifier: " not in twin_own
            with_findings += "classifier: " in own
        assert with_findings == len(samples[task]) - missing


def test_compare_medical_vs_base_and_with_vs_without_evidence(runs, tmp_path):
    folders, _ = runs
    pairs = tmp_path / "pairs.json"
    pairs.write_text(json.dumps([
        {"medical": "tiny-medical", "medical_dirs": [str(folders["medical"])], "base": "tiny-base",
         "base_dirs": [str(folders["base"])]},
        {"medical": "tiny-medical+evidence", "medical_dirs": [str(folders["medical+evidence"])],
         "base": "tiny-medical", "base_dirs": [str(folders["medical"])]},
    ]))
    out = tmp_path / "report"
    run_medpair(["compare", "--pairs", str(pairs), "--out", str(out), "--n-resamples", "2000", "-q"], None)
    records = json.loads((out / "comparisons.json").read_text())["records"]
    sizes = {d: len(vqa_roles_test_keys(folders["base"], d)) for d in DATASETS}
    cells = {(r["medical"], r["base"], r["dataset"], r["setting"]): r for r in records}
    assert len(records) == len(cells) == 2 * len(DATASETS) * len(CANDIDATES)
    for pair in (("tiny-medical", "tiny-base"), ("tiny-medical+evidence", "tiny-medical")):
        for dataset in DATASETS:
            for setting in ("0-shot", "3-shot"):
                record = cells[(*pair, dataset, setting)]
                assert record["n"] == sizes[dataset] and record["mode"] == "gen" and record["filter"] == "extract"
                assert record["clustered"] and record["n_clusters"] <= record["n"]
                assert record["outcome"] in ("win", "tie", "loss")
    assert any(r["n_clusters"] < r["n"] for r in records)  # questions about one image resampled together
    assert "tiny-medical+evidence" in (out / "report.md").read_text()
    # the plain form works too: the same model on both sides, told apart by its folders only
    plain = tmp_path / "plain"
    run_medpair(["compare", "--medical", str(folders["medical+evidence"]), "--base", str(folders["medical"]),
                 "--out", str(plain), "--n-resamples", "500", "-q"], None)
    plain_records = json.loads((plain / "comparisons.json").read_text())["records"]
    assert len(plain_records) == len(DATASETS) * len(CANDIDATES)
    assert {(r["dataset"], r["setting"], r["diff"]) for r in plain_records} == {
        (d, s, cells[("tiny-medical+evidence", "tiny-medical", d, s)]["diff"]) for d in DATASETS for s in ("0-shot", "3-shot")}


def vqa_roles_test_keys(folder, dataset: str) -> set[str]:
    """The test items of ``dataset`` as logged in a run's samples (the 0-shot task)."""
    _, samples = read_run(folder)
    return {row["doc"]["item_key"] for row in samples[f"medpair_{dataset}_gen_f00_k0"]}
