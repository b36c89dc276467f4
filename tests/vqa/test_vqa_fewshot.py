"""Few-shot prompts with images, and the evidence slot, inside lm-eval (in process, tiny VLM)."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest
from lm_eval.api.task import ConfigurableTask
from lm_eval.tasks import TaskManager
from vqa_testbed import tiny_vlm_pair

from medpair_tasks.lm_eval_internals import read_task_yaml
from medpair_tasks.registry import task_path
from medpair_tasks.vqa.hooks import doc_images
from medpair_tasks.vqa.task import VQATask

RAD_3SHOT = "medpair_vqa_rad_gen_f03_k3_s1"
MMMU = "medpair_mmmu_pharmacy_gen_f05_k3_s{seed}"


def _pixels(image) -> bytes:
    return np.asarray(image.convert("RGB")).tobytes()


def _load(names: list[str], **metadata) -> dict:
    """The named VQA tasks on the test role (indexing only the VQA folder: fast)."""
    manager = TaskManager(include_path=str(task_path() / "vqa"), include_defaults=False,
                          metadata={"role": "test", **metadata})
    return manager.load(names)["tasks"]


def _mmmu_seed_with_a_two_image_demonstration() -> int:
    from medpair_tasks.vqa.roles import fewshot_items

    return next(s for s in range(10) if any(len(i.images) == 2 for i in fewshot_items("mmmu_pharmacy", s)))


def _expected(task, doc) -> list[tuple[dict, int]]:
    """(document, number of images) of each document of the prompt, demonstrations first.

    The demonstrations: the first few-shot documents that share no image with ``doc``.
    """
    own = set(doc["image_sha256"])
    shown = [d for d in task.fewshot_docs() if own.isdisjoint(d["image_sha256"])][: task.config.num_fewshot]
    return [(d, len(d["images"])) for d in [*shown, doc]]


def test_each_placeholder_is_followed_by_its_own_documents_text_and_image(use_data):
    seed = _mmmu_seed_with_a_two_image_demonstration()
    tasks = _load([RAD_3SHOT, MMMU.format(seed=seed)])
    two_image_docs = 0
    for task in tasks.values():
        assert isinstance(task, VQATask) and task.config.num_fewshot == 3
        for doc in task.eval_docs:
            prompt = task.fewshot_context(doc, num_fewshot=3)
            images = task.doc_to_image(doc)
            segments = prompt.split("<image>")[1:]  # the text after each placeholder
            assert len(segments) == len(images)
            position = 0
            for shown, n_images in _expected(task, doc):
                two_image_docs += n_images == 2
                expected_pixels = [_pixels(image) for image in doc_images(shown)]
                assert [_pixels(image) for image in images[position : position + n_images]] == expected_pixels
                assert all(segment == "" for segment in segments[position : position + n_images - 1])
                assert shown["question"] in segments[position + n_images - 1]  # its text follows its last image
                position += n_images
            assert position == len(images)
    assert two_image_docs >= 2  # a demonstration and a scored MMMU question with two images each


@pytest.fixture(scope="module")
def lm():
    """lm-eval's hf-multimodal model on the tiny base VLM, its processor spied on."""
    from lm_eval.models.hf_vlms import HFMultimodalLM

    base, _ = tiny_vlm_pair()
    model = HFMultimodalLM(pretrained=str(base), device="cpu", batch_size=1, dtype="float32")
    model.processor = _Spy(model.processor)
    return model


class _Spy:
    """Records what the processor is called with, then calls it."""

    def __init__(self, processor) -> None:
        self.processor = processor
        self.calls: list[tuple[list[str], list]] = []

    def __call__(self, *args, **kwargs):
        self.calls.append((list(kwargs.get("text") or []), list(kwargs.get("images") or [])))
        return self.processor(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.processor, name)


@pytest.mark.slow
def test_processor_receives_one_image_per_placeholder_in_order(use_data, lm):
    seed = _mmmu_seed_with_a_two_image_demonstration()
    for name, task in _load([RAD_3SHOT, MMMU.format(seed=seed)]).items():
        task.build_all_requests()
        requests = task.instances
        for request in requests:
            request.args[1]["max_gen_toks"] = 2  # the prompt is what is tested, not the answer
        lm.processor.calls.clear()
        answers = lm.generate_until(requests)
        assert len(answers) == len(requests) and all(isinstance(a, str) for a in answers)
        assert len(lm.processor.calls) == len(requests)  # batch size 1: one call per request
        expected = {}
        for request in requests:
            doc = request.doc
            pixels = [_pixels(i) for shown, _ in _expected(task, doc) for i in doc_images(shown)]
            expected[request.args[0].replace("<image>", lm.image_token)] = pixels
        for (texts, images), in zip(lm.processor.calls):
            (text,) = texts
            assert text.count(lm.image_token) == len(images), name
            assert [_pixels(i) for i in images] == expected[text], name


@pytest.mark.slow
def test_stock_lm_eval_gives_a_three_shot_prompt_only_the_items_image(use_data, lm):
    """Without medpair's task class, lm-eval sends 1 image for 4 placeholders and the processor refuses."""
    config = read_task_yaml(task_path() / "vqa" / "vqa_rad" / "candidates" / f"{RAD_3SHOT}.yaml", resolve_functions=True)
    config.pop("class")
    config["metadata"] = {**config["metadata"], "role": "test"}
    stock = ConfigurableTask(config=config)
    stock.build_all_requests()
    request = stock.instances[0]
    assert request.args[0].count("<image>") == 4 and len(request.args[2]["visual"]) == 1
    with pytest.raises(ValueError, match="4 <image> tokens and 1 images"):
        lm.generate_until([request])


def test_a_prompt_without_its_images_stops_the_run(use_data):
    task = _load([RAD_3SHOT])[RAD_3SHOT]
    doc = task.eval_docs[0]
    with pytest.raises(RuntimeError, match="3 image placeholders but the request carries 4 images"):
        task.construct_requests(doc, "<image>" * 3, metadata=(RAD_3SHOT, 0, 1))


def test_a_random_sampler_is_refused(use_data):
    config = copy.deepcopy(read_task_yaml(task_path() / "vqa" / "slake" / "candidates" / "medpair_slake_gen_f00_k3_s2.yaml",
                                         resolve_functions=True))
    config["fewshot_config"] = {"split": "fewshot", "sampler": "default"}
    config["metadata"]["role"] = "test"
    with pytest.raises(ValueError, match="first_n"):
        VQATask(config=config)


def test_evidence_fills_the_findings_slot_and_leaves_the_documents_alone(use_data, tmp_path):
    name = "medpair_slake_gen_f00_k3_s2"
    plain = _load([name])[name]
    docs = list(plain.eval_docs)
    shown = list(plain.sampler.sample(n=3))
    lines = [{"dataset": "slake", "item_key": d["item_key"], "evidence": f"expert: {d['options'][d['answer_idx']]}"}
             for d in docs[1:] + shown[:1]]
    path = tmp_path / "findings.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    task = _load([name], evidence_file=str(path))[name]
    meta = task.config.metadata
    assert meta["evidence"] is True and meta["evidence_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (meta["evidence_scored"], meta["evidence_missing"]) == (len(docs) - 1, 1)
    assert plain.config.metadata["evidence"] is False and plain.config.metadata["evidence_sha256"] is None
    for doc, plain_doc in zip(task.eval_docs, docs):
        assert doc == plain_doc  # same document, so the same doc_hash with and without evidence
        prompt, plain_prompt = task.fewshot_context(doc, num_fewshot=3), plain.fewshot_context(doc, num_fewshot=3)
        assert prompt.count("Findings:") == (doc["item_key"] != docs[0]["item_key"]) + 1  # its own + 1st demo's
        assert "Findings:" not in plain_prompt
        assert prompt.replace("\n", "").count("<image>") == plain_prompt.count("<image>") == 4


def test_an_evidence_file_for_other_items_is_an_error(use_data, tmp_path):
    path = tmp_path / "findings.jsonl"
    path.write_text(json.dumps({"item_key": "no-such-item", "evidence": "x"}) + "\n")
    with pytest.raises(ValueError, match="has no line for any of the 6 scored items of slake"):
        _load(["medpair_slake_gen_f00_k0"], evidence_file=str(path))


def test_groups_hold_the_bare_test_tasks(use_data):
    manager = TaskManager(include_path=str(task_path() / "vqa"), include_defaults=False)
    tasks = manager.load(["medpair_vqa"])["tasks"]
    assert sorted(tasks) == sorted(
        ["medpair_vqa_rad_gen", "medpair_slake_gen", "medpair_pathvqa_gen"]
        + [f"medpair_mmmu_{s}_gen" for s in ("basic_medical_science", "clinical_medicine",
                                               "diagnostics_and_laboratory_medicine", "pharmacy", "public_health")]
    )
    for name, task in tasks.items():
        meta = task.config.metadata
        assert isinstance(task, VQATask) and (meta["role"], meta["shots"], meta["format"], meta["mode"]) == ("test", 0, "f00", "gen")
        assert {doc["role"] for doc in task.eval_docs} == {"test"}
