"""Plex Media Server: its sections (libraries) with their folders, each section's films, shows
and episodes with the external ids of Plex's current agents, and scans of one folder.

Plex's model, from the community description of its API (LukeHagar/plex-api-spec, 1.1.1;
"spec" below) and python-plexapi's code:

- A section (`GET /library/sections/all`, `Directory[]`: `key`, `title`, `type`, `agent`,
  `Location[].path`, `refreshing`) holds items of one kind. Items are paged out of
  `GET /library/sections/{key}/all` with `type` (1 film, 2 show, 4 episode), `includeGuids=1`,
  and the container headers `X-Plex-Container-Start` / `X-Plex-Container-Size` (sent as
  headers, as python-plexapi's `fetchItems` does; the spec also lists them as query
  parameters); the answer's `MediaContainer.totalSize` is the whole count.
- An item is a `ratingKey` with a `guid`. On the current agents (`tv.plex.agents.movie`,
  `tv.plex.agents.series`) the `guid` is Plex's own (`plex://movie/...`) and the `Guid` list
  holds the external ids: `tmdb://603`, `imdb://tt0133093`, `tvdb://169`, turned here into the
  index's ProviderId keys `Tmdb`, `Imdb`, `Tvdb`. A section still on a legacy agent
  (`com.plexapp.agents.imdb`, `.themoviedb`, `.thetvdb`, `.hama`, ...) gives items a guid such
  as `com.plexapp.agents.imdb://tt0133093?lang=en` and no `Guid` list: they get no ProviderIds
  here, and `PlexSection.legacy_agent` / `PlexItem.legacy_guid` say why they cannot be matched.
- An episode carries its show (`grandparentRatingKey`, `grandparentGuid`), its season number
  (`parentIndex`) and its number (`index`); a file of two episodes is two episode items.
- Playable means a `Media` with a `Part` that has a `file` (and is not reported missing).
- Incremental: `updatedAt>>=` (seconds since the epoch; `>>=` is "is after", python-plexapi's
  date operator). Adding an item sets its `updatedAt`, so this also finds what `addedAt>>=`
  would.
- Scans: `POST /library/sections/{key}/refresh` (the spec's method; python-plexapi sends GET),
  with `path=` for one folder instead of the whole section. Whether one runs: the section's
  `refreshing`.
- The token goes in the `X-Plex-Token` header only (the spec's security scheme), never in a URL;
  `Accept: application/json` asks for JSON (XML otherwise).

Why a thin httpx client rather than python-plexapi: docs/media-servers.md (measured).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import httpx

from reconciler.config import ServiceConfig
from reconciler.core import jellyfin_path
from reconciler.errors import NotFound
from reconciler.models import JellyfinItem, Library
from reconciler.services.http import ServiceClient, require
from reconciler.services.jellyfin import ItemPage
from reconciler.services.parse import Fields

SEARCH_TYPES = {"movie": 1, "show": 2, "season": 3, "episode": 4}
# Which kinds of item each kind of section lists, and their names in the index.
SECTION_ITEM_TYPES = {"movie": ("movie",), "show": ("show", "episode")}
INDEX_TYPES = {"movie": "Movie", "show": "Series", "episode": "Episode"}
GUID_KEYS = {"tmdb": "Tmdb", "imdb": "Imdb", "tvdb": "Tvdb"}
LEGACY_AGENT_PREFIX = "com.plexapp.agents."
# Who is asking (Plex lists devices by these); no secret, the same for every install.
CLIENT_HEADERS = {"X-Plex-Product": "reconciler", "X-Plex-Version": "0.1.0",
                  "X-Plex-Client-Identifier": "reconciler"}
METADATA_CHUNK = 100

# The container window of the call in progress; a request hook turns it into the headers
# (`ServiceClient.request` takes no per-call headers).
_CONTAINER: ContextVar[tuple[int, int] | None] = ContextVar("plex_container", default=None)


async def _container_headers(request: httpx.Request) -> None:
    window = _CONTAINER.get()
    if window is not None:
        request.headers["X-Plex-Container-Start"] = str(window[0])
        request.headers["X-Plex-Container-Size"] = str(window[1])


@dataclass(frozen=True)
class PlexSection:
    """A Plex library section (`/library/sections/all`)."""

    key: str
    title: str
    type: str  # movie | show | artist | photo
    agent: str
    locations: tuple[str, ...]
    refreshing: bool = False

    @property
    def legacy_agent(self) -> bool:
        """On one of Plex's legacy agents, whose items carry no `Guid` list to match by."""
        return self.agent.startswith(LEGACY_AGENT_PREFIX)

    @property
    def item_types(self) -> tuple[str, ...]:
        return SECTION_ITEM_TYPES.get(self.type, ())

    def to_library(self) -> Library:
        return Library(name=self.title, item_id=self.key, locations=self.locations)


@dataclass(frozen=True)
class PlexItem:
    """One film, show or episode of Plex, with its external ids."""

    rating_key: str
    type: str  # movie | show | episode
    title: str
    guid: str = ""
    provider_ids: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()  # the files of its media's parts, first media first
    video_widths: tuple[int, ...] = ()  # each media's width (0: not sent)
    show_key: str | None = None  # grandparentRatingKey
    show_guid: str | None = None  # grandparentGuid
    season: int | None = None  # parentIndex
    episode: int | None = None  # index
    section_key: str | None = None
    added_at: int | None = None
    updated_at: int | None = None

    @property
    def legacy_guid(self) -> bool:
        """Matched by a legacy agent: no external ids to match it by."""
        return self.guid.startswith(LEGACY_AGENT_PREFIX)

    @property
    def is_playable(self) -> bool:
        return self.type in ("movie", "episode") and bool(self.files)

    def to_index_item(self) -> JellyfinItem:
        """The index's item model (named after Jellyfin, the first media server)."""
        return JellyfinItem(
            id=self.rating_key, type=INDEX_TYPES[self.type], name=self.title,
            location_type="FileSystem" if self.files or self.type == "show" else "Virtual",
            path=self.files[0] if self.files else None, series_id=self.show_key,
            season=self.season, episode=self.episode, provider_ids=dict(self.provider_ids),
            date_last_saved=_saved_at(self.updated_at), video_widths=self.video_widths)


def _saved_at(updated_at: int | None) -> datetime | None:
    """When Plex last changed the item (`updatedAt`, Unix seconds)."""
    if updated_at is None:
        return None
    return datetime.fromtimestamp(updated_at, UTC)


def parse_guids(f: Fields) -> dict[str, str]:
    """`Guid: [{"id": "tmdb://603"}, ...]` as ProviderIds (`{"Tmdb": "603"}`)."""
    ids: dict[str, str] = {}
    for entry in f.array("Guid"):
        scheme, sep, value = Fields(f.service, f"{f.endpoint}.Guid", entry).text("id") \
            .partition("://")
        key = GUID_KEYS.get(scheme.lower())
        if sep and key and value:
            ids.setdefault(key, value)
    return ids


def _media(f: Fields) -> tuple[tuple[str, ...], tuple[int, ...]]:
    files: list[str] = []
    widths: list[int] = []
    for media in f.array("Media"):
        m = Fields(f.service, f"{f.endpoint}.Media", media)
        widths.append(m.opt_int("width") or 0)
        for part in m.array("Part"):
            p = Fields(f.service, f"{f.endpoint}.Media.Part", part)
            file = p.opt_text("file")
            if file and p.obj.get("exists") is not False and p.obj.get("accessible") is not False:
                files.append(file)
    return tuple(files), tuple(widths)


def parse_metadata(obj: object, service: str = "plex",
                   endpoint: str = "/library/metadata") -> PlexItem | None:
    """One `Metadata` entry; None for a kind reconciler does not index (a season, a clip)."""
    f = Fields(service, endpoint, obj)
    kind = f.text("type")
    if kind not in INDEX_TYPES:
        return None
    files, widths = _media(f)
    section = f.obj.get("librarySectionID")
    return PlexItem(
        rating_key=f.text("ratingKey"), type=kind, title=f.opt_text("title") or "",
        guid=f.opt_text("guid") or "", provider_ids=parse_guids(f), files=files,
        video_widths=widths, show_key=f.opt_text("grandparentRatingKey"),
        show_guid=f.opt_text("grandparentGuid"), season=f.opt_int("parentIndex"),
        episode=f.opt_int("index") if kind == "episode" else None,
        section_key=str(section) if section is not None else None,
        added_at=f.opt_int("addedAt"), updated_at=f.opt_int("updatedAt"))


def parse_section(obj: object) -> PlexSection:
    f = Fields("plex", "/library/sections/all", obj)
    key = f.obj.get("key")
    if isinstance(key, bool) or not isinstance(key, str | int) or key == "":
        raise f.bad("key", "is missing")
    locations = []
    for loc in f.array("Location"):
        path = Fields("plex", "/library/sections/all.Location", loc).opt_text("path")
        if path:
            locations.append(path)
    return PlexSection(key=str(key), title=f.opt_text("title") or "", type=f.text("type"),
                       agent=f.opt_text("agent") or "", locations=tuple(locations),
                       refreshing=f.flag("refreshing"))


def _container(service: str, endpoint: str, data: Any) -> Fields:
    outer = Fields(service, endpoint, require(service, data, dict, endpoint))
    inner = outer.sub("MediaContainer")
    if inner is None:
        raise outer.bad("MediaContainer", "is missing")
    return inner


@dataclass
class ContainerPage:
    """One page of a section's items of one kind."""

    items: list[PlexItem]
    total: int
    server_date: datetime | None


class PlexClient(ServiceClient):
    """Plex's sections, items and folder scans (see the module docstring)."""

    name = "plex"
    config_key = "token"  # what Plex calls its key (`[plex] token`, or `api_key`)

    def __init__(self, config: ServiceConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._http.headers.update(CLIENT_HEADERS)
        hooks = self._http.event_hooks
        hooks["request"] = [*hooks.get("request", []), _container_headers]
        self._http.event_hooks = hooks
        # The sections of the last answer of `sections()` (the listings read them): which
        # libraries are on a legacy agent, without another call.
        self.last_sections: list[PlexSection] = []

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Plex-Token": api_key}

    async def system_info(self) -> dict[str, Any]:
        """The server's `MediaContainer` at `/` (`machineIdentifier`, `version`, ...)."""
        return dict(_container(self.name, "/", await self.get("/")).obj)

    async def server_id(self) -> str | None:
        """The server's `machineIdentifier`, which Plex's web app links name."""
        value = (await self.system_info()).get("machineIdentifier")
        return value if isinstance(value, str) and value else None

    async def sections(self) -> list[PlexSection]:
        where = "/library/sections/all"
        found = [parse_section(d) for d in
                 _container(self.name, where, await self.get(where)).array("Directory")]
        self.last_sections = found
        return found

    async def libraries(self) -> list[Library]:
        """The film and show sections, as the nudge plans with them (`item_id`: the key)."""
        return [s.to_library() for s in await self.sections() if s.item_types]

    async def _window(self, path: str, params: dict[str, Any], start: int,
                      size: int) -> tuple[Fields, datetime | None]:
        """`path`'s container from `start`, `size` entries at most (headers, not query)."""
        token = _CONTAINER.set((start, size))
        try:
            response = await self.request("GET", path, params=params)
        finally:
            _CONTAINER.reset(token)
        return _container(self.name, path, response.data), response.server_date

    async def section_pages(self, section: str, kind: str, *,
                            updated_since: datetime | None = None,
                            page_size: int = 1000) -> AsyncIterator[ContainerPage]:
        """One section's items of one kind (`movie`, `show`, `episode`), oldest added first,
        `page_size` a page; `updated_since`: only those changed after it."""
        path = f"/library/sections/{section}/all"
        params: dict[str, Any] = {"type": SEARCH_TYPES[kind], "includeGuids": 1,
                                  "sort": "addedAt:asc"}
        if updated_since is not None:
            params["updatedAt>>"] = int(updated_since.timestamp())
        start = 0
        while True:
            mc, server_date = await self._window(path, params, start, page_size)
            raw = mc.array("Metadata")
            items = [item for obj in raw if (item := parse_metadata(obj, self.name, path))]
            total = mc.opt_int("totalSize")
            total = total if total is not None else start + len(raw)
            yield ContainerPage(items, total, server_date)
            start += len(raw)
            if not raw or start >= total:
                return

    async def item_pages(
        self, *, min_date_last_saved: datetime | None = None, page_size: int = 1000,
        media_sources: bool = False,
    ) -> AsyncIterator[ItemPage]:
        """Every film, show and episode of the film and show sections, a page at a time, as
        the index keeps them. `total` adds up what each listing announced so far, so the last
        page's is the whole count. (`media_sources`: Plex always sends each media's width.)"""
        done = 0
        for section, kind in await self._listings():
            total = 0
            async for page in self.section_pages(section, kind, page_size=page_size,
                                                 updated_since=min_date_last_saved):
                total = page.total
                yield ItemPage([i.to_index_item() for i in page.items], done + total,
                               page.server_date)
            done += total

    async def _listings(self, *, reuse: bool = False) -> list[tuple[str, str]]:
        """(section key, kind) of every listing that makes up the library (`reuse`: from the
        sections last read, when there are any: a count right after a listing)."""
        sections = self.last_sections if reuse and self.last_sections else await self.sections()
        return [(s.key, kind) for s in sections for kind in s.item_types]

    async def _head(self, section: str, kind: str, size: int, sort: str | None = None) -> Fields:
        """The first `size` items of a listing (none: only its `totalSize`)."""
        params: dict[str, Any] = {"type": SEARCH_TYPES[kind]}
        if sort:
            params["sort"] = sort
        mc, _ = await self._window(f"/library/sections/{section}/all", params, 0, size)
        return mc

    async def item_count(self) -> int:
        """How many films, shows and episodes the film and show sections hold (one
        `X-Plex-Container-Size: 0` call per section and kind, over the sections the listing
        just read)."""
        count = 0
        for section, kind in await self._listings(reuse=True):
            count += (await self._head(section, kind, 0)).opt_int("totalSize") or 0
        return count

    async def newest_created(self) -> datetime | None:
        """The newest `addedAt` among films, shows and episodes (one call per section and
        kind): the watermark when an answer carries no `Date` header."""
        added = []
        for section, kind in await self._listings():
            mc = await self._head(section, kind, 1, "addedAt:desc")
            added += [Fields(self.name, "/library/sections/all", obj).opt_int("addedAt")
                      for obj in mc.array("Metadata")[:1]]
        newest = max((a for a in added if a is not None), default=None)
        return datetime.fromtimestamp(newest, UTC) if newest is not None else None

    async def metadata(self, ids: list[str]) -> list[PlexItem]:
        """The items among `ratingKey`s `ids` that still exist (100 a call; when a call of
        several answers 404, each is asked alone, so one gone item hides no other)."""
        found: list[PlexItem] = []
        chunks = [ids[i:i + METADATA_CHUNK] for i in range(0, len(ids), METADATA_CHUNK)]
        while chunks:
            chunk = chunks.pop(0)
            path = "/library/metadata/" + ",".join(chunk)
            try:
                mc = _container(self.name, path, await self.get(path))
            except NotFound:
                chunks[:0] = [[one] for one in chunk] if len(chunk) > 1 else []
                continue
            found += [item for obj in mc.array("Metadata")
                      if (item := parse_metadata(obj, self.name))]
        return found

    async def items_by_ids(self, ids: list[str], *,
                           media_sources: bool = False) -> list[JellyfinItem]:
        return [item.to_index_item() for item in await self.metadata(ids)]

    async def scan_folder(self, section: str, folder: str | None = None) -> None:
        """Ask Plex to scan one section, or only `folder` in it, for new files."""
        params = {"path": folder} if folder else None
        await self.request("POST", f"/library/sections/{section}/refresh", params=params,
                           expect_json=False)

    async def refresh_library(self, library: Library | None) -> None:
        """Scan one section's folders for new files, or every film and show section's."""
        if library is not None:
            await self.scan_folder(library.item_id)
            return
        for lib in await self.libraries():
            await self.scan_folder(lib.item_id)

    async def report_media_updated(self, paths: Iterable[str]) -> None:
        """Have Plex scan the folder of each new file (once per folder), in the section whose
        location holds it; a file in no section's folders is left out (Plex scans by
        section). Nothing is asked for no paths."""
        wanted = [p for p in dict.fromkeys(paths) if p]
        if not wanted:
            return
        sections = [s for s in await self.sections() if s.item_types]
        targets: dict[tuple[str, str], None] = {}
        for path in wanted:
            section = next((s for s in sections if jellyfin_path(path, s.to_library())), None)
            if section is not None:
                targets[(section.key, _folder(path))] = None
        for key, folder in targets:
            await self.scan_folder(key, folder)

    async def library_scan_running(self) -> bool:
        """Whether any section is being scanned now (`refreshing`)."""
        return any(s.refreshing for s in await self.sections())


def _folder(path: str) -> str:
    """The folder to scan for `path`: its parent when it names a file (it has an extension),
    else the folder itself (in the server's own spelling, `/` or a Windows path)."""
    windows = ("\\" in path and "/" not in path) or (len(path) > 1 and path[1] == ":")
    p = PureWindowsPath(path) if windows else PurePosixPath(path)
    return str(p.parent) if p.suffix and len(p.suffix) <= 5 else str(p)
