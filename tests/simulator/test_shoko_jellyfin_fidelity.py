"""The fake Shoko, Shokofin-on-Jellyfin and Jellyfin's library scan behave as the real ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from simstack import SimulatedStack, World

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FILE = "Frieren/[Group] Frieren - 01.mkv"


def shoko_world(version: str | None = None) -> World:
    return World(T0, shoko_version=version)


@pytest.fixture
def jellyfin() -> Iterator[tuple[World, httpx.Client]]:
    world = World(T0)
    with SimulatedStack(world, services=["jellyfin"]) as stack, httpx.Client(
            base_url=stack.urls["jellyfin"], timeout=10,
            headers={"X-Emby-Token": stack.api_keys["jellyfin"]}) as client:
        yield world, client


def path_ends_with(world: World, **params: Any) -> list[dict[str, Any]]:
    with SimulatedStack(world, services=["shoko"]) as stack:
        answer = httpx.get(stack.urls["shoko"] + "/api/v3/File/PathEndsWith",
                           params={"path": "Frieren - 01.mkv", **params},
                           headers={"apikey": stack.api_keys["shoko"]})
    assert answer.status_code == 200
    return answer.json()


def matched(world: World) -> int:
    sh = world.shoko
    fid = sh.add_file(FILE)
    series = sh.add_series(17617, "Frieren")
    sh.match_file(fid, series, [sh.add_episode(series, 271234, tmdb_episode_ids=[4000001])])
    return fid


def test_path_ends_with_includes_xrefs_by_default_on_5x() -> None:
    world = shoko_world()
    matched(world)
    [default] = path_ends_with(world)
    assert default["SeriesIDs"][0]["SeriesID"]["AniDB"] == 17617
    [without] = path_ends_with(world, includeXRefs="false")
    assert "SeriesIDs" not in without


def test_shoko_6_ignores_include_xrefs_and_wants_include() -> None:
    world = shoko_world("6.0.0")
    matched(world)
    [ignored] = path_ends_with(world, includeXRefs="true")
    assert "SeriesIDs" not in ignored
    [included] = path_ends_with(world, include="XRefs")
    assert included["SeriesIDs"][0]["EpisodeIDs"][0]["AniDB"] == 271234


def test_5_3_cross_reference_shape() -> None:
    world = shoko_world("5.3.3")
    matched(world)
    [xref] = path_ends_with(world, includeXRefs="true")[0]["SeriesIDs"]
    assert set(xref["SeriesID"]) == {"ID", "AniDB", "TMDB"}  # no TvDB
    episode = xref["EpisodeIDs"][0]
    assert set(episode) == {"ID", "AniDB", "TMDB", "ReleaseGroup", "ED2K", "FileSize",
                            "Percentage", "Source"}
    assert set(episode["Percentage"]) == {"Start", "End", "Size", "Group"}
    assert episode["TMDB"]["Episode"] == [4000001]


def test_anidb_link_before_shoko_metadata_has_null_ids_until_it_exists() -> None:
    world = shoko_world()
    sh = world.shoko
    fid = sh.add_file(FILE)
    sh.link_to_anidb_pending(fid, 17617, [271234])
    [xref] = path_ends_with(world)[0]["SeriesIDs"]
    assert xref["SeriesID"] == {"ID": None, "AniDB": 17617, "TMDB": {"Movie": [], "Show": []}}
    assert xref["EpisodeIDs"][0]["ID"] is None and xref["EpisodeIDs"][0]["AniDB"] == 271234
    series = sh.add_series(17617, "Frieren")  # the metadata arrives: the series first ...
    [xref] = path_ends_with(world)[0]["SeriesIDs"]
    assert xref["SeriesID"]["ID"] == series and xref["EpisodeIDs"][0]["ID"] is None
    episode = sh.add_episode(series, 271234)  # ... then the episode
    [xref] = path_ends_with(world)[0]["SeriesIDs"]
    assert xref["EpisodeIDs"][0]["ID"] == episode


def test_shokofin_tmdb_derived_shoko_episode_values(
        jellyfin: tuple[World, httpx.Client]) -> None:
    world, client = jellyfin
    jf = world.jellyfin
    jf.add_library("Anime", ["/media/anime"], collection_type="tvshows")
    show = jf.add_series("Frieren", path="/media/anime/Frieren")
    ep = jf.add_episode(show, 1, 1, path="/media/anime/Frieren/S01E01.mkv",
                        provider_ids={"Shoko File": "12"})
    jf.set_shokofin_tmdb_episode(ep, 4000001)
    item = client.get(f"/Items/{ep}", params={"Fields": "ProviderIds"}).json()
    assert item["ProviderIds"]["Shoko Episode"] == "t4000001"
    assert item["ProviderIds"]["Shoko File"] == "12"
    jf.set_shokofin_tmdb_episode(ep, 55, movie=True)
    assert jf.item(ep).provider_ids["Shoko Episode"] == "T55"


def scan_task(client: httpx.Client) -> dict[str, Any]:
    tasks = client.get("/ScheduledTasks", params={"isHidden": "false"}).json()
    return next(t for t in tasks if t["Key"] == "RefreshLibrary")


def test_library_refresh_restarts_a_running_scan(jellyfin: tuple[World, httpx.Client]) -> None:
    world, client = jellyfin
    jf = world.jellyfin
    jf.add_library("Films", ["/media/films"])
    jf.library_scan_duration = 600
    film = jf.add_movie("Dune", path="/media/films/Dune/Dune.mkv", pending=True)
    assert scan_task(client)["State"] == "Idle"
    assert client.post("/Library/Refresh").status_code == 204
    task = scan_task(client)
    assert task["State"] == "Running" and task["Name"] == "Scan Media Library"
    world.advance(400)
    assert film in jf.pending_ids()
    client.post("/Library/Refresh")  # cancels the running scan and starts it again
    assert jf.scan_restarts == 1
    world.advance(400)  # 800 s after the first call: the first scan would have finished
    assert film in jf.pending_ids() and scan_task(client)["State"] == "Running"
    world.advance(200)
    assert film not in jf.pending_ids()
    done = scan_task(client)
    assert done["State"] == "Idle" and done["LastExecutionResult"]["Status"] == "Completed"
    assert [c.kind for c in jf.refresh_calls] == ["library", "library"]


def test_media_updated_lists_the_path_after_the_delay_without_a_library_scan(
        jellyfin: tuple[World, httpx.Client]) -> None:
    world, client = jellyfin
    jf = world.jellyfin
    jf.add_library("Films", ["/media/films"])
    jf.scan_delay = 30
    jf.library_scan_duration = 600
    dune = jf.add_movie("Dune", path="/media/films/Dune/Dune.mkv", pending=True)
    other = jf.add_movie("Heat", path="/media/films/Heat/Heat.mkv", pending=True)
    answer = client.post("/Library/Media/Updated", json={"Updates": [
        {"Path": "/media/films/Dune/Dune.mkv", "UpdateType": "Created"}]})
    assert answer.status_code == 204
    assert scan_task(client)["State"] == "Idle" and jf.library_scans == []
    world.advance(31)
    assert dune not in jf.pending_ids() and other in jf.pending_ids()
    [call] = jf.refresh_calls
    assert call.kind == "media_updated" and call.paths == ("/media/films/Dune/Dune.mkv",)


def test_refreshing_a_library_item_scans_that_library_only(
        jellyfin: tuple[World, httpx.Client]) -> None:
    world, client = jellyfin
    jf = world.jellyfin
    films = jf.add_library("Films", ["/media/films"])
    jf.add_library("Shows", ["/media/shows"], collection_type="tvshows")
    dune = jf.add_movie("Dune", path="/media/films/Dune/Dune.mkv", pending=True)
    show = jf.add_series("Severance", path="/media/shows/Severance", pending=True)
    assert client.post(f"/Items/{films}/Refresh").status_code == 204
    assert dune not in jf.pending_ids() and show in jf.pending_ids()
    assert jf.refresh_calls[-1].library_id == films


def test_path_ends_with_is_a_plain_ends_with_on_the_full_path() -> None:
    """As Shoko's own (5.3.3 `FileController.cs` 1430-1435, 6.0-dev 1355-1360): the query's
    separators made `/`, then a case-insensitive `EndsWith` on the full path, no folder
    boundary."""
    world = shoko_world()
    mine = world.shoko.add_file("Show/Show - 01.mkv")
    other = world.shoko.add_file("Other Show/Other Show - 01.mkv")
    with SimulatedStack(world, services=["shoko"]) as stack, httpx.Client(
            base_url=stack.urls["shoko"], timeout=10,
            headers={"apikey": stack.api_keys["shoko"]}) as c:
        def ids(path: str) -> list[int]:
            r = c.get("/api/v3/File/PathEndsWith", params={"path": path})
            assert r.status_code == 200
            return [f["ID"] for f in r.json()]

        assert ids("show - 01.MKV") == [mine, other]
        assert ids("/Show - 01.mkv") == [mine]
        assert ids("\\show\\show - 01.mkv") == [mine]
        assert ids("/data/anime/Show/Show - 01.mkv") == [mine]  # the import folder's path too
        assert ids("w - 01.mkv") == [mine, other]
