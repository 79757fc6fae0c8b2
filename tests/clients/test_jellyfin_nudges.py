"""Jellyfin's gentle scans, through httpx.MockTransport: what is sent, and what is not."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from reconciler.config import ServiceConfig
from reconciler.services.jellyfin import JellyfinClient

CONFIG = ServiceConfig("jellyfin", "http://jellyfin.test", "k", 30, 5, True)


def run(handler: Any, action: Any) -> Any:
    async def go() -> Any:
        async with JellyfinClient(CONFIG, transport=httpx.MockTransport(handler)) as client:
            return await action(client)
    return asyncio.run(go())


def test_media_updated_names_each_created_file_once() -> None:
    sent: list[tuple[str, str, Any]] = []

    def handle(req: httpx.Request) -> httpx.Response:
        sent.append((req.method, req.url.path, json.loads(req.content)))
        return httpx.Response(204)

    run(handle, lambda c: c.report_media_updated(["/m/a.mkv", "", "/m/b.mkv", "/m/a.mkv"]))
    assert sent == [("POST", "/Library/Media/Updated", {"Updates": [
        {"Path": "/m/a.mkv", "UpdateType": "Created"},
        {"Path": "/m/b.mkv", "UpdateType": "Created"}]})]


def test_no_paths_is_no_call() -> None:
    def handle(req: httpx.Request) -> httpx.Response:
        raise AssertionError("called")

    run(handle, lambda c: c.report_media_updated([]))


def test_an_item_refresh_asks_for_the_modes_a_library_scan_uses() -> None:
    seen: list[httpx.URL] = []

    def handle(req: httpx.Request) -> httpx.Response:
        seen.append(req.url)
        return httpx.Response(204)

    run(handle, lambda c: c.refresh_item("abc"))
    assert seen[0].path == "/Items/abc/Refresh"
    assert dict(seen[0].params) == {"metadataRefreshMode": "Default",
                                    "imageRefreshMode": "Default",
                                    "replaceAllMetadata": "false", "replaceAllImages": "false"}


def tasks(state: str, key: str = "RefreshLibrary") -> list[dict[str, Any]]:
    return [{"Name": "Clean Cache Directory", "State": "Running", "Key": "DeleteCacheFiles"},
            {"Name": "Scan Media Library", "State": state, "Key": key}]


def test_only_the_library_scan_task_counts_as_a_running_scan() -> None:
    def answer(body: list[dict[str, Any]]) -> Any:
        return lambda req: httpx.Response(200, json=body)

    assert run(answer(tasks("Running")), lambda c: c.library_scan_running()) is True
    assert run(answer(tasks("Idle")), lambda c: c.library_scan_running()) is False
    assert run(answer(tasks("Cancelling")), lambda c: c.library_scan_running()) is False
    # Another task running is no library scan.
    assert run(answer(tasks("Idle", key="Other")[:1]), lambda c: c.library_scan_running()) \
        is False
