"""CLUE's LongHealth repeats: the draws of ``eval_LongHealth.py`` and the user turn of one repeat."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from medpair_tasks.clinical.clue2024.prompts import LONGHEALTH_SYSTEM, LONGHEALTH_TASKS, LONGHEALTH_USER
from medpair_tasks.clinical.clue2024.records import FILES


LONGHEALTH_SEED = 1  # CLUE leaves LongHealth's generator unseeded; medpair fixes this seed
LONGHEALTH_REPEATS = 5
LONGHEALTH_ROUNDS = 10  # settings 2 and 3: ten rounds per question, alternating
LONGHEALTH_DISTRACTORS = 10
LONGHEALTH_MAX_LEN = 8140  # CLUE's LongHealth8k launch script (setting 1)
CANNOT_ANSWER = "Question cannot be answered with provided documents"
DOCUMENT_SEPARATOR = "--------------"


def _gold_letter(question: Mapping[str, Any]) -> str | None:
    """CLUE's gold letter: the first ``answer_*`` field (in the record's order) containing ``correct``."""
    for field, value in question.items():
        if field.startswith("answer") and not field.endswith("location") and question["correct"] in value:
            return field[-1].upper()
    return None


def _permutation(rng: random.Random, size: int) -> list[int]:
    order = list(range(size))
    rng.shuffle(order)
    return order


def _repeat_doc(patient: str, index: int, repeat: int, question: dict, documents: list[str],
                n_answer: int, order: list[int], gold: str | None) -> dict[str, Any]:
    labels = "abcdef" if "answer_f" in question else "abcde"
    options = [str(question[f"answer_{label}"]) for label in labels]
    return {
        "item_key": f"{patient}/q{index + 1:02d}/r{repeat}",
        "cluster": patient,
        "question": str(question["question"]),
        "options": options,
        "answer_idx": labels.upper().index(gold) if gold else 0,
        "gold_letter": gold or "",
        "clue_documents": documents,
        "n_answer_documents": n_answer,
        "shuffle_order": order,
        "context": "",
    }


def longhealth_rounds(benchmark: Mapping[str, Any], seed: int = LONGHEALTH_SEED,
                      size_of: Callable[[dict[str, Any], int], int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The scored repeats of the three LongHealth settings, drawn as CLUE's ``eval_LongHealth.py`` does.

    One generator serves all draws in CLUE's order: setting 1 (five shuffles of the patient's
    documents per question), then per question ten rounds of ``random.sample`` of distractors
    from the other patients and a shuffle (odd rounds: setting 2, even rounds: setting 3).
    Documents are ``<patient>/<text id>`` in priority order (answer documents first). CLUE
    shuffles the documents its token budget keeps: ``size_of(doc, setting)`` says how many that
    is (:func:`kept_count`); without it every document is kept. ``shuffle_order`` is the
    shuffled order of the kept ones.
    """
    rng = random.Random(seed)
    patients = {pid: p for pid, p in benchmark.items() if isinstance(p, dict) and "texts" in p}
    docs: dict[str, list[dict[str, Any]]] = {name: [] for name in LONGHEALTH_TASKS}

    def shuffled(doc: dict[str, Any], setting: int) -> dict[str, Any]:
        size = len(doc["clue_documents"]) if size_of is None else size_of(doc, setting)
        return {**doc, "shuffle_order": _permutation(rng, size)}

    for pid, patient in patients.items():
        for index, question in enumerate(patient["questions"]):
            answers = [f"{pid}/{t}" for t in question["answer_location"]]
            others = [f"{pid}/{t}" for t in patient["texts"] if t not in question["answer_location"]]
            for repeat in range(LONGHEALTH_REPEATS):
                doc = _repeat_doc(pid, index, repeat, question, answers + others, len(answers), [], _gold_letter(question))
                docs["longhealth_task1"].append(shuffled(doc, 1))
    for pid, patient in patients.items():
        pool = [f"{other}/{t}" for other, record in patients.items() if other != pid for t in record["texts"]]
        for index, question in enumerate(patient["questions"]):
            extended = {**question, "answer_f": CANNOT_ANSWER}
            answers = [f"{pid}/{t}" for t in question["answer_location"]]
            for round_ in range(LONGHEALTH_ROUNDS):
                distractors = rng.sample(pool, min(LONGHEALTH_DISTRACTORS, len(pool)))
                setting = 2 if round_ % 2 == 1 else 3
                documents = answers + distractors if setting == 2 else distractors
                gold = _gold_letter(extended) if setting == 2 else "F"
                doc = _repeat_doc(pid, index, round_ // 2, extended, documents,
                                  len(answers) if setting == 2 else 0, [], gold)
                docs[f"longhealth_task{setting}"].append(shuffled(doc, setting))
    return docs


class ClueCounter:
    """Token counts and cuts as CLUE's ``create_prompt`` makes them with the model's tokenizer:
    ``len(tokenizer.encode(text))`` (special tokens included, so a beginning-of-text token counts
    every time) and ``tokenizer.decode(tokenizer.encode(text)[:n])`` (which keeps that token)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._lengths: dict[str, int] = {}  # LongHealth counts each document many times

    def count(self, text: str) -> int:
        """CLUE's length of ``text``."""
        if text not in self._lengths:
            self._lengths[text] = len(self.tokenizer.encode(text))
        return self._lengths[text]

    def head(self, text: str, n: int) -> str:
        """CLUE's cut of ``text`` to its first ``n`` tokens."""
        return self.tokenizer.decode(self.tokenizer.encode(text)[: max(n, 0)])


def clue_counter(counter: Any) -> Any:
    """The run's token counter as CLUE counts: :class:`ClueCounter` over its tokenizer when it has
    one, else the counter itself (an approximate count)."""
    tokenizer = getattr(counter, "tokenizer", None)
    return counter if tokenizer is None else ClueCounter(tokenizer)


def _select(doc: Mapping[str, Any], texts: Mapping[str, str], max_len: int | None, counter: Any,
            options: str) -> list[str]:
    """CLUE's ``create_prompt`` selection: whole documents in priority order while they fit, the
    first that does not cut to the room left (answer documents and distractors each stop there)."""
    documents = [texts[d] for d in doc["clue_documents"]]
    if max_len is None or counter is None:
        return documents
    separator = counter.count(f"\n\n{DOCUMENT_SEPARATOR} NEW DOCUMENT {DOCUMENT_SEPARATOR}\n\n")
    total = counter.count(doc["question"]) + counter.count(options) + counter.count(LONGHEALTH_USER)
    n_answer = int(doc["n_answer_documents"])
    chosen: list[str] = []
    for group in (documents[:n_answer], documents[n_answer:]):
        for text in group:
            length = counter.count(text)
            if total + length <= max_len:
                chosen.append(text)
                total += length + separator
                continue
            chosen.append(counter.head(text, max(max_len - total, 0)))
            total = max_len
            break
    return chosen


def _options_text(doc: Mapping[str, Any]) -> str:
    labels = "ABCDEF"[: len(doc["options"])]
    return "\n".join(f"{label}: {option}" for label, option in zip(labels, doc["options"]))


def kept_count(doc: Mapping[str, Any], texts: Mapping[str, str], max_len: int | None, counter: Any) -> int:
    """How many documents of a repeat CLUE's ``create_prompt`` keeps (and then shuffles)."""
    return len(_select(doc, texts, max_len, counter, _options_text(doc)))


def longhealth_limit(setting: int, metadata: Mapping[str, Any], max_length: int | None, counter: Any) -> int | None:
    """CLUE's document budget of a setting: its ``--max_len`` in setting 1 (``longhealth_max_len``,
    8,140 by default), the model's context in settings 2 and 3, each less the system prompt;
    None when no counter or length is known."""
    limit = int(metadata.get("longhealth_max_len") or LONGHEALTH_MAX_LEN) if setting == 1 else max_length
    if counter is None or limit is None:
        return None
    return limit - counter.count(LONGHEALTH_SYSTEM)


def longhealth_user_turn(doc: Mapping[str, Any], texts: Mapping[str, str], max_len: int | None = None,
                         counter: Any = None) -> str:
    """The user turn of one LongHealth repeat: its documents in the repeat's shuffled order."""
    options = _options_text(doc)
    chosen = _select(doc, texts, max_len, counter, options)
    # drawn with this budget, the order covers the kept documents; drawn without, their relative order
    order = [i for i in doc["shuffle_order"] if i < len(chosen)]
    joined = f"\n\n{DOCUMENT_SEPARATOR}\n\n".join(chosen[i] for i in order)
    return LONGHEALTH_USER.format(documents=joined, question_text=doc["question"], options=options)


@lru_cache(maxsize=2)
def benchmark_of(folder: str) -> tuple[dict[str, Any], dict[str, str]]:
    """LongHealth's benchmark in ``folder`` and its document texts, ``<patient>/<text id>`` → text."""
    path = Path(folder) / FILES["longhealth"]
    benchmark = json.loads(path.read_text(encoding="utf-8"))
    texts = {f"{pid}/{t}": str(text) for pid, p in benchmark.items() if isinstance(p, dict) and "texts" in p
             for t, text in p["texts"].items()}
    return benchmark, texts


def longhealth_texts(folder: Path) -> dict[str, str]:
    """LongHealth's document texts, ``<patient>/<text id>`` → text."""
    return benchmark_of(str(folder))[1]
