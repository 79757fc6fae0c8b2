"""The simulated Emby and Plex answer in their published descriptions' shapes, and the Emby and
Plex clients ask them only for what those descriptions define (Emby.SDK's OpenAPI 3.0
document; the community OpenAPI 3.1 description of Plex). Every call of both clients runs
against the fakes through a recording transport; each request and response is checked. The
checks have teeth: the last tests break a request or an answer and expect a problem."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from reconciler.config import ServiceConfig
from reconciler.services.emby import EmbyClient
from reconciler.services.plex import PlexClient
from simstack import World
from simstack.emby import EmbyWorld
from simstack.emby import serve as serve_emby
from simstack.plex import PlexWorld
from simstack.plex import serve as serve_plex
from tests.contract.spec_support import Contract

KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Exchange:
    service: str
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    status: int
    content_type: str
    body: bytes


class Recording(httpx.AsyncBaseTransport):
    """The real transport, keeping a copy of each exchange."""

    def __init__(self, service: str, log: list[Exchange]) -> None:
        self.service, self.log = service, log
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        try:
            body = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        self.log.append(Exchange(self.service, request.method, request.url.path,
                                 list(request.url.params.multi_items()), dict(request.headers),
                                 response.status_code,
                                 response.headers.get("Content-Type", ""), body))
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=httpx.ByteStream(body))

    async def aclose(self) -> None:
        await self.inner.aclose()


def emby_world(world: World) -> EmbyWorld:
    ew = EmbyWorld(world)
    movies = ew.add_library("Movies", ["/data/movies"])
    ew.add_library("Shows", ["/data/tv"], "tvshows")
    ew.add_movie("The Matrix", tmdb_id=603, imdb_id="tt0133093", year=1999, width=3840,
                 versions=[("/data/movies/The Matrix (1999)/The Matrix 1080p.mkv", 1920)])
    ew.add_movie("Stub", tmdb_id=1, is_placeholder=True, library=movies)
    series = ew.add_series("Severance", tvdb_id=371980, tmdb_id=95396)
    ew.add_episode(series, 1, 1, episode_end=2)
    ew.add_episode(series, 1, 3, location_type="Virtual")
    ew.add_movie("Dune: Part Two", tmdb_id=693134, year=2024, pending=True)
    ew.library_scan_duration = 60
    return ew


def plex_world(world: World) -> PlexWorld:
    pw = PlexWorld(world)
    pw.add_section("Movies", ["/data/movies"])
    pw.add_section("TV Shows", ["/data/tv"], "show")
    pw.add_section("Classics", ["/data/classics"], legacy=True)
    pw.add_movie("The Matrix", tmdb_id=603, imdb_id="tt0133093", year=1999,
                 versions=[("/data/movies/The Matrix (1999)/The Matrix 2160p.mkv", 3840)])
    show = pw.add_show("Severance", tvdb_id=371980, tmdb_id=95396, imdb_id="tt11280740")
    pw.add_episode(show, 1, 1, tvdb_id=8357424)
    pw.add_episode(show, 1, 2, files=[])
    pw.add_movie("Casablanca", imdb_id="tt0034583", section="Classics")
    pw.add_movie("Dune: Part Two", tmdb_id=693134, pending=True)
    pw.scan_duration = 60
    return pw


async def drive(client: Any, world: World) -> None:
    """Every call the media-server interface offers, and the scan-running flag both ways."""
    since = START - timedelta(days=1)
    await client.system_info()
    [p async for p in client.item_pages(page_size=2)]
    [p async for p in client.item_pages(min_date_last_saved=since, media_sources=True)]
    await client.item_count()
    await client.newest_created()
    listed = [i.id async for p in client.item_pages() for i in p.items]
    await client.items_by_ids([*listed[:3], "999999"])
    await client.items_by_ids(["999998"])
    libraries = await client.libraries()
    await client.report_media_updated([f"{libraries[0].locations[0]}/New (2026)/New.mkv"])
    await client.refresh_library(libraries[0])
    await client.refresh_library(None)
    await client.library_scan_running()
    world.advance(61)
    await client.library_scan_running()
    if isinstance(client, EmbyClient):
        await client.items_by_provider_ids([("Tmdb", "603"), ("Tvdb", "371980")])
    else:
        [p async for p in client.section_pages("1", "movie", page_size=1)]


@pytest.fixture(scope="module")
def exchanges() -> Iterator[list[Exchange]]:
    log: list[Exchange] = []
    world = World(START)
    runners = {"emby": serve_emby(emby_world(world), KEY),
               "plex": serve_plex(plex_world(world), KEY)}
    kinds: dict[str, type[Any]] = {"emby": EmbyClient, "plex": PlexClient}
    try:
        for service, runner in runners.items():
            config = ServiceConfig(service, runner.url, KEY, 30.0, 5.0, True)

            async def run(service: str = service, config: ServiceConfig = config) -> None:
                async with kinds[service](config, transport=Recording(service, log),
                                          max_attempts=1) as client:
                    await drive(client, world)

            asyncio.run(run())
    finally:
        for runner in runners.values():
            runner.stop()
    yield log


CLIENT_ENDPOINTS = {
    "emby": {"GET /emby/System/Info", "GET /emby/Items", "GET /emby/Library/VirtualFolders/Query",
             "POST /emby/Library/Media/Updated", "POST /emby/Items/{id}/Refresh",
             "POST /emby/Library/Refresh", "GET /emby/ScheduledTasks"},
    "plex": {"GET /", "GET /library/sections/all", "GET /library/sections/{id}/all",
             "GET /library/metadata/{id}", "POST /library/sections/{id}/refresh"},
}


def _endpoint(e: Exchange) -> str:
    parts = ["{id}" if re.fullmatch(r"[\d,]+", p) else p for p in e.path.split("/")]
    return f"{e.method} {'/'.join(parts)}"


def test_every_endpoint_the_clients_use_was_exercised(exchanges: list[Exchange]) -> None:
    seen: dict[str, set[str]] = {}
    for e in exchanges:
        seen.setdefault(e.service, set()).add(_endpoint(e))
    assert seen == CLIENT_ENDPOINTS
    assert {e.status for e in exchanges} == {200, 404}
    assert all(e.status == 200 or "metadata/999998" in e.path or "999999" in e.path
               for e in exchanges)


@pytest.mark.parametrize("service", ["emby", "plex"])
def test_the_fakes_answer_in_the_published_shapes(
        service: str, exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract(service)
    problems = [p for e in exchanges if e.service == service
                for p in checker.response_problems(e.method, e.path, e.status, e.content_type,
                                                   e.body)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", ["emby", "plex"])
def test_the_clients_send_only_the_descriptions_parameters(
        service: str, exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract(service)
    problems = [p for e in exchanges if e.service == service
                for p in checker.request_problems(e.method, e.path, e.query, e.headers)]
    assert not problems, "\n".join(problems)


# -- the checks have teeth ---------------------------------------------------------------------


def _first(exchanges: list[Exchange], service: str, path: str) -> Exchange:
    return next(e for e in exchanges if e.service == service and e.path == path
                and e.status == 200 and e.body)


def test_a_plex_item_without_its_rating_key_or_with_a_foreign_guid_is_refused(
        exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract("plex")
    e = _first(exchanges, "plex", "/library/sections/1/all")
    data = json.loads(e.body)
    for breakage in ("ratingKey", "guid"):
        broken = json.loads(e.body)
        item = broken["MediaContainer"]["Metadata"][0]
        if breakage == "ratingKey":
            del item["ratingKey"]
        else:
            item["Guid"].append({"id": "anidb://42"})
        assert checker.response_problems(e.method, e.path, 200, e.content_type,
                                         json.dumps(broken).encode()), breakage
    assert not checker.response_problems(e.method, e.path, 200, e.content_type,
                                         json.dumps(data).encode())


def test_a_plex_request_without_its_token_or_with_a_wordy_filter_is_refused(
        exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract("plex")
    e = next(e for e in exchanges if e.service == "plex" and "updatedAt>>" in dict(e.query))
    assert not checker.request_problems(e.method, e.path, e.query, e.headers)
    headers = {k: v for k, v in e.headers.items() if k.lower() != "x-plex-token"}
    assert checker.request_problems(e.method, e.path, e.query, headers)
    wordy = [(k, "yesterday" if k == "updatedAt>>" else v) for k, v in e.query]
    assert checker.request_problems(e.method, e.path, wordy, e.headers)
    assert checker.request_problems(e.method, e.path, [*e.query, ("type", "12")], e.headers)


def test_an_emby_item_of_a_location_type_emby_lacks_is_refused(
        exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract("emby")
    e = _first(exchanges, "emby", "/emby/Items")
    broken = json.loads(e.body)
    broken["Items"][0]["LocationType"] = "Remote"
    assert checker.response_problems(e.method, e.path, 200, e.content_type,
                                     json.dumps(broken).encode())


def test_an_emby_request_without_its_token_or_with_a_jellyfin_parameter_is_refused(
        exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract("emby")
    e = _first(exchanges, "emby", "/emby/Items")
    assert not checker.request_problems(e.method, e.path, e.query, e.headers)
    headers = {k: v for k, v in e.headers.items() if k.lower() != "x-emby-token"}
    assert checker.request_problems(e.method, e.path, e.query, headers)
    assert checker.request_problems(e.method, e.path,
                                    [*e.query, ("EnableTotalRecordCount", "true")], e.headers)
    assert checker.request_problems(e.method, "/Items", e.query, e.headers)  # no prefix
