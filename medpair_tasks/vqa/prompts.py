"""The VQA prompt of each format of the grammar: image placeholders, findings, question, options.

:func:`vqa_template` derives it from the text tasks' template of the same format
(:func:`medpair_tasks.formats.jinja_template`), so the eleven formats keep every axis of the
grammar. Two changes: the document's images come first, one ``<image>`` placeholder each (the
placeholder lm-eval's ``hf-multimodal`` model replaces with the model's image token); and the
text tasks' context slot becomes the *findings* slot, filled with an expert model's findings
when the run has an evidence file (:mod:`medpair_tasks.vqa.evidence`) and left out otherwise.
The findings label follows the format's casing and separators: ``Findings:``, ``**Findings** -``,
``### FINDINGS::`` … The template reads the document fields ``images``, ``question``, ``options``
and the render-time field ``evidence``; a document that carries its finished ``prompt`` (the
``jeong2024`` protocol, :mod:`medpair_tasks.vqa.jeong2024`) prints it unchanged.
"""

from __future__ import annotations

import re

from medpair_tasks.formats import PromptFormat, jinja_template, with_finished_prompt
from medpair_tasks.vqa.records import IMAGE_PLACEHOLDER

FINDINGS = "Findings"

_CONTEXT_BLOCK = re.compile(
    r"^\{% if context %\}(?P<label>.*?)\{\{ context \}\}(?P<sep>.*?)\{% endif %\}(?P<rest>.*)$", re.DOTALL
)


def _same_case(word: str, like: str) -> str:
    if like.isupper():
        return word.upper()
    if like.islower():
        return word.lower()
    return word


def vqa_template(fmt: PromptFormat) -> str:
    """The Jinja2 ``doc_to_text`` of a VQA task in format ``fmt``."""
    match = _CONTEXT_BLOCK.match(jinja_template(fmt))
    if match is None:
        raise ValueError("the text template no longer starts with its context block")
    label = re.sub(r"(?i)context|abstract", lambda m: _same_case(FINDINGS, m.group(0)), match["label"], count=1)
    sep = match["sep"]
    images = f"{{% for image in images %}}{IMAGE_PLACEHOLDER}{{% endfor %}}{sep}"
    findings = f"{{% if evidence is defined and evidence %}}{label}{{{{ evidence }}}}{sep}{{% endif %}}"
    return with_finished_prompt(images + findings + match["rest"])
