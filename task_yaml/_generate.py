"""Generate medpair's lm-eval task YAMLs (the way lm-eval ships its MMLU family).

    python task_yaml/_generate.py           # rewrite the YAMLs beside this script
    python task_yaml/_generate.py --check   # exit 1 if the committed files are not current

Each task family writes its own files: :func:`medpair_tasks.knowledge.taskfiles.knowledge_files`
(``<dataset>/``, ``_groups/``, ``_templates/``), :func:`medpair_tasks.vqa.taskfiles.vqa_files`
(``vqa/``) and :func:`medpair_tasks.clinical.taskfiles.clinical_files` (``clinical/``); their
docstrings say what each file is. Files shared through ``include:`` have no ``.yaml`` suffix so
that lm-eval's index skips them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medpair_tasks.clinical.taskfiles import clinical_files
from medpair_tasks.knowledge.taskfiles import knowledge_files
from medpair_tasks.vqa.taskfiles import vqa_files

FAMILY_FILES = (knowledge_files, vqa_files, clinical_files)


def generate() -> dict[str, str]:
    """Every generated file: relative path → content."""
    files: dict[str, str] = {}
    for family_files in FAMILY_FILES:
        files.update(family_files())
    return files


def generated_paths(root: Path) -> set[str]:
    """The files under ``root`` that the generator owns: every ``*.yaml`` and ``*_yaml``."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name.endswith(("yaml"))}


def stale_files(root: Path) -> list[str]:
    """Generated files that are missing, different or left over under ``root``."""
    expected = generate()
    present = generated_paths(root)
    stale = [p for p, text in expected.items() if p not in present or (root / p).read_text(encoding="utf-8") != text]
    return sorted(stale + sorted(present - set(expected)))


def write(root: Path) -> int:
    """Write every generated file under ``root`` and delete generated files no longer made."""
    expected = generate()
    for leftover in generated_paths(root) - set(expected):
        (root / leftover).unlink()
    for path, text in expected.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    return len(expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report files that are not current")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent
    if args.check:
        stale = stale_files(root)
        for path in stale:
            print(f"not current: {path}")
        return 1 if stale else 0
    print(f"wrote {write(root)} files under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
