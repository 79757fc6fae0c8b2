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


def find(files_by_suffix: dict[str, list[dict[str, object]]], path: str,
         asked: list[str] | None = None) -> list[int]:
    asked = [] if asked is None else asked

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
    found = find({"/Season 1/Show - 01.mkv": [shoko_file(7, "/Show/Season 1/Show - 01.mkv")]},
                 "/data/anime/shows/Show/Season 1/Show - 01.mkv")
    assert found == [7]


def test_the_tail_is_sent_with_its_leading_separator() -> None:
    """Shoko's PathEndsWith has no folder boundary: without the separator "Show - 01.mkv"
    would also find "Other Show - 01.mkv"."""
    asked: list[str] = []
    find({}, "/data/anime/shows/Show/Season 1/Show - 01.mkv", asked)
    assert asked == ["/Season 1/Show - 01.mkv", "/Show - 01.mkv"]


def test_the_file_name_alone_counts_only_for_one_file_in_the_arr_files_folders() -> None:
    """The fallback takes a file in the *arr file's folder or the one above it (a show's
    folder over its season folders), and only when exactly one file there has the name: a file
    of that name in another folder is another file (issue 22)."""
    path = "/data/anime/shows/Show/S1/Episode 01.mkv"
    one = find({"/Episode 01.mkv": [shoko_file(8, "/Show/Episode 01.mkv")]}, path)
    assert one == [8]
    elsewhere = find({"/Episode 01.mkv": [shoko_file(8, "/Renamed/Episode 01.mkv")]}, path)
    assert elsewhere == []
    at_the_root = find({"/Episode 01.mkv": [shoko_file(8, "Episode 01.mkv")]}, path)
    assert at_the_root == []
    # Two such files (the same relative path in two import folders): ambiguous, none taken.
    many = find({"/Episode 01.mkv": [shoko_file(8, "/Show/Episode 01.mkv"),
                                     shoko_file(9, "/Show/Episode 01.mkv")]}, path)
    assert many == []
    of_another_folder = find({"/Episode 01.mkv": [shoko_file(8, "/Show/Episode 01.mkv"),
                                                  shoko_file(9, "/B/Episode 01.mkv")]}, path)
    assert of_another_folder == [8]
