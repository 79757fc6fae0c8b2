"""What the status page needs from the services, read over real HTTP from the simulated servers:
Radarr's year, status and release dates, Sonarr's year, the queue's estimated completion, and
the year beside Jellyseerr's title (in the same single look-up)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from reconciler.config import load_config
from reconciler.models import MediaType
from reconciler.services.arr import parse_queue_record
from reconciler.services.jellyseerr import JellyseerrClient
from reconciler.services.radarr import RadarrClient, parse_movie
from reconciler.services.sonarr import SonarrClient
from simstack import SimulatedStack, World


def clients(stack: SimulatedStack, tmp_path: Path) -> dict[str, Any]:
    path = stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
    services = load_config(path).services
    return {"radarr": RadarrClient(services["radarr"]),
            "sonarr": SonarrClient(services["sonarr"]),
            "jellyseerr": JellyseerrClient(services["jellyseerr"])}


def test_radarr_release_dates_year_and_queue_eta(tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "sonarr", "jellyfin")) as stack:
        later = world.radarr.add_movie(
            1001, "Later", year=2027, status="announced",
            in_cinemas=datetime(2027, 1, 20, tzinfo=UTC),
            digital_release=datetime(2027, 3, 14, tzinfo=UTC), physical_release=None)
        old = world.radarr.add_movie(603, "The Matrix", year=1999)
        download = world.radarr.grab(old)
        world.radarr.progress(download, 0.5, speed=1024**2)
        series = world.sonarr.add_series(81189, "Breaking Bad", year=2008)
        made = clients(stack, tmp_path)

        async def read() -> tuple[Any, ...]:
            try:
                movies = {m.id: m for m in await made["radarr"].movies()}
                queue, _ = await made["radarr"].queue()
                shows = {s.id: s for s in await made["sonarr"].all_series()}
                return movies, queue, shows
            finally:
                for client in made.values():
                    await client.aclose()

        movies, queue, shows = asyncio.run(read())
    film = movies[later]
    assert (film.year, film.status, film.is_available) == (2027, "announced", False)
    assert film.in_cinemas and film.in_cinemas.date() == date(2027, 1, 20)
    assert film.digital_release and film.digital_release.date() == date(2027, 3, 14)
    assert film.physical_release is None
    assert movies[old].year == 1999 and movies[old].status == "released"
    assert movies[old].is_available is True
    assert shows[series].year == 2008
    (record,) = queue
    assert record.estimated_completion is not None
    assert record.estimated_completion > world.now


def test_missing_fields_take_their_defaults() -> None:
    """An older Radarr or a thin payload: no year, no dates, no ETA; nothing refused."""
    film = parse_movie({"id": 1, "tmdbId": 2, "title": "X", "hasFile": False, "year": 0})
    assert (film.year, film.status, film.digital_release, film.is_available) == \
        (None, None, None, None)
    record = parse_queue_record("radarr", {
        "id": 1, "movieId": 1, "size": 10.0, "sizeleft": 5.0, "status": "queued",
        "trackedDownloadStatus": "ok", "trackedDownloadState": "downloading"})
    assert record.estimated_completion is None


def test_the_title_look_up_brings_the_year_in_one_call(tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "sonarr", "jellyfin")) as stack:
        world.jellyseerr.add_title(840464, "movie", "Dune: Part Two", date="2024-02-27")
        world.jellyseerr.add_title(89641, "tv", "Slow Horses", date="2022-04-01")
        world.jellyseerr.add_title(5, "movie", "Undated", date=None)
        made = clients(stack, tmp_path)
        seerr = made["jellyseerr"]

        async def read() -> tuple[Any, ...]:
            try:
                return (await seerr.title_info(MediaType.MOVIE, 840464),
                        await seerr.title_info(MediaType.TV, 89641),
                        await seerr.title_info(MediaType.MOVIE, 5))
            finally:
                for client in made.values():
                    await client.aclose()

        stack.reset_stats()
        film, show, undated = asyncio.run(read())
        looked_up = [r for r in stack.requests("jellyseerr")
                     if r.path.startswith(("/api/v1/movie/", "/api/v1/tv/"))]
    assert (film.title, film.year) == ("Dune: Part Two", 2024)
    assert (show.title, show.year) == ("Slow Horses", 2022)
    assert (undated.title, undated.year) == ("Undated", None)
    assert len(looked_up) == 3  # one call per look-up

