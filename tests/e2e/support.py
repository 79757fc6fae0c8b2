"""What the end-to-end tests share: running `reconcile` against a config in a test folder and
reading back what it recorded."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import run_reconcile

# The Jellyseerr versions one representative journey of each kind runs on (issue 14): the ones
# that reject unknown query parameters, one that answers 500 while an *arr is down, the frozen
# `updatedAt` ones, and the default that bumps it. Used as `World(jellyseerr_version=...)`.
SEERR_VERSIONS = ["1.33.2", "2.1.0", "2.7.3", "3.1.0", None]
SEERR_IDS = ["overseerr-1.33", "jellyseerr-2.1", "jellyseerr-2.7", "seerr-3.1", "bumping"]


def once(tmp_path: Path) -> int:
    """`reconcile --once` with the test folder's config.toml; its exit code."""
    return run_reconcile("--config", str(tmp_path / "config.toml"), "--once").code


def show(tmp_path: Path, request_id: int) -> dict[str, Any]:
    """`reconcile show ID --json`, parsed."""
    result = run_reconcile("--config", str(tmp_path / "config.toml"), "show", str(request_id),
                           "--json")
    assert result.code == 0, result.stderr
    data: dict[str, Any] = result.json()
    return data


def row_counts(db: Path) -> dict[str, int]:
    """Rows per table, to prove a cycle wrote nothing but its poll records."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT count(*) FROM [{t}]").fetchone()[0] for t in tables}
    finally:
        conn.close()


def rows_changed_by(db: Path, cycle: Callable[[], int]) -> dict[str, int]:
    """Run one cycle (it must exit 0) and return each table whose row count it changed."""
    before = row_counts(db)
    assert cycle() == 0
    after = row_counts(db)
    return {t: after[t] - before.get(t, 0) for t in after if after[t] != before.get(t, 0)}
