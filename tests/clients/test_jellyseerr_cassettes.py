"""JellyseerrClient against recorded Jellyseerr/Seerr answers (cassettes/jellyseerr/)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.models import SeerrMediaStatus, SeerrStatus
from reconciler.services.http import AuthFailed, QueryRejected, ServiceUnavailable
from reconciler.services.jellyseerr import ActivePoll, JellyseerrClient, RequestListing
from tests.clients.replay import call, cassette


def test_status_reports_the_version() -> None:
    with cassette("jellyseerr/status.yaml"):
        status = call("jellyseerr", lambda c: c.status())
    assert status["version"] == "develop-local"
    assert status["restartRequired"] is False


def test_a_develop_build_gets_the_profile_every_version_accepts() -> None:
    """`develop-<commit>` says nothing about the flavour: no optional parameters, and
    `updatedAt` is not trusted."""
    async def run(c: JellyseerrClient) -> Any:
        return await c.server_info()

    with cassette("jellyseerr/status.yaml"):
        server, profile = call("jellyseerr", run)
    assert (server.flavour, server.version) == ("unknown", None)
    assert not (profile.accepts_sort_direction or profile.accepts_media_type
                or profile.bumps_updated_at)


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
    assert cass.play_count == 3  # the version, then two pages
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


def test_a_tmdb_outage_is_a_failed_call_not_an_unknown_id() -> None:
    """Seerr answers 500 "Unable to retrieve movie." ("series.") for every TMDB failure, an
    outage as much as an unknown id: the look-up failed, so the title is unknown, not absent."""
    with cassette("jellyseerr/title_tmdb_outage.yaml"):
        with pytest.raises(ServiceUnavailable):
            call("jellyseerr", lambda c: c.title("movie", 1000))
        with pytest.raises(ServiceUnavailable):
            call("jellyseerr", lambda c: c.title("tv", 2000))


def test_a_refused_key_is_auth_failed_without_retrying() -> None:
    """The status needs no key; the listing with a wrong key is refused once, not retried."""
    with cassette("jellyseerr/auth_refused.yaml") as cass, pytest.raises(AuthFailed):
        call("jellyseerr", lambda c: c.list_requests())
    assert cass.play_count == 2


def test_a_server_error_is_unavailable() -> None:
    with cassette("jellyseerr/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("jellyseerr", lambda c: c.list_requests())


def test_overseerr_is_listed_without_sort_direction() -> None:
    """Overseerr 1.33 answers 400 to `sortDirection`; its order is newest first anyway."""
    async def run(c: JellyseerrClient) -> RequestListing:
        return await c.list_requests(page_size=2, max_pages=1)

    with cassette("jellyseerr/versions_overseerr_1_33.yaml"):
        client_listing = call("jellyseerr", run)
    assert [r.id for r in client_listing.requests] == [31, 36]
    assert not client_listing.complete and client_listing.total == 36


def test_jellyseerr_2_1_is_listed_without_sort_direction() -> None:
    with cassette("jellyseerr/versions_jellyseerr_2_1.yaml"):
        listing = call("jellyseerr", lambda c: c.list_requests(page_size=2, max_pages=1))
    assert [r.id for r in listing.requests] == [31, 36]


def test_jellyseerr_2_2_gets_sort_direction_but_media_type_is_applied_by_the_client() -> None:
    """2.2.x accepts `sortDirection` and answers 400 to `mediaType` (added in 2.6.0)."""
    with cassette("jellyseerr/versions_jellyseerr_2_2.yaml"):
        listing = call("jellyseerr", lambda c: c.list_requests(
            page_size=4, max_pages=1, media_type="tv"))
    assert [r.id for r in listing.requests] == [36, 35, 34]


def test_seerr_steady_poll_lists_newest_by_id_and_the_active_filters() -> None:
    async def run(c: JellyseerrClient) -> tuple[ActivePoll, str]:
        poll = await c.poll_active(newest=3)
        assert c.server is not None
        return poll, c.server.describe()

    with cassette("jellyseerr/poll_active_seerr_3_1.yaml") as cass:
        poll, described = call("jellyseerr", run)
    assert cass.play_count == 4  # status once, then three listings
    assert described == "Seerr 3.1.0"
    assert [r.id for r in poll.newest.requests] == [36, 35, 34]
    assert poll.active.complete
    assert sorted(r.id for r in poll.active.requests) == [26, 31, 32, 34]
    pending = {r.id: r for r in poll.active.requests}[34]
    assert pending.status == SeerrStatus.PENDING and pending.seasons == (1, 2, 3)
    assert pending.requested_by_username is None  # a Jellyfin user without a local username
    assert pending.requested_by_display_name == "admin"


def test_a_request_by_id_shows_blocklisted_media_4k_ids_and_deletion() -> None:
    async def run(c: JellyseerrClient) -> list[Any]:
        return [await c.request_by_id(12), await c.request_by_id(31),
                await c.request_by_id(99999)]

    with cassette("jellyseerr/request_by_id.yaml"):
        blocked, uhd, gone = call("jellyseerr", run)
    assert gone is None
    assert blocked.status == SeerrStatus.APPROVED and blocked.blocklisted
    assert blocked.media_status == SeerrMediaStatus.BLOCKLISTED
    assert (blocked.server_id, blocked.profile_id, blocked.root_folder) == (0, 1, "/movies")
    assert (blocked.requested_by_id, blocked.requested_by_username,
            blocked.requested_by_email, blocked.requested_by_jellyfin_username) == (
        2, "bob", "bob@example.org", "bob")
    assert uhd.is4k and not uhd.blocklisted
    assert uhd.external_service_id == 777  # the 4K Radarr's movie id
    assert (uhd.external_service_id_hd, uhd.external_service_id_4k) == (503, 777)
    assert (uhd.service_id, uhd.service_id_4k, uhd.server_id) == (0, 0, 1)
    assert (uhd.media_status, uhd.media_status_4k, uhd.quality_media_status) == (3, 3, 3)


def test_a_refused_query_forgets_the_version_so_the_next_poll_reads_it_again() -> None:
    async def run(c: JellyseerrClient) -> object:
        try:
            await c.list_requests()
        except QueryRejected as exc:
            assert "Unknown query parameter 'sortDirection'" in exc.message
            return c.profile
        raise AssertionError("no QueryRejected")

    with cassette("jellyseerr/query_rejected.yaml"):
        assert call("jellyseerr", run) is None
