"""Jellyseerr, Seerr and Overseerr by version: what is sent to each, through httpx.MockTransport."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.config import ServiceConfig
from reconciler.errors import ServiceUnavailable
from reconciler.models import MediaType
from reconciler.services.jellyseerr import (
    BASE_FILTERS,
    FILTERS_2_6,
    TITLE_TIMEOUT,
    JellyseerrClient,
    SeerrProfile,
    parse_server,
    request_query,
)

CONFIG = ServiceConfig("jellyseerr", "http://jellyseerr.test", "k", 30, 10, True)


def status(version: str) -> dict[str, Any]:
    return {"version": version, "commitTag": f"v{version}", "updateAvailable": False,
            "commitsBehind": 0, "restartRequired": False}


@pytest.mark.parametrize(("version", "flavour", "sort_direction", "media_type", "bumps",
                          "filters"), [
    ("1.33.2", "overseerr", False, False, True, BASE_FILTERS),
    ("1.9.2", "jellyseerr", False, False, True, BASE_FILTERS),
    ("2.1.0", "jellyseerr", False, False, True, BASE_FILTERS),
    ("2.2.0", "jellyseerr", True, False, True, BASE_FILTERS),
    ("2.2.3", "jellyseerr", True, False, True, BASE_FILTERS),
    ("2.5.2", "jellyseerr", True, False, True, BASE_FILTERS),
    ("2.6.0", "jellyseerr", True, True, False, FILTERS_2_6),
    ("2.7.3", "jellyseerr", True, True, False, FILTERS_2_6),
    ("3.0.0", "seerr", True, True, False, FILTERS_2_6),
    ("3.1.0", "seerr", True, True, False, FILTERS_2_6),
    ("v3.2.0", "seerr", True, True, False, FILTERS_2_6),
    ("develop-4f1c2d3", "unknown", False, False, False, BASE_FILTERS),
    ("", "unknown", False, False, False, BASE_FILTERS),
])
def test_the_version_decides_what_is_sent_and_whether_updated_at_moves(
        version: str, flavour: str, sort_direction: bool, media_type: bool, bumps: bool,
        filters: frozenset[str]) -> None:
    server = parse_server(status(version))
    profile = SeerrProfile.for_server(server)
    assert server.flavour == flavour
    assert (profile.accepts_sort_direction, profile.accepts_media_type,
            profile.bumps_updated_at, profile.filters) == (sort_direction, media_type, bumps,
                                                           filters)


def test_the_query_holds_only_what_the_version_accepts() -> None:
    old = SeerrProfile.for_server(parse_server(status("1.33.2")))
    new = SeerrProfile.for_server(parse_server(status("2.7.3")))
    assert request_query(old, filter="pending", media_type="movie") == {
        "take": 100, "skip": 0, "filter": "pending", "sort": "modified"}
    assert request_query(new, filter="pending", media_type="movie", sort="added") == {
        "take": 100, "skip": 0, "filter": "pending", "sort": "added", "sortDirection": "desc",
        "mediaType": "movie"}
    with pytest.raises(ValueError, match="completed"):
        request_query(old, filter="completed")
    assert request_query(new, filter="completed")["filter"] == "completed"


def run(handler: Callable[[httpx.Request], httpx.Response], action: Any) -> Any:
    async def go() -> Any:
        async with JellyseerrClient(CONFIG, transport=httpx.MockTransport(handler),
                                    retry_budget=2.0) as client:
            return await action(client)
    return asyncio.run(go())


def listing(results: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    return {"pageInfo": {"pages": 1, "pageSize": 100, "results": len(results) if total is None
                         else total, "page": 1}, "results": results}


def request(rid: int, media_type: str = "movie", status: int = 1) -> dict[str, Any]:
    return {"id": rid, "status": status, "type": media_type, "is4k": False,
            "createdAt": "2026-11-01T13:51:00.111Z", "updatedAt": "2026-11-01T13:51:00.111Z",
            "media": {"id": rid, "tmdbId": 1000 + rid, "tvdbId": None, "status": 2,
                      "status4k": 1}, "seasons": [], "requestedBy": None}


def test_the_version_is_read_once_and_each_listing_sends_only_accepted_parameters() -> None:
    asked: list[tuple[str, dict[str, str]]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        asked.append((req.url.path, dict(req.url.params)))
        if req.url.path == "/api/v1/status":
            return httpx.Response(200, json=status("2.1.0"))
        if "sortDirection" in req.url.params or "mediaType" in req.url.params:
            return httpx.Response(400, json={"message": "Unknown query parameter"})
        return httpx.Response(200, json=listing([request(1, "movie"), request(2, "tv")]))

    async def two(client: JellyseerrClient) -> tuple[list[int], list[int]]:
        films = await client.list_requests(filter="pending", media_type="movie")
        everything = await client.list_requests(filter="all", sort="added")
        return [r.id for r in films.requests], [r.id for r in everything.requests]

    assert run(handle, two) == ([1], [1, 2])
    assert [path for path, _ in asked].count("/api/v1/status") == 1
    assert asked[1][1] == {"take": "100", "skip": "0", "filter": "pending", "sort": "modified"}


def test_a_title_look_up_is_bounded_well_under_the_service_timeout() -> None:
    """A TMDB that hangs behind Seerr must not hold the cycle for the service's 10 s timeout:
    the look-up's own bound reaches httpx (connect, read, write, pool)."""
    seen: list[dict[str, float]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req.extensions["timeout"])
        return httpx.Response(200, json={"id": 1, "title": "Film"})

    assert run(handle, lambda c: title(c, MediaType.MOVIE, 1)) == "Film"
    assert seen and all(0 < v <= TITLE_TIMEOUT for v in seen[0].values())
    assert CONFIG.timeout > TITLE_TIMEOUT


def test_only_a_real_404_means_no_title() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/1"):
            return httpx.Response(404, json={"message": "Movie not found."})
        return httpx.Response(500, json={"message": "Unable to retrieve movie."})

    assert run(handle, lambda c: title(c, MediaType.MOVIE, 1)) is None
    with pytest.raises(ServiceUnavailable):
        run(handle, lambda c: title(c, MediaType.MOVIE, 2))


async def title(client: JellyseerrClient, media_type: MediaType, tmdb_id: int) -> str | None:
    """The display title Jellyseerr gives for the TMDB id (None: it knows none)."""
    info = await client.title_info(media_type, tmdb_id)
    return info.title if info else None
