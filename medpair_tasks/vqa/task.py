"""The lm-eval task class of medpair's VQA tasks (named in their YAML with ``class: !function``).

A :class:`VQATask` is an lm-eval ``ConfigurableTask`` configured by YAML like any other, whose
demonstrations never share an image with the scored item
(:class:`medpair_tasks.family.sampler.SourceDisjointTask`), with three additions:

- ``doc_to_image`` returns the few-shot demonstrations' images, then the item's
  (:mod:`medpair_tasks.vqa.fewshot`): 3-shot prompts with images work;
- ``doc_to_text`` fills the findings slot from the run's evidence file, if any
  (:mod:`medpair_tasks.vqa.evidence`), without touching the document;
- the task's metadata records whether evidence was used, the file's sha256 and its coverage.

Using lm-eval's own ``class:`` route keeps plain ``lm_eval --include_path`` working and patches
nothing in lm-eval.
"""

from __future__ import annotations

import logging
from typing import Any

from medpair_tasks.family.sampler import SourceDisjointTask
from medpair_tasks.protocols import JEONG2024, protocol_of
from medpair_tasks.vqa.evidence import Evidence, evidence_from_metadata, evidence_metadata
from medpair_tasks.vqa.fewshot import check_placeholders, request_images
from medpair_tasks.vqa.hooks import doc_images
from medpair_tasks.vqa.jeong2024 import reference_images

log = logging.getLogger(__name__)


class VQATask(SourceDisjointTask):
    """A medpair VQA task: few-shot images in order, an optional evidence slot, identity in metadata."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        config.pop("class", None)  # lm-eval's TaskConfig has no such field
        metadata = dict(config.get("metadata") or {})
        self._evidence: Evidence | None = evidence_from_metadata(metadata)
        if protocol_of(metadata) is JEONG2024:  # the reference shows every item the seed's draws
            metadata["fewshot_rule"] = "fixed_draws"
            if self._evidence is not None:
                raise ValueError("an evidence file is a medpair-protocol feature; the jeong2024 prompts have no "
                                 "findings slot (drop evidence_file or run under the medpair protocol)")
        config["metadata"] = {**metadata, **evidence_metadata(self._evidence)}
        super().__init__(config=config)
        self._record_coverage()

    def _record_coverage(self) -> None:
        if self._evidence is None:
            return
        dataset = self.config.metadata["dataset"]
        keys = [doc["item_key"] for doc in self.eval_docs]
        covered = sum(1 for key in keys if self._evidence.for_item(dataset, key))
        self.config.metadata.update(evidence_scored=covered, evidence_missing=len(keys) - covered)
        if covered == 0:
            example = keys[0] if keys else "?"
            raise ValueError(
                f"{self.config.task}: the evidence file {self._evidence.path} has no line for any of the "
                f"{len(keys)} scored items of {dataset} (item keys look like {example!r})"
            )
        if covered < len(keys):
            log.warning("%s: %d of %d scored items have no findings in %s", self.config.task,
                        len(keys) - covered, len(keys), self._evidence.path)

    def findings(self, doc: dict[str, Any]) -> str:
        """The evidence text of a document ("" without an evidence file or line)."""
        if self._evidence is None:
            return ""
        return self._evidence.for_item(str(doc["dataset"]), str(doc["item_key"]))

    def doc_to_text(self, doc: Any, doc_to_text: Any = None) -> Any:
        """The prompt of one document, its findings slot filled at render time (the doc is unchanged)."""
        return super().doc_to_text({**doc, "evidence": self.findings(doc)}, doc_to_text)

    def doc_to_image(self, doc: Any, doc_to_image: Any = None) -> list[Any]:
        """The request's images: each demonstration's, then the scored item's (under ``jeong2024``, those the
        reference's model uses: :func:`medpair_tasks.vqa.jeong2024.reference_images`)."""
        images = request_images(self, doc, doc_images)
        return reference_images(doc, images) if doc.get("protocol") == JEONG2024.id and doc.get("profile") else images

    def construct_requests(self, doc: dict, ctx: str | list[str], **kwargs: Any) -> Any:
        """lm-eval's requests, checked: one ``<image>`` placeholder per image, in a plain-text prompt."""
        chat = bool(kwargs.get("apply_chat_template"))
        requests = super().construct_requests(doc, ctx, **kwargs)
        if not chat:
            for request in requests if isinstance(requests, list) else [requests]:
                context, *_, visuals = request.arguments
                check_placeholders(self.config.task, doc, context, visuals["visual"])
        return requests
