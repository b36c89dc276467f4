"""End to end: every clinical dataset through ``medpair eval`` on the tiny models, then ``medpair compare``.

Three lm-eval runs (both models on the test role, one on validation candidates) with a
512-token context, so that long fixture notes are truncated; then the paired report, which
must name every dataset and metric and hold no note text.
"""

from __future__ import annotations

import json

import pytest

from clinical_testlib import note_text_in
from medpair_testlib import read_run, run_medpair
from medpair_tasks.clinical.metrics import ICD_METRICS
from medpair_tasks.extract import UNPARSEABLE

pytestmark = pytest.mark.slow  # end to end; `pytest -m "not slow"` leaves it out

MAX_LENGTH = 512
GEN_TOKENS = 16
MODEL = ["eval", "--model", "hf", "--device", "cpu", "--batch_size", "16", "--log_samples",
         "--gen_kwargs", f"max_gen_toks={GEN_TOKENS}"]
MC_DATASETS = ["mednli", "ehrnoteqa", "longhealth_task1", "longhealth_task2", "longhealth_task3",
               "n2c2_obesity_asthma", "n2c2_obesity_cad", "n2c2_obesity_diabetes", "n2c2_obesity_obesity",
               "casi", "mimic3_acronym"]
SUMMARIES = ["medisumqa", "meqsum", "probsum"]
TEST_TASKS = ["medpair_mednli", "medpair_ehrnoteqa", "medpair_longhealth", "medpair_n2c2_obesity", "medpair_casi",
              "medpair_mimic3_acronym", "medpair_medisumqa", "medpair_medisumcode", "medpair_meqsum", "medpair_probsum",
              "medpair_casi_gen", "medpair_longhealth_task3_gen"]
VAL_TASKS = ["medpair_mednli_mc_f03_k3_s1", "medpair_ehrnoteqa_gen_f05_k3_s2", "medpair_n2c2_obesity_cad_mc_f09_k3_s4",
             "medpair_casi_gen_f01_k0", "medpair_mimic3_acronym_mc_f10_k3_s9", "medpair_longhealth_task2_mc_f04_k0"]


def _model_args(path) -> list[str]:
    return ["--model_args", f"pretrained={path},dtype=float32,max_length={MAX_LENGTH}"]


@pytest.fixture(scope="module")
def runs(tiny_models, data_dir, tmp_path_factory):
    """Both models on the test role of every clinical dataset; the base model on some candidates."""
    out = tmp_path_factory.mktemp("clinical-runs")
    for label, path in zip(("base", "medical"), tiny_models):
        run_medpair([*MODEL, *_model_args(path), "--tasks", ",".join(TEST_TASKS), "--output_path", str(out / label)], data_dir)
    run_medpair([*MODEL, *_model_args(tiny_models[0]), "--tasks", ",".join(VAL_TASKS), "--metadata",
             json.dumps({"val_limit": 4}), "--output_path", str(out / "val")], data_dir)
    return out


@pytest.fixture(scope="module")
def tokenizer(tiny_models):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_models[0]))


def _n_tokens(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_every_clinical_task_logs_identity_and_its_metrics(runs):
    results, samples = read_run(runs / "base")
    expected = {f"medpair_{d}" for d in MC_DATASETS + SUMMARIES + ["medisumcode"]}
    expected |= {"medpair_casi_gen", "medpair_longhealth_task3_gen"}
    assert set(samples) == expected
    for task, rows in samples.items():
        meta = results["configs"][task]["metadata"]
        dataset = meta["dataset"]
        assert (meta["role"], meta["shots"], meta["format"], meta["fewshot_seed"]) == ("test", 0, "f00", None)
        assert results["n-shot"][task] == 0
        assert {r["doc"]["role"] for r in rows} == {"test"} and {r["doc"]["dataset"] for r in rows} == {dataset}
        assert len({r["doc"]["item_key"] for r in rows}) == len(rows)
        for row in rows:
            values = {m: row[m] for m in row["metrics"]}
            if dataset in SUMMARIES:
                assert row["metrics"] == ["rouge1", "rouge2", "rougeL"] and row["filter"] == "none"
                assert all(0.0 <= v <= 1.0 for v in values.values())
            elif dataset == "medisumcode":
                assert row["metrics"] == list(ICD_METRICS) and all(0.0 <= v <= 1.0 for v in values.values())
            else:
                assert row["metrics"] == ["acc"] and row["acc"] in (0.0, 1.0)
                if meta["mode"] == "gen":
                    assert row["filter"] == "extract" and row["filtered_resps"][0] in ("A", "B", "C", "D", "E", "F", UNPARSEABLE)
    longhealth = samples["medpair_longhealth_task1"]
    assert all(r["doc"]["cluster"] == r["doc"]["item_key"].split("/")[0] for r in longhealth)
    assert {r["doc"]["answer_idx"] for r in samples["medpair_longhealth_task3"]} == {5}
    assert all("cluster" in r["doc"] for r in samples["medpair_mednli"] + samples["medpair_ehrnoteqa"])
    assert results["results"]["medpair_longhealth"]["acc,none"] >= 0.0  # the group aggregates its settings


def test_prompts_fit_the_context_with_question_and_options_whole(runs, tokenizer):
    results, samples = read_run(runs / "base")
    for task, rows in samples.items():
        generation = results["configs"][task]["output_type"] == "generate_until"
        room = MAX_LENGTH - (GEN_TOKENS if generation else 8) - 8
        for row in rows:
            prompt = row["arguments"]["gen_args_0"]["arg_0"]
            assert _n_tokens(tokenizer, prompt) <= room, task
            doc = row["doc"]
            if doc.get("question"):
                assert doc["question"] in prompt
            for option in doc.get("options", []):
                assert option in prompt


def test_truncated_items_are_counted_in_the_results(runs):
    results, samples = read_run(runs / "medical")
    truncated = {}
    for task, rows in samples.items():
        summary = results["configs"][task]["metadata"]["truncation"]
        assert summary["active"] and summary["max_length"] == MAX_LENGTH and summary["side"] == "middle"
        assert summary["items"] == len(rows) and summary["truncated"] == len(summary["truncated_items"])
        assert set(summary["truncated_items"]) <= {r["doc"]["item_key"] for r in rows}
        truncated[task] = summary["truncated"]
    for task in ("medpair_ehrnoteqa", "medpair_medisumcode", "medpair_longhealth_task1", "medpair_probsum"):
        assert truncated[task] > 0, task
    assert truncated["medpair_mednli"] == 0 and truncated["medpair_meqsum"] == 0


def test_validation_candidates(runs):
    results, samples = read_run(runs / "val")
    assert set(samples) == set(VAL_TASKS)
    for task, rows in samples.items():
        meta = results["configs"][task]["metadata"]
        assert meta["role"] == "val" and {r["doc"]["role"] for r in rows} == {"val"}
        assert 0 < len(rows) <= 4
        assert results["n-shot"][task] == meta["shots"]
        if meta["mode"] == "gen":
            assert {r["filter"] for r in rows} == {"extract"}
        if meta["shots"] and meta["dataset"] in ("mednli", "ehrnoteqa"):  # questions unique to their item
            for row in rows:
                assert row["arguments"]["gen_args_0"]["arg_0"].count(row["doc"]["question"]) == 1, task


def test_compare_reports_every_dataset_with_ids_and_numbers_only(runs, tmp_path):
    report = tmp_path / "report"
    run_medpair(["compare", "--medical", str(runs / "medical"), "--base", str(runs / "base"), "--out", str(report),
             "--n-resamples", "300", "-q"], data_dir=None)
    records = json.loads((report / "comparisons.json").read_text())["records"]
    cells = {(r["dataset"], r["mode"], r["metric"]) for r in records}
    for dataset in MC_DATASETS:
        assert (dataset, "mc", "acc") in cells, dataset
    assert ("casi", "gen", "acc") in cells and ("longhealth_task3", "gen", "acc") in cells
    for dataset in SUMMARIES:
        assert {(dataset, "gen", m) for m in ("rouge1", "rouge2", "rougeL")} <= cells
    assert {("medisumcode", "gen", m) for m in ICD_METRICS} <= cells
    by_cell = {(r["dataset"], r["mode"], r["metric"]): r for r in records}
    for setting in ("longhealth_task1", "longhealth_task2", "longhealth_task3"):
        record = by_cell[(setting, "mc", "acc")]
        assert record["clustered"] and record["n_clusters"] == 4 and record["n"] == 12  # patients are resampled
    assert by_cell[("mednli", "mc", "acc")]["clustered"]  # three hypotheses per premise
    assert not by_cell[("meqsum", "gen", "rouge1")]["clustered"]
    # no report file holds note text; the samples files (a positive control) do
    outputs = [p for p in report.rglob("*") if p.is_file()]
    assert {p.name for p in outputs} >= {"comparisons.json", "comparisons.csv", "report.md", "forest.png"}
    for path in outputs:
        assert note_text_in(path) == [], path
    logs = list((runs / "base").rglob("*"))
    assert any(note_text_in(p) for p in logs if p.name.startswith("samples_"))
    for results_file in (runs / "base").rglob("results_*.json"):
        assert note_text_in(results_file) == [], "lm-eval's results file should hold no note text"


def test_a_missing_dataset_gives_its_clear_error(tiny_models, data_dir, tmp_path):
    partial = tmp_path / "data"
    partial.mkdir()
    for folder in data_dir.iterdir():
        if folder.name != "mednli":
            (partial / folder.name).symlink_to(folder.resolve(), target_is_directory=True)
    done = run_medpair([*MODEL, *_model_args(tiny_models[0]), "--tasks", "medpair_mednli", "--output_path",
                    str(tmp_path / "out")], partial, check=False)
    assert done.returncode != 0
    assert "the mednli data is not available" in done.stderr and str(partial / "mednli") in done.stderr
    assert "physionet.org/content/mednli/1.0.0" in done.stderr and "mli_train_v1.jsonl" in done.stderr
    assert not list((tmp_path / "out").rglob("samples_*"))
