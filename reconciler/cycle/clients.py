"""The cycle's typed clients, one optional field per service (absent when not configured)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.config import Config
from reconciler.models import SERVICES
from reconciler.services.http import ServiceClient
from reconciler.services.jellyfin import JellyfinClient
from reconciler.services.jellyseerr import JellyseerrClient
from reconciler.services.radarr import RadarrClient
from reconciler.services.shoko import ShokoClient
from reconciler.services.sonarr import SonarrClient

CLIENT_TYPES: dict[str, type[ServiceClient]] = {
    "jellyseerr": JellyseerrClient,
    "radarr": RadarrClient,
    "sonarr": SonarrClient,
    "shoko": ShokoClient,
    "jellyfin": JellyfinClient,
}
assert tuple(CLIENT_TYPES) == SERVICES


@dataclass(frozen=True)
class Clients:
    """The configured services' clients; Radarr and Sonarr may be several servers, each by its
    configured name (in configuration order; the first of each kind is `radarr` / `sonarr`)."""

    jellyseerr: JellyseerrClient | None = None
    shoko: ShokoClient | None = None
    jellyfin: JellyfinClient | None = None
    radarrs: tuple[tuple[str, RadarrClient], ...] = ()
    sonarrs: tuple[tuple[str, SonarrClient], ...] = ()

    @property
    def radarr(self) -> RadarrClient | None:
        return self.radarrs[0][1] if self.radarrs else None

    @property
    def sonarr(self) -> SonarrClient | None:
        return self.sonarrs[0][1] if self.sonarrs else None

    @classmethod
    def of(cls, clients: Clients | Mapping[str, ServiceClient]) -> Clients:
        """`clients` as a `Clients`; a mapping's values must be the services' own client types
        (any name for a Radarr or Sonarr server: the server's configured name)."""
        if isinstance(clients, Clients):
            return clients
        single: dict[str, ServiceClient] = {}
        radarrs: list[tuple[str, RadarrClient]] = []
        sonarrs: list[tuple[str, SonarrClient]] = []
        for name, client in clients.items():
            wanted = CLIENT_TYPES.get(name)
            if isinstance(client, RadarrClient) and wanted in (None, RadarrClient):
                radarrs.append((name, client))
            elif isinstance(client, SonarrClient) and wanted in (None, SonarrClient):
                sonarrs.append((name, client))
            elif wanted is None or not isinstance(client, wanted):
                raise TypeError(f"{name}: not a client of that service: {client!r}")
            else:
                single[name] = client
        return cls(**single, radarrs=tuple(radarrs),  # type: ignore[arg-type]
                   sonarrs=tuple(sonarrs))

    def items(self) -> Iterator[tuple[str, ServiceClient]]:
        """(service or server name, client) of each configured one, in poll order."""
        every: list[tuple[str, ServiceClient | None]] = [
            ("jellyseerr", self.jellyseerr), *self.radarrs, *self.sonarrs,
            ("shoko", self.shoko), ("jellyfin", self.jellyfin)]
        for name, client in every:
            if client is not None:
                yield name, client

    def names(self) -> list[str]:
        return [name for name, _ in self.items()]

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for _, c in self.items()), return_exceptions=True)


def make_clients(config: Config, **kwargs: Any) -> Clients:
    """A client for each configured service (`kwargs`: e.g. `transport`, `max_attempts`)."""
    return Clients.of({name: CLIENT_TYPES[svc.kind](svc, **kwargs)
                       for name, svc in config.services.items()})
