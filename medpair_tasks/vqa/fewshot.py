"""Few-shot prompts with images: every demonstration's image goes to the model, in order.

lm-eval 0.4.13 builds a multimodal request from the scored document alone
(``ConfigurableTask.construct_requests`` adds ``{"visual": self.doc_to_image(doc)}``), while the
few-shot prompt text (``fewshot_context``) renders each demonstration too. With one
``<image>`` placeholder per document, a 3-shot prompt carries four placeholders and one image,
and the processor fails ("Found total 4 <image> tokens and 1 images") or, for processors that
do not check, the model sees the wrong image in the wrong place.

The fix, :class:`medpair_tasks.vqa.task.VQATask`, changes nothing in lm-eval: its
``doc_to_image`` returns the demonstrations' images followed by the scored item's, where the
demonstrations are the very ones ``fewshot_context`` shows (``VQATask.demonstrations``), and
the prompt template puts each document's placeholders in front of that document's text, so
placeholder *i* of the prompt is image *i* of the request. ``construct_requests`` then checks
the invariant on every request (:func:`check_placeholders`) and stops the run if it is broken.
The demonstrations are fixed per few-shot seed and deterministic: the first ``k`` documents of
the task's ``fewshot`` split that share no image with the scored item
(:class:`medpair_tasks.family.sampler.SourceDisjointTask`), the seed's draws for most items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from medpair_tasks.vqa.records import IMAGE_PLACEHOLDER


def request_images(task: Any, doc: dict[str, Any], images_of: Callable[[dict[str, Any]], list[Any]]) -> list[Any]:
    """The images of a request: each demonstration's (``task.demonstrations``), then the scored document's."""
    return [image for shown in task.demonstrations(doc) for image in images_of(shown)] + images_of(doc)


def count_placeholders(text: str) -> int:
    """How many ``<image>`` placeholders a prompt holds."""
    return text.count(IMAGE_PLACEHOLDER)


def check_placeholders(task_name: str, doc: dict[str, Any], context: str, images: Sequence[Any]) -> None:
    """Raise RuntimeError unless the prompt has exactly one placeholder per image."""
    placeholders = count_placeholders(context)
    if placeholders != len(images):
        raise RuntimeError(
            f"{task_name}, item {doc.get('item_key')}: the prompt has {placeholders} image placeholders but the "
            f"request carries {len(images)} images; the few-shot images and the prompt disagree"
        )
