"""Jellyfin: the library's items with their ProviderIds (listed in pages, never all at once),
the libraries' folders, and the one action reconciler ever takes: asking for a scan, gently
first (`report_media_updated`, `refresh_item`), the whole library only when none is running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from reconciler.models import JellyfinItem, Library
from reconciler.services.http import ServiceClient, require
from reconciler.services.parse import Fields

ITEM_TYPES = "Movie,Series,Episode"
ITEM_FIELDS = "ProviderIds,Path"  # Jellyfin never sends DateLastSaved on items
# With the versions' video streams (their widths tell a 4K copy from an HD one).
ITEM_FIELDS_WITH_SOURCES = ITEM_FIELDS + ",MediaSources"
LOCATION_TYPES = ("FileSystem", "Remote", "Virtual", "Offline")
LIBRARY_SCAN_TASK_KEY = "RefreshLibrary"  # Emby.Server.Implementations RefreshMediaLibraryTask
REFRESH_PARAMS = {"metadataRefreshMode": "Default", "imageRefreshMode": "Default",
                  "replaceAllMetadata": False, "replaceAllImages": False}


def parse_item(obj: object) -> JellyfinItem:
    f = Fields("jellyfin", "/Items", obj)
    provider = f.obj.get("ProviderIds") or {}
    if not isinstance(provider, dict):
        raise f.bad("ProviderIds", "is not an object")
    location = f.opt_text("LocationType")
    if location is not None and location not in LOCATION_TYPES:
        raise f.bad("LocationType", f"has an unknown value {location!r}")
    return JellyfinItem(
        id=f.text("Id"),
        type=f.enum("Type", ITEM_TYPES.split(",")),
        name=f.opt_text("Name") or "",
        location_type=location,
        is_placeholder=f.flag("IsPlaceHolder"),
        path=f.opt_text("Path"),
        series_id=f.opt_text("SeriesId"),
        season=f.opt_int("ParentIndexNumber"),
        episode=f.opt_int("IndexNumber"),
        episode_end=f.opt_int("IndexNumberEnd"),
        provider_ids={str(k): str(v) for k, v in provider.items() if v is not None},
        date_last_saved=f.time("DateLastSaved"),
        video_widths=_video_widths(f.obj.get("MediaSources")),
    )


def _video_widths(sources: object) -> tuple[int, ...]:
    """Each version's (`MediaSources` entry's) widest video stream; 0 when it lists none."""
    if not isinstance(sources, list):
        return ()
    widths = []
    for source in sources:
        streams = source.get("MediaStreams") if isinstance(source, dict) else None
        width = 0
        for stream in streams if isinstance(streams, list) else []:
            if isinstance(stream, dict) and stream.get("Type") == "Video":
                value = stream.get("Width")
                if isinstance(value, int) and not isinstance(value, bool):
                    width = max(width, value)
        widths.append(width)
    return tuple(widths)


@dataclass
class ItemPage:
    items: list[JellyfinItem]
    total: int
    server_date: datetime | None


class JellyfinClient(ServiceClient):
    name = "jellyfin"
    # Whether a placeholder shows only among an item's media sources (Emby's; Jellyfin sends
    # `IsPlaceHolder`): then the listing must ask for them.
    placeholders_in_sources: ClassVar[bool] = False

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f'MediaBrowser Token="{api_key}"'}

    async def primary_image(self, item_id: str, max_width: int) -> bytes:
        """An item's poster (`GET /Items/{id}/Images/Primary`, scaled down to `max_width`):
        JPEG, PNG or WebP bytes; NotFound when the item has none."""
        return await self.get_bytes(f"/Items/{item_id}/Images/Primary",
                                    {"maxWidth": max_width, "quality": 85})

    async def system_info(self) -> dict[str, Any]:
        return dict(require(self.name, await self.get("/System/Info"), dict, "/System/Info"))

    async def server_id(self) -> str | None:
        """The server's own id (`/System/Info`'s `Id`), which its web app's links name."""
        value = (await self.system_info()).get("Id")
        return value if isinstance(value, str) and value else None

    async def item_pages(
        self, *, min_date_last_saved: datetime | None = None, page_size: int = 1000,
        media_sources: bool = False,
    ) -> AsyncIterator[ItemPage]:
        """Films, series and episodes, one page at a time, so memory stays bounded
        (`media_sources`: with each version's video width, `JellyfinItem.video_widths`)."""
        start = 0
        while True:
            params: dict[str, Any] = {
                "Recursive": True,
                "IncludeItemTypes": ITEM_TYPES,
                "Fields": ITEM_FIELDS_WITH_SOURCES if media_sources else ITEM_FIELDS,
                "StartIndex": start,
                "Limit": page_size,
                "SortBy": "DateCreated,SortName",
                "SortOrder": "Ascending",
                "EnableTotalRecordCount": True,
                "EnableImages": False,
                "EnableUserData": False,
            }
            if min_date_last_saved is not None:
                params["MinDateLastSaved"] = (
                    min_date_last_saved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"))
            response = await self.request("GET", "/Items", params=params)
            data = require(self.name, response.data, dict, "/Items")
            f = Fields(self.name, "/Items", data)
            items = [parse_item(obj) for obj in f.array("Items")]
            total = f.integer("TotalRecordCount")
            yield ItemPage(items, total, response.server_date)
            start += len(items)
            if not items or start >= total:
                return

    async def item_count(self) -> int:
        """How many films, series and episodes Jellyfin has (the listing's filters), from one
        small call: `Limit=1` with the total record count."""
        data = require(self.name, await self.get("/Items", {
            "Recursive": True, "IncludeItemTypes": ITEM_TYPES, "Limit": 1,
            "EnableTotalRecordCount": True, "EnableImages": False, "EnableUserData": False,
        }), dict, "/Items")
        return Fields(self.name, "/Items", data).integer("TotalRecordCount")

    async def newest_created(self) -> datetime | None:
        """The newest `DateCreated` among films, series and episodes (one call): a watermark on
        Jellyfin's side when its answers carry no `Date` header (BaseItemDto has no
        DateLastSaved to read back)."""
        data = require(self.name, await self.get("/Items", {
            "Recursive": True, "IncludeItemTypes": ITEM_TYPES, "Fields": "DateCreated",
            "SortBy": "DateCreated", "SortOrder": "Descending", "Limit": 1,
            "EnableTotalRecordCount": False, "EnableImages": False, "EnableUserData": False,
        }), dict, "/Items")
        items = Fields(self.name, "/Items", data).array("Items")
        if not items:
            return None
        return Fields(self.name, "/Items", items[0]).time("DateCreated")

    async def items_by_ids(self, ids: list[str], *,
                           media_sources: bool = False) -> list[JellyfinItem]:
        """The items among `ids` that still exist (chunked to keep URLs short)."""
        found: list[JellyfinItem] = []
        for i in range(0, len(ids), 100):
            chunk = ids[i : i + 100]
            data = require(self.name, await self.get("/Items", {
                "Ids": ",".join(chunk),
                "Fields": ITEM_FIELDS_WITH_SOURCES if media_sources else ITEM_FIELDS,
                "EnableImages": False,
                "EnableUserData": False,
            }), dict, "/Items")
            found += [parse_item(obj) for obj in Fields(self.name, "/Items", data).array("Items")]
        return found

    async def libraries(self) -> list[Library]:
        data = require(self.name, await self.get("/Library/VirtualFolders"), list,
                       "/Library/VirtualFolders")
        libs = []
        for obj in data:
            f = Fields(self.name, "/Library/VirtualFolders", obj)
            locations = tuple(str(p) for p in f.array("Locations") if isinstance(p, str))
            libs.append(Library(name=f.opt_text("Name") or "", item_id=f.text("ItemId"),
                                locations=locations))
        return libs

    async def refresh_library(self, library: Library | None) -> None:
        """Ask Jellyfin to scan one library's folders for new files (or every library).
        The whole-library form cancels a scan already running and starts it again
        (`LibraryManager.ValidateMediaLibrary` -> `CancelIfRunningAndQueue`): call it only when
        `library_scan_running()` is False."""
        if library is None:
            await self.request("POST", "/Library/Refresh", expect_json=False)
        else:
            await self.refresh_item(library.item_id)

    async def refresh_item(self, item_id: str) -> None:
        """`POST /Items/{id}/Refresh`: refresh one item; on a library (a CollectionFolder) that
        validates its folders' children, so new files are found. Queued
        (`ProviderManager.QueueRefresh`), it cancels nothing. The modes are those Jellyfin's
        own "Scan library" sends (Default metadata and images, nothing replaced); the web
        client's `Recursive` is not a parameter of this endpoint and is left out."""
        await self.request("POST", f"/Items/{item_id}/Refresh", params=REFRESH_PARAMS,
                           expect_json=False)

    async def report_media_updated(self, paths: Iterable[str]) -> None:
        """`POST /Library/Media/Updated`: tell Jellyfin these files were created
        (`LibraryController.PostUpdatedMedia` -> `ILibraryMonitor.ReportFileSystemChanged`), so
        it scans just their folders after its usual settle delay, without touching a running
        library scan. Paths are as Jellyfin sees them (its library folders), not as the *arr
        does. Nothing is sent for no paths."""
        updates = [{"Path": p, "UpdateType": "Created"} for p in dict.fromkeys(paths) if p]
        if updates:
            await self.request("POST", "/Library/Media/Updated", json_body={"Updates": updates},
                               expect_json=False)

    async def library_scan_running(self) -> bool:
        """Whether the "Scan Media Library" scheduled task (`RefreshMediaLibraryTask`, key
        `RefreshLibrary`) is running now (`GET /ScheduledTasks`, state `Running`). False when
        the server lists no such task."""
        data = require(self.name, await self.get("/ScheduledTasks"), list, "/ScheduledTasks")
        for obj in data:
            f = Fields(self.name, "/ScheduledTasks", obj)
            if f.opt_text("Key") == LIBRARY_SCAN_TASK_KEY:
                return f.opt_text("State") == "Running"
        return False
