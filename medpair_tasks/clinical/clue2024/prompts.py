"""CLUE's prompts: each task's system prompt, turns, shots and generation length, and the chat they make."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


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


def prompt_of(dataset: str) -> CluePrompt:
    """The CLUE prompt of a dataset (the three LongHealth settings share one)."""
    return LONGHEALTH_PROMPT if dataset in LONGHEALTH_TASKS else PROMPTS[dataset]


def messages_of(prompt: CluePrompt, demos: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> list[dict]:
    """CLUE's chat: the system turn, each demonstration as a user and an assistant turn, the item."""
    chat = [{"role": "system", "content": prompt.system}]
    for demo in demos:
        chat.append({"role": "user", "content": prompt.user.format(**demo)})
        chat.append({"role": "assistant", "content": prompt.assistant.format(**demo)})
    chat.append({"role": "user", "content": prompt.user.format(**record)})
    return chat
