"""The lm-eval side of source-disjoint demonstrations (:mod:`medpair_tasks.family.fewshot`).

lm-eval 0.4.13 hands its few-shot sampler the scored document only when demonstrations come
from the scored split (``ConfigurableTask.fewshot_context``); medpair's come from a separate
``fewshot`` split, so a sampler alone cannot see which item it serves. :class:`SourceDisjointTask`,
the base of medpair's task classes, replaces the YAML's ``first_n`` sampler by a
:class:`SourceDisjointSampler` over the same split, chooses each item's demonstrations itself
and hands them to lm-eval's prompt builder (:meth:`SourceDisjointTask.context_with`, through
:func:`medpair_tasks.lm_eval_internals.showing_demonstrations`). Nothing in lm-eval is patched.

Task metadata switch ``fewshot_rule``:

- ``source_disjoint`` (default): each item gets the first ``k`` demonstrations of the seed's
  ranking that share no source with it;
- ``fixed_draws``: every item gets the seed's first ``k`` draws, as a reproduction protocol that
  prescribes the reference's draws needs; the shared-source demonstrations are reported.

Either way ``configs[<task>]["metadata"]["fewshot_sources"]`` in the results file records the
rule, how many items were shown other demonstrations than the seed's draws, and the
shared-source demonstrations shown (count, items, pairs; none under ``source_disjoint``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lm_eval.api.samplers import FirstNSampler
from lm_eval.api.task import ConfigurableTask

from medpair_tasks.family.fewshot import Doc, disjoint_positions, fewshot_rule, shared_source_demonstrations
from medpair_tasks.lm_eval_internals import fewshot_pool, showing_demonstrations

class SourceDisjointSampler(FirstNSampler):
    """``first_n`` over the seed's ranking, skipping what shares a source with the scored document."""

    def __init__(self, df: Sequence[Doc], *, fixed_draws: bool = False, **kwargs: Any) -> None:
        super().__init__(list(df), **kwargs)
        self.fixed_draws = fixed_draws

    def positions(self, n: int, eval_doc: Doc | None) -> list[int]:
        """Positions in the split of the ``n`` demonstrations shown with ``eval_doc``."""
        if n <= 0:
            return []
        if eval_doc is None or self.fixed_draws:
            if n > len(self.df):
                raise ValueError(f"{n} demonstrations requested, the few-shot split has {len(self.df)}")
            return list(range(n))
        return disjoint_positions(eval_doc, self.df, n)

    def sample(self, n: int, eval_doc: Doc | None = None, df: Any = None, **kwargs: Any) -> list[Doc]:
        """The ``n`` demonstrations of ``eval_doc`` (without one: the seed's first ``n`` draws)."""
        return [self.df[i] for i in self.positions(n, eval_doc)]


class SourceDisjointTask(ConfigurableTask):
    """A ConfigurableTask whose demonstrations never share a source with the scored item (see module doc)."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config=config)
        pool = fewshot_pool(self)
        if pool is not None:
            fixed = fewshot_rule(self.config.metadata or {}) == "fixed_draws"
            self.sampler = SourceDisjointSampler(pool, fixed_draws=fixed)
        elif (self.config.num_fewshot or 0) > 0:
            raise ValueError(f"{self.config.task}: medpair's demonstrations need the deterministic 'first_n' sampler")

    def demonstrations(self, doc: Doc, num_fewshot: int | None = None) -> list[Doc]:
        """The documents the prompt of ``doc`` shows before it, in order."""
        shots = self.config.num_fewshot if num_fewshot is None else num_fewshot
        if not shots or shots <= 0:
            return []
        return list(self.sampler.sample(n=shots, eval_doc=doc))

    def fewshot_context(self, doc: dict, num_fewshot: int, *args: Any, **kwargs: Any) -> Any:
        """lm-eval's prompt of ``doc``, its demonstrations chosen for ``doc`` (lm-eval does not pass it on)."""
        shared = getattr(self, "sampler", None)
        if num_fewshot <= 0 or not isinstance(shared, SourceDisjointSampler):
            return super().fewshot_context(doc, num_fewshot, *args, **kwargs)
        return self.context_with(doc, shared.sample(n=num_fewshot, eval_doc=doc), *args, **kwargs)

    def context_with(self, doc: dict, demonstrations: Sequence[Doc], *args: Any, **kwargs: Any) -> Any:
        """lm-eval's prompt of ``doc`` showing exactly ``demonstrations`` before it, in order.

        ``args`` / ``kwargs`` are the rest of ``fewshot_context``'s arguments (system instruction,
        chat template …).
        """
        with showing_demonstrations(self, demonstrations):
            return super().fewshot_context(doc, len(demonstrations), *args, **kwargs)

    def fewshot_sources(self) -> dict[str, Any]:
        """What the few-shot rule did for the scored items (see module doc); empty for zero-shot."""
        shots = self.config.num_fewshot or 0
        sampler = getattr(self, "sampler", None)
        if shots <= 0 or not isinstance(sampler, SourceDisjointSampler):
            return {}
        docs = list(self.eval_docs)
        draws = [sampler.positions(shots, doc) for doc in docs]
        shared = shared_source_demonstrations(docs, sampler.df, draws)
        return {
            "rule": "fixed_draws" if sampler.fixed_draws else "source_disjoint",
            "items": len(docs),
            "items_with_other_demonstrations": sum(draw != list(range(shots)) for draw in draws),
            "shared_source_demonstrations": shared.as_metadata(),
        }

    def dump_config(self) -> dict:
        """The task config for the results file, with :meth:`fewshot_sources` in its metadata."""
        config = dict(super().dump_config())
        summary = self.fewshot_sources()
        if summary:
            config["metadata"] = {**(config.get("metadata") or {}), "fewshot_sources": summary}
        return config
