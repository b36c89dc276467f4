"""Start-up costs, measured side by side in one run.

    python benchmarks/bench_startup.py [--runs 20] [--repeats 1] [--skip-eval]

1. The ``.pth`` start-up hook: ``python -c pass`` in two bare virtual environments that differ
   only by medpair's ``medpair-lm-eval.pth`` (both reach a byte-compiled copy of the two modules
   it imports through one path entry, as after ``pip install``); runs alternate, the medians are
   compared. Target: < 5 ms.
2. ``medpair tasks`` next to lm-eval indexing medpair's task folder (what it did before). Target: < 1 s.
3. ``medpair eval`` next to plain ``lm_eval`` and to lm-eval's own work on the tiny model (import,
   model load and evaluation of ``medpair_pubmedqa --limit 5``, one task file indexed). Target:
   ``medpair eval`` adds < 3 s. Needs ``$MEDPAIR_DATA_DIR`` with the PubMedQA release files.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, **OFFLINE, **(env or {})})
    return time.perf_counter() - start


def _cpu_seconds(command: list[str]) -> float:
    """User + system CPU time of a command (insensitive to other jobs on a shared machine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, check=True, capture_output=True, env={**os.environ, **OFFLINE})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _hook_sources(folder: Path) -> Path:
    """A copy of the two modules the hook imports, byte-compiled as ``pip install`` compiles a wheel."""
    package = folder / "medpair_tasks"
    package.mkdir(parents=True)
    for name in ("__init__.py", "_startup.py"):
        shutil.copy(REPO / "medpair_tasks" / name, package / name)
    compileall.compile_dir(str(package), quiet=1)
    return folder


def _bare_venv(folder: Path, sources: Path, with_hook: bool) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_medpair_source.pth").write_text(f"{sources}\n")
    if with_hook:
        sys.path.insert(0, str(REPO))
        from setup import PTH_LINE, PTH_NAME  # the very line the wheel ships

        (site / PTH_NAME).write_text(PTH_LINE)
    return python


def hook_overhead(runs: int) -> None:
    """Median ``python -c pass`` with and without the hook, alternating."""
    with tempfile.TemporaryDirectory() as tmp:
        sources = _hook_sources(Path(tmp) / "src")
        without = _bare_venv(Path(tmp) / "without", sources, with_hook=False)
        with_hook = _bare_venv(Path(tmp) / "with", sources, with_hook=True)
        check = "import sys; assert any(type(f).__name__ == 'LmEvalFinder' for f in sys.meta_path)"
        subprocess.run([str(with_hook), "-c", check], check=True)
        times: dict[str, list[float]] = {"without": [], "with": []}
        for _ in range(runs):
            times["without"].append(_seconds([str(without), "-c", "pass"]))
            times["with"].append(_seconds([str(with_hook), "-c", "pass"]))
    median = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"python -c pass ({runs} runs each, median): without the hook {median['without']:.1f} ms, "
          f"with it {median['with']:.1f} ms, added {median['with'] - median['without']:+.1f} ms (target < 5 ms)")


def tasks_command(repeats: int) -> None:
    """``medpair tasks`` next to lm-eval indexing medpair's folder."""
    medpair = [_seconds([str(BIN / "medpair"), "tasks"]) for _ in range(repeats)]
    cpu = [_cpu_seconds([str(BIN / "medpair"), "tasks"]) for _ in range(repeats)]
    code = ("from lm_eval.tasks import TaskManager; from medpair_tasks.registry import task_path; "
            "TaskManager(include_path=str(task_path()), include_defaults=False)")
    index = [_seconds([sys.executable, "-c", code], {"MEDPAIR_LM_EVAL_PLUGIN": "0"}) for _ in range(repeats)]
    print(f"medpair tasks: {statistics.median(medpair):.2f} s wall, {statistics.median(cpu):.2f} s CPU (target < 1 s); "
          f"lm-eval indexing medpair's "
          f"{5457} task files: {statistics.median(index):.2f} s")


def eval_command(repeats: int) -> None:
    """``medpair eval`` next to plain ``lm_eval`` and lm-eval's own work, on the tiny model."""
    from medpair_tasks.tinymodels import build_pair

    if not os.environ.get("MEDPAIR_DATA_DIR"):
        raise SystemExit("set MEDPAIR_DATA_DIR to a folder with pubmedqa/ (the PubMedQA release files)")
    with tempfile.TemporaryDirectory() as tmp:
        base, _ = build_pair(Path(tmp) / "tiny")
        args = ["--model", "hf", "--model_args", f"pretrained={base},dtype=float32", "--device", "cpu",
                "--tasks", "medpair_pubmedqa", "--limit", "5"]
        own = ("import sys, lm_eval; from lm_eval.tasks import TaskManager; from medpair_tasks.registry import task_path\n"
               "m = TaskManager(include_path=str(task_path() / 'pubmedqa'), include_defaults=False)\n"
               "lm_eval.simple_evaluate(model='hf', model_args={'pretrained': sys.argv[1], 'dtype': 'float32'}, "
               "device='cpu', tasks=['medpair_pubmedqa'], limit=5, task_manager=m)\n")
        figures: dict[str, list[float]] = {"own": [], "medpair": [], "plain": []}
        for _ in range(repeats):
            figures["own"].append(_seconds([sys.executable, "-c", own, str(base)], {"MEDPAIR_LM_EVAL_PLUGIN": "0"}))
            figures["medpair"].append(_seconds([str(BIN / "medpair"), "eval", *args]))
            figures["plain"].append(_seconds([str(BIN / "lm_eval"), *args]))
    own_s, medpair_s, plain_s = (statistics.median(figures[k]) for k in ("own", "medpair", "plain"))
    print(f"tiny model, medpair_pubmedqa --limit 5 ({repeats} runs each, median wall time):")
    print(f"  lm-eval's own import + model load + evaluation: {own_s:.1f} s")
    print(f"  medpair eval: {medpair_s:.1f} s (adds {medpair_s - own_s:+.1f} s; target < 3 s)")
    print(f"  plain lm_eval (all ~14,700 built-in + medpair's task files indexed): {plain_s:.1f} s "
          f"(adds {plain_s - own_s:+.1f} s)")


def main() -> None:
    """Run the three measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="python -c pass runs per variant")
    parser.add_argument("--repeats", type=int, default=1, help="runs of the slower commands per variant")
    parser.add_argument("--skip-eval", action="store_true", help="skip the tiny-model evaluation (part 3)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    hook_overhead(args.runs)
    tasks_command(args.repeats)
    if not args.skip_eval:
        eval_command(args.repeats)


if __name__ == "__main__":
    main()
