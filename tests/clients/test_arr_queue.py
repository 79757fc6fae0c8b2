"""The *arr queue read so that no record is skipped or counted twice (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from reconciler.config import ServiceConfig
from reconciler.services.radarr import RadarrClient
from reconciler.services.sonarr import SonarrClient


def record(rid: int, movie_id: int) -> dict[str, Any]:
    return {"id": rid, "movieId": movie_id, "size": 100.0, "sizeleft": 50.0, "status":
            "downloading", "trackedDownloadStatus": "ok", "trackedDownloadState": "downloading",
            "statusMessages": [], "downloadId": f"D{rid}", "title": f"t{rid}"}


def run(client_type: Any, handler: Any, action: Any) -> Any:
    name = "radarr" if client_type is RadarrClient else "sonarr"
    config = ServiceConfig(name, f"http://{name}.test", "k", 30, 5, True)

    async def go() -> Any:
        async with client_type(config, transport=httpx.MockTransport(handler)) as client:
            return await action(client)
    return asyncio.run(go())


def test_the_unpaged_details_give_each_record_once_in_one_call() -> None:
    asked: list[httpx.URL] = []

    def handle(req: httpx.Request) -> httpx.Response:
        asked.append(req.url)
        return httpx.Response(200, json=[record(1, 10), record(2, 20), record(1, 10)])

    records, _ = run(RadarrClient, handle, lambda c: c.queue())
    assert [r.movie_id for r in records] == [10, 20]
    assert [(u.path, dict(u.params)) for u in asked] == [
        ("/api/v3/queue/details", {"includeMovie": "false"})]


def test_a_repeated_last_page_with_nothing_new_ends_the_paged_read() -> None:
    """Past the end the server serves the last page again; the total said there was more
    (a record left meanwhile). Nothing new on the page: stop, count nothing twice."""
    asked: list[dict[str, str]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        if req.url.path == "/api/v3/queue/details":
            return httpx.Response(404)
        asked.append(dict(req.url.params))
        return httpx.Response(200, json={"page": 1, "pageSize": 2, "totalRecords": 3,
                                         "records": [record(1, 10), record(2, 20)]})

    records, _ = run(RadarrClient, handle, lambda c: c.queue(page_size=2))
    assert [r.movie_id for r in records] == [10, 20]
    assert [q["page"] for q in asked] == ["1", "2"]
    assert {(q["sortKey"], q["sortDirection"]) for q in asked} == {("added", "ascending")}


def test_after_a_404_from_details_later_polls_go_straight_to_the_paged_queue() -> None:
    paths: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        paths.append(req.url.path)
        if req.url.path == "/api/v3/queue/details":
            return httpx.Response(404)
        return httpx.Response(200, json={"page": 1, "pageSize": 500, "totalRecords": 0,
                                         "records": []})

    async def twice(c: SonarrClient) -> None:
        await c.queue()
        await c.queue()

    run(SonarrClient, handle, twice)
    assert paths == ["/api/v3/queue/details", "/api/v3/queue", "/api/v3/queue"]


def test_sonarr_never_asks_for_the_episode_resource_per_record() -> None:
    seen: list[dict[str, str]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(dict(req.url.params))
        return httpx.Response(200, json=[])

    run(SonarrClient, handle, lambda c: c.queue())
    assert seen == [{}]
