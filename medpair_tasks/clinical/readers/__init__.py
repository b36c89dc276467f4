"""Readers of each clinical dataset's original release files.

Each reader takes the dataset's folder (``$MEDPAIR_DATA_DIR/<folder>/``) and returns its *source
splits*: ``{"train": [...], "dev": [...], "test": [...]}`` where the release has official splits,
``{"all": [...]}`` where it has none. :mod:`medpair_tasks.clinical.roles` turns them into split
roles. A reader raises ``FileNotFoundError`` naming a missing file, ``ValueError`` for content
that does not follow the release schema; :mod:`medpair_tasks.clinical.sources` turns both into
one :class:`~medpair_tasks.family.sources.DataUnavailable` error.

The file layouts are documented in :data:`medpair_tasks.clinical.sources.CLINICAL_SOURCES`.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import logging
import re
import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.formats import LETTERS
from medpair_tasks.family.sources import first_existing, naming_file, read_json, read_jsonl

log = logging.getLogger(__name__)

SourceSplits = dict[str, list[ClinicalItem]]
MAX_OPTIONS = len(LETTERS)


# --------------------------------------------------------------------------- helpers


def _json_records(path: Path) -> list[dict[str, Any]]:
    """A JSON array of objects, or JSON lines (the CLUE scripts write the latter)."""
    with naming_file(path):
        text = path.read_text(encoding="utf-8").strip()
    if text.startswith("["):
        rows = read_json(path)
    else:
        rows = list(read_jsonl(path))
    if not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{path}: expected JSON objects")
    return rows


def _field(row: dict[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise ValueError(f"{where}: no field {name!r} (fields: {', '.join(sorted(row))})")
    return row[name]


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def short_hash(text: str, n: int = 12) -> str:
    """First ``n`` hex digits of the sha256 of ``text``: an id, never the text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


_CSV_FIELD_LIMIT = 2**31 - 1  # discharge summaries exceed csv's default 128 KiB field limit

_Reader = TypeVar("_Reader", bound=Callable[..., Any])


def _big_csv_fields(reader: _Reader) -> _Reader:
    """Run ``reader`` with csv's field size limit raised, and restore the caller's limit after it."""

    @functools.wraps(reader)
    def with_big_fields(*args: Any, **kwargs: Any) -> Any:
        before = csv.field_size_limit(_CSV_FIELD_LIMIT)
        try:
            return reader(*args, **kwargs)
        finally:
            csv.field_size_limit(before)

    return with_big_fields  # type: ignore[return-value]


# --------------------------------------------------------------------------- MedNLI

MEDNLI_LABELS = ("entailment", "contradiction", "neutral")
MEDNLI_FILES = {"train": "mli_train_v1.jsonl", "dev": "mli_dev_v1.jsonl", "test": "mli_test_v1.jsonl"}


def mednli_question(premise: str, hypothesis: str) -> str:
    """The question text of a MedNLI pair (after Jeong et al.'s format, from Lehman et al. 2023)."""
    return (
        f'Premise: "{premise}"\nHypothesis: "{hypothesis}"\n'
        "Does the premise entail the hypothesis, contradict it, or neither (neutral)?"
    )


def read_mednli(folder: Path) -> SourceSplits:
    """MedNLI 1.0.0 (PhysioNet): ``mli_{train,dev,test}_v1.jsonl``, SNLI-style JSON lines."""
    splits: SourceSplits = {}
    for split, name in MEDNLI_FILES.items():
        path = first_existing(folder, name)
        items = []
        for number, row in enumerate(read_jsonl(path), 1):
            where = f"{path}:{number}"
            premise = str(_field(row, "sentence1", where)).strip()
            label = _field(row, "gold_label", where)
            if label not in MEDNLI_LABELS:
                raise ValueError(f"{where}: gold_label {label!r} is not one of {MEDNLI_LABELS}")
            items.append(
                ClinicalItem(
                    key=str(_field(row, "pairID", where)),
                    question=mednli_question(premise, str(_field(row, "sentence2", where)).strip()),
                    options=MEDNLI_LABELS,
                    answer_idx=MEDNLI_LABELS.index(label),
                    cluster=f"premise-{short_hash(premise)}",  # three hypotheses share each premise
                )
            )
        splits[split] = items
    return splits


# --------------------------------------------------------------------------- EHRNoteQA

EHRNOTEQA_CHOICES = ("A", "B", "C", "D", "E")


def _ehrnoteqa_whitespace(text: str) -> str:
    """The official preprocessing's whitespace clean-up (ji-youn-kim/EHRNoteQA, preprocess.py)."""
    text = re.sub(r"(\n\s*|\s*\n)", "\n", text)
    text = re.sub(r"\s{2,}", " ", text)
    return text.strip()


@_big_csv_fields
def _discharge_notes(path: Path, subjects: set[str]) -> dict[str, list[dict[str, str]]]:
    """MIMIC-IV-Note ``discharge.csv(.gz)`` rows of the given subjects, each subject's by charttime."""
    notes: dict[str, list[dict[str, str]]] = {}
    with _open_text(path) as source:
        reader = csv.DictReader(source)
        missing = {"subject_id", "hadm_id", "charttime", "text"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not MIMIC-IV-Note discharge.csv (no column {', '.join(sorted(missing))})")
        for row in reader:
            if row["subject_id"] in subjects:
                notes.setdefault(row["subject_id"], []).append(row)
    for rows in notes.values():
        rows.sort(key=lambda r: r["charttime"])
    return notes


def _ehrnoteqa_note(row: dict[str, str]) -> str:
    text = _ehrnoteqa_whitespace(row["text"])
    return f"Patient ID : {row['subject_id']}\nAdmission ID : {row['hadm_id']}\nChartdate : {row['charttime'][:10]}\n{text}"


def ehrnoteqa_context(notes: list[str]) -> str:
    """The notes of one question, delimited as in the official generation script."""
    return "\n\n".join(f"[note {i} start]\n{note}\n[note {i} end]" for i, note in enumerate(notes, 1))


def read_ehrnoteqa(folder: Path) -> SourceSplits:
    """EHRNoteQA 1.0.1 (PhysioNet): ``EHRNoteQA.jsonl`` joined with MIMIC-IV-Note ``discharge.csv.gz``.

    The release ships questions only; the notes come from MIMIC-IV-Note 2.2, joined on
    ``patient_id`` = ``subject_id`` like the official preprocessing (the patient's discharge
    summaries by chart time, the first ``num_notes``). The official preprocessing's output,
    ``EHRNoteQA_processed.jsonl`` (fields ``note_1`` … ``note_3``), is accepted instead.
    """
    questions_path = folder / "EHRNoteQA.jsonl"
    processed_path = folder / "EHRNoteQA_processed.jsonl"
    if questions_path.is_file():
        rows = list(read_jsonl(questions_path))
        discharge = first_existing(folder, "discharge.csv.gz", "discharge.csv")
        subjects = {str(_field(r, "patient_id", f"{questions_path}:{i}")) for i, r in enumerate(rows, 1)}
        by_subject = _discharge_notes(discharge, subjects)
        source = questions_path
    elif processed_path.is_file():
        rows, by_subject, source = list(read_jsonl(processed_path)), None, processed_path
    else:
        raise FileNotFoundError(f"{questions_path} (with discharge.csv.gz) or {processed_path}")
    items = []
    for number, row in enumerate(rows, 1):
        where = f"{source}:{number}"
        patient = str(_field(row, "patient_id", where))
        n_notes = int(_field(row, "num_notes", where))
        if by_subject is not None:
            available = by_subject.get(patient, [])
            if len(available) < n_notes:
                raise ValueError(
                    f"{where}: patient {patient} needs {n_notes} discharge notes, the MIMIC-IV-Note file has "
                    f"{len(available)} (a partial discharge.csv?)"
                )
            notes = [_ehrnoteqa_note(r) for r in available[:n_notes]]
        else:
            notes = [str(row.get(f"note_{i}") or "") for i in range(1, n_notes + 1)]
            if not all(notes):
                raise ValueError(f"{where}: note_1 … note_{n_notes} must be non-empty")
        answer = str(_field(row, "answer", where)).strip().upper()
        if answer not in EHRNOTEQA_CHOICES:
            raise ValueError(f"{where}: answer {answer!r} is not one of {EHRNOTEQA_CHOICES}")
        items.append(
            ClinicalItem(
                key=f"q{number - 1:04d}",
                question=str(_field(row, "question", where)).strip(),
                options=tuple(str(_field(row, f"choice_{c}", where)).strip() for c in EHRNOTEQA_CHOICES),
                answer_idx=EHRNOTEQA_CHOICES.index(answer),
                context=ehrnoteqa_context(notes),
                cluster=f"patient-{patient}",
            )
        )
    return {"all": items}


# --------------------------------------------------------------------------- n2c2 2008 obesity

N2C2_DISEASES = {"asthma": "Asthma", "cad": "CAD", "diabetes": "Diabetes", "obesity": "Obesity"}
N2C2_JUDGMENTS = {"Y": "Yes", "N": "No", "Q": "Questionable"}
N2C2_OPTIONS = ("Yes", "No", "Questionable")
N2C2_TRAIN_RECORDS = ("obesity_patient_records_training.xml", "obesity_patient_records_training2.xml")
N2C2_TEST_RECORDS = ("obesity_patient_records_test.xml",)


def _xml_root(path: Path) -> ET.Element:
    """The root element of an XML file; a malformed file is a ValueError naming it."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"{path}: not well-formed XML ({err})") from err


def _n2c2_records(path: Path) -> dict[str, str]:
    root = _xml_root(path)
    records = {}
    for doc in root.iter("doc"):
        text = doc.find("text")
        if "id" not in doc.attrib or text is None:
            raise ValueError(f"{path}: a <doc> without id or <text>")
        records[doc.attrib["id"]] = text.text or ""
    if not records:
        raise ValueError(f"{path}: no <doc> records")
    return records


def _n2c2_judgments(paths: list[Path]) -> dict[str, dict[str, str]]:
    """disease name → doc id → intuitive judgment; later files (addenda) override earlier ones."""
    judgments: dict[str, dict[str, str]] = {}
    for path in paths:
        root = _xml_root(path)
        with naming_file(path):
            for diseases in root.iter("diseases"):
                if diseases.attrib.get("source") != "intuitive":
                    continue
                for disease in diseases.iter("disease"):
                    target = judgments.setdefault(disease.attrib["name"], {})
                    for doc in disease.iter("doc"):
                        target[doc.attrib["id"]] = doc.attrib["judgment"]
    return judgments


def n2c2_question(disease: str) -> str:
    """The question of an n2c2 item (after Jeong et al.)."""
    return f"Does this patient have {'CAD' if disease == 'cad' else disease}?"


def read_n2c2_obesity(folder: Path, disease: str) -> SourceSplits:
    """n2c2 (i2b2) 2008 Obesity Challenge: the patient-record XML files and the *intuitive* judgments.

    Training annotations are read from every ``obesity_standoff*annotations*training*.xml`` (the
    addenda last, so they override), test annotations from every ``obesity_standoff*test*.xml``.
    Judgments Y / N / Q become the options Yes / No / Questionable; notes without an intuitive
    judgment for the disease are not items.
    """
    name = N2C2_DISEASES[disease]
    train_records: dict[str, str] = {}
    for file in N2C2_TRAIN_RECORDS:
        train_records.update(_n2c2_records(first_existing(folder, file)))
    test_records = _n2c2_records(first_existing(folder, *N2C2_TEST_RECORDS))
    standoff = sorted(folder.glob("obesity_standoff*.xml"))
    train_files = [p for p in standoff if "training" in p.name]
    test_files = [p for p in standoff if "test" in p.name]
    if not train_files:
        raise FileNotFoundError(str(folder / "obesity_standoff_annotations_training.xml"))
    if not test_files:
        raise FileNotFoundError(str(folder / "obesity_standoff_annotations_test.xml"))
    splits: SourceSplits = {}
    for split, records, files in (("train", train_records, train_files), ("test", test_records, test_files)):
        judged = _n2c2_judgments(sorted(files, key=lambda p: ("addendum" in p.name, p.name))).get(name, {})
        if not judged:
            raise ValueError(f"{folder}: no intuitive judgments for {name} in {', '.join(p.name for p in files)}")
        items = []
        in_order = sorted(judged.items(), key=lambda entry: int(entry[0]) if entry[0].isdigit() else entry[0])
        for doc_id, judgment in in_order:
            if doc_id not in records:
                raise ValueError(f"{folder}: {split} judgment for document {doc_id}, which no {split} record file has")
            if judgment not in N2C2_JUDGMENTS:
                raise ValueError(f"{folder}: judgment {judgment!r} for document {doc_id} is not Y, N or Q")
            items.append(
                ClinicalItem(
                    key=f"doc{doc_id}",
                    question=n2c2_question(disease),
                    options=N2C2_OPTIONS,
                    answer_idx=N2C2_OPTIONS.index(N2C2_JUDGMENTS[judgment]),
                    context=records[doc_id].strip(),
                )
            )
        splits[split] = items
    return splits


# --------------------------------------------------------------------------- acronym senses

CASI_FILE = "AnonymizedClinicalAbbreviationsAndAcronymsDataSet.txt"
# CASI annotation flags that are not an expansion of the abbreviation
CASI_NOT_A_SENSE = frozenset({"UNSURED SENSE", "GENERAL ENGLISH", "NAME"})


def acronym_question(short_form: str) -> str:
    """The question of an acronym item (after Jeong et al.)."""
    return f'What is the correct expansion of the abbreviation "{short_form}" in the clinical note snippet?'


def _option_sets(pairs: list[tuple[str, str]], inventory: dict[str, list[str]] | None) -> dict[str, tuple[str, ...]]:
    """Per short form, its options: the inventory's senses (or those seen), at most MAX_OPTIONS.

    More senses than letters: the most frequent in the data are kept (ties in inventory order);
    items whose gold sense falls outside are dropped by the caller. Options are sorted
    alphabetically, so that the letter says nothing about frequency.
    """
    seen = Counter(pairs)
    by_sf: dict[str, list[str]] = OrderedDict()
    for acronym, sense in pairs:
        by_sf.setdefault(acronym, [])
        if inventory is None and sense not in by_sf[acronym]:
            by_sf[acronym].append(sense)
    if inventory is not None:
        for acronym in by_sf:
            by_sf[acronym] = list(dict.fromkeys(inventory.get(acronym, [])))
    result = {}
    for acronym, senses in by_sf.items():
        if len(senses) > MAX_OPTIONS:
            order = {s: i for i, s in enumerate(senses)}
            senses = sorted(senses, key=lambda s: (-seen[(acronym, s)], order[s]))[:MAX_OPTIONS]
        result[acronym] = tuple(sorted(senses, key=str.casefold))
    return result


def _acronym_items(rows: list[tuple[str, str, str, str]], inventory: dict[str, list[str]] | None, source: str) -> list[ClinicalItem]:
    """(key, short form, gold sense, context) rows → items; short forms with one sense are dropped."""
    options = _option_sets([(acronym, sense) for _, acronym, sense, _ in rows], inventory)
    items, dropped = [], Counter()
    for key, acronym, sense, context in rows:
        choices = options.get(acronym, ())
        if len(choices) < 2 or sense not in choices:
            dropped[acronym] += 1
            continue
        items.append(
            ClinicalItem(
                key=key,
                question=acronym_question(acronym),
                options=choices,
                answer_idx=choices.index(sense),
                context=context,
                stratum=acronym,
            )
        )
    if dropped:
        log.info("%s: %d rows dropped (a single sense, or a sense outside the %d options kept)", source, sum(dropped.values()), MAX_OPTIONS)
    if not items:
        raise ValueError(f"{source}: no usable rows")
    return items


def read_casi(folder: Path) -> SourceSplits:
    """CASI (Moon et al., 2014, University of Minnesota): the pipe-delimited release file.

    Fields per line, no header, Windows-1252: abbreviation | sense | abbreviation as written |
    start | end | section | sample text. Rows whose sense is an annotation flag
    (:data:`CASI_NOT_A_SENSE`) are not items; the options of an abbreviation are its senses in
    the release.
    """
    path = first_existing(folder, CASI_FILE)
    rows = []
    with path.open(encoding="cp1252", newline="") as source:
        for number, line in enumerate(source, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("|", 6)
            if len(fields) != 7:
                raise ValueError(f"{path}:{number}: expected 7 '|'-separated fields, found {len(fields)}")
            acronym, sense, _rep, _start, _end, _section, sample = fields
            if sense.strip() in CASI_NOT_A_SENSE or sense.startswith("MISTAKE"):
                continue
            rows.append((f"line{number:05d}", acronym.strip(), sense.strip(), sample.strip()))
    return {"all": _acronym_items(rows, None, str(path))}


MIMIC_ACRONYM_FILE = "mimic_rs_dataset_preprocessed_window_10.csv"
SENSE_MAP_FILE = "sf_lf_map.json"


def readable_sense(long_form: str) -> str:
    """A sense inventory entry ``"discontinue;discontinued"`` as ``"discontinue / discontinued"``."""
    variants = [v.strip() for v in long_form.split(";") if v.strip()]
    if len(variants) <= 1:
        return long_form.strip()
    return " / ".join(dict.fromkeys(v.lower() for v in variants))


@_big_csv_fields
def read_mimic3_acronym(folder: Path) -> SourceSplits:
    """MIMIC-III acronym senses: the reverse-substitution data set of Adams et al. (2020).

    ``mimic_rs_dataset_preprocessed_window_10.csv`` (columns ``sf``, ``target_lf_sense``,
    ``context``; ``row_idx`` when present keys the items) and ``sf_lf_map.json`` (short form →
    its sense inventory), as written by the LMC repository's pipeline from MIMIC-III
    NOTEEVENTS.csv.
    """
    path = first_existing(folder, MIMIC_ACRONYM_FILE)
    inventory_raw = read_json(first_existing(folder, SENSE_MAP_FILE))
    if not isinstance(inventory_raw, dict):
        raise ValueError(f"{folder / SENSE_MAP_FILE}: expected an object short form → list of senses")
    inventory = {acronym: [readable_sense(long_form) for long_form in long_forms]
                 for acronym, long_forms in inventory_raw.items()}
    rows = []
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        missing = {"sf", "target_lf_sense", "context"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: no column {', '.join(sorted(missing))}")
        for number, row in enumerate(reader):
            key = f"row{row['row_idx']}" if row.get("row_idx") not in (None, "") else f"line{number:06d}"
            rows.append((key, row["sf"].strip(), readable_sense(row["target_lf_sense"]), row["context"].strip()))
    keys = Counter(k for k, *_ in rows)
    if len(keys) != len(rows):
        raise ValueError(f"{path}: row_idx is not unique")
    return {"all": _acronym_items(rows, inventory, str(path))}


# --------------------------------------------------------------------------- CLUE generative tasks

MEDISUMQA_FILE = "MeDiSumQA.json"
MEDISUMCODE_FILE = "MeDiSumCode.json"


def read_medisumqa(folder: Path) -> SourceSplits:
    """MeDiSumQA (CLUE): ``MeDiSumQA.json``, JSON array or lines of question–answer pairs.

    Fields: ``note_id``, the discharge letter in ``discharge_summary`` (CLUE's evaluation) or
    ``without_discharge_summary`` (CLUE's generation script), ``Question``, ``Answer``.
    """
    path = first_existing(folder, MEDISUMQA_FILE)
    items, per_note = [], Counter()
    for number, row in enumerate(_json_records(path), 1):
        where = f"{path}: record {number}"
        note_id = str(_field(row, "note_id", where))
        letter = row.get("discharge_summary", row.get("without_discharge_summary"))
        if not isinstance(letter, str) or not letter.strip():
            raise ValueError(f"{where}: no discharge_summary (or without_discharge_summary) text")
        items.append(
            ClinicalItem(
                key=f"{note_id}/{per_note[note_id]}",
                question=str(_field(row, "Question", where)).strip(),
                context=letter.strip(),
                reference=str(_field(row, "Answer", where)).strip(),
                cluster=f"note-{note_id}",
            )
        )
        per_note[note_id] += 1
    return {"all": items}


def normalise_icd10(code: str) -> str:
    """``"e11.9 "`` → ``"E119"``: upper case, no dot, no spaces (MIMIC's spelling)."""
    return re.sub(r"[\s.]", "", code).upper()


def read_medisumcode(folder: Path) -> SourceSplits:
    """MeDiSumCode (CLUE): ``MeDiSumCode.json``, records ``{hadm_id, text, icd_codes: [{code, description}]}``."""
    path = first_existing(folder, MEDISUMCODE_FILE)
    items = []
    for number, row in enumerate(_json_records(path), 1):
        where = f"{path}: record {number}"
        codes = tuple(dict.fromkeys(normalise_icd10(str(_field(c, "code", where))) for c in _field(row, "icd_codes", where)))
        if not codes:
            log.info("%s: no ICD-10 codes, not an item", where)
            continue
        items.append(
            ClinicalItem(
                key=f"hadm{_field(row, 'hadm_id', where)}",
                context=str(_field(row, "text", where)).strip(),
                reference=", ".join(codes),
                codes=codes,
            )
        )
    return {"all": items}


MEQSUM_FILE = "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"


def read_meqsum(folder: Path) -> SourceSplits:
    """MeQSum (Ben Abacha & Demner-Fushman, 2019): the release spreadsheet, columns File, CHQ, Summary."""
    from openpyxl import load_workbook

    path = first_existing(folder, MEQSUM_FILE)
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    finally:
        workbook.close()
    if not rows:
        raise ValueError(f"{path}: empty sheet")
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    missing = {"File", "CHQ", "Summary"} - set(header)
    if missing:
        raise ValueError(f"{path}: no column {', '.join(sorted(missing))} (header {header})")
    col = {name: header.index(name) for name in ("File", "CHQ", "Summary")}
    items = []
    files = Counter(str(r[col["File"]]) for r in rows[1:] if r and r[col["CHQ"]])
    for number, row in enumerate(rows[1:], 2):
        if not row or row[col["CHQ"]] in (None, ""):
            continue
        file = str(row[col["File"]])
        items.append(
            ClinicalItem(
                key=file if files[file] == 1 else f"{file}#row{number}",
                context=str(row[col["CHQ"]]).strip(),
                reference=str(row[col["Summary"]] or "").strip(),
            )
        )
    return {"all": items}


PROBSUM_FILES = {"train": "BioNLP2023-1A-Train.csv", "test": "BioNLP2023-1A-Test.csv"}
PROBSUM_COLUMNS = ("File ID", "Assessment", "Summary", "Subjective Sections", "Objective Sections")


def probsum_context(subjective: str, assessment: str) -> str:
    """The progress-note input of a ProbSum item: subjective sections and assessment (as CLUE)."""
    return f"Subjective:\n{subjective.strip()}\n\nAssessment:\n{assessment.strip()}"


@_big_csv_fields
def read_probsum(folder: Path) -> SourceSplits:
    """BioNLP 2023 Task 1A, problem list summarisation (PhysioNet 2.0.0): train and test CSV files."""
    splits: SourceSplits = {}
    for split, name in PROBSUM_FILES.items():
        path = first_existing(folder, name)
        with path.open(encoding="utf-8", newline="") as source:
            reader = csv.DictReader(source)
            missing = set(PROBSUM_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: no column {', '.join(sorted(missing))}")
            items = []
            for row in reader:
                if not (row["Summary"] or "").strip():
                    continue  # a few training notes have no reference summary
                items.append(
                    ClinicalItem(
                        key=row["File ID"].strip(),
                        context=probsum_context(row["Subjective Sections"] or "", row["Assessment"] or ""),
                        reference=row["Summary"].strip(),
                    )
                )
        splits[split] = items
    return splits
