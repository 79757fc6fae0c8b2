"""`Store.savepoint`: a poll's writes inside the cycle's transaction, undone alone on failure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.store import Store
from reconciler.store.database import Observed
from reconciler.store.meta import ITEMS_VERIFIED_AT

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_a_failing_savepoint_undoes_only_its_own_writes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    try:
        with store.transaction():
            store.put_observation("radarr", "tags", {"1": "anime"}, NOW, 2)
            with pytest.raises(RuntimeError), store.savepoint("poll_sonarr"):
                store.put_observation("sonarr", "episodes:4", [], NOW, 2)
                raise RuntimeError("the poll crashed")
            with store.savepoint("poll_jellyfin"):
                store.meta.set(ITEMS_VERIFIED_AT, NOW)
        assert store.observation("radarr", "tags") == Observed(2, {"1": "anime"})
        assert store.observation("sonarr", "episodes:4") is None
        assert store.meta.get(ITEMS_VERIFIED_AT) == NOW
    finally:
        store.close()


def test_a_savepoint_name_must_be_an_identifier(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    try:
        with pytest.raises(ValueError), store.transaction(), store.savepoint("poll; DROP"):
            pass
    finally:
        store.close()


def test_meta_facts_read_back_as_their_type_and_keep_their_stored_form(tmp_path: Path) -> None:
    """A flag is stored "1"/"0" and read as a bool, a time as ISO text and read as a datetime
    (the forms earlier releases wrote, so an upgraded database reads the same)."""
    from reconciler.store.meta import VIDEO_WIDTHS_READ, library_refreshed

    store = Store.open(tmp_path / "r.db")
    try:
        assert store.meta.get(VIDEO_WIDTHS_READ) is None
        with store.transaction():
            store.meta.set(VIDEO_WIDTHS_READ, False)
            store.meta.set(library_refreshed("lib1"), NOW)
        assert store.meta.get(VIDEO_WIDTHS_READ) is False
        assert store.meta.refreshed() == {"lib1": NOW}
        stored = dict(store.conn.execute("SELECT key, value FROM meta").fetchall())
        assert stored == {"jellyfin:video_widths": "0", "refresh:lib1": "2026-11-01T12:00:00Z"}
        written = store.rows_written
        with store.transaction():
            store.meta.set(VIDEO_WIDTHS_READ, False)  # unchanged: nothing written
        assert store.rows_written == written
    finally:
        store.close()
