"""EHRNoteQA 1.0.1 (PhysioNet): its questions joined with MIMIC-IV-Note discharge summaries."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from medpair_tasks.clinical.readers.files import SourceSplits, big_csv_fields, required_field, open_text
from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.family.sources import first_existing, read_jsonl


EHRNOTEQA_CHOICES = ("A", "B", "C", "D", "E")


def _ehrnoteqa_whitespace(text: str) -> str:
    """The official preprocessing's whitespace clean-up (ji-youn-kim/EHRNoteQA, preprocess.py)."""
    text = re.sub(r"(\n\s*|\s*\n)", "\n", text)
    text = re.sub(r"\s{2,}", " ", text)
    return text.strip()


@big_csv_fields
def _discharge_notes(path: Path, subjects: set[str]) -> dict[str, list[dict[str, str]]]:
    """MIMIC-IV-Note ``discharge.csv(.gz)`` rows of the given subjects, each subject's by charttime."""
    notes: dict[str, list[dict[str, str]]] = {}
    with open_text(path) as source:
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
        subjects = {str(required_field(r, "patient_id", f"{questions_path}:{i}")) for i, r in enumerate(rows, 1)}
        by_subject = _discharge_notes(discharge, subjects)
        source = questions_path
    elif processed_path.is_file():
        rows, by_subject, source = list(read_jsonl(processed_path)), None, processed_path
    else:
        raise FileNotFoundError(f"{questions_path} (with discharge.csv.gz) or {processed_path}")
    items = []
    for number, row in enumerate(rows, 1):
        where = f"{source}:{number}"
        patient = str(required_field(row, "patient_id", where))
        n_notes = int(required_field(row, "num_notes", where))
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
        answer = str(required_field(row, "answer", where)).strip().upper()
        if answer not in EHRNOTEQA_CHOICES:
            raise ValueError(f"{where}: answer {answer!r} is not one of {EHRNOTEQA_CHOICES}")
        items.append(
            ClinicalItem(
                key=f"q{number - 1:04d}",
                question=str(required_field(row, "question", where)).strip(),
                options=tuple(str(required_field(row, f"choice_{c}", where)).strip() for c in EHRNOTEQA_CHOICES),
                answer_idx=EHRNOTEQA_CHOICES.index(answer),
                context=ehrnoteqa_context(notes),
                cluster=f"patient-{patient}",
            )
        )
    return {"all": items}
