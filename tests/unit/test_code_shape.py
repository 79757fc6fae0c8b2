"""The size limits the developers' guide sets for `reconciler/` stay kept: no module over 600
lines, no function over 80, no class over 400 (ruff's C901 keeps the complexity)."""

from __future__ import annotations

import ast
from pathlib import Path

import reconciler

PACKAGE = Path(reconciler.__file__).parent
MODULE_LINES, FUNCTION_LINES, CLASS_LINES = 600, 80, 400


def too_long(source: str, name: str) -> list[str]:
    """What in `source` (the module `name`) is over its limit, one line each."""
    found = []
    lines = len(source.splitlines())
    if lines > MODULE_LINES:
        found.append(f"{name}: {lines} lines (at most {MODULE_LINES})")
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            what, limit = "function", FUNCTION_LINES
        elif isinstance(node, ast.ClassDef):
            what, limit = "class", CLASS_LINES
        else:
            continue
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > limit:
            found.append(f"{name}:{node.lineno}: {what} {node.name} is {length} lines "
                         f"(at most {limit})")
    return found


def test_no_module_function_or_class_in_the_package_is_over_its_limit() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 30  # the walk found the package
    found = [line for path in modules
             for line in too_long(path.read_text(encoding="utf-8"),
                                  str(path.relative_to(PACKAGE.parent)))]
    assert found == []


def _body(lines: int) -> str:
    return "".join(f"    x{i} = {i}\n" for i in range(lines))


def test_the_check_names_a_long_function_a_long_class_and_a_long_module() -> None:
    assert too_long("def long():\n" + _body(FUNCTION_LINES), "f.py") == [
        f"f.py:1: function long is {FUNCTION_LINES + 1} lines (at most {FUNCTION_LINES})"]
    assert too_long("class Big:\n" + _body(CLASS_LINES), "c.py") == [
        f"c.py:1: class Big is {CLASS_LINES + 1} lines (at most {CLASS_LINES})"]
    assert too_long("x = 1\n" * (MODULE_LINES + 1), "m.py") == [
        f"m.py: {MODULE_LINES + 1} lines (at most {MODULE_LINES})"]


def test_the_check_lets_what_is_at_its_limit_pass() -> None:
    assert too_long("def f():\n" + _body(FUNCTION_LINES - 1), "f.py") == []
    assert too_long("class C:\n" + _body(CLASS_LINES - 1), "c.py") == []
    assert too_long("x = 1\n" * MODULE_LINES, "m.py") == []
