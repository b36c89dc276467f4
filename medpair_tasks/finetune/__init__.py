"""``medpair finetune``: the fine-tuned regime of the comparison.

Both models of a pair get the same LoRA recipe and the same hyper-parameter grid on the same
training items; each model's best grid point (lowest validation loss) is saved as a PEFT
adapter, which lm-eval evaluates with ``--model_args pretrained=MODEL,peft=ADAPTER``.

Modules, one job each:

- :mod:`~medpair_tasks.finetune.config`: the recipe (:class:`Recipe`) and the grid;
- :mod:`~medpair_tasks.finetune.data`: which items train and early-stop, rendered with the
  task's default prompt, tokenised with the loss on the answer tokens only;
- :mod:`~medpair_tasks.finetune.train`: one grid point: LoRA training with early stopping on
  validation loss and resumable checkpoints;
- :mod:`~medpair_tasks.finetune.grid`: the grid of one model, resumable, with ``grid.json``,
  the best adapter and ``curves.png``;
- :mod:`~medpair_tasks.finetune.cli`: the ``medpair finetune`` command line.

Importing this package is cheap (no torch); the heavy libraries load when training starts.
"""

from medpair_tasks.finetune.config import DEFAULT_LEARNING_RATES, DEFAULT_RANKS, GridPoint, Recipe, make_grid

__all__ = ["DEFAULT_LEARNING_RATES", "DEFAULT_RANKS", "GridPoint", "Recipe", "make_grid"]
