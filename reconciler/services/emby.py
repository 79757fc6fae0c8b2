"""Emby (4.8): Jellyfin's forebear, so the same item model at Emby's own addresses.

`EmbyClient` offers what `JellyfinClient` offers (it is one, where Emby answers the same: the
server's info, `refresh_library`, `refresh_item`, `report_media_updated`,
`library_scan_running`), plus `items_by_provider_ids`, which Emby can answer and Jellyfin
cannot. What differs, from Emby's published description (Emby.SDK
`Resources/OpenApi/openapi_v3.json`, Emby Server 4.8.11.0; "spec" below):

- Paths start with `/emby` (the spec's `servers[0].url` is `http://emby.media/emby`; its own
  examples call `http://localhost:8096/emby/...`). A configured URL that already ends in
  `/emby` is used as it is.
- The API key goes in the `X-Emby-Token` header, never in the URL: the spec's `apikeyauth`
  scheme is the `api_key` query parameter, "alternatively ... an http header named
  X-Emby-Token". `X-Emby-Authorization` (or `Authorization: Emby ... Token="..."`) is the other
  scheme, `embyauth`, for a user's session token from `/Users/AuthenticateByName`, not for an
  API key. (Jellyfin: `Authorization: MediaBrowser Token=...`.)
- `GET /Items` honours `AnyProviderIdEquals` ("prov.id" pairs, comma-separated, e.g.
  `Tmdb.603`), which Jellyfin ignores (it returns everything). It has `MinDateLastSaved`, as
  Jellyfin has, but no `EnableTotalRecordCount`, `IsMissing` or `ExcludeLocationTypes`; its
  answer is `{Items, TotalRecordCount}` without `StartIndex`.
- `BaseItemDto` has no `DateLastSaved` (nor has Jellyfin's: the watermark comes from the `Date`
  header, or the newest `DateCreated`), no `IsPlaceHolder` (a placeholder shows as a media
  source of Type `Placeholder`, `MediaSourceType`), and `LocationType` is `FileSystem` or
  `Virtual` only.
- Libraries: `GET /Library/VirtualFolders/Query`, a `QueryResult<VirtualFolderInfo>`; the spec
  has no `GET /Library/VirtualFolders` (Jellyfin's list).
- `POST /Library/Refresh`, `/Items/{Id}/Refresh` and `/Library/Media/Updated` answer 200 with
  an empty body (Jellyfin: 204).
- `GET /ScheduledTasks` lists `TaskInfo` with a `Key`; the library scan's is taken to be
  `RefreshLibrary`, as in Jellyfin, whose task came from Emby's open source (3.5); the spec
  names no keys, so the task is also recognised by its name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from reconciler.config import ServiceConfig
from reconciler.models import JellyfinItem, Library, normalise_provider_key
from reconciler.services.http import require
from reconciler.services.jellyfin import (
    ITEM_FIELDS,
    ITEM_FIELDS_WITH_SOURCES,
    ITEM_TYPES,
    LIBRARY_SCAN_TASK_KEY,
    ItemPage,
    JellyfinClient,
    _video_widths,
)
from reconciler.services.parse import Fields
from reconciler.times import parse_time

PATH_PREFIX = "/emby"
LOCATION_TYPES = ("FileSystem", "Virtual")  # the spec's `LocationType` enum
LIBRARY_SCAN_TASK_NAME = "scan media library"
# Provider ids asked for in one `AnyProviderIdEquals` (keeps the URL short).
PROVIDER_CHUNK = 50
# The ProviderId keys Emby writes (`MetadataProviders`), by reconciler's normalised key.
PROVIDER_KEYS = {"tmdb": "Tmdb", "imdb": "Imdb", "tvdb": "Tvdb"}


def parse_item(obj: object, service: str = "emby") -> JellyfinItem:
    """One `BaseItemDto` as the index keeps it (`JellyfinItem`, the index's item model)."""
    f = Fields(service, "/Items", obj)
    provider = f.obj.get("ProviderIds") or {}
    if not isinstance(provider, dict):
        raise f.bad("ProviderIds", "is not an object")
    location = f.opt_text("LocationType")
    if location is not None and location not in LOCATION_TYPES:
        raise f.bad("LocationType", f"has an unknown value {location!r}")
    sources = f.obj.get("MediaSources")
    return JellyfinItem(
        id=f.text("Id"),
        type=f.enum("Type", ITEM_TYPES.split(",")),
        name=f.opt_text("Name") or "",
        location_type=location,
        is_placeholder=f.flag("IsPlaceHolder") or _placeholder_source(sources),
        path=f.opt_text("Path"),
        series_id=f.opt_text("SeriesId"),
        season=f.opt_int("ParentIndexNumber"),
        episode=f.opt_int("IndexNumber"),
        episode_end=f.opt_int("IndexNumberEnd"),
        provider_ids={str(k): str(v) for k, v in provider.items() if v is not None},
        date_last_saved=_saved_at(f),
        video_widths=_video_widths(sources),
    )


def _saved_at(f: Fields) -> datetime | None:
    """When the item was last saved. Emby's `BaseItemDto` has no `DateLastSaved`, so this is
    None unless a server sends one."""
    return f.time("DateLastSaved")


def _placeholder_source(sources: object) -> bool:
    return isinstance(sources, list) and any(
        isinstance(s, dict) and s.get("Type") == "Placeholder" for s in sources)


def provider_pair(key: str, value: str) -> str:
    """One `AnyProviderIdEquals` entry, `Tmdb.603`: Emby's key spelling, then the id."""
    normalised = normalise_provider_key(key)
    return f"{PROVIDER_KEYS.get(normalised, key.strip())}.{value.strip()}"


def _with_prefix(config: ServiceConfig) -> ServiceConfig:
    path = urlsplit(config.url).path.rstrip("/")
    if path.lower().endswith(PATH_PREFIX):
        return config
    return replace(config, url=config.url.rstrip("/") + PATH_PREFIX)


class EmbyClient(JellyfinClient):
    """Emby's items, libraries and scans (see the module docstring for what differs from
    Jellyfin, and where that is written)."""

    name = "emby"
    placeholders_in_sources = True  # no `IsPlaceHolder`: a media source of Type Placeholder

    def __init__(self, config: ServiceConfig, **kwargs: Any) -> None:
        super().__init__(_with_prefix(config), **kwargs)

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Emby-Token": api_key}

    def _item_params(self, *, media_sources: bool) -> dict[str, Any]:
        return {
            "Recursive": True,
            "IncludeItemTypes": ITEM_TYPES,
            "Fields": ITEM_FIELDS_WITH_SOURCES if media_sources else ITEM_FIELDS,
            "EnableImages": False,
            "EnableUserData": False,
        }

    async def _items(self, params: Mapping[str, Any]) -> tuple[list[JellyfinItem], int, Any]:
        response = await self.request("GET", "/Items", params=params)
        f = Fields(self.name, "/Items", require(self.name, response.data, dict, "/Items"))
        items = [parse_item(obj, self.name) for obj in f.array("Items")]
        return items, f.integer("TotalRecordCount"), response.server_date

    async def item_pages(
        self, *, min_date_last_saved: datetime | None = None, page_size: int = 1000,
        media_sources: bool = False,
    ) -> AsyncIterator[ItemPage]:
        """Films, series and episodes, one page at a time, oldest first (a film added while
        the listing runs lands on a later page); `min_date_last_saved`: only those saved
        since (`MinDateLastSaved`)."""
        start = 0
        while True:
            params = self._item_params(media_sources=media_sources)
            params.update({"StartIndex": start, "Limit": page_size,
                           "SortBy": "DateCreated,SortName", "SortOrder": "Ascending"})
            if min_date_last_saved is not None:
                params["MinDateLastSaved"] = (
                    min_date_last_saved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"))
            items, total, server_date = await self._items(params)
            yield ItemPage(items, total, server_date)
            start += len(items)
            if not items or start >= total:
                return

    async def item_count(self) -> int:
        """How many films, series and episodes Emby has (one `Limit=1` call; Emby always
        sends `TotalRecordCount`)."""
        params = self._item_params(media_sources=False)
        del params["Fields"]
        _, total, _ = await self._items({**params, "Limit": 1})
        return total

    async def newest_created(self) -> datetime | None:
        """The newest `DateCreated` among films, series and episodes (one call)."""
        params = self._item_params(media_sources=False)
        params.update({"Fields": "DateCreated", "SortBy": "DateCreated",
                       "SortOrder": "Descending", "Limit": 1})
        response = await self.request("GET", "/Items", params=params)
        data = require(self.name, response.data, dict, "/Items")
        found = Fields(self.name, "/Items", data).array("Items")
        if not found:
            return None
        return parse_time(Fields(self.name, "/Items", found[0]).opt_text("DateCreated"))

    async def items_by_ids(self, ids: list[str], *,
                           media_sources: bool = False) -> list[JellyfinItem]:
        """The items among `ids` that still exist (chunked to keep URLs short)."""
        found: list[JellyfinItem] = []
        for i in range(0, len(ids), 100):
            params = self._item_params(media_sources=media_sources)
            del params["Recursive"], params["IncludeItemTypes"]
            items, _, _ = await self._items({**params, "Ids": ",".join(ids[i:i + 100])})
            found += items
        return found

    async def items_by_provider_ids(self, ids: Iterable[tuple[str, str]], *,
                                    media_sources: bool = False) -> list[JellyfinItem]:
        """The films, series and episodes carrying any of these ProviderIds, e.g.
        `[("Tmdb", "603"), ("Imdb", "tt0133093")]`, found by Emby (`AnyProviderIdEquals`)
        rather than by listing the library."""
        pairs = list(dict.fromkeys(provider_pair(k, v) for k, v in ids if k and v))
        found: dict[str, JellyfinItem] = {}
        for i in range(0, len(pairs), PROVIDER_CHUNK):
            params = self._item_params(media_sources=media_sources)
            params["AnyProviderIdEquals"] = ",".join(pairs[i:i + PROVIDER_CHUNK])
            items, _, _ = await self._items(params)
            found.update((item.id, item) for item in items)
        return list(found.values())

    async def libraries(self) -> list[Library]:
        """Emby's libraries with their folders (`GET /Library/VirtualFolders/Query`)."""
        where = "/Library/VirtualFolders/Query"
        data = require(self.name, await self.get(where), dict, where)
        libs = []
        for obj in Fields(self.name, where, data).array("Items"):
            f = Fields(self.name, where, obj)
            locations = tuple(str(p) for p in f.array("Locations") if isinstance(p, str))
            item_id = f.opt_text("ItemId") or f.text("Id")
            libs.append(Library(name=f.opt_text("Name") or "", item_id=item_id,
                                locations=locations))
        return libs

    async def library_scan_running(self) -> bool:
        """Whether Emby's library scan task is running now (`GET /ScheduledTasks`, State
        `Running`); the task is found by its Key, else by its name."""
        data = require(self.name, await self.get("/ScheduledTasks"), list, "/ScheduledTasks")
        for obj in data:
            f = Fields(self.name, "/ScheduledTasks", obj)
            if (f.opt_text("Key") == LIBRARY_SCAN_TASK_KEY
                    or (f.opt_text("Name") or "").strip().lower() == LIBRARY_SCAN_TASK_NAME):
                return f.opt_text("State") == "Running"
        return False
