"""Readers of each clinical dataset's original release files.

Each reader takes the dataset's folder (``$MEDPAIR_DATA_DIR/<folder>/``) and returns its *source
splits*: ``{"train": [...], "dev": [...], "test": [...]}`` where the release has official splits,
``{"all": [...]}`` where it has none. :mod:`medpair_tasks.clinical.roles` turns them into split
roles. A reader raises ``FileNotFoundError`` naming a missing file, ``ValueError`` for content
that does not follow the release schema; :mod:`medpair_tasks.clinical.sources` turns both into
one :class:`~medpair_tasks.family.sources.DataUnavailable` error.

The file layouts are documented in :data:`medpair_tasks.clinical.sources.CLINICAL_SOURCES`.
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
