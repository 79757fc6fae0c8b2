"""Fake Emby Server (4.8 shapes, from Emby.SDK's OpenAPI description): Jellyfin's fake world
(Emby is Jellyfin's forebear: the same items, libraries, pending files, scans and scan task),
served at Emby's addresses and in Emby's shapes.

World (`EmbyWorld(world)`, beside the other services on the same `Clock`/`World`): every verb of
`JellyfinWorld` (`add_library`, `add_movie`, `add_series`, `add_episode`, `update_item`, `touch`,
`remove_item`, `scan`, `populate`, `pending_ids`, `refresh_calls`, `scan_on_refresh`,
`scan_delay`, `library_scan_duration`, ...). What differs: ids are Emby's (decimal numbers as
strings, libraries included), a placeholder is a media source of Type `Placeholder` (Emby's
`BaseItemDto` has no `IsPlaceHolder`), `LocationType` is `FileSystem` or `Virtual` only.

HTTP, every path under `/emby` (the description's server URL; nothing is served without it):
the key in `X-Emby-Token`, or the `api_key` query parameter (the description's `apikeyauth`), or
an `Emby`/`MediaBrowser` `Authorization`/`X-Emby-Authorization` header with `Token="..."`; 401
with a text body otherwise (`/System/Info/Public` is open). Query names are case-insensitive.

- `GET /Items`: the Jellyfin fake's filters, plus `AnyProviderIdEquals` (`prov.id` pairs, comma
  separated, provider names case-insensitive), which Emby honours; the answer is
  `{Items, TotalRecordCount}` (no `StartIndex`), `TotalRecordCount` always the whole count.
- `GET /Library/VirtualFolders/Query` (`StartIndex`, `Limit`): `{Items, TotalRecordCount}`.
- `POST /Library/Refresh`, `POST /Items/{Id}/Refresh`, `POST /Library/Media/Updated`: 200 with an
  empty body; they scan pending items as the Jellyfin fake's do (`refresh_calls`).
- `GET /ScheduledTasks` (`IsHidden`): the library scan task (Key `RefreshLibrary`), Idle or
  Running; `GET /System/Info`, `GET /System/Info/Public`.

`serve(emby_world, api_key)` starts one on a free port (a `ServiceRunner`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from simstack._util import QueryParams
from simstack.clock import Clock
from simstack.faults import FaultBook
from simstack.jellyfin import JellyfinWorld, JfItem, JfLibrary
from simstack.server import App, Recorder, Request, Response, ServiceRunner

PREFIX = "/emby"
_EMBY_LOCATIONS = frozenset({"FileSystem", "Virtual"})


class EmbyWorld(JellyfinWorld):
    """Emby's libraries and items: Jellyfin's fake world with Emby's ids and shapes."""

    version = "4.8.11.0"
    server_name = "sim-emby"

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.server_id = f"{world.seed:08x}5e7c4c2b9d1f4a3e8b6c0d2f"[:32]
        self.local_address = "http://127.0.0.1:8096"
        self._next_id = 100_000

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def add_library(self, name: str, locations: Iterable[str],
                    collection_type: str = "movies") -> str:
        with self.lock:
            lid = next((lib.id for lib in self.libraries.values() if lib.name == name), None)
            lid = lid or self._new_id()
            self.libraries[lid] = JfLibrary(lid, name, [loc.rstrip("/") for loc in locations],
                                            collection_type)
            self._bump()
            return lid

    def populate(self, n_items: int, *, movie_ratio: float = 0.3, anime_ratio: float = 0.0,
                 seasons_per_series: int = 2, episodes_per_season: int = 10,
                 virtual_ratio: float = 0.02, tmdb_base: int = 3_000_000,
                 tvdb_base: int = 6_000_000, seed: int | None = None) -> dict[str, int]:
        """Jellyfin's `populate`, without Shokofin anime by default (a Jellyfin plugin)."""
        return super().populate(n_items, movie_ratio=movie_ratio, anime_ratio=anime_ratio,
                                seasons_per_series=seasons_per_series,
                                episodes_per_season=episodes_per_season,
                                virtual_ratio=virtual_ratio, tmdb_base=tmdb_base,
                                tvdb_base=tvdb_base, seed=seed)

    # -- rendering: Emby's BaseItemDto -----------------------------------------------------------

    def render(self, it: JfItem, fields: frozenset[str]) -> dict[str, Any]:
        d = super().render(it, fields)
        d.pop("IsPlaceHolder", None)
        if d.get("LocationType") not in _EMBY_LOCATIONS:
            d["LocationType"] = "FileSystem"
        return d

    def _media_sources(self, it: JfItem) -> list[dict[str, Any]]:
        if it.location_type == "Virtual" or not it.path:
            return []
        if it.is_placeholder:
            return [{"Protocol": "File", "Id": it.id, "Path": it.path, "Type": "Placeholder",
                     "Name": it.name, "IsRemote": False, "MediaStreams": [], "Formats": [],
                     "RequiredHttpHeaders": {}, "ItemId": it.id}]
        return super()._media_sources(it)

    def _media_source(self, it: JfItem, source_id: str, path: str,
                      width: int) -> dict[str, Any]:
        height = width * 9 // 16
        codec = "hevc" if width >= 3200 else "h264"
        video = {"Codec": codec, "Type": "Video", "Index": 0, "Width": width, "Height": height,
                 "IsDefault": True, "IsInterlaced": False, "IsExternal": False,
                 "IsTextSubtitleStream": False, "SupportsExternalStream": False,
                 "Protocol": "File", "ExtendedVideoType": "None",
                 "DisplayTitle": f"{'4K' if width >= 3200 else f'{height}p'} {codec.upper()}"}
        return {
            "Protocol": "File", "Id": source_id, "Path": path,
            "Type": "Default" if source_id == it.id else "Grouping",
            "Container": "mkv", "Size": it.size or 0, "Name": it.name, "IsRemote": False,
            "HasMixedProtocols": False, "RunTimeTicks": it.run_time_ticks or 0,
            "SupportsTranscoding": True, "SupportsDirectStream": True,
            "SupportsDirectPlay": True, "IsInfiniteStream": False, "RequiresOpening": False,
            "RequiresClosing": False, "RequiresLooping": False, "SupportsProbing": True,
            "MediaStreams": [video], "Formats": [], "Bitrate": 8_000_000,
            "RequiredHttpHeaders": {}, "AddApiKeyToDirectStreamUrl": False,
            "ReadAtNativeFramerate": False, "ItemId": it.id,
        }

    def render_virtual_folder(self, lib: JfLibrary) -> dict[str, Any]:
        return {"Name": lib.name, "Locations": list(lib.locations),
                "CollectionType": lib.collection_type,
                "LibraryOptions": {"EnableRealtimeMonitor": True,
                                   "PathInfos": [{"Path": loc} for loc in lib.locations]},
                "ItemId": lib.id, "Id": lib.id, "Guid": f"{int(lib.id):032x}",
                "RefreshStatus": "Active" if self.running_scan else "Idle"}

    def matches_provider(self, it: JfItem, wanted: dict[str, set[str]]) -> bool:
        return any(v in wanted.get(k.lower(), ()) for k, v in it.provider_ids.items())


def provider_filter(q: QueryParams) -> dict[str, set[str]] | None:
    """`AnyProviderIdEquals=Tmdb.603,imdb.tt0133093` as {provider (lower case): {ids}}."""
    wanted: dict[str, set[str]] = {}
    for pair in q.get_list("AnyProviderIdEquals"):
        key, sep, value = pair.partition(".")
        if sep and key and value:
            wanted.setdefault(key.strip().lower(), set()).add(value.strip())
    return wanted if "AnyProviderIdEquals" in q else None


class EmbyApp(App):
    """Emby Server's HTTP face over an `EmbyWorld`."""

    service = "emby"

    def __init__(self, ew: EmbyWorld, api_key: str) -> None:
        self.ew = ew
        super().__init__(ew.world, api_key)

    def setup_routes(self) -> None:
        p = PREFIX
        self.route("GET", p + "/System/Info/Public", self.info_public, auth=False)
        self.route("GET", p + "/System/Info", self.info)
        self.route("GET", p + "/Items", self.items)
        self.route("GET", p + "/Library/VirtualFolders/Query", self.virtual_folders)
        self.route("POST", p + "/Library/Refresh", self.refresh_library)
        self.route("POST", p + r"/Items/(?P<id>[^/]+)/Refresh", self.refresh_item)
        self.route("POST", p + "/Library/Media/Updated", self.media_updated)
        self.route("GET", p + "/ScheduledTasks", self.scheduled_tasks)

    def unauthorized(self) -> Response:
        return Response(401, raw=b"Access token is invalid or expired.",
                        content_type="text/plain")

    def not_found(self, req: Request) -> Response:
        return Response(404, raw=f"Unable to find the specified file {req.path}".encode(),
                        content_type="text/plain")

    def _token(self, req: Request) -> str | None:
        value = req.header("X-Emby-Token")
        if value:
            return value
        for header in ("X-Emby-Authorization", "Authorization"):
            value = req.header(header)
            if value and value.split(" ", 1)[0].lower() in ("emby", "mediabrowser"):
                for part in value.split(" ", 1)[-1].split(","):
                    name, _, raw = part.strip().partition("=")
                    if name.strip().lower() == "token":
                        return raw.strip().strip('"')
        return req.query.get("api_key")

    def authenticate(self, req: Request) -> bool:
        return self._token(req) == self.api_key

    def auth_scheme(self, req: Request) -> str | None:
        for header in ("X-Emby-Token", "X-Emby-Authorization", "Authorization"):
            if req.header(header) is not None:
                return header
        return "api_key-query" if "api_key" in req.query else None

    # -- handlers ------------------------------------------------------------------------------

    def _public(self) -> dict[str, Any]:
        return {"LocalAddress": self.ew.local_address, "LocalAddresses": [],
                "RemoteAddresses": [], "ServerName": self.ew.server_name,
                "Version": self.ew.version, "Id": self.ew.server_id}

    def info_public(self, req: Request) -> Response:
        return Response(200, self._public())

    def info(self, req: Request) -> Response:
        return Response(200, {**self._public(), "OperatingSystem": "Linux",
                              "OperatingSystemDisplayName": "Linux", "HasPendingRestart": False,
                              "IsShuttingDown": False, "SupportsLibraryMonitor": True,
                              "WebSocketPortNumber": 8096, "CompletedInstallations": [],
                              "CanSelfRestart": True, "CanSelfUpdate": False,
                              "CanLaunchWebBrowser": False, "HttpServerPortNumber": 8096,
                              "SupportsHttps": False, "HasUpdateAvailable": False,
                              "ProgramDataPath": "/config", "CachePath": "/config/cache",
                              "LogPath": "/config/logs", "WakeOnLanInfo": []})

    def items(self, req: Request) -> Response:
        q = req.query
        start = max(0, q.get_int("StartIndex", 0) or 0)
        limit = q.get_int("Limit")
        fields = frozenset(f.lower() for f in q.get_list("Fields"))
        wanted = provider_filter(q)
        with self.world.lock:
            selected = self.ew.query(q)
            if selected is None:  # not recursive, no parent: the library views
                views = [self.ew.render_library_folder(lib)
                         for lib in self.ew.libraries.values()]
                end = len(views) if limit is None or limit < 0 else start + limit
                return Response(200, {"Items": views[start:end],
                                      "TotalRecordCount": len(views)})
            if wanted is not None:
                selected = [it for it in selected if self.ew.matches_provider(it, wanted)]
            end = len(selected) if limit is None or limit < 0 else start + limit
            rendered = [self.ew.render(it, fields) for it in selected[start:end]]
            return Response(200, {"Items": rendered, "TotalRecordCount": len(selected)})

    def virtual_folders(self, req: Request) -> Response:
        start = max(0, req.query.get_int("StartIndex", 0) or 0)
        limit = req.query.get_int("Limit")
        with self.world.lock:
            folders = [self.ew.render_virtual_folder(lib) for lib in self.ew.libraries.values()]
        end = len(folders) if limit is None or limit < 0 else start + limit
        return Response(200, {"Items": folders[start:end], "TotalRecordCount": len(folders)})

    def scheduled_tasks(self, req: Request) -> Response:
        hidden = req.query.get_bool("IsHidden", None)
        with self.world.lock:
            tasks = self.ew.render_scheduled_tasks()
        if hidden is not None:
            tasks = [t for t in tasks if t["IsHidden"] == hidden]
        return Response(200, tasks)

    def refresh_library(self, req: Request) -> Response:
        self.ew.record_refresh("library", query=req.query.first_values())
        return Response(200, raw=b"")

    def refresh_item(self, req: Request) -> Response:
        item_id = req.params["id"]
        with self.world.lock:
            if item_id not in self.ew.libraries and item_id not in self.ew.items:
                return self.not_found(req)
            if item_id in self.ew.items:
                self.ew.touch(item_id)
            self.ew.record_refresh("item", item_id=item_id, query=req.query.first_values())
        return Response(200, raw=b"")

    def media_updated(self, req: Request) -> Response:
        body = req.json()
        updates = body.get("Updates") if isinstance(body, dict) else None
        paths = [u["Path"] for u in updates or []
                 if isinstance(u, dict) and isinstance(u.get("Path"), str)]
        self.ew.record_refresh("media_updated", paths=paths, query=req.query.first_values())
        return Response(200, raw=b"")


def serve(ew: EmbyWorld, api_key: str, *, port: int = 0,
          recorder: Recorder | None = None) -> ServiceRunner:
    """A started fake Emby on 127.0.0.1 (`runner.url`; `runner.stop()` when done)."""
    runner = ServiceRunner(EmbyApp(ew, api_key), world=ew.world, faults=FaultBook(),
                           recorder=recorder or Recorder(), port=port, service="emby")
    runner.start()
    return runner
