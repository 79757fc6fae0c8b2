"""Several Radarr and Sonarr servers (issue 16), end to end: the real `reconcile --once` against
a simulated stack serving an HD and a 4K Radarr (and Sonarr), with Jellyseerr's server settings
naming both. A 4K request is tracked on the 4K server and is available only once the media
server (Jellyfin, Emby or Plex) lists a 4K copy; the HD request never moves with it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.e2e.media import MEDIA_SERVERS, NAMES
from tests.e2e.support import once, show

TMDB = 603
TVDB = 81189


def _point(world: World, stack: SimulatedStack, kind: str, name: str, service: str,
           is4k: bool, **kw: Any) -> int:
    """Configure one more *arr server in Jellyseerr, at the stack's `service`; its id."""
    url = stack.url(service)
    port = int(url.rsplit(":", 1)[1])
    return world.jellyseerr.add_arr_server(kind, name=name, hostname="127.0.0.1", port=port,
                                           is4k=is4k, **kw)


ON_EACH = pytest.mark.parametrize("hd4k", MEDIA_SERVERS, indirect=True)


@pytest.fixture
def hd4k(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimulatedStack]:
    """HD and 4K Radarr and Sonarr; Jellyseerr knows all four; 4K libraries in the media
    server (parametrized indirectly with its name; default Jellyfin)."""
    world = World()
    media = getattr(request, "param", "jellyfin")
    with SimulatedStack(world, services=("jellyseerr", "radarr", "sonarr", media),
                        extra={"radarr4k": "radarr", "sonarr4k": "sonarr"}) as stack:
        _point(world, stack, "radarr", "Radarr 4K", "radarr4k", True)
        _point(world, stack, "sonarr", "Sonarr 4K", "sonarr4k", True)
        for name, root, kind in (
                ("Movies", "/data/movies", "movies"), ("Movies 4K", "/data/movies4k", "movies"),
                ("Shows", "/data/tv", "tvshows"), ("Shows 4K", "/data/tv4k", "tvshows")):
            stack.media.add_library(name, [root], kind)
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                           servers={"radarr4k": {"is4k": True}, "sonarr4k": {"is4k": True}})
        yield stack


def request(tmp_path: Path, rid: int) -> dict[str, Any]:
    data: dict[str, Any] = show(tmp_path, rid)["request"]
    return data


@ON_EACH
def test_a_4k_film_downloads_on_the_4k_server_while_the_hd_copy_plays(
        hd4k: SimulatedStack, tmp_path: Path) -> None:
    world, media = hd4k.world, hd4k.media
    r4k = world.radarrs["radarr4k"]
    hd = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    uhd = world.jellyseerr.add_request(TMDB, "movie", "The Matrix", is4k=True)
    hd_movie = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    world.radarr.import_file(hd_movie)
    hd_item = media.add_movie("The Matrix", tmdb_id=TMDB, year=1999, width=1920,
                              library="Movies")
    uhd_movie = r4k.add_movie(TMDB, "The Matrix", year=1999, root_folder="/data/movies4k")
    download = r4k.grab(uhd_movie)
    r4k.progress(download, 0.5)
    assert once(tmp_path) == 0

    first, second = request(tmp_path, hd), request(tmp_path, uhd)
    assert (first["state"], first["server"], first["jellyfin_item_id"]) == (
        "available", "radarr", hd_item)
    assert (second["state"], second["server"], second["via"]) == (
        "downloading", "radarr4k", "radarr")
    assert second["progress"] == pytest.approx(0.5, abs=0.01)
    assert second["jellyfin_item_id"] is None

    # The 4K file is imported; the server does not list it yet: the HD copy does not count.
    r4k.complete_download(download)
    r4k.import_file(download_id=download)
    assert once(tmp_path) == 0
    second = request(tmp_path, uhd)
    assert second["state"] == "importing"
    assert f"waiting for {NAMES[hd4k.media_server]}" in second["detail"]
    assert request(tmp_path, hd)["state"] == "available"

    # The server lists the 4K copy in its own library: the 4K request is available on it.
    uhd_item = media.add_movie("The Matrix", tmdb_id=TMDB, year=1999,
                               library="Movies 4K", width=3840)
    assert once(tmp_path) == 0
    first, second = request(tmp_path, hd), request(tmp_path, uhd)
    assert (second["state"], second["jellyfin_item_id"]) == ("available", uhd_item)
    assert (first["state"], first["jellyfin_item_id"]) == ("available", hd_item)
    timeline = show(tmp_path, hd)["timeline"]
    assert [t["to"] for t in timeline] == ["available"]
    # Jellyseerr named the server by id, and reconciler found it by host and port, reading
    # Jellyseerr's settings once.
    assert hd4k.count("jellyseerr", path="/api/v1/settings/radarr") == 1


def test_a_4k_version_of_the_hd_item_makes_the_4k_request_available(
        hd4k: SimulatedStack, tmp_path: Path) -> None:
    world = hd4k.world
    uhd = world.jellyseerr.add_request(TMDB, "movie", "The Matrix", is4k=True)
    movie = world.radarrs["radarr4k"].add_movie(TMDB, "The Matrix", year=1999)
    world.radarrs["radarr4k"].import_file(movie)
    item = world.jellyfin.add_movie("The Matrix", tmdb_id=TMDB, year=1999, width=1920)
    assert once(tmp_path) == 0
    assert request(tmp_path, uhd)["state"] == "importing"

    world.jellyfin.update_item(item, versions=[("/data/movies/The Matrix - 2160p.mkv", 3840)])
    assert once(tmp_path) == 0
    data = request(tmp_path, uhd)
    assert (data["state"], data["jellyfin_item_id"]) == ("available", item)


@ON_EACH
def test_a_4k_show_is_tracked_on_the_4k_sonarr_and_its_own_episodes(
        hd4k: SimulatedStack, tmp_path: Path) -> None:
    world, media = hd4k.world, hd4k.media
    s4k = world.sonarrs["sonarr4k"]
    hd = world.jellyseerr.add_request(TMDB, "tv", "The Show", tvdb_id=TVDB, seasons=[1])
    uhd = world.jellyseerr.add_request(TMDB, "tv", "The Show", tvdb_id=TVDB, seasons=[1],
                                       is4k=True)
    ids = {}
    for sonarr, root in ((world.sonarr, "/data/tv"), (s4k, "/data/tv4k")):
        sid = sonarr.add_series(TVDB, "The Show", tmdb_id=TMDB, seasons={1: 1}, root_folder=root)
        ids[root] = (sid, sonarr.episode_ids(sid, season=1))
    world.sonarr.import_file(*ids["/data/tv"])
    series = media.add_series("The Show", tvdb_id=TVDB, tmdb_id=TMDB,
                              library="Shows")
    hd_ep = media.add_episode(series, 1, 1, width=1920)
    assert once(tmp_path) == 0
    first, second = request(tmp_path, hd), request(tmp_path, uhd)
    assert (first["state"], first["server"]) == ("available", "sonarr")
    assert second["server"] == "sonarr4k"
    assert second["state"] not in ("available", "partially_available")

    s4k.import_file(*ids["/data/tv4k"])
    series4k = media.add_series("The Show", tvdb_id=TVDB, tmdb_id=TMDB,
                                library="Shows 4K")
    media.add_episode(series4k, 1, 1, width=3840)
    assert once(tmp_path) == 0
    first, second = request(tmp_path, hd), request(tmp_path, uhd)
    assert (first["state"], second["state"]) == ("available", "available")
    assert show(tmp_path, hd)["episodes"][0]["state"] == "available"
    assert show(tmp_path, uhd)["episodes"][0]["state"] == "available"
    assert hd_ep


def test_the_single_table_config_keeps_working_and_an_unconfigured_server_is_named(
        tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin")) as stack:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        # Jellyseerr has a 4K Radarr that reconciler is not configured for.
        four_k = world.jellyseerr.add_arr_server("radarr", name="Radarr 4K", hostname="radarr4k",
                                                 port=7879, is4k=True)
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        assert "[radarr]\n" in (tmp_path / "config.toml").read_text()
        hd = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
        uhd = world.jellyseerr.add_request(TMDB, "movie", "The Matrix", is4k=True)
        movie = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
        world.radarr.import_file(movie)
        world.jellyfin.add_movie("The Matrix", tmdb_id=TMDB, year=1999)
        assert once(tmp_path) == 0

        first, second = request(tmp_path, hd), request(tmp_path, uhd)
        assert (first["state"], first["server"]) == ("available", "radarr")
        assert (second["state"], second["server"]) == ("approved", None)
        assert second["detail"].startswith(
            f"sent to Radarr server 'Radarr 4K' (id {four_k}), which reconciler is not "
            "configured for")
        # Status shows no SERVER column with one server of each kind.
        result = run_reconcile("--config", str(tmp_path / "config.toml"), "status")
        assert "SERVER" not in result.stdout


def test_a_request_sent_to_the_anime_sonarr_is_tracked_there(tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "sonarr", "jellyfin"),
                        extra={"anime": "sonarr"}) as stack:
        anime_id = _point(world, stack, "sonarr", "Sonarr Anime", "anime", False,
                          is_default=False)
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                           servers={"anime": {"seerr_server_id": anime_id}})
        rid = world.jellyseerr.add_request(TMDB, "tv", "Anime Show", tvdb_id=TVDB, seasons=[1],
                                           server_id=anime_id)
        world.sonarrs["anime"].add_series(TVDB, "Anime Show", tmdb_id=TMDB,
                                          series_type="anime", seasons={1: 1})
        assert once(tmp_path) == 0
        data = request(tmp_path, rid)
        assert data["server"] == "anime"
        assert data["state"] == "approved" and "Sonarr" in data["detail"]
        # Routed by the configured seerr_server_id: Jellyseerr's settings are not read.
        assert stack.count("jellyseerr", path="/api/v1/settings/sonarr") == 0
        # Its episodes are read from the anime server, not from the default one.
        assert stack.count("anime", path="/api/v3/episode") >= 1
        assert stack.count("sonarr", path="/api/v3/episode") == 0
        result = run_reconcile("--config", str(tmp_path / "config.toml"), "status")
        assert "SERVER" in result.stdout and "anime" in result.stdout


def test_the_calendar_of_a_named_sonarr_is_compared_with_that_servers_episodes(
        tmp_path: Path) -> None:
    """Sonarr's calendar (issue 15) on the anime server: an episode that aired three days ago,
    unchanged, is compared with the anime server's stored episodes, so an incremental cycle
    reads none again; one days ahead re-dated to now is read in the next cycle."""
    world = World()
    real_now = datetime.now(UTC)
    with SimulatedStack(world, services=("jellyseerr", "sonarr", "jellyfin"),
                        extra={"anime": "sonarr"}) as stack:
        anime_id = _point(world, stack, "sonarr", "Sonarr Anime", "anime", False,
                          is_default=False)
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                           servers={"anime": {"seerr_server_id": anime_id}})
        world.jellyseerr.add_request(TMDB, "tv", "Anime Show", tvdb_id=TVDB, seasons=[1],
                                     server_id=anime_id)
        anime = world.sonarrs["anime"]
        sid = anime.add_series(TVDB, "Anime Show", tmdb_id=TMDB, series_type="anime",
                               seasons={1: 1}, first_aired=real_now - timedelta(days=3))
        e2 = anime.add_episode(sid, 1, 2, (real_now + timedelta(days=3)).replace(microsecond=0))
        assert once(tmp_path) == 0
        stack.reset_stats()
        assert once(tmp_path) == 0
        assert stack.count("anime", path="/api/v3/calendar") == 1
        assert stack.count("anime", path="/api/v3/episode") == 0
        anime.update_episode(e2, air_date_utc=real_now - timedelta(minutes=1))
        stack.reset_stats()
        assert once(tmp_path) == 0
        assert stack.count("anime", path="/api/v3/episode") == 1


def test_an_idle_cycle_costs_at_most_two_calls_per_extra_server(tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin"),
                        extra={"radarr4k": "radarr"}) as stack:
        _point(world, stack, "radarr", "Radarr 4K", "radarr4k", True)
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        for n in range(5):
            world.jellyseerr.add_request(TMDB + n, "movie", f"Film {n}")
            world.jellyseerr.add_request(TMDB + n, "movie", f"Film {n}", is4k=True)
            world.radarr.add_movie(TMDB + n, f"Film {n}")
            world.radarrs["radarr4k"].add_movie(TMDB + n, f"Film {n}")
        costs = {}
        for label, servers in (("one", None), ("two", {"radarr4k": {"is4k": True}})):
            folder = tmp_path / label
            folder.mkdir()
            text = stack.config_toml(folder / "reconciler.db", servers=servers)
            if servers is None:  # the same stack, one Radarr configured
                text = text.replace("[[radarr]]\nname = \"radarr\"", "[radarr]")
                head, _, tail = text.partition("[[radarr]]\nname = \"radarr4k\"")
                text = head + tail.split("\n\n", 1)[1]
            (folder / "config.toml").write_text(text)
            assert once(folder) == 0
            assert once(folder) == 0
            stack.reset_stats()
            assert once(folder) == 0
            costs[label] = sum(s["calls"] for s in stack.stats().values())
        assert costs["two"] - costs["one"] <= 2, costs


def test_unreadable_server_settings_leave_the_request_waiting_not_jellyseerr_failed(
        hd4k: SimulatedStack, tmp_path: Path) -> None:
    world = hd4k.world
    hd4k.set_fault("jellyseerr", "status", path="/api/v1/settings/radarr", code=500)
    uhd = world.jellyseerr.add_request(TMDB, "movie", "The Matrix", is4k=True)
    world.radarrs["radarr4k"].add_movie(TMDB, "The Matrix", year=1999)
    assert once(tmp_path) == 0  # Jellyseerr's poll itself succeeded
    data = request(tmp_path, uhd)
    assert (data["state"], data["server"]) == ("approved", None)
    assert "waiting for Jellyseerr's server settings" in data["detail"]

    hd4k.clear_fault("jellyseerr")
    assert once(tmp_path) == 0
    data = request(tmp_path, uhd)
    assert (data["server"], data["state"]) == ("radarr4k", "approved")
    assert "waiting for Radarr" in data["detail"]


def test_requests_naming_no_server_follow_seerrs_default_not_reconcilers(
        tmp_path: Path) -> None:
    """Two HD Radarr servers whose defaults differ (issue 22): reconciler's own default is the
    first configured, Seerr's `isDefault` is the other. A request with a null `serverId` (a
    regular user's) goes where Seerr sends it: the server Seerr recorded on its media
    (`serviceId`) once it has, else Seerr's default; never reconciler's own while Seerr's
    settings can be read."""
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin"),
                        extra={"kids": "radarr"}) as stack:
        world.jellyseerr.servers["radarr"][0].is_default = False
        kids_id = _point(world, stack, "radarr", "Radarr Kids", "kids", False, is_default=True)
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        kids = world.radarrs["kids"]
        fresh = world.jellyseerr.add_request(TMDB, "movie", "The Matrix", server_id=None)
        sent = world.jellyseerr.add_request(680, "movie", "Pulp Fiction", server_id=None,
                                            external_service_id=1)
        world.jellyseerr.update_media(680, service_id=0)  # Seerr sent it to "Radarr" (id 0)
        kids.add_movie(TMDB, "The Matrix", year=1999)
        world.radarr.add_movie(680, "Pulp Fiction", year=1994)
        assert once(tmp_path) == 0
        first, second = request(tmp_path, fresh), request(tmp_path, sent)
        assert (first["server"], first["state"]) == ("kids", "approved")
        assert "waiting for Radarr" in first["detail"]
        assert (second["server"], second["state"]) == ("radarr", "approved")
        assert stack.count("jellyseerr", path="/api/v1/settings/radarr") == 1
        assert kids_id == 1
        # Seerr's settings unreadable from the start: reconciler's own default, as before.
        stack.set_fault("jellyseerr", "status", path="/api/v1/settings/radarr", code=500)
        other = tmp_path / "unread"
        other.mkdir()
        stack.write_config(other / "config.toml", other / "reconciler.db")
        assert once(other) == 0
        assert request(other, fresh)["server"] == "radarr"
