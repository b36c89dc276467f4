"""The clinical task YAMLs, as data: :func:`clinical_files` feeds ``task_yaml/_generate.py``.

Under ``task_yaml/clinical/``:

- multiple-choice datasets (:data:`MC_DATASETS`): the knowledge tasks' layout and prompt space,
  ``<dataset>/medpair_<dataset>.yaml`` and ``medpair_<dataset>_gen.yaml`` (format f00, zero-shot,
  test role) and ``<dataset>/candidates/`` with 11 formats × {0-shot, 3-shot × 10 seeds} in both
  scoring modes, on the validation role. LongHealth's three settings are zero-shot only (11
  formats), as in CLUE: its documents fill the context;
- generative datasets (:data:`GENERATIVE`): one task each, ``medpair_<dataset>``: greedy
  generation with the documented prompt of :data:`GENERATIVE`, test role;
- ``_groups/``: ``medpair_longhealth`` and ``medpair_n2c2_obesity`` (and ``_gen`` twins);
- ``_templates/_clinical_yaml`` (the task class and data loader, layered over the knowledge
  mode templates) and ``_templates/_text_gen_yaml`` (the generative base).

Every clinical task runs the :class:`~medpair_tasks.clinical.task.ClinicalTask` class.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from medpair_tasks.clinical.sources import CLINICAL_SOURCES
from medpair_tasks.formats import format_ids
from medpair_tasks.family.roles import FEWSHOT_DRAW
from medpair_tasks.family.taskfiles import HEADER, candidate_family, candidate_metadata, flow, group_file
from medpair_tasks.taskspec import MODES, N_FEWSHOT_SEEDS, Candidate
ROOT = "clinical"
LONGHEALTH = ("longhealth_task1", "longhealth_task2", "longhealth_task3")
N2C2 = tuple(n for n in CLINICAL_SOURCES if n.startswith("n2c2_obesity_"))
MC_DATASETS = tuple(n for n, s in CLINICAL_SOURCES.items() if s.kind == "mc")
ZERO_SHOT_ONLY = frozenset(LONGHEALTH)
ROUGE_METRICS = ("rouge1", "rouge2", "rougeL", "bertscore_f1")
ICD_METRICS = (
    "icd_exact_precision", "icd_exact_recall", "icd_exact_f1",
    "icd_3char_precision", "icd_3char_recall", "icd_3char_f1", "icd_valid_share",
)


@dataclass(frozen=True)
class GenerativePrompt:
    """The one prompt of a generative clinical task and how it is scored."""

    text: str  # Jinja2 doc_to_text over the document's context / question
    until: tuple[str, ...]
    max_gen_toks: int
    process_results: str
    metrics: tuple[str, ...]


GENERATIVE: dict[str, GenerativePrompt] = {
    "meqsum": GenerativePrompt(
        "Summarize the patient's question below as one short question.\n\n"
        "Patient question:\n{{ context }}\n\nShort question:",
        ("\n",), 64, "score_summary", ROUGE_METRICS,
    ),
    "probsum": GenerativePrompt(
        "List the patient's diagnoses and problems from the progress note below, separated by semicolons.\n\n"
        "Progress note:\n{{ context }}\n\nDiagnoses and problems:",
        ("\n\n",), 128, "score_summary", ROUGE_METRICS,
    ),
    "medisumqa": GenerativePrompt(
        "Answer the patient's question about the discharge letter below, briefly and in plain language.\n\n"
        "Discharge letter:\n{{ context }}\n\nQuestion: {{ question }}\nAnswer:",
        ("\n\n",), 128, "score_summary", ROUGE_METRICS,
    ),
    "medisumcode": GenerativePrompt(
        "List the ICD-10 codes of all primary and secondary diagnoses in the discharge letter below, "
        "separated by commas.\n\nDischarge letter:\n{{ context }}\n\nICD-10 codes:",
        ("\n\n",), 128, "score_codes", ICD_METRICS,
    ),
}

CLINICAL_INCLUDE = """\
class: !function medpair_tasks.clinical.task.ClinicalTask
custom_dataset: !function medpair_tasks.clinical.hooks.load
"""

TEXT_GEN_TEMPLATE = """\
class: !function medpair_tasks.clinical.task.ClinicalTask
custom_dataset: !function medpair_tasks.clinical.hooks.load
test_split: eval
fewshot_config:
  split: fewshot
  sampler: first_n
output_type: generate_until
doc_to_target: "{{ reference }}"
target_delimiter: " "
fewshot_delimiter: "\\n\\n"
"""

GROUPS = {
    "medpair_longhealth": LONGHEALTH,
    "medpair_n2c2_obesity": N2C2,
}


def _candidates(dataset: str, mode: str) -> list[Candidate]:
    seeds = [None] if dataset in ZERO_SHOT_ONLY else [None, *range(N_FEWSHOT_SEEDS)]
    return [
        Candidate(dataset, mode, format_id, 0 if seed is None else FEWSHOT_DRAW, seed)
        for format_id in format_ids()
        for seed in seeds
    ]


def _includes(candidate: Candidate) -> list[str]:
    """The knowledge tasks' scoring template and format, then the clinical layer (paths from ``clinical/``)."""
    return [f"../_templates/_{candidate.mode}_template_yaml", f"../_templates/formats/{candidate.format_id}_yaml",
            "_templates/_clinical_yaml"]


def _generative_task(dataset: str, prompt: GenerativePrompt) -> str:
    candidate = Candidate(dataset, "gen", "f00", 0, None)
    metrics = "".join(
        f"  - metric: {m}\n    aggregation: mean\n    higher_is_better: true\n" for m in prompt.metrics
    )
    generation = {"until": list(prompt.until), "max_gen_toks": prompt.max_gen_toks, "do_sample": False, "temperature": 0.0}
    extra = {"bertscore": True} if "bertscore_f1" in prompt.metrics else {}
    return (
        HEADER
        + f"include: {flow(['../_templates/_text_gen_yaml'])}\n"
        + f"task: medpair_{dataset}\n"
        + "num_fewshot: 0\n"
        + f"doc_to_text: {flow(prompt.text)}\n"
        + f"generation_kwargs: {flow(generation)}\n"
        + f"process_results: !function medpair_tasks.clinical.hooks.{prompt.process_results}\n"
        + "metric_list:\n"
        + metrics
        + f"metadata: {flow(candidate_metadata(candidate, 'test', **extra))}\n"
    )


def clinical_files() -> dict[str, str]:
    """Every clinical task file: path relative to ``task_yaml/`` → content."""
    files = {
        f"{ROOT}/_templates/_clinical_yaml": HEADER + CLINICAL_INCLUDE,
        f"{ROOT}/_templates/_text_gen_yaml": HEADER + TEXT_GEN_TEMPLATE,
    }
    for dataset in MC_DATASETS:
        for mode in MODES:
            files.update(candidate_family(f"{ROOT}/{dataset}", dataset, mode, _includes,
                                          few_shot=dataset not in ZERO_SHOT_ONLY))
    for dataset, prompt in GENERATIVE.items():
        files[f"{ROOT}/{dataset}/medpair_{dataset}.yaml"] = _generative_task(dataset, prompt)
    for group, members in GROUPS.items():
        for mode in MODES:
            suffix = "" if mode == "mc" else "_gen"
            files[f"{ROOT}/_groups/{group}{suffix}.yaml"] = group_file(f"{group}{suffix}", [f"medpair_{m}{suffix}" for m in members])
    return files


@cache
def clinical_catalogue() -> dict[str, frozenset[str]]:
    """Every clinical task and group name → the datasets it runs (for the remote-use check)."""
    catalogue: dict[str, frozenset[str]] = {}
    for dataset in MC_DATASETS:
        for mode in MODES:
            bare = Candidate(dataset, mode, "f00", 0, None)
            catalogue[bare.default_task_name] = frozenset({dataset})
            for candidate in _candidates(dataset, mode):
                catalogue[candidate.task_name] = frozenset({dataset})
    for dataset in GENERATIVE:
        catalogue[f"medpair_{dataset}"] = frozenset({dataset})
    for group, members in GROUPS.items():
        for suffix in ("", "_gen"):
            catalogue[f"{group}{suffix}"] = frozenset(members)
    return catalogue
