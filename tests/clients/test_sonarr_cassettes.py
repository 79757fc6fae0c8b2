"""SonarrClient against recorded Sonarr v3/v4 answers (cassettes/sonarr/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.errors import AuthFailed, ServiceUnavailable
from tests.clients.replay import call, cassette

PACK = "3F92992E2FBEB6EBB251304236BF5E0B600A91C3"


def test_system_status_reports_the_version() -> None:
    with cassette("sonarr/system_status.yaml"):
        status = call("sonarr", lambda c: c.system_status())
    assert status["appName"] == "Sonarr" and status["version"].startswith("4.")


def test_a_season_pack_is_one_queue_record_per_episode_sharing_a_download_id() -> None:
    with cassette("sonarr/queue_season_pack.yaml") as cass:
        records, server_date = call("sonarr", lambda c: c.queue(page_size=5))
    assert cass.play_count == 1  # /queue/details: the whole queue, unpaged
    assert server_date == datetime(2026, 1, 22, 5, 1, 12, tzinfo=UTC)
    assert len(records) == 13
    assert {r.download_id for r in records} == {PACK}
    assert [r.episode_id for r in records] == list(range(739, 752))
    assert {r.series_id for r in records} == {23}
    assert {r.movie_id for r in records} == {None}
    assert all(r.progress == pytest.approx(0.75, abs=0.001) for r in records)
    assert {(r.status, r.tracked_state) for r in records} == {("downloading", "downloading")}


def test_an_empty_queue_is_no_records() -> None:
    with cassette("sonarr/queue_empty.yaml"):
        records, _ = call("sonarr", lambda c: c.queue())
    assert records == []


def test_the_library_lists_series_with_type_and_monitored_seasons() -> None:
    with cassette("sonarr/all_series.yaml"):
        series = call("sonarr", lambda c: c.all_series())
    assert [(s.id, s.tvdb_id, s.tmdb_id, s.series_type) for s in series] == [
        (23, 414057, 154494, "anime"), (107, 392076, 113710, "standard")]
    assert series[0].monitored_seasons == (1,)  # the special season is not monitored
    assert series[0].path == "/data/anime/shows/Lycoris Recoil"


def test_a_series_is_found_by_tvdb_id_or_is_absent() -> None:
    async def both(c: Any) -> tuple[Any, Any]:
        return await c.series_by_tvdb(414057), await c.series_by_tvdb(81189)

    with cassette("sonarr/series_by_tvdb.yaml"):
        found, absent = call("sonarr", both)
    assert found.id == 23 and found.title == "Lycoris Recoil"
    assert absent is None


def test_a_series_by_id_is_none_once_sonarr_answers_404() -> None:
    async def both(c: Any) -> tuple[Any, Any]:
        return await c.series(23), await c.series(999)

    with cassette("sonarr/series_by_id.yaml"):
        found, gone = call("sonarr", both)
    assert found.tvdb_id == 414057 and gone is None


def test_episodes_carry_their_files_paths() -> None:
    with cassette("sonarr/episodes.yaml"):
        episodes = call("sonarr", lambda c: c.episodes(23))
    special, first, *rest = episodes
    assert (special.season, special.episode, special.has_file, special.monitored) == (
        0, 1, False, False)
    assert special.file_id is None and special.file_path is None
    assert (first.id, first.season, first.episode, first.has_file, first.file_id) == (
        739, 1, 1, True, 1001)
    assert first.file_path == ("/data/anime/shows/Lycoris Recoil/Season 1/"
                               "Lycoris.Recoil.S01E01.1080p.BluRay.Dual-Audio.Opus2.0.x265-FLE.mkv")
    assert first.air_date_utc == datetime(2022, 7, 2, 15, 0, tzinfo=UTC)
    assert len(rest) == 12 and all(e.has_file and e.file_path for e in rest)


def test_history_since_and_of_one_series() -> None:
    since = datetime(2026, 1, 22, 4, 30, tzinfo=UTC)
    with cassette("sonarr/history_since.yaml"):
        events = call("sonarr", lambda c: c.history_since(since))
    assert [(e.event_type, e.episode_id) for e in events] == [
        ("grabbed", 739), ("grabbed", 740), ("downloadFolderImported", 739),
        ("downloadFolderImported", 740)]
    assert {e.series_id for e in events} == {23}
    with cassette("sonarr/series_history.yaml"):
        events = call("sonarr", lambda c: c.series_history(23))
    assert events[0].event_type == "downloadFolderImported" and events[0].id == 5216


def test_tags_map_ids_to_labels() -> None:
    with cassette("sonarr/tags.yaml"):
        assert call("sonarr", lambda c: c.tags()) == {1: "anime"}


def test_a_refused_key_is_auth_failed() -> None:
    with cassette("sonarr/auth_refused.yaml"), pytest.raises(AuthFailed):
        call("sonarr", lambda c: c.queue())


def test_a_500_is_unavailable() -> None:
    with cassette("sonarr/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("sonarr", lambda c: c.queue())
