"""Answer extraction for generated answers."""

from __future__ import annotations

import pytest

from medpair_tasks.extract import UNPARSEABLE, extract_answer
from medpair_tasks.family.hooks import extract_filter, score_generation

OPTIONS = ["Aspirin", "Ceftriaxone", "Vancomycin", "Ceftriaxone and vancomycin"]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("The answer is (B).", "B"),
        ("B) Ceftriaxone", "B"),
        ("b) ceftriaxone", "B"),
        ("the answer is b", "B"),
        ("answer: c", "C"),
        ("(C)", "C"),
        ("D", "D"),
        (" [A] because it inhibits platelets", "A"),
        ("I would choose D here.", "D"),
        ("A is correct", "A"),
        ("A patient like this needs C", "C"),  # the article "A" is not an option
        ("Ceftriaxone", "B"),  # only the option text
        ("vancomycin, given intravenously", "C"),
        ("Ceftriaxone and vancomycin", "D"),  # an option inside a longer option does not count
        ("A or B", UNPARSEABLE),  # two letters
        ("The answer is A or C", UNPARSEABLE),
        ("(B)/(D)", UNPARSEABLE),
        ("Aspirin or vancomycin", UNPARSEABLE),  # text naming two options
        ("I am not sure.", UNPARSEABLE),
        ("", UNPARSEABLE),
        ("E", UNPARSEABLE),  # not a letter of a 4-option question
    ],
)
def test_extract_answer(response: str, expected: str):
    assert extract_answer(response, OPTIONS) == expected


DIAGNOSES = ["Myocardial infarction", "Pneumothorax", "Pulmonary embolism", "Aortic dissection"]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # an article after the answer phrase is not option A
        ("The answer is a pulmonary embolism.", "C"),
        ("The answer is a case of pulmonary embolism.", "C"),
        ("This is a case of pulmonary embolism.", "C"),
        ("Answer - a pulmonary embolism", "C"),
        ("answer: a pneumothorax, given the absent breath sounds", "B"),
        ("The most likely diagnosis is a pulmonary embolism.", "C"),
        ("The answer is a tumour.", UNPARSEABLE),  # an article, and no option's text
        # ... but a letter "a" that stands alone, or in an option wrapper, is option A
        ("The answer is a", "A"),
        ("Answer - a", "A"),
        ("The answer is a) myocardial infarction", "A"),
        ("The answer is A because the ECG shows ST elevation.", "A"),
        # verbose answers: the option named after a distractor letter decides
        ("A is unlikely because the ECG is normal; the answer is pulmonary embolism.", "C"),
        ("Option A (myocardial infarction) is unlikely given the normal troponin. "
         "The most likely diagnosis is pulmonary embolism.", "C"),
        ("Not B: a pneumothorax would show absent breath sounds. The answer is C, pulmonary embolism.", "C"),
        ("Option D can be ruled out, so C.", "C"),
        ("B is wrong. I would choose pulmonary embolism.", "C"),
        ("The answer is pulmonary embolism rather than myocardial infarction.", "C"),
        ("The answer is not myocardial infarction but pulmonary embolism.", "C"),
    ],
)
def test_extract_hard_cases(response: str, expected: str):
    assert extract_answer(response, DIAGNOSES) == expected


def test_extract_rejects_bad_option_lists():
    with pytest.raises(ValueError):
        extract_answer("A", [])


def test_filter_and_score_follow_the_extraction():
    docs = [{"options": OPTIONS, "answer_idx": 1}, {"options": OPTIONS, "answer_idx": 2}]
    filtered = extract_filter([["The answer is B"], ["no idea"]], docs)
    assert filtered == [["B"], [UNPARSEABLE]]
    assert score_generation(docs[0], [filtered[0][0]]) == {"acc": 1.0}
    assert score_generation(docs[1], [filtered[1][0]]) == {"acc": 0.0}
