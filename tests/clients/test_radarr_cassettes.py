"""RadarrClient against recorded Radarr v3 answers (cassettes/radarr/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.errors import AuthFailed, ServiceUnavailable
from reconciler.models import HistoryFacts
from tests.clients.replay import call, cassette

RECOLLECTIONS = ("/data/anime/movies/Violet Evergarden - Recollections (2021)/"
                 "Violet.Evergarden.Recollections.2022.1080p.NF.WEB-DL.AAC2.0.x264-GST.mkv")


def test_system_status_reports_the_version() -> None:
    with cassette("radarr/system_status.yaml"):
        status = call("radarr", lambda c: c.system_status())
    assert status["appName"] == "Radarr" and status["version"] == "5.26.2.10099"


def test_the_queue_gives_progress_states_and_messages_per_download() -> None:
    with cassette("radarr/queue.yaml"):
        records, server_date = call("radarr", lambda c: c.queue())
    assert server_date == datetime(2026, 1, 22, 5, 1, 12, tzinfo=UTC)
    by_movie = {r.movie_id: r for r in records}
    assert set(by_movie) == {52, 311, 54}
    violet = by_movie[52]
    assert violet.download_id == "C2C60F66C126652A86F7F2EE73DC83D4E255929E"
    assert (violet.status, violet.tracked_status, violet.tracked_state) == (
        "downloading", "ok", "downloading")
    assert violet.progress == pytest.approx(0.75, abs=0.001)
    stuck = by_movie[54]
    assert (stuck.status, stuck.tracked_status, stuck.tracked_state) == (
        "completed", "warning", "importPending")
    assert stuck.progress == 1.0
    assert stuck.messages == ("Not an upgrade for existing movie file. Existing quality: "
                              "Bluray-1080p. New Quality Bluray-1080p.",)
    assert all(r.series_id is None and r.episode_id is None for r in records)


def test_without_queue_details_the_queue_is_paged_in_a_stable_order() -> None:
    """Where /queue/details answers 404 the paged queue is read, sorted by `added` (the
    default `timeleft` order changes while downloads progress), every page of it."""
    async def run(c: Any) -> Any:
        first = await c.queue(page_size=2)
        return first, c.queue_details_missing

    with cassette("radarr/queue_paged.yaml") as cass:
        (records, _), missing = call("radarr", run)
    assert cass.play_count == 3 and missing
    assert [r.movie_id for r in records] == [52, 311, 54]


def test_a_repeated_last_page_counts_nothing_twice_and_skips_nothing() -> None:
    """A download left the queue between pages: page 2 is now past the end, and Radarr serves
    the last page again (QueueController) instead of an empty one."""
    with cassette("radarr/queue_paged_repeats_last_page.yaml") as cass:
        records, _ = call("radarr", lambda c: c.queue(page_size=2))
    assert cass.play_count == 3
    assert [r.movie_id for r in records] == [52, 311, 54]


def test_the_library_lists_every_film_with_its_file() -> None:
    with cassette("radarr/movies.yaml"):
        movies = call("radarr", lambda c: c.movies())
    assert [(m.id, m.tmdb_id, m.has_file) for m in movies] == [
        (51, 1052946, True), (52, 533514, False), (311, 769, False)]
    assert movies[0].file_path == RECOLLECTIONS
    assert movies[0].root_folder == "/data/anime/movies" and movies[0].tags == (1,)
    assert movies[2].tags == () and movies[2].root_folder == "/data/movies"


def test_a_film_is_found_by_tmdb_id_or_is_absent() -> None:
    async def three(c: Any) -> tuple[Any, Any, Any]:
        return (await c.movie_by_tmdb(1052946), await c.movie_by_tmdb(533514),
                await c.movie_by_tmdb(603))

    with cassette("radarr/movie_by_tmdb.yaml"):
        with_file, without_file, absent = call("radarr", three)
    assert (with_file.id, with_file.has_file, with_file.file_path) == (51, True, RECOLLECTIONS)
    assert with_file.path == "/data/anime/movies/Violet Evergarden - Recollections (2021)"
    assert (without_file.id, without_file.has_file, without_file.file_path) == (52, False, None)
    assert without_file.monitored
    assert absent is None


def test_a_film_by_id_is_none_once_radarr_answers_404() -> None:
    async def both(c: Any) -> tuple[Any, Any]:
        return await c.movie(52), await c.movie(9999)

    with cassette("radarr/movie_by_id.yaml"):
        found, gone = call("radarr", both)
    assert found.tmdb_id == 533514 and found.title == "Violet Evergarden: The Movie"
    assert gone is None


def test_history_since_a_time_on_the_servers_clock() -> None:
    since = datetime(2026, 1, 22, 4, 0, tzinfo=UTC)
    with cassette("radarr/history_since.yaml"):
        events = call("radarr", lambda c: c.history_since(since))
    assert [(e.id, e.event_type, e.movie_id) for e in events] == [
        (2291, "grabbed", 51), (2293, "downloadFailed", 311),
        (2296, "downloadFolderImported", 51), (2302, "grabbed", 52)]
    failed = events[1]
    assert failed.message == "Torrent was removed from the download client: unregistered torrent"
    assert events[3].source_title.startswith("[The-Nut] Violet Evergarden The Movie")


def test_a_download_removed_without_blocklisting_is_an_ignored_event_with_its_message() -> None:
    """Radarr records `downloadIgnored` (9) when a queue item is removed without blocklisting;
    folded into the film's facts it is an ignored time and message, newer than the grab."""
    since = datetime(2026, 1, 22, 5, 0, tzinfo=UTC)
    with cassette("radarr/history_download_ignored.yaml"):
        events = call("radarr", lambda c: c.history_since(since))
    assert [(e.id, e.event_type, e.movie_id) for e in events] == [
        (2302, "grabbed", 52), (2305, "downloadIgnored", 52)]
    facts = HistoryFacts()
    for e in events:
        facts = facts.merge_event(e.event_type, e.date, e.source_title, e.message)
    assert facts.ignored_message == "Manually ignored"
    assert facts.ignored_at == datetime(2026, 1, 22, 5, 12, 40, tzinfo=UTC)
    assert facts.grabbed_at is not None and facts.failed_at is None


def test_history_of_one_film() -> None:
    with cassette("radarr/movie_history.yaml"):
        events = call("radarr", lambda c: c.movie_history(51))
    assert [e.event_type for e in events] == ["downloadFolderImported", "grabbed"]
    assert events[0].date == datetime(2026, 1, 22, 4, 36, 40, tzinfo=UTC)


def test_tags_map_ids_to_labels() -> None:
    with cassette("radarr/tags.yaml"):
        assert call("radarr", lambda c: c.tags()) == {1: "anime", 2: "4k"}


def test_a_503_with_retry_after_is_retried() -> None:
    with cassette("radarr/tags_after_503.yaml") as cass:
        assert call("radarr", lambda c: c.tags()) == {1: "anime", 2: "4k"}
    assert cass.play_count == 2


def test_a_refused_key_is_auth_failed_without_retrying() -> None:
    with cassette("radarr/auth_refused.yaml") as cass, pytest.raises(AuthFailed):
        call("radarr", lambda c: c.queue())
    assert cass.play_count == 1


def test_a_500_is_unavailable_without_retrying() -> None:
    """A 500 from `/queue/details` is asked once of the paged queue (a known Radarr bug fails
    both, issue 22), neither retried; the error carries Radarr's message and the hint."""
    with cassette("radarr/server_error.yaml") as cass, pytest.raises(
            ServiceUnavailable, match="HTTP 500") as err:
        call("radarr", lambda c: c.queue())
    assert cass.play_count == 2
    assert err.value.message.startswith("HTTP 500 from /api/v3/queue/details and "
                                        "/api/v3/queue: database is locked; a known Radarr bug")
    assert "SQLiteException" not in err.value.message  # the description is never quoted
