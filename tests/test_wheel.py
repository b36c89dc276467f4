"""A wheel install (not editable) ships the task YAMLs and lists the tasks from site-packages."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from medpair_testlib import REPO, run_medpair


def _run(*command: str, cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_wheel_installs_tasks_into_site_packages(tmp_path, data_dir):
    dist, source = tmp_path / "dist", tmp_path / "source"
    # a clean copy: an in-tree build/ folder would let stale files into the wheel
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", "build", "*.egg-info", ".git", "__pycache__",
                                                               ".pytest_cache", "demo_out", "tests"))
    _run(sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(dist), "-q")
    (wheel,) = dist.glob("medpair-*.whl")
    env = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(env))
    python = env / "bin" / "python"
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    # the dependencies come from this environment; medpair itself only from the wheel
    (site / "_medpair_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel))
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
