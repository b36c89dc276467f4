"""The house rules that a reader checks by eye, checked by ``ast``: short functions, readable names.

In the library (``medpair_tasks/``, ``stats/``, ``task_yaml/*.py``) and the benchmarks:

- no function or method has a body of more than :data:`MAX_BODY_LINES` lines, its docstring
  excluded;
- no name that the code binds (variable, parameter, function, class, import alias) has two
  letters, except the conventional import aliases and domain terms in :data:`ALLOWED_NAMES`.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_BODY_LINES = 60

ALLOWED_LONG: frozenset[tuple[str, str]] = frozenset()
"""(path, function) pairs still over the limit; each entry must still be over it."""


ALLOWED_NAMES: frozenset[str] = frozenset({
    "np", "pd", "pa", "pq", "ET",  # numpy, pandas, pyarrow, pyarrow.parquet, ElementTree: the conventional aliases
    "ci", "se", "lr", "id", "f1",  # public options and fields: --ci, a record's se, a grid point's lr, job ids, F1
    "df", "lm",  # lm-eval's own parameter names, kept in the methods and calls that mirror them
})

PENDING_NAMES: frozenset[tuple[str, str]] = frozenset()
"""(path, name) pairs still to rename; each entry must still occur."""


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
    assert long_functions(nested) == [("C.m", MAX_BODY_LINES + 6), ("C.m.f", MAX_BODY_LINES + 5)]  # def line + body


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


def bound_names(source: str) -> dict[str, list[int]]:
    """Every name ``source`` binds (assignment and loop targets, parameters, defs, import aliases) -> lines."""
    found: dict[str, list[int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names = [node.id]
        elif isinstance(node, ast.arg):
            names = [node.arg]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.alias):
            names = [node.asname or node.name.split(".")[0]] if node.asname else []
        else:
            names = []
        for name in names:
            found.setdefault(name, []).append(node.lineno)
    return found


def two_letter_names(source: str) -> dict[str, list[int]]:
    """The bound names of ``source`` with two letters (leading and trailing underscores aside)."""
    return {name: lines for name, lines in bound_names(source).items() if len(name.strip("_")) == 2}


def test_two_letter_names_are_found_wherever_they_are_bound() -> None:
    source = textwrap.dedent('''
        import numpy as nq
        from os import path as pt
        def ab(cd, *ef, gh=1, **ij):
            for kl, mn in []:
                op = [qr for qr in ()]
            with open("x") as st:
                pass
            uv.wx = 1
            long_name = yz
    ''')
    assert sorted(two_letter_names(source)) == ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "nq", "op", "pt", "qr", "st"]


def test_no_two_letter_names() -> None:
    offenders, pending_seen = [], set()
    for path in checked_files():
        rel = path.relative_to(ROOT).as_posix()
        for name, lines in two_letter_names(path.read_text(encoding="utf-8")).items():
            if name in ALLOWED_NAMES:
                continue
            if (rel, name) in PENDING_NAMES:
                pending_seen.add((rel, name))
            else:
                offenders.append(f"{rel}: {name} (line {', '.join(map(str, sorted(set(lines))))})")
    assert not offenders, "two-letter names: " + "; ".join(offenders)
    stale = sorted(PENDING_NAMES - pending_seen)
    assert not stale, f"renamed (or moved) since: drop them from PENDING_NAMES: {stale}"
