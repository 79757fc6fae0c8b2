"""The simulated Emby and Plex, over real HTTP on 127.0.0.1, through the real clients: items
with their ids, paging, incremental listings, the gap before a scan lists a new file, the
scan-running flag, and authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from reconciler.config import ServiceConfig
from reconciler.errors import AuthFailed, NotFound
from reconciler.services.emby import EmbyClient
from reconciler.services.plex import PlexClient
from simstack import World
from simstack.emby import EmbyWorld
from simstack.emby import serve as serve_emby
from simstack.plex import PlexWorld
from simstack.plex import serve as serve_plex
from simstack.server import Recorder, ServiceRunner

T = TypeVar("T")
KEY = "9c2e4a6b8d0f1e3c5a7b9d1f3e5c7a9b"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DUNE = "/data/movies/Dune Part Two (2024)/Dune Part Two (2024).mkv"


@pytest.fixture
def world() -> World:
    return World(START)


@pytest.fixture
def emby(world: World) -> Iterator[tuple[EmbyWorld, ServiceRunner]]:
    ew = EmbyWorld(world)
    ew.add_library("Movies", ["/data/movies"])
    ew.add_library("Shows", ["/data/tv"], "tvshows")
    ew.add_movie("The Matrix", tmdb_id=603, imdb_id="tt0133093", year=1999)
    series = ew.add_series("Severance", tvdb_id=371980, tmdb_id=95396)
    ew.add_episode(series, 1, 1, name="Good News About Hell")
    ew.add_movie("Dune: Part Two", tmdb_id=693134, year=2024, path=DUNE, pending=True)
    runner = serve_emby(ew, KEY)
    yield ew, runner
    runner.stop()


@pytest.fixture
def plex(world: World) -> Iterator[tuple[PlexWorld, ServiceRunner]]:
    pw = PlexWorld(world)
    pw.add_section("Movies", ["/data/movies"])
    pw.add_section("TV Shows", ["/data/tv"], "show")
    pw.add_section("Classics", ["/data/classics"], legacy=True)
    pw.add_movie("The Matrix", tmdb_id=603, imdb_id="tt0133093", year=1999)
    show = pw.add_show("Severance", tvdb_id=371980, tmdb_id=95396)
    pw.add_episode(show, 1, 1, title="Good News About Hell", tvdb_id=8357424)
    pw.add_episode(show, 1, 2, title="Half Loop", tvdb_id=8357425, pending=True)
    pw.add_movie("Casablanca", imdb_id="tt0034583", year=1942, section="Classics")
    pw.add_movie("Dune: Part Two", tmdb_id=693134, year=2024, path=DUNE, pending=True)
    recorder = Recorder()
    runner = serve_plex(pw, KEY, recorder=recorder)
    yield pw, runner
    runner.stop()


def call(kind: type[Any], runner: ServiceRunner, action: Callable[[Any], Awaitable[T]],
         key: str = KEY) -> T:
    config = ServiceConfig(kind.name, runner.url, key, 30.0, 5.0, True)

    async def go() -> T:
        async with kind(config, max_attempts=1) as client:
            return await action(client)
    return asyncio.run(go())


async def names(c: Any, **kwargs: Any) -> list[str]:
    return [i.name async for p in c.item_pages(**kwargs) for i in p.items]


# ------------------------------------------------------------------ Emby


def test_emby_lists_items_with_provider_ids_under_its_prefix(emby: Any) -> None:
    _ew, runner = emby
    found = call(EmbyClient, runner, lambda c: c.items_by_provider_ids([("Tmdb", "603")]))
    assert [(i.name, i.id.isdigit(), i.is_playable) for i in found] == [
        ("The Matrix", True, True)]
    assert httpx.get(runner.url + "/Items", headers={"X-Emby-Token": KEY}).status_code == 404


def test_emby_refuses_a_wrong_key_but_shows_its_public_info(emby: Any) -> None:
    _ew, runner = emby
    with pytest.raises(AuthFailed):
        call(EmbyClient, runner, lambda c: c.item_count(), key="wrong")
    public = httpx.get(runner.url + "/emby/System/Info/Public")
    assert public.status_code == 200 and public.json()["Version"] == "4.8.11.0"
    assert httpx.get(runner.url + "/emby/Items", params={"api_key": KEY,
                                                          "Recursive": "true"}).status_code == 200


def test_emby_pages_and_counts_what_it_lists(emby: Any) -> None:
    ew, runner = emby
    ew.populate(95)

    async def both(c: Any) -> tuple[list[Any], int]:
        return [p async for p in c.item_pages(page_size=40)], await c.item_count()

    pages, count = call(EmbyClient, runner, both)
    listed = [i.id for p in pages for i in p.items]
    assert len(listed) == len(set(listed)) == count == pages[-1].total
    assert [len(p.items) for p in pages][:-1] == [40] * (len(pages) - 1)


def test_emby_lists_incrementally_what_was_saved_since(emby: Any, world: World) -> None:
    ew, runner = emby
    world.advance(hours=1)
    (matrix,) = ew.find("Tmdb", "603")
    ew.touch(matrix)
    since = START + timedelta(minutes=30)
    assert call(EmbyClient, runner, lambda c: names(c, min_date_last_saved=since)) == [
        "The Matrix"]


def test_emby_does_not_list_a_new_file_before_its_folder_is_scanned(emby: Any,
                                                                    world: World) -> None:
    ew, runner = emby
    ew.scan_delay = 30
    assert "Dune: Part Two" not in call(EmbyClient, runner, names)
    call(EmbyClient, runner, lambda c: c.report_media_updated([DUNE]))
    assert "Dune: Part Two" not in call(EmbyClient, runner, names)  # Emby takes its time
    world.advance(31)
    assert "Dune: Part Two" in call(EmbyClient, runner, names)
    assert [(r.kind, r.paths) for r in ew.refresh_calls] == [("media_updated", (DUNE,))]


def test_emby_reports_its_library_scan_while_it_runs(emby: Any, world: World) -> None:
    ew, runner = emby
    ew.library_scan_duration = 120
    call(EmbyClient, runner, lambda c: c.refresh_library(None))
    assert call(EmbyClient, runner, lambda c: c.library_scan_running()) is True
    assert "Dune: Part Two" not in call(EmbyClient, runner, names)
    world.advance(121)
    assert call(EmbyClient, runner, lambda c: c.library_scan_running()) is False
    assert "Dune: Part Two" in call(EmbyClient, runner, names)


def test_emby_forgets_a_removed_item(emby: Any) -> None:
    ew, runner = emby
    (matrix,) = ew.find("Tmdb", "603")
    ew.remove_item(matrix)
    assert call(EmbyClient, runner, lambda c: c.items_by_ids([matrix])) == []


# ------------------------------------------------------------------ Plex


def test_plex_matches_by_guids_and_tells_the_legacy_section(plex: Any) -> None:
    _pw, runner = plex

    async def both(c: Any) -> tuple[list[Any], list[Any]]:
        return ([i async for p in c.item_pages() for i in p.items], await c.sections())

    found, sections = call(PlexClient, runner, both)
    by_name = {i.name: i for i in found}
    assert by_name["The Matrix"].provider_ids == {"Imdb": "tt0133093", "Tmdb": "603"}
    episode = by_name["Good News About Hell"]
    assert (episode.series_id, episode.season, episode.episode) == (
        by_name["Severance"].id, 1, 1)
    assert by_name["Casablanca"].provider_ids == {}
    assert [s.title for s in sections if s.legacy_agent] == ["Classics"]
    assert "Half Loop" not in by_name and "Dune: Part Two" not in by_name


def test_plex_keeps_the_token_out_of_every_url(plex: Any) -> None:
    _pw, runner = plex
    call(PlexClient, runner, names)
    call(PlexClient, runner, lambda c: c.report_media_updated([DUNE]))
    log = runner.recorder.entries()
    assert len(log) >= 5
    assert {e.auth for e in log} == {"X-Plex-Token"}
    assert all(KEY not in str(e.query_multi) for e in log)


def test_plex_refuses_a_wrong_token_but_tells_its_identity(plex: Any) -> None:
    pw, runner = plex
    with pytest.raises(AuthFailed):
        call(PlexClient, runner, lambda c: c.sections(), key="wrong")
    identity = httpx.get(runner.url + "/identity", headers={"Accept": "application/json"})
    assert identity.json()["MediaContainer"]["machineIdentifier"] == pw.machine_id


def test_plex_answers_xml_unless_json_is_asked_for(plex: Any) -> None:
    _pw, runner = plex
    xml = httpx.get(runner.url + "/library/sections/1/all", headers={"X-Plex-Token": KEY})
    assert xml.headers["Content-Type"].startswith("text/xml")
    assert b'<Video ratingKey="' in xml.content and b'type="movie"' in xml.content


def test_plex_pages_by_headers_or_query_alike(plex: Any) -> None:
    pw, runner = plex
    pw.populate(50)
    url = runner.url + "/library/sections/1/all"
    base = {"X-Plex-Token": KEY, "Accept": "application/json"}
    by_header = httpx.get(url, headers={**base, "X-Plex-Container-Start": "5",
                                        "X-Plex-Container-Size": "4"})
    by_query = httpx.get(url, headers=base,
                         params={"X-Plex-Container-Start": "5", "X-Plex-Container-Size": "4"})
    assert by_header.json() == by_query.json()
    mc = by_header.json()["MediaContainer"]
    assert (mc["offset"], mc["size"], mc["totalSize"]) == (5, 4, 16)
    assert by_header.headers["X-Plex-Container-Total-Size"] == "16"


def test_plex_lists_incrementally_what_was_updated_after(plex: Any, world: World) -> None:
    pw, runner = plex
    world.advance(hours=1)
    matrix = next(k for k, it in pw.items.items() if it.title == "The Matrix")
    pw.touch(matrix)
    since = START + timedelta(minutes=30)
    assert call(PlexClient, runner, lambda c: names(c, min_date_last_saved=since)) == [
        "The Matrix"]


def test_plex_lists_a_new_episode_only_after_its_folder_is_scanned(plex: Any) -> None:
    pw, runner = plex
    elsewhere = "/data/tv/Other Show/Season 01/Other Show - S01E01.mkv"
    call(PlexClient, runner, lambda c: c.report_media_updated([elsewhere]))
    assert "Half Loop" not in call(PlexClient, runner, names)
    episode = "/data/tv/Severance/Season 01/Severance - S01E02.mkv"
    call(PlexClient, runner, lambda c: c.report_media_updated([episode]))
    assert "Half Loop" in call(PlexClient, runner, names)
    assert "Dune: Part Two" not in call(PlexClient, runner, names)
    assert [(r.section, r.path, r.method) for r in pw.refresh_calls] == [
        (2, "/data/tv/Other Show/Season 01", "POST"), (2, "/data/tv/Severance/Season 01", "POST")]


def test_plex_reports_a_refreshing_section_until_its_scan_ends(plex: Any,
                                                              world: World) -> None:
    pw, runner = plex
    pw.scan_duration = 60
    call(PlexClient, runner, lambda c: c.refresh_library(None))
    assert call(PlexClient, runner, lambda c: c.library_scan_running()) is True
    assert "Dune: Part Two" not in call(PlexClient, runner, names)
    world.advance(61)
    assert call(PlexClient, runner, lambda c: c.library_scan_running()) is False
    assert {"Dune: Part Two", "Half Loop"} <= set(call(PlexClient, runner, names))


def test_plex_answers_404_for_items_that_are_all_gone(plex: Any) -> None:
    _pw, runner = plex
    assert call(PlexClient, runner, lambda c: c.metadata(["999"])) == []
    with pytest.raises(NotFound):
        call(PlexClient, runner, lambda c: c.get("/library/metadata/999"))
