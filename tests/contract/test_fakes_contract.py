"""The fake servers (`simstack`, used by the end-to-end tests and the demo) answer
in the published shapes, and the real clients ask them only for what the specs define.

A small world is scripted (a film through grab, download and import; an anime TV season pack;
anime files in Shoko, matched and not; Jellyfin items including a placeholder and a missing
episode), then every client call and two real `Reconciler` cycles run against the stack through
a recording transport. Every request is checked against its endpoint's parameters (Jellyfin's
case-insensitively) and every response against the spec's schema for its status.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from reconciler.config import load_config
from reconciler.cycle import CLIENT_TYPES, Reconciler
from reconciler.store import Store
from tests.contract.spec_support import Contract

simulator = pytest.importorskip("simstack")

MATRIX = 603
VIOLET = 533514
LYCORIS_TVDB, LYCORIS_TMDB = 414057, 154494
ANIME_MOVIE = ("Violet Evergarden - The Movie (2020)/"
               "Violet.Evergarden.The.Movie.2020.1080p.BluRay.x265-DemiHuman.mkv")


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


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the real transport and keeps a copy of each exchange."""

    def __init__(self, service: str, log: list[Exchange]) -> None:
        self.service = service
        self.log = log
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        try:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        decoded = httpx.Response(response.status_code, headers=response.headers,
                                 stream=httpx.ByteStream(raw))
        self.log.append(Exchange(
            self.service, request.method, request.url.path, list(request.url.params.multi_items()),
            dict(request.headers), response.status_code,
            response.headers.get("Content-Type", ""), decoded.read()))
        return httpx.Response(response.status_code, headers=response.headers,
                              stream=httpx.ByteStream(raw), extensions=response.extensions)

    async def aclose(self) -> None:
        await self.inner.aclose()


def script_world(world: Any) -> dict[str, Any]:
    """A small but complete world; returns the ids the calls below need."""
    ids: dict[str, Any] = {}
    js, rd, sn, sh, jf = (world.jellyseerr, world.radarr, world.sonarr, world.shoko,
                          world.jellyfin)
    # Jellyfin libraries first, so items land in them.
    ids["movies_lib"] = jf.add_library("Movies", ["/data/movies"], "movies")
    ids["anime_movies_lib"] = jf.add_library("Anime Movies", ["/data/anime/movies"], "movies")
    jf.add_library("Anime", ["/data/anime/shows"], "tvshows")

    # A film: requested, grabbed, downloading (polled), then imported.
    rd.add_tag("anime")
    ids["matrix"] = rd.add_movie(MATRIX, "The Matrix", year=1999)
    js.add_request(MATRIX, "movie", "The Matrix", external_service_id=ids["matrix"])
    ids["matrix_dl"] = rd.grab(ids["matrix"])
    rd.progress(ids["matrix_dl"], 0.4)

    # An anime film, imported, in Shoko (matched) and in Jellyfin through Shokofin.
    ids["violet"] = rd.add_movie(VIOLET, "Violet Evergarden: The Movie", year=2020,
                                 root_folder="/data/anime/movies", tags=["anime"])
    js.add_request(VIOLET, "movie", "Violet Evergarden: The Movie",
                   external_service_id=ids["violet"])
    violet_dl = rd.grab(ids["violet"])
    rd.complete_download(violet_dl)
    rd.import_file(download_id=violet_dl,
                   relative_path=ANIME_MOVIE.split("/", 1)[1])
    movie_series = sh.add_series(15206, "Violet Evergarden Movie", tmdb_movie_ids=[VIOLET])
    movie_episode = sh.add_episode(movie_series, 240112, tmdb_movie_ids=[VIOLET])
    ids["violet_file"] = sh.add_file(f"movies/{ANIME_MOVIE}")
    sh.match_file(ids["violet_file"], movie_series, [movie_episode])
    ids["unmatched_file"] = sh.add_file("movies/Unsorted/Some.Special.2021.mkv")
    jf.add_movie("Violet Evergarden: The Movie", library=ids["anime_movies_lib"],
                 provider_ids={"Shoko Series": str(movie_series),
                               "Shoko File": str(ids["violet_file"])},
                 path=f"/config/data/Shokofin/VFS/{ids['anime_movies_lib']}/Violet Evergarden "
                      f"Movie [shoko-series-{movie_series}]/Violet.mkv")

    # An anime TV season, grabbed as one season pack, then imported.
    ids["lycoris"] = sn.add_series(LYCORIS_TVDB, "Lycoris Recoil", tmdb_id=LYCORIS_TMDB,
                                   series_type="anime", seasons={1: 4},
                                   root_folder="/data/anime/shows", tags=["anime"])
    js.add_request(LYCORIS_TMDB, "tv", "Lycoris Recoil", tvdb_id=LYCORIS_TVDB, seasons=[1],
                   external_service_id=ids["lycoris"])
    ids["pack"] = sn.grab(ids["lycoris"], season=1)
    sn.progress(ids["pack"], 0.5)
    show = sh.add_series(16774, "Lycoris Recoil", tmdb_show_ids=[LYCORIS_TMDB],
                         tvdb_ids=[LYCORIS_TVDB])
    ids["show"] = show
    ids["show_episodes"] = [sh.add_episode(show, 257410 + n) for n in range(1, 5)]

    # Jellyfin: a film, a placeholder, a series with a present and a missing episode.
    ids["jf_matrix"] = jf.add_movie("The Matrix", tmdb_id=MATRIX, year=1999,
                                    library=ids["movies_lib"], pending=True)
    jf.add_movie("The Matrix Reloaded", tmdb_id=604, year=2003, library=ids["movies_lib"],
                 is_placeholder=True)
    series = jf.add_series("Lycoris Recoil", tvdb_id=LYCORIS_TVDB, tmdb_id=LYCORIS_TMDB)
    ids["jf_episode"] = jf.add_episode(series, 1, 1, name="Easy does it")
    jf.add_episode(series, 1, 2, location_type="Virtual")
    jf.add_episode(series, 1, 3, episode_end=4)
    return ids


def import_everything(world: Any, ids: dict[str, Any]) -> None:
    """The film and the season pack finish and are imported; Shoko matches the episodes;
    Jellyfin scans the film it had not listed yet."""
    world.radarr.complete_download(ids["matrix_dl"])
    world.radarr.import_file(download_id=ids["matrix_dl"])
    world.sonarr.import_download(ids["pack"])
    for n, episode in enumerate(ids["show_episodes"], start=1):
        file_id = world.shoko.add_file(
            f"shows/Lycoris Recoil/Season 1/Lycoris.Recoil.S01E{n:02d}.mkv")
        world.shoko.match_file(file_id, ids["show"], [episode])
    world.jellyfin.scan()
    world.advance(minutes=5)


async def drive_clients(clients: dict[str, Any], ids: dict[str, Any]) -> None:
    """Every client call, so every endpoint reconciler uses is exercised."""
    js, rd, sn, sh, jf = (clients[s] for s in ("jellyseerr", "radarr", "sonarr", "shoko",
                                               "jellyfin"))
    since = datetime.now(UTC) - timedelta(days=1)
    await js.status()
    listing = await js.list_requests(page_size=2)
    for req in listing.requests:
        await js.title_info(req.media_type, req.tmdb_id)
    await js.request_by_id(listing.requests[0].id)
    await js.request_by_id(999999)

    for arr in (rd, sn):
        await arr.system_status()
        await arr.queue(page_size=2)
        await arr.queue_paged(page_size=2)
        await arr.tags()
        await arr.history_since(since)
    await rd.movies()
    for tmdb in (MATRIX, VIOLET, 1):
        await rd.movie_by_tmdb(tmdb)
    await rd.movie(ids["matrix"])
    await rd.movie(999999)
    await rd.movie_history(ids["violet"])
    await sn.all_series()
    await sn.series_by_tvdb(LYCORIS_TVDB)
    await sn.series(ids["lycoris"])
    await sn.series(999999)
    await sn.episodes(ids["lycoris"])
    await sn.series_history(ids["lycoris"])

    await sh.init_status()
    await sh.files_by_path(f"/data/anime/movies/{ANIME_MOVIE}")
    await sh.files_by_path("/elsewhere/Unsorted/Some.Special.2021.mkv")
    await sh.files_by_path("/data/anime/movies/Nowhere/Nothing.mkv")
    assert await sh.files_by_tmdb_movie(VIOLET)
    assert await sh.files_by_tmdb_movie(MATRIX) == []
    await sh.series_by_tmdb_show(LYCORIS_TMDB)
    await sh.series_by_tmdb_show(1)

    await jf.system_info()
    pages = [p async for p in jf.item_pages(page_size=3)]
    assert [p async for p in jf.item_pages(min_date_last_saved=since)]
    listed = [i.id for p in pages for i in p.items]
    await jf.items_by_ids([*listed[:3], "0" * 32])
    libraries = await jf.libraries()
    await jf.refresh_library(libraries[0])
    await jf.refresh_library(None)


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Exchange]]:
    """Everything the clients and two reconcile cycles exchanged with the fakes."""
    log: list[Exchange] = []
    tmp = tmp_path_factory.mktemp("fakes")
    world = simulator.World()
    with simulator.SimulatedStack(world) as stack:
        ids = script_world(world)
        config_path = tmp / "config.toml"
        config_path.write_text(stack.config_toml(tmp / "reconciler.db"), encoding="utf-8")
        config_path.chmod(0o600)
        config = load_config(config_path)

        def clients() -> dict[str, Any]:
            return {name: CLIENT_TYPES[name](svc, transport=RecordingTransport(name, log),
                                             max_attempts=1, retry_budget=5.0)
                    for name, svc in config.services.items()}

        async def run() -> None:
            made = clients()
            try:
                await drive_clients(made, ids)
            finally:
                await asyncio.gather(*(c.aclose() for c in made.values()))
            store = Store.open(config.database)
            try:
                reconciler = Reconciler(config, store, clients=clients())
                try:
                    await reconciler.cycle()
                    import_everything(world, ids)
                    await reconciler.cycle()
                finally:
                    await reconciler.aclose()
            finally:
                store.close()

        asyncio.run(run())
    yield log


# Every request the clients make (method, path with ids as {id}), per service.
CLIENT_ENDPOINTS = {
    "jellyseerr": {"GET /api/v1/status", "GET /api/v1/request", "GET /api/v1/request/{id}",
                   "GET /api/v1/movie/{id}", "GET /api/v1/tv/{id}"},
    "radarr": {"GET /api/v3/system/status", "GET /api/v3/queue", "GET /api/v3/queue/details",
               "GET /api/v3/tag",
               "GET /api/v3/history/since", "GET /api/v3/movie", "GET /api/v3/movie/{id}",
               "GET /api/v3/history/movie"},
    "sonarr": {"GET /api/v3/system/status", "GET /api/v3/queue", "GET /api/v3/queue/details",
               "GET /api/v3/tag",
               "GET /api/v3/history/since", "GET /api/v3/series", "GET /api/v3/series/{id}",
               "GET /api/v3/episode", "GET /api/v3/history/series", "GET /api/v3/calendar"},
    "shoko": {"GET /api/v3/Init/Status", "GET /api/v3/File/PathEndsWith",
              "GET /api/v3/Tmdb/Movie/{id}/Shoko/File", "GET /api/v3/Tmdb/Show/{id}/Shoko/Series"},
    "jellyfin": {"GET /System/Info", "GET /Items", "GET /Library/VirtualFolders",
                 "POST /Items/{id}/Refresh", "POST /Library/Refresh"},
}


def _endpoint(e: Exchange) -> str:
    parts = ["{id}" if re.fullmatch(r"\d+|[0-9a-f]{32}", p) else p for p in e.path.split("/")]
    return f"{e.method} {'/'.join(parts)}"


def test_every_endpoint_the_clients_use_was_exercised(exchanges: list[Exchange]) -> None:
    seen: dict[str, set[str]] = {}
    for e in exchanges:
        seen.setdefault(e.service, set()).add(_endpoint(e))
    assert seen == CLIENT_ENDPOINTS
    assert {e.status for e in exchanges} >= {200, 204, 404}


@pytest.mark.parametrize("service", ["jellyseerr", "radarr", "sonarr", "shoko", "jellyfin"])
def test_the_fakes_answer_in_the_published_shapes(
        service: str, exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract(service)
    problems = [p for e in exchanges if e.service == service
                for p in checker.response_problems(e.method, e.path, e.status, e.content_type,
                                                   e.body)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", ["jellyseerr", "radarr", "sonarr", "shoko", "jellyfin"])
def test_the_clients_send_only_the_specs_parameters(
        service: str, exchanges: list[Exchange], contract: Callable[[str], Contract]) -> None:
    checker = contract(service)
    problems = [p for e in exchanges if e.service == service
                for p in checker.request_problems(e.method, e.path, e.query, e.headers)]
    assert not problems, "\n".join(problems)


def test_no_request_reached_a_fake_without_its_key(exchanges: list[Exchange]) -> None:
    assert all(e.status not in (401, 403) for e in exchanges)


# -- what the fakes serve beyond today's client calls, on every Jellyseerr version --------------

# (service, path, query): the endpoints and answers added for the real-server profiles
EXTRA_CALLS: list[tuple[str, str, dict[str, str]]] = [
    ("jellyseerr", "/api/v1/status", {}),
    ("jellyseerr", "/api/v1/auth/me", {}),
    ("jellyseerr", "/api/v1/request", {"take": "20", "skip": "0", "filter": "all",
                                       "sort": "modified"}),
    ("jellyseerr", "/api/v1/request/1", {}),
    ("jellyseerr", "/api/v1/request/2", {}),
    ("jellyseerr", "/api/v1/request/count", {}),
    ("jellyseerr", "/api/v1/media", {"take": "20", "skip": "0", "sort": "modified"}),
    ("jellyseerr", "/api/v1/settings/radarr", {}),
    ("jellyseerr", "/api/v1/settings/sonarr", {}),
    ("jellyseerr", f"/api/v1/movie/{MATRIX}", {}),
    ("radarr", "/api/v3/queue/details", {"includeMovie": "true"}),
    ("radarr", "/api/v3/queue", {"page": "9", "pageSize": "1"}),
    ("radarr", "/api/v3/movie", {"excludeLocalCovers": "true"}),
    ("sonarr", "/api/v3/queue/details", {"includeSeries": "true"}),
    ("jellyfin", "/ScheduledTasks", {"isHidden": "false"}),
]
# The published spec is Seerr's: it describes the Jellyseerr 2.x and Seerr 3.x shapes, but not
# Overseerr 1.33's, whose media have no `jellyfinMediaId` (the spec requires it), as recorded.
SPEC_VERSIONS = ["2.1.0", "2.2.3", "2.7.3", "3.1.0", None]


@pytest.mark.parametrize("version", SPEC_VERSIONS)
def test_the_profiles_extra_endpoints_answer_in_the_published_shapes(
        version: str | None, contract: Callable[[str], Contract]) -> None:
    world = simulator.World(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), jellyseerr_version=version)
    script_world(world)
    world.jellyfin.library_scan_duration = 600
    problems: list[str] = []
    with simulator.SimulatedStack(world) as stack:
        headers = {"jellyseerr": {"X-Api-Key": stack.api_keys["jellyseerr"]},
                   "radarr": {"X-Api-Key": stack.api_keys["radarr"]},
                   "sonarr": {"X-Api-Key": stack.api_keys["sonarr"]},
                   "jellyfin": {"X-Emby-Token": stack.api_keys["jellyfin"]}}
        httpx.post(stack.urls["jellyfin"] + "/Library/Refresh", headers=headers["jellyfin"])
        for service, path, query in EXTRA_CALLS:
            answer = httpx.get(stack.urls[service] + path, params=query,
                               headers=headers[service])
            assert answer.status_code == 200, (service, path, answer.text[:300])
            problems += contract(service).response_problems(
                "GET", path, answer.status_code, answer.headers.get("Content-Type", ""),
                answer.content)
    assert not problems, "\n".join(problems)
