"""EmbyClient against Emby 4.8 answers (cassettes/emby/, in the shapes of Emby.SDK's OpenAPI
description; recorded from the simulated Emby, see cassettes/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.errors import AuthFailed, ServiceUnavailable
from reconciler.models import Library
from tests.clients.replay import call, cassette

GOODFELLAS, MATRIX, VIOLET = "100003", "100004", "100005"
SEVERANCE = "100010"
MOVIES_LIBRARY = "100001"


async def all_pages(c: Any, **kwargs: Any) -> list[Any]:
    return [page async for page in c.item_pages(**kwargs)]


def test_system_info_is_read_under_the_emby_prefix() -> None:
    with cassette("emby/system_info.yaml") as cass:
        info = call("emby", lambda c: c.system_info())
    assert info["Version"] == "4.8.11.0" and info["ServerName"] == "sim-emby"
    assert cass.requests[0].path == "/emby/System/Info"


def test_items_carry_provider_ids_paths_and_whether_they_are_playable() -> None:
    with cassette("emby/items.yaml") as cass:
        (page,) = call("emby", all_pages)
    assert cass.requests[0].headers["X-Emby-Token"] == "<API_KEY>"
    assert page.total == 8
    assert page.server_date == datetime(2026, 1, 22, 5, 1, 12, tzinfo=UTC)
    items = {i.name: i for i in page.items}
    goodfellas = items["Goodfellas"]
    assert goodfellas.id == GOODFELLAS and goodfellas.provider_id("tmdb") == "769"
    assert goodfellas.is_playable
    assert goodfellas.path == ("/mnt/media/movies/Goodfellas (1990)/"
                               "Goodfellas (1990) Bluray-1080p.mkv")
    missing = items["Episode 3"]
    assert missing.location_type == "Virtual" and not missing.is_playable
    double = items["Episode 1 & 2"]
    assert double.covers_episode(1, 2) and double.series_id == "100006"
    assert not items["Severance"].is_playable  # a series is never itself playable
    # Without MediaSources Emby shows nothing of a placeholder (no IsPlaceHolder on its items).
    assert items["Violet Evergarden: The Movie"].is_playable
    assert all(i.date_last_saved is None for i in page.items)


def test_with_media_sources_a_placeholder_is_told_and_versions_have_widths() -> None:
    with cassette("emby/items_sources.yaml"):
        (page,) = call("emby", lambda c: all_pages(c, media_sources=True))
    items = {i.name: i for i in page.items}
    placeholder = items["Violet Evergarden: The Movie"]
    assert placeholder.is_placeholder and not placeholder.is_playable
    assert items["The Matrix"].video_widths == (3840, 1920)
    assert items["Episode 3"].video_widths == ()


def test_items_are_listed_page_by_page_oldest_first() -> None:
    with cassette("emby/items_paged.yaml") as cass:
        pages = call("emby", lambda c: all_pages(c, page_size=3))
    assert cass.play_count == 3
    assert [len(p.items) for p in pages] == [3, 3, 2]
    assert [i.id for i in pages[0].items] == [GOODFELLAS, MATRIX, VIOLET]
    assert len({i.id for p in pages for i in p.items}) == 8


def test_an_incremental_listing_asks_for_items_saved_since_the_watermark() -> None:
    since = datetime(2026, 1, 22, 4, 1, 12, tzinfo=UTC)
    with cassette("emby/items_since.yaml"):
        (page,) = call("emby", lambda c: all_pages(c, min_date_last_saved=since))
    assert {i.name for i in page.items} == {"Severance", "Good News About Hell"}


def test_the_count_and_the_newest_creation_take_one_call_each() -> None:
    async def both(c: Any) -> tuple[int, datetime | None]:
        return await c.item_count(), await c.newest_created()

    with cassette("emby/item_count.yaml"):
        count, newest = call("emby", both)
    assert count == 8
    assert newest == datetime(2026, 1, 22, 4, 31, 12, tzinfo=UTC)


def test_items_by_ids_returns_only_those_that_still_exist() -> None:
    with cassette("emby/items_by_ids.yaml"):
        found = call("emby", lambda c: c.items_by_ids([GOODFELLAS, SEVERANCE, "100099"]))
    assert [i.id for i in found] == [GOODFELLAS, SEVERANCE]


def test_emby_finds_items_by_provider_id_itself() -> None:
    wanted = [("Tmdb", "603"), ("imdb", "tt0099685"), ("tvdb", "371980"), ("Tmdb", "1")]
    with cassette("emby/items_by_provider_ids.yaml") as cass:
        found = call("emby", lambda c: c.items_by_provider_ids(wanted))
    assert "AnyProviderIdEquals=Tmdb.603%2CImdb.tt0099685%2CTvdb.371980%2CTmdb.1" in \
        cass.requests[0].uri
    assert sorted(i.name for i in found) == ["Goodfellas", "Severance", "The Matrix"]


def test_libraries_come_from_the_virtual_folders_query() -> None:
    with cassette("emby/libraries.yaml"):
        libraries = call("emby", lambda c: c.libraries())
    assert libraries == [Library("Movies", MOVIES_LIBRARY, ("/mnt/media/movies",)),
                         Library("TV Shows", "100002", ("/mnt/media/tv",))]


def test_a_refresh_scans_one_library_or_all_of_them_and_emby_answers_200() -> None:
    async def both(c: Any) -> None:
        await c.refresh_library(Library("Movies", MOVIES_LIBRARY, ("/mnt/media/movies",)))
        await c.refresh_library(None)

    with cassette("emby/refresh.yaml") as cass:
        call("emby", both)
    assert [(r.method, r.path) for r in cass.requests] == [
        ("POST", f"/emby/Items/{MOVIES_LIBRARY}/Refresh"), ("POST", "/emby/Library/Refresh")]


def test_a_new_file_is_not_listed_until_emby_scanned_its_folder() -> None:
    dune = "/mnt/media/movies/Dune Part Two (2024)/Dune Part Two (2024) WEBDL-2160p.mkv"

    async def journey(c: Any) -> tuple[list[str], list[Any]]:
        before = [i.name for p in await all_pages(c) for i in p.items]
        await c.report_media_updated([dune, dune])
        return before, await c.items_by_provider_ids([("Tmdb", "693134")])

    with cassette("emby/media_updated.yaml") as cass:
        before, after = call("emby", journey)
    assert "Dune: Part Two" not in before
    assert [(i.name, i.path, i.is_playable) for i in after] == [("Dune: Part Two", dune, True)]
    assert cass.requests[1].body == (b'{"Updates":[{"Path":"' + dune.encode()
                                     + b'","UpdateType":"Created"}]}')


def test_the_library_scan_task_says_whether_a_scan_is_running() -> None:
    async def twice(c: Any) -> tuple[bool, bool]:
        return await c.library_scan_running(), await c.library_scan_running()

    with cassette("emby/scheduled_tasks.yaml"):
        assert call("emby", twice) == (True, False)


def test_a_refused_key_is_auth_failed() -> None:
    with cassette("emby/auth_refused.yaml"), pytest.raises(AuthFailed):
        call("emby", all_pages)


def test_a_500_is_unavailable() -> None:
    with cassette("emby/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("emby", lambda c: c.libraries(), max_attempts=1)
