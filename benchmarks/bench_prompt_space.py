"""The prompt space as files or as data: index time of the two designs, side by side in one run.

    python benchmarks/bench_prompt_space.py [--runs 5] [--dataset pubmedqa]

Times are CPU seconds of the benchmark's process (medians), so other jobs on a shared machine
barely move them.

(a) **committed files** (today): ``task_yaml/_generate.py`` writes one small YAML per prompt
    candidate (two ``include:`` lines, the name, the shots, the metadata) and they are committed.
    Indexing is what a task manager pays: medpair's index of all its files (one parse per distinct
    ``include:`` line, the name from the file name; what the start-up bridge and ``medpair eval``
    do), and lm-eval's own index of the folder (every file parsed, includes merged; what
    ``lm_eval --include_path`` does).
(b) **generated at index time**: no candidate files; the candidate configs are made from the
    format grammar and the dataset tables when a task manager is built, and handed to lm-eval as
    in-memory configs (lm-eval's index entries can carry a ``cfg`` instead of a ``yaml_path``).
    The prototype builds, for one dataset, every candidate's full config as lm-eval would load it
    (the scoring template and the format merged once per pair and cached, then name, shots and
    metadata per candidate), checks a sample against the committed file read by lm-eval's loader,
    and scales the per-candidate time to the whole prompt space by the number of candidates (the
    shared templates and formats are read once for all datasets).

Also printed: what (a) keeps in the repository (files, bytes) and what the generator costs.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import statistics
import time
from collections.abc import Callable
from typing import Any

def _median_seconds(work: Callable[[], Any], runs: int) -> float:
    """Median CPU seconds of this process over ``runs`` calls (insensitive to other jobs on a shared machine)."""
    times = []
    for _ in range(runs):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def committed_index() -> int:
    """(a) medpair's index of every committed task file, from a cold file table."""
    from medpair_tasks import lm_eval_internals as door
    from medpair_tasks.registry import _task_files

    _task_files.cache_clear()
    return len(door._entries(None))


def lm_eval_full_index() -> int:
    """(a) lm-eval's own index of medpair's task folder (every file parsed)."""
    from medpair_tasks import lm_eval_internals as door
    from medpair_tasks.registry import task_path

    return len(door.lm_eval_index([task_path()]))


def shared_pieces() -> dict[tuple[str, str], dict[str, Any]]:
    """(b) the scoring template merged with each format, read once for every dataset: (mode, format) → config."""
    from medpair_tasks import lm_eval_internals as door
    from medpair_tasks.formats import format_ids
    from medpair_tasks.registry import task_path
    from medpair_tasks.taskspec import MODES

    templates = task_path() / "_templates"
    shared = {}
    for mode in MODES:
        scoring = door.read_task_yaml(templates / f"_{mode}_template_yaml", resolve_functions=True)
        for format_id in format_ids():
            shared[(mode, format_id)] = {**scoring, **door.read_task_yaml(templates / "formats" / f"{format_id}_yaml")}
    return shared


def generated_configs(dataset: str, shared: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """(b) every prompt candidate of ``dataset`` as the full config lm-eval loads, made from the tables."""
    from medpair_tasks.formats import format_ids
    from medpair_tasks.family.roles import FEWSHOT_DRAW
    from medpair_tasks.family.taskfiles import candidate_metadata
    from medpair_tasks.taskspec import MODES, N_FEWSHOT_SEEDS, Candidate

    configs: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        for format_id in format_ids():
            for seed in [None, *range(N_FEWSHOT_SEEDS)]:
                candidate = Candidate(dataset, mode, format_id, 0 if seed is None else FEWSHOT_DRAW, seed)
                config = copy.copy(shared[(mode, format_id)])
                config.update(task=candidate.task_name, num_fewshot=candidate.shots,
                              metadata=candidate_metadata(candidate, "val"))
                configs[candidate.task_name] = config
    return configs


def check_prototype(dataset: str, configs: dict[str, dict[str, Any]]) -> None:
    """The prototype's configs equal the committed files as lm-eval's loader reads them (a sample)."""
    from medpair_tasks import lm_eval_internals as door
    from medpair_tasks.registry import task_files

    files = task_files()
    for name in sorted(configs)[:: max(len(configs) // 12, 1)]:
        committed = door.read_task_yaml(files[name], resolve_functions=True)
        assert configs[name] == committed, f"{dataset}: the prototype's {name} differs from its committed file"


def candidate_count(dataset: str | None = None) -> int:
    """Committed candidate files (of one dataset, or all)."""
    from medpair_tasks.registry import is_candidate_file, task_files

    return sum(1 for name, path in task_files().items()
               if is_candidate_file(path) and (dataset is None or path.parent.parent.name == dataset))


def generator_seconds(runs: int) -> float:
    """The whole generator (text of every file), which (a) runs when the grammar or a table changes."""
    generator = importlib.import_module("medpair_task_yaml._generate")
    return _median_seconds(generator.generate, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dataset", default="pubmedqa")
    args = parser.parse_args()
    from medpair_tasks.registry import task_path

    committed = _median_seconds(committed_index, args.runs)
    full = _median_seconds(lm_eval_full_index, 1)
    start = time.process_time()
    shared = shared_pieces()  # cold: the first read also imports the hooks the templates name
    pieces = time.process_time() - start
    configs = generated_configs(args.dataset, shared)
    check_prototype(args.dataset, configs)
    one = _median_seconds(lambda: generated_configs(args.dataset, shared), args.runs)
    scale = candidate_count() / len(configs)
    generated = pieces + one * scale
    yaml_files = sorted(task_path().rglob("*.yaml"))
    size = sum(path.stat().st_size for path in yaml_files)
    print(f"prompt candidates: {candidate_count()} ({len(configs)} of {args.dataset}); task YAML files: "
          f"{len(yaml_files)}, {size / 1e6:.1f} MB")
    print(f"(a) committed files, medpair's index of all of them:         {committed * 1e3:8.1f} ms")
    print(f"(a) committed files, lm-eval's own index of the folder:      {full * 1e3:8.1f} ms")
    print(f"(b) generated at index time, the shared templates and formats (cold): {pieces * 1e3:8.1f} ms")
    print(f"(b) generated at index time, {args.dataset} ({len(configs)} configs):       {one * 1e3:8.1f} ms")
    print(f"(b) generated at index time, both, scaled x{scale:.1f} to all candidates: {generated * 1e3:8.1f} ms")
    print(f"ratio (b) / (a, medpair's index): {generated / committed:.2f}")
    print(f"the generator, all {len(yaml_files)} files as text (run when the grammar or a table changes): "
          f"{generator_seconds(max(args.runs // 2, 1)) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
