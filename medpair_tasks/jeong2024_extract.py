"""Answer extraction of the ``jeong2024`` protocol, equal to the reference code's.

Rules (``extract_pred`` in ``src/llm/_infer_llm.py`` of ``taekb/eval-medical-dapt`` at 908bb86):

1. the generation is cut at the first stop string and stripped;
2. an upper-case option letter counts when it stands alone: preceded by the start, whitespace,
   ``(``, ``[`` or ``<``, and followed by the end, whitespace, ``.``, ``)``, ``]``, ``>`` or ``</s>``;
   the first such letter wins, however many there are ("B or C" is B);
3. with no letter, the text is normalised (lower case, punctuation to spaces, spaces collapsed)
   and the *gold* option's text alone is looked for as a whole phrase; it counts only when no
   other option's text occurs too. A wrong option's text is never read as an answer.

medpair's own extractor (:mod:`medpair_tasks.extract`) differs on purpose; this one exists so
that a ``jeong2024`` tally equals the paper's.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from medpair_tasks.formats import LETTERS

_LETTER_CONTEXT = r"(?:^|\s|\(|\[|<)({letters})(?=\s|$|\.|</s>|\)|\]|>)"
_PHRASE_CONTEXT = r"(?:^|\s){phrase}(?=\s|$|\.|</s>)"
_PUNCTUATION = frozenset(string.punctuation)


def _normalise(text: str) -> str:
    spaced = "".join(" " if char in _PUNCTUATION else char for char in text)
    return " ".join(spaced.strip().lower().split())


def _has_phrase(phrase: str, text: str) -> bool:
    return re.search(_PHRASE_CONTEXT.format(phrase=re.escape(phrase)), text) is not None


def cut_at_stops(generation: str, stops: Sequence[str]) -> str:
    """The generation up to the earliest stop string (as a stop-string decoder returns it)."""
    ends = [generation.find(stop) for stop in stops if stop]
    ends = [end for end in ends if end >= 0]
    return generation[: min(ends)] if ends else generation


def extract_answer(generation: str, options: Sequence[str], answer_idx: int) -> str | None:
    """The option letter the reference reads in ``generation``, or None when it reads none."""
    text = generation.strip()
    letters = "|".join(LETTERS[: len(options)])
    found = re.findall(_LETTER_CONTEXT.format(letters=letters), text)
    if found:
        return found[0]
    gold = _normalise(options[answer_idx])
    norm_text = _normalise(text)
    if not _has_phrase(gold, norm_text):
        return None
    others = (_normalise(o) for i, o in enumerate(options) if i != answer_idx and o != options[answer_idx])
    return None if any(_has_phrase(other, norm_text) for other in others) else LETTERS[answer_idx]
