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


def seerr_target(request: SeerrRequest) -> int | None:
    """The id, in Jellyseerr's settings, of the server Jellyseerr sent the request to: its
    `serverId`, else the server Seerr recorded on the media for the request's quality
    (`serviceId` / `serviceId4k`, MediaRequestSubscriber); None while neither is known (Seerr
    then sends it to its default server of that quality)."""
    if request.server_id is not None:
        return request.server_id
    return request.service_id_4k if request.is4k else request.service_id


def route(request: SeerrRequest, servers: Sequence[ArrServer],
          seerr_servers: Sequence[SeerrArrServer] | None) -> Route:
    """The server a request is tracked on: the one Jellyseerr sent it to (`seerr_target`), the
    configured server with that `seerr_server_id`, else the one whose URL has the host, port and
    base URL Jellyseerr's settings give for that id (`seerr_servers`; None while not read). A
    request naming no server goes where Seerr sends it: its `isDefault` server of the request's
    quality; reconciler's own default of that quality (`default = true`, else the first) only
    while Jellyseerr's settings cannot be read. A request sent to a server reconciler is not
    configured for is tracked on none, never on another one."""
    kind = arr_kind(request)
    mine = [s for s in servers if s.kind == kind]
    if not mine:
        return Route(None)
    label = kind.capitalize()
    target = seerr_target(request)
    if target is not None:
        for s in mine:
            if s.seerr_server_id == target:
                return Route(s.name)
        if seerr_servers is None:
            # Jellyseerr's settings not read yet: one server of the quality cannot be wrong.
            if _only_choice(mine, request):
                return Route(mine[0].name)
            return Route(None, f"sent to {label} server id {target}; waiting for "
                               "Jellyseerr's server settings")
        entry = next((e for e in seerr_servers if e.id == target), None)
        if entry is None:
            return Route(None, f"sent to {label} server id {target}, which "
                               "Jellyseerr's settings no longer list")
        return _configured_for(mine, entry, label, "")
    if seerr_servers is not None:
        entry = seerr_default(seerr_servers, request.is4k)
        if entry is not None:
            return _configured_for(mine, entry, label, ", Jellyseerr's default")
    return _own_default(mine, request, label)


def seerr_default(seerr_servers: Sequence[SeerrArrServer],
                  is4k: bool) -> SeerrArrServer | None:
    """Jellyseerr's default server of a quality (`isDefault`), where a request naming no server
    goes (MediaRequestSubscriber: `isDefault && is4k === entity.is4k`)."""
    return next((e for e in seerr_servers if e.is_default and e.is4k == is4k), None)


def configured_as(mine: Sequence[ArrServer], entry: SeerrArrServer) -> ArrServer | None:
    """The configured server that is Jellyseerr's `entry`: by `seerr_server_id`, else (without
    one) by host, port and base URL."""
    for s in mine:
        if s.seerr_server_id == entry.id:
            return s
    return next((s for s in mine if s.seerr_server_id is None and url_matches(s.url, entry)),
                None)


def _configured_for(mine: Sequence[ArrServer], entry: SeerrArrServer, label: str,
                    which: str) -> Route:
    found = configured_as(mine, entry)
    if found is not None:
        return Route(found.name)
    return Route(None, f"sent to {label} server '{entry.name}' (id {entry.id}{which}), which "
                       "reconciler is not configured for (configure it, or set its "
                       f"seerr_server_id = {entry.id})")


def _own_default(mine: Sequence[ArrServer], request: SeerrRequest, label: str) -> Route:
    """reconciler's own default server of the request's quality."""
    quality = "4K" if request.is4k else "HD"
    default = own_default(mine, request.is4k)
    if default is None:
        return Route(None, f"a {quality} request, and reconciler is configured for no "
                           f"{quality} {label} server")
    return Route(default.name)


def own_default(mine: Sequence[ArrServer], is4k: bool) -> ArrServer | None:
    """reconciler's default server of a quality: `default = true`, else the first of it."""
    default = next((s for s in mine if s.is4k == is4k and s.default), None)
    return default or next((s for s in mine if s.is4k == is4k), None)


# What routing a request depends on: its kind, its quality, the server Seerr names for it.
RouteCase = tuple[str, bool, int | None]


def route_case(request: SeerrRequest) -> RouteCase:
    """The request's `RouteCase`."""
    return arr_kind(request), request.is4k, seerr_target(request)


def needs_seerr_servers(cases: Iterable[RouteCase],
                        servers: Sequence[ArrServer]) -> bool:
    """Whether routing requests needs Jellyseerr's server settings, given their distinct
    `cases` (kind, 4K, the server Seerr names: `seerr_target`): one names a server that no
    configured `seerr_server_id` is, or names none (then Seerr's default decides), and the one
    server of its kind configured cannot answer for it alone (more than one, or not of the
    request's quality, or with a Jellyseerr id)."""
    by_kind: dict[str, list[ArrServer]] = {}
    for s in servers:
        by_kind.setdefault(s.kind, []).append(s)
    for kind, is4k, target in cases:
        mine = by_kind.get(kind)
        if not mine:
            continue
        if target is not None and any(s.seerr_server_id == target for s in mine):
            continue
        if not (len(mine) == 1 and mine[0].is4k == is4k and mine[0].seerr_server_id is None):
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
