"""A simulated media stack: fake Jellyseerr, Radarr, Sonarr, Shoko Server and Jellyfin (or
Emby or Plex) HTTP servers answering in the real APIs' shapes, all rendering one scriptable,
thread-safe `World` with a simulated clock. For end-to-end tests, `reconcile demo`, fault
tests and benchmarks. `simstack.media` gives the three media servers one face.

    from simstack import SimulatedStack, World

    world = World()
    with SimulatedStack(world) as stack:
        rid = world.jellyseerr.add_request(603, "movie", "The Matrix")
        mid = world.radarr.add_movie(603, "The Matrix", year=1999)
        did = world.radarr.grab(mid)
        world.radarr.progress(did, 0.5)
        world.advance(60)
        ...

Modules: `clock` (Clock: time, timers, the lock), `world` (World: the clock and the
services' state), `seerr_versions` (the Jellyseerr version profiles),
`jellyseerr`, `radarr`, `sonarr` (with `_arr`), `shoko`, `jellyfin`, `emby`, `plex` (state,
verbs and the fake server of each service; their docstrings list the verbs and endpoints),
`faults` (fault kinds), `stack` (SimulatedStack), `server` (HTTP plumbing). Imports nothing
from `reconciler`: the fakes are not the product.
"""

from simstack.faults import FAULT_KINDS, Fault
from simstack.media import MEDIA_SERVERS, MediaServerFake, Scan, media_server
from simstack.server import LoggedRequest
from simstack.stack import (
    DEFAULT_SERVICES,
    SERVICES,
    SimulatedStack,
    default_api_key,
    household,
)
from simstack.world import World

__all__ = [
    "DEFAULT_SERVICES",
    "FAULT_KINDS",
    "MEDIA_SERVERS",
    "SERVICES",
    "Fault",
    "LoggedRequest",
    "MediaServerFake",
    "Scan",
    "SimulatedStack",
    "World",
    "default_api_key",
    "household",
    "media_server",
]
