"""What the household's page shows, gathered end to end from the simulated servers over HTTP:
who asked, the year, the ETA while downloading, and the release dates that keep a film not yet
out (or a show not yet aired) from being flagged stuck."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store
from reconciler.web.present import present
from simstack import SimulatedStack, World
from tests.daemon.daemon_support import Clock
from tests.e2e.support import once, show

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SimulatedStack]:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "sonarr", "jellyfin")) as s:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        s.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                       extra='[stuck]\napproved = "6h"\n')
        yield s


def request(tmp_path: Path, rid: int) -> dict[str, Any]:
    data: dict[str, Any] = show(tmp_path, rid)["request"]
    return data


def test_requester_year_and_eta_follow_the_request(stack: SimulatedStack,
                                                   tmp_path: Path) -> None:
    world = stack.world
    anna = world.jellyseerr.add_user("anna")
    rid = world.jellyseerr.add_request(693134, "movie", "Dune: Part Two", requested_by=anna)
    world.jellyseerr.add_title(693134, "movie", "Dune: Part Two", date="2024-02-27")
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    # Not in Radarr yet: the year comes from Jellyseerr's title look-up.
    assert (req["requested_by"], req["year"], req["eta"]) == ("anna", 2024, None)

    mid = world.radarr.add_movie(693134, "Dune: Part Two", year=2024)
    download = world.radarr.grab(mid, size=8 * 1024**3)
    world.radarr.progress(download, 0.25, speed=8 * 1024**2)  # 6 GiB left at 8 MiB/s
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "downloading"
    expected = world.now + timedelta(seconds=6 * 1024 / 8)
    eta = datetime.fromisoformat(req["eta"].replace("Z", "+00:00"))
    assert abs(eta - expected) <= timedelta(seconds=2)

    world.radarr.complete_download(download)
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert (req["state"], req["eta"]) == ("download_done", None)


def test_a_film_not_released_yet_waits_without_being_stuck(stack: SimulatedStack,
                                                           tmp_path: Path) -> None:
    world = stack.world
    config = load_config(tmp_path / "config.toml")
    clock = Clock(START)
    store = Store.open(config.database)
    reconciler = Reconciler(config, store, clock=clock)
    digital = datetime(2026, 3, 14, tzinfo=UTC)
    later = world.jellyseerr.add_request(1001, "movie", "The Long Wait")
    world.radarr.add_movie(1001, "The Long Wait", year=2026, status="announced",
                           in_cinemas=datetime(2026, 2, 1, tzinfo=UTC),
                           digital_release=digital, physical_release=None,
                           minimum_availability="released")
    out = world.jellyseerr.add_request(129, "movie", "Spirited Away")
    world.radarr.add_movie(129, "Spirited Away", year=2001)

    async def cycle_at(when: datetime) -> None:
        clock.now = when
        for service in ("jellyseerr", "radarr", "jellyfin"):
            await reconciler.cycle(services=[service])

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        await cycle_at(START)
        await cycle_at(START + timedelta(hours=6))
        seen["after 6 h"] = (store.request(later), store.request(out))
        await cycle_at(digital + timedelta(hours=5, minutes=59))
        seen["just before"] = store.request(later)
        await cycle_at(digital + timedelta(hours=6))
        seen["past"] = store.request(later)
        await reconciler.aclose()
        return seen

    seen = asyncio.run(scenario())
    store.close()
    waiting, released = seen["after 6 h"]
    assert waiting.state.value == "approved" and waiting.stuck_reason is None
    assert waiting.release_date == digital
    assert present(waiting, START + timedelta(hours=6)).label == \
        "Not released yet: expected 14 Mar"
    assert released.stuck_reason == "no release grabbed after 6 h"  # out since 2001
    assert seen["just before"].stuck_reason is None
    assert seen["past"].stuck_reason == "no release grabbed after 6 h"
    assert present(seen["past"], digital + timedelta(hours=6)).label == \
        "Approved, looking for a release"


def test_a_show_waits_on_its_next_air_date(stack: SimulatedStack, tmp_path: Path) -> None:
    world = stack.world
    config = load_config(tmp_path / "config.toml")
    clock = Clock(START)
    store = Store.open(config.database)
    reconciler = Reconciler(config, store, clock=clock)
    first = START + timedelta(days=10, hours=2)
    rid = world.jellyseerr.add_request(1399, "tv", "New Show", tvdb_id=121361, seasons=[1])
    world.sonarr.add_series(121361, "New Show", tmdb_id=1399, seasons={1: 3},
                            first_aired=first)

    async def cycle_at(when: datetime) -> Any:
        clock.now = when
        for service in ("jellyseerr", "sonarr", "jellyfin"):
            await reconciler.cycle(services=[service])
        return store.request(rid)

    async def scenario() -> list[Any]:
        rows = [await cycle_at(START), await cycle_at(START + timedelta(days=9)),
                await cycle_at(first + timedelta(hours=5)),
                await cycle_at(first + timedelta(hours=6))]
        await reconciler.aclose()
        return rows

    waiting, later, aired, late = asyncio.run(scenario())
    store.close()
    assert waiting.phase == "waiting_for_air" and waiting.release_date == first
    assert later.stuck_reason is None
    assert present(later, START + timedelta(days=9)).label == \
        "Not aired yet: next episode 11 Mar"
    # The first episode aired: six hours for Sonarr to grab it, counted from the air date.
    assert aired.state.value == "approved" and aired.stuck_reason is None
    assert late.stuck_reason == "no release grabbed after 6 h"


def test_a_partly_ready_show_knows_the_progress_and_end_of_the_episode_on_its_way(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """Issue 23: each episode keeps its own download's progress and expected end, so the page
    can say "S01E03 downloading 25 %, ready about ..." while the show is partly available."""
    world = stack.world
    world.jellyfin.add_library("Shows", ["/data/tv"], "tvshows")
    rid = world.jellyseerr.add_request(1399, "tv", "Show", tvdb_id=121361, seasons=[1])
    sid = world.sonarr.add_series(121361, "Show", tmdb_id=1399, seasons={1: 3},
                                  first_aired=world.now - timedelta(days=30))
    e1, e2, e3 = world.sonarr.episode_ids(sid, 1)
    world.sonarr.import_file(sid, [e1, e2])
    show_item = world.jellyfin.add_series("Show", tvdb_id=121361, tmdb_id=1399)
    for number in (1, 2):
        world.jellyfin.add_episode(show_item, 1, number)
    download = world.sonarr.grab(sid, [e3], size=2 * 1024**3)
    world.sonarr.progress(download, 0.25, speed=8 * 1024**2)
    assert once(tmp_path) == 0
    config = load_config(tmp_path / "config.toml")
    store = Store.open(config.database)
    try:
        row = store.request(rid)
        episodes = store.episodes(rid)
    finally:
        store.close()
    assert row is not None and row.state.value == "partially_available"
    third = episodes[2]
    assert third.state == "downloading" and third.progress == pytest.approx(0.25)
    expected = world.now + timedelta(seconds=1.5 * 1024 / 8)
    assert third.eta is not None and abs(third.eta - expected) <= timedelta(seconds=2)
    assert episodes[0].progress is None and episodes[0].eta is None  # ready: nothing to say
    view = present(row, world.now, episodes=episodes)
    assert view.news[0].startswith("S01E03 downloading 25 %, ready about ")
