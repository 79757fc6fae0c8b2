"""The cycle against in-process fake services (httpx.MockTransport): a film's path from
approval to available, and what an unknown service does to it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler.config import load_config
from reconciler.cycle import Reconciler, make_clients
from reconciler.store import Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HTTP_DATE = "Sun, 01 Nov 2026 12:00:00 GMT"


class World:
    def __init__(self) -> None:
        self.has_file = False
        self.queue: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self.radarr_down = False

    def handler(self, service: str) -> Callable[[httpx.Request], httpx.Response]:
        answers = {"jellyseerr": self._jellyseerr, "radarr": self._radarr,
                   "jellyfin": self._jellyfin}

        def handle(request: httpx.Request) -> httpx.Response:
            return answers[service](request) or _answer(404)

        return handle

    def _jellyseerr(self, request: httpx.Request) -> httpx.Response | None:
        path = request.url.path
        if path == "/api/v1/status":
            return _answer(200, {
                "version": "2.7.3", "commitTag": "v2.7.3", "updateAvailable": False,
                "commitsBehind": 0, "restartRequired": False})
        if path == "/api/v1/request":
            return _answer(200, {
                "pageInfo": {"pages": 1, "pageSize": 100, "results": 1, "page": 1},
                "results": [{
                    "id": 7, "status": 2, "type": "movie", "is4k": False,
                    "createdAt": "2026-11-01T10:00:00.000Z",
                    "updatedAt": "2026-11-01T10:00:00.000Z",
                    "media": {"tmdbId": 603, "tvdbId": None, "externalServiceId": 1},
                    "seasons": [],
                }],
            })
        if path == "/api/v1/movie/603":
            return _answer(200, {"title": "The Matrix"})
        return None

    def _radarr(self, request: httpx.Request) -> httpx.Response | None:
        path = request.url.path
        if self.radarr_down:
            return _answer(500)
        movie = {"id": 1, "tmdbId": 603, "title": "The Matrix", "hasFile": self.has_file,
                 "path": "/movies/The Matrix (1999)", "tags": [],
                 "rootFolderPath": "/movies"}
        if self.has_file:
            movie["movieFile"] = {"path": "/movies/The Matrix (1999)/matrix.mkv"}
        if path == "/api/v3/movie":
            return _answer(200, [movie])
        if path == "/api/v3/movie/1":
            return _answer(200, movie)
        if path == "/api/v3/queue":
            return _answer(200, {"page": 1, "pageSize": 500, "totalRecords": len(self.queue),
                                 "records": self.queue})
        if path in ("/api/v3/history/movie", "/api/v3/history/since"):
            return _answer(200, self.history)
        return None

    def _jellyfin(self, request: httpx.Request) -> httpx.Response | None:
        path = request.url.path
        if path == "/Items":
            return _answer(200, {"Items": self.items, "TotalRecordCount": len(self.items),
                                 "StartIndex": 0})
        if path == "/Library/VirtualFolders":
            return _answer(200, [])
        if request.method == "POST":
            return _answer(204)
        return None


def _answer(status: int, body: Any = None) -> httpx.Response:
    """A response with the Date header the clients read (and `body` as JSON, if any)."""
    return httpx.Response(status, headers={"Date": HTTP_DATE}, json=body)


def _setup(tmp_path: Path) -> tuple[World, Reconciler, Store]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[reconciler]\ndatabase = "r.db"\n'
        '[jellyseerr]\nurl = "http://seerr.test"\napi_key = "k1"\n'
        '[radarr]\nurl = "http://radarr.test"\napi_key = "k2"\n'
        '[jellyfin]\nurl = "http://jf.test"\napi_key = "k3"\n'
    )
    cfg.chmod(0o600)
    config = load_config(cfg)
    world = World()
    clients = {
        name: type(client)(config.services[name],
                           transport=httpx.MockTransport(world.handler(name)),
                           max_attempts=1)
        for name, client in make_clients(config).items()
    }
    store = Store.open(config.database)
    return world, Reconciler(config, store, clients=clients, clock=lambda: NOW), store


def test_film_moves_from_approved_to_available_only_when_jellyfin_lists_it(
        tmp_path: Path) -> None:
    world, rec, store = _setup(tmp_path)

    async def cycle() -> int:
        return (await rec.cycle()).exit_code

    assert asyncio.run(cycle()) == 0
    assert store.request(7).state == "approved"  # type: ignore[union-attr]

    world.queue = [{"id": 5, "movieId": 1, "downloadId": "abc", "size": 100.0, "sizeleft": 25.0,
                    "status": "downloading", "trackedDownloadStatus": "ok",
                    "trackedDownloadState": "downloading", "title": "The.Matrix.1999"}]
    assert asyncio.run(cycle()) == 0
    row = store.request(7)
    assert row is not None and row.state == "downloading" and row.progress == 0.75

    world.queue = []
    world.has_file = True
    world.history = [{"id": 9, "movieId": 1, "eventType": "downloadFolderImported",
                      "date": "2026-11-01T11:59:00Z", "sourceTitle": "The.Matrix.1999"}]
    assert asyncio.run(cycle()) == 0
    row = store.request(7)
    assert row is not None and row.state == "importing"
    assert row.detail is not None and "waiting for Jellyfin" in row.detail

    world.items = [{"Id": "a" * 32, "Type": "Movie", "Name": "The Matrix",
                    "LocationType": "FileSystem", "Path": "/media/movies/matrix.mkv",
                    "ProviderIds": {"Tmdb": "603"}}]
    assert asyncio.run(cycle()) == 0
    row = store.request(7)
    assert row is not None and row.state == "available" and row.via == "jellyfin"
    assert [t.to_state for t in store.timeline(7)] == [
        "approved", "downloading", "importing", "available"]


def test_unknown_radarr_moves_nothing_and_exits_3(tmp_path: Path) -> None:
    world, rec, store = _setup(tmp_path)
    asyncio.run(rec.cycle())
    world.radarr_down = True
    world.has_file = True
    result = asyncio.run(rec.cycle())
    assert result.exit_code == 3 and result.failed == ["radarr"]
    assert store.request(7).state == "approved"  # type: ignore[union-attr]
    assert len(store.timeline(7)) == 1


def test_a_cycle_that_sees_nothing_new_writes_only_its_poll_rows(tmp_path: Path) -> None:
    world, rec, store = _setup(tmp_path)
    world.has_file = True
    world.items = [{"Id": "b" * 32, "Type": "Movie", "Name": "The Matrix",
                    "LocationType": "FileSystem", "Path": "/media/movies/matrix.mkv",
                    "ProviderIds": {"TheMovieDb": "603"}}]
    asyncio.run(rec.cycle())
    asyncio.run(rec.cycle())
    before = store.counts()
    result = asyncio.run(rec.cycle())
    after = store.counts()
    assert result.rows_written == len(result.polls) == 3
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"polls": 3}
