"""The end-to-end suites run each journey that involves the media server on Jellyfin, Emby and
Plex: what differs is said here once (the name people read, which calls are look-ups by id and
which are listings, where a server answers without its key)."""

from __future__ import annotations

from typing import Any

from simstack import LoggedRequest, SimulatedStack

MEDIA_SERVERS = ["jellyfin", "emby", "plex"]
NAMES = {"jellyfin": "Jellyfin", "emby": "Emby", "plex": "Plex"}
# A path each server answers without its key (for the `Date` header check).
PUBLIC_PATHS = {"jellyfin": "/System/Info/Public", "emby": "/emby/System/Info/Public",
                "plex": "/identity"}
_ITEMS = {"jellyfin": "/Items", "emby": "/emby/Items"}


def journey_param(param: Any) -> tuple[str | None, str]:
    """A fixture's indirect parameter as (Jellyseerr version, media server): a media server's
    name, a (version, media server) pair, or nothing (the default Jellyseerr, Jellyfin)."""
    if isinstance(param, tuple):
        return param[0], param[1]
    return None, param or "jellyfin"


def item_lookups(stack: SimulatedStack) -> list[LoggedRequest]:
    """The calls that asked for items by id (Jellyfin's and Emby's `Ids=`, Plex's
    `/library/metadata/{ids}`)."""
    kind = stack.media_server
    if kind == "plex":
        return stack.requests(kind, path_prefix="/library/metadata/")
    return [r for r in stack.requests(kind, path=_ITEMS[kind]) if "Ids" in r.query]


def listings(stack: SimulatedStack) -> list[LoggedRequest]:
    """The calls that listed the library (a page of it, whole or since a watermark)."""
    kind = stack.media_server
    if kind == "plex":
        return [r for r in stack.requests(kind, path_prefix="/library/sections/")
                if r.query.get("includeGuids") == "1"]
    return [r for r in stack.requests(kind, path=_ITEMS[kind])
            if "Ids" not in r.query and "AnyProviderIdEquals" not in r.query
            and r.query.get("Limit") != "1"]


def incremental(request: LoggedRequest) -> bool:
    """A listing of what changed since the watermark only."""
    return "MinDateLastSaved" in request.query or "updatedAt>>" in request.query


def settings(stack: SimulatedStack, **keys: str) -> dict[str, dict[str, str]]:
    """`config_toml(servers=...)` keys for the stack's media server's section."""
    return {stack.media_server: dict(keys)}
