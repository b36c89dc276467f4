"""Few-shot demonstrations never share a source with the scored item (issue 15).

The leak tests build lm-eval's real requests (``TaskManager`` + ``build_all_requests``) over
releases in which many questions share an image or a premise (tests/fixtures/shared_source,
written by make_shared_source_fixtures.py), and look at what the prompts show: the images'
pixels, the premise and abstract texts. They do not ask medpair which sources it thinks a
document has. The rule itself, on hand-made documents: test_fewshot_rule.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from lm_eval.tasks import TaskManager

from medpair_testlib import REPO
from medpair_tasks.registry import task_path
from medpair_tasks.vqa.hooks import doc_images

SHARED = REPO / "tests" / "fixtures" / "shared_source"
SEEDS = range(10)
SHOTS = 3


@pytest.fixture()
def shared_data(data_dir, tmp_path, monkeypatch):
    """MEDPAIR_DATA_DIR with the shared-source VQA-RAD, SLAKE and MedNLI releases, the usual fixtures otherwise."""
    root = tmp_path / "data"
    root.mkdir()
    for folder in data_dir.iterdir():
        replacement = SHARED / folder.name
        target = replacement if replacement.is_dir() else folder.resolve()
        (root / folder.name).symlink_to(target, target_is_directory=True)
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(root))
    return root


def _tasks(folder: str, names: list[str], **metadata) -> dict:
    manager = TaskManager(include_path=str(task_path() / folder), include_defaults=False,
                          metadata={"role": "test", **metadata})
    return manager.load(names)["tasks"]


def _pixels(image) -> bytes:
    return np.asarray(image.convert("RGB")).tobytes()


def _image_leaks(task) -> tuple[int, list[str]]:
    """(requests built, keys of the items whose prompt shows one of their own images in a demonstration)."""
    task.build_all_requests()
    leaks = []
    for request in task.instances:
        context, _, visuals = request.arguments
        images = visuals["visual"]
        own = len(request.doc["images"])
        assert context.count("<image>") == len(images) == SHOTS + own, task.config.task
        item_pixels = {_pixels(image) for image in images[-own:]}
        leaks += [request.doc["item_key"] for image in images[:-own] if _pixels(image) in item_pixels]
    return len(task.instances), leaks


def _shared_image_pairs(items: list[dict], demonstrations: list[dict]) -> list[tuple[str, str]]:
    """(item, demonstration) key pairs that show a common image, by pixels, sorted."""
    pixels = {id(doc): {_pixels(image) for image in doc_images(doc)} for doc in [*items, *demonstrations]}
    return sorted((item["item_key"], demo["item_key"]) for item in items for demo in demonstrations
                  if pixels[id(item)] & pixels[id(demo)])


def _draws_sharing_an_image(task) -> int:
    """How many scored items share an image with one of the seed's draws (the leak this guards against)."""
    pairs = _shared_image_pairs(list(task.eval_docs), list(task.fewshot_docs())[:SHOTS])
    return len({item for item, _ in pairs})


def test_no_three_shot_vqa_prompt_shows_the_items_own_image(shared_data):
    names = [f"medpair_{dataset}_gen_f00_k3_s{seed}" for dataset in ("vqa_rad", "slake") for seed in SEEDS]
    checked = would_leak = 0
    for name, task in _tasks("vqa", names).items():
        requests, leaks = _image_leaks(task)
        assert leaks == [], f"{name}: demonstrations about the item's own image: {leaks}"
        checked += requests
        would_leak += _draws_sharing_an_image(task)
    assert checked == 10 * (8 + 6)  # every seed, all scored items of both releases
    assert would_leak >= 40  # the seeds' draws share an image with many items: the rule had work to do


def _premise(doc: dict) -> str:
    return doc["question"].split('"')[1]  # 'Premise: "…"\nHypothesis: "…"\n…'


def test_no_three_shot_clinical_prompt_shows_the_items_own_premise_or_note(shared_data):
    names = [f"medpair_mednli_{mode}_f00_k3_s{seed}" for mode in ("mc", "gen") for seed in SEEDS]
    names += [f"medpair_ehrnoteqa_gen_f00_k3_s{seed}" for seed in SEEDS]
    checked = would_leak = 0
    for name, task in _tasks("clinical", names).items():
        task.build_all_requests()
        draws = list(task.fewshot_docs())[:SHOTS]
        for request in task.instances:
            context = request.arguments[0]
            doc = request.doc
            own = _premise(doc) if doc["dataset"] == "mednli" else doc["context"]
            assert context.count(own) == 1, f"{name}, item {doc['item_key']}: its premise or note is shown again"
            checked += 1
        if name.startswith("medpair_mednli"):
            would_leak += sum(any(_premise(d) == _premise(doc) for d in draws) for doc in task.eval_docs)
    assert checked == 10 * (9 * 3 + 9 + 2)  # mc: one request per option
    assert would_leak >= 60


def test_no_three_shot_pubmedqa_prompt_shows_the_items_own_abstract(use_data):
    names = [f"medpair_pubmedqa_gen_f00_k3_s{seed}" for seed in (0, 1)]
    tasks = TaskManager(include_path=str(task_path() / "pubmedqa"), include_defaults=False,
                        metadata={"role": "test"}).load(names)["tasks"]
    for name, task in tasks.items():
        task.build_all_requests()
        assert len(task.instances) == 500
        for request in task.instances:
            assert request.arguments[0].count(request.doc["context"]) == 1, name


def test_fixed_draws_are_kept_and_their_shared_images_reported(shared_data):
    """A protocol that prescribes the draws keeps them; the metadata names the shared-image demonstrations."""
    names = [f"medpair_vqa_rad_gen_f00_k3_s{seed}" for seed in SEEDS]
    reported = 0
    for name, task in _tasks("vqa", names, fewshot_rule="fixed_draws").items():
        _, leaks = _image_leaks(task)
        draws = list(task.fewshot_docs())[:SHOTS]
        for request in task.instances:
            shown = [_pixels(image) for image in request.arguments[2]["visual"][:-1]]
            assert shown == [_pixels(image) for doc in draws for image in doc_images(doc)], name
        report = task.dump_config()["metadata"]["fewshot_sources"]
        assert report["rule"] == "fixed_draws" and report["items_with_other_demonstrations"] == 0
        pairs = _shared_image_pairs(list(task.eval_docs), draws)
        assert report["shared_source_demonstrations"] == {
            "count": len(pairs),
            "items": sorted({item for item, _ in pairs}),
            "pairs": [list(pair) for pair in pairs],
        }, name
        assert len(leaks) == len(pairs)  # each reported pair is an image the prompt shows twice
        reported += len(pairs)
    assert reported > 0


def test_the_default_rule_reports_no_shared_source_and_the_replaced_draws(shared_data):
    names = [f"medpair_vqa_rad_gen_f00_k3_s{seed}" for seed in SEEDS]
    for name, task in _tasks("vqa", names).items():
        report = task.dump_config()["metadata"]["fewshot_sources"]
        assert report["rule"] == "source_disjoint" and report["items"] == 8
        assert report["shared_source_demonstrations"] == {"count": 0, "items": [], "pairs": []}
        assert report["items_with_other_demonstrations"] == _draws_sharing_an_image(task), name


def test_zero_shot_tasks_report_nothing(shared_data):
    (task,) = _tasks("vqa", ["medpair_vqa_rad_gen_f00_k0"]).values()
    assert "fewshot_sources" not in task.dump_config()["metadata"]

