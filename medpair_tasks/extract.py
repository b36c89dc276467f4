"""Answer extraction for generated multiple-choice answers.

Rules, in order (the first that decides wins):

1. **A concluding phrase.** The last "the answer is …", "answer: …", "answer - …" or "the
   (most likely) diagnosis is …" decides when what follows it names an option: a letter
   (``"The answer is C, pulmonary embolism"``) or, failing that, an option's text (the first
   one named in that sentence, ``"The answer is a pulmonary embolism."``). A lone ``a`` / ``A``
   followed by a word (``"is a case of"``, ``"answer - a pulmonary …"``) is an article there,
   never option A.
2. **An explicit option letter.** Strong forms: the whole answer is a letter (``"B"``,
   ``"(b)"``); an answer phrase (``"The answer is (B)."``, ``"answer: c"``); a letter that opens
   the answer in an option wrapper (``"B) Ceftriaxone"``, ``"[C]"``, ``"d."``). Strong forms are
   case-insensitive. If no strong form is present, a standalone capital letter (``"I pick B
   here"``) counts, except ``A`` used as an article (``"A patient"``). A letter the answer rules
   out (``"not B"``, ``"A is unlikely"``, ``"option A (…) is incorrect"``) is a distractor and does
   not count. Several *different* letters make the answer ambiguous: unparseable.
3. **The option text**, matched case-insensitively on word boundaries, when exactly one option's
   text appears (an option found only inside a longer matching option does not count).
4. Otherwise the answer is **unparseable** (:data:`UNPARSEABLE`), which scores as wrong and stays
   visible in lm-eval's ``filtered_resps``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from medpair_tasks.formats import LETTERS

UNPARSEABLE = "[unparseable]"

_OPEN = r"[\(\[<\{]?"
_CLOSE = r"[\)\]>\}]?"
# Words after a letter "A" / "a" that show it names an option ("A or B", "A is correct"), not an article.
_VERB_OR_JOIN = frozenset({"or", "and", "nor", "is", "was", "seems", "appears", "would", "because", "since"})
# The word after a letter: a following word that is not in _VERB_OR_JOIN makes "a"/"A" an article.
_NEXT_WORD = re.compile(r"\s+([a-z0-9][\w'’-]*)")
# A phrase that concludes: what follows it is the answer.
_CONCLUSION = re.compile(r"\b(?:answer|diagnosis)\s*(?:is\b|would\s+be\b|[:=-])\s*", re.IGNORECASE)
# The end of the concluding sentence: a full stop, semicolon, ... followed by a space, or a line break.
_SENTENCE_END = re.compile(r"[.;!?](?:\s|$)|\n")
# Words before / after a letter (or an option text) that rule it out.
_RULED_OUT_BEFORE = re.compile(r"(?:\bnot|\brather\s+than|\binstead\s+of|\brule[sd]?\s+out|\bexclud\w*|\bexcept)"
                               r"\s*(?:option\s*)?[\(\[<\{]?\s*$", re.IGNORECASE)
_RULED_OUT_AFTER = re.compile(r"^[\)\]>\}]?\s*(?:\([^)]*\)\s*)?,?\s*(?:is|are|seems|would\s+be|can\s+be)\s+"
                              r"(?:unlikely|incorrect|wrong|not\b|less\s+likely|ruled\s+out|excluded)", re.IGNORECASE)


def _letter_class(n_options: int) -> str:
    valid = LETTERS[:n_options]
    return f"[{valid}{valid.lower()}]"


def _is_article(text: str, match: re.Match) -> bool:
    """True when the matched letter is "a"/"A" followed by a word: an article, not option A."""
    following = _NEXT_WORD.match(text, match.end(1))
    return match.group(1) in "aA" and following is not None and following.group(1) not in _VERB_OR_JOIN


def _ruled_out(text: str, start: int, end: int) -> bool:
    """True when the words around ``text[start:end]`` rule it out ("not B", "A is unlikely")."""
    return bool(_RULED_OUT_BEFORE.search(text[:start]) or _RULED_OUT_AFTER.match(text[end:]))


def _strong_letters(text: str, n_options: int) -> set[str]:
    letter = _letter_class(n_options)
    patterns = (
        rf"^\s*{_OPEN}({letter}){_CLOSE}[\s.:)]*$",  # the whole answer is a letter
        rf"answer\s*(?:is|:|=|-)?\s*(?:option\s*)?:?\s*{_OPEN}({letter}){_CLOSE}(?![A-Za-z])",
        rf"\boption\s*{_OPEN}({letter}){_CLOSE}(?![A-Za-z])",
        rf"^\s*{_OPEN}({letter})(?:[\)\]>\}}.:]|\s*-)\s",  # "B) text", "[C] text", "d. text"
        rf"^\s*[\(\[<\{{]({letter})[\)\]>\}}]",  # "(B)" at the start
    )
    found: set[str] = set()
    for pattern in patterns:
        for match in re.finditer(pattern, text, flags=re.IGNORECASE):
            if not _is_article(text, match) and not _ruled_out(text, match.start(1), match.end(1)):
                found.add(match.group(1).upper())
    return found


def _weak_letters(text: str, n_options: int) -> set[str]:
    found = set()
    for match in re.finditer(rf"(?<![A-Za-z0-9'’-])([{LETTERS[:n_options]}])(?![A-Za-z0-9'’-])", text):
        if _is_article(text, match) or _ruled_out(text, match.start(1), match.end(1)):
            continue  # "A patient ..." is an article; "not B" rules B out
        found.add(match.group(1))
    return found


def _names_two_letters(text: str, n_options: int) -> bool:
    """True for "A or C", "(B)/(D)", "B and C": an answer hedged over two options."""
    letter = f"[{LETTERS[:n_options]}]"
    pattern = rf"(?<![A-Za-z]){_OPEN}({letter}){_CLOSE}\s*(?:,|/|&|\bor\b|\band\b)\s*{_OPEN}({letter}){_CLOSE}(?![A-Za-z])"
    return any(a != b for a, b in re.findall(pattern, text))


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold()).strip()


def _option_spans(text: str, option: str) -> list[tuple[int, int]]:
    needle = _normalise(option)
    if not needle:
        return []
    pattern = rf"(?<!\w){re.escape(needle)}(?!\w)"
    return [m.span() for m in re.finditer(pattern, text)]


def _outermost_spans(text: str, options: Sequence[str]) -> dict[int, list[tuple[int, int]]]:
    """Each named option's spans in ``text`` (normalised), less those inside a longer named option."""
    spans = {i: _option_spans(text, option) for i, option in enumerate(options)}
    spans = {i: s for i, s in spans.items() if s}
    return {
        i: kept
        for i in spans
        if (kept := [(start, end) for start, end in spans[i]
                     if not any(a <= start and end <= b and (a, b) != (start, end)
                                for j in spans if j != i for a, b in spans[j])])
    }


def _option_by_text(text: str, options: Sequence[str]) -> str | None:
    matches = list(_outermost_spans(_normalise(text), options))
    return LETTERS[matches[0]] if len(matches) == 1 else None


def _concluded(text: str, n_options: int, options: Sequence[str]) -> str | None:
    """The option named right after the last concluding phrase ("the answer is …"), or None."""
    conclusions = list(_CONCLUSION.finditer(text))
    if not conclusions:
        return None
    start = conclusions[-1].end()
    end_match = _SENTENCE_END.search(text, start + 1)
    tail = text[start : end_match.start() if end_match else len(text)]
    letter = re.match(rf"\s*(?:option\s*)?{_OPEN}({_letter_class(n_options)}){_CLOSE}(?![A-Za-z0-9])", tail,
                      flags=re.IGNORECASE)
    if letter and not _is_article(tail, letter):
        return letter.group(1).upper()
    haystack = _normalise(tail)
    named = [(min(start for start, _ in spans), i) for i, spans in _outermost_spans(haystack, options).items()
             if any(not _ruled_out(haystack, start, end) for start, end in spans)]
    return LETTERS[min(named)[1]] if named else None


def extract_answer(response: str, options: Sequence[str]) -> str:
    """The option letter a generated answer names, or :data:`UNPARSEABLE`.

    Args:
        response: the model's generated text.
        options: the option texts, in letter order (A, B, …).
    """
    n_options = len(options)
    if not 0 < n_options <= len(LETTERS):
        raise ValueError(f"need 1 to {len(LETTERS)} options, got {n_options}")
    text = response.strip()
    if _names_two_letters(text, n_options):
        return UNPARSEABLE
    concluded = _concluded(text, n_options, options)
    if concluded:
        return concluded
    for letters in (_strong_letters(text, n_options), _weak_letters(text, n_options)):
        if len(letters) == 1:
            return letters.pop()
        if len(letters) > 1:
            return UNPARSEABLE
    return _option_by_text(text, options) or UNPARSEABLE
