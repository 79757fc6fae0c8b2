"""PlexClient against Plex Media Server answers (cassettes/plex/, in the shapes of the
community description and python-plexapi; recorded from the simulated Plex, see
cassettes/README.md). Besides the usual match (method, URL, query, token header), a request
must ask for the recorded container window (`X-Plex-Container-Start` / `-Size` headers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from vcr.cassette import Cassette
from vcr.request import Request as VcrRequest

from reconciler.errors import AuthFailed, ServiceUnavailable
from reconciler.models import Library
from tests.clients.replay import MATCH_ON, call, make_vcr, record_mode

WINDOW = ("X-Plex-Container-Start", "X-Plex-Container-Size")
DUNE = "/data/movies/Dune Part Two (2024)/Dune Part Two (2024) WEBDL-2160p.mkv"


def _window(r1: VcrRequest, r2: VcrRequest) -> None:
    def window(r: VcrRequest) -> tuple[str | None, ...]:
        return tuple(r.headers.get(h) for h in WINDOW)
    if window(r1) != window(r2):
        raise AssertionError(f"container window differs: {window(r1)} != {window(r2)}")


@contextmanager
def cassette(path: str) -> Iterator[Cassette]:
    """`replay.cassette`, matching the container window too."""
    vcr = make_vcr()
    vcr.register_matcher("window", _window)
    with vcr.use_cassette(path, allow_playback_repeats=False,
                          match_on=(*MATCH_ON, "window")) as cass:
        yield cass
    if record_mode() == "none":
        unplayed = [str(req) for i, (req, _) in enumerate(cass.data) if cass.play_counts[i] == 0]
        assert not unplayed, f"{path}: the client never made {unplayed}"


async def all_pages(c: Any, **kwargs: Any) -> list[Any]:
    return [page async for page in c.item_pages(**kwargs)]


def test_the_server_s_identity_and_version() -> None:
    with cassette("plex/system_info.yaml") as cass:
        info = call("plex", lambda c: c.system_info())
    assert info["version"] == "1.41.3.9314-a0bfb8370" and info["friendlyName"] == "sim-plex"
    assert cass.requests[0].headers["X-Plex-Token"] == "<API_KEY>"


def test_sections_give_their_folders_and_tell_a_legacy_agent() -> None:
    with cassette("plex/sections.yaml"):
        sections = call("plex", lambda c: c.sections())
    assert [(s.key, s.title, s.type, s.locations) for s in sections] == [
        ("1", "Movies", "movie", ("/data/movies",)), ("2", "TV Shows", "show", ("/data/tv",)),
        ("3", "Classics", "movie", ("/data/classics",))]
    assert [s.legacy_agent for s in sections] == [False, False, True]
    assert sections[2].agent == "com.plexapp.agents.imdb"
    assert sections[1].to_library() == Library("TV Shows", "2", ("/data/tv",))


def test_items_are_matched_by_the_guids_of_plex_s_current_agents() -> None:
    with cassette("plex/items.yaml") as cass:
        pages = call("plex", all_pages)
    assert all("includeGuids=1" in r.uri for r in cass.requests[1:])
    items = {i.name: i for p in pages for i in p.items}
    matrix = items["The Matrix"]
    assert matrix.type == "Movie" and matrix.id == "2" and matrix.is_playable
    assert matrix.provider_ids == {"Imdb": "tt0133093", "Tmdb": "603", "Tvdb": "169"}
    assert matrix.path == "/data/movies/The Matrix (1999)/The Matrix (1999) Bluray-2160p.mkv"
    assert matrix.video_widths == (3840, 1920)
    show = items["Severance"]
    assert show.type == "Series" and show.provider_id("tvdb") == "371980"
    assert not show.is_playable
    episode = items["Good News About Hell"]
    assert (episode.type, episode.series_id, episode.season, episode.episode) == (
        "Episode", show.id, 1, 1)
    assert episode.provider_id("tmdb") == "1780063"
    # One file of two episodes is two episode items, both playable.
    first, second = items["Episode 1"], items["Episode 2"]
    assert first.path == second.path and first.is_playable and second.covers_episode(1, 2)
    # An episode without a media part is not playable.
    assert not items["Episode 3"].is_playable and items["Episode 3"].path is None
    # On the legacy agent: listed, playable, but with nothing to match it by.
    casablanca = items["Casablanca"]
    assert casablanca.provider_ids == {} and casablanca.is_playable
    assert [p.total for p in pages] == [2, 4, 8, 9]  # what each listing announced, added up
    assert pages[0].server_date == datetime(2026, 1, 22, 5, 1, 12, tzinfo=UTC)


def test_a_section_is_paged_with_the_container_headers() -> None:
    async def movies(c: Any) -> list[Any]:
        return [page async for page in c.section_pages("1", "movie", page_size=1)]

    with cassette("plex/items_paged.yaml") as cass:
        pages = call("plex", movies)
    assert [(r.headers["X-Plex-Container-Start"], r.headers["X-Plex-Container-Size"])
            for r in cass.requests] == [("0", "1"), ("1", "1")]
    assert not any("Container" in r.uri for r in cass.requests)
    assert [[i.title for i in p.items] for p in pages] == [["Goodfellas"], ["The Matrix"]]
    assert [p.total for p in pages] == [2, 2]
    assert pages[0].items[0].guid.startswith("plex://movie/")


def test_an_incremental_listing_asks_for_items_updated_after_the_watermark() -> None:
    since = datetime(2026, 1, 22, 4, 1, 12, tzinfo=UTC)
    with cassette("plex/items_since.yaml") as cass:
        pages = call("plex", lambda c: all_pages(c, min_date_last_saved=since))
    assert all("updatedAt%3E%3E=1769054472" in r.uri for r in cass.requests[1:])
    assert [i.name for p in pages for i in p.items] == ["Severance", "Good News About Hell"]


def test_the_count_asks_for_no_item_and_the_newest_for_one() -> None:
    async def both(c: Any) -> tuple[int, datetime | None]:
        return await c.item_count(), await c.newest_created()

    with cassette("plex/item_count.yaml"):
        count, newest = call("plex", both)
    assert count == 9
    assert newest == datetime(2026, 1, 22, 4, 31, 12, tzinfo=UTC)


def test_items_by_ids_returns_only_those_that_still_exist() -> None:
    with cassette("plex/metadata.yaml"):
        found = call("plex", lambda c: c.metadata(["2", "7", "99"]))
    assert [(i.rating_key, i.type) for i in found] == [("2", "movie"), ("7", "episode")]
    episode = found[1]
    assert (episode.show_key, episode.season, episode.episode) == ("4", 1, 2)
    assert episode.show_guid is not None and episode.show_guid.startswith("plex://show/")


def test_items_by_ids_of_none_left_is_empty() -> None:
    with cassette("plex/metadata_gone.yaml"):
        assert call("plex", lambda c: c.items_by_ids(["99"])) == []


def test_a_new_file_is_listed_only_after_plex_scanned_its_folder() -> None:
    async def journey(c: Any) -> tuple[list[str], list[str]]:
        async def titles() -> list[str]:
            return [i.title async for p in c.section_pages("1", "movie") for i in p.items]
        before = await titles()
        await c.report_media_updated([DUNE, "/elsewhere/Unknown (2020)/Unknown (2020).mkv"])
        return before, await titles()

    with cassette("plex/scan_folder.yaml") as cass:
        before, after = call("plex", journey)
    assert "Dune: Part Two" not in before and "Dune: Part Two" in after
    scans = [r for r in cass.requests if r.method == "POST"]
    assert [r.uri for r in scans] == [
        "http://plex.test:32400/library/sections/1/refresh"
        "?path=%2Fdata%2Fmovies%2FDune+Part+Two+%282024%29"]


def test_a_refresh_scans_one_section_or_every_film_and_show_section() -> None:
    async def both(c: Any) -> None:
        await c.refresh_library(Library("TV Shows", "2", ("/data/tv",)))
        await c.refresh_library(None)

    with cassette("plex/refresh.yaml") as cass:
        call("plex", both)
    assert [r.path for r in cass.requests if r.method == "POST"] == [
        "/library/sections/2/refresh", "/library/sections/1/refresh",
        "/library/sections/2/refresh", "/library/sections/3/refresh"]


def test_a_refreshing_section_means_a_scan_is_running() -> None:
    async def twice(c: Any) -> tuple[bool, bool]:
        return await c.library_scan_running(), await c.library_scan_running()

    with cassette("plex/scan_running.yaml"):
        assert call("plex", twice) == (True, False)


def test_a_refused_token_is_auth_failed() -> None:
    with cassette("plex/auth_refused.yaml"), pytest.raises(AuthFailed):
        call("plex", lambda c: c.sections())


def test_a_500_is_unavailable() -> None:
    with cassette("plex/server_error.yaml"), pytest.raises(ServiceUnavailable):
        call("plex", lambda c: c.sections(), max_attempts=1)


def test_replay_refuses_another_container_window() -> None:
    from vcr.errors import CannotOverwriteExistingCassetteException

    async def movies(c: Any) -> list[Any]:
        return [page async for page in c.section_pages("1", "movie", page_size=2)]

    with pytest.raises(CannotOverwriteExistingCassetteException), \
            cassette("plex/items_paged.yaml"):
        call("plex", movies)
