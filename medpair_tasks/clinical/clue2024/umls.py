"""CLUE's UMLS F1 (ProbSum and MeDiSumQA): concepts found by scispaCy's UMLS linker, as sets.

CLUE's ``eval/utils.py`` (``compute_UMLS_F1``) runs spaCy's ``en_core_sci_sm`` with scispaCy's
``scispacy_linker`` (``resolve_abbreviations=True``, ``linker_name="umls"``) over the generation
and over the reference; each entity with a candidate concept contributes the canonical name of
its first candidate; precision and recall compare the two sets of names (0 when a set is empty).

medpair computes it only when asked (``--metadata '{"umls_pipeline": "en_core_sci_sm"}'``: a spaCy
pipeline name or folder) and never installs anything: scispaCy and the pipeline are the user's
optional dependencies (``pip install scispacy`` and the ``en_core_sci_sm`` package scispaCy
publishes); scispaCy fetches its UMLS knowledge base into its own cache the first time the
linker is built, unless it is there already.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from typing import Any, Protocol

from medpair_tasks.clinical.metrics import precision_recall_f1

UMLS_DATASETS = ("probsum", "medisumqa")  # the CLUE scripts that report UMLS_P / UMLS_R / UMLS_F1
UMLS_METRICS = ("umls_precision", "umls_recall", "umls_f1")
LINKER_CONFIG = {"resolve_abbreviations": True, "linker_name": "umls"}  # CLUE's add_pipe config


class ConceptLinker(Protocol):
    """Anything that names the UMLS concepts of a text."""

    def concepts(self, text: str) -> set[str]:
        """The canonical names of the concepts linked in ``text``."""


class ScispacyLinker:
    """A spaCy pipeline with scispaCy's UMLS linker added as CLUE adds it."""

    def __init__(self, pipeline: str) -> None:
        import spacy

        importlib.import_module("scispacy.linking")  # registers spaCy's "scispacy_linker" factory

        self.nlp = spacy.load(pipeline)
        self.linker = self.nlp.add_pipe("scispacy_linker", config=LINKER_CONFIG)

    def concepts(self, text: str) -> set[str]:
        """The canonical name of the first candidate concept of every entity that has one."""
        names = self.linker.kb.cui_to_entity
        return {names[entity._.kb_ents[0][0]].canonical_name for entity in self.nlp(text).ents if entity._.kb_ents}


def check_umls_pipeline(metadata: dict[str, Any]) -> str | None:
    """The ``umls_pipeline`` a task's metadata names (None when UMLS F1 is not asked for); a
    ValueError saying what to install when scispaCy is missing."""
    pipeline = metadata.get("umls_pipeline")
    if not pipeline:
        return None
    if importlib.util.find_spec("scispacy") is None or importlib.util.find_spec("spacy") is None:
        raise ValueError(
            f"medpair: umls_pipeline {pipeline!r} asks for CLUE's UMLS F1, which needs scispaCy and a spaCy "
            "pipeline on this machine (pip install scispacy, then scispaCy's en_core_sci_sm package); "
            "medpair installs neither"
        )
    return str(pipeline)


@lru_cache(maxsize=2)
def load_linker(pipeline: str) -> ConceptLinker:
    """One loaded linker per pipeline and process (loading takes minutes and gigabytes)."""
    return ScispacyLinker(pipeline)


def umls_scores(generation: str, reference: str, linker: ConceptLinker) -> dict[str, float]:
    """CLUE's UMLS precision, recall and F1 of one generation against its reference."""
    precision, recall, f1 = precision_recall_f1(linker.concepts(generation), linker.concepts(reference))
    return dict(zip(UMLS_METRICS, (precision, recall, f1)))
