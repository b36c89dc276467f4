"""LongHealth (Adams et al., 2024): reading the benchmark and packing its documents into a prompt.

The release, ``data/benchmark_v5.json`` of github.com/kbressem/LongHealth, holds 20 fictional
patients, each with clinical documents (``texts``) and 20 five-option questions whose
``answer_location`` names the documents that hold the answer. CLUE (Dada et al., 2024) scores
three settings, which medpair names ``longhealth_task1`` … ``longhealth_task3``:

1. **task1** (information extraction): the patient's own documents, the answer documents first;
   options A–E.
2. **task2** (identification among distractors): the answer documents plus
   :data:`N_DISTRACTORS` documents of *other* patients; a sixth option F, "Question cannot be
   answered with provided documents", is wrong here.
3. **task3** (negation): only the :data:`N_DISTRACTORS` distractor documents; F is right.

An item's document references (never their text) are fixed per item with a seeded draw, so the
lm-eval document is small and the same for every model. :func:`pack` fills the prompt at run
time like CLUE's ``create_prompt``: documents in priority order (answer documents first) while
they fit the token budget, the first that does not fit cut to the space left, the rest
dropped; then the chosen documents in a seeded shuffled order, joined by CLUE's separator.
Without a budget every document is included.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from medpair_tasks.clinical.records import ClinicalItem
from medpair_tasks.clinical.truncate import TokenCounter
from medpair_tasks.family.sources import read_json

LONGHEALTH_FILE = "benchmark_v5.json"
SETTINGS = (1, 2, 3)
CANNOT_ANSWER = "Question cannot be answered with provided documents"
N_DISTRACTORS = 10
DOCUMENT_SEPARATOR = "\n\n--------------\n\n"
PACKING_SEED = 2024
MIN_PARTIAL_TOKENS = 32  # a cut document shorter than this is left out rather than shown as a scrap
OPTION_KEYS = ("answer_a", "answer_b", "answer_c", "answer_d", "answer_e")


@dataclass(frozen=True)
class LongHealthData:
    """The benchmark's texts (document id → text) and the items of each setting."""

    texts: dict[str, str]
    items: dict[int, tuple[ClinicalItem, ...]]


def _rng(*parts: int | str) -> np.random.Generator:
    return np.random.default_rng([PACKING_SEED, *(zlib.crc32(str(p).encode()) for p in parts)])


def _documents_hash(ids: list[str], texts: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for doc_id in ids:
        digest.update(doc_id.encode() + b"\0" + texts[doc_id].encode() + b"\0")
    return digest.hexdigest()


def _correct_index(question: dict, where: str) -> int:
    options = [str(question[k]).strip() for k in OPTION_KEYS]
    correct = str(question["correct"]).strip()
    if correct in options:
        return options.index(correct)
    containing = [i for i, option in enumerate(options) if correct and correct in option]
    if len(containing) == 1:  # CLUE's rule: the option whose text contains the correct answer
        return containing[0]
    raise ValueError(f"{where}: 'correct' matches none (or several) of answer_a … answer_e")


def read_longhealth(folder: Path) -> LongHealthData:
    """Read ``benchmark_v5.json`` and build the items of the three settings."""
    path = folder / LONGHEALTH_FILE
    if not path.is_file():
        raise FileNotFoundError(str(path))
    benchmark = read_json(path)
    patients = {k: v for k, v in benchmark.items() if isinstance(v, dict) and "texts" in v}
    if len(patients) < 2:
        raise ValueError(f"{path}: expected patient records with 'texts' and 'questions'")
    texts: dict[str, str] = {}
    for patient, record in patients.items():
        for text_id, text in record["texts"].items():
            texts[f"{patient}/{text_id}"] = str(text)
    items: dict[int, list[ClinicalItem]] = {s: [] for s in SETTINGS}
    for patient in sorted(patients):
        record = patients[patient]
        own = [f"{patient}/{t}" for t in record["texts"]]
        others = sorted(d for d in texts if not d.startswith(f"{patient}/"))
        for index, question in enumerate(record["questions"]):
            number = question.get("No", index + 1)
            key = f"{patient}/q{int(number):02d}" if str(number).isdigit() else f"{patient}/q{index:02d}"
            where = f"{path}: {key}"
            missing = [k for k in ("question", "correct", *OPTION_KEYS) if k not in question]
            if missing:
                raise ValueError(f"{where}: no field {', '.join(missing)}")
            answer_idx = _correct_index(question, where)
            location = question.get("answer_location") or {}
            answer_docs = [f"{patient}/{t}" for t in location if f"{patient}/{t}" in texts]
            if not answer_docs:
                raise ValueError(f"{where}: answer_location names no document of the patient")
            rest = [d for d in own if d not in answer_docs]
            rest = [rest[i] for i in _rng(key, "own").permutation(len(rest))]
            distractors = [others[i] for i in _rng(key, "distractors").choice(len(others), min(N_DISTRACTORS, len(others)), replace=False)]
            base = tuple(str(question[k]).strip() for k in OPTION_KEYS)
            settings = {
                1: (answer_docs + rest, len(answer_docs), base, answer_idx),
                2: (answer_docs + distractors, len(answer_docs), (*base, CANNOT_ANSWER), answer_idx),
                3: (distractors, 0, (*base, CANNOT_ANSWER), len(base)),
            }
            for setting, (documents, n_answer, options, gold) in settings.items():
                items[setting].append(
                    ClinicalItem(
                        key=key,
                        question=str(question["question"]).strip(),
                        options=options,
                        answer_idx=gold,
                        cluster=patient,
                        documents=tuple(documents),
                        n_answer_documents=n_answer,
                        documents_sha256=_documents_hash(documents, texts),
                    )
                )
    return LongHealthData(texts=texts, items={s: tuple(v) for s, v in items.items()})


def pack(
    item_key: str,
    documents: list[str],
    texts: dict[str, str],
    cap: int | None,
    counter: TokenCounter | None,
) -> tuple[str, bool]:
    """The packed documents of one item within ``cap`` tokens, and whether any were cut or dropped.

    ``cap`` None (or no counter) includes every document whole.
    """
    chosen: list[str] = []
    shortened = False
    if cap is None or counter is None:
        chosen = [texts[d] for d in documents]
    else:
        separator = counter.count(DOCUMENT_SEPARATOR)
        used = 0
        for doc_id in documents:
            text = texts[doc_id]
            need = counter.count(text) + (separator if chosen else 0)
            if used + need <= cap:
                chosen.append(text)
                used += need
                continue
            shortened = True
            room = cap - used - (separator if chosen else 0)
            if room >= MIN_PARTIAL_TOKENS:
                chosen.append(counter.head(text, room))  # CLUE keeps a cut document's beginning
            break
    order = _rng(item_key, "display").permutation(len(chosen))
    return DOCUMENT_SEPARATOR.join(chosen[i] for i in order), shortened
