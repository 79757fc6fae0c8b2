"""What the reliability tests share: a five-service scenario on the simulator whose requests sit
in known states, a config with small timeouts (so faults that wait stay fast), distinctive API
keys to grep for, and readers for the database and the command's output."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simstack import SimulatedStack, World
from tests.conftest import CommandResult, run_reconcile

# Distinctive keys: a leak anywhere is found by a plain substring search.
KEYS = {
    "jellyseerr": "k3y-jellyseerr-5b1f0c7e9d2a4f68",
    "radarr": "k3y-radarr-8e4d2b6a0c9f1e37",
    "sonarr": "k3y-sonarr-3a7c9e1b5d0f2846",
    "shoko": "k3y-shoko-6f2e8a4c0b7d9135",
    "jellyfin": "k3y-jellyfin-9d5b3f7a1e0c8264",
}

TIMEOUT = 10.0       # seconds per HTTP call to a healthy service (a loaded CI machine is slow)
FAULT_TIMEOUT = 0.5  # ... and to the service a test makes slow: its faults last far longer
RETRY_BUDGET = 0.3   # seconds of retrying per call
MAX_RESPONSE_MB = 2  # the `huge` fault sends more than this


def toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(stack: SimulatedStack, directory: Path, *, database: Path | None = None,
                 timeout: float = TIMEOUT, timeouts: dict[str, float] | None = None,
                 retry_budget: float = RETRY_BUDGET,
                 max_response_mb: int = MAX_RESPONSE_MB,
                 service_extra: dict[str, str] | None = None,
                 reconciler_extra: str = "",
                 extra: str = "", mode: int = 0o600) -> Path:
    """A config for `stack` with a small retry budget and response cap; `timeouts` overrides
    `timeout` per service; `service_extra` adds lines to a service's section, and
    `reconciler_extra` to [reconciler]."""
    db = database if database is not None else directory / "reconciler.db"
    lines = [
        "[reconciler]",
        f"database = {toml_str(str(db))}",
        'log_format = "json"',
        'log_level = "debug"',
        f"retry_budget = {retry_budget}",
        f"max_response_mb = {max_response_mb}",
        *([reconciler_extra] if reconciler_extra else []),
    ]
    for service in stack.services:
        lines += ["", f"[{service}]", f"url = {toml_str(stack.url(service))}",
                  f"api_key = {toml_str(stack.api_keys[service])}",
                  f"timeout = {(timeouts or {}).get(service, timeout)}"]
        if service_extra and service in service_extra:
            lines.append(service_extra[service])
    lines += ["", "[anime]", 'radarr_tags = ["anime"]', 'root_folders = ["/data/anime"]']
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    path.chmod(mode)
    return path


@dataclass
class Scenario:
    """Five requests, one per kind of dependency, each in a known state after one cycle:

    - `downloading`: film 603 at 50 % in Radarr;
    - `available`: film 949, imported and listed by Jellyfin;
    - `importing`: film 348, imported, not yet listed by Jellyfin;
    - `show`: show 81189, its 3-episode season downloading in Sonarr as one season pack;
    - `anime`: anime film 129, imported, its file in Shoko not matched yet.
    """

    stack: SimulatedStack
    directory: Path
    config: Path
    database: Path
    ids: dict[str, int] = field(default_factory=dict)
    downloads: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def world(self) -> World:
        return self.stack.world

    def make_slow_to_fail(self, service: str | None) -> None:
        """Give `service` (None: no service) the short timeout that waiting faults outlast."""
        timeouts = {service: FAULT_TIMEOUT} if service else {}
        write_config(self.stack, self.directory, timeouts=timeouts, **self.extra["config"])

    def run(self, *args: str) -> CommandResult:
        return run_reconcile("--config", str(self.config), *args)

    def once(self) -> CommandResult:
        self.world.advance(60)
        return self.run("--once")

    def states(self) -> dict[str, str]:
        result = self.run("status", "--json")
        assert result.code == 0, result.stderr
        by_id = {r["id"]: r["state"] for r in result.json()}
        return {name: by_id.get(rid, "untracked") for name, rid in self.ids.items()}

    def show(self, name: str) -> dict[str, Any]:
        result = self.run("show", str(self.ids[name]), "--json")
        assert result.code == 0, result.stderr
        data: dict[str, Any] = result.json()
        return data

    def timeline_rows(self) -> list[tuple[Any, ...]]:
        with closing(self.database) as conn:
            return conn.execute("SELECT id, request_id, from_state, to_state, via FROM timeline "
                                "ORDER BY id").fetchall()

    def last_polls(self) -> dict[str, tuple[int, int, str | None]]:
        """service -> (poll row id, ok, error) of its latest poll."""
        with closing(self.database) as conn:
            rows = conn.execute("SELECT service, id, ok, error FROM polls WHERE id IN "
                                "(SELECT max(id) FROM polls GROUP BY service)").fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    # -- the changes each service would reveal if it answered ---------------------------------

    def reveal(self, service: str) -> str:
        """Change the world so that `service`, answering, would move one request; returns the
        request's name. (Jellyseerr: the request is declined.)"""
        w = self.world
        if service == "jellyseerr":
            w.jellyseerr.set_request_status(self.ids["importing"], 3)
            return "importing"
        if service == "radarr":  # the download completes (its queue record stays)
            w.radarr.complete_download(self.downloads["downloading"])
            return "downloading"
        if service == "sonarr":
            w.sonarr.complete_download(self.downloads["show"])
            return "show"
        if service == "shoko":  # Shoko matches the file; Shokofin lists the film
            self._match_anime()
            return "anime"
        if service == "jellyfin":
            w.jellyfin.add_movie("Alien", tmdb_id=348, year=1979,
                                 path="/data/movies/Alien (1979)/Alien.mkv")
            return "importing"
        raise ValueError(service)

    def _match_anime(self) -> None:
        w = self.world
        series = w.shoko.add_series(112, "Sen to Chihiro no Kamikakushi", tmdb_movie_ids=(129,))
        episode = w.shoko.add_episode(series, 1001, name="Complete Movie", tmdb_movie_ids=(129,))
        w.shoko.match_file(self.extra["shoko_file"], series, [episode])
        # Shokofin lists the film with Shoko's ids only (no TMDB id, its default).
        w.jellyfin.add_movie("Spirited Away", year=2001, library="Anime",
                             path="/data/anime/.shokofin/Spirited Away/Spirited Away.mkv",
                             provider_ids={"Shoko File": str(self.extra["shoko_file"]),
                                           "Shoko Episode": str(episode),
                                           "Shoko Series": str(series), "AniDB": "112"})


EXPECTED = {"downloading": "downloading", "available": "available", "importing": "importing",
            "show": "downloading", "anime": "anime_matching"}
# What each revealed change moves its request to once the service answers again.
REVEALED = {"jellyseerr": "declined", "radarr": "download_done", "sonarr": "download_done",
            "shoko": "available", "jellyfin": "available"}


def settled_calls(stack: SimulatedStack, service: str, path: str | None = None, *,
                  at_least: int = 1, wait: float = 10.0) -> int:
    """How many requests `service` logged (to `path`), once its log has caught up: a fake logs
    a request just after answering it, so the client can be done a moment before the log is."""
    deadline = time.monotonic() + wait
    last = -1
    while True:
        count = len(stack.requests(service, path=path))
        if (count >= at_least and count == last) or time.monotonic() > deadline:
            return count
        last = count
        time.sleep(0.05)


class closing:
    """`with closing(db) as conn:` — a short-lived read connection."""

    def __init__(self, database: Path) -> None:
        self.conn = sqlite3.connect(database)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def build_scenario(stack: SimulatedStack, directory: Path, **config: Any) -> Scenario:
    """Script the five requests (see `Scenario`) and write the config; no cycle run yet."""
    w = stack.world
    database = config.pop("database", None) or directory / "reconciler.db"
    config_path = write_config(stack, directory, database=database, **config)
    sc = Scenario(stack, directory, config_path, database)
    sc.extra["config"] = {"database": database, **config}
    w.jellyfin.add_library("Movies", ["/data/movies"], "movies")
    w.jellyfin.add_library("Anime", ["/data/anime"], "movies")
    w.jellyfin.add_library("Shows", ["/data/tv"], "tvshows")

    sc.ids["downloading"] = w.jellyseerr.add_request(603, "movie", "The Matrix")
    mid = w.radarr.add_movie(603, "The Matrix", year=1999)
    sc.downloads["downloading"] = w.radarr.grab(mid)
    w.radarr.progress(sc.downloads["downloading"], 0.5)

    sc.ids["available"] = w.jellyseerr.add_request(949, "movie", "Heat")
    mid = w.radarr.add_movie(949, "Heat", year=1995)
    w.radarr.import_file(mid)
    w.jellyfin.add_movie("Heat", tmdb_id=949, year=1995, path="/data/movies/Heat (1995)/Heat.mkv")

    sc.ids["importing"] = w.jellyseerr.add_request(348, "movie", "Alien")
    mid = w.radarr.add_movie(348, "Alien", year=1979)
    w.radarr.import_file(mid)

    sc.ids["show"] = w.jellyseerr.add_request(1396, "tv", "Breaking Bad", tvdb_id=81189,
                                              seasons=[1])
    sid = w.sonarr.add_series(81189, "Breaking Bad", tmdb_id=1396, seasons={1: 3})
    sc.downloads["show"] = w.sonarr.grab(sid, season=1)
    w.sonarr.progress(sc.downloads["show"], 0.3)

    sc.ids["anime"] = w.jellyseerr.add_request(129, "movie", "Spirited Away")
    mid = w.radarr.add_movie(129, "Spirited Away", year=2001, root_folder="/data/anime/movies",
                             tags=["anime"])
    w.radarr.import_file(mid)
    movie = w.radarr.get_movie(mid)
    sc.extra["shoko_file"] = w.shoko.add_file(_relative_anime_path(movie))
    return sc


def _relative_anime_path(movie: Any) -> str:
    """The film's file path relative to Shoko's import folder (/data/anime)."""
    return f"{movie.path}/{movie.file.relative_path}".removeprefix("/data/anime")
