"""JellyseerrClient against recorded Jellyseerr/Seerr answers (cassettes/jellyseerr/).

The cassettes are written by `tests/fixtures/jellyseerr/make_cassettes.py` from the real
servers' answers (rewritten with our own data in `tests/fixtures/jellyseerr/<version>/`): 36
requests by two users (`operator`, a Jellyfin user without a local username, and `kestrel`),
one a 4K film (131), one whose film is blocklisted (112, left out of `filter=all`), TV requests
with seasons, in every request status the version has.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from reconciler.errors import AuthFailed, QueryRejected, ServiceUnavailable
from reconciler.models import MediaType, SeerrMediaStatus, SeerrStatus
from reconciler.services.jellyseerr import (
    ActivePoll,
    JellyseerrClient,
    RequestListing,
    SeerrProfile,
)
from tests.clients.replay import REPO, call, cassette

# Jellyseerr 2.7.3's `filter=all&sort=modified&sortDirection=desc`: every request but the
# blocklisted one (112), newest `updatedAt` first (120 and 122 tie; 2.7.3 lists 120 first).
LISTED_2_7 = [131, 136, 135, 134, 133, 132, 104, 106, 111, 113, 120, 122, 116, 115, 101, 127,
              117, 121, 124, 119, 103, 114, 109, 128, 130, 107, 110, 105, 118, 102, 129, 123,
              125, 126, 108]


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
    assert listing.complete and listing.total == 35
    assert [r.id for r in listing.requests] == LISTED_2_7
    by_id = {r.id: r for r in listing.requests}
    uhd = by_id[131]  # a 4K film: its id is the 4K Radarr's
    assert (uhd.media_type, uhd.status, uhd.is4k, uhd.tmdb_id, uhd.tvdb_id) == (
        MediaType.MOVIE, SeerrStatus.APPROVED, True, 6003, None)
    assert uhd.media_type is MediaType.MOVIE
    assert (uhd.external_service_id, uhd.external_service_id_hd) == (817, 543)
    # Times are parsed once, here, to the millisecond Seerr sends.
    assert uhd.updated_at == datetime(2026, 12, 5, 6, 56, 0, 999000, tzinfo=UTC)
    assert uhd.created_at == datetime(2026, 12, 4, 20, 57, 0, 400000, tzinfo=UTC)
    show = by_id[135]  # completed (status 5, 2.6+), the Sonarr series id, one season
    assert (show.media_type, show.status, show.tmdb_id, show.tvdb_id, show.seasons) == (
        MediaType.TV, SeerrStatus.COMPLETED, 7003, 179168, (1,))
    assert show.external_service_id == 943
    assert show.media_status == SeerrMediaStatus.AVAILABLE
    assert (show.requested_by_id, show.requested_by_username, show.requested_by_email) == (
        2, "kestrel", "kestrel@household.test")
    declined = by_id[136]
    assert declined.status == SeerrStatus.DECLINED and declined.external_service_id is None
    assert declined.tvdb_id is None and declined.seasons == (2,)
    pending = by_id[134]  # a Jellyfin user without a local username
    assert pending.status == SeerrStatus.PENDING and pending.seasons == (1, 2, 3)
    assert (pending.requested_by_username, pending.requested_by_display_name,
            pending.requested_by_jellyfin_username) == (None, "operator", "operator")
    assert by_id[114].media_status == SeerrMediaStatus.DELETED  # listed: only 6 is left out
    assert 112 not in by_id  # blocklisted: `filter=all` leaves it out


def test_pages_with_take_and_skip_until_every_result_is_read() -> None:
    with cassette("jellyseerr/requests_paged.yaml") as cass:
        listing = call("jellyseerr", lambda c: c.list_requests(page_size=20))
    assert cass.play_count == 3  # the version, then two pages (20 and 15)
    assert listing.complete and listing.total == 35
    assert [r.id for r in listing.requests] == LISTED_2_7


def test_stops_paging_at_requests_older_than_the_watermark_and_says_it_is_incomplete() -> None:
    """Jellyseerr 2.2.3 moves `updatedAt` on every change, so `sort=modified` brings changes
    first and paging may stop at the watermark: the first page of 20 ends at 17:49, older than
    it, so the second is not asked for. (2.6+ never move it: the cycle polls with
    `poll_active` and no watermark.)"""
    async def run(c: JellyseerrClient) -> tuple[RequestListing, SeerrProfile]:
        listing = await c.list_requests(since=datetime(2026, 12, 4, 18, 0, tzinfo=UTC),
                                        page_size=20)
        assert c.profile is not None
        return listing, c.profile

    with cassette("jellyseerr/requests_since.yaml"):
        listing, profile = call("jellyseerr", run)
    assert profile.bumps_updated_at
    assert not listing.complete and listing.total == 35
    assert [r.id for r in listing.requests][:6] == [131, 136, 135, 134, 133, 132]
    assert len(listing.requests) == 20
    assert listing.requests[-1].updated_at == datetime(2026, 12, 4, 17, 49, 0, 212000, tzinfo=UTC)


def test_a_request_exists_until_jellyseerr_answers_404() -> None:
    async def both(c: Any) -> tuple[bool, bool]:
        return (await c.request_by_id(101) is not None,
                await c.request_by_id(100099) is not None)

    with cassette("jellyseerr/request_exists.yaml"):
        assert call("jellyseerr", both) == (True, False)


def test_titles_come_from_the_movie_and_tv_details() -> None:
    async def both(c: Any) -> tuple[str | None, str | None]:
        return await title(c, MediaType.MOVIE, 840464), await title(c, MediaType.TV, 89641)

    with cassette("jellyseerr/titles.yaml"):
        assert call("jellyseerr", both) == ("Greenland 2", "Love Alarm")


def test_a_tmdb_outage_is_a_failed_call_not_an_unknown_id() -> None:
    """Seerr answers 500 "Unable to retrieve movie." ("series.") for every TMDB failure, an
    outage as much as an unknown id: the look-up failed, so the title is unknown, not absent."""
    with cassette("jellyseerr/title_tmdb_outage.yaml"):
        with pytest.raises(ServiceUnavailable):
            call("jellyseerr", lambda c: title(c, MediaType.MOVIE, 1000))
        with pytest.raises(ServiceUnavailable):
            call("jellyseerr", lambda c: title(c, MediaType.TV, 2000))


def test_a_refused_key_is_auth_failed_without_retrying() -> None:
    """The status needs no key; the listing with a wrong key is refused once, not retried."""
    with cassette("jellyseerr/auth_refused.yaml") as cass, pytest.raises(AuthFailed):
        call("jellyseerr", lambda c: c.list_requests())
    assert cass.play_count == 2


def test_a_server_error_is_unavailable_and_says_the_servers_reason() -> None:
    """Jellyseerr 2.1.0 with a Sonarr it cannot reach: the error carries its own message."""
    with cassette("jellyseerr/server_error.yaml"), pytest.raises(ServiceUnavailable) as err:
        call("jellyseerr", lambda c: c.list_requests())
    assert err.value.status == 500
    assert err.value.message.endswith(": [Sonarr] Failed to retrieve profiles: fetch failed")


def test_overseerr_is_listed_without_sort_direction() -> None:
    """Overseerr 1.33 answers 400 to `sortDirection`; its order is newest first anyway."""
    async def run(c: JellyseerrClient) -> RequestListing:
        return await c.list_requests(page_size=20, max_pages=1)

    with cassette("jellyseerr/versions_overseerr_1_33.yaml"):
        client_listing = call("jellyseerr", run)
    assert [r.id for r in client_listing.requests] == [
        131, 136, 135, 134, 133, 132, 104, 106, 111, 113, 120, 122, 116, 115, 112, 101, 127,
        117, 121, 124]
    # Overseerr has no blocklist (112 is listed, its media processing) and no status 5.
    assert not client_listing.complete and client_listing.total == 36
    by_id = {r.id: r for r in client_listing.requests}
    assert by_id[112].media_status == SeerrMediaStatus.PROCESSING and not by_id[112].blocklisted
    assert by_id[135].status == SeerrStatus.APPROVED
    # Plex users: no Jellyfin user name
    assert (by_id[135].requested_by_username, by_id[135].requested_by_jellyfin_username) == (
        "kestrel", None)


def test_jellyseerr_2_1_is_listed_without_sort_direction() -> None:
    with cassette("jellyseerr/versions_jellyseerr_2_1.yaml"):
        listing = call("jellyseerr", lambda c: c.list_requests(page_size=20, max_pages=1))
    assert [r.id for r in listing.requests] == [*LISTED_2_7[:14], 101, 127, 117, 121, 124, 119]
    assert not listing.complete and listing.total == 35
    assert {r.id: r for r in listing.requests}[120].status == SeerrStatus.APPROVED  # no 5


def test_jellyseerr_2_2_gets_sort_direction_but_media_type_is_applied_by_the_client() -> None:
    """2.2.x accepts `sortDirection` and answers 400 to `mediaType` (added in 2.6.0)."""
    with cassette("jellyseerr/versions_jellyseerr_2_2.yaml"):
        listing = call("jellyseerr", lambda c: c.list_requests(
            page_size=20, max_pages=1, media_type="tv"))
    assert [r.id for r in listing.requests] == [136, 135, 134, 133, 132]
    assert all(r.media_type == "tv" for r in listing.requests)
    # 2.2.x has no request status 5: the completed series is approved with its media available
    completed = listing.requests[1]
    assert completed.status == SeerrStatus.APPROVED
    assert completed.media_status == SeerrMediaStatus.AVAILABLE


def test_seerr_steady_poll_lists_newest_by_id_and_the_active_filters() -> None:
    async def run(c: JellyseerrClient) -> tuple[ActivePoll, str]:
        poll = await c.poll_active(newest=3)
        assert c.server is not None
        return poll, c.server.describe()

    with cassette("jellyseerr/poll_active_seerr_3_1.yaml") as cass:
        poll, described = call("jellyseerr", run)
    assert cass.play_count == 4  # status once, then three listings
    assert described == "Seerr 3.1.0"
    assert [r.id for r in poll.newest.requests] == [136, 135, 134]  # by id, newest first
    assert poll.newest.total == 35 and not poll.newest.complete
    assert poll.active.complete and poll.active.total == 15
    active = {r.id: r for r in poll.active.requests}
    assert sorted(active) == [101, 102, 106, 107, 111, 116, 117, 121, 122, 126, 127, 131,
                              132, 133, 134]
    assert all(r.status == SeerrStatus.PENDING for r in active.values()
               if r.id in (101, 106, 111, 116, 121, 126, 134))
    pending = active[134]
    assert pending.status == SeerrStatus.PENDING and pending.seasons == (1, 2, 3)
    assert pending.requested_by_username is None  # a Jellyfin user without a local username
    assert pending.requested_by_display_name == "operator"
    # processing: approved, the requested quality's media not yet available (4K: `status4k`)
    assert active[131].is4k and active[131].quality_media_status == SeerrMediaStatus.PROCESSING
    assert active[132].media_status == SeerrMediaStatus.PARTIALLY_AVAILABLE


def test_a_request_by_id_shows_blocklisted_media_4k_ids_and_deletion() -> None:
    async def run(c: JellyseerrClient) -> list[Any]:
        return [await c.request_by_id(112), await c.request_by_id(131),
                await c.request_by_id(132), await c.request_by_id(100099)]

    with cassette("jellyseerr/request_by_id.yaml"):
        blocked, uhd, show, gone = call("jellyseerr", run)
    assert gone is None
    assert blocked.id == 112 and blocked.tmdb_id == 6011
    assert blocked.status == SeerrStatus.APPROVED and blocked.blocklisted
    assert blocked.media_status == SeerrMediaStatus.BLOCKLISTED
    assert blocked.external_service_id is None  # blocklisting removed it from Radarr
    assert (blocked.server_id, blocked.profile_id, blocked.root_folder) == (0, 1, "/movies")
    assert (blocked.requested_by_id, blocked.requested_by_username,
            blocked.requested_by_email, blocked.requested_by_jellyfin_username) == (
        2, "kestrel", "kestrel@household.test", "kestrel")
    assert uhd.is4k and not uhd.blocklisted
    assert uhd.external_service_id == 817  # the 4K Radarr's movie id
    assert (uhd.external_service_id_hd, uhd.external_service_id_4k) == (543, 817)
    assert (uhd.service_id, uhd.service_id_4k, uhd.server_id) == (0, 0, 1)
    assert (uhd.media_status, uhd.media_status_4k, uhd.quality_media_status) == (3, 3, 3)
    assert uhd.root_folder == "/movies4k"
    assert (show.media_type, show.tmdb_id, show.tvdb_id, show.seasons) == (
        "tv", 7000, 181189, (1, 2))
    assert show.external_service_id == 940  # the Sonarr series id
    assert show.media_status == SeerrMediaStatus.PARTIALLY_AVAILABLE
    assert (show.requested_by_username, show.requested_by_display_name) == (None, "operator")


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


# -- the cassettes themselves ----------------------------------------------------------------

CASSETTES = REPO / "cassettes" / "jellyseerr"
MAKE_CASSETTES = REPO / "tests" / "fixtures" / "jellyseerr" / "make_cassettes.py"


def _make_cassettes() -> Any:
    spec = importlib.util.spec_from_file_location("make_cassettes", MAKE_CASSETTES)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _responses(name: str) -> list[tuple[str, dict[str, Any]]]:
    data = yaml.safe_load((CASSETTES / name).read_text(encoding="utf-8"))
    return [(i["request"]["uri"], i["response"]) for i in data["interactions"]]


def _body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]["string"])


def test_the_cassettes_are_what_make_cassettes_writes_from_the_fixtures() -> None:
    """Every Jellyseerr cassette comes from the fixtures (the rewritten real answers):
    regenerate with `python tests/fixtures/jellyseerr/make_cassettes.py`."""
    built = _make_cassettes().build()
    assert set(built) == {p.name for p in CASSETTES.glob("*.yaml")}
    stale = [name for name, text in built.items()
             if (CASSETTES / name).read_text(encoding="utf-8") != text]
    assert not stale, f"{stale} differ from what make_cassettes.py writes"


def test_every_answer_has_expresss_headers() -> None:
    for path in sorted(CASSETTES.glob("*.yaml")):
        for uri, response in _responses(path.name):
            raw = response["body"]["string"].encode("utf-8")
            headers = {k.lower(): v[0] for k, v in response["headers"].items()}
            digest = base64.b64encode(hashlib.sha1(raw).digest()).decode()[:27]
            assert headers["x-powered-by"] == "Express", uri
            assert headers["content-type"] == "application/json; charset=utf-8", uri
            assert headers["content-length"] == str(len(raw)), uri
            assert headers["etag"] == f'W/"{len(raw):x}-{digest}"', uri


def test_the_bodies_have_the_shapes_of_the_version_they_claim() -> None:
    """S1, S2, S4, S5, S6, S7, S8 of the real-server audit, in the cassettes."""
    [(_, refused)] = _responses("auth_refused.yaml")[1:]
    assert refused["status"]["code"] == 403
    assert _body(refused) == {"status": 403,
                              "error": "You do not have permission to access this endpoint"}
    [(_, seerr_status), *seerr_lists] = _responses("poll_active_seerr_3_1.yaml")
    assert _body(seerr_status)["version"] == "3.1.0"
    assert all("serviceErrors" in _body(r) for _, r in seerr_lists)  # 3.x only
    [(_, status_2_7), (_, listing_2_7)] = _responses("requests_all.yaml")
    assert _body(status_2_7)["version"] == "2.7.3" and "serviceErrors" not in _body(listing_2_7)
    rows = {r["id"]: r for r in _body(listing_2_7)["results"]}
    assert rows[101]["canRemove"] is False and rows[132]["canRemove"] is True  # S5
    assert rows[101]["tags"] is None and rows[134]["tags"] == []  # S7
    assert rows[134]["languageProfileId"] == 1  # S8: TV requests
    assert rows[101]["requestedBy"]["username"] is None  # S6
    assert rows[101]["requestedBy"]["plexUsername"] is None
    listing_2_2 = _body(_responses("versions_jellyseerr_2_2.yaml")[1][1])
    assert all("canRemove" not in r for r in listing_2_2["results"])  # 2.2.3 has none
    for _, response in _responses("request_by_id.yaml")[:3]:  # S4: the single-request shape
        single = _body(response)
        assert "canRemove" not in single and "profileName" not in single
        assert isinstance(single["media"]["seasons"], list)
        assert "notificationTypes" in single["requestedBy"]["settings"]
    _, missing = _responses("request_by_id.yaml")[3]
    assert _body(missing) == {"message": "Request not found."}


async def title(client: JellyseerrClient, media_type: MediaType, tmdb_id: int) -> str | None:
    """The display title Jellyseerr gives for the TMDB id (None: it knows none)."""
    info = await client.title_info(media_type, tmdb_id)
    return info.title if info else None
