"""The benchmark's simulated stack, run in a child process so that the reconciler's CPU time and
memory are measured alone. The parent talks to it over a pipe: build, change, stats, baseline."""

from __future__ import annotations

import multiprocessing as mp
import random
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from simstack import SimulatedStack, World, media_server
from simstack.jellyseerr import MEDIA_AVAILABLE

TV_SHARE = 0.2  # a fifth of the tracked requests are shows
EPISODES_PER_SHOW = 8
CHURN_KEPT_STEPS = 24  # an unrequested film stays this many churn steps before it goes
FOUR_K_SHARE = 0.2  # with a 4K Radarr: a fifth of the films are also requested in 4K


@dataclass(frozen=True)
class Sizes:
    requests: int
    active: int
    library: int
    seed: int = 1
    seerr_version: str | None = None  # a `simstack.seerr_versions` profile; None: the default
    four_k: bool = False  # a second, 4K Radarr ("radarr4k") and 4K requests on it
    media_server: str = "jellyfin"  # or "emby", "plex" (then no Shoko: a Jellyfin feature)


class BenchWorld:
    """Builds the world: `requests` tracked requests, `active` of them downloading, the rest
    available in Jellyfin (and, as Jellyseerr's own Jellyfin sync would have it, available in
    Jellyseerr), in a library of `library` items in all."""

    def __init__(self, sizes: Sizes) -> None:
        self.sizes = sizes
        self.world = World(seed=sizes.seed, jellyseerr_version=sizes.seerr_version)
        self.rng = random.Random(sizes.seed)
        self.downloads: list[tuple[str, str, int]] = []  # (service, download id, subject id)
        self.items = 0
        self._churned = 0
        self._churn_queue: list[tuple[int, str]] = []
        self.seerr_4k: int | None = None  # the 4K Radarr's id in Jellyseerr's settings
        self._build()

    def _build(self) -> None:
        w, sizes = self.world, self.sizes
        jf = media_server(w, sizes.media_server)
        jf.add_library("Movies", ["/data/movies"], "movies")
        jf.add_library("Shows", ["/data/tv"], "tvshows")
        n_tv = int(sizes.requests * TV_SHARE)
        n_movies = sizes.requests - n_tv
        active_tv = int(sizes.active * TV_SHARE)
        active_movies = sizes.active - active_tv
        for i in range(n_movies):
            tmdb = 100_000 + i
            w.jellyseerr.add_request(tmdb, "movie", f"Film {i}")
            mid = w.radarr.add_movie(tmdb, f"Film {i}", year=1980 + i % 45)
            if i < active_movies:
                did = w.radarr.grab(mid)
                w.radarr.progress(did, self.rng.uniform(0.05, 0.8))
                self.downloads.append(("radarr", did, mid))
            else:
                w.radarr.import_file(mid)
                jf.add_movie(f"Film {i}", tmdb_id=tmdb, year=1980 + i % 45)
                w.jellyseerr.set_media_status(tmdb, MEDIA_AVAILABLE, media_type="movie")
                self.items += 1
        if sizes.four_k:
            self._build_4k(n_movies, active_movies)
        for i in range(n_tv):
            tvdb, tmdb = 500_000 + i, 900_000 + i
            w.jellyseerr.add_request(tmdb, "tv", f"Show {i}", tvdb_id=tvdb, seasons=[1])
            sid = w.sonarr.add_series(tvdb, f"Show {i}", tmdb_id=tmdb,
                                      seasons={1: EPISODES_PER_SHOW})
            episodes = w.sonarr.episode_ids(sid, 1)
            if i < active_tv:
                did = w.sonarr.grab(sid, season=1)
                w.sonarr.progress(did, self.rng.uniform(0.05, 0.8))
                self.downloads.append(("sonarr", did, sid))
            else:
                for eid in episodes:
                    w.sonarr.import_file(sid, [eid])
                series_item = jf.add_series(f"Show {i}", tvdb_id=tvdb, tmdb_id=tmdb)
                for n in range(1, EPISODES_PER_SHOW + 1):
                    jf.add_episode(series_item, 1, n)
                w.jellyseerr.set_media_status(tmdb, MEDIA_AVAILABLE, media_type="tv")
                self.items += 1 + EPISODES_PER_SHOW
        rest = max(0, sizes.library - self.items)
        if rest:
            jf.populate(rest, seed=sizes.seed)
        # The requests' own items may be more than `library` (e.g. 2,000 requests in 3,000).
        self.items = max(self.items, sizes.library)

    def creep(self, steps_left: int) -> int:
        """Move every active download forward by its share of what is left up to 98 %: progress
        keeps moving at every step and never finishes (the soak's downloads)."""
        for service, did, _ in self.downloads:
            arr = self.world.radarrs.get(service) or self.world.sonarrs[service]
            dl = arr.get_download(did)
            done = 1.0 - dl.sizeleft / dl.size
            arr.progress(did, done + max(0.0, 0.98 - done) / max(1, steps_left))
        return len(self.downloads)

    def churn(self, n: int) -> int:
        """Add `n` films unrelated to any request to Radarr and Jellyfin, and remove the `n`
        oldest such films added before (the library changes, its size does not)."""
        w = self.world
        for _ in range(n):
            self._churned += 1
            tmdb = 7_000_000 + self._churned
            title = f"Unrequested {self._churned}"
            mid = w.radarr.add_movie(tmdb, title, year=2000 + self._churned % 25)
            w.radarr.import_file(mid)
            item = media_server(w, self.sizes.media_server).add_movie(
                title, tmdb_id=tmdb, year=2000 + self._churned % 25)
            self._churn_queue.append((mid, item))
        removed = 0
        while len(self._churn_queue) > n * CHURN_KEPT_STEPS:
            mid, item = self._churn_queue.pop(0)
            w.radarr.remove_movie(mid)
            media_server(w, self.sizes.media_server).remove_item(item)
            removed += 1
        return removed
    def _build_4k(self, n_movies: int, active_movies: int) -> None:
        """The 4K Radarr: a share of the films also requested in 4K, as many of those active
        as of the HD ones, the rest available from a 4K library."""
        w = self.world
        jf = media_server(w, self.sizes.media_server)
        w.add_arr("radarr", "radarr4k")
        r4k = w.radarrs["radarr4k"]
        self.seerr_4k = w.jellyseerr.add_arr_server("radarr", name="Radarr 4K",
                                                    hostname="radarr4k", port=7878, is4k=True)
        jf.add_library("Movies 4K", ["/data/movies4k"], "movies")
        n_4k = int(n_movies * FOUR_K_SHARE)
        active_4k = int(active_movies * FOUR_K_SHARE)
        for i in range(n_4k):
            tmdb = 100_000 + i
            w.jellyseerr.add_request(tmdb, "movie", f"Film {i}", is4k=True)
            mid = r4k.add_movie(tmdb, f"Film {i}", year=1980 + i % 45,
                                root_folder="/data/movies4k")
            if i < active_4k:
                did = r4k.grab(mid)
                r4k.progress(did, self.rng.uniform(0.05, 0.8))
                self.downloads.append(("radarr4k", did, mid))
            else:
                r4k.import_file(mid)
                jf.add_movie(f"Film {i}", tmdb_id=tmdb, year=1980 + i % 45,
                             library="Movies 4K", width=3840)
                w.jellyseerr.set_media_status(tmdb, MEDIA_AVAILABLE, media_type="movie",
                                              is4k=True)
                self.items += 1

    def change(self, n: int) -> int:
        """Move `n` active downloads forward a little (what a steady-state cycle sees)."""
        moved = 0
        for service, did, _ in self.rng.sample(self.downloads, min(n, len(self.downloads))):
            arr = self.world.radarrs.get(service) or self.world.sonarrs[service]
            dl = arr.get_download(did)
            done = 1.0 - dl.sizeleft / dl.size
            arr.progress(did, min(0.99, done + 0.01))
            moved += 1
        return moved


def _serve(conn: Connection, sizes: Sizes) -> None:
    bench = BenchWorld(sizes)
    extra = {"radarr4k": "radarr"} if sizes.four_k else None
    with SimulatedStack(bench.world, log_limit=0, extra=extra,
                        media_server=sizes.media_server) as stack:
        servers = None
        if bench.seerr_4k is not None:
            bench.world.jellyseerr.point_server_at("radarr", bench.seerr_4k,
                                                   stack.url("radarr4k"))
            servers = {"radarr4k": {"is4k": True}}
        profile = bench.world.jellyseerr.profile
        conn.send({"urls": stack.urls, "api_keys": stack.api_keys,
                   "seerr": f"{profile.name} ({profile.flavour} {profile.version})",
                   "active": len(bench.downloads),  # every active request, 4K ones too
                   "items": bench.items,  # the media server's items (at least `library`)
                   "config": stack.config_toml("DATABASE", servers=servers)})
        while True:
            command, arg = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "change":
                conn.send(bench.change(int(arg)))
            elif command == "now":
                conn.send(bench.world.now)
            elif command == "creep":
                conn.send(bench.creep(int(arg)))
            elif command == "churn":
                conn.send(bench.churn(int(arg)))
            elif command == "advance":
                bench.world.advance(float(arg))
                conn.send(None)
            elif command == "stats":
                conn.send(stack.stats())
            elif command == "reset_stats":
                stack.reset_stats()
                conn.send(None)
            else:
                conn.send(RuntimeError(f"unknown command {command!r}"))


class StackProcess:
    """The simulated stack in a child process; `with StackProcess(sizes) as s: s.urls ...`."""

    def __init__(self, sizes: Sizes) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, sizes), daemon=True)
        self.info: dict[str, Any] = {}

    def __enter__(self) -> StackProcess:
        self._proc.start()
        if not self._conn.poll(600):
            raise RuntimeError("the simulated stack did not start within 10 minutes")
        self.info = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call("stop")
        finally:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.kill()

    def call(self, command: str, arg: object = None) -> Any:
        self._conn.send((command, arg))
        result = self._conn.recv()
        if isinstance(result, Exception):
            raise result
        return result

    def config(self, database: str) -> str:
        return str(self.info["config"]).replace('"DATABASE"', f'"{database}"')
