"""Reading the knowledge datasets: local release files, hub schemas, clear errors."""

from __future__ import annotations

import json
import shutil

import datasets
import pytest

from medpair_testlib import FIXTURE_DATA, PUBMEDQA_DIR
from medpair_tasks.knowledge import sources
from medpair_tasks.family.sources import DataUnavailable
from medpair_tasks.knowledge.sources import SOURCES, load_source, pubmedqa_test_ids


@pytest.fixture(autouse=True)
def _fresh_cache():
    sources.TABLE.cache_clear()
    yield
    sources.TABLE.cache_clear()


def test_pubmedqa_release_files_give_the_official_split(use_data):
    splits = load_source("pubmedqa")
    truth = json.loads((PUBMEDQA_DIR / "test_ground_truth.json").read_text())
    raw = json.loads((PUBMEDQA_DIR / "ori_pqal.json").read_text())
    assert [item.key for item in splits["test"]] == [pmid for pmid in raw if pmid in truth]  # the release's question order
    assert len(splits["test"]) == 500 and len(splits["dev"]) == 500
    assert {item.key for item in splits["dev"]}.isdisjoint(truth)
    labels = [item.options[item.answer_idx] for item in splits["test"]]
    assert labels == [truth[item.key] for item in splits["test"]]
    assert (labels.count("yes"), labels.count("no"), labels.count("maybe")) == (276, 169, 55)
    first = splits["test"][0]
    assert first.context == "\n".join(raw[first.key]["CONTEXTS"])
    assert first.question == raw[first.key]["QUESTION"]


def test_shipped_pubmedqa_test_ids_match_the_release():
    truth = json.loads((PUBMEDQA_DIR / "test_ground_truth.json").read_text())
    raw = json.loads((PUBMEDQA_DIR / "ori_pqal.json").read_text())
    assert pubmedqa_test_ids() == [pmid for pmid in raw if pmid in truth]


def test_fixtures_read_in_release_schema(use_data):
    medqa = load_source("medqa")
    assert {k: len(v) for k, v in medqa.items()} == {"train": 24, "dev": 8, "test": 10}
    row = json.loads((FIXTURE_DATA / "medqa" / "test.jsonl").read_text().splitlines()[0])
    item = medqa["test"][0]
    assert item.options == tuple(row["options"][k] for k in "ABCD")
    assert item.options[item.answer_idx] == row["answer"]
    assert all(len(i.options) == 5 for i in load_source("medqa5")["test"])
    medmcqa = load_source("medmcqa")
    raw = json.loads((FIXTURE_DATA / "medmcqa" / "dev.json").read_text().splitlines()[0])
    assert medmcqa["dev"][0].key == raw["id"]
    assert medmcqa["dev"][0].options[medmcqa["dev"][0].answer_idx] == raw["op" + "abcd"[raw["cop"] - 1]]
    mmlu = load_source("mmlu_anatomy")
    assert {k: len(v) for k, v in mmlu.items()} == {"train": 5, "dev": 6, "test": 8}


def _fake_hub(monkeypatch, tables: dict[tuple[str, str | None], dict[str, list[dict]]]):
    def fake(hub_id, config=None):
        return datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in tables[(hub_id, config)].items()})

    monkeypatch.setattr(sources, "_hub", fake)


def test_hub_schemas_are_converted(monkeypatch):
    medqa_row = {"id": "x", "sent1": "Q?", "sent2": "", "ending0": "a", "ending1": "b", "ending2": "c", "ending3": "d", "label": 2}
    mcqa_row = {"id": "m1", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 0}
    mmlu_row = {"question": "Q?", "subject": "anatomy", "choices": ["a", "b", "c", "d"], "answer": 3}
    raw = json.loads((PUBMEDQA_DIR / "ori_pqal.json").read_text())
    pqa_rows = [
        {"pubid": int(pmid), "question": r["QUESTION"], "context": {"contexts": r["CONTEXTS"], "labels": r["LABELS"]},
         "long_answer": r["LONG_ANSWER"], "final_decision": r["final_decision"]}
        for pmid, r in raw.items()
    ]
    _fake_hub(monkeypatch, {
        ("GBaker/MedQA-USMLE-4-options-hf", None): {s: [medqa_row] for s in ("train", "validation", "test")},
        ("openlifescienceai/medmcqa", None): {s: [mcqa_row] for s in ("train", "validation", "test")},
        ("cais/mmlu", "anatomy"): {s: [mmlu_row] for s in ("dev", "validation", "test")},
        ("qiaojin/PubMedQA", "pqa_labeled"): {"train": pqa_rows},
    })
    assert load_source("medqa")["test"][0].options[2] == "c"
    assert load_source("medqa")["test"][0].answer_idx == 2
    assert load_source("medmcqa")["dev"][0].answer_idx == 0  # the hub counts options from 0
    assert load_source("mmlu_anatomy")["test"][0].answer_idx == 3
    pubmedqa = load_source("pubmedqa")
    assert [i.key for i in pubmedqa["test"]] == pubmedqa_test_ids()


def test_missing_dataset_gives_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable) as err:
        load_source("medmcqa")
    message = str(err.value)
    assert "medmcqa" in message and str(tmp_path / "medmcqa") in message
    assert "openlifescienceai/medmcqa" in message and "medmcqa.github.io" in message


def test_partial_local_data_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    shutil.copytree(PUBMEDQA_DIR, tmp_path / "pubmedqa")
    (tmp_path / "pubmedqa" / "test_ground_truth.json").chmod(0o644)
    (tmp_path / "pubmedqa" / "test_ground_truth.json").unlink()
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sources, "_hub", lambda *a: pytest.fail("must not fall back to the hub"))
    with pytest.raises(DataUnavailable, match="missing .*test_ground_truth.json"):
        load_source("pubmedqa")


def _truncate(path, keep):
    path.write_text(path.read_text(encoding="utf-8")[:keep], encoding="utf-8")


def _drop_field(path, field):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if k != field}) + "\n" for r in rows))


CORRUPTIONS = {  # dataset -> (folder, file, how it is damaged)
    "pubmedqa-truncated": ("pubmedqa", "pubmedqa", "ori_pqal.json", lambda p: _truncate(p, 999_895)),
    "pubmedqa-truth-not-json": ("pubmedqa", "pubmedqa", "test_ground_truth.json", lambda p: p.write_text("<html>")),
    "pubmedqa-no-label": ("pubmedqa", "pubmedqa", "ori_pqal.json",
                          lambda p: p.write_text(json.dumps({"1": {"QUESTION": "q", "CONTEXTS": []}}))),
    "medqa-no-options": ("medqa", "medqa", "test.jsonl", lambda p: _drop_field(p, "options")),
    "medmcqa-no-cop": ("medmcqa", "medmcqa", "dev.json", lambda p: _drop_field(p, "cop")),
    "mmlu-short-row": ("mmlu_college_medicine", "mmlu", "test/college_medicine_test.csv", lambda p: p.write_text("q,a,b\n")),
    "mmlu-bad-letter": ("mmlu_college_medicine", "mmlu", "val/college_medicine_val.csv", lambda p: p.write_text("q,a,b,c,d,Z\n")),
    "mmlu-not-utf8": ("mmlu_college_medicine", "mmlu", "dev/college_medicine_dev.csv", lambda p: p.write_bytes(b"q,\xff,b,c,d,A\n")),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_damaged_file_is_named_in_the_error(case, tmp_path, monkeypatch):
    dataset, folder, name, damage = CORRUPTIONS[case]
    shutil.copytree(FIXTURE_DATA / folder, tmp_path / folder)
    damage(tmp_path / folder / name)
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sources, "_hub", lambda *a: pytest.fail("must not fall back to the hub"))
    with pytest.raises(DataUnavailable) as err:
        load_source(dataset)
    assert str(tmp_path / folder / name) in str(err.value)


def test_medmcqa_answer_base_is_detected_or_refused(tmp_path, monkeypatch):
    folder = tmp_path / "medmcqa"
    folder.mkdir()
    rows = [json.loads(line) for line in (FIXTURE_DATA / "medmcqa" / "train.json").read_text().splitlines()]
    for split in ("train", "dev"):
        (folder / f"{split}.json").write_text("".join(json.dumps({**r, "cop": 2}) + "\n" for r in rows))
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match="cannot tell whether 'cop' counts from 0 or 1"):
        load_source("medmcqa")


def test_an_unreachable_hub_fails_at_once_with_the_offline_hint(tmp_path, monkeypatch):
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("MEDPAIR_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens, nothing leaves the machine
    monkeypatch.setattr(sources, "_hub", lambda *a: pytest.fail("an unreachable hub must not be retried"))
    with pytest.raises(DataUnavailable) as err:
        load_source("medmcqa")
    message = str(err.value)
    assert "http://127.0.0.1:9" in message and "cannot be reached" in message
    assert "HF_HUB_OFFLINE=1" in message and "$MEDPAIR_DATA_DIR" in message
    assert not message.startswith("medpair:")


def test_offline_mode_says_only_the_cache_was_read(monkeypatch):
    monkeypatch.delenv("MEDPAIR_DATA_DIR", raising=False)
    monkeypatch.setattr(sources, "_hub", lambda *a: (_ for _ in ()).throw(ConnectionError("offline mode is enabled")))
    with pytest.raises(DataUnavailable, match=r"only the hub cache was read: put a local copy in \$MEDPAIR_DATA_DIR"):
        load_source("medqa")


def test_every_source_documents_where_to_get_it():
    for source in SOURCES.values():
        assert source.how_to_get and source.local_files and source.hub_id
