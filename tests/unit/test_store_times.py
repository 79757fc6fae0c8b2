"""The store's typed values: `datetime`s in and out of every row and the media type as an
enum, the stored text as it always was (ISO 8601, UTC, whole seconds, `Z`; "tv"), and text
written by older versions (the services' own `createdAt`, `airDateUtc` and watermark, with
milliseconds) read back as the same instant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.models import MediaType
from reconciler.states import RequestState
from reconciler.store import EpisodeRow, Store
from reconciler.views import show_json
from tests.web.support import row

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "r.db")
    yield s
    s.close()


def column(store: Store, sql: str) -> list[object]:
    return [r[0] for r in store.conn.execute(sql)]


def test_a_requests_times_round_trip_as_datetimes_stored_as_before(store: Store) -> None:
    show = replace(row(5, RequestState.PARTIALLY_AVAILABLE, "Slow Horses", tv=True),
                   created_at=T, updated_at=T + timedelta(minutes=5))
    episode = EpisodeRow(1, 1, 501, T - timedelta(days=7), "available", "jellyfin", "e1")
    with store.transaction():
        store.save_request(show, None)
        store.add_timeline(5, T, None, "requested", "jellyseerr", "requested")
        store.save_episodes(5, [episode])
        store.record_poll("sonarr", T, T + timedelta(seconds=2), True, None, 1, 10,
                          watermark=T + timedelta(seconds=1))
    back = store.request(5)
    assert back == show and back.media_type is MediaType.TV  # the enum, stored as "tv"
    assert [t.at for t in store.timeline(5)] == [T]
    assert store.episodes(5) == [episode]
    poll = store.last_poll("sonarr")
    assert poll is not None
    assert (poll.started, poll.finished, poll.watermark) == (
        T, T + timedelta(seconds=2), T + timedelta(seconds=1))
    assert store.last_watermark("sonarr") == T + timedelta(seconds=1)
    assert column(store, "SELECT created_at || ' ' || updated_at FROM requests") == [
        "2026-11-01T12:00:00Z 2026-11-01T12:05:00Z"]
    assert column(store, "SELECT media_type FROM requests") == ["tv"]
    assert column(store, "SELECT at FROM timeline") == ["2026-11-01T12:00:00Z"]
    assert column(store, "SELECT air_date FROM episodes") == ["2026-10-25T12:00:00Z"]
    assert column(store, "SELECT started || ' ' || finished || ' ' || watermark FROM polls") \
        == ["2026-11-01T12:00:00Z 2026-11-01T12:00:02Z 2026-11-01T12:00:01Z"]
    data = show_json(store, show)
    assert data["timeline"][0]["at"] == "2026-11-01T12:00:00Z"
    assert data["episodes"][0]["air_date"] == "2026-10-25T12:00:00Z"


def test_the_services_own_text_stored_by_older_versions_reads_as_the_same_instant(
        store: Store) -> None:
    with store.transaction():
        store.save_request(row(5, RequestState.AVAILABLE, "Slow Horses", tv=True), None)
    store.conn.execute("UPDATE requests SET created_at = '2026-11-01T12:00:00.250Z', "
                       "updated_at = ''")
    store.conn.execute("INSERT INTO episodes (request_id, season, episode, air_date, state) "
                       "VALUES (5, 1, 1, '2026-10-25T12:00:00Z', 'available')")
    store.conn.execute("INSERT INTO polls (service, started, finished, ok, watermark, full) "
                       "VALUES ('jellyseerr', '2026-11-01T12:00:00Z', '2026-11-01T12:00:01Z', "
                       "1, '2026-11-01T10:02:00.000Z', 1)")
    back = store.request(5)
    assert back is not None
    assert back.created_at == T + timedelta(milliseconds=250) and back.updated_at is None
    assert store.episodes(5)[0].air_date == T - timedelta(days=7)
    assert store.last_watermark("jellyseerr") == datetime(2026, 11, 1, 10, 2, tzinfo=UTC)
    assert store.pages.next_air_dates(T - timedelta(days=8)) == {5: T - timedelta(days=7)}
