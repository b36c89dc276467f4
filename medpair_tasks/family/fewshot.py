"""Few-shot demonstrations that never share a source with the scored item, for every task family.

A document's *sources* (:func:`source_keys`) are the item itself (``item_key``), the note,
patient, premise or letter it shares with other items (``cluster``) and, for a visual
question, each of its images by content (``image_sha256``). A demonstration *shares a source*
with the scored item when any of their sources coincide (:func:`shares_source`): a VQA-RAD
question about the same image, a MedNLI pair on the same premise, the same PubMedQA abstract.

**The rule.** Few-shot seed ``s`` ranks the task's few-shot pool
(:func:`medpair_tasks.family.roles.rank_shots`: the seed's draws first, then the rest of the pool in a
seeded order). A scored item's demonstrations are the first ``k`` documents of that ranking that
share no source with it (:func:`pick_demonstrations`), so the draws are deterministic per seed,
and an item that shares no source with the seed's draws is shown exactly those draws. When
the whole pool holds fewer than ``k`` source-disjoint documents for an item, the run stops
with an error naming the item; there is no silent fall-back to a shared-source demonstration.

:func:`candidate_prefix` sizes a task's ``fewshot`` split (the shortest prefix of the ranking
that serves every scored item); :class:`medpair_tasks.family.sampler.SourceDisjointTask` applies the
rule inside lm-eval. Where a reproduction protocol prescribes the reference's draws, the draws
are kept and :func:`shared_source_demonstrations` reports the demonstrations that share a source
with their item, for the task metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Doc = dict[str, Any]
ItemT = TypeVar("ItemT")
#: Task metadata ``fewshot_rule``: demonstrations chosen per item, or the seed's draws for every item.
FEWSHOT_RULES = ("source_disjoint", "fixed_draws")


def fewshot_rule(metadata: dict[str, Any]) -> str:
    """The run's few-shot rule from the task metadata (default ``source_disjoint``)."""
    rule = str(metadata.get("fewshot_rule") or FEWSHOT_RULES[0])
    if rule not in FEWSHOT_RULES:
        raise ValueError(f"fewshot_rule must be one of {FEWSHOT_RULES}, got {rule!r}")
    return rule


def source_keys(doc: Doc) -> frozenset[str]:
    """The sources a document is about: its item, its cluster (if any) and each of its images (if any)."""
    keys = {f"item:{doc['item_key']}"}
    if doc.get("cluster") is not None:
        keys.add(f"cluster:{doc['cluster']}")
    keys.update(f"image:{sha}" for sha in doc.get("image_sha256") or ())
    return frozenset(keys)


def shares_source(doc: Doc, other: Doc) -> bool:
    """True when ``doc`` and ``other`` are the same item or share a cluster or an image."""
    return not source_keys(doc).isdisjoint(source_keys(other))


def disjoint_positions(doc: Doc, candidates: Sequence[Doc], k: int) -> list[int]:
    """The positions of the first ``k`` candidates that share no source with ``doc``, in order.

    Raises ValueError naming the item when fewer than ``k`` candidates qualify.
    """
    own = source_keys(doc)
    chosen = [i for i, candidate in enumerate(candidates) if own.isdisjoint(source_keys(candidate))][:k]
    if len(chosen) < k:
        raise ValueError(
            f"item {doc.get('item_key')}: only {len(chosen)} of the {len(candidates)} few-shot candidates share no "
            f"source (image, note, patient or abstract) with it; {k} demonstrations are needed"
        )
    return chosen


def pick_demonstrations(doc: Doc, candidates: Sequence[Doc], k: int) -> list[Doc]:
    """The first ``k`` candidates (in ranking order) that share no source with ``doc``; ValueError if too few."""
    return [candidates[i] for i in disjoint_positions(doc, candidates, k)]


def candidate_prefix(
    scored: Sequence[Doc], ranked: Sequence[ItemT], to_doc: Callable[[ItemT], Doc], k: int
) -> list[Doc]:
    """The shortest prefix of ``ranked`` (as documents) that gives every scored document ``k`` demonstrations.

    Documents are made (``to_doc``) only as far as needed, so a large pool costs nothing beyond
    the prefix. An item that the whole pool cannot serve makes the prefix the whole ranking;
    :func:`pick_demonstrations` then raises for it when its prompt is built.
    """
    docs: list[Doc] = []
    keys: list[frozenset[str]] = []
    needed = min(k, len(ranked))
    for doc in scored:
        own, found, position = source_keys(doc), 0, 0
        while found < k and position < len(ranked):
            if position == len(docs):
                docs.append(to_doc(ranked[position]))
                keys.append(source_keys(docs[-1]))
            found += own.isdisjoint(keys[position])
            position += 1
        needed = max(needed, position)
    while len(docs) < needed:
        docs.append(to_doc(ranked[len(docs)]))
    return docs[:needed]


@dataclass(frozen=True)
class SharedSources:
    """Demonstrations shown with an item they share a source with.

    ``pairs`` holds (scored item key, demonstration item key), one per such demonstration,
    sorted; ``count`` is their number.
    """

    count: int
    pairs: tuple[tuple[str, str], ...]

    @property
    def items(self) -> tuple[str, ...]:
        """The keys of the scored items shown at least one shared-source demonstration, sorted."""
        return tuple(sorted({scored for scored, _ in self.pairs}))

    def as_metadata(self) -> dict[str, Any]:
        """The JSON form recorded in a task's metadata."""
        return {"count": self.count, "items": list(self.items), "pairs": [list(pair) for pair in self.pairs]}


def shared_source_demonstrations(
    items: Sequence[Doc], pool: Sequence[Doc], draws: Sequence[Sequence[int]]
) -> SharedSources:
    """Which prescribed demonstrations share a source with the item they are shown with.

    ``draws[i]`` are the positions in ``pool`` of the demonstrations shown with ``items[i]``
    (a protocol that shows every item the same draw passes that draw once per item). For a
    reproduction protocol that keeps the reference's draws: the draws stay, this is reported.
    """
    if len(draws) != len(items):
        raise ValueError(f"{len(draws)} draws for {len(items)} items: give one draw per item")
    pairs = sorted(
        (str(item["item_key"]), str(pool[position]["item_key"]))
        for item, draw in zip(items, draws)
        for position in draw
        if shares_source(item, pool[position])
    )
    return SharedSources(len(pairs), tuple(pairs))
