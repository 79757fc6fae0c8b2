"""`Store.savepoint`: a poll's writes inside the cycle's transaction, undone alone on failure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.store import Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_failing_savepoint_undoes_only_its_own_writes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    try:
        with store.transaction():
            store.put_observation("radarr", "tags", {"1": "anime"}, NOW)
            with pytest.raises(RuntimeError), store.savepoint("poll_sonarr"):
                store.put_observation("sonarr", "episodes:4", [], NOW)
                raise RuntimeError("the poll crashed")
            with store.savepoint("poll_jellyfin"):
                store.set_meta("jellyfin:verified_at", "2026-11-01T12:00:00Z")
        assert store.observation("radarr", "tags") == {"1": "anime"}
        assert store.observation("sonarr", "episodes:4") is None
        assert store.meta("jellyfin:verified_at") == "2026-11-01T12:00:00Z"
    finally:
        store.close()


def test_a_savepoint_name_must_be_an_identifier(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    try:
        with pytest.raises(ValueError), store.transaction(), store.savepoint("poll; DROP"):
            pass
    finally:
        store.close()
