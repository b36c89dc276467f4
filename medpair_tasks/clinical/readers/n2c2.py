"""n2c2 (i2b2) 2008 Obesity Challenge: patient-record XML files and intuitive judgments."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from medpair_tasks.clinical.readers.files import SourceSplits
from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.family.sources import first_existing, naming_file


N2C2_DISEASES = {"asthma": "Asthma", "cad": "CAD", "diabetes": "Diabetes", "obesity": "Obesity"}
N2C2_JUDGMENTS = {"Y": "Yes", "N": "No", "Q": "Questionable"}
N2C2_OPTIONS = ("Yes", "No", "Questionable")
N2C2_TRAIN_RECORDS = ("obesity_patient_records_training.xml", "obesity_patient_records_training2.xml")
N2C2_TEST_RECORDS = ("obesity_patient_records_test.xml",)


def xml_root(path: Path) -> ET.Element:
    """The root element of an XML file; a malformed file is a ValueError naming it."""
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"{path}: not well-formed XML ({err})") from err


def _n2c2_records(path: Path) -> dict[str, str]:
    root = xml_root(path)
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
        root = xml_root(path)
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
