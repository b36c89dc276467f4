"""The few-shot source rule (medpair_tasks.family.fewshot) on hand-made documents.

lm-eval's prompts over shared-source releases: test_fewshot_sources.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from medpair_tasks.family.fewshot import (
    SharedSources,
    candidate_prefix,
    disjoint_positions,
    pick_demonstrations,
    shared_source_demonstrations,
)
from medpair_tasks.family.hooks import build_splits
from medpair_tasks.family.roles import draw_shots, rank_shots

SEEDS = range(10)
SHOTS = 3


def _doc(key: str, cluster: str | None = None, images: tuple[str, ...] = ()) -> dict:
    doc = {"item_key": key, "dataset": "toy", "role": "fewshot"}
    if cluster is not None:
        doc["cluster"] = cluster
    if images:
        doc["image_sha256"] = list(images)
    return doc


def test_rank_shots_puts_the_seeds_draw_first_then_the_rest_of_the_pool():
    pool = [f"q{i}" for i in range(40)]
    orders = set()
    for seed in SEEDS:
        ranked = rank_shots("toy", pool, seed)
        drawn = np.random.default_rng(seed).choice(len(pool), size=SHOTS, replace=False)
        assert ranked[:SHOTS] == [pool[i] for i in drawn] == draw_shots("toy", pool, seed)
        assert sorted(ranked) == sorted(pool)
        orders.add(tuple(ranked))
    assert len(orders) == len(SEEDS)
    with pytest.raises(ValueError, match="fewer than 3"):
        rank_shots("toy", pool[:2], 0)


def test_pick_demonstrations_skips_the_item_and_whatever_shares_its_cluster_or_an_image():
    doc = _doc("a", cluster="note-1", images=("sha-x", "sha-y"))
    candidates = [_doc("a"), _doc("b", cluster="note-1"), _doc("c", images=("sha-z", "sha-y")),
                  _doc("d", cluster="note-2"), _doc("e", images=("sha-z",)), _doc("f"), _doc("g")]
    assert [d["item_key"] for d in pick_demonstrations(doc, candidates, SHOTS)] == ["d", "e", "f"]
    assert disjoint_positions(doc, candidates, SHOTS) == [3, 4, 5]
    plain = _doc("b")  # no cluster, no image: only the item itself is its source
    assert [d["item_key"] for d in pick_demonstrations(plain, candidates, SHOTS)] == ["a", "c", "d"]


def test_too_few_source_disjoint_demonstrations_is_an_error_naming_the_item():
    doc = _doc("a", cluster="patient-7")
    candidates = [_doc("b", cluster="patient-7"), _doc("c"), _doc("d", cluster="patient-7"), _doc("e")]
    with pytest.raises(ValueError, match="item a: only 2 of the 4 few-shot candidates share no source"):
        pick_demonstrations(doc, candidates, SHOTS)


def test_candidate_prefix_is_the_shortest_prefix_that_serves_every_item_and_builds_no_more():
    ranked = [("p1", "note-1"), ("p2", "note-2"), ("p3", "note-1"), ("p4", "note-3"), ("p5", "note-4"),
              ("p6", "note-5")]
    made = []

    def to_doc(item):
        made.append(item[0])
        return _doc(*item)

    free = [_doc("s1", cluster="note-9")]
    assert [d["item_key"] for d in candidate_prefix(free, ranked, to_doc, SHOTS)] == ["p1", "p2", "p3"]
    assert made == ["p1", "p2", "p3"]
    made.clear()
    scored = [_doc("s1", cluster="note-9"), _doc("s2", cluster="note-1"), _doc("s3", cluster="note-2")]
    # s2 skips p1 and p3 (note-1) and needs p2, p4, p5; s3 skips p2 and needs p1, p3, p4
    assert [d["item_key"] for d in candidate_prefix(scored, ranked, to_doc, SHOTS)] == ["p1", "p2", "p3", "p4", "p5"]
    assert made == ["p1", "p2", "p3", "p4", "p5"]
    made.clear()
    starved = [_doc("s4", cluster="note-1"), _doc("s5", cluster="note-1")]
    assert len(candidate_prefix(starved, ranked[:4], to_doc, SHOTS)) == 4  # cannot be served: the whole ranking


def test_shared_source_demonstrations_lists_each_pair_once_per_demonstration_shown():
    pool = [_doc("p1", images=("sha-a",)), _doc("p2", images=("sha-b",)), _doc("p3", cluster="c"), _doc("p4")]
    items = [_doc("s1", images=("sha-a", "sha-b")), _doc("s2", cluster="c"), _doc("p4")]
    draws = [[0, 1, 3], [0, 1, 3], [2, 3, 0]]
    shared = shared_source_demonstrations(items, pool, draws)
    assert shared == SharedSources(3, (("p4", "p4"), ("s1", "p1"), ("s1", "p2")))
    assert shared.items == ("p4", "s1")
    assert shared.as_metadata() == {"count": 3, "items": ["p4", "s1"],
                                    "pairs": [["p4", "p4"], ["s1", "p1"], ["s1", "p2"]]}
    assert shared_source_demonstrations(items[:1], pool, [[2, 3]]).count == 0
    with pytest.raises(ValueError, match="one draw per item"):
        shared_source_demonstrations(items, pool, draws[:1])


def _toy_splits(per_item: bool, **metadata):
    """build_splits on 4 scored items and a pool of 12, where pool item i has cluster c{i % 4}."""
    scored = [_doc(f"s{i}", cluster=f"c{i}") for i in range(4)]
    pool = [_doc(f"p{i}", cluster=f"c{i % 4}") for i in range(12)]
    return build_splits({"dataset": "toy", "shots": SHOTS, "fewshot_seed": 0, **metadata},
                        lambda dataset, role, val_limit: scored, lambda dataset: pool,
                        lambda item, dataset, role: {**item, "role": role}, per_item=per_item)


def test_build_splits_gives_every_item_source_disjoint_demonstrations_or_refuses_a_fixed_draw():
    splits = _toy_splits(per_item=True)
    fewshot = list(splits["fewshot"])
    seed_draws = draw_shots("toy", [_doc(f"p{i}") for i in range(12)], 0)
    assert [d["item_key"] for d in fewshot[:SHOTS]] == [d["item_key"] for d in seed_draws]
    for doc in splits["eval"]:
        shown = pick_demonstrations(doc, fewshot, SHOTS)
        assert all(d["cluster"] != doc["cluster"] for d in shown)
    with pytest.raises(ValueError, match="share a source with the scored item"):
        _toy_splits(per_item=False)
    assert len(_toy_splits(per_item=True, fewshot_rule="fixed_draws")["fewshot"]) == SHOTS
    assert len(_toy_splits(per_item=False, shots=0)["fewshot"]) == SHOTS  # zero-shot: the draw is never shown
    with pytest.raises(ValueError, match="fewshot_rule must be one of"):
        _toy_splits(per_item=True, fewshot_rule="whatever")
