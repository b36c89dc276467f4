"""Importing medpair changes no process state.

Every module of ``medpair_tasks``, ``medpair_stats`` and ``medpair_task_yaml`` is imported in a fresh
interpreter (after the third-party libraries it builds on, whose own import-time settings are
not medpair's); the environment, ``sys.argv``, csv's field size limit, the warnings filters and
the logging configuration must be as they were before.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGES = ("medpair_tasks", "medpair_stats", "medpair_task_yaml")
THIRD_PARTY = ("numpy", "scipy", "scipy.special", "scipy.sparse", "scipy.stats", "pandas", "yaml", "jinja2",
               "datasets", "transformers", "torch", "lm_eval", "lm_eval.tasks", "lm_eval.api.task",
               "lm_eval.evaluator", "matplotlib", "matplotlib.pyplot")
"""Imported before the snapshot: their own import-time warnings filters and loggers are not medpair's."""

PROBE = textwrap.dedent('''
    import csv, importlib, json, logging, os, pkgutil, sys, warnings

    def snapshot():
        loggers = {name: logger for name, logger in logging.root.manager.loggerDict.items()
                   if isinstance(logger, logging.Logger)}
        loggers["<root>"] = logging.root
        return {
            "environ": dict(os.environ),
            "argv": list(sys.argv),
            "csv_field_size_limit": csv.field_size_limit(),
            "warnings_filters": [repr(f) for f in warnings.filters],
            "logging_disable": logging.root.manager.disable,
            "loggers": {name: [logger.level, [repr(h) for h in logger.handlers], logger.propagate, logger.disabled]
                        for name, logger in loggers.items()},
        }

    def modules(package):
        module = importlib.import_module(package)
        names = [package]
        if hasattr(module, "__path__"):
            names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
        return names

    third_party, packages = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    for name in third_party:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    before = snapshot()
    imported = []
    for package in packages:
        for name in modules(package):
            importlib.import_module(name)
            imported.append(name)
    after = snapshot()
    changed = {}
    for key, value in before.items():
        if key == "loggers":
            new = {name: state for name, state in after[key].items() if name not in value}
            # a library may create its loggers, but not configure them
            value = {**value, **{name: [logging.NOTSET, [], True, False] for name in new}}
        if after[key] != value:
            changed[key] = {"before": value, "after": after[key]} if key != "environ" else {
                name: [value.get(name), after[key].get(name)]
                for name in set(value) | set(after[key]) if value.get(name) != after[key].get(name)}
    print(json.dumps({"imported": imported, "changed": changed}, default=str))
''')


def probe(packages: tuple[str, ...], cwd: Path | None = None, third_party: tuple[str, ...] = THIRD_PARTY) -> dict:
    """Import ``packages`` (every module) in a fresh interpreter; return what was imported and what changed."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(third_party)), json.dumps(list(packages))],
                          capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_probe_sees_each_kind_of_change(tmp_path: Path) -> None:
    """A module that changes each piece of state at import time is caught on every one."""
    (tmp_path / "meddler.py").write_text(textwrap.dedent('''
        import csv, logging, os, sys, warnings
        os.environ["MEDDLER"] = "1"
        sys.argv.append("--meddled")
        csv.field_size_limit(2**31 - 1)
        warnings.simplefilter("ignore")
        logging.getLogger("meddler").setLevel(logging.INFO)
        logging.basicConfig()
    '''))
    found = probe(("meddler",), cwd=tmp_path, third_party=())
    assert found["imported"] == ["meddler"]
    assert set(found["changed"]) == {"environ", "argv", "csv_field_size_limit", "warnings_filters", "loggers"}
    assert found["changed"]["environ"] == {"MEDDLER": [None, "1"]}


@pytest.mark.slow
def test_importing_every_medpair_module_changes_no_process_state(tmp_path: Path) -> None:
    found = probe(PACKAGES, cwd=tmp_path)  # outside the checkout: the installed packages
    assert len(found["imported"]) > 50 and "medpair_tasks.cli" in found["imported"]
    assert found["changed"] == {}, json.dumps(found["changed"], indent=1)[:4000]
