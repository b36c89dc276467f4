"""The record every medpair VQA dataset is converted into, and closed-question options.

A visual question is multiple choice here, as Jeong et al. (2024) posed them: a closed-ended
yes/no question gets the options ``("yes", "no")``; a closed-ended question that names its
alternatives ("..., left lung or left kidney?", "hyperdense or hypodense?") gets those
alternatives. :func:`closed_options` derives the options; a question whose answer is not among
them is left out (and counted) by the source readers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medpair_tasks.formats import LETTERS

YES_NO = ("yes", "no")
IMAGE_PLACEHOLDER = "<image>"
#: Answers outside the question's alternatives. Jeong et al. appended them as an extra option,
#: which gives the answer away (only those items have a third option); medpair leaves them out.
_OUTSIDE_ANSWERS = frozenset({"both", "almost the same", "neither", "none"})


@dataclass(frozen=True)
class VQAItem:
    """One visual multiple-choice question.

    ``images`` are references that the dataset's image store resolves (a relative file path,
    or ``split/row/column`` of a table); a question has one image or, in MMMU, several.
    """

    key: str
    question: str
    options: tuple[str, ...]
    answer_idx: int
    images: tuple[str, ...]

    def __post_init__(self) -> None:
        if not 2 <= len(self.options) <= len(LETTERS):
            raise ValueError(f"item {self.key}: {len(self.options)} options (need 2 to {len(LETTERS)})")
        if not 0 <= self.answer_idx < len(self.options):
            raise ValueError(f"item {self.key}: answer index {self.answer_idx} outside {len(self.options)} options")
        if not self.images:
            raise ValueError(f"item {self.key}: no image")


def normalise(text: object) -> str:
    """Lower case, single spaces, no space before ``?`` (Jeong et al.'s clean-up of VQA text)."""
    return re.sub(r"\s+", " ", str(text)).replace(" ?", "?").strip().lower()


def no_placeholder(text: str) -> str:
    """``text`` with any literal ``<image>`` made harmless: the prompt's placeholders must be ours."""
    return text.replace(IMAGE_PLACEHOLDER, "[image]")


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'+\-/.]+", text.rstrip("?. "))


def _listed_alternatives(question: str) -> list[str] | None:
    """"which is bigger, kidney or spleen?" → [kidney, spleen] (the clause after the first comma)."""
    if "," not in question:
        return None
    clause = question.split(",", 1)[1].strip().rstrip("?").strip()
    if not re.search(r"\bor\b", clause):
        return None
    parts = [p.strip(" .?") for p in re.split(r",|\bor\b", clause)]
    parts = [p for p in parts if p]
    return parts if len(parts) >= 2 and len(set(parts)) == len(parts) else None


def _parallel_alternatives(question: str, answer: str) -> list[str] | None:
    """"is it hyperdense or hypodense?" / "t1 weighted or t2 weighted?" → the two alternatives.

    The alternatives are taken to have as many words as the answer, and to be followed by the
    same words on both sides of "or" (``t1 weighted`` / ``t2 weighted``).
    """
    sides = re.split(r"\bor\b", question.rstrip("?"))
    if len(sides) != 2:
        return None
    left, right, target = _words(sides[0]), _words(sides[1]), _words(answer)
    k = len(target)
    if not k or len(left) < k or len(right) < k:
        return None
    for shared in range(len(left) - k, -1, -1):  # longest shared tail first
        tail = left[len(left) - shared :] if shared else []
        if right[k : k + shared] != tail:
            continue
        first = left[len(left) - shared - k : len(left) - shared]
        second = right[:k]
        if target in (first, second) and first != second:
            return [" ".join(first), " ".join(second)]
    return None


def closed_options(question: str, answer: str) -> tuple[tuple[str, ...], int] | None:
    """The options of a closed-ended question and the answer's index, or None.

    Rules, in order: a yes/no answer gives ``("yes", "no")``; alternatives listed after a comma
    ("..., a, b or c?"); two parallel alternatives around "or". None when the answer is not one
    of the alternatives (or is "both", "neither", …: see :data:`_OUTSIDE_ANSWERS`).
    """
    question, answer = normalise(question), normalise(answer)
    if answer in YES_NO:
        return YES_NO, YES_NO.index(answer)
    if answer in _OUTSIDE_ANSWERS:
        return None
    for alternatives in (_listed_alternatives(question), _parallel_alternatives(question, answer)):
        if alternatives and answer in alternatives:
            return tuple(alternatives), alternatives.index(answer)
    return None
