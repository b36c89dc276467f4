"""Split roles: disjoint pools, the fixed validation subsample, few-shot seeds."""

from __future__ import annotations

import numpy as np
import pytest

from medpair_tasks.knowledge.roles import fewshot_items, roles, scored_items
from medpair_tasks.knowledge.sources import SOURCES


@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_pool_and_scored_roles_are_disjoint(use_data, dataset):
    r = roles(dataset)
    val, test, pool = ({i.key for i in part} for part in (r.val, r.test, r.pool))
    assert val and test and len(pool) >= 3
    assert not (val & test) and not (pool & val) and not (pool & test)


def test_roles_follow_the_protocol(use_data):
    pubmedqa = roles("pubmedqa")
    assert (len(pubmedqa.val), len(pubmedqa.test), len(pubmedqa.pool)) == (450, 500, 50)
    medmcqa = roles("medmcqa")
    assert len(medmcqa.val) == round(0.2 * 40) and len(medmcqa.pool) == 40 - len(medmcqa.val)
    assert len(medmcqa.test) == 10  # the official validation split
    mmlu = roles("mmlu_anatomy")
    assert (len(mmlu.val), len(mmlu.test), len(mmlu.pool)) == (6, 8, 5)


def test_validation_subsample_is_fixed_and_ordered(use_data):
    first = [i.key for i in scored_items("pubmedqa", "val", 100)]
    assert first == [i.key for i in scored_items("pubmedqa", "val", 100)]
    order = {i.key: n for n, i in enumerate(roles("pubmedqa").val)}
    assert len(first) == 100 and np.all(np.diff([order[k] for k in first]) > 0)
    assert len(scored_items("pubmedqa", "val", 0)) == 450
    with pytest.raises(ValueError, match="role"):
        scored_items("pubmedqa", "train")


def test_fewshot_seeds_draw_different_examples(use_data):
    draws = {tuple(i.key for i in fewshot_items("pubmedqa", seed)) for seed in range(10)}
    assert len(draws) == 10
    assert [i.key for i in fewshot_items("pubmedqa", 3)] == [i.key for i in fewshot_items("pubmedqa", 3)]
