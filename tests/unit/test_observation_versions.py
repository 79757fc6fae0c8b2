"""The stored observations' JSON form and its versions (`reconciler.cycle.codec`): times kept to
the microsecond, every observed dataclass read back equal, the rows an older version wrote
(schema 6, times as the services sent them) read correctly after the upgrade, and a row is
rewritten only when its text or its version changed."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlite_utils

from reconciler.cycle.codec import CODECS, OBSERVATION_VERSION, dump
from reconciler.cycle.observations import Observations, SeriesKey
from reconciler.models import (
    HistoryFacts,
    MediaType,
    QueueRecord,
    RadarrMovie,
    SeerrArrServer,
    SeerrRequest,
    ShokoFile,
    SonarrEpisode,
    SonarrSeries,
)
from reconciler.store import SCHEMA_VERSION, Store
from reconciler.store import schema as store_module
from reconciler.store.rows import dump_json

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
# Two events of the same second, apart by a few microseconds (.NET sends seven digits).
FIRST = datetime(2026, 11, 1, 10, 0, 0, 123456, tzinfo=UTC)
SECOND = FIRST + timedelta(microseconds=1)

OBSERVED = [
    SeerrRequest(id=7, media_type=MediaType.TV, status=2, tmdb_id=1399, tvdb_id=121361,
                 seasons=(1, 2), updated_at=SECOND, created_at=None, requested_by_id=3),
    HistoryFacts(grabbed_at=FIRST, grabbed_title="Release", failed_at=SECOND,
                 last_event_id=9),
    QueueRecord(download_id="D1", status="downloading", tracked_status="ok",
                tracked_state="downloading", size=10.0, sizeleft=4.0, messages=("slow",),
                movie_id=1, estimated_completion=SECOND),
    RadarrMovie(id=1, tmdb_id=603, title="The Matrix", has_file=False, tags=(3, 4),
                in_cinemas=FIRST, digital_release=None, is_available=False),
    SonarrSeries(id=4, tvdb_id=121361, tmdb_id=1399, title="Show", series_type="anime",
                 monitored_seasons=(1,)),
    SonarrEpisode(id=41, series_id=4, season=1, episode=1, air_date_utc=FIRST,
                  has_file=True, file_id=141, file_path="/tv/S01E01.mkv"),
    SonarrEpisode(id=42, series_id=4, season=1, episode=2, air_date_utc=None, has_file=False),
    ShokoFile(id=5, relative_path="Show/S01E01.mkv", series_ids=(30,), anidb_series_ids=(90,),
              imported=SECOND, pending_metadata=True),
    SeerrArrServer(id=0, name="Radarr", is4k=False, is_default=True, hostname="radarr",
                   port=7878),
]


@pytest.mark.parametrize("value", OBSERVED, ids=lambda v: type(v).__name__)
def test_every_observed_dataclass_is_read_back_as_it_was_written(value: object) -> None:
    stored = json.loads(dump_json(dump(value)))
    assert CODECS[OBSERVATION_VERSION].load(type(value), stored) == value


def test_times_are_written_to_the_microsecond_and_stay_in_order() -> None:
    """Same-second events keep their order: nothing is rounded to the second."""
    facts = HistoryFacts(grabbed_at=FIRST, failed_at=SECOND)
    stored = dump(facts)
    assert stored["grabbed_at"] == "2026-11-01T10:00:00.123456+00:00"
    back = CODECS[OBSERVATION_VERSION].load(HistoryFacts, stored)
    assert back.failed_at is not None and back.grabbed_at is not None
    assert back.failed_at > back.grabbed_at
    assert back.failed_at.tzinfo is not None and back.failed_at.utcoffset() == timedelta(0)


def test_enums_tuples_and_unknown_or_missing_keys() -> None:
    """An enum is its value, a tuple a list; a key the class lacks is left out, a field the
    JSON lacks takes its default (written before the field existed)."""
    request = OBSERVED[0]
    stored = dump(request)
    assert stored["media_type"] == "tv" and stored["seasons"] == [1, 2]
    thin = {k: v for k, v in stored.items() if not k.startswith("requested_by")}
    back = CODECS[OBSERVATION_VERSION].load(SeerrRequest, {**thin, "absent": 2})
    assert back.media_type is MediaType.TV and back.seasons == (1, 2)
    assert back.requested_by_id is None


def test_a_field_type_without_a_json_form_is_refused_when_first_met() -> None:
    @dataclass(frozen=True)
    class Nested:
        inner: HistoryFacts

    with pytest.raises(TypeError, match=r"Nested\.inner"):
        dump(Nested(HistoryFacts()))


def test_version_one_reads_times_as_the_services_sent_them() -> None:
    """Version 1 kept each service's own text: Seerr's milliseconds, .NET's seven digits, an
    offset, or `""` for none; all are read as the parsers read them, in UTC."""
    old = CODECS[1]
    facts = old.load(HistoryFacts, {"grabbed_at": "2026-11-01T10:00:00.1234567Z",
                                    "failed_at": "2026-11-01T11:00:00+01:00",
                                    "imported_at": None})
    assert facts.grabbed_at == FIRST
    assert facts.failed_at == datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert facts.failed_at is not None and facts.failed_at.tzinfo == UTC
    request = old.load(SeerrRequest, {"id": 1, "media_type": "movie", "status": 2,
                                      "tmdb_id": 603, "tvdb_id": None, "seasons": [],
                                      "updated_at": "2026-11-01T10:00:00.123Z",
                                      "created_at": ""})
    assert request.updated_at == datetime(2026, 11, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert request.created_at is None


# ---------------------------------------------------------------- what schema 6 left

# Observation rows exactly as the previous version wrote them (`asdict` of string-typed times,
# the services' own text), from the simulated servers' and the cassettes' shapes.
PREVIOUS = {
    ("jellyseerr", "request:7"): {
        "id": 7, "media_type": "tv", "status": 2, "tmdb_id": 1399, "tvdb_id": 121361,
        "is4k": False, "seasons": [1], "external_service_id": 9,
        "updated_at": "2026-11-01T10:02:00.000Z", "created_at": "",
        "requested_by_id": 1, "requested_by_display_name": "anna",
        "requested_by_username": None, "requested_by_email": None,
        "requested_by_jellyfin_username": None, "server_id": None, "profile_id": 1,
        "root_folder": None, "media_id": 3, "media_status": 3, "media_status_4k": 1,
        "service_id": 0, "service_id_4k": None, "external_service_id_hd": 9,
        "external_service_id_4k": None, "jellyfin_media_id": None,
        "jellyfin_media_id_4k": None, "absent": 0, "active": True, "hidden": False},
    ("radarr", "movie:603"): {
        "id": 1, "tmdb_id": 603, "title": "The Matrix", "has_file": False, "file_path": None,
        "path": "/movies/The Matrix (1999)", "root_folder": "/movies", "tags": [3],
        "monitored": True, "year": 1999, "status": "announced",
        "in_cinemas": "2026-12-01T00:00:00Z", "digital_release": "2027-03-14T00:00:00Z",
        "physical_release": None, "is_available": False},
    ("radarr", "queue:1"): [{
        "download_id": "abc", "status": "downloading", "tracked_status": "ok",
        "tracked_state": "downloading", "size": 100.0, "sizeleft": 25.0, "title": "Matrix",
        "messages": [], "movie_id": 1, "series_id": None, "episode_id": None,
        "estimated_completion": "2026-11-01T13:05:00.1234567Z"}],
    ("radarr", "history:1"): {
        "grabbed_at": "2026-11-01T10:00:00.1234567Z", "grabbed_title": "Matrix",
        "failed_at": "2026-11-01T10:00:00.1234575Z", "failed_message": "stalled",
        "imported_at": None, "file_deleted_at": None, "ignored_at": None,
        "ignored_message": None, "last_event_id": 6},
    ("sonarr", "series:tvdb:121361"): {
        "id": 4, "tvdb_id": 121361, "tmdb_id": 1399, "title": "Show",
        "series_type": "standard", "path": "/tv/Show", "monitored_seasons": [1], "year": 2011},
    ("sonarr", "episodes:4"): [
        {"id": 41, "series_id": 4, "season": 1, "episode": 1,
         "air_date_utc": "2026-10-01T01:00:00Z", "has_file": True, "monitored": True,
         "file_id": 141, "file_path": "/tv/Show/S01E01.mkv"},
        {"id": 42, "series_id": 4, "season": 1, "episode": 2, "air_date_utc": None,
         "has_file": False, "monitored": True, "file_id": None, "file_path": None}],
    ("sonarr", "history:4"): {"41": {
        "grabbed_at": "2026-10-02T08:00:00Z", "grabbed_title": "S01E01", "failed_at": None,
        "failed_message": None, "imported_at": "2026-10-02T09:30:00.5Z",
        "file_deleted_at": None, "ignored_at": None, "ignored_message": None,
        "last_event_id": 12}},
    ("shoko", "episode:41"): {
        "id": 5, "relative_path": "Show/S01E01.mkv", "series_ids": [30], "episode_ids": [300],
        "anidb_series_ids": [90], "anidb_episode_ids": [900], "tmdb_movie_ids": [],
        "tmdb_show_ids": [1399], "imported": "2026-10-02T11:30:00+02:00",
        "pending_metadata": False},
    ("radarr", "tags"): {"3": "anime"},
    ("jellyseerr", "title:tv:1399"): "Show",
}


def previous_database(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for migrate in store_module.MIGRATIONS[:6]:
        migrate(db)
    conn.execute("PRAGMA user_version = 6")
    assert "version" not in db.table("observations").columns_dict
    for (service, subject), data in PREVIOUS.items():
        conn.execute("INSERT INTO observations (service, subject, data, observed_at) "
                     "VALUES (?, ?, ?, ?)", (service, subject, dump_json(data),
                                             "2026-11-01T10:05:00Z"))
    conn.close()


def test_observations_the_previous_version_wrote_are_read_correctly_after_the_upgrade(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    previous_database(path)
    store = Store.open(path)
    try:
        schema = store.conn.execute("PRAGMA user_version").fetchone()[0]
        stored = dict(store.conn.execute(
            "SELECT version, count(*) FROM observations GROUP BY version").fetchall())
        seen = Observations(store)
        request = seen.seerr_requests()[7]
        movie = seen.movie(603)
        queue = seen.queue("radarr", 1)
        history = seen.movie_history(1)
        series = seen.series(SeriesKey(121361, None))
        episodes = seen.episodes(4)
        episode_history = seen.episode_histories(4)
        shoko = seen.shoko_episode(41)
        tags, title = seen.radarr_tags(), seen.title(MediaType.TV, 1399)
    finally:
        store.close()
    assert schema == SCHEMA_VERSION >= 7  # migrated to the newest (8: issue 23)
    assert stored == {1: len(PREVIOUS)}
    assert (request.absent, request.active, request.hidden) == (0, True, False)
    assert request.request.media_type is MediaType.TV
    assert request.request.updated_at == datetime(2026, 11, 1, 10, 2, tzinfo=UTC)
    assert request.request.created_at is None
    assert movie is not None and movie.tags == (3,)
    assert movie.in_cinemas == datetime(2026, 12, 1, tzinfo=UTC)
    assert movie.digital_release == datetime(2027, 3, 14, tzinfo=UTC)
    assert movie.physical_release is None
    assert [r.estimated_completion for r in queue] == [
        datetime(2026, 11, 1, 13, 5, 0, 123456, tzinfo=UTC)]
    # Seven digits each, the same second: failed stays later than grabbed.
    assert history is not None and history.grabbed_at == FIRST
    assert history.failed_at == datetime(2026, 11, 1, 10, 0, 0, 123457, tzinfo=UTC)
    assert history.failed_at > history.grabbed_at
    assert series is not None and series.monitored_seasons == (1,)
    assert episodes is not None
    assert [e.air_date_utc for e in episodes] == [datetime(2026, 10, 1, 1, tzinfo=UTC), None]
    assert episode_history is not None
    assert episode_history[41].imported_at == datetime(2026, 10, 2, 9, 30, 0, 500000,
                                                       tzinfo=UTC)
    assert shoko is not None and shoko.imported == datetime(2026, 10, 2, 9, 30, tzinfo=UTC)
    assert shoko.imported.tzinfo == UTC
    assert (tags, title) == ({3: "anime"}, "Show")


def test_a_row_is_rewritten_when_its_text_or_its_version_changed_only(tmp_path: Path) -> None:
    """Unchanged: no write. The same value from a version-1 row: written once, in the current
    form (the upgrade's one-time rewrite), then not again."""
    path = tmp_path / "old.db"
    previous_database(path)
    store = Store.open(path)
    try:
        seen = Observations(store)
        episodes = seen.episodes(4)
        assert episodes is not None
        with store.transaction():
            written = store.rows_written
            assert seen.put_episodes(4, episodes, NOW)
            assert store.rows_written == written + 1
            assert not seen.put_episodes(4, episodes, NOW)
            # The same text in version 1: rewritten once too, to say its version.
            assert seen.put_radarr_tags({3: "anime"}, NOW)
            assert not seen.put_radarr_tags({3: "anime"}, NOW)
            assert store.rows_written == written + 2
        row = store.conn.execute("SELECT data, version FROM observations WHERE "
                                 "service = 'sonarr' AND subject = 'episodes:4'").fetchone()
        again = seen.episodes(4)
    finally:
        store.close()
    assert row[1] == OBSERVATION_VERSION
    assert '"air_date_utc":"2026-10-01T01:00:00+00:00"' in row[0]
    assert again == episodes


def test_an_offset_is_kept_as_the_same_instant_in_utc() -> None:
    """What a parser hands on is in UTC; the codec writes it so and reads it back equal."""
    paris = datetime(2026, 11, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    utc = paris.astimezone(UTC)
    episode = SonarrEpisode(id=1, series_id=1, season=1, episode=1, air_date_utc=utc,
                            has_file=False)
    stored = dump(episode)
    assert stored["air_date_utc"] == "2026-11-01T10:00:00+00:00"
    assert CODECS[OBSERVATION_VERSION].load(SonarrEpisode, stored).air_date_utc == paris
