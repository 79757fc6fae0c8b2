"""EmbyClient through httpx.MockTransport: Emby's path prefix and key header, the query Emby
understands (and what it lacks), provider-id lookups, and its shapes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from reconciler.config import ServiceConfig
from reconciler.errors import BadResponse
from reconciler.services.emby import EmbyClient, parse_item, provider_pair

KEY = "3b1f0e9d8c7a6b5c4d3e2f1a0b9c8d7e"


def run(handler: Any, action: Any, url: str = "http://emby.test:8096") -> Any:
    config = ServiceConfig("emby", url, KEY, 30, 5, True)

    async def go() -> Any:
        async with EmbyClient(config, transport=httpx.MockTransport(handler)) as client:
            return await action(client)
    return asyncio.run(go())


def items(*objs: dict[str, Any], total: int | None = None) -> httpx.Response:
    return httpx.Response(200, json={"Items": list(objs),
                                     "TotalRecordCount": len(objs) if total is None else total})


async def all_pages(c: Any, **kwargs: Any) -> list[Any]:
    return [page async for page in c.item_pages(**kwargs)]


def movie(item_id: str, **extra: Any) -> dict[str, Any]:
    return {"Id": item_id, "Name": f"Film {item_id}", "Type": "Movie",
            "LocationType": "FileSystem", "Path": f"/m/{item_id}.mkv",
            "ProviderIds": {"Tmdb": item_id}, **extra}


@pytest.mark.parametrize("url", ["http://emby.test:8096", "http://emby.test:8096/",
                                 "http://emby.test:8096/emby", "http://emby.test:8096/emby/"])
def test_every_path_starts_with_emby_once(url: str) -> None:
    paths: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        paths.append(req.url.path)
        return httpx.Response(200, json={"Version": "4.8.11.0"})

    run(handle, lambda c: c.system_info(), url)
    assert paths == ["/emby/System/Info"]


def test_a_proxy_sub_path_is_kept_before_the_prefix() -> None:
    paths: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        paths.append(req.url.path)
        return httpx.Response(200, json=[])

    run(handle, lambda c: c.library_scan_running(), "https://home.example/media")
    assert paths == ["/media/emby/ScheduledTasks"]


def test_the_key_travels_in_x_emby_token_and_never_in_a_url() -> None:
    seen: list[httpx.Request] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.url.path.endswith("/VirtualFolders/Query"):
            return httpx.Response(200, json={"Items": [], "TotalRecordCount": 0})
        if req.url.path.endswith("/ScheduledTasks"):
            return httpx.Response(200, json=[])
        if req.method == "POST":
            return httpx.Response(200)
        return items(movie("1"))

    async def everything(c: Any) -> None:
        await all_pages(c)
        await c.item_count()
        await c.items_by_ids(["1"])
        await c.items_by_provider_ids([("Tmdb", "1")])
        await c.libraries()
        await c.library_scan_running()
        await c.report_media_updated(["/m/x.mkv"])
        await c.refresh_library(None)

    run(handle, everything)
    for req in seen:
        assert req.headers["X-Emby-Token"] == KEY
        assert KEY not in str(req.url) and "api_key" not in str(req.url)
        assert "Authorization" not in req.headers


def test_the_listing_sends_only_what_emby_s_items_query_knows() -> None:
    queries: list[dict[str, str]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        queries.append(dict(req.url.params))
        return items(movie("1"), movie("2"), total=2)

    since = datetime(2026, 1, 22, 4, 30, tzinfo=UTC)
    run(handle, lambda c: all_pages(c, min_date_last_saved=since, media_sources=True))
    (query,) = queries
    assert "EnableTotalRecordCount" not in query  # Emby's /Items has no such parameter
    assert query["MinDateLastSaved"] == "2026-01-22T04:30:00.0000000Z"
    assert query["Fields"] == "ProviderIds,Path,MediaSources"
    assert query["SortBy"] == "DateCreated,SortName" and query["StartIndex"] == "0"


def test_pages_follow_the_total_record_count() -> None:
    starts: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        start = int(req.url.params["StartIndex"])
        starts.append(str(start))
        return items(*[movie(str(n)) for n in range(start, min(start + 2, 5))], total=5)

    got = run(handle, lambda c: all_pages(c, page_size=2))
    assert starts == ["0", "2", "4"] and [len(p.items) for p in got] == [2, 2, 1]


def test_provider_ids_are_asked_in_emby_s_spelling_and_in_chunks() -> None:
    asked: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        asked.append(req.url.params["AnyProviderIdEquals"])
        return items(movie("603"), movie("603"))  # the same item twice is kept once

    wanted = [("tmdb", str(n)) for n in range(60)] + [("TheMovieDb", "0"), ("IMDB", "tt1")]
    found = run(handle, lambda c: c.items_by_provider_ids(wanted))
    assert len(asked) == 2
    assert asked[0].split(",")[:2] == ["Tmdb.0", "Tmdb.1"] and len(asked[0].split(",")) == 50
    assert asked[1].split(",")[-1] == "Imdb.tt1"
    assert [i.id for i in found] == ["603"]
    assert provider_pair("Tvdb", " 42 ") == "Tvdb.42"


def test_libraries_are_read_from_the_virtual_folders_query() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        assert req.url.path == "/emby/Library/VirtualFolders/Query"
        return httpx.Response(200, json={"TotalRecordCount": 1, "Items": [
            {"Name": "Films", "Locations": ["/m", 7], "ItemId": "12", "Id": "12"}]})

    (lib,) = run(handle, lambda c: c.libraries())
    assert (lib.name, lib.item_id, lib.locations) == ("Films", "12", ("/m",))


def test_emby_s_empty_200_after_a_scan_request_is_fine() -> None:
    sent: list[tuple[str, str]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        sent.append((req.method, req.url.path))
        return httpx.Response(200)

    run(handle, lambda c: c.report_media_updated(["/m/a.mkv", "/m/a.mkv"]))
    assert sent == [("POST", "/emby/Library/Media/Updated")]


def test_the_scan_task_is_found_by_its_name_when_its_key_differs() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[
            {"Name": "Scan media library", "Key": "ScanLibrary", "State": "Running"}])

    assert run(handle, lambda c: c.library_scan_running()) is True


def test_a_placeholder_is_told_by_its_media_source() -> None:
    item = parse_item(movie("5", MediaSources=[{"Type": "Placeholder", "MediaStreams": []}]))
    assert item.is_placeholder and not item.is_playable
    assert item.video_widths == (0,)


def test_a_location_type_emby_does_not_have_is_a_bad_response() -> None:
    with pytest.raises(BadResponse, match="LocationType"):
        parse_item(movie("6", LocationType="Remote"))


def test_errors_name_emby_not_jellyfin() -> None:
    with pytest.raises(BadResponse, match=r"^emby: "):
        parse_item({"Name": "no id", "Type": "Movie"})
