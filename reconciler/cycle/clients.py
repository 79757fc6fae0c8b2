"""The cycle's clients: each configured service's or server's, by name, in poll order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from reconciler import registry
from reconciler.config import Config
from reconciler.services.http import ServiceClient
from reconciler.services.jellyfin import JellyfinClient
from reconciler.services.jellyseerr import JellyseerrClient
from reconciler.services.media import MediaServerClient, is_media_server
from reconciler.services.radarr import RadarrClient
from reconciler.services.shoko import ShokoClient
from reconciler.services.sonarr import SonarrClient

C = TypeVar("C", bound=ServiceClient)


def client_type(kind: str) -> type[ServiceClient]:
    """The client class the registry names for `kind`."""
    found = registry.resolve(registry.kind(kind).client)
    if not (isinstance(found, type) and issubclass(found, ServiceClient)):
        raise TypeError(f"{kind}: the registry's client {found!r} is not a ServiceClient")
    return found


# Every registered kind's client class, by kind (in poll order).
CLIENT_TYPES: Mapping[str, type[ServiceClient]] = {k: client_type(k) for k in registry.SERVICES}


class Clients(Mapping[str, ServiceClient]):
    """The configured services' clients, by service or server name, in poll order: the
    registry's order of kinds, and the servers of a kind that allows several (Radarr,
    Sonarr) each by its configured name, in configuration order. The media server is
    `media_server`, whichever it is; `jellyfin` only when it is Jellyfin."""

    def __init__(self, clients: Mapping[str, ServiceClient] | None = None,
                 kinds: Mapping[str, str] | None = None) -> None:
        given = dict(clients or {})
        of = {name: registry.kind((kinds or {}).get(name, name)).name for name in given}
        # A stable sort: the servers of one kind keep their order.
        names = sorted(given, key=lambda name: registry.SERVICES.index(of[name]))
        self._clients = {name: given[name] for name in names}
        self._kinds = {name: of[name] for name in names}

    @classmethod
    def of(cls, clients: Clients | Mapping[str, ServiceClient]) -> Clients:
        """`clients` as a `Clients`; a mapping's values must be the services' own client types
        (any name for a server of a kind that allows several: the server's configured name)."""
        if isinstance(clients, Clients):
            return clients
        kinds: dict[str, str] = {}
        for name, client in clients.items():
            if name in registry.KINDS:
                kind = name if isinstance(client, CLIENT_TYPES[name]) else None
            else:
                kind = next((k for k in registry.SEVERAL
                             if isinstance(client, CLIENT_TYPES[k])), None)
            if kind is None:
                raise TypeError(f"{name}: not a client of that service: {client!r}")
            kinds[name] = kind
        return cls(clients, kinds)

    def __getitem__(self, name: str) -> ServiceClient:
        return self._clients[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._clients)

    def __len__(self) -> int:
        return len(self._clients)

    def __repr__(self) -> str:
        return f"Clients({', '.join(self._clients)})"

    def kind_of(self, name: str) -> str:
        """The registered kind of the service or server `name`."""
        return self._kinds[name]

    def names(self) -> list[str]:
        return list(self._clients)

    def _one(self, kind: str, wanted: type[C]) -> C | None:
        client = self._clients.get(kind)
        return client if isinstance(client, wanted) else None

    def _servers(self, kind: str, wanted: type[C]) -> tuple[tuple[str, C], ...]:
        return tuple((name, client) for name, client in self._clients.items()
                     if self._kinds[name] == kind and isinstance(client, wanted))

    @property
    def jellyseerr(self) -> JellyseerrClient | None:
        return self._one("jellyseerr", JellyseerrClient)

    @property
    def radarrs(self) -> tuple[tuple[str, RadarrClient], ...]:
        return self._servers("radarr", RadarrClient)

    @property
    def sonarrs(self) -> tuple[tuple[str, SonarrClient], ...]:
        return self._servers("sonarr", SonarrClient)

    @property
    def radarr(self) -> RadarrClient | None:
        """The first Radarr server's client."""
        return self.radarrs[0][1] if self.radarrs else None

    @property
    def sonarr(self) -> SonarrClient | None:
        """The first Sonarr server's client."""
        return self.sonarrs[0][1] if self.sonarrs else None

    @property
    def shoko(self) -> ShokoClient | None:
        return self._one("shoko", ShokoClient)

    @property
    def jellyfin(self) -> JellyfinClient | None:
        return self._one("jellyfin", JellyfinClient)

    @property
    def media_server(self) -> MediaServerClient | None:
        """The media server's client, whichever it is (Jellyfin, Emby or Plex)."""
        return next((client for name, client in self._clients.items()
                     if self._kinds[name] in registry.MEDIA_SERVERS and is_media_server(client)),
                    None)

    @property
    def media_server_name(self) -> str | None:
        """The media server's name ("jellyfin", "emby", "plex"), if one is configured."""
        return next((name for name in self._clients
                     if self._kinds[name] in registry.MEDIA_SERVERS), None)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.values()), return_exceptions=True)


def make_clients(config: Config, **kwargs: Any) -> Clients:
    """A client for each configured service (`kwargs`: e.g. `transport`, `max_attempts`)."""
    return Clients({name: client_type(svc.kind)(svc, **kwargs)
                    for name, svc in config.services.items()},
                   {name: svc.kind for name, svc in config.services.items()})
