"""The prompt-format grammar (after Sclar et al.'s FormatSpread, as used by Jeong et al.).

A format is a choice from each axis of the grammar below. It has two names:

- its *spec*, a 9-character code with one digit (or letter) per axis, e.g. ``"100000000"``;
  any spec can be decoded back into the format, so a format is reproducible from its spec;
- its *id*, ``f00`` … ``f10``: ``f00`` is the default format, ``f01`` … ``f10`` are the first
  ten distinct specs drawn from the grammar with the fixed seed :data:`SAMPLING_SEED`.

:func:`jinja_template` turns a format into the Jinja2 ``doc_to_text`` template that the task
YAMLs carry. Templates read four document fields: ``context`` (may be empty), ``question``,
``options`` (a list) and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

LETTERS = "ABCDEFGHIJ"
SAMPLING_SEED = 2024
N_SAMPLED = 10

# Grammar axes, in spec order. Index 0 of each axis is part of the default format.
QUESTION_DESCRIPTORS = ("Question", "")
OPTION_DESCRIPTORS = ("", "Options", "Choices")
ANSWER_DESCRIPTORS = ("Answer", "The answer is")
DESCRIPTOR_SEPARATORS = (": ", ":\n", " - ", ":: ", " ")
FIELD_SEPARATORS = ("\n", "\n\n", " ", " || ")
OPTION_SEPARATORS = ("\n", " ", "; ", ", ")
CASINGS = ("identity", "title", "upper", "lower", "heading", "bold")
LETTER_WRAPPERS = ("{}.", "({})", "{})", "[{}]", "<{}>", "{}:")
CONTEXT_DESCRIPTORS = ("Context", "Abstract")

AXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("question", QUESTION_DESCRIPTORS),
    ("options", OPTION_DESCRIPTORS),
    ("answer", ANSWER_DESCRIPTORS),
    ("descriptor_sep", DESCRIPTOR_SEPARATORS),
    ("field_sep", FIELD_SEPARATORS),
    ("option_sep", OPTION_SEPARATORS),
    ("casing", CASINGS),
    ("wrapper", LETTER_WRAPPERS),
    ("context", CONTEXT_DESCRIPTORS),
)
DEFAULT_SPEC = "0" * len(AXES)


@dataclass(frozen=True)
class PromptFormat:
    """One point of the format grammar; each field is an index into its axis."""

    question: int = 0
    options: int = 0
    answer: int = 0
    descriptor_sep: int = 0
    field_sep: int = 0
    option_sep: int = 0
    casing: int = 0
    wrapper: int = 0
    context: int = 0

    @property
    def spec(self) -> str:
        """The format's spec code: one base-36 digit per grammar axis."""
        return "".join(np.base_repr(getattr(self, name), 36).lower() for name, _ in AXES)

    @classmethod
    def from_spec(cls, spec: str) -> PromptFormat:
        """Decode a spec code; raises ValueError for a code outside the grammar."""
        if len(spec) != len(AXES):
            raise ValueError(f"format spec {spec!r} must have {len(AXES)} characters")
        values = {}
        for char, (name, choices) in zip(spec, AXES):
            index = int(char, 36)
            if index >= len(choices):
                raise ValueError(f"format spec {spec!r}: axis {name!r} has no choice {index}")
            values[name] = index
        return cls(**values)

    def describe(self) -> dict[str, str]:
        """The chosen value of every axis, for documentation and logs."""
        return {name: choices[getattr(self, name)] for name, choices in AXES}


def _cased(text: str, casing: str) -> str:
    if not text:
        return text
    return {
        "identity": text,
        "title": text.title(),
        "upper": text.upper(),
        "lower": text.lower(),
        "heading": f"### {text}",
        "bold": f"**{text}**",
    }[casing]


@cache
def sampled_specs() -> tuple[str, ...]:
    """The specs of f01 … f10: distinct grammar draws with :data:`SAMPLING_SEED`."""
    rng = np.random.default_rng(SAMPLING_SEED)
    specs: list[str] = []
    while len(specs) < N_SAMPLED:
        draw = PromptFormat(**{name: int(rng.integers(len(choices))) for name, choices in AXES})
        if draw.spec != DEFAULT_SPEC and draw.spec not in specs:
            specs.append(draw.spec)
    return tuple(specs)


def format_ids() -> tuple[str, ...]:
    """All format ids, default first: ``("f00", "f01", …, "f10")``."""
    return tuple(f"f{i:02d}" for i in range(N_SAMPLED + 1))


def format_from_id(format_id: str) -> PromptFormat:
    """The format named ``format_id`` (``f00`` is the default format)."""
    if format_id not in format_ids():
        raise ValueError(f"unknown format id {format_id!r}; known: {', '.join(format_ids())}")
    index = int(format_id[1:])
    return PromptFormat.from_spec(DEFAULT_SPEC if index == 0 else sampled_specs()[index - 1])


def jinja_template(fmt: PromptFormat) -> str:
    """The Jinja2 ``doc_to_text`` template of a format.

    The template renders ``context`` (when non-empty), the question, the lettered options and
    the answer descriptor; the answer letter itself is the continuation (``target_delimiter``
    is a space), so every format ends right before `` A``.
    """
    d = fmt.describe()
    casing = d["casing"]
    sep = d["descriptor_sep"]
    field_sep = d["field_sep"]

    def labelled(descriptor: str, body: str) -> str:
        return f"{_cased(descriptor, casing)}{sep}{body}" if descriptor else body

    context = labelled(d["context"], "{{ context }}")
    question = labelled(d["question"], "{{ question }}")
    prefix, suffix = d["wrapper"].split("{}")
    option_lines = (
        "{% for option in options %}"
        f"{prefix}{{{{ '{LETTERS}'[loop.index0] }}}}{suffix} {{{{ option }}}}"
        f"{{% if not loop.last %}}{d['option_sep']}{{% endif %}}"
        "{% endfor %}"
    )
    options_descriptor = d["options"]
    if options_descriptor:
        options = f"{_cased(options_descriptor, casing)}{sep.rstrip()}"
        options += "\n" if d["option_sep"] == "\n" else " "
        options += option_lines
    else:
        options = option_lines
    answer = _cased(d["answer"], casing)
    if d["answer"] == "Answer":
        answer += ":"
    return (
        f"{{% if context %}}{context}{field_sep}{{% endif %}}"
        f"{question}{field_sep}{options}{field_sep}{answer}"
    )


def with_finished_prompt(template: str) -> str:
    """``template``, unless the document carries its finished ``prompt`` (the ``jeong2024`` protocol):
    then that prompt, unchanged."""
    return f"{{% if prompt is defined %}}{{{{ prompt }}}}{{% else %}}{template}{{% endif %}}"
