"""JellyfinClient against recorded Jellyfin 10.11 answers (cassettes/jellyfin/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.errors import AuthFailed, ServiceUnavailable
from reconciler.models import Library
from tests.clients.replay import call, cassette

RECOLLECTIONS_ID = "6e4c0f0ef1f32cc391d06ea50cf6e342"
ANIME_MOVIES_LIBRARY = "4739e4f345057949de668a385d351a86"


async def all_pages(c: Any, **kwargs: Any) -> list[Any]:
    return [page async for page in c.item_pages(**kwargs)]


def test_system_info_reports_the_server() -> None:
    with cassette("jellyfin/system_info.yaml"):
        info = call("jellyfin", lambda c: c.system_info())
    assert info["Version"] == "10.11.2" and info["Id"] == "05647f36ec63477298d28772721b3d1b"


def test_items_carry_provider_ids_paths_and_whether_they_are_playable() -> None:
    with cassette("jellyfin/items.yaml"):
        (page,) = call("jellyfin", all_pages)
    assert page.total == 8
    assert page.server_date == datetime(2026, 1, 22, 5, 1, 12, tzinfo=UTC)
    items = {i.name + ("" if i.type != "Episode" else f" {i.season}x{i.episode}"): i
             for i in page.items}
    goodfellas = items["Goodfellas"]
    assert goodfellas.provider_id("Tmdb") == "769" and goodfellas.is_playable
    assert goodfellas.path == "/data/movies/Goodfellas (1990)/Goodfellas (1990) Bluray-1080p.mkv"
    # Shokofin items: Shoko ids, no TMDB id, a path inside Shokofin's virtual file system.
    recollections = items["Violet Evergarden: Recollections"]
    assert recollections.id == RECOLLECTIONS_ID
    assert recollections.provider_ids == {"Shoko Series": "311", "Shoko Episode": "6020",
                                          "Shoko File": "1408", "AniDB": "260101"}
    assert recollections.provider_id("tmdb") is None and recollections.is_playable
    assert recollections.path is not None and "/Shokofin/VFS/" in recollections.path
    # Jellyfin never sends DateLastSaved on an item (the client no longer asks for it).
    assert all(i.date_last_saved is None for i in page.items)
    placeholder = items["Violet Evergarden: The Movie"]
    assert placeholder.is_placeholder and not placeholder.is_playable
    missing = items["The more the merrier 1x2"]
    assert missing.location_type == "Virtual" and missing.path is None
    assert not missing.is_playable
    episode = items["Easy does it 1x1"]
    assert episode.is_playable and episode.series_id == "2ea50a97c6bf6f5d0b394c26f17ae2af"
    double = items["Episode 1 & 2 1x1"]
    assert (double.episode, double.episode_end) == (1, 2) and double.covers_episode(1, 2)
    assert not items["Lycoris Recoil"].is_playable  # a series is never itself playable


def test_items_are_listed_page_by_page() -> None:
    with cassette("jellyfin/items_paged.yaml") as cass:
        pages = call("jellyfin", lambda c: all_pages(c, page_size=3))
    assert cass.play_count == 3
    assert [len(p.items) for p in pages] == [3, 3, 2]
    assert len({i.id for p in pages for i in p.items}) == 8


def test_an_incremental_listing_asks_for_items_saved_since_the_watermark() -> None:
    since = datetime(2026, 1, 22, 4, 30, tzinfo=UTC)
    with cassette("jellyfin/items_since.yaml"):
        (page,) = call("jellyfin", lambda c: all_pages(c, min_date_last_saved=since))
    assert [i.name for i in page.items] == ["Easy does it", "Violet Evergarden: Recollections"]


def test_items_by_ids_returns_only_those_that_still_exist() -> None:
    gone = "a0742009e33253a688026f7186302880"
    with cassette("jellyfin/items_by_ids.yaml"):
        found = call("jellyfin", lambda c: c.items_by_ids([RECOLLECTIONS_ID, gone]))
    assert [i.id for i in found] == [RECOLLECTIONS_ID]


def test_libraries_give_their_folders_and_item_ids() -> None:
    with cassette("jellyfin/libraries.yaml"):
        libraries = call("jellyfin", lambda c: c.libraries())
    assert [(lib.name, lib.locations) for lib in libraries] == [
        ("Anime", ("/data/anime/shows",)), ("Anime Movies", ("/data/anime/movies",)),
        ("Movies", ("/data/movies",)), ("TV Shows", ("/data/tv",))]
    assert libraries[1].item_id == ANIME_MOVIES_LIBRARY


def test_a_refresh_scans_one_library_or_all_of_them() -> None:
    library = Library(name="Anime Movies", item_id=ANIME_MOVIES_LIBRARY,
                      locations=("/data/anime/movies",))

    async def both(c: Any) -> None:
        await c.refresh_library(library)
        await c.refresh_library(None)

    with cassette("jellyfin/refresh.yaml") as cass:
        call("jellyfin", both)
    assert [r.method for r in cass.requests] == ["POST", "POST"]


def test_an_item_refresh_queues_one_library_s_scan() -> None:
    with cassette("jellyfin/refresh.yaml") as cass:
        call("jellyfin", lambda c: c.refresh_item(ANIME_MOVIES_LIBRARY))
        call("jellyfin", lambda c: c.refresh_library(None))
    assert cass.all_played


def test_new_files_are_reported_by_path_in_one_call() -> None:
    paths = ["/media/movies/Greenland 2 (2026)/Greenland 2 (2026) WEBDL-1080p.mkv",
             "/media/anime/Lycoris Recoil/Season 1/Lycoris Recoil - S01E02.mkv"]
    with cassette("jellyfin/media_updated.yaml") as cass:
        call("jellyfin", lambda c: c.report_media_updated([*paths, paths[0]]))
    assert cass.play_count == 1


def test_the_library_scan_task_says_whether_a_scan_is_running() -> None:
    async def twice(c: Any) -> tuple[bool, bool]:
        return await c.library_scan_running(), await c.library_scan_running()

    with cassette("jellyfin/scheduled_tasks.yaml"):
        assert call("jellyfin", twice) == (True, False)


def test_a_refused_key_is_auth_failed() -> None:
    with cassette("jellyfin/auth_refused.yaml"), pytest.raises(AuthFailed):
        call("jellyfin", all_pages)


def test_a_500_is_unavailable() -> None:
    with cassette("jellyfin/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("jellyfin", lambda c: c.libraries())
