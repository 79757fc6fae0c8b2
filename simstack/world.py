"""The shared, lock-protected state every fake service renders from, and its clock.

    world = World()                      # clock starts at the real time, then stands still
    world.advance(60)                    # move the simulated clock (runs due timers)
    world.now = datetime(2026, 1, 1, tzinfo=UTC)

    world.jellyseerr  # JellyseerrWorld: requests, media, titles, users
    world.radarr      # RadarrWorld: films, files, queue, history, tags
    world.sonarr      # SonarrWorld: series, episodes, files, queue, history, tags
    world.shoko       # ShokoWorld: import folders, files, series, episodes
    world.jellyfin    # JellyfinWorld: libraries, items, pending (unscanned) items, refresh calls
    world.emby        # EmbyWorld: the same, served as Emby Server
    world.plex        # PlexWorld: sections, films, shows, episodes, pending files, folder scans
    world.radarrs     # every Radarr by name: {"radarr": world.radarr, "radarr4k": ...}
    world.sonarrs     # every Sonarr by name (`add_arr("sonarr", "anime")` adds one)

`World(jellyseerr_version="3.1.0")` (or a profile name such as "jellyseerr-2.2", or a
`SeerrProfile`; `simstack.seerr_versions`) makes Jellyseerr answer as that version; the default is
`SEERR_BUMPING`. `World(shoko_version="6")` makes Shoko Server answer as 6.x (default 5.x).

Every verb takes `world.lock` (an RLock), so a script may mutate the world from any thread
between (or during) polls; wrap several verbs in `with world.lock:` to make them atomic as seen by
the servers. All dates the fakes produce come from `world.now`.

`World(realtime=True)` makes the clock run on from its start with the real (monotonic) time;
`advance()` still adds to it. Timers (`call_at`, `call_later`) fire when the clock passes them:
on `advance()`/setting `now`, and at the start of every HTTP request.
"""

from __future__ import annotations

from datetime import datetime

from simstack.clock import Clock
from simstack.emby import EmbyWorld
from simstack.jellyfin import JellyfinWorld
from simstack.jellyseerr import JellyseerrWorld
from simstack.plex import PlexWorld
from simstack.radarr import RadarrWorld
from simstack.seerr_versions import SeerrProfile
from simstack.shoko import ShokoWorld
from simstack.sonarr import SonarrWorld

__all__ = ["World"]


class World(Clock):
    """The simulated media stack's state. See the module docstring."""

    def __init__(self, now: datetime | None = None, *, realtime: bool = False,
                 seed: int = 0, jellyseerr_version: str | SeerrProfile | None = None,
                 shoko_version: str | None = None) -> None:
        super().__init__(now, realtime=realtime, seed=seed)
        self.jellyseerr = JellyseerrWorld(self, jellyseerr_version)
        self.radarr = RadarrWorld(self)
        self.sonarr = SonarrWorld(self)
        self.shoko = ShokoWorld(self)
        if shoko_version is not None:
            self.shoko.version = shoko_version
        self.jellyfin = JellyfinWorld(self)
        self.emby = EmbyWorld(self)
        self.plex = PlexWorld(self)
        self.radarrs: dict[str, RadarrWorld] = {"radarr": self.radarr}
        self.sonarrs: dict[str, SonarrWorld] = {"sonarr": self.sonarr}

    def add_arr(self, kind: str, name: str) -> RadarrWorld | SonarrWorld:
        """One more Radarr (`kind="radarr"`) or Sonarr instance named `name` (its own films or
        series, queue and history; the shared clock); returns it (also in `radarrs`/`sonarrs`).
        Idempotent for a name already added."""
        with self.lock:
            if kind == "radarr":
                return self.radarrs.setdefault(name, RadarrWorld(self))
            if kind == "sonarr":
                return self.sonarrs.setdefault(name, SonarrWorld(self))
            raise ValueError(f"kind must be 'radarr' or 'sonarr', not {kind!r}")
