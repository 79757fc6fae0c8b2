"""A household's Friday evening, played on the simulated stack and watched by the real daemon
(its HTTP server, its artwork fetching, its clock the world's): the world of the page's browser
test and of the screenshots (`python -m tests.web.screenshots`).

Earlier in the afternoon (`START`): a film ready, a show partly ready, a film whose download
failed, one whose download stalls, one waiting for approval, one not released until next year,
one declined. Then the clock moves on `LATER` (the stalled download is now stuck), and the
evening starts: a film downloading, one imported and waiting for Jellyfin, and the show's
newest episode downloading.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.config import Config
from reconciler.daemon import Daemon
from reconciler.httpapi import HttpServer, Metrics, start_http_server
from reconciler.store import Store
from simstack import SimulatedStack, World
from simstack.jellyseerr import DECLINED, PENDING
from tests.daemon.daemon_support import free_port, wait_until, write_config

START = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)  # a Friday afternoon
LATER = timedelta(hours=2, minutes=30)
PUBLIC_URL = "https://jellyfin.example.org"
SERVICES = ("jellyseerr", "radarr", "sonarr", "jellyfin")
INTERVAL = 0.5
MiB = 1024**2


@dataclass
class Household:
    """The scripted requests (by short name) and downloads."""

    world: World
    ids: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)  # Radarr/Sonarr ids
    downloads: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    def afternoon(self) -> None:
        """What is already there when the page is first opened."""
        w = self.world
        jf, seerr, radarr, sonarr = w.jellyfin, w.jellyseerr, w.radarr, w.sonarr
        jf.add_library("Movies", ["/data/movies"], "movies")
        jf.add_library("Shows", ["/data/tv"], "tvshows")
        self.users = {n: seerr.add_user(n) for n in ("Anna", "Ben", "Mia")}
        anna, ben, mia = self.users["Anna"], self.users["Ben"], self.users["Mia"]
        for tmdb, kind, title, date in (
                (603, "movie", "The Matrix", "1999-03-31"),
                (95480, "tv", "Slow Horses", "2022-04-01"),
                (1138194, "movie", "Heretic", "2024-10-31"),
                (1184918, "movie", "The Wild Robot", "2024-09-12"),
                (929204, "movie", "Wallace & Gromit: Vengeance Most Fowl", "2024-12-18"),
                (1368337, "movie", "The Odyssey", "2026-07-17"),
                (912649, "movie", "Venom: The Last Dance", "2024-10-22"),
                (693134, "movie", "Dune: Part Two", "2024-02-27"),
                (516729, "movie", "Paddington in Peru", "2024-11-08")):
            seerr.add_title(tmdb, kind, title, date=date,
                            tvdb_id=360563 if kind == "tv" else None)

        ids = self.ids
        ids["matrix"] = seerr.add_request(603, "movie", "The Matrix", requested_by=ben)
        matrix = radarr.add_movie(603, "The Matrix", year=1999)
        radarr.import_file(matrix)
        jf.add_movie("The Matrix", tmdb_id=603, year=1999, library="Movies")

        ids["slow"] = seerr.add_request(95480, "tv", "Slow Horses", tvdb_id=360563,
                                        seasons=[1, 2], requested_by=ben)
        sid = sonarr.add_series(360563, "Slow Horses", tmdb_id=95480, seasons={1: 6},
                                first_aired=START - timedelta(days=400), year=2022)
        self.items["slow"] = sid
        now = w.now
        season2 = [now - timedelta(days=21), now - timedelta(days=14), now - timedelta(days=7),
                   now - timedelta(hours=20), now + timedelta(days=6, hours=2),
                   now + timedelta(days=13, hours=2)]
        for number, airs in enumerate(season2, start=1):
            self.items[f"s2e{number}"] = sonarr.add_episode(sid, 2, number, airs)
        ready = sonarr.episode_ids(sid, 1) + [self.items[f"s2e{n}"] for n in (1, 2, 3)]
        sonarr.import_file(sid, ready)
        show = jf.add_series("Slow Horses", tvdb_id=360563, tmdb_id=95480, year=2022)
        for season, number in [(1, n) for n in range(1, 7)] + [(2, n) for n in (1, 2, 3)]:
            jf.add_episode(show, season, number)

        ids["heretic"] = seerr.add_request(1138194, "movie", "Heretic", requested_by=anna)
        heretic = radarr.add_movie(1138194, "Heretic", year=2024)
        radarr.fail_download(radarr.grab(heretic), "Not enough disk space on /downloads")

        ids["robot"] = seerr.add_request(1184918, "movie", "The Wild Robot", requested_by=mia)
        robot = radarr.add_movie(1184918, "The Wild Robot", year=2024)
        self.downloads["robot"] = radarr.grab(robot, size=6 * 1024**3)
        radarr.progress(self.downloads["robot"], 0.05, speed=0)

        ids["wallace"] = seerr.add_request(929204, "movie",
                                           "Wallace & Gromit: Vengeance Most Fowl",
                                           status=PENDING, requested_by=mia)
        ids["odyssey"] = seerr.add_request(1368337, "movie", "The Odyssey", requested_by=anna)
        release = datetime(2027, 3, 14, tzinfo=UTC)
        radarr.add_movie(1368337, "The Odyssey", year=2026, status="announced",
                         in_cinemas=datetime(2026, 7, 17, tzinfo=UTC),
                         digital_release=release, physical_release=None)
        ids["venom"] = seerr.add_request(912649, "movie", "Venom: The Last Dance",
                                         status=DECLINED, requested_by=ben)

    def evening(self) -> None:
        """What starts once the clock has moved on: the downloads of the evening."""
        w = self.world
        seerr, radarr, sonarr = w.jellyseerr, w.radarr, w.sonarr
        anna, mia = self.users["Anna"], self.users["Mia"]
        self.ids["dune"] = seerr.add_request(693134, "movie", "Dune: Part Two",
                                             requested_by=anna)
        dune = radarr.add_movie(693134, "Dune: Part Two", year=2024)
        self.downloads["dune"] = radarr.grab(dune, size=8 * 1024**3)
        radarr.progress(self.downloads["dune"], 0.42, speed=12 * MiB)

        self.ids["paddington"] = seerr.add_request(516729, "movie", "Paddington in Peru",
                                                   requested_by=mia)
        paddington = radarr.add_movie(516729, "Paddington in Peru", year=2024)
        radarr.import_file(paddington)

        e4 = self.items["s2e4"]
        self.downloads["s2e4"] = sonarr.grab(self.items["slow"], [e4], size=2 * 1024**3)
        sonarr.progress(self.downloads["s2e4"], 0.25, speed=8 * MiB)


class RunningDaemon:
    """The daemon in a thread of its own (Playwright's sync API wants the main thread free of
    event loops), stopped by setting its stop event from outside."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.ready.set()
        await self.daemon.run(self.stop_event)

    def __enter__(self) -> RunningDaemon:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self.thread.is_alive():
            return
        assert self.loop is not None and self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "the daemon did not stop"


def household_config(stack: SimulatedStack, folder: Path, port: int,
                     timezone: str = "Europe/London") -> Config:
    """The daemon's configuration: fast polls, the page on `port`, Play links."""
    path_config = write_config(
        stack, folder, intervals={s: INTERVAL for s in SERVICES},
        reconciler_extra="active_poll_interval = 0.5",
        extra=f'[http]\nlisten = "127.0.0.1:{port}"\ntimezone = "{timezone}"\n')
    text = path_config.path.read_text().replace(
        "[jellyfin]\n", f'[jellyfin]\npublic_url = "{PUBLIC_URL}"\n', 1)
    path_config.path.write_text(text)
    from reconciler.config import load_config

    return load_config(path_config.path)


def make_daemon(config: Config, store: Store, world: World) -> Daemon:
    """The real daemon on the world's clock (its page too), fetching posters at once."""
    clock: Callable[[], datetime] = lambda: world.now  # noqa: E731

    def http(cfg: Callable[[], Config], metrics: Metrics, listen: str,
             alive: Callable[[], bool]) -> HttpServer:
        return start_http_server(cfg, metrics, listen, clock, liveness=alive)

    daemon = Daemon(config, store, clock=clock, http_factory=http)
    daemon.artwork.every = 0.5
    return daemon


def state_of(store_path: Path, rid: int) -> tuple[str, bool] | None:
    """(state, stuck) of a request, read as the page would (a read-only connection)."""
    try:
        store = Store.open(store_path, readonly=True)
    except Exception:
        return None
    try:
        row = store.request(rid)
        return None if row is None else (row.state.value, row.stuck_reason is not None)
    finally:
        store.close()


@contextmanager
def household(folder: Path, *, port: int | None = None,
              timezone: str = "Europe/London") -> Iterator[tuple[Household, SimulatedStack,
                                                                 RunningDaemon, str, Any]]:
    """The household's stack and daemon, the evening under way and every request settled:
    (household, stack, running daemon, the page's base URL, restart) where `restart()` starts
    a new daemon on the same port and database after the running one was stopped."""
    world = World(START, realtime=True)
    h = Household(world)
    port = port or free_port()
    with SimulatedStack(world, services=SERVICES) as stack:
        config = household_config(stack, folder, port, timezone)
        with world.lock:
            h.afternoon()
        store = Store.open(config.database)
        running = RunningDaemon(make_daemon(config, store, world))
        stores, runners = [store], [running]

        def restart() -> RunningDaemon:
            again = Store.open(config.database)
            stores.append(again)
            runners.append(RunningDaemon(make_daemon(config, again, world)).__enter__())
            return runners[-1]

        try:
            with running:
                db = config.database
                wait_until(lambda: state_of(db, h.ids["robot"]) == ("downloading", False)
                           and state_of(db, h.ids["slow"]) == ("partially_available", False),
                           timeout=30, what="the afternoon's requests")
                world.advance(LATER.total_seconds())
                with world.lock:
                    h.evening()
                wait_until(lambda: state_of(db, h.ids["robot"]) == ("downloading", True)
                           and state_of(db, h.ids["dune"]) == ("downloading", False)
                           and state_of(db, h.ids["paddington"]) == ("importing", False),
                           timeout=30, what="the evening's requests")
                yield h, stack, running, f"http://127.0.0.1:{port}", restart
        finally:
            for runner in runners:
                runner.stop()
            for opened in stores:
                opened.close()
