"""The lm-eval task class of medpair's clinical tasks (named in their YAML with ``class: !function``).

A :class:`ClinicalTask` is an lm-eval ``ConfigurableTask`` configured by YAML like any other,
whose demonstrations never share a note, patient or premise with the scored item
(:class:`medpair_tasks.family.sampler.SourceDisjointTask`), with three additions that need the task's
own settings (shots, output type, generation length) and the run's model, which plain
``!function`` hooks do not see:

- **context-length-aware truncation** (:mod:`medpair_tasks.clinical.truncate`): when the full
  prompt does not fit the model's context, every note in it (the scored item's and the
  demonstrations') is cut to a common cap, the instruction, question, options and answers
  stay whole. LongHealth documents are packed per item (:mod:`medpair_tasks.clinical.longhealth`).
  The lm-eval document is never changed, so ``doc_hash`` is the same for every model and
  the medical/base pairing works even when the two models' context lengths differ;
- **the count of truncated items goes into the results file**: ``configs[<task>]["metadata"]
  ["truncation"]`` holds the budget, how many scored items had their note cut and their item
  keys (ids only), and a warning line reports it;
- **BERTScore** (``bertscore_f1``) for the summarisation tasks when a local model is given.
"""

from __future__ import annotations

import logging
from typing import Any

from medpair_tasks.clinical import longhealth
from medpair_tasks.clinical.clue2024 import ClueTaskHooks
from medpair_tasks.clinical.bertscore import NOT_CONFIGURED, bertscore_config, scorer
from medpair_tasks.clinical.sources import longhealth_texts
from medpair_tasks.clinical.truncate import MARKER, Budget, resolve_budget, shorten, truncation_side, water_fill
from medpair_tasks.family.sampler import SourceDisjointTask

log = logging.getLogger(__name__)

MC_RESERVE = 8  # tokens kept free for a multiple-choice continuation (" A")
MARGIN = 8  # tokens kept free for special tokens and merges at the cut
MAX_ROUNDS = 4


def _note_id(doc: dict[str, Any]) -> tuple[str, str]:
    return str(doc.get("role")), str(doc.get("item_key"))


class ClinicalTask(SourceDisjointTask):
    """A medpair clinical task: notes cut to fit, truncation recorded, optional BERTScore."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        config = dict(config or {})
        config.pop("class", None)  # lm-eval's TaskConfig has no such field
        # set before lm-eval's __init__, which renders a document to inspect the task
        self._side = truncation_side(config.get("metadata") or {})
        self._budget: Budget | None | bool = False  # False: not resolved yet
        self._cut_items: dict[str, bool] = {}
        self._demo_cuts = 0
        self._overflow: list[str] = []
        super().__init__(config=config)
        metadata = self.config.metadata or {}
        self._clue = ClueTaskHooks.for_task(metadata)
        if self._clue is not None:
            self._clue.configure(self)
        self._side = truncation_side(metadata)
        self._bertscore = bertscore_config(metadata) if metadata.get("bertscore") else None
        if metadata.get("bertscore") and self._bertscore is None:
            log.warning(NOT_CONFIGURED.format(task=self.config.task))

    # ------------------------------------------------------------------ the budget

    def _get_budget(self) -> Budget | None:
        if self._budget is False:
            self._budget = None if self._side == "none" else resolve_budget(self.config.metadata or {})
            if self._budget is None:
                log.warning("medpair: %s: notes are not truncated (%s); lm-eval cuts over-long prompts from the left",
                            self.config.task, "truncation is 'none'" if self._side == "none" else
                            "no tokenizer or max_length is known for this run")
        return self._budget  # type: ignore[return-value]

    def _reserve(self) -> int:
        if self.OUTPUT_TYPE == "generate_until":
            return int((self.config.generation_kwargs or {}).get("max_gen_toks", 256))
        return MC_RESERVE

    # ------------------------------------------------------------------ rendering

    def _note_text(self, doc: dict[str, Any], cap: int | None) -> str:
        budget = self._get_budget()
        counter = budget.counter if budget else None
        if doc.get("documents"):
            text, _ = longhealth.pack(str(doc["item_key"]), list(doc["documents"]), longhealth_texts(), cap, counter)
            return text
        text = str(doc.get("context") or "")
        if cap is None or counter is None:
            return text
        return shorten(text, cap, self._side, counter)

    def _note_length(self, doc: dict[str, Any]) -> int:
        budget = self._get_budget()
        assert budget is not None
        return budget.counter.count(self._note_text(doc, None))

    def _shown(self, doc: dict[str, Any], caps: dict[tuple[str, str], int]) -> dict[str, Any]:
        """``doc`` as the prompt shows it: LongHealth documents packed into ``context``, the note cut
        to its cap in ``caps`` (if any). The logged document is never this copy."""
        cap = caps.get(_note_id(doc))
        if not doc.get("documents") and cap is None:
            return doc
        shown = {key: value for key, value in doc.items() if key != "documents"}
        shown["context"] = self._note_text(doc, cap)
        return shown

    def doc_to_text(self, doc: Any, doc_to_text: Any = None) -> Any:
        """The prompt text of ``doc``, LongHealth documents packed into its note (uncut)."""
        if isinstance(doc, dict) and doc.get("documents"):
            doc = self._shown(doc, {})
        return super().doc_to_text(doc, doc_to_text)

    def _render(self, doc: dict, demonstrations: list[dict], caps: dict[tuple[str, str], int],
                args: tuple, kwargs: dict) -> Any:
        """lm-eval's prompt of ``doc`` after ``demonstrations``, every note cut as ``caps`` says."""
        shown = [self._shown(demo, caps) for demo in demonstrations]
        return self.context_with(self._shown(doc, caps), shown, *args, **kwargs)

    def fewshot_context(self, doc: dict, num_fewshot: int, *args: Any, **kwargs: Any) -> Any:
        """lm-eval's prompt of ``doc``, with the notes cut so that it fits the model's context."""
        budget = self._get_budget()
        if self._clue is not None:
            return self._clue.prompt(doc, kwargs.get("chat_template"), budget and budget.counter,
                                     budget and budget.max_length)
        if budget is None:
            return super().fewshot_context(doc, num_fewshot, *args, **kwargs)
        limit = budget.max_length - self._reserve() - MARGIN
        demonstrations = self.demonstrations(doc, num_fewshot)
        notes = {_note_id(note): note for note in [*demonstrations, doc] if "context" in note or "documents" in note}
        prompt = self._render(doc, demonstrations, {}, args, kwargs)
        total = self._count(prompt, budget)
        item = str(doc.get("item_key"))
        if total <= limit:
            self._cut_items[item] = False
            return prompt
        lengths = {key: self._note_length(note) for key, note in notes.items()}
        available = limit - (total - sum(lengths.values())) - len(lengths) * budget.counter.count(MARKER)
        for _ in range(MAX_ROUNDS):
            cap = water_fill(list(lengths.values()), available)
            cap = 0 if cap is None else cap
            caps = {key: cap for key, length in lengths.items() if length > cap}
            prompt = self._render(doc, demonstrations, caps, args, kwargs)
            total = self._count(prompt, budget)
            if total <= limit or cap == 0:
                break
            available -= total - limit + MARGIN
        if total > limit:
            self._overflow.append(item)
        self._cut_items[item] = _note_id(doc) in caps
        self._demo_cuts += any(key != _note_id(doc) for key in caps)
        return prompt

    @staticmethod
    def _count(prompt: Any, budget: Budget) -> int:
        if isinstance(prompt, list):  # multiple-input tasks: the longest context counts
            return max((budget.counter.count(p) for p in prompt), default=0)
        return budget.counter.count(str(prompt))

    # ------------------------------------------------------------------ scoring and results

    def process_results(self, doc: dict, results: Any) -> dict:
        """lm-eval's (the YAML's ``process_results``) plus ``bertscore_f1`` when a model is given."""
        if self._clue is not None:
            return self._clue.score(doc, results)
        scores = dict(super().process_results(doc, results))
        if self._bertscore is not None and "reference" in doc:
            generation = results[0] if results else ""
            scores["bertscore_f1"] = scorer(self._bertscore).score(str(generation).strip(), doc["reference"])[2]
        return scores

    def aggregation(self) -> dict[str, Any]:
        """lm-eval's aggregations, and the mean for the scores the protocol adds (CLUE's UMLS scores)."""
        from lm_eval.api.metrics import mean

        clue = getattr(self, "_clue", None)  # lm-eval's __init__ may ask before the hooks exist
        extra = clue.extra_metrics if clue is not None else ()
        return {**super().aggregation(), **{name: mean for name in extra}}

    def higher_is_better(self) -> dict[str, Any]:
        """lm-eval's directions, and higher-is-better for the scores the protocol adds."""
        clue = getattr(self, "_clue", None)
        extra = clue.extra_metrics if clue is not None else ()
        return {**super().higher_is_better(), **{name: True for name in extra}}

    def truncation_summary(self) -> dict[str, Any]:
        """What truncation did in this run: the budget, the counts, the cut items' keys."""
        budget = self._get_budget()
        if budget is None:
            return {"active": False, "side": self._side}
        cut = sorted(k for k, v in self._cut_items.items() if v)
        summary = {
            "active": True,
            "side": self._side,
            **budget.describe(),
            "reserved_tokens": self._reserve() + MARGIN,
            "items": len(self._cut_items),
            "truncated": len(cut),
            "truncated_items": cut,
            "prompts_with_demonstrations_cut": self._demo_cuts,
        }
        if self._overflow:
            summary["still_too_long"] = sorted(self._overflow)
        return summary

    def dump_config(self) -> dict:
        """The task config for the results file, with :meth:`truncation_summary` in its metadata."""
        config = dict(super().dump_config())
        summary = self.truncation_summary()
        config["metadata"] = {**(config.get("metadata") or {}), "truncation": summary}
        if summary.get("truncated") or summary.get("still_too_long"):
            log.warning(
                "medpair: %s: %d of %d items had their note cut (%s) to fit %d tokens%s",
                self.config.task, summary["truncated"], summary["items"], summary["side"], summary["max_length"],
                f"; {len(summary['still_too_long'])} prompts are too long even without notes"
                if summary.get("still_too_long") else "",
            )
        return config
