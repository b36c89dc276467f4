"""The learning-curve plot draws on its own canvas: the process's matplotlib backend is left alone."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

from medpair_tasks.finetune.plot import plot_curves
from medpair_tasks.finetune.train import Evaluation, PointResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _result(name: str, lr: float, losses: list[float]) -> PointResult:
    history = tuple(Evaluation(step=10 * i, epoch=0.5 * i, train_loss=None if i == 0 else loss + 0.1, val_loss=loss)
                    for i, loss in enumerate(losses))
    best = min(range(len(losses)), key=losses.__getitem__)
    return PointResult(name=name, lr=lr, rank=16, best_val_loss=losses[best], best_step=10 * best,
                       best_epoch=0.5 * best, initial_val_loss=losses[0], steps=10 * (len(losses) - 1),
                       max_steps=10 * (len(losses) - 1), stopped_early=False, seconds=1.0, history=history)


@pytest.fixture()
def svg_backend():
    """matplotlib's backend set to ``svg`` (a caller's choice) for the test, the session's restored after it."""
    before = matplotlib.get_backend()
    matplotlib.use("svg", force=True)
    yield "svg"
    matplotlib.use(before, force=True)


def test_plot_curves_writes_a_png_and_keeps_the_backend(tmp_path: Path, svg_backend: str) -> None:
    results = [_result("lr1e-4_r16", 1e-4, [2.0, 1.5, 1.4]), _result("lr2e-4_r16", 2e-4, [2.0, 1.3, 1.6])]
    path = plot_curves(results, "lr2e-4_r16", tmp_path / "curves" / "curves.png", "tiny grid")
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert matplotlib.get_backend() == svg_backend
