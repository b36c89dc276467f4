"""The clinical datasets: where each comes from, what it needs, how its files are read.

Every clinical dataset is read from ``$MEDPAIR_DATA_DIR/<folder>/`` in its source's original
release format (:mod:`medpair_tasks.clinical.readers`); there is no download and no hub
fall-back, because most of them are credentialed. A missing folder, a missing file or a file
that does not follow the release schema is one :class:`~medpair_tasks.family.sources.DataUnavailable`
error that names the dataset, the path, where to get the data and which agreement it needs;
never a silent partial run.

Checksums: PhysioNet ships a ``SHA256SUMS.txt`` with every release. Keep it in the dataset's
folder and medpair checks every file it lists that is present (a mismatch is an error). medpair
pins no checksums of its own: it could not verify them without the credentialed files.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

from medpair_tasks.clinical import readers
from medpair_tasks.clinical.longhealth import LongHealthData, read_longhealth
from medpair_tasks.clinical.readers import SourceSplits
from medpair_tasks.family.sources import DATA_DIR_ENV, LOCAL_READ_ERRORS, DataUnavailable, SourceTable, read_local

log = logging.getLogger(__name__)

CHECKSUM_FILE = "SHA256SUMS.txt"

PHYSIONET_ACCESS = (
    "PhysioNet credentialed access: a credentialed PhysioNet account, the CITI 'Data or Specimens Only "
    "Research' training, and the signed PhysioNet Credentialed Health Data Use Agreement"
)
N2C2_ACCESS = "registration on the Harvard DBMI portal and the signed n2c2 data use agreement"


@dataclass(frozen=True)
class ClinicalSource:
    """One clinical dataset: documentation and its reader.

    ``roles`` documents the split roles; ``credentialed`` marks data whose
    agreement forbids sharing it with third parties (see :mod:`medpair_tasks.clinical.safety`).
    """

    name: str
    title: str
    folder: str
    files: str
    obtain: str
    access: str
    credentialed: bool
    kind: str  # "mc" or "gen"
    roles: str
    read: Callable[[Path], SourceSplits]

    def how_to_get(self) -> str:
        """One paragraph for error messages: where to get it, the agreement, where to put it."""
        return (
            f"{self.obtain}\n             access: {self.access}\n"
            f"             files:  {self.files}, in ${DATA_DIR_ENV}/{self.folder}/"
        )


@lru_cache(maxsize=4)
def _longhealth(folder: str) -> LongHealthData:
    return read_longhealth(Path(folder))


def _longhealth_setting(setting: int) -> Callable[[Path], SourceSplits]:
    def read(folder: Path) -> SourceSplits:
        return {"all": list(_longhealth(str(folder)).items[setting])}

    return read


RANDOM_ROLES = "no official split: {unit} are split {split} (seed 42){extra}"


def _note_qa_sources() -> list[ClinicalSource]:
    """MedNLI and EHRNoteQA."""
    return [
        ClinicalSource(
            "mednli", "MedNLI", "mednli", "mli_train_v1.jsonl, mli_dev_v1.jsonl, mli_test_v1.jsonl",
            "https://physionet.org/content/mednli/1.0.0/", PHYSIONET_ACCESS, True, "mc",
            "val = official dev, test = official test, few-shot pool = train", readers.read_mednli,
        ),
        ClinicalSource(
            "ehrnoteqa", "EHRNoteQA", "ehrnoteqa",
            "EHRNoteQA.jsonl and MIMIC-IV-Note's note/discharge.csv.gz (or the official preprocessing's "
            "EHRNoteQA_processed.jsonl)",
            "https://physionet.org/content/ehr-notes-qa-llms/1.0.1/ and "
            "https://physionet.org/content/mimic-iv-note/2.2/", PHYSIONET_ACCESS, True, "mc",
            RANDOM_ROLES.format(unit="patients", split="60/20/20 into few-shot pool / val / test",
                                extra="; a patient's questions stay together"),
            readers.read_ehrnoteqa,
        ),
    ]


def _longhealth_sources() -> list[ClinicalSource]:
    """LongHealth's three CLUE settings."""
    sources = []
    for setting, what in ((1, "the patient's documents"), (2, "answer documents among other patients' documents"),
                          (3, "other patients' documents only: 'cannot be answered' is right")):
        sources.append(
            ClinicalSource(
                f"longhealth_task{setting}", f"LongHealth, CLUE setting {setting} ({what})", "longhealth",
                "benchmark_v5.json", "https://github.com/kbressem/LongHealth (data/benchmark_v5.json)",
                "public download (see the repository's licence)", False, "mc",
                RANDOM_ROLES.format(unit="patients", split="20/80 into val / test",
                                    extra="; zero-shot only, as in CLUE (the documents leave no room for shots)"),
                _longhealth_setting(setting),
            )
        )
    return sources


def _n2c2_sources() -> list[ClinicalSource]:
    """The n2c2 2008 obesity challenge, one task per disease."""
    sources = []
    for disease in readers.N2C2_DISEASES:
        sources.append(
            ClinicalSource(
                f"n2c2_obesity_{disease}", f"n2c2 2008 obesity challenge: {readers.N2C2_DISEASES[disease]}",
                "n2c2_obesity",
                "obesity_patient_records_training.xml, obesity_patient_records_training2.xml, "
                "obesity_patient_records_test.xml and the obesity_standoff*annotations*.xml files (training, "
                "addenda, test) with intuitive judgments",
                "https://portal.dbmi.hms.harvard.edu/projects/n2c2-nlp/ (2008 Obesity Challenge downloads)",
                N2C2_ACCESS, True, "mc",
                "val = 20% of the training notes (seed 42), test = official test, few-shot pool = the other 80%",
                partial(readers.read_n2c2_obesity, disease=disease),
            )
        )
    return sources


def _acronym_sources() -> list[ClinicalSource]:
    """CASI and the MIMIC-III acronym senses."""
    return [
        ClinicalSource(
            "casi", "CASI clinical abbreviation senses", "casi", readers.CASI_FILE,
            "https://conservancy.umn.edu/handle/11299/137703 (Clinical Abbreviation Sense Inventory)",
            "public download", False, "mc",
            RANDOM_ROLES.format(unit="each abbreviation's samples", split="60/20/20 into few-shot pool / val / test",
                                extra=""),
            readers.read_casi,
        ),
        ClinicalSource(
            "mimic3_acronym", "MIMIC-III acronym senses (reverse substitution)", "mimic3_acronym",
            f"{readers.MIMIC_ACRONYM_FILE}, {readers.SENSE_MAP_FILE}",
            "built from MIMIC-III 1.4 NOTEEVENTS.csv (https://physionet.org/content/mimiciii/1.4/) with the "
            "acronym pipeline of github.com/griff4692/LMC (Adams et al., 2020), as Jeong et al. did",
            PHYSIONET_ACCESS, True, "mc",
            RANDOM_ROLES.format(unit="each acronym's samples", split="60/20/20 into few-shot pool / val / test",
                                extra=""),
            readers.read_mimic3_acronym,
        ),
    ]


def _clue_generative_sources() -> list[ClinicalSource]:
    """CLUE's generative tasks: MeDiSumQA, MeDiSumCode, MeQSum, ProbSum."""
    return [
        ClinicalSource(
            "medisumqa", "MeDiSumQA (CLUE)", "medisumqa", readers.MEDISUMQA_FILE,
            "CLUE's data/MeDiSumQA scripts (github.com/TIO-IKIM/CLUE) run on MIMIC-IV-Note 2.2 discharge "
            "notes (https://physionet.org/content/mimic-iv-note/2.2/)", PHYSIONET_ACCESS, True, "gen",
            RANDOM_ROLES.format(unit="discharge letters", split="20/80 into val / test",
                                extra="; a letter's questions stay together"),
            readers.read_medisumqa,
        ),
        ClinicalSource(
            "medisumcode", "MeDiSumCode (CLUE)", "medisumcode", readers.MEDISUMCODE_FILE,
            "CLUE's data/MeDiSumCode/generate_code_dataset.py (github.com/TIO-IKIM/CLUE) run on MIMIC-IV 2.2 "
            "hosp/diagnoses_icd.csv.gz and MIMIC-IV-Note 2.2 discharge notes", PHYSIONET_ACCESS, True, "gen",
            RANDOM_ROLES.format(unit="discharge letters", split="20/80 into val / test", extra=""),
            readers.read_medisumcode,
        ),
        ClinicalSource(
            "meqsum", "MeQSum", "meqsum", readers.MEQSUM_FILE, "https://github.com/abachaa/MeQSum",
            "public download", False, "gen",
            RANDOM_ROLES.format(unit="questions", split="20/80 into val / test", extra=""),
            readers.read_meqsum,
        ),
        ClinicalSource(
            "probsum", "Problem list summarisation (BioNLP 2023 task 1A)", "probsum",
            "BioNLP2023-1A-Train.csv, BioNLP2023-1A-Test.csv",
            "https://physionet.org/content/bionlp-workshop-2023-task-1a/2.0.0/", PHYSIONET_ACCESS, True, "gen",
            "val = 20% of train (seed 42), test = official test", readers.read_probsum,
        ),
    ]


def _build() -> dict[str, ClinicalSource]:
    sources = [*_note_qa_sources(), *_longhealth_sources(), *_n2c2_sources(), *_acronym_sources(),
               *_clue_generative_sources()]
    return {s.name: s for s in sources}


CLINICAL_SOURCES: dict[str, ClinicalSource] = _build()
CREDENTIALED: frozenset[str] = frozenset(n for n, s in CLINICAL_SOURCES.items() if s.credentialed)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_checksums(folder: Path) -> int:
    """Check the files that ``folder/SHA256SUMS.txt`` lists and that are present; return how many.

    Raises ValueError naming the first file whose sha256 differs.
    """
    manifest = folder / CHECKSUM_FILE
    if not manifest.is_file():
        return 0
    checked = 0
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2:
            raise ValueError(f"{manifest}:{number}: expected '<sha256> <file>'")
        expected, name = parts[0].lower(), parts[1].strip().lstrip("*")
        for candidate in (folder / name, folder / Path(name).name):
            if candidate.is_file():
                actual = _sha256(candidate)
                if actual != expected:
                    raise ValueError(f"{candidate}: sha256 {actual} differs from {expected} in {manifest.name}")
                checked += 1
                break
    return checked


def _read(name: str, source: ClinicalSource, folder: str) -> SourceSplits:
    """A clinical dataset's source splits from ``folder``, its files checked against the release's checksums."""
    if not folder:
        raise DataUnavailable(name, f"${DATA_DIR_ENV} (not set)", source.how_to_get(),
                              f"clinical datasets are read only from ${DATA_DIR_ENV}/{source.folder}/")
    path = Path(folder)
    if not path.is_dir():
        raise DataUnavailable(name, folder, source.how_to_get(), "no such folder")
    checked, splits = read_local(name, path, folder, source.how_to_get(),
                                 lambda files: (verify_checksums(files), source.read(files)), CLINICAL_READ_ERRORS)
    if not any(splits.values()):
        raise DataUnavailable(name, folder, source.how_to_get(), "the files hold no items")
    log.info("medpair: %s read from %s (%d files checked against %s)", name, folder, checked, CHECKSUM_FILE)
    return splits


#: What a clinical reader may raise for a file off its schema, besides the shared errors.
CLINICAL_READ_ERRORS = (*LOCAL_READ_ERRORS, TypeError)
#: The clinical datasets, read once per data folder.
TABLE: SourceTable[ClinicalSource, SourceSplits] = SourceTable("clinical", CLINICAL_SOURCES, lambda row: row.folder, _read)


def clinical_folder(name: str) -> Path | None:
    """``$MEDPAIR_DATA_DIR/<folder>`` of a clinical dataset, or None when the variable is unset."""
    return TABLE.folder(name)


def load_clinical(name: str) -> SourceSplits:
    """The source splits of a clinical dataset from ``$MEDPAIR_DATA_DIR``.

    Raises :class:`~medpair_tasks.family.sources.DataUnavailable` with the path looked at, the
    problem, where to get the data and the agreement it needs.
    """
    return TABLE.load(name)


def longhealth_texts() -> dict[str, str]:
    """LongHealth's document texts (id → text), for packing prompts at run time."""
    folder = clinical_folder("longhealth_task1")
    load_clinical("longhealth_task1")  # the same checks and errors as the items
    return _longhealth(str(folder)).texts
