"""Finding a file in Shoko by the tail of the *arr's path."""

from __future__ import annotations

import asyncio

import httpx

from reconciler.config import ServiceConfig
from reconciler.services.shoko import ShokoClient


def shoko_file(file_id: int, relative_path: str) -> dict[str, object]:
    return {"ID": file_id, "Size": 1, "IsIgnored": False, "Imported": None, "SeriesIDs": [],
            "Locations": [{"ID": file_id, "ImportFolderID": 1, "RelativePath": relative_path,
                           "IsAccessible": True}]}


def find(files_by_suffix: dict[str, list[dict[str, object]]], path: str) -> list[int]:
    asked: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        suffix = request.url.params["path"]
        asked.append(suffix)
        return httpx.Response(200, json=files_by_suffix.get(suffix, []))

    config = ServiceConfig("shoko", "http://shoko.test", "k", 30, 5, True)

    async def go() -> list[int]:
        async with ShokoClient(config, transport=httpx.MockTransport(handle)) as client:
            return [f.id for f in await client.files_by_path(path)]

    return asyncio.run(go())


def test_the_folder_and_file_name_find_the_file_whatever_the_mount_root() -> None:
    found = find({"Season 1/Show - 01.mkv": [shoko_file(7, "/Show/Season 1/Show - 01.mkv")]},
                 "/data/anime/shows/Show/Season 1/Show - 01.mkv")
    assert found == [7]


def test_the_file_name_alone_counts_only_when_exactly_one_file_has_it() -> None:
    path = "/data/anime/shows/Show/S1/Episode 01.mkv"
    one = find({"Episode 01.mkv": [shoko_file(8, "/Renamed/Episode 01.mkv")]}, path)
    assert one == [8]
    many = find({"Episode 01.mkv": [shoko_file(8, "/A/Episode 01.mkv"),
                                    shoko_file(9, "/B/Episode 01.mkv")]}, path)
    assert many == []
