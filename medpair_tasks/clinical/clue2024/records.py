"""The records CLUE reads from each task's file, and CLUE's shuffle into demonstrations and scored records."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medpair_tasks.clinical.clue2024.prompts import PROMPTS
from medpair_tasks.clinical.readers import probsum_subjective_column
from medpair_tasks.clinical.readers.files import json_records
from medpair_tasks.clinical.sources import CLINICAL_SOURCES, DATA_DIR_ENV, clinical_folder
from medpair_tasks.family.sources import DataUnavailable, read_jsonl


SHUFFLE_SEED = 1  # CLUE: random.seed(1) before shuffling each dataset
FILES = {
    "mednli": "mli_test_v1.jsonl",
    "meqsum": "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
    "probsum": "BioNLP2023-1A-Test.csv",
    "medisumqa": "MeDiSumQA.json",
    "medisumcode": "MeDiSumCode.json",
    "longhealth": "benchmark_v5.json",
}
KEY_FIELDS = {"mednli": "pairID", "meqsum": "File", "probsum": "File ID", "medisumcode": "hadm_id"}


def _spreadsheet(path: Path) -> list[dict[str, Any]]:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        return [dict(zip(header, row)) for row in rows if any(cell is not None for cell in row)]
    finally:
        book.close()


def _probsum(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        subjective = probsum_subjective_column(path, reader.fieldnames or ())
        rows = list(reader)
    for row in rows:
        row["Subjectives"] = row[subjective]  # the test file's own name, the one CLUE's prompt reads
        row["Summary"] = row["Summary"].replace(";", ", ")
    return rows


def _medisumcode(path: Path) -> list[dict[str, Any]]:
    return [{**r, "codes": ", ".join(code["code"] for code in r["icd_codes"])} for r in json_records(path)]


def _mednli(path: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(path))


READERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "mednli": _mednli,
    "meqsum": _spreadsheet,
    "probsum": _probsum,
    "medisumqa": json_records,
    "medisumcode": _medisumcode,
}


def data_folder(dataset: str) -> Path:
    """The dataset's folder under ``$MEDPAIR_DATA_DIR``; DataUnavailable when the variable is not set."""
    folder = clinical_folder(dataset)
    source = CLINICAL_SOURCES[dataset]
    if folder is None:
        raise DataUnavailable(dataset, f"${DATA_DIR_ENV} (not set)", source.how_to_get(),
                              f"clinical datasets are read only from ${DATA_DIR_ENV}/{source.folder}/")
    return folder


def read_records(dataset: str, folder: Path) -> list[dict[str, Any]]:
    """The records CLUE reads for ``dataset`` (not LongHealth) from ``folder``, in file order, each
    with its ``item_key``."""
    path = folder / FILES[dataset]
    if not path.is_file():
        raise DataUnavailable(dataset, str(folder), CLINICAL_SOURCES[dataset].how_to_get(), f"missing {path.name}")
    records = READERS[dataset](path)
    for index, record in enumerate(records):
        key = record.get(KEY_FIELDS.get(dataset, ""))
        if dataset == "medisumqa":
            key = f"{record.get('note_id', 'letter')}/{index}"
        record["item_key"] = str(key if key is not None else index)
    return records


def clue_order(dataset: str, records: Sequence[dict[str, Any]]) -> tuple[list[dict], list[dict]]:
    """(demonstrations, scored records): CLUE's ``random.seed(1)`` shuffle, then the first ``shots``."""
    shuffled = list(records)
    random.Random(SHUFFLE_SEED).shuffle(shuffled)
    shots = PROMPTS[dataset].shots
    return shuffled[:shots], shuffled[shots:]
