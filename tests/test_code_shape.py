"""The house rules that a reader checks by eye, checked by ``ast``: short functions.

No function or method in the library (``medpair_tasks/``, ``stats/``, ``task_yaml/*.py``) or the
benchmarks has a body of more than :data:`MAX_BODY_LINES` lines, its docstring excluded.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_BODY_LINES = 60

ALLOWED_LONG: frozenset[tuple[str, str]] = frozenset({
    # rewritten on the `clinproto` branch; drop this entry when that version is merged
    ("medpair_tasks/clinical/sources.py", "_build"),
})
"""(path, function) pairs still over the limit; each entry must still be over it."""


def checked_files(root: Path = ROOT) -> list[Path]:
    """The Python files the rule covers."""
    files = [path for folder in ("medpair_tasks", "stats", "benchmarks") for path in (root / folder).rglob("*.py")]
    return sorted(files + list((root / "task_yaml").glob("*.py")))


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines from the first statement after the docstring to the end of the function (0 if none)."""
    body = node.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    if not body:
        return 0
    return body[-1].end_lineno - body[0].lineno + 1


def long_functions(source: str) -> list[tuple[str, int]]:
    """(qualified name, body lines) of every function in ``source`` whose body exceeds the limit."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef) and body_lines(child) > MAX_BODY_LINES:
                    found.append((name, body_lines(child)))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def _function(n_statements: int, docstring_lines: int = 0) -> str:
    doc = ['    """' + "\n" * max(0, docstring_lines - 1) + '    """'] if docstring_lines else []
    return "\n".join(["def f():", *doc, *(f"    x{i} = {i}" for i in range(n_statements))]) + "\n"


def test_measure_counts_body_lines_without_the_docstring() -> None:
    assert long_functions(_function(MAX_BODY_LINES, docstring_lines=30)) == []
    assert long_functions(_function(MAX_BODY_LINES + 1)) == [("f", MAX_BODY_LINES + 1)]
    nested = "class C:\n    async def m(self):\n" + textwrap.indent(_function(MAX_BODY_LINES + 5), " " * 8)
    assert long_functions(nested) == [("C.m", MAX_BODY_LINES + 7), ("C.m.f", MAX_BODY_LINES + 5)]


def test_no_function_over_the_limit() -> None:
    offenders, allowed_seen = [], set()
    for path in checked_files():
        rel = path.relative_to(ROOT).as_posix()
        for name, lines in long_functions(path.read_text(encoding="utf-8")):
            if (rel, name) in ALLOWED_LONG:
                allowed_seen.add((rel, name))
            else:
                offenders.append(f"{rel}: {name} ({lines} lines)")
    assert not offenders, f"functions over {MAX_BODY_LINES} lines (docstring excluded): " + "; ".join(offenders)
    stale = sorted(ALLOWED_LONG - allowed_seen)
    assert not stale, f"allowed long functions that are no longer long (or gone): drop them from ALLOWED_LONG: {stale}"
