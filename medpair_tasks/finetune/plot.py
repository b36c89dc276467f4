"""``curves.png``: the training and validation loss of every grid point of one model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from medpair_tasks.finetune.train import PointResult


def plot_curves(results: Sequence[PointResult], best: str | None, path: Path, title: str) -> Path:
    """Write validation loss (left) and training loss (right) against epochs, one line per grid point.

    The best point (``best``, a point name) is drawn thick; the validation loss before training
    is the curve's first point at epoch 0.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # the Agg canvas directly: no pyplot state, and the process's matplotlib backend is left alone
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    ax_val, ax_train = fig.subplots(1, 2, sharex=True)
    colours = matplotlib.colormaps["tab20"]
    for i, result in enumerate(results):
        is_best = result.name == best
        style = {"color": colours(i % 20), "linewidth": 2.6 if is_best else 1.0, "alpha": 1.0 if is_best else 0.75}
        label = f"{result.name}{' (best)' if is_best else ''}"
        ax_val.plot([h.epoch for h in result.history], [h.val_loss for h in result.history], marker="o", markersize=3, label=label, **style)
        train = [(h.epoch, h.train_loss) for h in result.history if h.train_loss is not None]
        if train:
            ax_train.plot(*zip(*train), marker=".", **style)
        if is_best:
            ax_val.scatter([result.best_epoch], [result.best_val_loss], s=80, facecolors="none", edgecolors="black", zorder=5)
    ax_val.set(title="validation loss (answer tokens)", xlabel="epoch", ylabel="cross-entropy per token")
    ax_train.set(title="training loss (mean since previous evaluation)", xlabel="epoch")
    for axes in (ax_val, ax_train):
        axes.grid(alpha=0.3)
    ax_val.legend(fontsize=7, ncol=2 if len(results) > 6 else 1)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
