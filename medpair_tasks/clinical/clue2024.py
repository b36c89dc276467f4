"""The ``clue2024`` protocol: CLUE's prompts, demonstrations, LongHealth repeats and scoring.

CLUE (Dada et al., 2024; GitHub ``TIO-IKIM/CLUE``, ``eval/``) runs six tasks through a model's
chat template. Reproduced here, fact by fact:

- **Data**: the file CLUE reads (MedNLI ``mli_test_v1.jsonl``, the MeQSum spreadsheet, ProbSum
  ``BioNLP2023-1A-Test.csv`` with ``;`` in the summaries written ``, ``, ``MeDiSumQA.json``,
  ``MeDiSumCode.json`` with the gold codes joined by ``, ``, LongHealth ``benchmark_v5.json``),
  in file order, shuffled with Python's ``random.seed(1)`` + ``random.shuffle``; the first
  ``shots`` records are the demonstrations, every other record is scored (no val/test roles).
- **Prompts** (:data:`PROMPTS`): a system turn with the task's system prompt, the demonstrations
  as user/assistant turns, the item as the last user turn; LongHealth: system + one user turn.
  :func:`messages_of` builds the turns; the model's chat template renders them (as CLUE's
  ``vllm.LLM.chat``, with the generation prompt).
- **LongHealth**: five repeats of every question whose documents are shuffled (the options are
  not); settings 2 and 3 come from ten rounds per question (odd rounds setting 2, even rounds
  setting 3), each with ten documents of other patients drawn by ``random.sample``. CLUE draws
  from Python's global random generator without a seed; medpair replays the same calls in the
  same order on ``random.Random(LONGHEALTH_SEED)`` (:func:`longhealth_rounds`). Each repeat is
  its own scored document (item key ``<patient>/q<NN>/r<j>``), scored as CLUE does (the mean over
  all repeats); every repeat carries the patient as its cluster, so ``medpair compare``
  resamples a patient's questions, with all their repeats, together.
- **Generation**: CLUE's ``vllm.SamplingParams(max_tokens=N)``: sampling at temperature 1,
  no top-p/top-k, stop at end of sequence only (:data:`PROMPTS` ``max_tokens``).
- **Scoring** (:func:`score`): MedNLI correct when the gold label occurs exactly once in the
  upper-cased generation; LongHealth's ``The correct answer is X:`` against CLUE's gold letter
  (``F`` in setting 3); MeDiSumCode's code lists (duplicates counted); ROUGE as ``evaluate``'s
  ``rouge``; BERTScore with ``lang="en-sci"`` (``allenai/scibert_scivocab_uncased``, layer 8).
"""

from __future__ import annotations

import csv
import json
import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import datasets

from medpair_tasks import lm_eval_internals as door
from medpair_tasks.clinical.bertscore import BertScoreConfig, scorer
from medpair_tasks.clinical.metrics import is_valid_icd10, rouge_scores
from medpair_tasks.clinical.readers import probsum_subjective_column, short_hash
from medpair_tasks.clinical.sources import CLINICAL_SOURCES, DATA_DIR_ENV, clinical_folder
from medpair_tasks.protocols import CLUE2024
from medpair_tasks.family.sources import DataUnavailable

log = logging.getLogger(__name__)

SHUFFLE_SEED = 1  # CLUE: random.seed(1) before shuffling each dataset
LONGHEALTH_SEED = 1  # CLUE leaves LongHealth's generator unseeded; medpair fixes this seed
LONGHEALTH_REPEATS = 5
LONGHEALTH_ROUNDS = 10  # settings 2 and 3: ten rounds per question, alternating
LONGHEALTH_DISTRACTORS = 10
LONGHEALTH_MAX_LEN = 8140  # CLUE's LongHealth8k launch script (setting 1)
CANNOT_ANSWER = "Question cannot be answered with provided documents"
DOCUMENT_SEPARATOR = "--------------"
BERTSCORE_MODEL = "allenai/scibert_scivocab_uncased"  # bert_score's lang2model["en-sci"]
BERTSCORE_LAYER = 8  # bert_score's model2layers for that model
BERTSCORE_MAX_LENGTH = 512  # bert_score's sent_encode: max_length=512, special tokens included
LONGHEALTH_ANSWER = re.compile(r"The correct answer is (\w):")
ICD10_PATTERN = re.compile(r"\b[A-TV-Z][0-9]{2}(?:\.?[0-9A-Z]{1,4})?\b")  # CLUE's eval/utils.py


@dataclass(frozen=True)
class CluePrompt:
    """One CLUE task's turns, shots and generation length (from its ``eval/eval_<task>.py``)."""

    system: str
    user: str  # str.format template over the record's fields
    assistant: str
    shots: int
    max_tokens: int


LONGHEALTH_SYSTEM = """
You are a highly skilled and detail-oriented assistant, specifically trained to assist medical professionals in interpreting and extracting key information from medical documents. Your primary responsibility will be to analyze discharge letters from hospitals. When you receive one or more of these letters, you will be expected to carefully review the contents and accurately answer multiple-choice questions related to these documents. 

Your answers should be:
1. Accurate: Make sure your answers are based on the information provided in the letters.
2. Concise: Provide brief and direct answers without unnecessary elaboration.
3. Contextual: Consider the context and specifics of each question to provide the most relevant information.

Remember, your job is to streamline the physician's decision-making process by providing them with accurate and relevant information from discharge summaries. Efficiency and reliability are key.
"""

LONGHEALTH_USER = """
--------------BEGIN DOCUMENTS--------------

{documents}

--------------END DOCUMENTS--------------

{question_text}
{options}

Please answer using the following format:
1. Begin your answer with the phrase "The correct answer is".
2. State the letter of the correct option (e.g., A, B, C, D, E).
3. Follow the letter with a colon and the exact text of the option you chose.
4. Make sure your answer is a single, concise sentence.

For example, if the correct answer to a question is option C, and the text for C is 'Acute Bronchitis', your answer should be: 
'The correct answer is C: Acute bronchitis.'
"""

PROMPTS: dict[str, CluePrompt] = {
    "mednli": CluePrompt(
        "You are a highly skilled assistant, specifically trained to assist medical professionals. You will "
        "recieve two sentences, labeled 'SENTENCE_1' and 'SENTENCE_2', respectively. Your task is to determine "
        "the logical relation between the two sentences. Valid answers are: ENTAILMENT, NEUTRAL or CONTRADICTION.",
        "\nSENTENCE_1: {sentence1}\nSENTENCE_2: {sentence2}\n", "{gold_label}", 3, 20,
    ),
    "meqsum": CluePrompt(
        "You are a highly skilled assistant, specifically trained to assist patients. Your primary responsibility "
        "will be to summarize patient inquiries as concise question. You will be given such a patient inquiry. You "
        "will be expected to summarize and rewrite the inquiry as a concise question. Only write out the question. "
        "Do not add any other text.",
        "--------------PATIENT INQUIRY--------------\n{CHQ}\n--------------END PATIENT INQUIRY--------------",
        "{Summary}", 3, 512,
    ),
    "probsum": CluePrompt(
        "You are a highly skilled and detail-oriented assistant, specifically trained to assist medical "
        "professionals in interpreting and extracting key information from medical documents. Your primary "
        "responsibility will be to analyze discharge letters from hospitals. You will receive an excerpt of such a "
        "discharge letter. Your task is to summarize the diagnoses and problems that led to the patient's "
        "hospitalization.",
        "--------------BEGIN DISCHARGE LETTER--------------\n{Subjectives}\n\n{Assessment}\n"
        "--------------END DISCHARGE LETTER--------------\n"
        "Now respond with the list of diagnoses and patient problems. Do not generate anything else.",
        "{Summary}", 3, 512,
    ),
    "medisumqa": CluePrompt(
        "You are a highly skilled assistant, specifically trained to assist lays in understanding and extracting "
        "key information from medical documents. Your primary responsibility will be to interprete discharge "
        "letters from hospitals. You will receive such a discharge letter. You should carefully review the "
        "contents and accurately answer questions related to this document. Only respond with the correct answer "
        "to the question. Answer briefly without mentioning a lot of specific details. If the question is about "
        "measurements (e.g., lab values), interpret their meaning in relation to the question, rather than writing "
        "down the values. Do not generate anything else.",
        "--------------BEGIN DISCHARGE LETTER--------------\n{discharge_summary}\n"
        "--------------END DISCHARGE LETTER--------------\n{Question}",
        "{Answer}", 1, 512,
    ),
    "medisumcode": CluePrompt(
        "You are a highly skilled and detail-oriented assistant, specifically trained to assist medical "
        "professionals in interpreting and extracting key information from medical documents. Your primary "
        "responsibility will be to analyze discharge letters from hospitals. You will be given such a discharge "
        "letter. Your task is to identify all primary and secondary diagnoses from the report and list their "
        "respective ICD-10 codes.",
        "--------------BEGIN DISCHARGE LETTER--------------\n{text}\n--------------END DISCHARGE LETTER--------------\n"
        "Now return the list of diagnoses ICD-10 codes you found. Only list the ICD-10 codes. Do not generate "
        "anything else.",
        "ICD-10 Codes: {codes}", 1, 512,
    ),
}
LONGHEALTH_PROMPT = CluePrompt(LONGHEALTH_SYSTEM, LONGHEALTH_USER, "", 0, 50)
LONGHEALTH_TASKS = {"longhealth_task1": 1, "longhealth_task2": 2, "longhealth_task3": 3}
CLUE_DATASETS = (*PROMPTS, *LONGHEALTH_TASKS)
FILES = {
    "mednli": "mli_test_v1.jsonl",
    "meqsum": "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx",
    "probsum": "BioNLP2023-1A-Test.csv",
    "medisumqa": "MeDiSumQA.json",
    "medisumcode": "MeDiSumCode.json",
    "longhealth": "benchmark_v5.json",
}
KEY_FIELDS = {"mednli": "pairID", "meqsum": "File", "probsum": "File ID", "medisumcode": "hadm_id"}


def prompt_of(dataset: str) -> CluePrompt:
    """The CLUE prompt of a dataset (the three LongHealth settings share one)."""
    return LONGHEALTH_PROMPT if dataset in LONGHEALTH_TASKS else PROMPTS[dataset]


# ---------------------------------------------------------------------------- reading CLUE's files


def _json_records(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # JSON lines
        return [json.loads(line) for line in text.splitlines() if line.strip()]


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
    return [{**r, "codes": ", ".join(code["code"] for code in r["icd_codes"])} for r in _json_records(path)]


def _mednli(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


READERS: dict[str, Callable[[Path], list[dict[str, Any]]]] = {
    "mednli": _mednli,
    "meqsum": _spreadsheet,
    "probsum": _probsum,
    "medisumqa": _json_records,
    "medisumcode": _medisumcode,
}


def _folder(dataset: str) -> Path:
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


def messages_of(prompt: CluePrompt, demos: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> list[dict]:
    """CLUE's chat: the system turn, each demonstration as a user and an assistant turn, the item."""
    chat = [{"role": "system", "content": prompt.system}]
    for demo in demos:
        chat.append({"role": "user", "content": prompt.user.format(**demo)})
        chat.append({"role": "assistant", "content": prompt.assistant.format(**demo)})
    chat.append({"role": "user", "content": prompt.user.format(**record)})
    return chat


# ---------------------------------------------------------------------------- LongHealth


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


def longhealth_rounds(benchmark: Mapping[str, Any], seed: int = LONGHEALTH_SEED) -> dict[str, list[dict[str, Any]]]:
    """The scored repeats of the three LongHealth settings, drawn as CLUE's ``eval_LongHealth.py`` does.

    One generator serves all draws in CLUE's order: setting 1 (five shuffles of the patient's
    documents per question), then per question ten rounds of ``random.sample`` of distractors
    from the other patients and a shuffle (odd rounds: setting 2, even rounds: setting 3).
    Documents are ``<patient>/<text id>`` in priority order (answer documents first);
    ``shuffle_order`` is the shuffled order of all of them.
    """
    rng = random.Random(seed)
    patients = {pid: p for pid, p in benchmark.items() if isinstance(p, dict) and "texts" in p}
    docs: dict[str, list[dict[str, Any]]] = {name: [] for name in LONGHEALTH_TASKS}
    for pid, patient in patients.items():
        for index, question in enumerate(patient["questions"]):
            answers = [f"{pid}/{t}" for t in question["answer_location"]]
            others = [f"{pid}/{t}" for t in patient["texts"] if t not in question["answer_location"]]
            for repeat in range(LONGHEALTH_REPEATS):
                order = _permutation(rng, len(answers) + len(others))
                docs["longhealth_task1"].append(_repeat_doc(pid, index, repeat, question, answers + others,
                                                            len(answers), order, _gold_letter(question)))
    for pid, patient in patients.items():
        pool = [f"{other}/{t}" for other, record in patients.items() if other != pid for t in record["texts"]]
        for index, question in enumerate(patient["questions"]):
            extended = {**question, "answer_f": CANNOT_ANSWER}
            answers = [f"{pid}/{t}" for t in question["answer_location"]]
            for round_ in range(LONGHEALTH_ROUNDS):
                distractors = rng.sample(pool, min(LONGHEALTH_DISTRACTORS, len(pool)))
                setting2 = round_ % 2 == 1
                documents = answers + distractors if setting2 else distractors
                order = _permutation(rng, len(documents))
                name, gold = ("longhealth_task2", _gold_letter(extended)) if setting2 else ("longhealth_task3", "F")
                docs[name].append(_repeat_doc(pid, index, round_ // 2, extended, documents,
                                              len(answers) if setting2 else 0, order, gold))
    return docs


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


def longhealth_user_turn(doc: Mapping[str, Any], texts: Mapping[str, str], max_len: int | None = None,
                         counter: Any = None) -> str:
    """The user turn of one LongHealth repeat: its documents in the repeat's shuffled order."""
    labels = "ABCDEF"[: len(doc["options"])]
    options = "\n".join(f"{label}: {option}" for label, option in zip(labels, doc["options"]))
    chosen = _select(doc, texts, max_len, counter, options)
    order = [i for i in doc["shuffle_order"] if i < len(chosen)]  # a cut list keeps the repeat's relative order
    joined = f"\n\n{DOCUMENT_SEPARATOR}\n\n".join(chosen[i] for i in order)
    return LONGHEALTH_USER.format(documents=joined, question_text=doc["question"], options=options)


@lru_cache(maxsize=2)
def _benchmark(folder: str) -> tuple[dict[str, Any], dict[str, str]]:
    path = Path(folder) / FILES["longhealth"]
    benchmark = json.loads(path.read_text(encoding="utf-8"))
    texts = {f"{pid}/{t}": str(text) for pid, p in benchmark.items() if isinstance(p, dict) and "texts" in p
             for t, text in p["texts"].items()}
    return benchmark, texts


def longhealth_texts(folder: Path) -> dict[str, str]:
    """LongHealth's document texts, ``<patient>/<text id>`` → text."""
    return _benchmark(str(folder))[1]


# ---------------------------------------------------------------------------- lm-eval documents


def clue_docs(dataset: str, folder: Path, role: str) -> list[dict[str, Any]]:
    """The scored lm-eval documents of ``dataset`` under ``clue2024``, in CLUE's order."""
    if dataset in LONGHEALTH_TASKS:
        if not (folder / FILES["longhealth"]).is_file():
            raise DataUnavailable(dataset, str(folder), CLINICAL_SOURCES[dataset].how_to_get(),
                                  f"missing {FILES['longhealth']}")
        repeats = longhealth_rounds(_benchmark(str(folder))[0])[dataset]
        return [{**doc, "dataset": dataset, "role": role, "protocol": CLUE2024.id} for doc in repeats]
    prompt = PROMPTS[dataset]
    demos, scored = clue_order(dataset, read_records(dataset, folder))
    docs = []
    for record in scored:
        doc = {
            "item_key": record["item_key"],
            "dataset": dataset,
            "role": role,
            "protocol": CLUE2024.id,
            "messages": messages_of(prompt, demos, record),
            "demo_keys": [demo["item_key"] for demo in demos],
            "context": "",
            "question": "",
        }
        if dataset == "mednli":
            labels = ["entailment", "contradiction", "neutral"]
            doc.update(gold_label=record["gold_label"], options=labels,
                       answer_idx=labels.index(record["gold_label"]) if record["gold_label"] in labels else 0,
                       cluster=f"premise-{short_hash(str(record['sentence1']).strip())}")
        else:
            doc["reference"] = str(record[prompt.assistant.split("{")[-1].rstrip("}")])
        if dataset == "medisumqa":
            doc["cluster"] = str(record.get("note_id", record["item_key"]))
        docs.append(doc)
    return docs


def load_splits(metadata: Mapping[str, Any]) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset`` under ``clue2024``: every scored record in ``eval``; ``fewshot``
    is empty (CLUE's demonstrations are inside each document's ``messages``)."""
    dataset = str(metadata.get("dataset"))
    if dataset not in CLUE_DATASETS:
        raise ValueError(f"{dataset}: the {CLUE2024.id} protocol covers CLUE's tasks only "
                         f"({', '.join(CLUE_DATASETS)})")
    docs = clue_docs(dataset, _folder(dataset), str(metadata.get("role", "test")))
    if not docs:
        raise ValueError(f"{dataset}: CLUE's file holds no scored records")
    scored = datasets.Dataset.from_list(docs)
    return datasets.DatasetDict({"eval": scored, "fewshot": scored.select([])})


# ---------------------------------------------------------------------------- extraction and scoring


def mednli_correct(generation: str, gold_label: str) -> float:
    """CLUE's MedNLI rule: 1 when the gold label occurs exactly once in the upper-cased generation."""
    return float(len(re.findall(gold_label.upper(), generation.upper())) == 1)


def longhealth_choice(generation: str) -> str:
    """CLUE's LongHealth extraction: the letter of the first ``The correct answer is X:``, else ""."""
    found = LONGHEALTH_ANSWER.findall(generation)
    return found[0] if found else ""


def _icd_prf(predicted: Sequence[str], gold: Sequence[str]) -> tuple[float, float, float]:
    precision = sum(p in gold for p in predicted) / len(predicted) if predicted else 0.0
    recall = sum(g in predicted for g in gold) / len(gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def icd_scores(generation: str, gold_codes: str) -> dict[str, float]:
    """CLUE's MeDiSumCode scores: parsed codes without dots (a list: a repeated code counts each
    time) against ``gold_codes.split(", ")``; exact, then as sets of 3-character categories."""
    predicted = [code.replace(".", "") for code in ICD10_PATTERN.findall(generation)]
    gold = gold_codes.split(", ")
    scores: dict[str, float] = {}
    for level, pred, true in (("exact", predicted, gold),
                              ("3char", sorted({p[:3] for p in predicted}), sorted({g[:3] for g in gold}))):
        p, r, f = _icd_prf(pred, true)
        scores[f"icd_{level}_precision"], scores[f"icd_{level}_recall"], scores[f"icd_{level}_f1"] = p, r, f
    valid = [code for code in predicted if is_valid_icd10(code)]
    scores["icd_valid_share"] = len(valid) / len(predicted) if predicted else 0.0
    return scores


def extract(doc: Mapping[str, Any], generation: str) -> str:
    """What CLUE scores of a generation: LongHealth's letter, every other task's whole text."""
    return longhealth_choice(generation) if doc["dataset"] in LONGHEALTH_TASKS else generation


def extract_filter(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """lm-eval ``custom`` filter of ``clue2024`` tasks: :func:`extract` of every generation."""
    return [[extract(doc, r) for r in doc_resps] for doc_resps, doc in zip(resps, docs)]


def score(doc: Mapping[str, Any], extracted: str) -> dict[str, float]:
    """CLUE's per-item scores of one (extracted) generation; BERTScore is added by the task."""
    dataset = doc["dataset"]
    if dataset == "mednli":
        return {"acc": mednli_correct(extracted, str(doc["gold_label"]))}
    if dataset in LONGHEALTH_TASKS:
        return {"acc": float(bool(extracted) and extracted == doc["gold_letter"])}
    if dataset == "medisumcode":
        return icd_scores(extracted, str(doc["reference"]))
    return rouge_scores(extracted, str(doc["reference"]))


# ---------------------------------------------------------------------------- the task's hooks


def bertscore_settings(metadata: Mapping[str, Any]) -> BertScoreConfig:
    """BERTScore as CLUE's ``lang="en-sci"``: SciBERT (uncased) layer 8, 512 tokens, no idf, no
    rescaling; ``bertscore_model`` names a local copy (tests, offline machines), ``bertscore_layer``
    another layer."""
    model = str(metadata.get("bertscore_model") or BERTSCORE_MODEL)
    layer = metadata.get("bertscore_layer")
    return BertScoreConfig(model, BERTSCORE_LAYER if layer is None else int(layer), BERTSCORE_MAX_LENGTH)


class ClueTaskHooks:
    """What a :class:`~medpair_tasks.clinical.task.ClinicalTask` does differently under ``clue2024``."""

    def __init__(self, dataset: str, metadata: Mapping[str, Any]) -> None:
        self.dataset = dataset
        self.metadata = dict(metadata)
        self._bertscore: BertScoreConfig | None = None
        if dataset in ("meqsum", "probsum", "medisumqa"):
            self._bertscore = bertscore_settings(metadata)

    @classmethod
    def for_task(cls, metadata: Mapping[str, Any]) -> ClueTaskHooks | None:
        """The hooks of a task whose metadata names ``clue2024``; None for other protocols."""
        from medpair_tasks.protocols import protocol_of

        if protocol_of(metadata) is not CLUE2024:
            return None
        return cls(str(metadata.get("dataset")), metadata)

    def configure(self, task: Any) -> None:
        """CLUE's generation settings and extraction filter on ``task``; refuses scoring by likelihood."""
        if task.OUTPUT_TYPE != "generate_until":
            raise ValueError(f"{task.config.task}: CLUE scores {self.dataset} by generation; under "
                             f"{CLUE2024.id} run the generation task (…_gen)")
        task.config.generation_kwargs = {
            "until": [], "max_gen_toks": prompt_of(self.dataset).max_tokens,
            "do_sample": True, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
        }
        if task.config.filter_list:
            door.replace_filters(task, "extract", extract_filter)

    def prompt(self, doc: Mapping[str, Any], chat_template: Callable[..., str] | None, counter: Any,
               max_length: int | None) -> str:
        """The rendered prompt of ``doc``: CLUE's turns through the model's chat template."""
        if chat_template is None:
            raise ValueError(f"{self.dataset}: CLUE prompts every model through its chat template; under "
                             f"{CLUE2024.id} run with --apply_chat_template")
        return chat_template(self.messages(doc, counter, max_length))

    def messages(self, doc: Mapping[str, Any], counter: Any = None, max_length: int | None = None) -> list[dict]:
        """CLUE's chat turns of ``doc`` (LongHealth's built now, from the run's token counter)."""
        if self.dataset not in LONGHEALTH_TASKS:
            return [dict(turn) for turn in doc["messages"]]
        texts = longhealth_texts(_folder(self.dataset))
        limit = LONGHEALTH_MAX_LEN if self.dataset == "longhealth_task1" else max_length
        if counter is not None and limit is not None:
            limit -= counter.count(LONGHEALTH_SYSTEM)
        else:
            limit = None
        user = longhealth_user_turn(doc, texts, limit, counter)
        return [{"role": "system", "content": LONGHEALTH_SYSTEM}, {"role": "user", "content": user}]

    def score(self, doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, float]:
        """CLUE's scores of the (filtered) generation, with BERTScore F1 for the summaries."""
        generation = str(results[0]) if results else ""
        scores = score(doc, generation)
        if self._bertscore is not None:
            try:
                pair = generation.strip(), str(doc["reference"]).strip()  # bert_score strips both
                scores["bertscore_f1"] = scorer(self._bertscore).score(*pair)[2]
            except OSError as err:  # no local copy of the model: medpair never downloads one
                log.warning("medpair: %s: BERTScore skipped: %s is not on this machine (%s); pass "
                            "--metadata '{\"bertscore_model\": \"/path/to/scibert_scivocab_uncased\"}'",
                            self.dataset, self._bertscore.model, err)
                self._bertscore = None
        return scores
