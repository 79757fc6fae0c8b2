"""Retention: old poll records and sent notifications are pruned in batches, never the rows a
watermark, `/healthz` or the de-duplication of messages still reads; the file reuses and gives
back freed pages (incremental auto-vacuum, migrated once for an older database)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.store import SCHEMA_VERSION, Store
from reconciler.store import retention as store_retention
from reconciler.store import schema as store_module
from reconciler.times import iso

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = 86400.0


def poll(store: Store, service: str, at: datetime, *, ok: bool = True, full: bool = False,
         watermark: datetime | None = None) -> None:
    store.record_poll(service, at, at + timedelta(seconds=1), ok, None if ok else "down", 1, 10,
                      watermark=watermark, full=full)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "r.db")


def test_a_new_database_uses_incremental_auto_vacuum(store: Store) -> None:
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3


def test_an_existing_database_is_migrated_to_incremental_auto_vacuum(tmp_path: Path) -> None:
    """A version-2 file made without auto-vacuum: migration 3 rewrites it once, keeping rows."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    legacy = Store(conn)
    for step in store_module.MIGRATIONS[:2]:
        step(legacy.db)
    conn.execute("PRAGMA user_version = 2")
    poll(legacy, "radarr", NOW)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    conn.close()
    store = Store.open(path)
    assert store.conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.counts()["polls"] == 1
    indexes = {r[1] for r in store.conn.execute("PRAGMA index_list(polls)")}
    assert any("started" in name for name in indexes)


def test_old_polls_are_pruned_but_what_watermarks_and_healthz_read_is_kept(store: Store) -> None:
    old = NOW - timedelta(days=30)
    # radarr: an old ok full poll with a watermark, then old failures, then nothing recent.
    poll(store, "radarr", old, full=True, watermark=old - timedelta(minutes=1))
    for i in range(5):
        poll(store, "radarr", old + timedelta(hours=1 + i), ok=False)
    # sonarr: many old ok polls, and a recent one.
    for i in range(1200):
        poll(store, "sonarr", old + timedelta(minutes=i))
    poll(store, "sonarr", NOW - timedelta(hours=1))
    before = {name: (store.last_poll(name), store.last_poll(name, ok=True),
                     store.last_poll(name, ok=True, full=True), store.last_watermark(name))
              for name in ("radarr", "sonarr")}

    counts = store.retention.prune(NOW, 14 * DAY, 90 * DAY)

    # radarr keeps its latest failure and its ok, full poll with a watermark; sonarr only its
    # recent poll (its latest and latest ok; none of its polls was full or had a watermark).
    assert counts.polls == 4 + 1200
    assert store.counts()["polls"] == 2 + 1
    after = {name: (store.last_poll(name), store.last_poll(name, ok=True),
                    store.last_poll(name, ok=True, full=True), store.last_watermark(name))
             for name in ("radarr", "sonarr")}
    assert after == before
    assert store.retention.oldest_poll() == iso(old)


def test_pruning_is_bounded_per_call_and_a_backlog_is_worked_off(store: Store) -> None:
    total = store_retention.PRUNE_BATCH * store_retention.PRUNE_BATCHES + 700
    old = NOW - timedelta(days=20)
    store.conn.execute("BEGIN")
    for i in range(total):
        poll(store, "jellyfin", old + timedelta(seconds=i))
    store.conn.execute("COMMIT")
    poll(store, "jellyfin", NOW)
    first = store.retention.prune(NOW, 14 * DAY, 90 * DAY)
    assert first.polls == store_retention.PRUNE_BATCH * store_retention.PRUNE_BATCHES
    second = store.retention.prune(NOW, 14 * DAY, 90 * DAY)
    assert second.polls == 700
    assert store.counts()["polls"] == 1


def test_recent_polls_are_not_pruned(store: Store) -> None:
    for i in range(10):
        poll(store, "jellyseerr", NOW - timedelta(days=13, minutes=i))
    assert store.retention.prune(NOW, 14 * DAY, 90 * DAY).polls == 0
    assert store.counts()["polls"] == 10


def test_old_sent_notifications_are_pruned_keeping_the_newest_per_event_and_target(
        store: Store) -> None:
    old = NOW - timedelta(days=120)
    for key, at in (("episodes:3@aaa", old), ("episodes:5@aaa", old + timedelta(days=1)),
                    ("episodes:3@bbb", old), ("once@aaa", old)):
        store.notification_pending(7, "partially_available" if "episodes" in key
                                   else "available", key, "msg", at)
        store.notification_result(7, "partially_available" if "episodes" in key
                                  else "available", key, at, None)
    store.notification_pending(8, "stuck", "since:x@aaa", "msg", old)  # never sent: kept
    counts = store.retention.prune(NOW, 14 * DAY, 90 * DAY)
    assert counts.notifications == 1
    kept = {tuple(r) for r in store.conn.execute(
        "SELECT request_id, key FROM notifications WHERE sent_at IS NOT NULL")}
    assert kept == {(7, "episodes:5@aaa"), (7, "episodes:3@bbb"), (7, "once@aaa")}
    assert len(store.unsent_notifications()) == 1


def test_pruned_pages_are_given_back_to_the_file_system(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    old = NOW - timedelta(days=20)
    store.conn.execute("BEGIN")
    for i in range(9000):
        store.record_poll("radarr", old + timedelta(seconds=i), old, True, "x" * 200, 1, 1)
    store.conn.execute("COMMIT")
    grown = file_bytes(store)
    counts = store.retention.prune(NOW, 14 * DAY, 90 * DAY)
    assert counts.polls == 9000 - 1
    assert counts.pages_freed > 0
    assert file_bytes(store) < grown


def test_the_retention_settings_read_durations(tmp_path: Path) -> None:
    base = ('[jellyseerr]\nurl = "http://127.0.0.1:1"\napi_key = "k"\n'
            '[jellyfin]\nurl = "http://127.0.0.1:2"\napi_key = "k"\n'
            '[radarr]\nurl = "http://127.0.0.1:3"\napi_key = "k"\n')
    path = tmp_path / "config.toml"
    path.write_text(base)
    path.chmod(0o600)
    defaults = load_config(path).model.reconciler
    assert (defaults.retain_polls, defaults.retain_notifications) == (14 * DAY, 90 * DAY)
    path.write_text('[reconciler]\nretain_polls = "36h"\nretain_notifications = "7d"\n' + base)
    custom = load_config(path).model.reconciler
    assert (custom.retain_polls, custom.retain_notifications) == (36 * 3600.0, 7 * DAY)


def file_bytes(store: Store) -> int:
    """The database's pages in use and free (the main file, without its WAL)."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    return int(pages) * int(store.conn.execute("PRAGMA page_size").fetchone()[0])
