"""Which configured Radarr or Sonarr server tracks a request: the one Jellyseerr sent it to."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from reconciler.models import SeerrArrServer, SeerrRequest


@dataclass(frozen=True)
class ArrServer:
    """A configured Radarr or Sonarr server, as routing sees it."""

    name: str
    kind: str  # "radarr" | "sonarr"
    url: str
    is4k: bool = False
    seerr_server_id: int | None = None
    default: bool = False  # where requests of its quality naming no server go


@dataclass(frozen=True)
class Route:
    """Which configured server tracks a request: `server`, or none, and then `detail` says why
    (None while the kind has no server configured at all)."""

    server: str | None
    detail: str | None = None


def arr_kind(request: SeerrRequest) -> str:
    return request.media_type.arr


def route(request: SeerrRequest, servers: Sequence[ArrServer],
          seerr_servers: Sequence[SeerrArrServer] | None) -> Route:
    """The server a request is tracked on. A request names the server Jellyseerr sent it to
    (`serverId`, an id in Jellyseerr's settings): the configured server with that
    `seerr_server_id`; else the one whose URL has the host, port and base URL Jellyseerr's
    settings give for that id (`seerr_servers`; None while not read). A request naming no
    server goes to the default server of its quality (`is4k`). A request sent to a server
    reconciler is not configured for is tracked on none, never on another one."""
    kind = arr_kind(request)
    mine = [s for s in servers if s.kind == kind]
    if not mine:
        return Route(None)
    label = kind.capitalize()
    quality = "4K" if request.is4k else "HD"
    if request.server_id is not None:
        for s in mine:
            if s.seerr_server_id == request.server_id:
                return Route(s.name)
        if seerr_servers is None:
            # Jellyseerr's settings not read yet: one server of the quality cannot be wrong.
            if _only_choice(mine, request):
                return Route(mine[0].name)
            return Route(None, f"sent to {label} server id {request.server_id}; waiting for "
                               "Jellyseerr's server settings")
        entry = next((e for e in seerr_servers if e.id == request.server_id), None)
        if entry is None:
            return Route(None, f"sent to {label} server id {request.server_id}, which "
                               "Jellyseerr's settings no longer list")
        found = [s for s in mine if s.seerr_server_id is None and url_matches(s.url, entry)]
        if found:
            return Route(found[0].name)
        return Route(None, f"sent to {label} server '{entry.name}' (id {entry.id}), which "
                           "reconciler is not configured for (configure it, or set its "
                           f"seerr_server_id = {entry.id})")
    default = next((s for s in mine if s.is4k == request.is4k and s.default), None)
    if default is None:
        default = next((s for s in mine if s.is4k == request.is4k), None)
    if default is None:
        return Route(None, f"a {quality} request, and reconciler is configured for no "
                           f"{quality} {label} server")
    return Route(default.name)


def needs_seerr_servers(requests: Iterable[SeerrRequest], servers: Sequence[ArrServer]) -> bool:
    """Whether routing `requests` needs Jellyseerr's server settings: one names a server that
    no configured `seerr_server_id` is, and more than one server of its kind is configured
    (or the only one is not of the request's quality)."""
    for r in requests:
        if r.server_id is None:
            continue
        mine = [s for s in servers if s.kind == arr_kind(r)]
        if not mine or any(s.seerr_server_id == r.server_id for s in mine):
            continue
        if not _only_choice(mine, r):
            return True
    return False


def _only_choice(mine: Sequence[ArrServer], request: SeerrRequest) -> bool:
    """One server of the kind is configured, of the request's quality, with no Jellyseerr id
    that says it is another one: the request's server without asking Jellyseerr."""
    return (len(mine) == 1 and mine[0].is4k == request.is4k
            and mine[0].seerr_server_id is None)


def url_matches(url: str, entry: SeerrArrServer) -> bool:
    """A configured URL points at the server Jellyseerr's settings describe: same host
    (case-insensitive), port (the scheme's default when absent) and base URL."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    their_port = entry.port or (443 if entry.use_ssl else 80)
    base = "/" + entry.base_url.strip("/") if entry.base_url.strip("/") else ""
    ours = "/" + parts.path.strip("/") if parts.path.strip("/") else ""
    return ((parts.hostname or "").lower() == entry.hostname.strip().lower()
            and port == their_port and ours.lower() == base.lower())
