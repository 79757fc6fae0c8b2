"""Shared test fixtures: a simulated stack per test, a config file for it, and a way to run the
real `reconcile` command in-process."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class CommandResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_reconcile(*args: str) -> CommandResult:
    """Run `reconcile ARGS` through its entry point, capturing its output."""
    from reconciler.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return CommandResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def stack() -> Iterator[Any]:
    from simstack import SimulatedStack

    with SimulatedStack() as s:
        yield s


@pytest.fixture
def config_path(stack: Any, tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(stack.config_toml(str(tmp_path / "reconciler.db")))
    path.chmod(0o600)
    return path
