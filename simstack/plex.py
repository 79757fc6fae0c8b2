"""Fake Plex Media Server, in the shapes of the community description of its API
(LukeHagar/plex-api-spec 1.1.1) and of what python-plexapi reads: JSON with
`Accept: application/json`, XML otherwise, as the real server does.

World (`PlexWorld(world)`, on the shared `Clock`/`World`): `add_section(title, locations,
type="movie"|"show", *, legacy=False) -> key` (on Plex's current agents, or on a legacy one,
whose items carry the agent's guid, `com.plexapp.agents.imdb://tt0133093?lang=en`, and no `Guid`
list); `add_movie(title, *, year, tmdb_id, imdb_id, tvdb_id, path, section, pending, width,
versions) -> ratingKey` (`versions`: more files, (path, width), a `Media` each);
`add_show(title, *, year, tvdb_id, tmdb_id, imdb_id, section, path, pending)`;
`add_episode(show, season, episode, *, title, path, tvdb_id, tmdb_id, imdb_id, pending, width,
files)` (`files=[]`: no media); `touch(key)` (a metadata change: `updatedAt`);
`remove_item(key)`; `scan(section=None, *, path=None)`: pending items (on disk, not scanned yet)
become listed, `addedAt` = now; `populate(n_items)`: films, shows and episodes at once.
A refresh call (`POST`, the description's method, or `GET`, python-plexapi's, or `PUT`
`/library/sections/{key}/refresh[?path=folder]`) scans at once, after `scan_delay` simulated
seconds, or at the end of a `scan_duration` during which the section is `refreshing`; each call
is in `refresh_calls` (and handed to `refresh_hook`, when set); `scan_on_refresh = False`
leaves pending items alone.

HTTP: the token in `X-Plex-Token` (header, or query as the real server accepts); 401 with an
HTML body otherwise (`/identity` is open). Case-sensitive routes and names. `GET /`,
`/identity`, `/library`, `/library/sections` (python-plexapi), `/library/sections/all` (the
description), `/library/sections/{key}/all` (`type` 1|2|3|4, `includeGuids`, `sort`
`addedAt|updatedAt|titleSort[:asc|:desc]`, filters `addedAt>>=`, `addedAt<<=`, `updatedAt>>=`,
`updatedAt<<=` in epoch seconds and `guid=`, paged by `X-Plex-Container-Start`/`-Size` headers
or query parameters, with `totalSize` and `X-Plex-Container-Total-Size`),
`/library/metadata/{ids}` (comma list, `Guid` always, 404 when none exists).
`serve(plex_world, token)` starts one on a free port.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

from simstack._base import SubWorld
from simstack._util import hex_id
from simstack.clock import Clock
from simstack.faults import FaultBook
from simstack.jellyfin import _under
from simstack.server import App, Recorder, Request, Response, ServiceRunner

TYPES = {"movie": 1, "show": 2, "season": 3, "episode": 4}
AGENTS = {("movie", False): ("tv.plex.agents.movie", "Plex Movie"),
          ("show", False): ("tv.plex.agents.series", "Plex TV Series"),
          ("movie", True): ("com.plexapp.agents.imdb", "Plex Movie Scanner"),
          ("show", True): ("com.plexapp.agents.thetvdb", "Plex Series Scanner")}
UNAUTHORIZED = (b"<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1>"
                b"</body></html>")


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def _hex(*parts: object, n: int = 24) -> str:
    return hex_id(*parts)[:n] if n <= 32 else (hex_id(*parts) + hex_id(n, *parts))[:n]


@dataclass(slots=True, eq=False)
class PxSection:
    key: int
    title: str
    type: str  # movie | show
    legacy: bool
    locations: list[str]
    created_at: int
    refreshing_until: datetime | None = None


@dataclass(slots=True, eq=False)
class PxItem:
    key: int
    type: str  # movie | show | season | episode
    title: str
    section: int
    ids: dict[str, str]  # {"tmdb": "603", "imdb": "tt0133093", "tvdb": "169"}
    added_at: int
    updated_at: int
    year: int | None = None
    index: int | None = None
    parent: PxItem | None = None  # a season's show, an episode's season
    path: str | None = None  # a show's folder
    files: list[tuple[str, int]] = field(default_factory=list)  # (file, width) per Media
    guid: str = ""

    @property
    def show(self) -> PxItem | None:
        return self.parent.parent if self.type == "episode" and self.parent else self.parent


@dataclass(frozen=True)
class PlexRefresh:
    """One refresh call that reached the fake Plex."""

    section: int
    path: str | None
    method: str
    at: datetime


class PlexWorld(SubWorld):
    """Plex's sections and items. See the module docstring."""

    version = "1.41.3.9314-a0bfb8370"
    friendly_name = "sim-plex"

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.machine_id = _hex("plex-server", world.seed, n=40)
        self.sections: dict[int, PxSection] = {}
        self.items: dict[int, PxItem] = {}
        self.pending: dict[int, PxItem] = {}
        self.scan_on_refresh = True
        self.scan_delay = 0.0
        self.scan_duration = 0.0
        self.refresh_calls: list[PlexRefresh] = []
        # Called with each refresh call as it arrives (server thread, world lock held).
        self.refresh_hook: Callable[[PlexRefresh], None] | None = None
        self._next = 0
        self._version = 0
        self._cache: dict[tuple[Any, ...], list[PxItem]] = {}

    def _key(self) -> int:
        self._next += 1
        return self._next

    def _changed(self) -> None:
        self._version += 1
        self._cache.clear()

    # -- sections ----------------------------------------------------------------------------

    def add_section(self, title: str, locations: Iterable[str], type: str = "movie", *,
                    legacy: bool = False) -> int:
        if type not in ("movie", "show"):
            raise ValueError(f"section type must be 'movie' or 'show', not {type!r}")
        with self.lock:
            key = len(self.sections) + 1
            self.sections[key] = PxSection(key, title, type, legacy,
                                           [loc.rstrip("/") for loc in locations],
                                           _epoch(self.now))
            self._changed()
            return key

    def _section(self, section: int | str | None, kind: str, path: str | None) -> PxSection:
        if isinstance(section, int):
            return self.sections[section]
        for sec in self.sections.values():
            if sec.title == section or (section is None and path and sec.type == kind
                                        and any(_under(path, loc) for loc in sec.locations)):
                return sec
        if section is None:
            for sec in self.sections.values():
                if sec.type == kind:
                    return sec
            default = ("Movies", "/data/movies") if kind == "movie" else ("TV Shows", "/data/tv")
            return self.sections[self.add_section(default[0], [default[1]], kind)]
        raise KeyError(f"no Plex section {section!r}")

    # -- items -------------------------------------------------------------------------------

    def _guid(self, item: PxItem) -> str:
        sec = self.sections[item.section]
        if not sec.legacy:
            return f"plex://{item.type}/{_hex(item.type, item.title, item.year, item.key)}"
        show = item.show
        if item.type == "movie":
            imdb = item.ids.get("imdb")
            return f"com.plexapp.agents.imdb://{imdb}?lang=en" if imdb else f"local://{item.key}"
        tvdb = (show or item).ids.get("tvdb")
        if tvdb is None:
            return f"local://{item.key}"
        tail = {"show": "", "season": f"/{item.index}",
                "episode": f"/{item.parent.index if item.parent else 0}/{item.index}"}
        return f"com.plexapp.agents.thetvdb://{tvdb}{tail[item.type]}?lang=en"

    def _place(self, item: PxItem, pending: bool) -> int:
        item.guid = self._guid(item)
        (self.pending if pending else self.items)[item.key] = item
        if not pending:
            self._changed()
        return item.key

    @staticmethod
    def _ids(tmdb: int | str | None, imdb: str | None, tvdb: int | str | None) -> dict[str, str]:
        return {k: str(v) for k, v in (("imdb", imdb), ("tmdb", tmdb), ("tvdb", tvdb))
                if v is not None}

    def add_movie(self, title: str, *, year: int | None = None, tmdb_id: int | str | None = None,
                  imdb_id: str | None = None, tvdb_id: int | str | None = None,
                  path: str | None = None, section: int | str | None = None,
                  pending: bool = False, width: int = 1920,
                  versions: Iterable[tuple[str, int]] = (),
                  files: list[tuple[str, int]] | None = None) -> int:
        """A film (`files=[]`: listed without media, as Plex keeps a film whose file went)."""
        with self.lock:
            sec = self._section(section, "movie", path)
            label = f"{title} ({year})" if year else title
            path = path or f"{sec.locations[0]}/{label}/{label}.mkv"
            now = _epoch(self.now)
            item = PxItem(self._key(), "movie", title, sec.key,
                          self._ids(tmdb_id, imdb_id, tvdb_id), now, now, year=year,
                          files=[(path, width), *versions] if files is None else list(files))
            return self._place(item, pending)

    def add_show(self, title: str, *, year: int | None = None, tvdb_id: int | str | None = None,
                 tmdb_id: int | str | None = None, imdb_id: str | None = None,
                 section: int | str | None = None, path: str | None = None,
                 pending: bool = False) -> int:
        with self.lock:
            sec = self._section(section, "show", path)
            now = _epoch(self.now)
            item = PxItem(self._key(), "show", title, sec.key,
                          self._ids(tmdb_id, imdb_id, tvdb_id), now, now, year=year,
                          path=path or f"{sec.locations[0]}/{title}")
            return self._place(item, pending)

    def _get(self, key: int) -> PxItem:
        item = self.items.get(key) or self.pending.get(key)
        if item is None:
            raise KeyError(f"no Plex item {key}")
        return item

    def _season(self, show: PxItem, number: int, pending: bool) -> PxItem:
        for pool in (self.items, self.pending):
            for it in pool.values():
                if it.type == "season" and it.parent is show and it.index == number:
                    return it
        now = _epoch(self.now)
        season = PxItem(self._key(), "season", f"Season {number}", show.section, {}, now, now,
                        index=number, parent=show)
        self._place(season, pending or show.key in self.pending)
        return season

    def add_episode(self, show: int, season: int, episode: int, *, title: str | None = None,
                    path: str | None = None, tvdb_id: int | str | None = None,
                    tmdb_id: int | str | None = None, imdb_id: str | None = None,
                    pending: bool = False, width: int = 1920,
                    files: list[tuple[str, int]] | None = None) -> int:
        with self.lock:
            parent = self._get(show)
            season_item = self._season(parent, season, pending)
            path = path or (f"{parent.path}/Season {season:02d}/{parent.title} - "
                            f"S{season:02d}E{episode:02d}.mkv")
            now = _epoch(self.now)
            item = PxItem(self._key(), "episode", title or f"Episode {episode}", parent.section,
                          self._ids(tmdb_id, imdb_id, tvdb_id), now, now, year=parent.year,
                          index=episode, parent=season_item,
                          files=[(path, width)] if files is None else list(files))
            return self._place(item, pending or parent.key in self.pending)

    def touch(self, key: int) -> None:
        with self.lock:
            self._get(key).updated_at = _epoch(self.now)
            self._changed()

    def remove_item(self, key: int) -> None:
        with self.lock:
            doomed = {key} | {k for pool in (self.items, self.pending) for k, it in pool.items()
                              if it.parent is not None and (it.parent.key == key
                                                            or it.show is self._get(key))}
            for k in doomed:
                self.items.pop(k, None)
                self.pending.pop(k, None)
            self._changed()

    # -- scanning ----------------------------------------------------------------------------

    def scan(self, section: int | None = None, *, path: str | None = None) -> list[int]:
        """List the pending items of `section` (or all) under `path` (or anywhere)."""
        with self.lock:
            chosen = [it for it in self.pending.values()
                      if (section is None or it.section == section)
                      and (path is None or any(_under(f, path) for f, _ in it.files)
                           or _under(it.path, path))]
            for it in list(chosen):
                for up in (it.parent, it.show):
                    if up is not None and up.key in self.pending and up not in chosen:
                        chosen.append(up)
            now = _epoch(self.now)
            for it in chosen:
                del self.pending[it.key]
                it.added_at = it.updated_at = now
                self.items[it.key] = it
            if chosen:
                self._changed()
            return [it.key for it in chosen]

    def record_refresh(self, section: int, path: str | None, method: str) -> None:
        with self.lock:
            call = PlexRefresh(section, path, method, self.now)
            self.refresh_calls.append(call)
            if self.refresh_hook is not None:
                self.refresh_hook(call)
            if not self.scan_on_refresh:
                return
            sec = self.sections[section]

            def run() -> None:
                self.scan(section, path=path)
                if sec.refreshing_until is not None and sec.refreshing_until <= self.now:
                    sec.refreshing_until = None

            if self.scan_duration > 0:
                sec.refreshing_until = self.now + timedelta(seconds=self.scan_duration)
                self.world.call_at(sec.refreshing_until, run)
            elif self.scan_delay > 0:
                self.world.call_later(self.scan_delay, run)
            else:
                run()

    # -- bulk --------------------------------------------------------------------------------

    def populate(self, n_items: int, *, movie_ratio: float = 0.3, seasons_per_show: int = 2,
                 episodes_per_season: int = 10, tmdb_base: int = 3_000_000,
                 tvdb_base: int = 6_000_000, seed: int | None = None) -> dict[str, int]:
        """`n_items` films, shows and episodes at once (seasons besides), added over the past
        year, on the current agents."""
        rng = random.Random(seed if seed is not None else f"plex-{self.world.seed}")
        with self.lock:
            movies, shows = self._section(None, "movie", None), self._section(None, "show", None)
            now = _epoch(self.now)
            counts = {"movie": 0, "show": 0, "season": 0, "episode": 0}

            def add(item: PxItem) -> PxItem:
                item.added_at = item.updated_at = now - 60 - int(rng.random() * 365 * 86400)
                item.guid = f"plex://{item.type}/{item.key:024x}"
                self.items[item.key] = item
                counts[item.type] += 1
                return item

            n_movies = int(n_items * movie_ratio)
            for _ in range(n_movies):
                k = self._key()
                year = 1950 + k % 75
                name = f"Film {k}"
                add(PxItem(k, "movie", name, movies.key,
                           {"imdb": f"tt{9_000_000 + k}", "tmdb": str(tmdb_base + k)}, 0, 0,
                           year=year, files=[(f"{movies.locations[0]}/{name} ({year})/"
                                              f"{name} ({year}).mkv", 1920)]))
            left = n_items - n_movies
            while left > 0:
                k = self._key()
                name = f"Show {k}"
                show = add(PxItem(k, "show", name, shows.key,
                                  {"tvdb": str(tvdb_base + k), "tmdb": str(tmdb_base + k)}, 0, 0,
                                  year=1990 + k % 35, path=f"{shows.locations[0]}/{name}"))
                left -= 1
                for s in range(1, seasons_per_show + 1):
                    season = add(PxItem(self._key(), "season", f"Season {s}", shows.key, {},
                                        0, 0, index=s, parent=show))
                    for e in range(1, episodes_per_season + 1):
                        if left <= 0:
                            break
                        ek = self._key()
                        add(PxItem(ek, "episode", f"Episode {e}", shows.key,
                                   {"tvdb": str(tvdb_base * 10 + ek)}, 0, 0, year=show.year,
                                   index=e, parent=season,
                                   files=[(f"{show.path}/Season {s:02d}/{name} - "
                                           f"S{s:02d}E{e:02d}.mkv", 1920)]))
                        left -= 1
            self._changed()
            return counts

    # -- queries -----------------------------------------------------------------------------

    def listing(self, section: int, type_num: int, filters: tuple[tuple[str, str, str], ...],
                sort: str | None) -> list[PxItem]:
        """A section's listed items of one type, filtered and sorted (cached until a change)."""
        cache_key = (section, type_num, filters, sort)
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        kind = next(k for k, v in TYPES.items() if v == type_num)
        out = [it for it in self.items.values() if it.section == section and it.type == kind]
        for name, op, value in filters:
            if name == "guid":
                out = [it for it in out if it.guid == value]
                continue
            bound = int(value)
            if op == ">>":
                out = [it for it in out if getattr(it, name) > bound]
            else:
                out = [it for it in out if getattr(it, name) < bound]
        field_, _, direction = (sort or "titleSort").partition(":")
        attr = {"addedAt": "added_at", "updatedAt": "updated_at"}.get(field_)
        if attr is None:
            out.sort(key=lambda it: (it.index or 0, it.title.lower(), it.key))
        else:
            out.sort(key=lambda it: (getattr(it, attr), it.key),
                     reverse=direction == "desc")
        self._cache[cache_key] = out
        return out

    # -- rendering ---------------------------------------------------------------------------

    def render(self, it: PxItem, guids: bool) -> dict[str, Any]:
        sec = self.sections[it.section]
        d: dict[str, Any] = {
            "ratingKey": str(it.key),
            "key": f"/library/metadata/{it.key}"
                   + ("/children" if it.type in ("show", "season") else ""),
            "guid": it.guid, "type": it.type, "title": it.title,
            "librarySectionTitle": sec.title, "librarySectionID": sec.key,
            "librarySectionKey": f"/library/sections/{sec.key}",
            "addedAt": it.added_at, "updatedAt": it.updated_at}
        if it.year is not None:
            d["year"] = it.year
        if it.index is not None:
            d["index"] = it.index
        parent, show = it.parent, it.show
        if parent is not None:
            d.update(parentRatingKey=str(parent.key), parentKey=f"/library/metadata/{parent.key}",
                     parentGuid=parent.guid, parentTitle=parent.title)
            if it.type == "episode" and parent.index is not None:
                d["parentIndex"] = parent.index
        if it.type == "episode" and show is not None:
            d.update(grandparentRatingKey=str(show.key),
                     grandparentKey=f"/library/metadata/{show.key}",
                     grandparentGuid=show.guid, grandparentTitle=show.title)
        if it.type in ("movie", "episode"):
            d["Media"] = [self._media(it, n, path, width)
                          for n, (path, width) in enumerate(it.files)]
        if guids and not sec.legacy and it.ids:
            d["Guid"] = [{"id": f"{k}://{it.ids[k]}"} for k in ("imdb", "tmdb", "tvdb")
                         if k in it.ids]
        return d

    @staticmethod
    def _media(it: PxItem, n: int, path: str, width: int) -> dict[str, Any]:
        media_id = it.key * 10 + n
        duration = 6_600_000 if it.type == "movie" else 2_700_000
        return {"id": media_id, "duration": duration, "bitrate": 8000, "width": width,
                "height": width * 9 // 16, "aspectRatio": 1.78, "audioChannels": 6,
                "audioCodec": "eac3", "videoCodec": "hevc" if width >= 3200 else "h264",
                "videoResolution": "4k" if width >= 3200 else str(width * 9 // 16),
                "container": "mkv", "videoFrameRate": "24p", "videoProfile": "main",
                "Part": [{"id": media_id, "duration": duration,
                          "key": f"/library/parts/{media_id}/{it.added_at}/file.mkv",
                          "file": path, "size": 4_000_000_000, "container": "mkv",
                          "videoProfile": "main"}]}

    def render_section(self, sec: PxSection) -> dict[str, Any]:
        agent, scanner = AGENTS[(sec.type, sec.legacy)]
        return {"allowSync": True, "art": f"/:/resources/{sec.type}-fanart.jpg",
                "composite": f"/library/sections/{sec.key}/composite/{sec.created_at}",
                "filters": True, "refreshing": sec.refreshing_until is not None,
                "thumb": f"/:/resources/{sec.type}.png", "key": str(sec.key), "type": sec.type,
                "title": sec.title, "agent": agent, "scanner": scanner, "language": "en-US",
                "uuid": f"{_hex('section', sec.key, n=8)}-4aba-bb19-{_hex(sec.title, n=12)}",
                "updatedAt": sec.created_at, "createdAt": sec.created_at,
                "scannedAt": _epoch(self.now), "content": True, "directory": True,
                "contentChangedAt": self._version, "hidden": False,
                "Location": [{"id": sec.key * 100 + n, "path": loc}
                             for n, loc in enumerate(sec.locations)]}


def to_xml(container: dict[str, Any]) -> bytes:
    """A JSON `MediaContainer` as the XML the server sends by default (films and episodes
    are `Video` elements, shows and seasons `Directory`, as python-plexapi expects)."""
    root = ElementTree.Element("MediaContainer")
    _fill(root, container)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root)


def _fill(element: ElementTree.Element, obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if isinstance(value, list):
            for child in value:
                tag = key
                if key == "Metadata":
                    tag = "Video" if child.get("type") in ("movie", "episode") else "Directory"
                _fill(ElementTree.SubElement(element, tag), child)
        elif isinstance(value, bool):
            element.set(key, "1" if value else "0")
        elif value is not None:
            element.set(key, str(value))


class PlexApp(App):
    """Plex Media Server's HTTP face over a `PlexWorld`."""

    service = "plex"
    server_header = "Plex Media Server"
    case_insensitive = False

    def __init__(self, pw: PlexWorld, token: str) -> None:
        self.pw = pw
        super().__init__(pw.world, token)

    def setup_routes(self) -> None:
        self.route("GET", "/identity", self.identity, auth=False)
        self.route("GET", "", self.root)
        self.route("GET", "/library", self.library)
        self.route("GET", "/library/sections", self.sections)
        self.route("GET", "/library/sections/all", self.sections)
        self.route("GET", r"/library/sections/(?P<key>\d+)/all", self.section_items)
        self.route("GET", r"/library/metadata/(?P<ids>[0-9,]+)", self.metadata)
        for method in ("POST", "GET", "PUT"):
            self.route(method, r"/library/sections/(?P<key>\d+)/refresh", self.refresh)

    def authenticate(self, req: Request) -> bool:
        return (req.header("X-Plex-Token") or req.query.get("X-Plex-Token")) == self.api_key

    def auth_scheme(self, req: Request) -> str | None:
        if req.header("X-Plex-Token") is not None:
            return "X-Plex-Token"
        return "token-query" if "X-Plex-Token" in req.query else None

    def unauthorized(self) -> Response:
        return Response(401, raw=UNAUTHORIZED, content_type="text/html")

    def not_found(self, req: Request) -> Response:
        return Response(404, raw=b"<html><head><title>Not Found</title></head><body>"
                                 b"<h1>404 Not Found</h1></body></html>",
                        content_type="text/html")

    def _answer(self, req: Request, container: dict[str, Any],
                headers: dict[str, str] | None = None) -> Response:
        if "json" in (req.header("Accept") or "").lower():
            return Response(200, {"MediaContainer": container}, headers=headers or {})
        return Response(200, raw=to_xml(container), content_type="text/xml;charset=utf-8",
                        headers=headers or {})

    # -- handlers ----------------------------------------------------------------------------

    def identity(self, req: Request) -> Response:
        return self._answer(req, {"size": 0, "claimed": True, "version": self.pw.version,
                                  "machineIdentifier": self.pw.machine_id})

    def root(self, req: Request) -> Response:
        return self._answer(req, {
            "size": 1, "allowCameraUpload": False, "allowChannelAccess": True,
            "allowSharing": True, "allowSync": False, "friendlyName": self.pw.friendly_name,
            "machineIdentifier": self.pw.machine_id, "myPlex": False, "platform": "Linux",
            "transcoderActiveVideoSessions": 0, "updatedAt": _epoch(self.pw.now),
            "version": self.pw.version,
            "Directory": [{"count": 1, "key": "library", "title": "library"}]})

    def library(self, req: Request) -> Response:
        return self._answer(req, {
            "size": 2, "allowSync": False, "identifier": "com.plexapp.plugins.library",
            "title1": "Plex Library", "Directory": [
                {"key": "sections", "title": "Library Sections"},
                {"key": "recentlyAdded", "title": "Recently Added Content"}]})

    def sections(self, req: Request) -> Response:
        with self.world.lock:
            dirs = [self.pw.render_section(s) for s in self.pw.sections.values()]
        return self._answer(req, {"size": len(dirs), "allowSync": False,
                                  "title1": "Plex Library", "Directory": dirs})

    def _window(self, req: Request) -> tuple[int, int | None]:
        def value(name: str) -> int | None:
            raw = req.header(name) or req.query.get(name)
            return int(raw) if raw is not None and raw.strip().lstrip("-").isdigit() else None
        return max(0, value("X-Plex-Container-Start") or 0), value("X-Plex-Container-Size")

    def section_items(self, req: Request) -> Response:
        q = req.query
        filters: list[tuple[str, str, str]] = []
        for name, values in q.raw.items():
            field_, op = name[:-2], name[-2:]
            if field_ in ("addedAt", "updatedAt") and op in (">>", "<<") and values:
                if not values[0].lstrip("-").isdigit():
                    return self.bad_request(f"{name} takes seconds since the epoch")
                filters.append(({"addedAt": "added_at"}.get(field_, "updated_at"), op,
                                values[0]))
            elif name.startswith(("addedAt", "updatedAt")):
                return self.bad_request(f"unknown filter {name}")
        if q.get("guid"):
            filters.append(("guid", "=", q.get("guid") or ""))
        start, size = self._window(req)
        guids = q.get("includeGuids") == "1"
        with self.world.lock:
            sec = self.pw.sections.get(int(req.params["key"]))
            if sec is None:
                return self.not_found(req)
            type_num = q.get_int("type", TYPES[sec.type]) or TYPES[sec.type]
            if type_num not in TYPES.values():
                return self.bad_request(f"unknown type {type_num}")
            listed = self.pw.listing(sec.key, type_num, tuple(filters), q.get("sort"))
            end = len(listed) if size is None else start + size
            page = [self.pw.render(it, guids) for it in listed[start:end]]
            container: dict[str, Any] = {
                "size": len(page), "allowSync": True, "identifier": "com.plexapp.plugins.library",
                "librarySectionID": sec.key, "librarySectionTitle": sec.title,
                "librarySectionUUID": self.pw.render_section(sec)["uuid"],
                "mediaTagPrefix": "/system/bundle/media/flags/", "title1": sec.title,
                "viewGroup": sec.type}
        headers = {}
        if size is not None or start:
            container.update(offset=start, totalSize=len(listed))
            headers = {"X-Plex-Container-Start": str(start),
                       "X-Plex-Container-Total-Size": str(len(listed))}
        if page:
            container["Metadata"] = page
        return self._answer(req, container, headers)

    def metadata(self, req: Request) -> Response:
        keys = [int(k) for k in req.params["ids"].split(",") if k]
        with self.world.lock:
            found = [self.pw.render(self.pw.items[k], True) for k in dict.fromkeys(keys)
                     if k in self.pw.items]
        if not found:
            return self.not_found(req)
        return self._answer(req, {"size": len(found), "allowSync": True,
                                  "identifier": "com.plexapp.plugins.library",
                                  "Metadata": found})

    def refresh(self, req: Request) -> Response:
        key = int(req.params["key"])
        with self.world.lock:
            if key not in self.pw.sections:
                return self.not_found(req)
            self.pw.record_refresh(key, req.query.get("path") or None, req.method)
        return Response(200, raw=b"", content_type="text/html")


def serve(pw: PlexWorld, token: str, *, port: int = 0,
          recorder: Recorder | None = None) -> ServiceRunner:
    """A started fake Plex on 127.0.0.1 (`runner.url`; `runner.stop()` when done)."""
    runner = ServiceRunner(PlexApp(pw, token), world=pw.world, faults=FaultBook(),
                           recorder=recorder or Recorder(), port=port, service="plex")
    runner.start()
    return runner
