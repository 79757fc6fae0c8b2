"""The service registry: each upstream service described once, in the order a cycle polls it.

A `ServiceKind` holds what is known of a service before anything is configured: its name (the
config section, the key variable, the poll records' name), the product and its role, whether
several servers of it may be configured, whether it follows downloads (polled faster while
something moves), its default poll interval, where its API key is found, and which client,
poller and doctor probe implement it. Config, the clients, the cycle, the doctor, `/healthz`
and the demo read this table; `docs/ARCHITECTURE.md` has the checklist for adding a service and
`tests/unit/test_registry.py` keeps it honest.

Why import paths: config reads the registry, and config sits below the services layer, so the
registry sits at the bottom and imports nothing of the reconciler. It names each implementation
by import path (`"reconciler.cycle.poll_radarr:RadarrPoller"`), as packaging entry points do;
the layer that uses one resolves it with a small typed accessor (`cycle.clients.client_type`,
`cycle.run.poller_factory`, `doctor.probe`) that checks what it got. No import runs back up the
layers, and the registry test resolves every path, so a misspelt one fails the tests, not a
cycle. (The doctor's probes stay in the doctor: they write its report, which the services
layer must not know.)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a service does in the household's pipeline. A later kind may share a role with
    another (Emby or Plex as the media server instead of Jellyfin)."""

    REQUESTS = "requests"  # where people ask for a film or a series
    DOWNLOADS = "downloads"  # finds, downloads and imports it
    ANIME_MATCHING = "anime_matching"  # recognises anime files for the media server
    MEDIA_SERVER = "media_server"  # where it is watched


@dataclass(frozen=True)
class ServiceKind:
    """One kind of upstream service. The implementations are import paths, `module:attribute`
    (see the module docstring)."""

    name: str  # "radarr": the [radarr] section, RECONCILER_RADARR_API_KEY, the poll records
    product: str  # "Radarr", "Shoko Server": the doctor's lines and hints
    short_name: str  # "Shoko": the demo's lines
    role: Role
    # Several servers may be configured (`[[radarr]]` tables, each with its own name).
    several: bool
    # Polled at `active_poll_interval` while something moves (see `Config.poll_interval`).
    follows_downloads: bool
    poll_interval: float  # the default of the section's `poll_interval`, in seconds
    key_where: str  # where the operator finds its API key (the doctor's fix text)
    client: str  # a `ServiceClient` subclass whose `name` is this kind's name
    poller: str  # called as (client, configured name) -> a `cycle.context.Poller`
    probe: str  # the doctor's check: async (client, config, report) -> None
    # What the service calls its key: the config keys `<word>` and `<word>_file` (and the
    # variable `RECONCILER_<NAME>_<WORD>`) are read beside `api_key`, `api_key_file`.
    key_word: str = "api_key"

    @property
    def section(self) -> str:
        """The config section: `[name]`, or `[[name]]` tables when several are allowed."""
        return self.name


# In poll order: Shoko after the *arr, whose imported paths it looks up; the media servers last
# (a configuration names exactly one of them: `config.load_config` checks it).
SERVICE_KINDS: tuple[ServiceKind, ...] = (
    ServiceKind(
        name="jellyseerr", product="Jellyseerr", short_name="Jellyseerr", role=Role.REQUESTS,
        several=False,
        # Each of its listings makes it query every *arr, and requests do not move faster
        # because a download does: it keeps its own, slower pace.
        follows_downloads=False, poll_interval=60.0,
        key_where="Settings > General > API Key in Jellyseerr",
        client="reconciler.services.jellyseerr:JellyseerrClient",
        poller="reconciler.cycle.poll_servers:JellyseerrWithServers",
        probe="reconciler.doctor:probe_jellyseerr",
    ),
    ServiceKind(
        name="radarr", product="Radarr", short_name="Radarr", role=Role.DOWNLOADS,
        several=True, follows_downloads=True, poll_interval=30.0,
        key_where="Settings > General > Security > API Key in Radarr",
        client="reconciler.services.radarr:RadarrClient",
        poller="reconciler.cycle.poll_radarr:RadarrPoller",
        probe="reconciler.doctor:probe_arr",
    ),
    ServiceKind(
        name="sonarr", product="Sonarr", short_name="Sonarr", role=Role.DOWNLOADS,
        several=True, follows_downloads=True, poll_interval=30.0,
        key_where="Settings > General > Security > API Key in Sonarr",
        client="reconciler.services.sonarr:SonarrClient",
        poller="reconciler.cycle.poll_sonarr:SonarrPoller",
        probe="reconciler.doctor:probe_arr",
    ),
    ServiceKind(
        name="shoko", product="Shoko Server", short_name="Shoko", role=Role.ANIME_MATCHING,
        several=False, follows_downloads=True, poll_interval=30.0,
        key_where="POST /api/auth on Shoko Server (or Settings > API Keys)",
        client="reconciler.services.shoko:ShokoClient",
        poller="reconciler.cycle.poll_shoko:ShokoPoller",
        probe="reconciler.doctor:probe_shoko",
    ),
    ServiceKind(
        name="jellyfin", product="Jellyfin", short_name="Jellyfin", role=Role.MEDIA_SERVER,
        several=False, follows_downloads=True, poll_interval=30.0,
        key_where="Dashboard > API Keys in Jellyfin",
        client="reconciler.services.jellyfin:JellyfinClient",
        poller="reconciler.cycle.poll_media_server:MediaServerPoller",
        probe="reconciler.doctor_media:probe_media_server",
    ),
    ServiceKind(
        name="emby", product="Emby Server", short_name="Emby", role=Role.MEDIA_SERVER,
        several=False, follows_downloads=True, poll_interval=30.0,
        key_where="the Server Dashboard > Advanced > Security > API Keys in Emby",
        client="reconciler.services.emby:EmbyClient",
        poller="reconciler.cycle.poll_media_server:MediaServerPoller",
        probe="reconciler.doctor_media:probe_media_server",
    ),
    ServiceKind(
        name="plex", product="Plex Media Server", short_name="Plex", role=Role.MEDIA_SERVER,
        several=False, follows_downloads=True, poll_interval=30.0,
        key_where="Plex's support article 'Finding an authentication token / X-Plex-Token' "
                  "(the X-Plex-Token of the server owner's account)",
        client="reconciler.services.plex:PlexClient",
        poller="reconciler.cycle.poll_media_server:MediaServerPoller",
        probe="reconciler.doctor_media:probe_media_server",
        key_word="token",
    ),
)

KINDS: dict[str, ServiceKind] = {k.name: k for k in SERVICE_KINDS}
# The names, in poll order.
SERVICES: tuple[str, ...] = tuple(KINDS)
# The kinds of which several servers may be configured ("radarr", "sonarr").
SEVERAL: tuple[str, ...] = tuple(k.name for k in SERVICE_KINDS if k.several)


def kind(name: str) -> ServiceKind:
    """The registered kind `name`; KeyError naming the known ones otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a registered service (known: "
                       f"{', '.join(SERVICES)})") from None


def short_name(service: str) -> str:
    """How running text names the service `service` ("Shoko"); a server's own name as it is."""
    known = KINDS.get(service)
    return known.short_name if known is not None else service


def with_role(role: Role) -> tuple[str, ...]:
    """The kinds of `role`, in poll order."""
    return tuple(k.name for k in SERVICE_KINDS if k.role is role)


# The kinds that may confirm that a request plays ("jellyfin", "emby", "plex"); one is configured.
MEDIA_SERVERS: tuple[str, ...] = with_role(Role.MEDIA_SERVER)


def resolve(path: str) -> object:
    """The object an import path `module:attribute` names (imported on first use)."""
    module, sep, attribute = path.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"{path!r}: expected an import path \"module:attribute\"")
    return getattr(importlib.import_module(module), attribute)
