"""A wheel install (not editable) ships the task YAMLs and lists the tasks from site-packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from medpair_testlib import REPO, run_medpair

pytestmark = pytest.mark.slow  # end to end; `pytest -m "not slow"` leaves it out


def _run(*command: str, cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once from a clean copy of the repository for both tests."""
    root = tmp_path_factory.mktemp("wheel")
    dist, source = root / "dist", root / "source"
    # a clean copy: an in-tree build/ folder would let stale files into the wheel
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", "build", "*.egg-info", ".git", "__pycache__",
                                                               ".pytest_cache", "demo_out", "tests"))
    _run(sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(dist), "-q")
    (built,) = dist.glob("medpair-*.whl")
    return built


def _pip(python: Path, *args: str) -> None:
    """This environment's pip acting on the venv of ``python`` (which has no pip of its own: ``venv --without-pip``)."""
    _run(sys.executable, "-m", "pip", "--python", str(python), *args)


def _wheel_venv(wheel: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Install the wheel alone into a fresh venv: (its python, its site-packages)."""
    env = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(env))  # installing pip into it would take ~5 s of CPU
    python = env / "bin" / "python"
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # the dependencies come from this environment; medpair itself only from the wheel
    (site / "_medpair_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _pip(python, "install", "--no-deps", "-q", str(wheel))
    return python, site


def test_wheel_installs_tasks_into_site_packages(wheel, tmp_path, data_dir):
    python, site = _wheel_venv(wheel, tmp_path)
    env = python.parent.parent
    medpair = str(env / "bin" / "medpair")
    path = Path(run_medpair(["task-path"], data_dir, cwd=tmp_path, medpair=medpair).stdout.strip())
    assert path == site / "medpair_task_yaml"
    assert len(list(path.rglob("*.yaml"))) == 6189
    assert len(list(path.rglob("*_yaml"))) == 27
    listing = run_medpair(["tasks", "medpair_pubmedqa*"], data_dir, cwd=tmp_path, medpair=medpair).stdout
    rows = [line.split()[0] for line in listing.splitlines() if line.startswith("medpair_")]
    assert len(rows) == 2 + 2 * 121
    assert (site / "medpair_tasks" / "data" / "pubmedqa_test_pmids.txt").is_file()
    # every module of the source tree imports from the wheel (a subpackage missing from setup.cfg fails here)
    modules = sorted(
        ".".join(("medpair_stats" if p.parts[0] == "stats" else p.parts[0], *p.with_suffix("").parts[1:])).removesuffix(".__init__")
        for top in ("medpair_tasks", "stats") for p in (q.relative_to(REPO) for q in (REPO / top).rglob("*.py"))
    )
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    assert importlib.import_module(m).__file__.startswith(sys.prefix), m"
    _run(str(python), "-c", code, *modules, cwd=tmp_path)


def test_plain_lm_eval_finds_the_tasks_of_an_installed_wheel(wheel, tmp_path, data_dir, tiny_models, monkeypatch):
    """A fresh venv with only the wheel (dependencies from this environment): plain lm_eval, no --include_path."""
    base, _ = tiny_models
    python_path, site = _wheel_venv(wheel, tmp_path)
    python = str(python_path)
    assert (site / "medpair-lm-eval.pth").is_file()
    monkeypatch.setenv("MEDPAIR_DATA_DIR", str(data_dir))
    out = tmp_path / "out"
    _run(python, "-m", "lm_eval", "--tasks", "medpair_pubmedq?", "--model", "hf", "--model_args",
         f"pretrained={base},dtype=float32", "--device", "cpu", "--limit", "5", "--output_path", str(out), cwd=tmp_path)
    (results,) = out.rglob("results_*.json")
    assert "medpair_pubmedqa" in results.read_text()
    # lm-eval's default task manager (what `lm_eval ls tasks` lists) and its Python API, in one process:
    # each default index reads lm-eval's ~14,700 task files, so the API run reuses the listed manager
    code = ("import sys, lm_eval\nfrom lm_eval.tasks import TaskManager\n"
            "assert len(TaskManager(include_defaults=False).match_tasks(['medpair_*'])) == 6189\n"
            "manager = TaskManager()\n"
            "assert {'medpair_pubmedqa', 'medpair_knowledge', 'arc_easy'} <= set(manager.all_tasks), 'listing'\n"
            "r = lm_eval.simple_evaluate(model='hf', model_args={'pretrained': sys.argv[1], 'dtype': 'float32'},"
            " tasks=['medpair_pubmedqa'], limit=5, device='cpu', task_manager=manager)\n"
            "print(sorted(r['results']))\n")
    assert "['medpair_pubmedqa']" in _run(python, "-c", code, str(base), cwd=tmp_path)
    _pip(python_path, "uninstall", "-y", "-q", "medpair")
    assert not (site / "medpair-lm-eval.pth").exists()
    assert _run(python, "-c", "import sys; print([type(f).__name__ for f in sys.meta_path])").count("LmEvalFinder") == 0
