"""CLUE's generative datasets in their release files: MeDiSumQA, MeDiSumCode, MeQSum, ProbSum."""

from __future__ import annotations

import csv
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from medpair_tasks.clinical.readers.files import SourceSplits, big_csv_fields, required_field, json_records
from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.family.sources import first_existing

log = logging.getLogger(__name__)


MEDISUMQA_FILE = "MeDiSumQA.json"
MEDISUMCODE_FILE = "MeDiSumCode.json"


def read_medisumqa(folder: Path) -> SourceSplits:
    """MeDiSumQA (CLUE): ``MeDiSumQA.json``, JSON array or lines of question–answer pairs.

    Fields: ``note_id``, the discharge letter in ``discharge_summary`` (CLUE's evaluation) or
    ``without_discharge_summary`` (CLUE's generation script), ``Question``, ``Answer``.
    """
    path = first_existing(folder, MEDISUMQA_FILE)
    items, per_note = [], Counter()
    for number, row in enumerate(json_records(path), 1):
        where = f"{path}: record {number}"
        note_id = str(required_field(row, "note_id", where))
        letter = row.get("discharge_summary", row.get("without_discharge_summary"))
        if not isinstance(letter, str) or not letter.strip():
            raise ValueError(f"{where}: no discharge_summary (or without_discharge_summary) text")
        items.append(
            ClinicalItem(
                key=f"{note_id}/{per_note[note_id]}",
                question=str(required_field(row, "Question", where)).strip(),
                context=letter.strip(),
                reference=str(required_field(row, "Answer", where)).strip(),
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
    for number, row in enumerate(json_records(path), 1):
        where = f"{path}: record {number}"
        codes = tuple(dict.fromkeys(normalise_icd10(str(required_field(c, "code", where))) for c in required_field(row, "icd_codes", where)))
        if not codes:
            log.info("%s: no ICD-10 codes, not an item", where)
            continue
        items.append(
            ClinicalItem(
                key=f"hadm{required_field(row, 'hadm_id', where)}",
                context=str(required_field(row, "text", where)).strip(),
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
PROBSUM_COLUMNS = ("File ID", "Assessment", "Summary")
# the release names its note sections differently per file: "Subjective Sections" in the
# training file, "Subjectives" in the test file (the column CLUE's prompt reads)
PROBSUM_SUBJECTIVE = ("Subjective Sections", "Subjectives")


def probsum_context(subjective: str, assessment: str) -> str:
    """The progress-note input of a ProbSum item: subjective sections and assessment (as CLUE)."""
    return f"Subjective:\n{subjective.strip()}\n\nAssessment:\n{assessment.strip()}"


def probsum_subjective_column(path: Path, columns: Sequence[str]) -> str:
    """The subjective-sections column of a ProbSum file (either spelling); a ValueError names what
    is missing when the file lacks it or one of :data:`PROBSUM_COLUMNS`."""
    found = [name for name in PROBSUM_SUBJECTIVE if name in columns]
    missing = [name for name in PROBSUM_COLUMNS if name not in columns]
    if not found:
        missing.append(" or ".join(repr(name) for name in PROBSUM_SUBJECTIVE))
    if missing:
        raise ValueError(f"{path}: no column {', '.join(missing)} (header {list(columns)})")
    return found[0]


@big_csv_fields
def read_probsum(folder: Path) -> SourceSplits:
    """BioNLP 2023 Task 1A, problem list summarisation (PhysioNet 2.0.0): train and test CSV files."""
    splits: SourceSplits = {}
    for split, name in PROBSUM_FILES.items():
        path = first_existing(folder, name)
        with path.open(encoding="utf-8", newline="") as source:
            reader = csv.DictReader(source)
            subjective = probsum_subjective_column(path, reader.fieldnames or ())
            items = []
            for row in reader:
                if not (row["Summary"] or "").strip():
                    continue  # a few training notes have no reference summary
                items.append(
                    ClinicalItem(
                        key=row["File ID"].strip(),
                        context=probsum_context(row[subjective] or "", row["Assessment"] or ""),
                        reference=row["Summary"].strip(),
                    )
                )
        splits[split] = items
    return splits
