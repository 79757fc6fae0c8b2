"""Fake Jellyfin (10.11 shapes: PascalCase, nulls omitted, 32-hex-digit ids, 7-digit dates).

World verbs (`world.jellyfin`):

- `add_library(name, locations, collection_type="movies") -> library_item_id`
- `add_movie(name, *, provider_ids=None, path=None, tmdb_id=None, imdb_id=None, year=None,
  library=None, location_type="FileSystem", is_placeholder=False, pending=False) -> item_id`
- `add_series(name, *, provider_ids=None, path=None, tvdb_id=None, tmdb_id=None, imdb_id=None,
  year=None, library=None, pending=False) -> item_id`
- `add_season(series_item_id, season, *, pending=None) -> item_id` (created on demand by
  `add_episode`)
- `add_episode(series_item_id, season, episode, *, name=None, provider_ids=None, path=None,
  location_type="FileSystem", is_placeholder=False, pending=False, premiere_date=None,
  episode_end=None) -> item_id` (a `location_type="Virtual"` episode is a "missing" one: no
  path, no media sources; `episode_end` makes it one multi-episode file, `IndexNumberEnd`)
- `update_item(item_id, **fields)` (name, path, provider_ids, location_type, is_placeholder,
  premiere_date, production_year), `touch(item_id)`, `remove_item(item_id)` (with its children)
- `scan(library_id=None, *, path=None, item_id=None) -> [item_id]`: lists pending items (all, one
  library's, those under a path, or those under an item).
- `populate(n_items, ...) -> {"Movie": n, "Series": n, "Season": n, "Episode": n}`: a realistic
  library in one go (films, series with seasons and episodes, some Shokofin anime), for
  benchmarks; `DateLastSaved` spread over the past year.
- `item(item_id)`, `find(provider, value) -> [item_id]`, `pending_ids()`.

Every mutation sets the item's DateLastSaved (the `MinDateLastSaved` filter) to `world.now`;
removal deletes the item. Items added with `pending=True` are on disk but not yet scanned: they
are not listed until `scan()`, or until a refresh call when `scan_on_refresh` is True (default):
`POST /Library/Refresh` scans everything, `POST /Items/{libraryId}/Refresh` one library
(`/Items/{itemId}/Refresh` on a series: what is under it), `POST /Library/Media/Updated` the
paths given. `scan_delay` (simulated seconds, default 0) postpones that scan until the clock
passes it. Each call is appended to `refresh_calls` (kind, target, paths, world time) and passed
to `refresh_hook` if set.

HTTP (`Authorization: MediaBrowser Token="KEY"`, also `X-Emby-Authorization`, `X-Emby-Token`,
`X-MediaBrowser-Token`, `api_key`/`ApiKey` query; 401 with an empty body otherwise;
`/System/Info/Public` open). The `Date` response header is the world clock. Query parameter names
are case-insensitive; `AnyProviderIdEquals` is ignored like on real Jellyfin.

`GET /Items`: `Recursive`, `ParentId`, `IncludeItemTypes`, `ExcludeItemTypes`, `Ids`,
`ExcludeItemIds`, `MediaTypes`, `MinDateLastSaved` (DateLastSaved >= value), `LocationTypes`,
`ExcludeLocationTypes`, `IsMissing` (Virtual), `IsPlaceHolder`, `HasTmdbId`, `HasTvdbId`,
`HasImdbId`, `SearchTerm`, `NameStartsWith`, `Years`, `SortBy`/`SortOrder` (default: SortName then
Id; Id is always the last tie-break, so paging is stable), `StartIndex`, `Limit`, `Fields`,
`EnableTotalRecordCount` (false: TotalRecordCount is the page's item count, as on Jellyfin).
`Fields` gates `Path`, `ProviderIds`, `DateCreated`, `Etag`, `SortName`, `ParentId`,
`MediaSources`; **`DateLastSaved` is never served** (BaseItemDto has no such property in 10.11:
the `ItemFields.DateLastSaved` value fills nothing) — a client learns its watermark from the
`Date` header. `GET /Items/{id}`,
`GET /Shows/{seriesId}/Episodes` (`Season`, `SeasonId`, `IsMissing`, `StartIndex`, `Limit`,
`Fields`; 404 for an unknown series), `GET /Library/VirtualFolders`, `GET /System/Info`,
`POST /Library/Refresh`, `POST /Items/{id}/Refresh`, `POST /Library/Media/Updated` (all 204),
`GET /ScheduledTasks` (`isHidden`; the "Scan Media Library" task, Key "RefreshLibrary", Idle or
Running, see `library_scan_duration`).

Shokofin: `set_shokofin_tmdb_episode(item_id, tmdb_id, movie=False)` gives an item the
`"Shoko Episode": "t<TMDB episode id>"` (or `"T<TMDB movie id>"`) that recent Shokofin writes for
episodes it builds from TMDB data (`IdPrefix.TmdbShow = 't'`, `TmdbMovie = 'T'`).
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simstack import posters
from simstack._base import SubWorld
from simstack._util import (
    BadParam,
    QueryParams,
    hex_id,
    iso_jellyfin,
    lower_set,
    parse_iso,
)
from simstack.clock import Clock
from simstack.server import AspNetApp, Request, Response

ITEM_TYPES = ("Movie", "Series", "Season", "Episode")
_TYPE_CANON = {t.lower(): t for t in ITEM_TYPES}
_LOCATION_CANON = {t.lower(): t for t in ("FileSystem", "Remote", "Virtual", "Offline")}
_VIDEO_TYPES = frozenset({"Movie", "Episode"})
TICKS_PER_MINUTE = 600_000_000

PROBLEM_404 = {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.5",
               "title": "Not Found", "status": 404}


@dataclass(slots=True, eq=False)
class JfItem:
    id: str
    name: str
    type: str
    sort_name: str
    path: str | None
    provider_ids: dict[str, str]
    location_type: str
    is_placeholder: bool
    is_folder: bool
    parent_id: str | None
    library_id: str | None
    series_id: str | None
    season_id: str | None
    series_name: str | None
    season_name: str | None
    index_number: int | None
    parent_index_number: int | None
    premiere_date: datetime | None
    production_year: int | None
    date_created: datetime
    date_last_saved: datetime
    run_time_ticks: int | None
    size: int | None
    key: tuple[str, str] = ("", "")
    saved_key: tuple[datetime, str] | None = None
    premiere_iso: str | None = None
    index_number_end: int | None = None  # the last episode of a multi-episode file
    width: int = 1920  # the video stream's width (its height follows at 16:9)
    # Alternate versions of a film or episode (Jellyfin lists them as its MediaSources):
    # (path, video width) each.
    versions: list[tuple[str, int]] = field(default_factory=list)

    def ancestors(self) -> tuple[str | None, ...]:
        return (self.library_id, self.series_id, self.season_id, self.parent_id)


@dataclass(eq=False)
class JfLibrary:
    id: str
    name: str
    locations: list[str]
    collection_type: str


@dataclass(frozen=True)
class RefreshCall:
    """One refresh request that reached the fake Jellyfin."""

    kind: str  # "library" (POST /Library/Refresh), "item" (/Items/{id}/Refresh), "media_updated"
    item_id: str | None
    library_id: str | None
    paths: tuple[str, ...]
    at: datetime
    query: Mapping[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class LibraryScan:
    """One run of the library scan task: Running until `ended`, then Completed or Cancelled."""

    started: datetime
    ended: datetime | None = None
    status: str = "Running"  # Running | Completed | Cancelled


def _by_key(item: JfItem) -> tuple[str, str]:
    return item.key


def _by_saved_key(item: JfItem) -> tuple[datetime, str]:
    assert item.saved_key is not None
    return item.saved_key


def _sort_name(name: str) -> str:
    low = name.lower()
    for article in ("the ", "a ", "an "):
        if low.startswith(article):
            return low[len(article):]
    return low


def _under(path: str | None, prefix: str) -> bool:
    if not path:
        return False
    p = path.replace("\\", "/").rstrip("/")
    pre = prefix.replace("\\", "/").rstrip("/")
    return p == pre or p.startswith(pre + "/")


class JellyfinWorld(SubWorld):
    """Jellyfin's libraries and items. See the module docstring."""

    version = "10.11.2"
    server_name = "sim-jellyfin"

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.server_id = hex_id("jellyfin-server", world.seed)
        self.local_address = "http://127.0.0.1:8096"
        self.libraries: dict[str, JfLibrary] = {}
        self.items: dict[str, JfItem] = {}
        self.pending: dict[str, JfItem] = {}
        self.scan_on_refresh = True
        self.scan_delay = 0.0
        # The "Scan Media Library" task (Key "RefreshLibrary") run by POST /Library/Refresh:
        # 0 = instant (then `scan_delay` applies); > 0 = it runs that many simulated seconds
        # (State "Running" in /ScheduledTasks) and lists the pending items when it completes.
        # Another POST /Library/Refresh while it runs cancels it and starts it again
        # (`CancelIfRunningAndQueue`), recorded in `library_scans`.
        self.library_scan_duration = 0.0
        self.library_scans: list[LibraryScan] = []
        self.refresh_calls: list[RefreshCall] = []
        self.refresh_hook: Callable[[RefreshCall], None] | None = None
        self._sorted: list[JfItem] = []  # listed items by (SortName, Id)
        self._by_saved: list[JfItem] = []  # listed items by (DateLastSaved, Id)
        self._children: dict[str, dict[str, JfItem]] = {}
        self._version = 0
        self._cache: dict[ItemQuery, list[JfItem]] = {}
        self._cache_version = -1
        self._rng = random.Random(f"jellyfin-{world.seed}")

    # -- ids, index maintenance -------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{self._rng.getrandbits(128):032x}"

    def _bump(self) -> None:
        self._version += 1

    def _index(self, item: JfItem) -> None:
        item.key = (item.sort_name, item.id)
        item.saved_key = (item.date_last_saved, item.id)
        self.items[item.id] = item
        bisect.insort(self._sorted, item, key=_by_key)
        bisect.insort(self._by_saved, item, key=_by_saved_key)
        if item.parent_id:
            self._children.setdefault(item.parent_id, {})[item.id] = item

    def _unindex(self, item: JfItem) -> None:
        self.items.pop(item.id, None)
        pos = bisect.bisect_left(self._sorted, item.key, key=_by_key)
        if pos < len(self._sorted) and self._sorted[pos] is item:
            del self._sorted[pos]
        if item.saved_key is not None:
            pos = bisect.bisect_left(self._by_saved, item.saved_key, key=_by_saved_key)
            if pos < len(self._by_saved) and self._by_saved[pos] is item:
                del self._by_saved[pos]
        if item.parent_id and item.parent_id in self._children:
            self._children[item.parent_id].pop(item.id, None)

    def _save(self, item: JfItem) -> None:
        """DateLastSaved = now, keeping the indexes right (for listed and pending items)."""
        listed = item.id in self.items
        if listed:
            self._unindex(item)
        item.date_last_saved = self.now
        if listed:
            self._index(item)
            self._bump()

    # -- libraries ---------------------------------------------------------------------------

    def add_library(self, name: str, locations: Iterable[str],
                    collection_type: str = "movies") -> str:
        with self.lock:
            lid = hex_id("jellyfin-library", name)
            self.libraries[lid] = JfLibrary(lid, name, [loc.rstrip("/") for loc in locations],
                                            collection_type)
            self._bump()
            return lid

    def library_id(self, name_or_id: str) -> str:
        with self.lock:
            if name_or_id in self.libraries:
                return name_or_id
            for lib in self.libraries.values():
                if lib.name == name_or_id:
                    return lib.id
            raise KeyError(f"no Jellyfin library {name_or_id!r}")

    def _pick_library(self, library: str | None, path: str | None, collection: str) -> JfLibrary:
        if library is not None:
            return self.libraries[self.library_id(library)]
        if path:
            for lib in self.libraries.values():
                if any(_under(path, loc) for loc in lib.locations):
                    return lib
        for lib in self.libraries.values():
            if lib.collection_type == collection:
                return lib
        default = ("Movies", "/data/movies") if collection == "movies" else ("Shows", "/data/tv")
        return self.libraries[self.add_library(default[0], [default[1]], collection)]

    # -- items -------------------------------------------------------------------------------

    def _make(self, name: str, type_: str, *, path: str | None, provider_ids: Mapping[str, Any],
              location_type: str, is_placeholder: bool, parent_id: str | None,
              library_id: str | None, series: JfItem | None = None,
              season: JfItem | None = None, index_number: int | None = None,
              parent_index_number: int | None = None, premiere: datetime | None = None,
              year: int | None = None, runtime_minutes: int | None = None,
              size: int | None = None, sort_name: str | None = None) -> JfItem:
        if location_type not in _LOCATION_CANON.values():
            raise ValueError(f"unknown LocationType {location_type!r}")
        now = self.now
        return JfItem(
            id=self._new_id(), name=name, type=type_, sort_name=sort_name or _sort_name(name),
            path=path, provider_ids={k: str(v) for k, v in provider_ids.items() if v is not None},
            location_type=location_type, is_placeholder=is_placeholder,
            is_folder=type_ in ("Series", "Season"), parent_id=parent_id, library_id=library_id,
            series_id=series.id if series else None, season_id=season.id if season else None,
            series_name=series.name if series else None,
            season_name=season.name if season else None, index_number=index_number,
            parent_index_number=parent_index_number, premiere_date=premiere,
            production_year=year, date_created=now, date_last_saved=now,
            run_time_ticks=runtime_minutes * TICKS_PER_MINUTE if runtime_minutes else None,
            size=size)

    def _place(self, item: JfItem, pending: bool) -> str:
        if pending:
            self.pending[item.id] = item
        else:
            self._index(item)
            self._bump()
        return item.id

    def _get_any(self, item_id: str) -> JfItem:
        item = self.items.get(item_id) or self.pending.get(item_id)
        if item is None:
            raise KeyError(f"no Jellyfin item {item_id!r}")
        return item

    def item(self, item_id: str) -> JfItem:
        with self.lock:
            return self._get_any(item_id)

    def add_movie(self, name: str, *, provider_ids: Mapping[str, Any] | None = None,
                  path: str | None = None, tmdb_id: int | str | None = None,
                  imdb_id: str | None = None, year: int | None = None,
                  library: str | None = None, location_type: str = "FileSystem",
                  is_placeholder: bool = False, pending: bool = False,
                  runtime_minutes: int = 110, width: int = 1920,
                  versions: Iterable[tuple[str, int]] = ()) -> str:
        """A film (`width`: its video's; `versions`: alternate versions, (path, width) each,
        listed among its MediaSources)."""
        with self.lock:
            ids: dict[str, Any] = dict(provider_ids or {})
            if tmdb_id is not None:
                ids["Tmdb"] = tmdb_id
            if imdb_id is not None:
                ids["Imdb"] = imdb_id
            lib = self._pick_library(library, path, "movies")
            label = f"{name} ({year})" if year else name
            if path is None and location_type != "Virtual":
                root = lib.locations[0] if lib.locations else "/data/movies"
                path = f"{root}/{label}/{label}.mkv"
            item = self._make(name, "Movie", path=path, provider_ids=ids,
                              location_type=location_type, is_placeholder=is_placeholder,
                              parent_id=lib.id, library_id=lib.id,
                              premiere=datetime(year, 1, 1, tzinfo=self.now.tzinfo) if year
                              else None, year=year, runtime_minutes=runtime_minutes,
                              size=4 * 1024**3)
            item.width = width
            item.versions = list(versions)
            return self._place(item, pending)

    def add_series(self, name: str, *, provider_ids: Mapping[str, Any] | None = None,
                   path: str | None = None, tvdb_id: int | str | None = None,
                   tmdb_id: int | str | None = None, imdb_id: str | None = None,
                   year: int | None = None, library: str | None = None,
                   pending: bool = False) -> str:
        with self.lock:
            ids: dict[str, Any] = dict(provider_ids or {})
            for key, value in (("Tvdb", tvdb_id), ("Tmdb", tmdb_id), ("Imdb", imdb_id)):
                if value is not None:
                    ids[key] = value
            lib = self._pick_library(library, path, "tvshows")
            if path is None:
                path = f"{lib.locations[0] if lib.locations else '/data/tv'}/{name}"
            item = self._make(name, "Series", path=path, provider_ids=ids,
                              location_type="FileSystem", is_placeholder=False,
                              parent_id=lib.id, library_id=lib.id,
                              premiere=datetime(year, 1, 1, tzinfo=self.now.tzinfo) if year
                              else None, year=year)
            return self._place(item, pending)

    def add_season(self, series_item_id: str, season: int, *,
                   pending: bool | None = None) -> str:
        with self.lock:
            series = self._get_any(series_item_id)
            for pool in (self.items, self.pending):
                for it in pool.values():
                    if (it.type == "Season" and it.series_id == series.id
                            and it.index_number == season):
                        return it.id
            name = "Specials" if season == 0 else f"Season {season}"
            item = self._make(name, "Season",
                              path=f"{series.path}/Season {season:02d}" if series.path else None,
                              provider_ids={}, location_type="FileSystem", is_placeholder=False,
                              parent_id=series.id, library_id=series.library_id, series=series,
                              index_number=season, sort_name=f"{season:04d}")
            if pending is None:
                pending = series.id in self.pending
            return self._place(item, pending)

    def add_episode(self, series_item_id: str, season: int, episode: int, *,
                    name: str | None = None, provider_ids: Mapping[str, Any] | None = None,
                    path: str | None = None, location_type: str = "FileSystem",
                    is_placeholder: bool = False, pending: bool = False,
                    premiere_date: datetime | None = None, runtime_minutes: int = 45,
                    episode_end: int | None = None, width: int = 1920,
                    versions: Iterable[tuple[str, int]] = ()) -> str:
        with self.lock:
            series = self._get_any(series_item_id)
            season_id = self.add_season(series_item_id, season, pending=pending or None)
            season_item = self._get_any(season_id)
            if path is None and location_type != "Virtual" and series.path:
                span = f"-E{episode_end:02d}" if episode_end is not None else ""
                path = (f"{series.path}/Season {season:02d}/{series.name} - "
                        f"S{season:02d}E{episode:02d}{span}.mkv")
            item = self._make(name or f"Episode {episode}", "Episode", path=path,
                              provider_ids=provider_ids or {}, location_type=location_type,
                              is_placeholder=is_placeholder, parent_id=season_id,
                              library_id=series.library_id, series=series, season=season_item,
                              index_number=episode, parent_index_number=season,
                              premiere=premiere_date, runtime_minutes=runtime_minutes,
                              size=1_500_000_000 if location_type != "Virtual" else None,
                              sort_name=f"{season:04d} - {episode:04d} - "
                                        f"{(name or '').lower()}")
            item.index_number_end = episode_end
            item.width = width
            item.versions = list(versions)
            return self._place(item, pending)

    def update_item(self, item_id: str, **fields: Any) -> None:
        allowed = {"name", "path", "provider_ids", "location_type", "is_placeholder",
                   "premiere_date", "production_year", "run_time_ticks", "size", "width",
                   "versions"}
        with self.lock:
            item = self._get_any(item_id)
            listed = item.id in self.items
            if listed:
                self._unindex(item)
            for name, value in fields.items():
                if name not in allowed:
                    raise AttributeError(f"JfItem field {name!r} cannot be updated")
                if name == "provider_ids":
                    value = {k: str(v) for k, v in value.items() if v is not None}
                setattr(item, name, value)
                if name == "name" and item.type != "Episode":
                    item.sort_name = _sort_name(value)
                if name == "premiere_date":
                    item.premiere_iso = None
            if listed:
                self._index(item)
            self._save(item)

    def touch(self, item_id: str) -> None:
        """A metadata save without changes (DateLastSaved = now)."""
        with self.lock:
            self._save(self._get_any(item_id))

    def remove_item(self, item_id: str) -> None:
        with self.lock:
            item = self._get_any(item_id)
            doomed = [item]
            if item.type in ("Series", "Season"):  # only they have episodes to take along
                doomed += [it for pool in (self.items, self.pending) for it in pool.values()
                           if it is not item and item.id in (it.series_id, it.season_id)]
            for it in doomed:
                if it.id in self.pending:
                    del self.pending[it.id]
                else:
                    self._unindex(it)
                self._children.pop(it.id, None)
            self._bump()

    def find(self, provider: str, value: str | int) -> list[str]:
        """Listed item ids whose ProviderIds[provider] == value (a test helper, not an API)."""
        text = str(value)
        with self.lock:
            return [i.id for i in self._sorted if i.provider_ids.get(provider) == text]

    def pending_ids(self) -> list[str]:
        with self.lock:
            return list(self.pending)

    def set_shokofin_tmdb_episode(self, item_id: str, tmdb_id: int, *,
                                  movie: bool = False) -> None:
        """`"Shoko Episode": "t123"` (a TMDB episode) or `"T123"` (a TMDB film), as Shokofin
        writes for episodes it built from TMDB data rather than from a Shoko episode."""
        with self.lock:
            ids = dict(self._get_any(item_id).provider_ids)
            ids["Shoko Episode"] = ("T" if movie else "t") + str(tmdb_id)
            self.update_item(item_id, provider_ids=ids)

    # -- scanning ----------------------------------------------------------------------------

    def scan(self, library_id: str | None = None, *, path: str | None = None,
             item_id: str | None = None) -> list[str]:
        """List pending items (with their pending parents); returns the ids listed."""
        with self.lock:
            lib = self.library_id(library_id) if library_id else None
            anchor = self._get_any(item_id) if item_id else None
            chosen = []
            for it in self.pending.values():
                if lib is not None and it.library_id != lib:
                    continue
                if path is not None and not _under(it.path, path):
                    continue
                if anchor is not None and not (anchor.id in (it.series_id, it.season_id)
                                               or _under(it.path, anchor.path or "\0")):
                    continue
                chosen.append(it)
            for it in list(chosen):
                for parent in (it.series_id, it.season_id):
                    if parent and parent in self.pending and self.pending[parent] not in chosen:
                        chosen.append(self.pending[parent])
            now = self.now
            for it in chosen:
                del self.pending[it.id]
                it.date_created = now
                it.date_last_saved = now
                self._index(it)
            if chosen:
                self._bump()
            return [it.id for it in chosen]

    def record_refresh(self, kind: str, *, item_id: str | None = None,
                       paths: Iterable[str] = (), query: Mapping[str, str] | None = None) -> None:
        with self.lock:
            library_id = item_id if item_id in self.libraries else None
            call = RefreshCall(kind, item_id, library_id, tuple(paths), self.now,
                               dict(query or {}))
            self.refresh_calls.append(call)
            if self.refresh_hook is not None:
                self.refresh_hook(call)
            if not self.scan_on_refresh:
                return
            if kind == "library" and self.library_scan_duration > 0:
                self._start_library_scan()
                return

            def run() -> None:
                if kind == "library":
                    self.scan()
                elif kind == "item" and library_id is not None:
                    self.scan(library_id)
                elif kind == "item" and item_id is not None:
                    if item_id in self.items or item_id in self.pending:
                        self.scan(item_id=item_id)
                else:
                    for p in call.paths:
                        self.scan(path=p)

            if self.scan_delay > 0:
                self.world.call_later(self.scan_delay, run)
            else:
                run()

    @property
    def running_scan(self) -> LibraryScan | None:
        with self.lock:
            last = self.library_scans[-1] if self.library_scans else None
            return last if last is not None and last.status == "Running" else None

    @property
    def scan_restarts(self) -> int:
        """How many running library scans a POST /Library/Refresh cancelled and restarted."""
        with self.lock:
            return sum(1 for run in self.library_scans if run.status == "Cancelled")

    def _start_library_scan(self) -> None:
        now = self.now
        running = self.running_scan
        if running is not None:  # CancelIfRunningAndQueue
            running.status, running.ended = "Cancelled", now
        run = LibraryScan(now)
        self.library_scans.append(run)

        def finish() -> None:
            if run.status != "Running":
                return
            self.scan()
            run.status, run.ended = "Completed", self.now

        self.world.call_later(self.library_scan_duration, finish)

    def render_scheduled_tasks(self) -> list[dict[str, Any]]:
        running = self.running_scan
        last = next((r for r in reversed(self.library_scans) if r.status != "Running"), None)
        scan_id = hex_id("jellyfin-task", "RefreshLibrary")
        task: dict[str, Any] = {
            "Name": "Scan Media Library", "State": "Running" if running else "Idle",
            "Id": scan_id,
            "Triggers": [{"Type": "IntervalTrigger", "IntervalTicks": 432000000000}],
            "Description": "Scans your media library for new files and refreshes metadata.",
            "Category": "Library", "IsHidden": False, "Key": "RefreshLibrary"}
        if running is not None:
            elapsed = (self.now - running.started).total_seconds()
            task["CurrentProgressPercentage"] = min(
                99.0, 100.0 * elapsed / max(self.library_scan_duration, 1e-9))
        if last is not None and last.ended is not None:
            task["LastExecutionResult"] = {
                "StartTimeUtc": iso_jellyfin(last.started),
                "EndTimeUtc": iso_jellyfin(last.ended),
                "Status": last.status, "Name": "Scan Media Library", "Key": "RefreshLibrary",
                "Id": scan_id}
        chapters = {
            "Name": "Extract Chapter Images", "State": "Idle",
            "Id": hex_id("jellyfin-task", "RefreshChapterImages"),
            "Triggers": [{"Type": "DailyTrigger", "TimeOfDayTicks": 72000000000}],
            "Description": "Creates thumbnails for videos that have chapters.",
            "Category": "Library", "IsHidden": False, "Key": "RefreshChapterImages"}
        return [task, chapters]

    # -- bulk --------------------------------------------------------------------------------

    def populate(self, n_items: int, *, movie_ratio: float = 0.3, anime_ratio: float = 0.1,
                 seasons_per_series: int = 2, episodes_per_season: int = 10,
                 virtual_ratio: float = 0.02, tmdb_base: int = 3_000_000,
                 tvdb_base: int = 6_000_000, seed: int | None = None) -> dict[str, int]:
        """Add `n_items` listed items quickly (see the module docstring)."""
        rng = random.Random(seed if seed is not None else f"populate-{self.world.seed}")
        with self.lock:
            movies_lib = self._pick_library(None, None, "movies")
            shows_lib = self._pick_library(None, None, "tvshows")
            anime_lib = self._anime_library(create=anime_ratio > 0)
            now = self.now
            tz = now.tzinfo
            counts = {"Movie": 0, "Series": 0, "Season": 0, "Episode": 0}
            new: list[JfItem] = []
            n_movies = int(n_items * movie_ratio)
            serial = len(self.items) + len(self.pending)
            mloc = movies_lib.locations[0] if movies_lib.locations else "/data/movies"

            span = 365 * 86400 - 60
            rand = rng.random

            def stamp() -> datetime:
                return now - timedelta(seconds=60 + int(rand() * span))

            def base(name: str, type_: str, **kw: Any) -> JfItem:
                saved = stamp()
                it = JfItem(id=self._new_id(), name=name, type=type_,
                            sort_name=kw.pop("sort_name", None) or _sort_name(name),
                            location_type=kw.pop("location_type", "FileSystem"),
                            is_placeholder=False, is_folder=type_ in ("Series", "Season"),
                            date_created=saved, date_last_saved=saved, **kw)
                counts[type_] += 1
                new.append(it)
                return it

            for _ in range(n_movies):
                serial += 1
                year = 1950 + serial % 75
                name = f"Film {serial}"
                base(name, "Movie", path=f"{mloc}/{name} ({year})/{name} ({year}).mkv",
                     provider_ids={"Tmdb": str(tmdb_base + serial),
                                   "Imdb": f"tt{9_000_000 + serial}"},
                     parent_id=movies_lib.id, library_id=movies_lib.id, series_id=None,
                     season_id=None, series_name=None, season_name=None, index_number=None,
                     parent_index_number=None,
                     premiere_date=datetime(year, 1, 1, tzinfo=tz), production_year=year,
                     run_time_ticks=110 * TICKS_PER_MINUTE, size=4 * 1024**3)
            remaining = n_items - n_movies
            while remaining > 0:
                serial += 1
                anime = anime_lib is not None and rng.random() < anime_ratio
                lib = anime_lib if anime and anime_lib is not None else shows_lib
                loc = lib.locations[0] if lib.locations else "/data/tv"
                name = f"Show {serial}"
                year = 1990 + serial % 35
                if anime:
                    sids = {"Shoko Series": str(serial), "AniDB": str(20000 + serial)}
                else:
                    sids = {"Tvdb": str(tvdb_base + serial), "Tmdb": str(tmdb_base + serial),
                            "Imdb": f"tt{8_000_000 + serial}"}
                series = base(name, "Series", path=f"{loc}/{name}", provider_ids=sids,
                              parent_id=lib.id, library_id=lib.id, series_id=None,
                              season_id=None, series_name=None, season_name=None,
                              index_number=None, parent_index_number=None,
                              premiere_date=datetime(year, 1, 1, tzinfo=tz),
                              production_year=year, run_time_ticks=None, size=None)
                remaining -= 1
                for s in range(1, seasons_per_series + 1):
                    if remaining <= 0:
                        break
                    season = base(f"Season {s}", "Season", path=f"{loc}/{name}/Season {s:02d}",
                                  provider_ids={}, parent_id=series.id, library_id=lib.id,
                                  series_id=series.id, season_id=None, series_name=name,
                                  season_name=None, index_number=s, parent_index_number=None,
                                  premiere_date=None, production_year=year, run_time_ticks=None,
                                  size=None, sort_name=f"{s:04d}")
                    remaining -= 1
                    for e in range(1, episodes_per_season + 1):
                        if remaining <= 0:
                            break
                        virtual = rng.random() < virtual_ratio
                        if anime:
                            eids = {"Shoko Episode": str(serial * 100 + e),
                                    "Shoko File": str(serial * 1000 + e),
                                    "AniDB": str(300000 + serial * 100 + e)}
                        else:
                            eids = {"Tvdb": str(tvdb_base * 10 + serial * 100 + s * 30 + e)}
                        base(f"Episode {e}", "Episode",
                             path=None if virtual else
                             f"{loc}/{name}/Season {s:02d}/{name} - S{s:02d}E{e:02d}.mkv",
                             provider_ids=eids, parent_id=season.id, library_id=lib.id,
                             series_id=series.id, season_id=season.id, series_name=name,
                             season_name=season.name, index_number=e, parent_index_number=s,
                             premiere_date=datetime(year, 1, 1, tzinfo=tz) + timedelta(
                                 days=7 * (e + (s - 1) * episodes_per_season)),
                             production_year=year, run_time_ticks=45 * TICKS_PER_MINUTE,
                             size=None if virtual else 1_500_000_000,
                             location_type="Virtual" if virtual else "FileSystem",
                             sort_name=f"{s:04d} - {e:04d} - ")
                        remaining -= 1
            self._list_bulk(new)
            return counts

    def _anime_library(self, *, create: bool) -> JfLibrary | None:
        """The (last) library named "Anime"; with `create`, a Shokofin-style one if none."""
        anime_lib = None
        for lib in self.libraries.values():
            if lib.name == "Anime":
                anime_lib = lib
        if anime_lib is None and create:
            anime_lib = self.libraries[self.add_library(
                "Anime", ["/config/Shokofin/VFS/anime"], "tvshows")]
        return anime_lib

    def _list_bulk(self, new: list[JfItem]) -> None:
        """List items made in bulk: indexed and sorted once, not one by one."""
        for it in new:
            it.key = (it.sort_name, it.id)
            self.items[it.id] = it
            if it.parent_id:
                self._children.setdefault(it.parent_id, {})[it.id] = it
        for it in new:
            it.saved_key = (it.date_last_saved, it.id)
        self._sorted.extend(new)
        self._sorted.sort(key=_by_key)
        self._by_saved.extend(new)
        self._by_saved.sort(key=_by_saved_key)
        self._bump()

    # -- queries -----------------------------------------------------------------------------

    def _descendants(self, parent_id: str, recursive: bool) -> list[JfItem]:
        direct = list(self._children.get(parent_id, {}).values())
        if not recursive:
            return direct
        out = []
        stack = direct
        while stack:
            it = stack.pop()
            out.append(it)
            stack.extend(self._children.get(it.id, {}).values())
        return out

    def query(self, q: QueryParams) -> list[JfItem] | None:
        """The items an /Items query selects, in order (None: the library roots)."""
        selection = ItemQuery.parse(q)
        if not selection.recursive and selection.parent is None and not selection.ids:
            return None
        if self._cache_version != self._version:
            self._cache.clear()
            self._cache_version = self._version
        cached = self._cache.get(selection)
        if cached is not None:
            return cached

        source, ordered = self._source(selection)
        out = [it for it in source if selection.matches(it)]
        sort_by = selection.sort_by
        if sort_by and any(s not in ("sortname", "default") for s in sort_by):
            out = self._sorted_by(out, sort_by, selection.sort_order)
        elif not ordered:
            out.sort(key=lambda i: i.key)
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[selection] = out
        return out

    def _source(self, selection: ItemQuery) -> tuple[Iterable[JfItem], bool]:
        """The items a query filters, and whether they are in the default order already."""
        parent = selection.parent
        if selection.ids:
            return [self.items[i] for i in dict.fromkeys(selection.ids) if i in self.items], False
        if parent is not None:
            if parent in self.libraries:
                if selection.recursive:
                    return [i for i in self._sorted if i.library_id == parent], True
                return self._descendants(parent, False), False
            if parent in self.items:
                return self._descendants(parent, selection.recursive), False
            return [], False
        if selection.min_saved is not None:
            # Only the tail saved at or after the watermark: no scan of the whole library.
            start = bisect.bisect_left(self._by_saved, (selection.min_saved, ""),
                                       key=_by_saved_key)
            return self._by_saved[start:], False
        return self._sorted, True

    @staticmethod
    def _sorted_by(items: list[JfItem], sort_by: tuple[str, ...],
                   sort_order: tuple[str, ...]) -> list[JfItem]:
        def keyfn(name: str) -> Callable[[JfItem], Any]:
            if name in ("sortname", "default"):
                return lambda i: i.sort_name
            if name == "name":
                return lambda i: i.name.lower()
            if name in ("datecreated", "datelastcontentadded"):
                return lambda i: i.date_created
            if name == "datelastsaved":
                return lambda i: i.date_last_saved
            if name == "premieredate":
                return lambda i: i.premiere_date.timestamp() if i.premiere_date \
                    else float("-inf")
            if name == "productionyear":
                return lambda i: i.production_year or 0
            if name == "indexnumber":
                return lambda i: i.index_number or 0
            if name == "parentindexnumber":
                return lambda i: i.parent_index_number or 0
            if name == "runtime":
                return lambda i: i.run_time_ticks or 0
            if name == "isfolder":
                return lambda i: i.is_folder
            if name == "airedepisodeorder":
                return lambda i: (i.parent_index_number or 0, i.index_number or 0)
            return lambda i: i.id

        out = sorted(items, key=lambda i: i.id)
        for pos in range(len(sort_by) - 1, -1, -1):
            order = sort_order[pos] if pos < len(sort_order) else (
                sort_order[0] if sort_order else "ascending")
            out.sort(key=keyfn(sort_by[pos]), reverse=order == "descending")
        return out

    # -- rendering ---------------------------------------------------------------------------

    def render(self, it: JfItem, fields: frozenset[str]) -> dict[str, Any]:
        d: dict[str, Any] = {"Name": it.name, "ServerId": self.server_id, "Id": it.id}
        self._render_gated(it, fields, d)
        _render_numbers(it, d)
        d["IsFolder"] = it.is_folder
        if "parentid" in fields and it.parent_id:
            d["ParentId"] = it.parent_id
        d["Type"] = it.type
        if it.series_id is not None:
            d["SeriesName"] = it.series_name
            d["SeriesId"] = it.series_id
        if it.season_id is not None:
            d["SeasonId"] = it.season_id
            d["SeasonName"] = it.season_name
        if it.type in _VIDEO_TYPES:
            d["VideoType"] = "VideoFile"
        d["ImageTags"] = {}
        d["BackdropImageTags"] = []
        d["LocationType"] = it.location_type
        d["MediaType"] = "Video" if it.type in _VIDEO_TYPES else "Unknown"
        return d

    def _render_gated(self, it: JfItem, fields: frozenset[str], d: dict[str, Any]) -> None:
        """The members `Fields` asks for, up to ProviderIds (and PremiereDate among them, in
        Jellyfin's order)."""
        if "etag" in fields:
            d["Etag"] = hex_id(it.id, it.date_last_saved.timestamp())
        if "datecreated" in fields:
            d["DateCreated"] = iso_jellyfin(it.date_created)
        if "sortname" in fields:
            d["SortName"] = it.sort_name
        if it.premiere_date is not None:
            if it.premiere_iso is None:
                it.premiere_iso = iso_jellyfin(it.premiere_date)
            d["PremiereDate"] = it.premiere_iso
        if "path" in fields and it.path:
            d["Path"] = it.path
        if "mediasources" in fields and it.type in _VIDEO_TYPES:
            d["MediaSources"] = self._media_sources(it)
        if "providerids" in fields:
            d["ProviderIds"] = dict(it.provider_ids)

    def _media_sources(self, it: JfItem) -> list[dict[str, Any]]:
        if it.location_type == "Virtual" or not it.path:
            return []
        sources = [self._media_source(it, it.id, it.path, it.width)]
        for n, (path, width) in enumerate(it.versions, start=1):
            sources.append(self._media_source(it, hex_id("version", it.id, n), path, width))
        return sources

    def _media_source(self, it: JfItem, source_id: str, path: str,
                      width: int) -> dict[str, Any]:
        height = width * 9 // 16
        codec = "hevc" if width >= 3200 else "h264"
        video = {"Codec": codec, "Type": "Video", "Index": 0, "Width": width,
                 "Height": height, "IsDefault": True,
                 "DisplayTitle": f"{'4K' if width >= 3200 else f'{height}p'} {codec.upper()}"}
        return {
            "Protocol": "File", "Id": source_id, "Path": path,
            "Type": "Default" if source_id == it.id else "Grouping",
            "Container": "mkv", "Size": it.size or 0, "Name": it.name, "IsRemote": False,
            "ETag": hex_id("ms", it.id), "RunTimeTicks": it.run_time_ticks or 0,
            "ReadAtNativeFramerate": False, "IgnoreDts": False, "IgnoreIndex": False,
            "GenPtsInput": False, "SupportsTranscoding": True, "SupportsDirectStream": True,
            "SupportsDirectPlay": True, "IsInfiniteStream": False,
            "UseMostCompatibleTranscodingProfile": False, "RequiresOpening": False,
            "RequiresClosing": False, "RequiresLooping": False, "SupportsProbing": True,
            "VideoType": "VideoFile", "MediaStreams": [video], "MediaAttachments": [],
            "Formats": [],
            "Bitrate": 8_000_000, "RequiredHttpHeaders": {}, "TranscodingSubProtocol": "http",
            "HasSegments": False,
        }

    def render_library_folder(self, lib: JfLibrary) -> dict[str, Any]:
        return {"Name": lib.name, "ServerId": self.server_id, "Id": lib.id, "IsFolder": True,
                "Type": "CollectionFolder", "CollectionType": lib.collection_type,
                "ImageTags": {}, "BackdropImageTags": [], "LocationType": "FileSystem",
                "MediaType": "Unknown"}

    def render_virtual_folder(self, lib: JfLibrary) -> dict[str, Any]:
        return {
            "Name": lib.name,
            "Locations": list(lib.locations),
            "CollectionType": lib.collection_type,
            "LibraryOptions": {
                "Enabled": True,
                "EnableRealtimeMonitor": True,
                "EnableChapterImageExtraction": False,
                "ExtractChapterImagesDuringLibraryScan": False,
                "PathInfos": [{"Path": loc} for loc in lib.locations],
                "SaveLocalMetadata": False,
                "EnableAutomaticSeriesGrouping": False,
                "AutomaticRefreshIntervalDays": 0,
                "PreferredMetadataLanguage": "en",
                "MetadataCountryCode": "US",
                "SeasonZeroDisplayName": "Specials",
                "TypeOptions": [],
            },
            "ItemId": lib.id,
            "RefreshStatus": "Idle",
        }


def _render_numbers(it: JfItem, d: dict[str, Any]) -> None:
    """An item's numbers and its placeholder flag, those it has."""
    if it.run_time_ticks:
        d["RunTimeTicks"] = it.run_time_ticks
    if it.production_year:
        d["ProductionYear"] = it.production_year
    if it.index_number is not None:
        d["IndexNumber"] = it.index_number
    if it.index_number_end is not None:
        d["IndexNumberEnd"] = it.index_number_end
    if it.parent_index_number is not None:
        d["ParentIndexNumber"] = it.parent_index_number
    if it.is_placeholder:
        d["IsPlaceHolder"] = True


@dataclass(frozen=True, slots=True)
class ItemQuery:
    """What an /Items query selects, read from its parameters once; equal queries select the
    same items, so it is also the key of the world's cache of results."""

    recursive: bool
    parent: str | None
    ids: tuple[str, ...]
    types: frozenset[str]
    ex_types: frozenset[str]
    ex_ids: frozenset[str]
    media_types: frozenset[str]
    min_saved: datetime | None
    loc_types: frozenset[str]
    ex_loc: frozenset[str]
    is_missing: bool | None
    is_placeholder: bool | None
    has: tuple[tuple[str, bool], ...]  # (provider, wanted) for each Has*Id given
    search: str | None
    starts: str | None
    years: frozenset[int]
    sort_by: tuple[str, ...]
    sort_order: tuple[str, ...]

    @classmethod
    def parse(cls, q: QueryParams) -> ItemQuery:
        """The query's selection; BadParam for a value Jellyfin would refuse."""
        recursive = bool(q.get_bool("Recursive", False))
        parent = (q.get("ParentId") or "").replace("-", "").lower() or None
        ids = tuple(i.replace("-", "").lower() for i in q.get_list("Ids"))
        types = frozenset(_TYPE_CANON.get(t.lower(), t) for t in q.get_list("IncludeItemTypes"))
        ex_types = frozenset(_TYPE_CANON.get(t.lower(), t) for t in q.get_list("ExcludeItemTypes"))
        ex_ids = frozenset(i.replace("-", "").lower() for i in q.get_list("ExcludeItemIds"))
        media_types = frozenset(lower_set(q.get_list("MediaTypes")))
        min_saved_text = q.get("MinDateLastSaved")
        min_saved = parse_iso(min_saved_text) if min_saved_text else None
        if min_saved_text and min_saved is None:
            raise BadParam("minDateLastSaved", min_saved_text)
        loc_types = frozenset(_LOCATION_CANON.get(t.lower(), t) for t in
                              q.get_list("LocationTypes"))
        ex_loc = frozenset(_LOCATION_CANON.get(t.lower(), t) for t in
                           q.get_list("ExcludeLocationTypes"))
        is_missing = q.get_bool("IsMissing")
        is_placeholder = q.get_bool("IsPlaceHolder")
        has = tuple((name, q.get_bool(param)) for name, param in
                    (("Tmdb", "HasTmdbId"), ("Tvdb", "HasTvdbId"), ("Imdb", "HasImdbId")))
        return cls(
            recursive, parent, ids, types, ex_types, ex_ids, media_types, min_saved, loc_types,
            ex_loc, is_missing, is_placeholder,
            has=tuple((name, wanted) for name, wanted in has if wanted is not None),
            search=(q.get("SearchTerm") or "").lower() or None,
            starts=(q.get("NameStartsWith") or "").lower() or None,
            years=frozenset(int(y) for y in q.get_list("Years") if y.isdigit()),
            sort_by=tuple(s.lower() for s in q.get_list("SortBy")),
            sort_order=tuple(s.lower() for s in q.get_list("SortOrder")))

    def matches(self, it: JfItem) -> bool:
        """Whether `it` passes every filter but the parent and the ids (its source's)."""
        if self.types and it.type not in self.types:
            return False
        if self.ex_types and it.type in self.ex_types:
            return False
        if self.min_saved is not None and it.date_last_saved < self.min_saved:
            return False
        if self.ex_loc and it.location_type in self.ex_loc:
            return False
        if self.loc_types and it.location_type not in self.loc_types:
            return False
        if self.is_missing is not None and (it.location_type == "Virtual") != self.is_missing:
            return False
        if self.is_placeholder is not None and it.is_placeholder != self.is_placeholder:
            return False
        if self.ex_ids and it.id in self.ex_ids:
            return False
        if self.media_types and (("video" if it.type in _VIDEO_TYPES else "unknown")
                                 not in self.media_types):
            return False
        if self.has and any((n in it.provider_ids) != v for n, v in self.has):
            return False
        if self.search and self.search not in it.name.lower():
            return False
        if self.starts and not it.sort_name.startswith(self.starts):
            return False
        return not self.years or it.production_year in self.years


def _fields(q: QueryParams) -> frozenset[str]:
    return frozenset(f.lower() for f in q.get_list("Fields"))


_ALL_FIELDS = frozenset({"etag", "datecreated", "sortname", "path", "providerids", "parentid",
                         "mediasources"})


class JellyfinApp(AspNetApp):
    service = "jellyfin"

    def __init__(self, jw: JellyfinWorld, api_key: str) -> None:
        self.jw = jw
        super().__init__(jw.world, api_key)

    def setup_routes(self) -> None:
        self.route("GET", "/System/Info/Public", self.info_public, auth=False)
        self.route("GET", "/System/Info", self.info)
        self.route("GET", "/Items", self.items)
        self.route("GET", r"/Items/(?P<id>[0-9a-fA-F-]{32,36})", self.get_item)
        self.route("GET", r"/Items/(?P<id>[0-9a-fA-F-]{32,36})/Images/Primary",
                   self.primary_image, auth=False)
        self.route("GET", r"/Shows/(?P<id>[^/]+)/Episodes", self.episodes)
        self.route("GET", "/Library/VirtualFolders", self.virtual_folders)
        self.route("POST", "/Library/Refresh", self.refresh_library)
        self.route("POST", r"/Items/(?P<id>[^/]+)/Refresh", self.refresh_item)
        self.route("POST", "/Library/Media/Updated", self.media_updated)
        self.route("GET", "/ScheduledTasks", self.scheduled_tasks)

    def authenticate(self, req: Request) -> bool:
        return self._token(req) == self.api_key

    def _token(self, req: Request) -> str | None:
        for header in ("Authorization", "X-Emby-Authorization"):
            value = req.header(header)
            if value and value.split(" ", 1)[0].lower() in ("mediabrowser", "emby"):
                for part in value.split(" ", 1)[-1].split(","):
                    name, _, raw = part.strip().partition("=")
                    if name.strip().lower() == "token":
                        return raw.strip().strip('"')
        for header in ("X-Emby-Token", "X-MediaBrowser-Token"):
            value = req.header(header)
            if value:
                return value
        return req.query.get("ApiKey") or req.query.get("api_key")

    def auth_scheme(self, req: Request) -> str | None:
        for header in ("Authorization", "X-Emby-Authorization", "X-Emby-Token",
                       "X-MediaBrowser-Token"):
            if req.header(header) is not None:
                return header
        if "ApiKey" in req.query or "api_key" in req.query:
            return "api-key-query"
        return None

    # -- handlers ----------------------------------------------------------------------------

    def _public(self) -> dict[str, Any]:
        return {"LocalAddress": self.jw.local_address, "ServerName": self.jw.server_name,
                "Version": self.jw.version, "ProductName": "Jellyfin Server",
                "OperatingSystem": "", "Id": self.jw.server_id, "StartupWizardCompleted": True}

    def info_public(self, req: Request) -> Response:
        return Response(200, self._public())

    def info(self, req: Request) -> Response:
        info = self._public()
        info.update({
            "OperatingSystemDisplayName": "", "PackageName": "jellyfin-docker",
            "HasPendingRestart": False, "IsShuttingDown": False, "SupportsLibraryMonitor": True,
            "WebSocketPortNumber": 8096, "CompletedInstallations": [], "CanSelfRestart": True,
            "CanLaunchWebBrowser": False, "ProgramDataPath": "/config/data",
            "WebPath": "/jellyfin/jellyfin-web", "ItemsByNamePath": "/config/metadata",
            "CachePath": "/cache", "LogPath": "/config/log",
            "InternalMetadataPath": "/config/metadata", "TranscodingTempPath": "/cache/transcodes",
            "CastReceiverApplications": [], "HasUpdateAvailable": False,
            "EncoderLocation": "Custom", "SystemArchitecture": "X64",
        })
        return Response(200, info)

    def items(self, req: Request) -> Response:
        q = req.query
        start = max(0, q.get_int("StartIndex", 0) or 0)
        limit = q.get_int("Limit")
        fields = _fields(q)
        with self.world.lock:
            selected = self.jw.query(q)
            if selected is None:
                # Not recursive, no parent: the user's views (library folders) only, so a client
                # forgetting Recursive=true finds no films at all, as on real Jellyfin.
                types = {t.lower() for t in q.get_list("IncludeItemTypes")}
                roots = [self.jw.render_library_folder(lib) for lib in self.jw.libraries.values()
                         if not types or "collectionfolder" in types]
                end = len(roots) if limit is None or limit < 0 else start + limit
                return Response(200, {"Items": roots[start:end], "TotalRecordCount": len(roots),
                                      "StartIndex": start})
            end = len(selected) if limit is None or limit < 0 else start + limit
            page = selected[start:end]
            rendered = [self.jw.render(it, fields) for it in page]
            total = len(selected)
        if q.get_bool("EnableTotalRecordCount", True) is False:
            total = len(rendered)
        return Response(200, {"Items": rendered, "TotalRecordCount": total, "StartIndex": start})

    def get_item(self, req: Request) -> Response:
        item_id = req.params["id"].replace("-", "").lower()
        with self.world.lock:
            it = self.jw.items.get(item_id)
            if it is not None:
                return Response(200, self.jw.render(it, _ALL_FIELDS))
            lib = self.jw.libraries.get(item_id)
            if lib is not None:
                return Response(200, self.jw.render_library_folder(lib))
            return Response(404, dict(PROBLEM_404))

    def primary_image(self, req: Request) -> Response:
        """An item's poster (Jellyfin serves images without a key): a made-up PNG, scaled to
        `maxWidth`; 404 for an unknown item or one without a picture (a placeholder)."""
        item_id = req.params["id"].replace("-", "").lower()
        with self.world.lock:
            it = self.jw.items.get(item_id)
            name = None if it is None or it.is_placeholder else it.name
        if name is None:
            return Response(404, dict(PROBLEM_404))
        width = req.query.get_int("maxWidth") or posters.WIDTH
        return Response(200, raw=posters.poster(name, width), content_type=posters.PNG)

    def episodes(self, req: Request) -> Response:
        series_id = req.params["id"].replace("-", "").lower()
        q = req.query
        season = q.get_int("Season")
        season_id = (q.get("SeasonId") or "").replace("-", "").lower() or None
        is_missing = q.get_bool("IsMissing")
        start = max(0, q.get_int("StartIndex", 0) or 0)
        limit = q.get_int("Limit")
        fields = _fields(q)
        with self.world.lock:
            series = self.jw.items.get(series_id)
            if series is None or series.type != "Series":
                return Response(404, dict(PROBLEM_404))
            eps = [it for it in self.jw._descendants(series_id, True) if it.type == "Episode"]
            if season is not None:
                eps = [e for e in eps if e.parent_index_number == season]
            if season_id is not None:
                eps = [e for e in eps if e.season_id == season_id]
            if is_missing is not None:
                eps = [e for e in eps if (e.location_type == "Virtual") == is_missing]
            eps.sort(key=lambda e: (e.parent_index_number or 0, e.index_number or 0, e.id))
            total = len(eps)
            end = total if limit is None or limit < 0 else start + limit
            rendered = [self.jw.render(e, fields) for e in eps[start:end]]
        return Response(200, {"Items": rendered, "TotalRecordCount": total, "StartIndex": start})

    def virtual_folders(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, [self.jw.render_virtual_folder(lib)
                                  for lib in self.jw.libraries.values()])

    def scheduled_tasks(self, req: Request) -> Response:
        hidden = req.query.get_bool("isHidden", None)
        with self.world.lock:
            tasks = self.jw.render_scheduled_tasks()
        if hidden is not None:
            tasks = [t for t in tasks if t["IsHidden"] == hidden]
        return Response(200, tasks)

    def refresh_library(self, req: Request) -> Response:
        self.jw.record_refresh("library", query=req.query.first_values())
        return Response(204)

    def refresh_item(self, req: Request) -> Response:
        item_id = req.params["id"].replace("-", "").lower()
        with self.world.lock:
            known = (item_id in self.jw.libraries or item_id in self.jw.items)
            if not known:
                return Response(404, dict(PROBLEM_404))
            if item_id in self.jw.items:
                self.jw.touch(item_id)
            self.jw.record_refresh("item", item_id=item_id, query=req.query.first_values())
        return Response(204)

    def media_updated(self, req: Request) -> Response:
        body = req.json()
        paths: list[str] = []
        if isinstance(body, dict):
            for update in body.get("Updates") or body.get("updates") or []:
                if isinstance(update, dict):
                    p = update.get("Path") or update.get("path")
                    if isinstance(p, str):
                        paths.append(p)
        self.jw.record_refresh("media_updated", paths=paths, query=req.query.first_values())
        return Response(204)
