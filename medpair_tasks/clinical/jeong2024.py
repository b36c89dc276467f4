"""The clinical datasets under the ``jeong2024`` protocol: the reference code's populations and prompts.

Jeong et al.'s code (GitHub ``taekb/eval-medical-dapt`` at 908bb86) reads the outputs of its
preprocessing (``notebooks/preprocess-casi-mimic-sense.ipynb``, ``notebooks/preprocess-i2b2.ipynb``,
the official EHRNoteQA script) with the dataset classes of ``src/dataset.py``. This module
reads the same inputs from ``$MEDPAIR_DATA_DIR/<folder>/`` and rebuilds, in the same order:

========== ================================== ================================== ==================
dataset    validation role                    test role                          few-shot pool
========== ================================== ================================== ==================
MedNLI     ``mli_dev_v1.jsonl``               ``mli_test_v1.jsonl``              ``mli_train_v1.jsonl``
EHRNoteQA  level-1 questions only, split 60/20/20 by scikit-learn's ``train_test_split``
           (seed 42, test first, then validation out of the rest); zero-shot only
n2c2 2008  20% of the training notes          test notes of at most 3,000        none: zero-shot
           (Hugging Face ``train_test_split``, tokens (Llama-2 tokenizer, with    only
           seed 42)                           its beginning-of-sequence token)
CASI,      per acronym of ``mimic_sf.yaml`` (in its order): at most 500 samples (pandas ``sample``,
MIMIC-III  ``random_state=42``), split 60/20/20 like EHRNoteQA; CASI keeps only those acronyms
========== ==========================================================================================

Every dataset has the reference's task-specific system prompt (:data:`SYSTEM_PROMPTS`, for
every model, chat models included) and its question text; the prompt around it is the model's
profile or sampled format of :mod:`medpair_tasks.jeong2024`. A chat model's prompt is the
reference's conversation rendered with the model's tokenizer (:mod:`medpair_tasks.jeong2024_chat`,
the question text verbatim), with the chat profile's stop strings. For a model the reference does
not know, ``system_prompt_seed`` 0–2 replaces the task's system prompt with the reference's draw
from its knowledge-question pool (:func:`system_prompt`). The reference never truncates a note:
notes are filtered (n2c2) or short (10-token windows), and truncation stays a ``medpair``-protocol
feature (asking for it under ``jeong2024`` is an error, for every model).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import datasets
import numpy as np
import yaml

from medpair_tasks import jeong2024_docs
from medpair_tasks.clinical import readers
from medpair_tasks.clinical.sources import CLINICAL_SOURCES, clinical_folder
from medpair_tasks.clinical.truncate import _hf_tokenizer
from medpair_tasks.formats import LETTERS
from medpair_tasks.jeong2024 import profile_for
from medpair_tasks.jeong2024_roles import VAL_LIMIT, demo_indices, medmcqa_split, val_subsample
from medpair_tasks.jeong2024_system import sampled_system_prompt, sampled_system_template, system_prompt_seed
from medpair_tasks.protocols import JEONG2024
from medpair_tasks.family.sources import DataUnavailable, first_existing, read_json, read_jsonl
from medpair_tasks.knowledge.records import Item

log = logging.getLogger(__name__)

SEED = 42
EVAL_SHARE = 0.2  # EHRNoteQA and the acronym sets: int(0.2 n) test items, then int(0.2 n) validation items
EHRNOTEQA_LEVELS = ("level1",)
EHRNOTEQA_FILE = "EHRNoteQA_processed.jsonl"
NOTE_TOKEN_LIMIT = 3000
NOTE_TOKENIZER = "meta-llama/Llama-2-7b-hf"
N2C2_FILES = {
    "train": (("obesity_patient_records_training.xml", "obesity_patient_records_training2.xml"),
              "obesity_standoff_intuitive_annotations_training.xml"),
    "test": (("obesity_patient_records_test.xml",), "obesity_standoff_annotations_test_intuitive.xml"),
}
ACRONYM_CAP = 500
ACRONYM_FILES = {
    "casi": "preprocessed_dataset_window_10.csv",
    "mimic3_acronym": "mimic_rs_dataset_preprocessed_window_10.csv",
}
SENSE_MAP_FILE = "sf_lf_map.json"
ACRONYM_LIST_FILE = "mimic_sf.yaml"
MEDNLI_OPTIONS = ("entailment", "contradiction", "neutral")
N2C2 = tuple(f"n2c2_obesity_{disease}" for disease in readers.N2C2_DISEASES)
DATASETS = ("mednli", "ehrnoteqa", *N2C2, "casi", "mimic3_acronym")
ZERO_SHOT_ONLY = frozenset(("ehrnoteqa", *N2C2))

_ACRONYM_SYSTEM = ("Provide the correct expansion for the specified clinical acronym in each clinical note snippet. "
                   "Answer the question by choosing one of the provided options.")
_N2C2_SYSTEM = ("Answer whether the patient described in the discharge summary has the mentioned comorbidity for "
                "obesity. Choose one of the options from A to C.")
# The option counts the reference's src/dataset.py gives a sampled system prompt ("… from A to D."): 4 for n2c2,
# whose questions have 3 options (its task-specific prompt, from src/llm/utils.py, says "A to C").
SAMPLED_SYSTEM_OPTIONS = {"mednli": 3, "ehrnoteqa": 5, **{name: 4 for name in N2C2}}
SYSTEM_PROMPTS: dict[str, str] = {
    "mednli": ("The following is a natural language inference task based on a patient's past medical history. "
               "Answer the question by choosing one of the options from A to C."),
    "ehrnoteqa": ("The following is a multiple-choice question about the provided discharge summaries. "
                  "Answer the question by choosing one of the options from A to E."),
    **{name: _N2C2_SYSTEM for name in N2C2},
    "casi": _ACRONYM_SYSTEM,
    "mimic3_acronym": _ACRONYM_SYSTEM,
}
JEONG2024_FILES = {
    "mednli": "mli_train_v1.jsonl, mli_dev_v1.jsonl, mli_test_v1.jsonl (the release)",
    "ehrnoteqa": f"{EHRNOTEQA_FILE} (the output of the official EHRNoteQA preprocessing)",
    **{name: ", ".join((*N2C2_FILES["train"][0], N2C2_FILES["train"][1], *N2C2_FILES["test"][0], N2C2_FILES["test"][1]))
       for name in N2C2},
    **{name: f"{file}, {SENSE_MAP_FILE} and {ACRONYM_LIST_FILE} (Adams et al.'s pipeline, github.com/griff4692/LMC)"
       for name, file in ACRONYM_FILES.items()},
}


@dataclass(frozen=True)
class Population:
    """One dataset's items per role, each in the reference's order; ``clusters``: item key → patient or premise."""

    val: tuple[Item, ...]
    test: tuple[Item, ...]
    pool: tuple[Item, ...]
    clusters: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the reference's draws


def sklearn_split(n_items: int, n_test: int, seed: int = SEED) -> tuple[list[int], list[int]]:
    """(train, test) positions as scikit-learn's ``train_test_split(range(n), test_size=n_test, random_state=seed)``:
    one ``RandomState(seed).permutation(n)``, test first. An integer test size outside 1 … n − 1 is an
    error there."""
    if not 0 < n_test < n_items:
        raise ValueError(f"a split of {n_items} items needs 1 to {n_items - 1} test items, not {n_test}")
    order = np.random.RandomState(seed).permutation(n_items).tolist()
    return order[n_test:], order[:n_test]


def three_way_split(n_items: int, seed: int = SEED) -> dict[str, list[int]]:
    """The reference's 60/20/20 split: ``int(0.2 n)`` test positions, then as many validation positions
    out of the rest."""
    n_eval = int(n_items * EVAL_SHARE)
    rest, test = sklearn_split(n_items, n_eval, seed)
    train_at, val_at = sklearn_split(len(rest), n_eval, seed)
    return {"pool": [rest[i] for i in train_at], "val": [rest[i] for i in val_at], "test": test}


def pandas_sample(n_items: int, cap: int = ACRONYM_CAP, seed: int = SEED) -> list[int]:
    """Positions of pandas' ``sample(n=min(n, cap), random_state=seed)``: ``RandomState(seed).permutation(n)[:k]``."""
    return np.random.RandomState(seed).permutation(n_items)[: min(n_items, cap)].tolist()


def _by_positions(items: list[Item], positions: dict[str, list[int]]) -> tuple[tuple[Item, ...], ...]:
    return tuple(tuple(items[i] for i in positions[role]) for role in ("val", "test", "pool"))


# --------------------------------------------------------------------------- MedNLI and EHRNoteQA


def _mednli(folder: Path) -> Population:
    roles: dict[str, tuple[Item, ...]] = {}
    clusters = {}
    for role, split in (("val", "dev"), ("test", "test"), ("pool", "train")):
        items = []
        for row in read_jsonl(first_existing(folder, readers.MEDNLI_FILES[split])):
            premise, hypothesis = row["sentence1"].strip(), row["sentence2"].strip()
            key = str(row["pairID"])
            items.append(Item(key, f'Premise: "{premise}"\nHypothesis: "{hypothesis}".', MEDNLI_OPTIONS,
                              MEDNLI_OPTIONS.index(row["gold_label"])))
            clusters[key] = f"premise-{readers.short_hash(premise)}"
        roles[role] = tuple(items)
    return Population(roles["val"], roles["test"], roles["pool"], clusters)


def _ehrnoteqa_item(index: int, row: dict[str, Any]) -> Item:
    notes = [row[f"note_{i}"] for i in range(1, 4)]
    context = "\n\n".join(note for note in notes if note != "")
    options = tuple(row[f"choice_{c}"] for c in readers.EHRNOTEQA_CHOICES)
    answer = row[f"choice_{row['answer']}"]
    return Item(f"q{index:04d}", f"\n{context}\n\n\n{row['question']}", options, options.index(answer))


def _ehrnoteqa(folder: Path) -> Population:
    rows = [(i, row) for i, row in enumerate(read_jsonl(first_existing(folder, EHRNOTEQA_FILE)))
            if row["category"] in EHRNOTEQA_LEVELS]
    items = [_ehrnoteqa_item(i, row) for i, row in rows]
    clusters = {item.key: f"patient-{row['patient_id']}" for item, (_, row) in zip(items, rows)}
    return Population(*_by_positions(items, three_way_split(len(items))), clusters)


# --------------------------------------------------------------------------- n2c2 2008 obesity


def _n2c2_split(folder: Path, split: str, disease: str) -> list[Item]:
    """The notebook's rows of one split: every annotated document of the disease, in annotation order,
    joined with every record of that id (the records' text untouched)."""
    record_files, annotation_file = N2C2_FILES[split]
    records = [(doc.attrib["id"], text.text or "")
               for file in record_files for docs in readers.xml_root(first_existing(folder, file))
               for doc in docs for text in doc]
    name = readers.N2C2_DISEASES[disease]
    items = []
    for diseases in readers.xml_root(first_existing(folder, annotation_file)):
        for judged in (d for d in diseases if d.attrib.get("name") == name):
            for doc in judged:
                judgment = readers.N2C2_JUDGMENTS.get(doc.attrib["judgment"])
                if judgment is None:
                    raise ValueError(f"{annotation_file}: judgment {doc.attrib['judgment']!r} is not Y, N or Q")
                items += [Item(f"doc{doc_id}", f"{text}\n\n{readers.n2c2_question(disease)}", readers.N2C2_OPTIONS,
                               readers.N2C2_OPTIONS.index(judgment))
                          for doc_id, text in records if doc_id == doc.attrib["id"]]
    return items


def _n2c2(folder: Path, disease: str) -> Population:
    train = _n2c2_split(folder, "train", disease)
    val_at, pool_at = medmcqa_split(len(train))  # the same Hugging Face call: train_test_split(test_size=0.2, seed=42)
    return Population(tuple(train[i] for i in val_at), tuple(_n2c2_split(folder, "test", disease)),
                      tuple(train[i] for i in pool_at))


def note_length(tokenizer_name: str) -> Callable[[str], int]:
    """How the reference counts a note: ``len(tokenizer(note).input_ids)``, special tokens included."""
    tokenizer = _hf_tokenizer(tokenizer_name, None, False)
    return lambda text: len(tokenizer(text)["input_ids"])


def note_of(item: Item) -> str:
    """An n2c2 item's note: its question without the question line."""
    return item.question.rsplit("\n\n", 1)[0]


# --------------------------------------------------------------------------- CASI and MIMIC-III acronyms


def reference_sense(long_form: str) -> str:
    """A sense as the reference shows it: ``"Discharge;discharged"`` → ``"discharge / discharged"``.

    The reference joins the lower-cased spellings in the order of a Python ``set``, which
    changes from one process to the next (string hashing is salted); medpair keeps the first
    spelling first. Unlike :func:`medpair_tasks.clinical.readers.readable_sense` nothing is stripped.
    """
    if ";" not in long_form:
        return long_form
    return " / ".join(dict.fromkeys(variant.lower() for variant in long_form.split(";")))


@readers.big_csv_fields
def _acronym_rows(folder: Path, dataset: str) -> tuple[list[dict[str, str]], list[str], dict[str, list[str]]]:
    path = first_existing(folder, ACRONYM_FILES[dataset])
    with path.open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    acronyms = yaml.safe_load(first_existing(folder, ACRONYM_LIST_FILE).read_text(encoding="utf-8"))
    senses = read_json(first_existing(folder, SENSE_MAP_FILE))
    if not isinstance(acronyms, list) or not isinstance(senses, dict):
        raise ValueError(f"{folder}: {ACRONYM_LIST_FILE} must list short forms, {SENSE_MAP_FILE} map them to senses")
    for number, row in enumerate(rows):
        row.setdefault("row_idx", "")
        row["key"] = f"row{row['row_idx']}" if row["row_idx"] else f"line{number:06d}"
    return rows, [str(a) for a in acronyms], senses


def _acronym_item(row: dict[str, str], senses: dict[str, list[str]]) -> Item:
    options = tuple(reference_sense(long_form) for long_form in senses[row["sf"]])
    answer = reference_sense(row["target_lf_sense"])
    if answer not in options:
        raise ValueError(f"row {row['key']}: sense {answer!r} is not among {row['sf']}'s senses {options}")
    if len(options) > len(LETTERS):
        raise ValueError(f"{row['sf']} has {len(options)} senses; medpair letters at most {len(LETTERS)} options")
    question = (f'"{row["context"]}"\n\nWhat is the correct expansion for the acronym "{row["sf"]}" '
                "in the above clinical note snippet?")
    return Item(row["key"], question, options, options.index(answer))


def _acronyms(folder: Path, dataset: str) -> Population:
    """The notebook: (CASI) keep ``mimic_sf.yaml``'s acronyms, sample at most 500 rows per acronym,
    then split each acronym of ``mimic_sf.yaml``, in that file's order, 60/20/20."""
    rows, acronyms, senses = _acronym_rows(folder, dataset)
    by_sf: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if dataset != "casi" or row["sf"] in acronyms:
            by_sf.setdefault(row["sf"], []).append(row)
    roles: dict[str, list[Item]] = {"val": [], "test": [], "pool": []}
    for acronym in acronyms:
        kept = [by_sf.get(acronym, [])[i] for i in pandas_sample(len(by_sf.get(acronym, [])))]
        items = [_acronym_item(row, senses) for row in kept]
        for role, part in zip(("val", "test", "pool"), _by_positions(items, three_way_split(len(items)))):
            roles[role] += part
    return Population(tuple(roles["val"]), tuple(roles["test"]), tuple(roles["pool"]))


# --------------------------------------------------------------------------- roles and documents


def _read(dataset: str, folder: Path) -> Population:
    if dataset == "mednli":
        return _mednli(folder)
    if dataset == "ehrnoteqa":
        return _ehrnoteqa(folder)
    if dataset in N2C2:
        return _n2c2(folder, dataset.removeprefix("n2c2_obesity_"))
    return _acronyms(folder, dataset)


@lru_cache(maxsize=16)
def _population(dataset: str, folder: str) -> Population:
    source = CLINICAL_SOURCES[dataset]
    how = f"{source.how_to_get()}\n             jeong2024 reads: {JEONG2024_FILES[dataset]}"
    if not folder or not Path(folder).is_dir():
        raise DataUnavailable(dataset, folder or "$MEDPAIR_DATA_DIR (not set)", how, "no such folder")
    try:
        return _read(dataset, Path(folder))
    except FileNotFoundError as err:
        raise DataUnavailable(dataset, folder, how, f"missing {err.filename or err}") from err
    except (OSError, ValueError, KeyError, IndexError, TypeError) as err:
        raise DataUnavailable(dataset, folder, how, f"{type(err).__name__}: {err}") from err


def population(dataset: str) -> Population:
    """The reference's roles of a clinical dataset (the n2c2 test notes not yet filtered by length)."""
    if dataset not in DATASETS:
        raise ValueError(f"jeong2024 has no clinical dataset {dataset!r}; it covers {', '.join(DATASETS)}")
    folder = clinical_folder(dataset)
    return _population(dataset, str(folder) if folder else "")


@lru_cache(maxsize=16)
def _short_notes(dataset: str, folder: str, tokenizer_name: str) -> tuple[Item, ...]:
    try:
        length = note_length(tokenizer_name)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{dataset}: jeong2024 keeps the test notes of at most {NOTE_TOKEN_LIMIT} tokens of {tokenizer_name}, "
            f"which could not be loaded ({err}); name a local copy with --metadata '{{\"note_tokenizer\": \"/path\"}}'"
        ) from err
    kept = tuple(item for item in _population(dataset, folder).test if length(note_of(item)) <= NOTE_TOKEN_LIMIT)
    log.info("medpair: %s: %d of %d test notes have at most %d tokens (%s)", dataset, len(kept),
             len(_population(dataset, folder).test), NOTE_TOKEN_LIMIT, tokenizer_name)
    return kept


def scored_items(dataset: str, role: str, val_limit: int = VAL_LIMIT, tokenizer: str = NOTE_TOKENIZER) -> list[Item]:
    """The items scored in ``role``: the test role (n2c2: notes of at most 3,000 tokens of ``tokenizer``),
    or the validation role's subsample of the reference (in draw order when it has more than ``val_limit``)."""
    roles = population(dataset)
    if role == "test":
        if dataset in N2C2:
            folder = clinical_folder(dataset)
            return list(_short_notes(dataset, str(folder), tokenizer))
        return list(roles.test)
    if role != "val":
        raise ValueError(f"role must be 'val' or 'test', got {role!r}")
    limit = val_limit if val_limit > 0 else len(roles.val)
    return [roles.val[i] for i in val_subsample(len(roles.val), limit)]


def fewshot_items(dataset: str, seed: int, shots: int) -> list[Item]:
    """The demonstrations of few-shot seed ``seed``; a ValueError for the datasets the reference runs zero-shot only."""
    if dataset in ZERO_SHOT_ONLY:
        raise ValueError(
            f"{dataset}: the jeong2024 protocol runs this dataset zero-shot only, as the reference does "
            "(scripts/eval/llm/eval_few_shot.sh skips few-shot runs for EHRNoteQA and n2c2); "
            f"run its zero-shot task (…_k0), or the {shots}-shot cell under "
            "--metadata '{\"protocol\": \"medpair\"}'"
        )
    pool = population(dataset).pool
    return [pool[i] for i in demo_indices(len(pool), seed, shots)]


def system_prompt(dataset: str, seed: int | None) -> str:
    """The reference's system prompt of a clinical dataset: its task-specific one (:data:`SYSTEM_PROMPTS`,
    for every model), or for system-prompt seed ``seed`` (models it does not know) the draw from the
    knowledge pool, whose ``{}`` the reference fills with the last letter of its option count
    (:data:`SAMPLED_SYSTEM_OPTIONS`) except for the acronym datasets, where it stays ``{}``."""
    if seed is None:
        return SYSTEM_PROMPTS[dataset]
    if dataset in ACRONYM_FILES:
        return sampled_system_template(seed)
    return sampled_system_prompt(seed, SAMPLED_SYSTEM_OPTIONS[dataset])


def verbatim(item: Item) -> str:
    """A clinical item's question exactly as the reference builds it (leading and trailing newlines kept)."""
    return item.question


def build_splits(metadata: Mapping[str, Any]) -> datasets.DatasetDict:
    """The ``eval`` split (finished prompts) and ``fewshot`` split (its demonstrations, printing empty) of a
    clinical task under ``jeong2024``, as :func:`medpair_tasks.jeong2024_docs.build_splits` for knowledge tasks."""
    cell = jeong2024_docs.run_cell(metadata)
    dataset, role, format_id = cell.dataset, cell.role, cell.format_id
    profile = profile_for(jeong2024_docs.model_name(metadata), metadata.get("profile"))
    demos = fewshot_items(dataset, cell.fewshot_seed, cell.shots) if cell.shots else []
    tokenizer = str(metadata.get("note_tokenizer") or NOTE_TOKENIZER)
    items = scored_items(dataset, role, cell.val_limit, tokenizer)
    cell.require(items)
    clusters = population(dataset).clusters
    seed = system_prompt_seed(metadata, profile)
    extra = {"protocol": JEONG2024.id, "profile": profile.name, "system_prompt_seed": seed,
             "stop_strings": list(jeong2024_docs.generation_stops(profile, format_id)),
             "demo_keys": [d.key for d in demos]}
    system = system_prompt(dataset, seed)
    render = jeong2024_docs.renderer(metadata, profile, format_id, verbatim)
    docs = [{**item.as_doc(dataset, role), "prompt": render(system, demos, item),
             **extra, **({"cluster": clusters[item.key]} if item.key in clusters else {})} for item in items]
    fewshot = [{**demo.as_doc(dataset, "fewshot"), "prompt": "", "protocol": JEONG2024.id} for demo in demos]
    scored = datasets.Dataset.from_list(docs)
    return datasets.DatasetDict({"eval": scored, "fewshot": datasets.Dataset.from_list(fewshot) if fewshot
                                 else scored.select([])})


__all__ = ["DATASETS", "SYSTEM_PROMPTS", "ZERO_SHOT_ONLY", "build_splits", "fewshot_items", "population",
           "scored_items", "system_prompt"]
