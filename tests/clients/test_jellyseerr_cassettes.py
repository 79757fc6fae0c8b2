"""JellyseerrClient against recorded Jellyseerr/Seerr answers (cassettes/jellyseerr/)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.models import SeerrStatus
from reconciler.services.http import AuthFailed, ServiceUnavailable
from tests.clients.replay import call, cassette


def test_status_reports_the_version() -> None:
    with cassette("jellyseerr/status.yaml"):
        status = call("jellyseerr", lambda c: c.status())
    assert status["version"] == "develop-local"
    assert status["restartRequired"] is False


def test_one_page_lists_every_request_newest_first_with_its_ids() -> None:
    with cassette("jellyseerr/requests_all.yaml"):
        listing = call("jellyseerr", lambda c: c.list_requests())
    assert listing.complete and listing.total == 4
    assert [r.id for r in listing.requests] == [69, 67, 68, 66]
    film = listing.requests[0]
    assert (film.media_type, film.status, film.tmdb_id, film.tvdb_id) == (
        "movie", SeerrStatus.APPROVED, 533514, None)
    assert film.external_service_id == 52  # the Radarr movie id
    assert film.updated_at == "2026-01-22T04:57:03.000Z"
    assert listing.requests[1].status == SeerrStatus.COMPLETED
    show = listing.requests[2]
    assert (show.media_type, show.tmdb_id, show.tvdb_id, show.seasons) == (
        "tv", 154494, 414057, (1,))
    assert show.external_service_id == 23  # the Sonarr series id
    declined = listing.requests[3]
    assert declined.status == SeerrStatus.DECLINED and declined.external_service_id is None


def test_pages_with_take_and_skip_until_every_result_is_read() -> None:
    with cassette("jellyseerr/requests_paged.yaml") as cass:
        listing = call("jellyseerr", lambda c: c.list_requests(page_size=2))
    assert cass.play_count == 2
    assert listing.complete and [r.id for r in listing.requests] == [69, 67, 68, 66]


def test_stops_paging_at_requests_older_than_the_watermark_and_says_it_is_incomplete() -> None:
    with cassette("jellyseerr/requests_since.yaml"):
        listing = call("jellyseerr", lambda c: c.list_requests(
            since="2026-01-22T04:50:00.000Z", page_size=2))
    assert not listing.complete
    assert [r.id for r in listing.requests] == [69, 67]
    assert listing.total == 4


def test_a_request_exists_until_jellyseerr_answers_404() -> None:
    async def both(c: Any) -> tuple[bool, bool]:
        return await c.request_exists(69), await c.request_exists(12)

    with cassette("jellyseerr/request_exists.yaml"):
        assert call("jellyseerr", both) == (True, False)


def test_titles_come_from_the_movie_and_tv_details() -> None:
    async def both(c: Any) -> tuple[str | None, str | None]:
        return await c.title("movie", 840464), await c.title("tv", 89641)

    with cassette("jellyseerr/titles.yaml"):
        assert call("jellyseerr", both) == ("Greenland 2", "Love Alarm")


def test_an_unknown_tmdb_id_is_a_500_from_seerr_and_means_no_title() -> None:
    """Seerr answers 500 "Unable to retrieve movie." for a TMDB id it cannot find: the client
    reads that as "no such film" (no title), not as Seerr being down."""
    with cassette("jellyseerr/title_unknown_tmdb.yaml"):
        assert call("jellyseerr", lambda c: c.title("movie", 99999999)) is None


def test_a_refused_key_is_auth_failed_without_retrying() -> None:
    with cassette("jellyseerr/auth_refused.yaml") as cass, pytest.raises(AuthFailed):
        call("jellyseerr", lambda c: c.list_requests())
    assert cass.play_count == 1


def test_a_server_error_is_unavailable() -> None:
    with cassette("jellyseerr/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("jellyseerr", lambda c: c.list_requests())
