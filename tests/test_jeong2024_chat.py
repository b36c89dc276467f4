"""``jeong2024`` chat-model profiles and sampled system prompts against the reference code's output.

``chat_prompts.jsonl.gz`` and ``system_prompts.jsonl.gz`` (tests/fixtures/reference, made as
NOTE.md says) hold the reference's prompts for every knowledge dataset: for each chat model
profile, rendered through offline stand-ins of their tokenizers (tests/chat_tokenizers.py), and
for a model it does not know under its three sampled system prompts, every format, zero-shot and
few-shot seeds 0–9. The documents medpair's tasks log (built by
:func:`medpair_tasks.jeong2024_docs.build_splits`, as the tasks build them) must equal them
character for character. Every stored cell (its ids, demonstrations, system prompt, stops and
first prompt) is compared in the ``slow`` tests, and all prompts of the cells in which each
profile meets every format and every seed; the inner loop compares a fixed sample that still
reaches every dataset, profile, format and seed.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import datasets
import pytest
from lm_eval.tasks import TaskManager
from medpair_testlib import prompts_digest, read_reference_cells

from chat_tokenizers import STAND_INS, build_stand_in
from medpair_tasks import jeong2024_chat as chat
from medpair_tasks import jeong2024_roles as roles
from medpair_tasks.jeong2024 import PROFILES, Profile, profile_for, render_prompt, stop_strings, system_prompt
from medpair_tasks.jeong2024_docs import build_splits
from medpair_tasks.jeong2024_system import sampled_system_prompt
from medpair_tasks.knowledge.sources import SOURCES
from medpair_tasks.registry import task_path

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"
CHAT_PROFILES = sorted(name for name, profile in PROFILES.items() if profile.chat)
FORMATS = ["f00", *(f"f{number:02d}" for number in range(1, 11))]
FEWSHOT_SEEDS = [None, *range(10)]
SYSTEM_PROMPT_SEEDS = [0, 1, 2]


def chat_cells() -> dict[str, list[dict]]:
    """The stored chat-profile cells, per dataset."""
    return read_reference_cells(REFERENCE / "chat_prompts.jsonl.gz")


def system_cells() -> dict[str, list[dict]]:
    """The stored sampled-system-prompt cells, per dataset."""
    return read_reference_cells(REFERENCE / "system_prompts.jsonl.gz")


def sampled(cells: list[dict], dataset: str) -> list[dict]:
    """A fixed sample of one dataset's stored ``cells``: one per format, whose few-shot seed and
    (where the cells vary them) role, profile and system-prompt seed turn with the format and the
    dataset, so that every dataset meets every format and few-shot seed, and the profiles, roles
    and system-prompt seeds turn over."""
    shift = sorted(SOURCES).index(dataset)
    turning = {field: sorted({c[field] for c in cells}) for field in ("role", "profile", "system_prompt_seed")}
    chosen = []
    for number, fmt in enumerate(FORMATS):
        wanted = {"format": fmt, "fewshot_seed": FEWSHOT_SEEDS[(number + shift) % len(FEWSHOT_SEEDS)]}
        for step, (field, values) in enumerate(turning.items(), start=1):
            wanted[field] = values[(number + step * shift) % len(values)]
        chosen += [c for c in cells if all(c[field] == value for field, value in wanted.items())]
    assert len(chosen) == len(FORMATS)
    return chosen


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """profile name -> folder of its stand-in tokenizer (named like the model's hub id)."""
    root = tmp_path_factory.mktemp("chat-tokenizers")
    return {profile: build_stand_in(profile, root) for profile in STAND_INS}


def _metadata(cell: dict, **model) -> dict:
    """The run metadata of a task of ``cell`` (what ``medpair eval`` / lm-eval hand the task)."""
    seed = cell["fewshot_seed"]
    return {"protocol": "jeong2024", "dataset": cell["dataset"], "role": cell["role"], "format": cell["format"],
            "shots": 0 if seed is None else 3, "fewshot_seed": seed, **model}


def _label(cell: dict) -> tuple:
    return (cell["dataset"], cell["role"], cell["profile"], cell["system_prompt_seed"], cell["format"],
            cell["fewshot_seed"])


def _cell_profile(cell: dict) -> Profile:
    return PROFILES[cell["profile"] if cell["system_prompt_seed"] is None else "generic"]


def _assert_system_prompt_and_stops(cell: dict, n_options: int, stops: Sequence[str]) -> None:
    """The cell's system prompt and generation stops are medpair's."""
    profile, seed = _cell_profile(cell), cell["system_prompt_seed"]
    expected = system_prompt(profile, cell["dataset"], n_options) if seed is None else sampled_system_prompt(seed, n_options)
    assert expected == cell["system_prompt"], _label(cell)
    if cell["stop_words"] is not None:  # chat cells: the decoded end-of-sequence token joins lm-eval's own stop
        assert {*stops, STAND_INS[cell["profile"]].eos} == set(cell["stop_words"]), _label(cell)
    else:
        assert set(stops) == {"###", *cell["stop_headers"]}, _label(cell)


def _assert_prompts(cell: dict, prompts: list[str]) -> None:
    """The cell's first prompts, and (validation role, when all its prompts are given) their digest."""
    assert prompts[: len(cell["prompts_head"])] == cell["prompts_head"], _label(cell)
    if "digest" in cell and len(prompts) == cell["n"]:
        assert prompts_digest(prompts) == cell["digest"], _label(cell)


def _assert_docs_equal_cell(cell: dict, metadata: dict) -> None:
    """The documents the task builds for ``metadata`` (:func:`build_splits`) log the prompts, ids,
    demonstrations, system prompt and stops the reference stored in ``cell``."""
    docs = build_splits(metadata)["eval"]
    assert docs["item_key"] == cell["keys"], _label(cell)
    assert docs[0]["demo_keys"] == (cell["demo_keys"] or []), _label(cell)
    _assert_system_prompt_and_stops(cell, len(docs[0]["options"]), docs[0]["stop_strings"])
    assert len(docs) == cell["n"], _label(cell)
    _assert_prompts(cell, docs["prompt"])


def _assert_rendered_equal_cell(cell: dict, tokenizers: dict[str, Any], all_prompts: bool) -> None:
    """``cell`` against the functions :func:`build_splits` composes (the roles' items and
    demonstrations, the system prompt, the renderer and stops of the profile), without building
    the documents table: the first prompts, and all prompts when ``all_prompts``."""
    items = roles.scored_items(cell["dataset"], cell["role"])
    assert [item.key for item in items] == cell["keys"], _label(cell)
    seed = cell["fewshot_seed"]
    demos = [] if seed is None else roles.fewshot_items(cell["dataset"], seed)
    assert [demo.key for demo in demos] == (cell["demo_keys"] or []), _label(cell)
    profile, fmt = _cell_profile(cell), cell["format"]
    system = cell["system_prompt"]
    if profile.chat:
        tokenizer = tokenizers[profile.name]
        stops = chat.chat_stop_strings(profile, fmt)
        render = functools.partial(chat.render_chat_prompt, tokenizer, profile, fmt, system, demos)
    else:
        stops = stop_strings(profile, fmt)
        render = functools.partial(render_prompt, profile, fmt, system, demos)
    _assert_system_prompt_and_stops(cell, len(items[0].options), stops)
    _assert_prompts(cell, [render(item) for item in (items if all_prompts else items[: len(cell["prompts_head"])])])


def test_the_stored_runs_cover_every_knowledge_dataset_chat_profile_format_and_seed():
    assert sorted(STAND_INS) == CHAT_PROFILES
    assert set(chat_cells()) == set(system_cells()) == set(SOURCES)
    every_chat_cell = {(role, profile, fmt, seed) for role in ("val", "test") for profile in CHAT_PROFILES
                       for fmt in FORMATS for seed in FEWSHOT_SEEDS}
    for dataset_cells in chat_cells().values():
        assert {(c["role"], c["profile"], c["format"], c["fewshot_seed"]) for c in dataset_cells} == every_chat_cell
        assert len(dataset_cells) == len(every_chat_cell)
    every_system_cell = {(seed, fmt, shots) for seed in SYSTEM_PROMPT_SEEDS for fmt in FORMATS for shots in FEWSHOT_SEEDS}
    for dataset_cells in system_cells().values():
        assert {(c["system_prompt_seed"], c["format"], c["fewshot_seed"]) for c in dataset_cells} == every_system_cell
        assert len({c["system_prompt"] for c in dataset_cells}) > 1


def _chat_metadata(cell: dict, stand_ins: dict[str, Path]) -> dict:
    return _metadata(cell, profile=cell["profile"], tokenizer=str(stand_ins[cell["profile"]]))


def _system_metadata(cell: dict) -> dict:
    return _metadata(cell, system_prompt_seed=cell["system_prompt_seed"])


@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_a_sample_of_chat_prompts_equals_the_reference(dataset, stand_ins, use_data):
    for cell in sampled(chat_cells()[dataset], dataset):
        _assert_docs_equal_cell(cell, _chat_metadata(cell, stand_ins))


def every_format_and_seed_per_model(cells: list[dict]) -> list[dict]:
    """The validation cells in which each model (chat profile, or sampled system prompt) meets every
    format once and every few-shot seed once: format number ``n`` with seed number ``n + m`` for the
    ``m``-th model, a Latin square over the eleven formats and eleven seed settings."""
    models = sorted({(c["profile"], c.get("system_prompt_seed")) for c in cells}, key=str)
    chosen = []
    for shift, model in enumerate(models):
        for number, fmt in enumerate(FORMATS):
            seed = FEWSHOT_SEEDS[(number + shift) % len(FEWSHOT_SEEDS)]
            chosen += [c for c in cells if c["role"] == "val" and (c["profile"], c.get("system_prompt_seed")) == model
                       and c["format"] == fmt and c["fewshot_seed"] == seed]
    assert len(chosen) == len(models) * len(FORMATS)
    return chosen


def _assert_cells(cells: list[dict], tokenizers: dict[str, Any]) -> None:
    """Every cell's first prompt, ids, demonstrations, system prompt and stops; every prompt of the
    cells :func:`every_format_and_seed_per_model` picks."""
    whole = {id(cell) for cell in every_format_and_seed_per_model(cells)}
    for cell in cells:
        _assert_rendered_equal_cell(cell, tokenizers, all_prompts=id(cell) in whole)


@pytest.fixture(scope="module")
def tokenizers(stand_ins: dict[str, Path]) -> dict[str, Any]:
    """profile name -> its stand-in tokenizer, with the reference's chat template, as tasks load it."""
    return {profile: chat.load_tokenizer(PROFILES[profile], str(folder)) for profile, folder in stand_ins.items()}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_every_chat_cell_equals_the_reference(dataset, tokenizers, use_data):
    """Every stored cell: ids, demonstrations, system prompt, stops, first prompt; and every prompt
    (the digest) of the cells in which each chat profile meets every format and every few-shot
    seed (:func:`every_format_and_seed_per_model`; rendering every prompt of every cell would take
    minutes, PubMedQA's 500 validation prompts per cell most of them)."""
    _assert_cells(chat_cells()[dataset], tokenizers)


@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_a_sample_of_sampled_system_prompts_equals_the_reference(dataset, use_data):
    for cell in sampled(system_cells()[dataset], dataset):
        _assert_docs_equal_cell(cell, _system_metadata(cell))


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_every_sampled_system_prompt_cell_equals_the_reference(dataset, use_data):
    """As above, for the three sampled system prompts of a model the reference does not know."""
    _assert_cells(system_cells()[dataset], {})


def _task(dataset: str, name: str, **metadata):
    manager = TaskManager(include_path=str(task_path() / dataset), include_defaults=False,
                          metadata={"protocol": "jeong2024", **metadata})
    (task,) = manager.load([name])["tasks"].values()
    task.build_all_requests(rank=0, world_size=1)
    contexts = {}
    for instance in task.instances:
        contexts.setdefault(instance.doc_id, instance.arguments[0])
    return task, [contexts[i] for i in sorted(contexts)]


LM_EVAL_CHAT_CELLS = [  # (dataset, profile, format, seed, mode)
    ("medqa", "llama-3-8b-instruct", "f00", None, "gen"),
    ("medqa", "llama-3-8b-instruct", "f00", 3, "gen"),
    ("mmlu_anatomy", "llama-3-8b-instruct", "f03", None, "gen"),
    ("mmlu_anatomy", "llama-3-8b-instruct", "f07", 7, "mc"),
    ("medqa", "openbiollm-8b", "f00", 0, "gen"),
    ("mmlu_anatomy", "mistral-7b-v0.1", "f05", 3, "gen"),
    ("medqa", "clinical-camel-70b", "f00", 7, "gen"),
]


@pytest.mark.parametrize(("dataset", "profile", "format_id", "seed", "mode"), LM_EVAL_CHAT_CELLS)
def test_lm_eval_logs_the_reference_chat_prompt_for_a_folder_named_like_the_model(
        dataset, profile, format_id, seed, mode, stand_ins, use_data):
    (cell,) = [c for c in chat_cells()[dataset]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == ("val", profile, format_id, seed)]
    name = f"medpair_{dataset}_{mode}_{format_id}_k{0 if seed is None else 3}" + ("" if seed is None else f"_s{seed}")
    task, contexts = _task(dataset, name, pretrained=str(stand_ins[profile]))
    assert profile_for(str(stand_ins[profile])).name == profile
    assert contexts[: len(cell["prompts_head"])] == cell["prompts_head"]
    assert prompts_digest(contexts) == cell["digest"]
    assert {doc["profile"] for doc in task.eval_docs} == {profile}


def test_an_explicit_profile_reads_the_tokenizer_of_any_folder(stand_ins, use_data, tmp_path):
    (cell,) = [c for c in chat_cells()["medqa"]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == ("val", "llama-3-8b-instruct", "f02", 0)]
    renamed = tmp_path / "my-finetune"
    renamed.symlink_to(stand_ins["llama-3-8b-instruct"], target_is_directory=True)
    assert profile_for(str(renamed)).name == "generic"
    _, contexts = _task("medqa", "medpair_medqa_gen_f02_k3_s0", pretrained=str(renamed), profile="llama-3-8b-instruct")
    assert contexts[: len(cell["prompts_head"])] == cell["prompts_head"]


def test_a_chat_profile_without_a_tokenizer_is_refused(use_data, tmp_path):
    with pytest.raises(ValueError, match="renders prompts with the model's tokenizer"):
        _task("medqa", "medpair_medqa_gen", pretrained=str(tmp_path / "Meta-Llama-3-8B-Instruct"))
    with pytest.raises(ValueError, match="needs the model's tokenizer"):
        _task("medqa", "medpair_medqa_gen", profile="openbiollm-8b")


def test_lm_eval_logs_a_sampled_system_prompt_and_refuses_it_for_a_known_model(use_data):
    (cell,) = [c for c in system_cells()["pubmedqa"]
               if (c["system_prompt_seed"], c["format"], c["fewshot_seed"]) == (2, "f04", 5)]
    task, contexts = _task("pubmedqa", "medpair_pubmedqa_gen_f04_k3_s5", system_prompt_seed=2)
    assert contexts[: len(cell["prompts_head"])] == cell["prompts_head"]
    assert prompts_digest(contexts) == cell["digest"]
    assert task.config.metadata["system_prompt_seed"] == 2
    with pytest.raises(ValueError, match="fixes the system prompt"):
        _task("pubmedqa", "medpair_pubmedqa_gen_f04_k3_s5", system_prompt_seed=2, profile="meditron-7b")
    with pytest.raises(ValueError, match="seeds 0–2"):
        _task("pubmedqa", "medpair_pubmedqa_gen_f04_k3_s5", system_prompt_seed=3)


def test_the_documents_table_equals_datasets_own_and_its_fingerprint_follows_the_content(use_data):
    metadata = _system_metadata({"dataset": "medqa", "role": "val", "format": "f04", "fewshot_seed": 2,
                                 "system_prompt_seed": 1})
    splits = build_splits(metadata)
    for split in splits.values():
        rows = split.to_list()
        own = datasets.Dataset.from_list(rows)
        assert (split.features, split.to_list()) == (own.features, own.to_list())
    other = build_splits({**metadata, "format": "f05"})["eval"]
    assert other._fingerprint != splits["eval"]._fingerprint
    assert build_splits(metadata)["eval"]._fingerprint == splits["eval"]._fingerprint
