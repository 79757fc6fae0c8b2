"""The core package stays pure and keeps its face: its modules import no I/O and read no
clock, each says what it is for, and every public name is importable from the package."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

import pytest

from reconciler import core

MODULES = sorted(Path(core.__file__).parent.glob("*.py"))
# What a core module may import: the decision needs no more (no HTTP, no SQLite, no clock).
# `reconciler.times` parses timestamps; its clock (`utcnow`) is not for the core.
ALLOWED = {"__future__", "collections.abc", "dataclasses", "datetime", "urllib.parse",
           "reconciler.models", "reconciler.states", "reconciler.times"}


def test_the_package_is_split_into_modules() -> None:
    names = {m.name for m in pkgutil.iter_modules(core.__path__)}
    assert {"decide", "downloads", "matching", "routing", "scans", "stuck"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_core_module_imports_nothing_that_does_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append(node.module or "")
            assert "utcnow" not in {alias.name for alias in node.names}, "the clock is passed in"
    assert imported
    for name in imported:
        assert name in ALLOWED or name.startswith("reconciler.core."), name


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_core_module_reads_no_clock_and_says_what_it_is_for(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source)
    assert ast.get_docstring(tree), path.name
    calls = {node.func.attr for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}
    assert not calls & {"now", "utcnow", "today", "time", "monotonic"}, path.name
    assert len(source.splitlines()) <= 600, path.name


def test_every_public_name_is_importable_from_the_package() -> None:
    assert len(set(core.__all__)) == len(core.__all__)
    for name in core.__all__:
        assert getattr(core, name) is not None, name
