"""The start-up hook that ``medpair-lm-eval.pth`` installs in every Python process of the environment.

``pip install medpair`` puts ``medpair-lm-eval.pth`` into site-packages; Python's ``site`` module
runs its one line at start-up, which calls :func:`activate`. That appends one tiny finder to
``sys.meta_path`` and does nothing else: a process that never imports lm-eval pays for this
module's import and one string comparison per later import (``benchmarks/bench_startup.py``
measures it). When lm-eval's own modules are imported, the finder lets them load normally and then
hands each one to :mod:`medpair_tasks.lm_eval_internals`, which

- installs medpair's clinical-data guard (always: it acts only when a run includes credentialed
  medpair tasks), and
- makes lm-eval's ``TaskManager`` index medpair's tasks, so that plain ``lm_eval --tasks
  medpair_…`` works without ``--include_path`` - only while the installed lm-eval does not read
  the ``lm_eval.tasks`` entry points itself (lm-eval PR #4015), and not when the environment
  variable ``MEDPAIR_LM_EVAL_PLUGIN`` is ``0``.

``pip uninstall medpair`` removes the ``.pth`` file and with it the hook.
"""

import sys

TYPE_CHECKING = False  # neither typing nor __future__ is imported: this module runs in every Python process
if TYPE_CHECKING:
    from typing import Any

WATCHED = frozenset({"lm_eval.tasks.manager", "lm_eval.config.evaluate_config", "lm_eval.evaluator"})


class _AfterExec:
    """A loader that runs the real loader, then medpair's adaptation of the fresh module."""

    def __init__(self, loader: "Any") -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> "Any":  # get_source, get_resource_reader, … of the real loader
        return getattr(self._loader, name)

    def create_module(self, spec: "Any") -> "Any":
        """The real loader's module (or None for the default)."""
        return self._loader.create_module(spec)

    def exec_module(self, module: "Any") -> None:
        """Execute the module with the real loader, then adapt it."""
        self._loader.exec_module(module)
        from medpair_tasks.lm_eval_internals import adapt_module

        adapt_module(module)


class LmEvalFinder:
    """A ``sys.meta_path`` finder that only watches the lm-eval modules medpair adapts."""

    def find_spec(self, fullname: str, path: "Any" = None, target: "Any" = None) -> "Any":
        """None for every module except the watched ones, whose real spec gets an adapting loader."""
        if fullname not in WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _AfterExec(spec.loader)
                return spec
        return None


def activate() -> None:
    """Put the finder first on ``sys.meta_path`` (once); called by ``medpair-lm-eval.pth``."""
    if not any(isinstance(finder, LmEvalFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, LmEvalFinder())
