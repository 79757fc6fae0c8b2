"""The *arr queue read so that no record is skipped or counted twice (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from reconciler.config import ServiceConfig
from reconciler.errors import AuthFailed, ServiceUnavailable
from reconciler.models import QueueRecord
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


NULL_REFERENCE = {"message": "Object reference not set to an instance of an object.",
                  "description": "System.NullReferenceException: ... at NzbDrone.Core.Jobs."
                                 "TaskManager.GetNextExecution(Type type)"}


@pytest.mark.parametrize(("client_type", "issues"), [
    (RadarrClient, "Radarr #10572, #11151"), (SonarrClient, "Sonarr #7422, #7429")])
def test_a_500_from_both_queue_endpoints_names_the_known_upstream_bug(
        client_type: Any, issues: str) -> None:
    """While a pending release trips the known bug both queue endpoints answer 500: the paged
    queue is tried once after `/queue/details`, and the failure names the bug (issue 22)."""
    asked: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        asked.append(req.url.path)
        return httpx.Response(500, json=NULL_REFERENCE)

    with pytest.raises(ServiceUnavailable) as err:
        run(client_type, handle, lambda c: c.queue())
    assert asked == ["/api/v3/queue/details", "/api/v3/queue"]
    assert err.value.status == 500
    assert err.value.message.startswith(
        "HTTP 500 from /api/v3/queue/details and /api/v3/queue: Object reference not set to an "
        "instance of an object.; a known ")
    assert issues in err.value.message and "GetNextExecution" in err.value.message
    assert "description" not in err.value.message and "NzbDrone" not in err.value.message


def test_a_500_from_the_details_only_reads_the_paged_queue_for_that_poll() -> None:
    asked: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        asked.append(req.url.path)
        if req.url.path == "/api/v3/queue/details":
            return httpx.Response(500, json=NULL_REFERENCE)
        return httpx.Response(200, json={"page": 1, "pageSize": 500, "totalRecords": 1,
                                         "records": [record(1, 10)]})

    async def twice(client: RadarrClient) -> list[list[QueueRecord]]:
        return [(await client.queue())[0] for _ in range(2)]

    first, second = run(RadarrClient, handle, twice)
    assert [r.movie_id for r in first] == [10] == [r.movie_id for r in second]
    # /queue/details is asked again next time: a 500 is no missing endpoint.
    assert asked == ["/api/v3/queue/details", "/api/v3/queue"] * 2


def test_another_failure_of_the_details_is_not_retried_on_the_paged_queue() -> None:
    asked: list[str] = []

    def handle(req: httpx.Request) -> httpx.Response:
        asked.append(req.url.path)
        return httpx.Response(403, json={"message": "no"})

    with pytest.raises(AuthFailed):
        run(RadarrClient, handle, lambda c: c.queue())
    assert asked == ["/api/v3/queue/details"]
