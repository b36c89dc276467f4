"""Paired statistics for comparing a medical model with its base model.

Public API:

* :func:`compare_scores` -> :class:`PairedComparison` — interval (inverted sign-flip test, or
  paired bootstrap), win / tie / loss by one rule that agrees with the sign-flip p-value,
  exact McNemar (unclustered 0/1 scores), SE and MDE for one comparison;
* :func:`adjust_pvalues` — Holm or Benjamini–Hochberg over a family of comparisons;
* :func:`mcnemar_exact_p`, :func:`minimum_detectable_effect` — the building blocks.
"""

from .mcnemar import mcnemar_exact_p
from .multiple import adjust_pvalues
from .paired import PairedComparison, compare_scores
from .stderr import minimum_detectable_effect

__all__ = [
    "PairedComparison",
    "adjust_pvalues",
    "compare_scores",
    "mcnemar_exact_p",
    "minimum_detectable_effect",
]

# log reading and reporting, imported last: they import the statistics above from this package
from .compare import run_compare  # noqa: E402
from .logs import read_logs  # noqa: E402

__all__ += ["read_logs", "run_compare"]
