"""The knowledge tasks' lm-eval ``custom_dataset`` (named in their YAMLs with ``!function``).

Scoring, choices and answer extraction are the hooks every multiple-choice family shares
(:mod:`medpair_tasks.family.hooks`). The run-time switches come through lm-eval's task metadata
(``--metadata '{"role": "test"}'`` on the command line overrides them for every task of the run):
``role``, ``val_limit``, ``protocol`` and, under ``jeong2024``, ``profile``.
"""

from __future__ import annotations

from typing import Any

import datasets

from medpair_tasks import jeong2024_docs
from medpair_tasks.family.hooks import build_splits
from medpair_tasks.knowledge.roles import BOOK
from medpair_tasks.protocols import JEONG2024, protocol_of


def load(**metadata: Any) -> datasets.DatasetDict:
    """lm-eval ``custom_dataset``: the scored split ``eval`` and the demonstrations ``fewshot``.

    Receives the task metadata merged with the CLI ``--metadata`` and ``model_args`` (the
    ``jeong2024`` protocol reads the model's name from them to find its prompt profile).
    Under medpair's protocol the knowledge tasks show every item the seed's draws (their items
    are their own sources, and the pool never shares an item with a scored role).
    """
    if protocol_of(metadata) is JEONG2024:
        return jeong2024_docs.build_splits(metadata)
    return build_splits(metadata, BOOK.scored_items, BOOK.pool, per_item=False)
