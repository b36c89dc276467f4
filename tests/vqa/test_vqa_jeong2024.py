"""The VQA tasks under ``jeong2024`` equal the reference code's populations, demonstrations and prompts.

The expected values are outputs of Jeong et al.'s reference code (``taekb/eval-medical-dapt`` at
908bb86) run once, offline, on this repository's VQA fixtures: see tests/fixtures/reference/NOTE.md,
section "VQA". Prompts are compared through the functions that build the documents (one
lm-eval-level check builds a task's requests, without a model).
"""

from __future__ import annotations

from functools import cache

import pytest
from lm_eval.tasks import TaskManager
from medpair_testlib import REPO, prompts_digest, read_reference_cells

from medpair_tasks.vqa import jeong2024 as vqa
from medpair_tasks.vqa.jeong2024_data import DATASETS, slake_options

CELLS = REPO / "tests" / "fixtures" / "reference" / "vqa_prompts.jsonl.gz"
# The reference's LLaVA image tokens for one image (LLaVA-v0 / LLaVA-Med: image start, 256 patches, end),
# which lm-eval's hf-multimodal processor puts where medpair's prompt has its <image> placeholder.
LLAVA_IMAGE = "<im_start>" + "<im_patch>" * 256 + "<im_end>"


@cache
def reference_cells() -> dict[str, list[dict]]:
    """The stored cells, per dataset (read once per test process)."""
    return read_reference_cells(CELLS)


def as_reference(prompt: str, profile: str) -> str:
    """medpair's prompt with each image placeholder as the reference's text has it."""
    return prompt.replace("<image>", LLAVA_IMAGE) if vqa.PROFILES[profile].family == "llava" else prompt


def test_the_reference_run_covers_every_dataset_profile_format_and_seed():
    cells = reference_cells()
    assert sorted(cells) == sorted(DATASETS)
    for dataset, dataset_cells in cells.items():
        assert {c["fewshot_seed"] for c in dataset_cells} == {None, *range(10)}, dataset
        assert {c["format"] for c in dataset_cells} == {f"f{i:02d}" for i in range(11)}
        assert {c["profile"] for c in dataset_cells} == set(vqa.PROFILES)
        assert {c["role"] for c in dataset_cells} == {"val", "test"}


@pytest.mark.parametrize("dataset", DATASETS)
def test_populations_prompts_and_demonstrations_equal_the_reference(dataset, use_data):
    for cell in reference_cells()[dataset]:
        where = (cell["role"], cell["profile"], cell["format"], cell["fewshot_seed"])
        items = vqa.scored_items(dataset, cell["role"])
        assert [item.key for item in items] == cell["keys"], where
        seed = cell["fewshot_seed"]
        demos = [] if seed is None else vqa.fewshot_items(dataset, seed, 3)
        assert [d.key for d in demos] == cell["demo_keys"], where
        profile = vqa.PROFILES[cell["profile"]]
        assert profile.system == cell["system_prompt"]
        prompts = [as_reference(vqa.render_prompt(profile, cell["format"], demos, item), profile.name)
                   for item in items]
        assert prompts[: len(cell["prompts"])] == cell["prompts"], where
        assert prompts_digest(prompts) == cell["digest"], where


@pytest.mark.parametrize(("question", "answer", "options"), [
    ("Which is bigger in this image,small bowel or kidney?", "kidney", ["small bowel", "kidney"]),
    ("Which organ is bigger, liver or heart?", "heart", ["liver", "heart"]),
    ("Which organ is bigger, left lung or heart?", "left lung", None),  # split into words: no "left lung" option
    ("Is the lesion left or right?", "left", None),  # no comma, not a known question
    ("Which is bigger, liver or heart?", "both", ["liver", "heart", "both"]),
    ("Is there a mass?", "yes", ["yes", "no"]),
])
def test_slake_options_follow_the_notebook(question, answer, options):
    assert slake_options(question, answer) == options


def test_profiles_are_found_by_model_name_or_named():
    assert vqa.vlm_profile("microsoft/llava-med-7b-delta").name == "llava-med-7b"
    assert vqa.vlm_profile("/models/med-flamingo").name == "med-flamingo-9b"
    assert vqa.vlm_profile("openflamingo/OpenFlamingo-9B-deprecated").name == "open-flamingo-9b"
    assert vqa.vlm_profile("/models/tiny", "llava-v0-7b").name == "llava-v0-7b"
    with pytest.raises(ValueError, match="profile"):
        vqa.vlm_profile("/models/tiny-vlm")


def test_stops_are_the_reference_decoders(use_data):
    assert vqa.stop_strings(vqa.PROFILES["llava-med-7b"]) == ("###",)
    assert vqa.stop_strings(vqa.PROFILES["med-flamingo-9b"]) == ("Question:", "<|endofchunk|>")


def test_lm_eval_logs_the_reference_prompt_and_records_the_protocol(use_data):
    (cell,) = [c for c in reference_cells()["vqa_rad"]
               if (c["role"], c["profile"], c["format"], c["fewshot_seed"]) == ("val", "med-flamingo-9b", "f04", 2)]
    from medpair_tasks.registry import task_path

    manager = TaskManager(include_path=str(task_path() / "vqa" / "vqa_rad"), include_defaults=False,
                          metadata={"protocol": "jeong2024", "profile": "med-flamingo-9b"})
    (task,) = manager.load(["medpair_vqa_rad_gen_f04_k3_s2"])["tasks"].values()
    task.build_all_requests(rank=0, world_size=1)
    contexts, images = {}, {}
    for instance in task.instances:
        contexts.setdefault(instance.doc_id, instance.arguments[0])
        images.setdefault(instance.doc_id, len(instance.arguments[-1]["visual"]))
    logged = [contexts[i] for i in sorted(contexts)]
    assert logged[: len(cell["prompts"])] == cell["prompts"]
    assert prompts_digest(logged) == cell["digest"]
    assert set(images.values()) == {4}  # three demonstrations' first images, then the item's
    assert [doc["item_key"] for doc in task.eval_docs] == cell["keys"]
    assert task.config.metadata["protocol"] == "jeong2024"
    assert task.eval_docs[0]["stop_strings"] == ["Question:", "<|endofchunk|>"]


def test_medpair_protocol_prompts_are_unchanged_by_jeong2024(use_data):
    """Without the protocol switch a VQA task keeps medpair's populations and format (no finished prompt)."""
    from medpair_tasks.registry import task_path

    manager = TaskManager(include_path=str(task_path() / "vqa" / "vqa_rad"), include_defaults=False)
    (task,) = manager.load(["medpair_vqa_rad_gen_f00_k0"])["tasks"].values()
    assert "prompt" not in task.eval_docs[0]
    assert task.config.metadata["protocol"] == "medpair"


def test_without_the_release_files_jeong2024_says_where_they_go(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    with pytest.raises(ValueError, match=r"release files from \$MEDPAIR_DATA_DIR"):
        vqa.scored_items("slake", "test")


def test_an_evidence_file_is_refused_under_jeong2024(use_data, tmp_path):
    from medpair_tasks.registry import task_path

    evidence = tmp_path / "findings.jsonl"
    evidence.write_text('{"item_key": "1", "evidence": "edema: present"}\n', encoding="utf-8")
    manager = TaskManager(include_path=str(task_path() / "vqa" / "vqa_rad"), include_defaults=False,
                          metadata={"protocol": "jeong2024", "profile": "llava-med-7b", "evidence_file": str(evidence)})
    with pytest.raises(ValueError, match="evidence file is a medpair-protocol feature"):
        manager.load(["medpair_vqa_rad_gen"])


def test_a_llava_request_keeps_the_images_its_placeholders_take():
    """MMMU: the reference's LLaVA prompt has one image per ``<image k>`` mention, its model uses that many."""
    images = ["demo 1", "demo 2", "item a", "item b"]
    llava = {"profile": "llava-med-7b", "prompt": "q1\n<image> q2\n<image> q3\n<image>"}
    flamingo = {"profile": "med-flamingo-9b", "prompt": "<image>q1 <image>q2 <image><image>q3"}
    assert vqa.reference_images(llava, images) == ["demo 1", "demo 2", "item a"]
    assert vqa.reference_images(flamingo, images) == images
