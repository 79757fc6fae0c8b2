"""Posters: the cache on disk (pictures only, whole files, bounded, the media server's first),
what a round chooses to fetch (pure), and a round against the services' real clients over
httpx.MockTransport: which calls, counted apart from the polls, and what is kept."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from reconciler.artwork.cache import JELLYFIN, TMDB, ArtworkCache, Cached, picture_type
from reconciler.artwork.fetch import ArtworkFetcher, Wanted, wanted
from reconciler.config import ServiceConfig
from reconciler.cycle import Clients
from reconciler.models import MediaType
from reconciler.services.jellyfin import JellyfinClient
from reconciler.services.jellyseerr import JellyseerrClient
from reconciler.states import RequestState
from reconciler.store import Store
from reconciler.store.rows import RequestBrief
from tests.web.support import NOW, row

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 300


def brief(rid: int, tmdb: int, *, tv: bool = False, item: str | None = None,
          hours_ago: float = 0) -> RequestBrief:
    return RequestBrief(rid, MediaType.TV if tv else MediaType.MOVIE, f"T{rid}", tmdb,
                        RequestState.APPROVED, False, None, None,
                        NOW - timedelta(hours=hours_ago), None, item)


def test_only_pictures_are_kept_whole_and_the_media_servers_replaces_tmdbs(
        tmp_path: Path) -> None:
    cache = ArtworkCache(tmp_path / "artwork", 1024 * 1024)
    assert picture_type(PNG) == "png" and picture_type(JPEG) == "jpg"
    assert picture_type(b"<svg onload='x'/>") is None and picture_type(b"<html>") is None
    assert cache.save("movie-1", TMDB, b"<svg/>") is None  # not a picture: nothing kept
    tmdb = cache.save("movie-1", TMDB, JPEG)
    assert tmdb is not None and tmdb.name == "movie-1.tmdb.jpg"
    assert cache.find("movie-1") == tmdb
    jf = cache.save("movie-1", JELLYFIN, PNG)
    assert jf is not None and cache.find("movie-1") == jf and not tmdb.exists()
    assert sorted(os.listdir(cache.folder)) == ["movie-1.jf.png"]  # no temporary left behind
    assert cache.path("movie-1.jf.png") == jf
    for name in ("../config.toml", "movie-1.jf.svg", "movie-2.jf.png", "x"):
        assert cache.path(name) is None


def test_the_folder_stays_under_its_bound_the_oldest_going_first(tmp_path: Path) -> None:
    cache = ArtworkCache(tmp_path / "artwork", 3 * len(JPEG) + 10)
    for n in range(1, 6):
        cache.save(f"movie-{n}", TMDB, JPEG)
        os.utime(cache.folder / f"movie-{n}.tmdb.jpg", ns=(n * 10**9, n * 10**9))
    cache.evict()
    assert sorted(cache.index()) == ["movie-3", "movie-4", "movie-5"]
    off = ArtworkCache(tmp_path / "none", 0)
    assert not off.enabled and off.save("movie-1", TMDB, JPEG) is None


def test_a_poster_not_to_be_had_is_asked_for_again_after_a_day(tmp_path: Path) -> None:
    cache = ArtworkCache(tmp_path / "artwork", 1024 * 1024)
    cache.give_up("tv-9")
    now = datetime.now(UTC)
    assert cache.missing(now) == {"tv-9"}
    assert cache.missing(now + timedelta(days=1, minutes=1)) == set()
    cache.save("tv-9", TMDB, PNG)
    assert cache.missing(now) == set()  # found after all: the mark goes


def test_a_round_chooses_the_newest_first_and_upgrades_to_the_media_servers() -> None:
    briefs = [brief(1, 10, hours_ago=3), brief(2, 20, hours_ago=1, item="jf20"),
              brief(3, 30, hours_ago=2), brief(4, 10, hours_ago=0),  # the same film again
              brief(5, 50, hours_ago=5), brief(6, None, hours_ago=0)]  # type: ignore[arg-type]
    cached = {"movie-20": Cached("movie-20.tmdb.jpg", TMDB, 1),
              "movie-30": Cached("movie-30.tmdb.jpg", TMDB, 1)}
    items = {b.id: b.jellyfin_item_id for b in briefs if b.jellyfin_item_id}
    chosen = wanted(briefs, items, cached, missing={"movie-50"})
    assert chosen == [Wanted("movie-10", MediaType.MOVIE, 10, None),
                      Wanted("movie-20", MediaType.MOVIE, 20, "jf20")]
    assert len(wanted([brief(i, i) for i in range(1, 40)], {}, {}, set(), limit=5)) == 5


def service(name: str, url: str) -> ServiceConfig:
    return ServiceConfig(name=name, url=url, api_key=f"{name}-key-123", poll_interval=30,
                         timeout=5, verify_tls=True)


def test_a_round_fetches_from_jellyfin_else_through_jellyseerr_counted_apart(
        tmp_path: Path) -> None:
    seen: list[str] = []

    def jellyfin(request: httpx.Request) -> httpx.Response:
        seen.append(f"jellyfin {request.url.path}?{request.url.query.decode()}")
        if request.url.path == "/Items/jf603/Images/Primary":
            return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
        return httpx.Response(404)

    def seerr(request: httpx.Request) -> httpx.Response:
        seen.append(f"jellyseerr {request.url.path}")
        assert request.headers["X-Api-Key"] == "jellyseerr-key-123"
        if request.url.path == "/api/v1/movie/949":
            return httpx.Response(200, json={"id": 949, "title": "Heat",
                                             "posterPath": "/abcDEF123.jpg"})
        if request.url.path == "/api/v1/tv/1399":
            return httpx.Response(200, json={"id": 1399, "name": "Show", "posterPath": None})
        if request.url.path == "/imageproxy/tmdb/t/p/w300_and_h450_face/abcDEF123.jpg":
            return httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"})
        return httpx.Response(404)

    clients = Clients({
        "jellyseerr": JellyseerrClient(service("jellyseerr", "http://seerr.test"),
                                       transport=httpx.MockTransport(seerr)),
        "jellyfin": JellyfinClient(service("jellyfin", "http://jf.test"),
                                   transport=httpx.MockTransport(jellyfin)),
    })
    store = Store.open(tmp_path / "r.db")
    with store.transaction():
        store.save_request(replace(row(1, RequestState.AVAILABLE, "Matrix"), tmdb_id=603,
                                   jellyfin_item_id="jf603"), None)
        store.save_request(replace(row(2, RequestState.APPROVED, "Heat"), tmdb_id=949), None)
        store.save_request(replace(row(3, RequestState.APPROVED, "Show", tv=True),
                                   tmdb_id=1399), None)
    cache = ArtworkCache(tmp_path / "artwork", 1024 * 1024)
    fetcher = ArtworkFetcher(cache, store, lambda: clients, lambda: NOW)

    async def rounds() -> tuple[int, int, dict[str, int], list[Wanted]]:
        first = await fetcher.round(fetcher.choose())
        again = fetcher.choose()
        await clients.aclose()
        return first.saved, first.none, first.calls, again

    saved, none, calls, again = asyncio.run(rounds())
    store.close()
    assert (saved, none) == (2, 1)
    assert sorted(cache.index()) == ["movie-603", "movie-949"]
    assert cache.index()["movie-603"].source == JELLYFIN
    assert calls == {"jellyfin": 1, "jellyseerr": 3}
    assert "jellyfin /Items/jf603/Images/Primary?maxWidth=300&quality=85" in seen
    assert again == []  # everything had (or given up on for a day): nothing to ask
    for client in clients.values():
        assert client.stats.calls == 0  # never counted as a poll's calls


def test_a_failing_service_ends_the_round_and_nothing_is_kept(tmp_path: Path) -> None:
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503)

    clients = Clients({"jellyseerr": JellyseerrClient(
        service("jellyseerr", "http://seerr.test"), transport=httpx.MockTransport(down))})
    store = Store.open(tmp_path / "r.db")
    with store.transaction():
        for n in range(1, 6):
            store.save_request(replace(row(n, RequestState.APPROVED, f"F{n}"), tmdb_id=n), None)
    cache = ArtworkCache(tmp_path / "artwork", 1024 * 1024)
    fetcher = ArtworkFetcher(cache, store, lambda: clients, lambda: NOW)
    stats = asyncio.run(fetcher.round(fetcher.choose()))
    asyncio.run(clients.aclose())
    store.close()
    assert stats.failed >= 1 and stats.saved == 0 and len(calls) <= 2  # two at a time
    assert cache.index() == {} and cache.missing(datetime.now(UTC)) == set()


@pytest.mark.parametrize("body", [b"x" * (5 * 1024 * 1024)])
def test_a_picture_too_large_is_refused(tmp_path: Path, body: bytes) -> None:
    def big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    client = JellyfinClient(service("jellyfin", "http://jf.test"),
                            transport=httpx.MockTransport(big))

    async def fetch() -> None:
        try:
            await client.primary_image("a1", 300)
        finally:
            await client.aclose()

    with pytest.raises(Exception, match="exceeds"):
        asyncio.run(fetch())
