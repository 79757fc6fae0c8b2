"""PlexClient through httpx.MockTransport: paging by the container headers, the agents' GUIDs,
what is playable, folder scans, and the token kept out of every URL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from reconciler.config import ServiceConfig
from reconciler.errors import BadResponse
from reconciler.services.plex import PlexClient, parse_metadata

TOKEN = "pLeXtOkEn-9f8e7d6c5b4a"
CONFIG = ServiceConfig("plex", "http://plex.test:32400", TOKEN, 30, 5, True)


def run(handler: Any, action: Any) -> Any:
    async def go() -> Any:
        async with PlexClient(CONFIG, transport=httpx.MockTransport(handler)) as client:
            return await action(client)
    return asyncio.run(go())


def container(**fields: Any) -> httpx.Response:
    return httpx.Response(200, json={"MediaContainer": fields})


def section(key: str, kind: str, agent: str, *paths: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": kind, "title": f"Section {key}", "agent": agent,
            "uuid": f"uuid-{key}", "language": "en-US",
            "Location": [{"id": n, "path": p} for n, p in enumerate(paths)], **extra}


def movie(key: int, *guids: str, files: list[list[str]] | None = None,
          **extra: Any) -> dict[str, Any]:
    media = [{"id": key * 10 + n, "width": 1920,
              "Part": [{"id": key * 10 + n, "key": f"/library/parts/{key}/file.mkv", "file": f}
                       for f in parts]}
             for n, parts in enumerate(files if files is not None else [[f"/m/{key}.mkv"]])]
    return {"ratingKey": str(key), "key": f"/library/metadata/{key}", "type": "movie",
            "title": f"Film {key}", "guid": f"plex://movie/{key:024x}", "addedAt": 1,
            "updatedAt": 1700000000, "Guid": [{"id": g} for g in guids], "Media": media,
            **extra}


async def pages(c: Any, **kwargs: Any) -> list[Any]:
    return [p async for p in c.item_pages(**kwargs)]


def test_the_token_travels_in_its_header_and_never_in_a_url() -> None:
    seen: list[httpx.Request] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path == "/library/sections/all":
            return container(Directory=[section("1", "movie", "tv.plex.agents.movie", "/m")])
        if req.method == "POST":
            return httpx.Response(200)
        if req.url.path.startswith("/library/metadata/"):
            return container(Metadata=[movie(1)])
        return container(totalSize=1, Metadata=[movie(1)])

    async def everything(c: Any) -> None:
        await pages(c, min_date_last_saved=datetime(2026, 1, 1, tzinfo=UTC))
        await c.item_count()
        await c.newest_created()
        await c.items_by_ids(["1"])
        await c.report_media_updated(["/m/New (2026)/New (2026).mkv"])
        await c.refresh_library(None)
        await c.library_scan_running()
        await c.system_info()

    run(handle, everything)
    assert len(seen) > 10
    for req in seen:
        assert TOKEN not in str(req.url)
        assert req.headers["X-Plex-Token"] == TOKEN
        assert req.headers["Accept"] == "application/json"
        assert req.headers["X-Plex-Client-Identifier"] == "reconciler"


def test_a_section_is_paged_by_headers_until_its_total_size() -> None:
    windows: list[tuple[str, str, dict[str, str]]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        start = int(req.headers["X-Plex-Container-Start"])
        size = int(req.headers["X-Plex-Container-Size"])
        windows.append((req.headers["X-Plex-Container-Start"],
                        req.headers["X-Plex-Container-Size"], dict(req.url.params)))
        items = [movie(k, "tmdb://1") for k in range(start, min(start + size, 5))]
        return container(size=len(items), offset=start, totalSize=5, Metadata=items)

    async def listing(c: Any) -> list[Any]:
        return [p async for p in c.section_pages("7", "movie", page_size=2)]

    got = run(handle, listing)
    assert [(s, n) for s, n, _ in windows] == [("0", "2"), ("2", "2"), ("4", "2")]
    assert windows[0][2] == {"type": "1", "includeGuids": "1", "sort": "addedAt:asc"}
    assert [len(p.items) for p in got] == [2, 2, 1] and {p.total for p in got} == {5}


def test_an_empty_page_ends_a_listing_that_announced_more() -> None:
    calls: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        calls.append(req.headers["X-Plex-Container-Start"])
        if req.headers["X-Plex-Container-Start"] == "0":
            return container(size=1, totalSize=9, Metadata=[movie(1)])
        return container(size=0, totalSize=9)

    async def listing(c: Any) -> list[Any]:
        return [p async for p in c.section_pages("1", "movie", page_size=1)]

    assert [len(p.items) for p in run(handle, listing)] == [1, 0]
    assert calls == ["0", "1"]


def test_item_pages_lists_films_shows_and_episodes_of_video_sections_only() -> None:
    asked: list[tuple[str, str]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/library/sections/all":
            return container(Directory=[
                section("1", "movie", "tv.plex.agents.movie", "/m"),
                section("2", "show", "tv.plex.agents.series", "/tv"),
                section("3", "artist", "tv.plex.agents.music", "/music")])
        asked.append((req.url.path, req.url.params["type"]))
        return container(totalSize=0)

    run(handle, pages)
    assert asked == [("/library/sections/1/all", "1"), ("/library/sections/2/all", "2"),
                     ("/library/sections/2/all", "4")]


def test_the_incremental_filter_is_updated_after_in_epoch_seconds() -> None:
    queries: list[list[tuple[str, str]]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/library/sections/all":
            return container(Directory=[section("1", "movie", "tv.plex.agents.movie", "/m")])
        queries.append(parse_qsl(req.url.query.decode()))
        return container(totalSize=0)

    run(handle, lambda c: pages(c, min_date_last_saved=datetime(2026, 1, 22, tzinfo=UTC)))
    assert ("updatedAt>>", "1769040000") in queries[0]


def test_current_agent_guids_become_provider_ids_and_others_are_ignored() -> None:
    item = parse_metadata(movie(1, "imdb://tt0133093", "tmdb://603", "tvdb://169",
                                "anidb://42", "plex://movie/abc"))
    assert item is not None
    assert item.provider_ids == {"Imdb": "tt0133093", "Tmdb": "603", "Tvdb": "169"}
    assert not item.legacy_guid


def test_a_legacy_agent_item_has_no_ids_to_match_and_says_so() -> None:
    obj = movie(2, guid="com.plexapp.agents.imdb://tt0034583?lang=en")
    del obj["Guid"]
    item = parse_metadata(obj)
    assert item is not None and item.legacy_guid and item.provider_ids == {}
    assert item.to_index_item().provider_ids == {}


def test_a_section_on_a_legacy_agent_is_recognised() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        return container(Directory=[
            section("1", "movie", "tv.plex.agents.movie", "/m"),
            section("2", "show", "com.plexapp.agents.thetvdb", "/tv"),
            section("3", "movie", "com.plexapp.agents.hama", "/anime")])

    found = run(handle, lambda c: c.sections())
    assert [s.legacy_agent for s in found] == [False, True, True]


@pytest.mark.parametrize(("files", "playable"), [
    ([["/m/a.mkv"]], True),
    ([["/m/a.cd1.mkv", "/m/a.cd2.mkv"]], True),
    ([[]], False),  # a media without parts
    ([], False),  # no media at all
])
def test_playable_means_a_media_part_with_a_file(files: list[list[str]],
                                                  playable: bool) -> None:
    item = parse_metadata(movie(3, files=files))
    assert item is not None and item.is_playable is playable
    index = item.to_index_item()
    assert index.is_playable is playable
    assert index.location_type == ("FileSystem" if playable else "Virtual")


def test_a_part_reported_missing_is_not_playable() -> None:
    obj = movie(4)
    obj["Media"][0]["Part"][0]["exists"] = False
    item = parse_metadata(obj)
    assert item is not None and not item.is_playable


def test_an_episode_keeps_its_show_season_and_number() -> None:
    obj = {"ratingKey": "11", "key": "/library/metadata/11", "type": "episode", "title": "E",
           "addedAt": 1, "updatedAt": 1700000000, "guid": "plex://episode/1",
           "grandparentRatingKey": "9", "grandparentGuid": "plex://show/9", "parentIndex": 2,
           "index": 5, "Guid": [{"id": "tvdb://8357424"}],
           "Media": [{"id": 1, "Part": [{"id": 1, "key": "/p", "file": "/tv/S/e.mkv"}]}]}
    item = parse_metadata(obj)
    assert item is not None
    index = item.to_index_item()
    assert (index.type, index.series_id, index.season, index.episode) == ("Episode", "9", 2, 5)
    assert index.covers_episode(2, 5) and index.is_playable
    assert item.show_guid == "plex://show/9"
    assert index.date_last_saved == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_a_season_or_a_clip_is_not_indexed() -> None:
    assert parse_metadata({"ratingKey": "5", "type": "season", "title": "Season 1"}) is None
    assert parse_metadata({"ratingKey": "6", "type": "clip", "title": "Trailer"}) is None


def test_an_item_without_a_rating_key_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="ratingKey"):
        parse_metadata({"type": "movie", "title": "?"})


def test_a_missing_media_container_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="MediaContainer"):
        run(lambda req: httpx.Response(200, json={"Directory": []}), lambda c: c.sections())


def test_new_files_are_scanned_by_folder_in_their_section_once() -> None:
    posts: list[tuple[str, str | None]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        if req.method == "POST":
            posts.append((req.url.path, req.url.params.get("path")))
            return httpx.Response(200)
        return container(Directory=[
            section("1", "movie", "tv.plex.agents.movie", "/data/movies"),
            section("2", "show", "tv.plex.agents.series", "/data/tv", "/data/tv2"),
            section("3", "movie", "tv.plex.agents.movie", "D:\\Films")])

    run(handle, lambda c: c.report_media_updated([
        "/data/tv2/Show/Season 01/Show - S01E01.mkv",
        "/data/tv2/Show/Season 01/Show - S01E02.mkv",
        "/data/movies/Dune (2021)",  # a folder (no extension): scanned itself
        "D:\\Films\\Heat (1995)\\Heat (1995).mkv",
        "/data/moviesX/Other/Other.mkv",  # in no section's folders
        ""]))
    assert posts == [
        ("/library/sections/2/refresh", "/data/tv2/Show/Season 01"),
        ("/library/sections/1/refresh", "/data/movies/Dune (2021)"),
        ("/library/sections/3/refresh", "D:\\Films\\Heat (1995)")]


def test_no_paths_is_no_call() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        raise AssertionError("called")

    run(handle, lambda c: c.report_media_updated([]))


def test_a_scan_is_running_while_any_section_is_refreshing() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        return container(Directory=[
            section("1", "movie", "tv.plex.agents.movie", "/m", refreshing=False),
            section("2", "show", "tv.plex.agents.series", "/tv", refreshing=True)])

    assert run(handle, lambda c: c.library_scan_running()) is True


def test_one_gone_item_hides_no_other_when_plex_answers_404_for_the_lot() -> None:
    asked: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        ids = req.url.path.rsplit("/", 1)[1]
        asked.append(ids)
        if "," in ids or ids == "99":
            return httpx.Response(404)
        return container(Metadata=[movie(int(ids))])

    found = run(handle, lambda c: c.items_by_ids(["1", "99", "2"]))
    assert asked == ["1,99,2", "1", "99", "2"]
    assert [i.id for i in found] == ["1", "2"]
