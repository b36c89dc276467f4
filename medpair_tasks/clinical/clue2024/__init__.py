"""The ``clue2024`` protocol: CLUE's prompts, demonstrations, LongHealth repeats and scoring.

CLUE (Dada et al., 2024; GitHub ``TIO-IKIM/CLUE``, ``eval/``) runs six tasks through a model's
chat template. Reproduced here, fact by fact:

- **Data**: the file CLUE reads (MedNLI ``mli_test_v1.jsonl``, the MeQSum spreadsheet, ProbSum
  ``BioNLP2023-1A-Test.csv`` with ``;`` in the summaries written ``, ``, ``MeDiSumQA.json``,
  ``MeDiSumCode.json`` with the gold codes joined by ``, ``, LongHealth ``benchmark_v5.json``),
  in file order, shuffled with Python's ``random.seed(1)`` + ``random.shuffle``; the first
  ``shots`` records are the demonstrations, every other record is scored (no val/test roles).
- **Prompts** (:data:`prompts.PROMPTS`): a system turn with the task's system prompt, the demonstrations
  as user/assistant turns, the item as the last user turn; LongHealth: system + one user turn.
  :func:`messages_of` builds the turns; the model's chat template renders them (as CLUE's
  ``vllm.LLM.chat``, with the generation prompt).
- **LongHealth**: five repeats of every question whose documents are shuffled (the options are
  not); settings 2 and 3 come from ten rounds per question (odd rounds setting 2, even rounds
  setting 3), each with ten documents of other patients drawn by ``random.sample``. CLUE draws
  from Python's global random generator without a seed; medpair replays the same calls in the
  same order on ``random.Random(LONGHEALTH_SEED)`` (:func:`longhealth_rounds`). CLUE shuffles
  the documents its budget keeps (lengths ``len(tokenizer.encode(text))``, cuts
  ``decode(encode(text)[:n])``: :class:`repeats.ClueCounter`), so the draws use the run's
  tokenizer and context when the model arguments name them. Each repeat is
  its own scored document (item key ``<patient>/q<NN>/r<j>``), scored as CLUE does (the mean over
  all repeats); every repeat carries the patient as its cluster, so ``medpair compare``
  resamples a patient's questions, with all their repeats, together.
- **Generation**: CLUE's ``vllm.SamplingParams(max_tokens=N)``: sampling at temperature 1,
  no top-p/top-k, stop at end of sequence only (:data:`PROMPTS` ``max_tokens``).
- **Scoring** (:func:`score`): MedNLI correct when the gold label occurs exactly once in the
  upper-cased generation; LongHealth's ``The correct answer is X:`` against CLUE's gold letter
  (``F`` in setting 3); MeDiSumCode's code lists (duplicates counted); ROUGE as ``evaluate``'s
  ``rouge``; BERTScore with ``lang="en-sci"`` (``allenai/scibert_scivocab_uncased``, layer 8,
  ``bert_score``'s greedy matching); UMLS precision/recall/F1 (ProbSum, MeDiSumQA) when a
  scispaCy pipeline is named (:mod:`.umls`).

The package's modules: :mod:`.prompts` (the turns), :mod:`.records` (reading and shuffling
CLUE's files), :mod:`.repeats` (LongHealth's draws and user turn), :mod:`.docs` (the lm-eval
documents), :mod:`.scoring` (extraction, scores, BERTScore settings), :mod:`.umls` (UMLS F1),
:mod:`.hooks` (what the clinical task does differently).
"""

from medpair_tasks.clinical.clue2024.docs import clue_docs, load_splits
from medpair_tasks.clinical.clue2024.hooks import ClueTaskHooks
from medpair_tasks.clinical.clue2024.prompts import (
    CLUE_DATASETS, LONGHEALTH_PROMPT, LONGHEALTH_SYSTEM, LONGHEALTH_TASKS, LONGHEALTH_USER, PROMPTS, CluePrompt,
    messages_of, prompt_of,
)
from medpair_tasks.clinical.clue2024.records import FILES, SHUFFLE_SEED, clue_order, read_records
from medpair_tasks.clinical.clue2024.repeats import (
    CANNOT_ANSWER, LONGHEALTH_MAX_LEN, LONGHEALTH_SEED, longhealth_rounds, longhealth_texts, longhealth_user_turn,
)
from medpair_tasks.clinical.clue2024.scoring import (
    BERTSCORE_LAYER, BERTSCORE_MAX_LENGTH, BERTSCORE_MODEL, bertscore_settings, extract, extract_filter, icd_scores,
    longhealth_choice, mednli_correct, score,
)

__all__ = [
    "BERTSCORE_LAYER", "BERTSCORE_MAX_LENGTH", "BERTSCORE_MODEL", "bertscore_settings", "CANNOT_ANSWER",
    "CLUE_DATASETS", "clue_docs", "clue_order", "CluePrompt", "ClueTaskHooks", "extract", "extract_filter",
    "FILES", "icd_scores", "load_splits", "longhealth_choice", "LONGHEALTH_MAX_LEN", "LONGHEALTH_PROMPT",
    "longhealth_rounds", "LONGHEALTH_SEED", "LONGHEALTH_SYSTEM", "LONGHEALTH_TASKS", "longhealth_texts",
    "LONGHEALTH_USER", "longhealth_user_turn", "mednli_correct", "messages_of", "prompt_of", "PROMPTS",
    "read_records", "score", "SHUFFLE_SEED",
]
