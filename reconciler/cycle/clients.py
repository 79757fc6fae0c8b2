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
    jellyseerr: JellyseerrClient | None = None
    radarr: RadarrClient | None = None
    sonarr: SonarrClient | None = None
    shoko: ShokoClient | None = None
    jellyfin: JellyfinClient | None = None

    @classmethod
    def of(cls, clients: Clients | Mapping[str, ServiceClient]) -> Clients:
        """`clients` as a `Clients`; a mapping's values must be the services' own client types."""
        if isinstance(clients, Clients):
            return clients
        for name, client in clients.items():
            wanted = CLIENT_TYPES.get(name)
            if wanted is None or not isinstance(client, wanted):
                raise TypeError(f"{name}: not a client of that service: {client!r}")
        return cls(**clients)  # type: ignore[arg-type]  # each checked against CLIENT_TYPES

    def items(self) -> Iterator[tuple[str, ServiceClient]]:
        """(service, client) of each configured service, in poll order."""
        every: tuple[tuple[str, ServiceClient | None], ...] = (
            ("jellyseerr", self.jellyseerr), ("radarr", self.radarr), ("sonarr", self.sonarr),
            ("shoko", self.shoko), ("jellyfin", self.jellyfin))
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
    return Clients.of({name: CLIENT_TYPES[name](svc, **kwargs)
                       for name, svc in config.services.items()})
