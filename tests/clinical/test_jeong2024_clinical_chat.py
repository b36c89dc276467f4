"""The clinical datasets under ``jeong2024`` for chat models and sampled system prompts, against the reference.

``tests/fixtures/reference/clinical_chat_prompts.jsonl.gz`` and ``clinical_system_prompts.jsonl.gz``
were made by running the reference's clinical preprocessing and dataset classes once, offline, on
the made-up fixtures: chat models rendered through offline stand-ins of their tokenizers
(tests/chat_tokenizers.py), and a model the reference does not know under its three sampled system
prompts (see tests/fixtures/reference/NOTE.md). Every stored cell's first prompt, item and
demonstration keys, system prompt and stop strings are compared; every prompt of one cell per
dataset and profile (roles, formats and few-shot seeds rotating), because a chat prompt costs a
chat-template rendering; and the documents the task builds for one cell per dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from lm_eval.tasks import TaskManager
from medpair_testlib import prompts_digest, read_reference_cells
from test_jeong2024_clinical import DATA, FEW_SHOT_DATASETS, clinical_data, count_tokenizer  # noqa: F401 (fixtures)

from chat_tokenizers import STAND_INS, build_stand_in
from medpair_tasks import jeong2024_docs
from medpair_tasks.clinical import jeong2024 as clinical
from medpair_tasks.jeong2024 import PROFILES
from medpair_tasks.registry import task_path

REFERENCE = DATA.parent / "reference"
CHAT = "clinical_chat_prompts.jsonl.gz"
SYSTEM = "clinical_system_prompts.jsonl.gz"
CHAT_PROFILES = ("llama-3-8b-instruct", "openbiollm-8b", "mistral-7b-v0.1", "clinical-camel-70b")
FORMATS = {f"f{i:02d}" for i in range(11)}


@cache
def stored(name: str) -> dict[str, list[dict]]:
    """The cells of one stored reference run, per dataset."""
    return read_reference_cells(REFERENCE / name)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """profile name -> folder of its stand-in tokenizer (named like the model's hub id)."""
    root = tmp_path_factory.mktemp("chat-tokenizers")
    return {profile: build_stand_in(profile, root) for profile in CHAT_PROFILES}


def _metadata(cell: dict, stand_ins: dict[str, Path], note_tokenizer: str) -> dict:
    """The task metadata of a stored cell (what ``--metadata`` and ``--model_args`` give ``build_splits``)."""
    seed = cell["fewshot_seed"]
    metadata = {"protocol": "jeong2024", "dataset": cell["dataset"], "role": cell["role"], "format": cell["format"],
                "shots": 0 if seed is None else 3, "fewshot_seed": seed, "note_tokenizer": note_tokenizer,
                "profile": cell["profile"], "system_prompt_seed": cell.get("system_prompt_seed")}
    if cell["profile"] in stand_ins:
        metadata["pretrained"] = str(stand_ins[cell["profile"]])
    return metadata


def whole_cells(name: str) -> Iterator[dict]:
    """One cell per (dataset, profile, system-prompt seed), the k-th such group's cell at position 13·k of
    its cells (roles, then few-shot seeds, then formats): roles, formats and seeds rotate from group to group."""
    number = 0
    for dataset in clinical.DATASETS:
        groups: dict[tuple, list[dict]] = {}
        for cell in stored(name)[dataset]:
            groups.setdefault((cell["profile"], cell["system_prompt_seed"]), []).append(cell)
        for group in groups.values():
            yield group[(13 * number) % len(group)]
            number += 1


@pytest.mark.parametrize(("name", "profiles", "system_seeds"),
                         [(CHAT, set(CHAT_PROFILES), {None}), (SYSTEM, {"generic"}, {0, 1, 2})])
def test_the_reference_runs_cover_every_clinical_dataset_role_format_and_seed(name, profiles, system_seeds):
    cells = stored(name)
    assert sorted(cells) == sorted(clinical.DATASETS)
    for dataset, dataset_cells in cells.items():
        few_shot = {None, *range(10)} if dataset in FEW_SHOT_DATASETS else {None}
        expected = {(role, profile, system, fmt, seed) for role in ("val", "test") for profile in profiles
                    for system in system_seeds for fmt in FORMATS for seed in few_shot}
        found = [(c["role"], c["profile"], c["system_prompt_seed"], c["format"], c["fewshot_seed"])
                 for c in dataset_cells]
        assert sorted(found, key=str) == sorted(expected, key=str), dataset
    whole = list(whole_cells(name))
    assert {c["format"] for c in whole} == FORMATS and {c["profile"] for c in whole} == profiles
    assert {c["role"] for c in whole} == {"val", "test"}
    assert {c["fewshot_seed"] is None for c in whole} == {True, False}


class CellRenderer:
    """Renders a stored cell with the functions a task's ``build_splits`` uses (one renderer per profile
    and format), checking its items, demonstrations and system prompt on the way."""

    def __init__(self, stand_ins: dict[str, Path], note_tokenizer: str) -> None:
        self.stand_ins, self.note_tokenizer = stand_ins, note_tokenizer
        self.renderers: dict[tuple[str, str], jeong2024_docs.Renderer] = {}

    def prompts(self, cell: dict, limit: int | None = None) -> list[str]:
        """The cell's prompts (the first ``limit``, or all)."""
        dataset, where = cell["dataset"], _where(cell)
        items = clinical.scored_items(dataset, cell["role"], tokenizer=self.note_tokenizer)
        assert [item.key for item in items] == cell["keys"], where
        seed = cell["fewshot_seed"]
        demos = [] if seed is None else clinical.fewshot_items(dataset, seed, 3)
        assert [d.key for d in demos] == cell["demo_keys"], where
        system = clinical.system_prompt(dataset, cell["system_prompt_seed"])
        assert system == cell["system_prompt"], where
        key = (cell["profile"], cell["format"])
        if key not in self.renderers:
            self.renderers[key] = jeong2024_docs.renderer(_metadata(cell, self.stand_ins, self.note_tokenizer),
                                                          PROFILES[cell["profile"]], cell["format"], clinical.verbatim)
        return [self.renderers[key](system, demos, item) for item in items[:limit]]


def _where(cell: dict) -> tuple:
    return (cell["dataset"], cell["role"], cell["profile"], cell["system_prompt_seed"], cell["format"],
            cell["fewshot_seed"])


@pytest.fixture(scope="module")
def cell_renderer(stand_ins: dict[str, Path], count_tokenizer: str) -> CellRenderer:
    """One :class:`CellRenderer` for the module (its renderers are reused from test to test)."""
    return CellRenderer(stand_ins, count_tokenizer)


@pytest.mark.parametrize("name", [CHAT, SYSTEM])
@pytest.mark.parametrize("dataset", clinical.DATASETS)
def test_first_prompts_keys_demonstrations_system_prompts_and_stops_equal_the_reference(
        name, dataset, clinical_data, cell_renderer):
    for cell in stored(name)[dataset]:
        assert cell_renderer.prompts(cell, len(cell["prompts_head"])) == cell["prompts_head"], _where(cell)
        profile = PROFILES[cell["profile"]]
        stops = set(jeong2024_docs.generation_stops(profile, cell["format"]))
        if cell["stop_words"] is None:  # a text template: "###" and its headers
            assert stops == {"###", *cell["stop_headers"]}, _where(cell)
        else:  # a chat model's stops and its end-of-sequence token (which lm-eval adds itself)
            assert stops | {STAND_INS[profile.name].eos} == set(cell["stop_words"]), _where(cell)


@pytest.mark.parametrize("name", [CHAT, SYSTEM])
def test_every_prompt_of_a_cell_per_dataset_and_profile_equals_the_reference(name, clinical_data, cell_renderer):
    for cell in whole_cells(name):
        assert prompts_digest(cell_renderer.prompts(cell)) == cell["digest"], _where(cell)


@pytest.mark.parametrize("name", [CHAT, SYSTEM])
def test_the_documents_a_task_builds_carry_the_reference_prompts(name, clinical_data, count_tokenizer, stand_ins):
    """``build_splits`` (what the task's ``custom_dataset`` returns) for one cell per dataset."""
    first = {}
    for cell in whole_cells(name):
        first.setdefault(cell["dataset"], cell)
    for cell in first.values():
        docs = clinical.build_splits(_metadata(cell, stand_ins, count_tokenizer))["eval"]
        assert docs["item_key"] == cell["keys"], _where(cell)
        assert prompts_digest(docs["prompt"]) == cell["digest"], _where(cell)
        assert {tuple(d) for d in docs["demo_keys"]} == {tuple(cell["demo_keys"])}, _where(cell)
        assert set(docs["profile"]) == {cell["profile"]}, _where(cell)
        assert set(docs["system_prompt_seed"]) == {cell["system_prompt_seed"]}, _where(cell)
        stops = set(jeong2024_docs.generation_stops(PROFILES[cell["profile"]], cell["format"]))
        assert {tuple(sorted(d)) for d in docs["stop_strings"]} == {tuple(sorted(stops))}, _where(cell)


def _task(name: str, folder: str, metadata: dict):
    manager = TaskManager(include_path=str(task_path() / "clinical" / folder), include_defaults=False,
                          metadata={"protocol": "jeong2024", **metadata})
    (task,) = manager.load([name])["tasks"].values()
    return task


def test_lm_eval_logs_the_reference_chat_prompt(clinical_data, count_tokenizer, stand_ins):
    """Mistral-7B-Instruct's template has no system turn: the system prompt heads the first
    demonstration's bare question, as in the reference."""
    (cell,) = [c for c in stored(CHAT)["mednli"] if (c["role"], c["profile"], c["format"], c["fewshot_seed"])
               == ("val", "mistral-7b-v0.1", "f00", 2)]
    task = _task("medpair_mednli_gen_f00_k3_s2", "mednli",
                 {"pretrained": str(stand_ins["mistral-7b-v0.1"]), "note_tokenizer": count_tokenizer})
    task.build_all_requests(rank=0, world_size=1)
    contexts: dict[int, str] = {}
    for instance in task.instances:
        contexts.setdefault(instance.doc_id, instance.arguments[0])
    logged = [contexts[i] for i in sorted(contexts)]
    assert logged[: len(cell["prompts_head"])] == cell["prompts_head"]
    assert prompts_digest(logged) == cell["digest"]
    assert cell["system_prompt"] + "\n" in logged[0]
    assert {*task.eval_docs[0]["stop_strings"], "</s>"} == set(cell["stop_words"])
    assert task.dump_config()["metadata"]["truncation"]["active"] is False


def test_truncation_and_a_sampled_system_prompt_are_refused_for_a_chat_model(clinical_data, count_tokenizer,
                                                                            stand_ins):
    metadata = {"pretrained": str(stand_ins["llama-3-8b-instruct"]), "note_tokenizer": count_tokenizer}
    with pytest.raises(ValueError, match="medpair protocol only"):
        _task("medpair_ehrnoteqa_gen", "ehrnoteqa", {**metadata, "truncation": "left"})
    with pytest.raises(ValueError, match="fixes the system prompt"):
        _task("medpair_ehrnoteqa_gen", "ehrnoteqa", {**metadata, "system_prompt_seed": 1})
