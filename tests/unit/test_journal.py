"""The store's journal (what changed, for readers that follow it) and `cycle.moving` (which
requests a cycle decides), in isolation. The end-to-end proof that deciding what moves equals
deciding everything is `tests/e2e/test_decide_what_moves.py`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.cycle.moving import Moving
from reconciler.store import Store
from reconciler.store.journal import INDEX, Journal

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_reader_is_told_what_changed_since_its_cursor_and_no_more() -> None:
    journal = Journal()
    journal.note("radarr", "movie:1")
    cursor = journal.cursor()
    journal.note("radarr", "queue:7")
    journal.note("jellyseerr", "request:3")
    assert journal.since(cursor) == {("radarr", "queue:7"), ("jellyseerr", "request:3")}
    assert journal.since_in(cursor, "jellyseerr", "request:") == {"request:3"}
    assert journal.since(journal.cursor()) == set()


def test_after_a_reset_or_an_overflow_readers_start_over() -> None:
    journal = Journal(capacity=3)
    cursor = journal.cursor()
    journal.reset()
    assert journal.since(cursor) is None
    cursor = journal.cursor()
    for i in range(4):
        journal.note("sonarr", f"episodes:{i}")
    assert journal.since(cursor) is None
    assert not journal.listening()  # nobody can ask about what follows: it is not kept
    journal.note("sonarr", "episodes:9")
    fresh = journal.cursor()
    journal.note("sonarr", "episodes:10")
    assert journal.since(fresh) == {("sonarr", "episodes:10")}


def test_a_rolled_back_poll_makes_readers_start_over(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.db")
    with store.transaction():
        cursor = store.journal.cursor()
        try:
            with store.savepoint("poll_radarr"):
                store.put_observation("radarr", "movie:1", {"id": 1}, T0, 2)
                raise RuntimeError("the service failed mid-poll")
        except RuntimeError:
            pass
    assert store.journal.since(cursor) is None
    with store.transaction():
        assert store.observation("radarr", "movie:1") is None  # not served from memory
        cursor = store.journal.cursor()
        store.put_observation("radarr", "movie:1", {"id": 1}, T0, 2)
        store.put_observation("radarr", "movie:1", {"id": 1}, T0, 2)  # unchanged: no note
    assert store.journal.since(cursor) == {("radarr", "movie:1")}
    store.close()


def test_another_writer_makes_the_store_forget_what_it_kept(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    ours, theirs = Store.open(path), Store.open(path)
    with ours.transaction():
        ours.put_observation("radarr", "movie:1", {"id": 1}, T0, 2)
    with theirs.transaction():
        theirs.put_observation("radarr", "movie:1", {"id": 2}, T0, 2)
    with ours.transaction():
        seen = ours.observation("radarr", "movie:1")
    assert seen is not None and seen.data == {"id": 2}
    ours.close()
    theirs.close()


def test_a_request_is_due_when_what_it_read_changes_or_its_time_comes() -> None:
    journal, moving = Journal(), Moving()
    assert moving.due(journal, T0, "ctx", active=(), full=False) is None  # first: everything
    moving.decided(1, [("radarr", "movie:603"), (INDEX, "pid:tmdb=603")], None)
    moving.decided(2, [("radarr", "movie:604")], T0 + timedelta(hours=2))
    moving.decided(3, [("sonarr", "episodes:9")], None)
    assert moving.due(journal, T0, "ctx", active=(), full=False) == set()
    journal.note(INDEX, "pid:tmdb=603")
    journal.note("jellyseerr", "request:4")  # new: decided although it read nothing yet
    assert moving.due(journal, T0, "ctx", active=[3], full=False) == {1, 3, 4}
    assert moving.due(journal, T0 + timedelta(hours=2), "ctx", active=(), full=False) == {2}
    assert moving.due(journal, T0 + timedelta(hours=3), "ctx", active=(), full=False) == set()
    assert moving.due(journal, T0, "another context", active=(), full=False) is None
    assert moving.due(journal, T0, "another context", active=(), full=True) is None
    moving.dropped(1)
    journal.note(INDEX, "pid:tmdb=603")
    assert moving.due(journal, T0, "another context", active=(), full=False) == set()
