"""``jeong2024`` chat-model profiles and sampled system prompts against the reference code's output.

``chat_prompts.jsonl.gz`` and ``system_prompts.jsonl.gz`` (tests/fixtures/reference, made as
NOTE.md says) hold the reference's prompts for chat models, rendered through offline stand-ins
of their tokenizers (tests/chat_tokenizers.py), and for a model it does not know under its
three sampled system prompts. medpair's prompts must equal them character for character.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from lm_eval.tasks import TaskManager

from chat_tokenizers import STAND_INS, build_stand_in
from medpair_tasks import jeong2024_chat as chat
from medpair_tasks import jeong2024_roles as roles
from medpair_tasks.jeong2024 import PROFILES, profile_for, render_prompt, system_prompt
from medpair_tasks.jeong2024_system import sampled_system_prompt
from medpair_tasks.registry import task_path
from test_jeong2024 import digest

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"


@cache
def stored(name: str) -> dict[str, list[dict]]:
    """The cells of one stored reference run, per dataset."""
    cells = defaultdict(list)
    with gzip.open(REFERENCE / name, "rt", encoding="utf-8") as fh:
        for line in fh:
            cell = json.loads(line)
            cells[cell["dataset"]].append(cell)
    return dict(cells)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """profile name -> folder of its stand-in tokenizer (named like the model's hub id)."""
    root = tmp_path_factory.mktemp("chat-tokenizers")
    return {profile: build_stand_in(profile, root) for profile in STAND_INS}


def _demos(dataset: str, seed: int | None) -> list:
    return [] if seed is None else roles.fewshot_items(dataset, seed)


def test_the_stored_runs_cover_zero_and_three_shot_default_and_sampled_formats():
    for dataset_cells in stored("chat_prompts.jsonl.gz").values():
        combos = {(c["profile"], c["format"], c["fewshot_seed"]) for c in dataset_cells}
        assert len(combos) == len(STAND_INS) * 11 * 4  # formats f00–f10 × zero-shot and few-shot seeds 0, 3, 7
    for dataset_cells in stored("system_prompts.jsonl.gz").values():
        assert {c["system_prompt_seed"] for c in dataset_cells} == {0, 1, 2}
        assert len({c["system_prompt"] for c in dataset_cells}) > 1


@pytest.mark.parametrize("dataset", sorted(stored("chat_prompts.jsonl.gz")))
def test_chat_prompts_equal_the_reference(dataset, stand_ins, use_data):
    tokenizers = {p: chat.load_tokenizer(PROFILES[p], str(folder)) for p, folder in stand_ins.items()}
    items = roles.scored_items(dataset, "val")
    for cell in stored("chat_prompts.jsonl.gz")[dataset]:
        profile, tokenizer = PROFILES[cell["profile"]], tokenizers[cell["profile"]]
        assert [item.key for item in items] == cell["keys"]
        demos = _demos(dataset, cell["fewshot_seed"])
        assert [d.key for d in demos] == (cell["demo_keys"] or [])
        system = system_prompt(profile, dataset, len(items[0].options))
        assert system == cell["system_prompt"]
        prompts = [chat.render_chat_prompt(tokenizer, profile, cell["format"], system, demos, item) for item in items]
        label = (cell["profile"], cell["format"], cell["fewshot_seed"])
        assert prompts[: len(cell["prompts_head"])] == cell["prompts_head"], label
        assert digest(prompts) == cell["digest"], label
        stops = {*chat.chat_stop_strings(profile, cell["format"]), tokenizer.eos_token}
        assert stops == set(cell["stop_words"]), label


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
    (cell,) = [c for c in stored("chat_prompts.jsonl.gz")[dataset]
               if (c["profile"], c["format"], c["fewshot_seed"]) == (profile, format_id, seed)]
    name = f"medpair_{dataset}_{mode}_{format_id}_k{0 if seed is None else 3}" + ("" if seed is None else f"_s{seed}")
    task, contexts = _task(dataset, name, pretrained=str(stand_ins[profile]))
    assert profile_for(str(stand_ins[profile])).name == profile
    assert contexts[: len(cell["prompts_head"])] == cell["prompts_head"]
    assert digest(contexts) == cell["digest"]
    assert {doc["profile"] for doc in task.eval_docs} == {profile}


def test_an_explicit_profile_reads_the_tokenizer_of_any_folder(stand_ins, use_data, tmp_path):
    (cell,) = [c for c in stored("chat_prompts.jsonl.gz")["medqa"]
               if (c["profile"], c["format"], c["fewshot_seed"]) == ("llama-3-8b-instruct", "f02", 0)]
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


@pytest.mark.parametrize("dataset", sorted(stored("system_prompts.jsonl.gz")))
def test_sampled_system_prompts_equal_the_reference(dataset, use_data):
    generic = PROFILES["generic"]
    items = roles.scored_items(dataset, "val")
    for cell in stored("system_prompts.jsonl.gz")[dataset]:
        system = sampled_system_prompt(cell["system_prompt_seed"], len(items[0].options))
        assert system == cell["system_prompt"]
        demos = _demos(dataset, cell["fewshot_seed"])
        prompts = [render_prompt(generic, cell["format"], system, demos, item) for item in items]
        label = (cell["system_prompt_seed"], cell["format"], cell["fewshot_seed"])
        assert prompts[: len(cell["prompts_head"])] == cell["prompts_head"], label
        assert digest(prompts) == cell["digest"], label


def test_lm_eval_logs_a_sampled_system_prompt_and_refuses_it_for_a_known_model(use_data):
    (cell,) = [c for c in stored("system_prompts.jsonl.gz")["pubmedqa"]
               if (c["system_prompt_seed"], c["format"], c["fewshot_seed"]) == (2, "f04", 5)]
    task, contexts = _task("pubmedqa", "medpair_pubmedqa_gen_f04_k3_s5", system_prompt_seed=2)
    assert contexts[: len(cell["prompts_head"])] == cell["prompts_head"]
    assert digest(contexts) == cell["digest"]
    assert task.config.metadata["system_prompt_seed"] == 2
    with pytest.raises(ValueError, match="fixes the system prompt"):
        _task("pubmedqa", "medpair_pubmedqa_gen_f04_k3_s5", system_prompt_seed=2, profile="meditron-7b")
    with pytest.raises(ValueError, match="seeds 0–2"):
        _task("pubmedqa", "medpair_pubmedqa_gen_f04_k3_s5", system_prompt_seed=3)
