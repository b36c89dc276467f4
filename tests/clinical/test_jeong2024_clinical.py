"""The clinical datasets under ``jeong2024`` against the stored outputs of the reference code.

``tests/fixtures/reference/clinical_prompts.jsonl.gz`` was made by running the reference's
clinical preprocessing notebooks and dataset classes once, offline, on the made-up fixtures
(see tests/fixtures/reference/NOTE.md, section "Clinical"). Here medpair's populations (item
ids and order), demonstrations, system prompts and prompt texts must equal them, and the
n2c2 token filter counts with the same offline tokenizer the reference run used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clinical_testlib import FIXTURES
from lm_eval.tasks import TaskManager
from make_jeong2024_clinical_fixtures import NOTE_LIMIT, build_count_tokenizer
from medpair_testlib import prompts_digest, read_reference_cells

from medpair_tasks.clinical import jeong2024 as clinical
from medpair_tasks.clinical.truncate import truncation_side
from medpair_tasks.jeong2024 import profile_for, render_prompt
from medpair_tasks.registry import task_path

REFERENCE = FIXTURES / "reference" / "clinical_prompts.jsonl.gz"
DATA = FIXTURES / "data"
FEW_SHOT_DATASETS = ("mednli", "casi", "mimic3_acronym")


def reference_cells() -> dict[str, list[dict]]:
    """The stored cells of the reference run, per medpair dataset name."""
    return read_reference_cells(REFERENCE)


def digest(prompts: list[str]) -> str:
    """SHA-256 of the prompts joined by NUL, as the reference run stored it."""
    return prompts_digest(prompts)


@pytest.fixture(scope="module")
def count_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The offline tokenizer the reference run counted n2c2 notes with, built the same way."""
    return str(build_count_tokenizer(tmp_path_factory.mktemp("count-tokenizer")))


@pytest.fixture()
def clinical_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A MEDPAIR_DATA_DIR with the reference's inputs: the MedNLI release fixture and the jeong2024 fixtures."""
    (tmp_path / "mednli").symlink_to(DATA / "mednli")
    for folder in (DATA / "jeong2024_clinical").iterdir():
        (tmp_path / folder.name).symlink_to(folder)
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    return tmp_path


def test_the_reference_run_covers_every_clinical_dataset_profile_format_and_seed():
    cells = reference_cells()
    assert sorted(cells) == sorted(clinical.DATASETS)
    for dataset, dataset_cells in cells.items():
        seeds = {c["fewshot_seed"] for c in dataset_cells}
        assert seeds == ({None, *range(10)} if dataset in FEW_SHOT_DATASETS else {None}), dataset
        assert {c["format"] for c in dataset_cells} == {f"f{i:02d}" for i in range(11)}
        assert {c["profile"] for c in dataset_cells} == {"generic", "meditron-7b", "biomistral-7b"}
        assert {c["role"] for c in dataset_cells} == {"val", "test"}


@pytest.mark.parametrize("dataset", clinical.DATASETS)
def test_populations_prompts_and_demonstrations_equal_the_reference(dataset, clinical_data, count_tokenizer):
    for cell in reference_cells()[dataset]:
        where = (cell["role"], cell["profile"], cell["format"], cell["fewshot_seed"])
        items = clinical.scored_items(dataset, cell["role"], tokenizer=count_tokenizer)
        assert [item.key for item in items] == cell["keys"], where
        seed = cell["fewshot_seed"]
        demos = [] if seed is None else clinical.fewshot_items(dataset, seed, 3)
        assert [d.key for d in demos] == cell["demo_keys"], where
        assert clinical.SYSTEM_PROMPTS[dataset] == cell["system_prompt"]
        profile = profile_for(None, cell["profile"])
        prompts = [render_prompt(profile, cell["format"], cell["system_prompt"], demos, item, clinical.verbatim)
                   for item in items]
        assert prompts[: len(cell["prompts"])] == cell["prompts"], where
        assert digest(prompts) == cell["digest"], where


def test_n2c2_keeps_the_test_notes_of_at_most_3000_tokens(clinical_data, count_tokenizer):
    length = clinical.note_length(count_tokenizer)
    population = clinical.population("n2c2_obesity_cad")
    kept = clinical.scored_items("n2c2_obesity_cad", "test", tokenizer=count_tokenizer)
    assert {i.key for i in kept} == {i.key for i in population.test if length(clinical.note_of(i)) <= NOTE_LIMIT}
    assert {length(clinical.note_of(i)) for i in population.test} > {NOTE_LIMIT - 1, NOTE_LIMIT, NOTE_LIMIT + 1}
    assert len(kept) < len(population.test)
    # the validation role (training notes) is not filtered, as in the reference's notebook
    assert len(clinical.scored_items("n2c2_obesity_cad", "val")) == len(population.val)


def test_an_unloadable_note_tokenizer_is_a_clear_error(clinical_data, tmp_path):
    with pytest.raises(ValueError, match="at most 3000 tokens of .*note_tokenizer"):
        clinical.scored_items("n2c2_obesity_asthma", "test", tokenizer=str(tmp_path / "no-such-tokenizer"))


@pytest.mark.parametrize("dataset", ["ehrnoteqa", "n2c2_obesity_diabetes"])
def test_few_shot_cells_of_zero_shot_only_datasets_are_refused(dataset, clinical_data, count_tokenizer):
    metadata = {"protocol": "jeong2024", "dataset": dataset, "role": "val", "format": "f00", "shots": 3,
                "fewshot_seed": 0, "note_tokenizer": count_tokenizer}
    with pytest.raises(ValueError, match="zero-shot only"):
        clinical.build_splits(metadata)
    assert len(clinical.build_splits({**metadata, "shots": 0})["eval"]) > 0


def test_truncation_is_a_medpair_protocol_feature():
    assert truncation_side({"protocol": "jeong2024"}) == "none"
    assert truncation_side({"protocol": "medpair"}) == "middle"
    with pytest.raises(ValueError, match="medpair protocol only"):
        truncation_side({"protocol": "jeong2024", "truncation": "left"})


def test_acronym_variants_keep_their_first_spelling_first():
    assert clinical.reference_sense("Discharge;discharged") == "discharge / discharged"
    assert clinical.reference_sense("Discharge;discharge") == "discharge"
    assert clinical.reference_sense(" room air") == " room air"


LM_EVAL_CELLS = [  # (dataset, task name, profile, role, format, seed)
    ("ehrnoteqa", "medpair_ehrnoteqa_gen", "meditron-7b", "test", "f00", None),
    ("n2c2_obesity_cad", "medpair_n2c2_obesity_cad", "generic", "test", "f00", None),
    ("mednli", "medpair_mednli_gen_f03_k3_s2", "biomistral-7b", "val", "f03", 2),
    ("casi", "medpair_casi_mc_f07_k0", "generic", "val", "f07", None),
    ("mimic3_acronym", "medpair_mimic3_acronym_gen_f00_k3_s5", "meditron-7b", "val", "f00", 5),
]


@pytest.mark.parametrize(("dataset", "name", "profile", "role", "format_id", "seed"), LM_EVAL_CELLS)
def test_lm_eval_logs_the_reference_prompt(dataset, name, profile, role, format_id, seed, clinical_data,
                                           count_tokenizer):
    (cell,) = [c for c in reference_cells()[dataset]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == (role, profile, format_id, seed)]
    manager = TaskManager(include_path=str(task_path() / "clinical" / dataset), include_defaults=False,
                          metadata={"protocol": "jeong2024", "profile": profile, "note_tokenizer": count_tokenizer})
    (task,) = manager.load([name])["tasks"].values()
    task.build_all_requests(rank=0, world_size=1)
    contexts: dict[int, str] = {}
    for instance in task.instances:
        contexts.setdefault(instance.doc_id, instance.arguments[0])
    logged = [contexts[i] for i in sorted(contexts)]
    assert logged[: len(cell["prompts"])] == cell["prompts"]
    assert digest(logged) == cell["digest"]
    assert [doc["item_key"] for doc in task.eval_docs] == cell["keys"]
    assert task.config.metadata["protocol"] == "jeong2024"


@pytest.mark.slow  # lm-eval end to end
def test_medpair_eval_logs_the_reference_prompts_and_cuts_no_note(tiny_models, clinical_data, count_tokenizer, tmp_path):
    """The real command line on the tiny model (the generic profile): the logged prompts are the
    reference's, and the results file records that no note was truncated."""
    from medpair_testlib import read_run, run_medpair

    base, _ = tiny_models
    tasks = {"medpair_ehrnoteqa_gen": ("ehrnoteqa", "test", None), "medpair_mednli_gen_f05_k3_s4": ("mednli", "val", 4)}
    out = tmp_path / "out"
    run_medpair(["eval", "--model", "hf", "--device", "cpu", "--batch_size", "4", "--log_samples",
                 "--model_args", f"pretrained={base},dtype=float32", "--tasks", ",".join(tasks), "--limit", "3",
                 "--metadata", json.dumps({"protocol": "jeong2024", "note_tokenizer": count_tokenizer}),
                 "--gen_kwargs", "max_gen_toks=4", "--output_path", str(out)], clinical_data)
    results, samples = read_run(out)
    for task, (dataset, role, seed) in tasks.items():
        (cell,) = [c for c in reference_cells()[dataset] if (c["role"], c["profile"], c["fewshot_seed"], c["format"])
                   == (role, "generic", seed, "f05" if seed is not None else "f00")]
        rows = sorted(samples[task], key=lambda r: r["doc_id"])
        assert [r["arguments"]["gen_args_0"]["arg_0"] for r in rows] == cell["prompts"]
        assert [r["doc"]["item_key"] for r in rows] == cell["keys"][:3]
        metadata = results["configs"][task]["metadata"]
        assert metadata["protocol"] == "jeong2024" and metadata["truncation"]["active"] is False
