"""Split roles of the knowledge datasets: :func:`roles_from`, the rule; :data:`BOOK`, its cache.

The roles per dataset (any other dataset: ``dev`` → val, ``test`` → test, ``train`` → pool):

========== ======================================= ===================== ==========================
dataset    validation role                         test role             few-shot pool
========== ======================================= ===================== ==========================
MedQA      official dev                            official test         train
MedMCQA    20% of train (seed 42)                  official validation   the other 80% of train
PubMedQA   the 500 non-test questions, less the    the official 500      50 of the 500 non-test
           50 of the few-shot pool                                       questions (seed 42)
MMLU       validation                              test                  dev (5 questions)
========== ======================================= ===================== ==========================

Validation subsampling (``val_limit``) and few-shot draws follow the rule every family shares
(:mod:`medpair_tasks.family.roles`).
"""

from __future__ import annotations

from medpair_tasks.family.roles import SPLIT_SEED, RoleBook, Roles, Splits, split_off
from medpair_tasks.knowledge.records import Item
from medpair_tasks.knowledge.sources import TABLE

PUBMEDQA_POOL_SIZE = 50
MEDMCQA_VAL_SHARE = 0.2


def roles_from(dataset: str, splits: Splits) -> Roles[Item]:
    """The roles of ``dataset`` given its source splits (see the table above)."""
    if dataset == "medmcqa":
        val, pool = split_off(splits["train"], round(MEDMCQA_VAL_SHARE * len(splits["train"])), SPLIT_SEED)
        return Roles(tuple(val), tuple(splits["dev"]), tuple(pool))
    if dataset == "pubmedqa":
        pool, val = split_off(splits["dev"], PUBMEDQA_POOL_SIZE, SPLIT_SEED)
        return Roles(tuple(val), tuple(splits["test"]), tuple(pool))
    return Roles(tuple(splits["dev"]), tuple(splits["test"]), tuple(splits["train"]))


#: The knowledge datasets' roles, cached per data folder.
BOOK: RoleBook[Item] = RoleBook(TABLE, roles_from)
roles = BOOK.roles
scored_items = BOOK.scored_items
fewshot_items = BOOK.fewshot_items
