"""Clinical datasets: release-format readers, clear errors, checksums, split roles."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from clinical_testlib import CANARY, FIXTURES
from medpair_tasks.clinical import readers
from medpair_tasks.clinical.readers import acronyms
from medpair_tasks.clinical.longhealth import CANNOT_ANSWER, pack, read_longhealth
from medpair_tasks.clinical.roles import clinical_roles, fewshot_items, partition, scored_items
from medpair_tasks.clinical.sources import CLINICAL_SOURCES, CREDENTIALED, load_clinical
from medpair_tasks.clinical.truncate import ApproxCounter
from medpair_tasks.family.sources import DataUnavailable

DATA = FIXTURES / "data"


@pytest.fixture()
def clinical_dir(tmp_path, monkeypatch):
    """A private copy of the clinical fixture folders, as MEDPAIR_DATA_DIR."""
    for source in CLINICAL_SOURCES.values():
        if not (tmp_path / source.folder).exists():
            shutil.copytree(DATA / source.folder, tmp_path / source.folder)
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(tmp_path))
    return tmp_path


def test_every_dataset_reads_and_has_its_roles(clinical_dir):
    for name, source in CLINICAL_SOURCES.items():
        roles = clinical_roles(name)
        assert roles.val and roles.test, name
        keys = [x.key for x in roles.val + roles.test + roles.pool]
        assert len(keys) == len(set(keys)), name
        for item in roles.val + roles.test:
            assert item.is_multiple_choice == (source.kind == "mc"), name
            text = item.context + " ".join(item.options)
            if not item.documents:
                assert CANARY in text or CANARY in item.question, (name, item.key)
        if name.startswith(("mednli", "ehrnoteqa", "n2c2", "casi", "mimic3")):
            assert len(fewshot_items(name, 3)) == 3
        else:
            assert fewshot_items(name, 3) == []


def test_mednli_schema_and_premise_clusters(clinical_dir):
    splits = readers.read_mednli(clinical_dir / "mednli")
    assert {k: len(v) for k, v in splits.items()} == {"train": 12, "dev": 9, "test": 9}
    row = json.loads((clinical_dir / "mednli" / "mli_test_v1.jsonl").read_text().splitlines()[0])
    item = splits["test"][0]
    assert item.key == row["pairID"] and item.options[item.answer_idx] == row["gold_label"]
    assert row["sentence1"] in item.question and row["sentence2"] in item.question
    assert len({x.cluster for x in splits["test"]}) == 3  # three hypotheses per premise
    roles = clinical_roles("mednli")
    assert [x.key for x in roles.val] == [x.key for x in splits["dev"]]


def test_ehrnoteqa_joins_mimic_notes_by_chart_time(clinical_dir):
    items = readers.read_ehrnoteqa(clinical_dir / "ehrnoteqa")["all"]
    rows = [json.loads(line) for line in (clinical_dir / "ehrnoteqa" / "EHRNoteQA.jsonl").read_text().splitlines()]
    assert len(items) == len(rows) == 12
    two = next(i for i, r in zip(items, rows) if r["num_notes"] == 2)
    assert two.context.index("[note 1 start]") < two.context.index("Discharge summary 1 of") < two.context.index(
        "[note 2 start]") < two.context.index("Discharge summary 2 of")
    assert "Discharge summary 3 of" not in two.context  # only num_notes notes
    assert two.context.startswith("[note 1 start]\nPatient ID : ")
    assert "  \n" not in two.context  # the official whitespace clean-up
    # the official preprocessing's output is accepted instead of the two release files
    processed = clinical_dir / "ehrnoteqa_processed"
    processed.mkdir()
    with (processed / "EHRNoteQA_processed.jsonl").open("w") as fh:
        for row in rows:
            fh.write(json.dumps({**row, **{f"note_{i}": f"note {i} text" for i in (1, 2, 3)}}) + "\n")
    again = readers.read_ehrnoteqa(processed)["all"]
    index = next(i for i, r in enumerate(rows) if r["num_notes"] == 2)
    assert [x.options for x in again] == [x.options for x in items]
    assert "note 2 text" in again[index].context and "note 3 text" not in again[index].context


def test_roles_keep_clusters_together(clinical_dir):
    for name in ("ehrnoteqa", "longhealth_task1", "medisumqa", "mednli"):
        roles = clinical_roles(name)
        where = {}
        for role, items in (("val", roles.val), ("test", roles.test), ("pool", roles.pool)):
            for item in items:
                assert where.setdefault(item.cluster, role) == role, (name, item.cluster)


def test_partition_shares_and_strata():
    from medpair_tasks.clinical.records import ClinicalItem

    items = [ClinicalItem(f"k{i}", stratum="AB" if i % 2 else "CD", options=("x", "y"), answer_idx=0) for i in range(40)]
    pool, val, test = partition(items, (0.6, 0.2, 0.2))
    assert (len(pool), len(val), len(test)) == (24, 8, 8)
    assert sum(x.stratum == "AB" for x in test) == 4  # split per stratum
    assert partition(items, (0.6, 0.2, 0.2)) == (pool, val, test)  # seeded


def test_n2c2_intuitive_judgments_and_addendum(clinical_dir):
    splits = readers.read_n2c2_obesity(clinical_dir / "n2c2_obesity", "asthma")
    assert len(splits["train"]) == 12 and len(splits["test"]) == 6
    first = next(x for x in splits["train"] if x.key == "doc1")
    assert first.options[first.answer_idx] == "Yes"  # the addendum overrides the training file
    assert first.question == "Does this patient have asthma?"
    cad = readers.read_n2c2_obesity(clinical_dir / "n2c2_obesity", "cad")["test"][0]
    assert cad.question == "Does this patient have CAD?" and cad.options == ("Yes", "No", "Questionable")
    roles = clinical_roles("n2c2_obesity_asthma")
    assert len(roles.val) == 2 and {x.key for x in roles.test} == {f"doc{i}" for i in range(101, 107)}


def test_casi_release_file_and_sense_options(clinical_dir):
    items = readers.read_casi(clinical_dir / "casi")["all"]
    assert len(items) == 32  # flags (UNSURED SENSE, GENERAL ENGLISH) are not items
    dc = next(x for x in items if x.stratum == "DC")
    assert dc.options == ("direct current", "discharge", "discontinue")
    assert dc.question == 'What is the correct expansion of the abbreviation "DC" in the clinical note snippet?'


def test_mimic_acronym_inventory(clinical_dir):
    items = readers.read_mimic3_acronym(clinical_dir / "mimic3_acronym")["all"]
    assert len(items) == 28 and items[0].key == "row1000"
    dc = next(x for x in items if x.stratum == "DC")
    assert "discharge / discharged" in dc.options
    assert readers.readable_sense("Discontinue;discontinued") == "discontinue / discontinued"


def test_option_cap_keeps_most_frequent_senses():
    rows = [(f"k{i}", "X", f"sense{i % 12}", "ctx") for i in range(12)] + [("k99", "X", "sense0", "ctx")]
    items = acronyms._acronym_items(rows, None, "test")
    assert all(len(x.options) == 10 for x in items) and "sense0" in items[0].options
    assert len(items) == 11  # the two senses beyond ten letters drop their rows (one each), sense0 is kept


def test_generative_readers(clinical_dir):
    qa = readers.read_medisumqa(clinical_dir / "medisumqa")["all"]
    assert len(qa) == 12 and qa[0].key.endswith("/0") and qa[1].key.endswith("/1") and qa[0].cluster == qa[1].cluster
    code = readers.read_medisumcode(clinical_dir / "medisumcode")["all"]
    assert len(code) == 6 and all(c.codes and c.reference == ", ".join(c.codes) for c in code)
    meq = readers.read_meqsum(clinical_dir / "meqsum")["all"]
    assert len(meq) == 10 and meq[0].key == "1-10000.xml.txt" and meq[0].reference.startswith("What are")
    prob = readers.read_probsum(clinical_dir / "probsum")
    assert len(prob["train"]) == 6 and len(prob["test"]) == 5
    assert prob["test"][0].context.startswith("Subjective:\n") and "\n\nAssessment:\n" in prob["test"][0].context


def test_probsum_reads_each_file_under_its_own_column_names(clinical_dir):
    """The release spells the note sections "Subjective Sections" in its training file and
    "Subjectives" in its test file (the column CLUE's prompt reads); a file with neither is refused."""
    folder = clinical_dir / "probsum"
    headers = {split: (folder / name).read_text(encoding="utf-8").splitlines()[0].split(",")
               for split, name in readers.PROBSUM_FILES.items()}
    assert "Subjective Sections" in headers["train"] and "Subjectives" in headers["test"]
    test_items = readers.read_probsum(folder)["test"]
    assert test_items[0].context.startswith("Subjective:\n[SYNTHETIC-NOTE")
    path = folder / readers.PROBSUM_FILES["test"]
    path.write_text(path.read_text(encoding="utf-8").replace("Subjectives", "Notes", 1), encoding="utf-8")
    with pytest.raises(DataUnavailable, match="'Subjective Sections' or 'Subjectives'"):
        load_clinical("probsum")


def test_longhealth_settings(clinical_dir):
    data = read_longhealth(clinical_dir / "longhealth")
    raw = json.loads((clinical_dir / "longhealth" / "benchmark_v5.json").read_text())
    one, two, three = (data.items[s][0] for s in (1, 2, 3))
    question = raw["patient_01"]["questions"][0]
    answer_doc = f"patient_01/{next(iter(question['answer_location']))}"
    assert one.options[one.answer_idx] == question["correct"] and len(one.options) == 5
    assert one.documents[0] == answer_doc and all(d.startswith("patient_01/") for d in one.documents)
    assert two.documents[0] == answer_doc and len(two.documents) == 1 + 10
    assert not any(d.startswith("patient_01/") for d in two.documents[1:])
    assert two.options[-1] == CANNOT_ANSWER and two.answer_idx == one.answer_idx
    assert three.n_answer_documents == 0 and not any(d.startswith("patient_01/") for d in three.documents)
    assert three.options[three.answer_idx] == CANNOT_ANSWER
    assert {x.cluster for x in data.items[1]} == set(raw) - {"canary-string"}
    # packing: answer documents first, whole documents while they fit, then a cut one
    counter = ApproxCounter()
    full, cut = pack(two.key, list(two.documents), data.texts, None, counter)
    assert not cut and all(data.texts[d] in full for d in two.documents)
    first = counter.count(data.texts[answer_doc])
    small, cut = pack(two.key, list(two.documents), data.texts, first + 40, counter)
    assert cut and data.texts[answer_doc] in small and counter.count(small) <= first + 40


def test_missing_and_partial_datasets_give_one_clear_error(clinical_dir, monkeypatch, tmp_path_factory):
    empty = tmp_path_factory.mktemp("empty")
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(empty))
    with pytest.raises(DataUnavailable) as missing:
        load_clinical("mednli")
    text = str(missing.value)
    assert "the mednli data is not available" in text and str(empty / "mednli") in text and "no such folder" in text
    assert "physionet.org/content/mednli/1.0.0" in text and "Data Use Agreement" in text
    assert "mli_test_v1.jsonl" in text

    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(clinical_dir))
    (clinical_dir / "mednli" / "mli_test_v1.jsonl").unlink()
    (clinical_dir / "probsum" / "BioNLP2023-1A-Test.csv").write_text("File ID,Summary\nx,y\n")
    with pytest.raises(DataUnavailable, match=r"missing .*mli_test_v1\.jsonl"):
        load_clinical("mednli")
    with pytest.raises(DataUnavailable, match=r"no column Assessment"):
        load_clinical("probsum")
    monkeypatch.delenv("MEDPAIR_DATA_DIR")
    with pytest.raises(DataUnavailable, match=r"MEDPAIR_DATA_DIR \(not set\)"):
        load_clinical("casi")


@pytest.mark.parametrize("dataset, file, damaged", [
    ("n2c2_obesity_asthma", "n2c2_obesity/obesity_patient_records_test.xml", "<root><doc id='1'>"),
    ("n2c2_obesity_cad", "n2c2_obesity/obesity_standoff_annotations_test.xml", "<diseases"),
    ("mimic3_acronym", "mimic3_acronym/sf_lf_map.json", "{not json"),
    ("longhealth_task1", "longhealth/benchmark_v5.json", '{"patient_01": '),
    ("medisumqa", "medisumqa/MeDiSumQA.json", "[{"),
])
def test_a_damaged_file_is_named_in_the_error(clinical_dir, dataset, file, damaged):
    from medpair_tasks.clinical import sources

    (clinical_dir / file).write_text(damaged)
    sources.TABLE.cache_clear()
    with pytest.raises(DataUnavailable) as err:
        load_clinical(dataset)
    assert str(clinical_dir / file) in str(err.value)


def test_release_checksums_are_verified(clinical_dir):
    folder = clinical_dir / "mednli"
    digest = hashlib.sha256((folder / "mli_dev_v1.jsonl").read_bytes()).hexdigest()
    (folder / "SHA256SUMS.txt").write_text(f"{digest} mli_dev_v1.jsonl\n{'0' * 64} LICENSE.txt\n")
    assert len(scored_items("mednli", "test")) == 9
    (folder / "SHA256SUMS.txt").write_text(f"{'0' * 64} mli_dev_v1.jsonl\n")
    from medpair_tasks.clinical import sources

    sources.TABLE.cache_clear()
    with pytest.raises(DataUnavailable, match="sha256"):
        load_clinical("mednli")


def test_credentialed_marking():
    assert CREDENTIALED == {
        "mednli", "ehrnoteqa", "n2c2_obesity_asthma", "n2c2_obesity_cad", "n2c2_obesity_diabetes",
        "n2c2_obesity_obesity", "mimic3_acronym", "medisumqa", "medisumcode", "probsum",
    }
    for name, source in CLINICAL_SOURCES.items():
        assert source.obtain and source.access and source.files and source.roles, name
