"""Readers of each clinical dataset's original release files.

Each reader takes the dataset's folder (``$MEDPAIR_DATA_DIR/<folder>/``) and returns its *source
splits*: ``{"train": [...], "dev": [...], "test": [...]}`` where the release has official splits,
``{"all": [...]}`` where it has none. :mod:`medpair_tasks.clinical.roles` turns them into split
roles. A reader raises ``FileNotFoundError`` naming a missing file, ``ValueError`` for content
that does not follow the release schema; :mod:`medpair_tasks.clinical.sources` turns both into
one :class:`~medpair_tasks.family.sources.DataUnavailable` error.

The file layouts are documented in :data:`medpair_tasks.clinical.sources.CLINICAL_SOURCES`.
One module per release: :mod:`.mednli`, :mod:`.ehrnoteqa`, :mod:`.n2c2`, :mod:`.acronyms` (CASI,
MIMIC-III), :mod:`.summaries` (MeDiSumQA, MeDiSumCode, MeQSum, ProbSum); :mod:`.files` holds the
helpers they share. This package re-exports the names the rest of medpair uses.
"""

from medpair_tasks.clinical.readers.acronyms import (
    CASI_FILE, MAX_OPTIONS, MIMIC_ACRONYM_FILE, SENSE_MAP_FILE, acronym_question, read_casi, read_mimic3_acronym,
    readable_sense,
)
from medpair_tasks.clinical.readers.ehrnoteqa import EHRNOTEQA_CHOICES, ehrnoteqa_context, read_ehrnoteqa
from medpair_tasks.clinical.readers.files import SourceSplits, big_csv_fields, short_hash
from medpair_tasks.clinical.readers.mednli import MEDNLI_FILES, MEDNLI_LABELS, mednli_question, read_mednli
from medpair_tasks.clinical.readers.n2c2 import (
    N2C2_DISEASES, N2C2_JUDGMENTS, N2C2_OPTIONS, xml_root, n2c2_question, read_n2c2_obesity,
)
from medpair_tasks.clinical.readers.summaries import (
    MEDISUMCODE_FILE, MEDISUMQA_FILE, MEQSUM_FILE, PROBSUM_COLUMNS, PROBSUM_FILES, PROBSUM_SUBJECTIVE, normalise_icd10,
    probsum_context, probsum_subjective_column, read_medisumcode, read_medisumqa, read_meqsum, read_probsum,
)

__all__ = [
    "acronym_question", "big_csv_fields", "CASI_FILE", "EHRNOTEQA_CHOICES", "ehrnoteqa_context",
    "MAX_OPTIONS", "MEDISUMCODE_FILE", "MEDISUMQA_FILE", "MEDNLI_FILES", "MEDNLI_LABELS", "mednli_question",
    "MEQSUM_FILE", "MIMIC_ACRONYM_FILE", "N2C2_DISEASES", "N2C2_JUDGMENTS", "N2C2_OPTIONS", "n2c2_question",
    "normalise_icd10", "PROBSUM_COLUMNS", "probsum_context", "PROBSUM_FILES", "PROBSUM_SUBJECTIVE",
    "probsum_subjective_column", "read_casi", "read_ehrnoteqa", "read_medisumcode", "read_medisumqa",
    "read_mednli", "read_meqsum", "read_mimic3_acronym", "read_n2c2_obesity", "read_probsum",
    "readable_sense", "SENSE_MAP_FILE", "short_hash", "SourceSplits", "xml_root",
]
