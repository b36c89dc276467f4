"""VQA data: closed-question options, the readers on the fixture releases, split roles, clear errors."""

from __future__ import annotations

import json
import pickle
import zipfile

import datasets
import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from medpair_tasks.family.sources import DataUnavailable
from medpair_tasks.vqa.images import ZipImages
from medpair_tasks.vqa.records import closed_options
from medpair_tasks.vqa.roles import hf_train_indices, roles_from, scored_items, sklearn_test_indices, vqa_roles
from medpair_tasks.vqa.sources import VQA_SOURCES, load_vqa_source

MMMU = [name for name in VQA_SOURCES if name.startswith("mmmu_")]


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("Does the picture contain liver?", "Yes", (("yes", "no"), 0)),
        ("Is there a pneumothorax", "NO", (("yes", "no"), 1)),
        ("Which is bigger in this image,left lung or left kidney?", "Left Kidney", (("left lung", "left kidney"), 1)),
        ("Which is the smallest in this image,spleen,left kidney or liver?", "liver", (("spleen", "left kidney", "liver"), 2)),
        ("Where is the spleen in this image, right or lower right?", "lower right", (("right", "lower right"), 1)),
        ("Is the abnormality hyperdense or hypodense?", "hyperdense", (("hyperdense", "hypodense"), 0)),
        ("Is brain tumor white or gray relative to other tissues?", "gray", (("white", "gray"), 1)),
        ("Is this a t1 weighted or t2 weighted mri image?", "t2", (("t1", "t2"), 1)),
        ("Is this a T1 weighted or T2 weighted MRI image?", "T1 weighted", (("t1 weighted", "t2 weighted"), 0)),
        ("Which is bigger in this image, kidney or spleen?", "both", None),  # outside the alternatives: left out
        ("Which is bigger in this image, kidney or spleen?", "liver", None),
        ("What organ is abnormal?", "liver", None),  # open-ended
    ],
)
def test_closed_options(question, answer, expected):
    assert closed_options(question, answer) == expected


def test_readers_keep_closed_questions_of_the_fixture_releases(use_data):
    expected = {  # (kept per source split, left out per source split), counted from make_vqa_fixtures.py
        "vqa_rad": ({"train": 20, "test": 8}, {"train": 0, "test": 1, "open or duplicate": 7}),
        "slake": ({"train": 12, "dev": 6, "test": 6}, {"train": 4, "dev": 2, "test": 2}),
        "pathvqa": ({"train": 10, "dev": 6, "test": 6}, {"train": 3, "dev": 2, "test": 2}),
        **{name: ({"train": 5, "test": 9}, {"train": 0, "test": 1}) for name in MMMU},
    }
    for name, (kept, dropped) in expected.items():
        loaded = load_vqa_source(name)
        assert {s: len(items) for s, items in loaded.splits.items()} == kept, name
        assert dict(loaded.dropped) == dropped, name
        for items in loaded.splits.values():
            for item in items:
                assert "<image>" not in item.question and all(loaded.image(ref).size == (16, 16) for ref in item.images)
    rad = load_vqa_source("vqa_rad").splits
    train_triples = {(i.images, i.question) for i in rad["train"]}
    assert not train_triples & {(i.images, i.question) for i in rad["test"]}, "a test question leaked into train"


def test_vqa_rad_reader_follows_the_release_rules(use_data):
    rows = json.loads((use_data / "vqa_rad" / "VQA_RAD Dataset Public.json").read_text())
    by_qid = {str(r["qid"]): r for r in rows}
    for split, phrases in (("train", ("freeform", "para")), ("test", ("test_freeform", "test_para"))):
        for item in load_vqa_source("vqa_rad").splits[split]:
            row = by_qid[item.key]
            assert row["phrase_type"] in phrases and row["answer_type"] == "CLOSED"
            assert item.options[item.answer_idx] == row["answer"].lower()
            assert item.images == (row["image_name"],)


def test_mmmu_reader_rewrites_image_tags_and_keeps_every_image(use_data):
    items = load_vqa_source("mmmu_pharmacy").splits["test"]
    two = [item for item in items if len(item.images) == 2]
    assert len(two) == 1 and "(image 1)" in two[0].question and "(image 2)" in two[0].question
    assert all("<image" not in item.question for item in items)
    assert [item.key for item in items][:2] == ["validation_Pharmacy_1", "validation_Pharmacy_2"]


def test_split_roles_follow_the_reference_implementations():
    """Jeong et al.'s splits: scikit-learn's train_test_split (VQA-RAD) and datasets' (MMMU)."""
    for n in (20, 57, 1793):
        _, test_part = train_test_split(np.arange(n), test_size=0.2, random_state=42)
        assert sklearn_test_indices(n, 0.2, 42).tolist() == test_part.tolist()
    for n in (9, 30):
        reference = datasets.Dataset.from_dict({"i": list(range(n))}).train_test_split(train_size=5, seed=42)
        assert hf_train_indices(n, 5, 42).tolist() == reference["train"]["i"]


def test_roles_of_each_dataset(use_data):
    rad = load_vqa_source("vqa_rad").splits
    roles = vqa_roles("vqa_rad")
    assert len(roles.val) == 4 and len(roles.pool) == 16 and roles.test == rad["test"]
    assert sorted(i.key for i in roles.val + roles.pool) == sorted(i.key for i in rad["train"])
    slake = load_vqa_source("slake").splits
    assert vqa_roles("slake") == roles_from("slake", slake)
    assert (vqa_roles("slake").val, vqa_roles("slake").test, vqa_roles("slake").pool) == (slake["dev"], slake["test"], slake["train"])
    for name in MMMU:
        mmmu = load_vqa_source(name).splits
        r = vqa_roles(name)
        assert len(r.val) == 5 and len(r.test) == 4 and r.pool == mmmu["train"]
        assert {i.key for i in r.val} | {i.key for i in r.test} == {i.key for i in mmmu["test"]}
    for name in VQA_SOURCES:
        r = vqa_roles(name)
        assert not {i.key for i in r.pool} & {i.key for i in r.val + r.test}, name
    assert [i.key for i in scored_items("slake", "val", 3)] == [i.key for i in scored_items("slake", "val", 3)]
    assert len(scored_items("slake", "val", 3)) == 3 and len(scored_items("slake", "val", 0)) == 6


def test_missing_release_file_names_the_file_and_where_to_get_it(tmp_path, monkeypatch):
    (tmp_path / "slake").mkdir()
    (tmp_path / "slake" / "train.json").write_text("[]")
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable) as err:
        load_vqa_source("slake")
    message = str(err.value)
    assert "validate.json" in message and "med-vqa.com/slake" in message and str(tmp_path / "slake") in message


def test_no_local_copy_and_no_hub_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))  # empty: falls back to the hub, which is offline
    with pytest.raises(DataUnavailable) as err:
        load_vqa_source("pathvqa")
    message = str(err.value)
    assert "flaviagiammarino/path-vqa" in message and "no such folder" in message and "UCSD-AI4H/PathVQA" in message


def test_pathvqa_reader_refuses_pickles_of_objects(tmp_path, monkeypatch):
    for split in ("train", "val", "test"):
        (tmp_path / "pathvqa" / "qas" / split).mkdir(parents=True)
        rows = [{"image": f"{split}_0001", "question": "Is it?", "answer": "yes"}]
        if split == "test":
            rows = [np.float64(1.0)]  # a pickle that names a class: never unpickled
        (tmp_path / "pathvqa" / "qas" / split / f"{split}_qa.pkl").write_bytes(pickle.dumps(rows))
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match="refusing to load numpy"):
        load_vqa_source("pathvqa")


def test_zip_image_store_finds_slake_members(tmp_path):
    archive = tmp_path / "imgs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("imgs/xmlab1/source.jpg", b"one")
        zf.writestr("imgs/xmlab2/source.jpg", b"two")
    store = ZipImages(archive, ("imgs/", ""))
    assert store.read("xmlab2/source.jpg") == b"two"
    with pytest.raises(KeyError):
        store.read("xmlab3/source.jpg")


def _hub_copy(rows_by_split: dict[str, list[dict]]) -> datasets.DatasetDict:
    features = datasets.Features({"image": datasets.Image(), "question": datasets.Value("string"),
                                  "answer": datasets.Value("string")})
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows, features=features)
                                 for split, rows in rows_by_split.items()})


def test_hub_readers_read_images_lazily_by_row(use_data, monkeypatch):
    """The hub path, on in-memory copies of the hub datasets built from the fixture releases."""
    rad = json.loads((use_data / "vqa_rad" / "VQA_RAD Dataset Public.json").read_text())
    folder = use_data / "vqa_rad" / "VQA_RAD Image Folder"

    def rows(phrases):
        return [{"image": {"bytes": (folder / r["image_name"]).read_bytes(), "path": None}, "question": r["question"],
                 "answer": r["answer"]} for r in rad if r["phrase_type"] in phrases]

    hub = _hub_copy({"train": rows(("freeform", "para")), "test": rows(("test_freeform", "test_para"))})
    monkeypatch.setattr(datasets, "load_dataset", lambda hub_id, config=None: hub)
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(use_data / "no-such-folder"))
    loaded = load_vqa_source("vqa_rad")
    train = loaded.splits["train"]
    # the hub copy has no answer type: yes/no and named alternatives are kept, open questions left out
    # (this copy keeps the release's duplicate and leaked rows, which the real hub copy has removed)
    assert len(train) == 22 and loaded.dropped["train"] == 3
    first = next(i for i, r in enumerate(rows(("freeform", "para"))) if r["question"].lower() == train[0].question.lower())
    assert train[0].key == f"train-{first:05d}" and train[0].images == (f"train/{first}/image",)
    assert loaded.image(train[0].images[0]).size == (16, 16)
    assert loaded.images.read(train[0].images[0]) == rows(("freeform", "para"))[first]["image"]["bytes"]


def test_slake_hub_copy_reads_images_from_the_zip(use_data, tmp_path, monkeypatch):
    import huggingface_hub

    for name in ("train.json", "test.json"):
        (tmp_path / name).write_bytes((use_data / "slake" / name).read_bytes())
    (tmp_path / "validation.json").write_bytes((use_data / "slake" / "validate.json").read_bytes())
    with zipfile.ZipFile(tmp_path / "imgs.zip", "w") as zf:
        for image in (use_data / "slake" / "imgs").rglob("*.jpg"):
            zf.write(image, f"imgs/{image.relative_to(use_data / 'slake' / 'imgs').as_posix()}")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name, repo_type: str(tmp_path / name))
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path / "no-such-folder"))
    from_hub = load_vqa_source("slake")
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(use_data))
    local = load_vqa_source("slake")
    assert from_hub.splits == local.splits
    item = local.splits["test"][0]
    assert from_hub.images.read(item.images[0]) == local.images.read(item.images[0])


def test_mmmu_hub_copy_matches_the_parquet_files(use_data, monkeypatch):
    import pyarrow.parquet as pq
    from datasets.table import InMemoryTable

    subject = use_data / "mmmu" / "Pharmacy"
    hub = datasets.DatasetDict({
        split: datasets.Dataset(InMemoryTable(pq.read_table(subject / f"{split}-00000-of-00001.parquet")))
        for split in ("dev", "validation")
    })
    monkeypatch.setattr(datasets, "load_dataset", lambda hub_id, config=None: hub)
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(use_data / "no-such-folder"))
    from_hub = load_vqa_source("mmmu_pharmacy")
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(use_data))
    local = load_vqa_source("mmmu_pharmacy")
    assert from_hub.splits == local.splits and dict(from_hub.dropped) == dict(local.dropped)
    for item in local.splits["test"]:
        assert [from_hub.sha256(r) for r in item.images] == [local.sha256(r) for r in item.images]
