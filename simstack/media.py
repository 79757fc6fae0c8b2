"""One face for the three fake media servers, so a script or a test says what happens to "the
media server" (a library made, a film listed, an episode scanned in) once, for Jellyfin, Emby
and Plex alike:

    media = media_server(world, "plex")          # or stack.media, for the one a stack serves
    movies = media.add_library("Movies", ["/data/movies"])
    item = media.add_movie("The Matrix", tmdb_id=603, year=1999)   # an item id, as a string
    media.add_episode(show, 1, 2, missing=True)  # listed without a file (Plex: not listed)
    media.scans()                                # the scan requests that reached it, uniform

What differs stays visible: ids are each server's own (Jellyfin's hex, Emby's decimal, Plex's
ratingKey, all as strings), a "missing" item is Jellyfin's and Emby's virtual item but nothing
at all in Plex (which lists only what it scanned; `make_playable` then adds it), and a scan
request is a refresh call in Jellyfin and Emby, a section refresh (of one folder, or all of it)
in Plex. Imports nothing from `reconciler`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from simstack.jellyfin import JellyfinWorld, RefreshCall
from simstack.plex import PlexRefresh, PlexWorld

if TYPE_CHECKING:
    from simstack.world import World

MEDIA_SERVERS = ("jellyfin", "emby", "plex")


@dataclass(frozen=True)
class Scan:
    """A request to scan that reached the fake media server.

    `kind`: "all" (every library: Jellyfin's `POST /Library/Refresh`), "library" (one library:
    `POST /Items/{id}/Refresh`, a Plex section refresh without `path`), "paths" (files or
    folders: `POST /Library/Media/Updated`, a Plex section refresh with `path`)."""

    kind: str
    library_id: str | None
    paths: tuple[str, ...]
    at: datetime


class MediaServerFake:
    """The verbs every fake media server answers (see the module docstring)."""

    kind = ""

    def add_library(self, name: str, locations: Iterable[str],
                    collection: str = "movies") -> str:
        raise NotImplementedError

    def library_name(self, library_id: str | None) -> str | None:
        raise NotImplementedError

    def add_movie(self, title: str, *, tmdb_id: int | None = None, imdb_id: str | None = None,
                  year: int | None = None, path: str | None = None, library: str | None = None,
                  pending: bool = False, missing: bool = False, width: int = 1920) -> str:
        raise NotImplementedError

    def add_series(self, title: str, *, tvdb_id: int | None = None, tmdb_id: int | None = None,
                   year: int | None = None, library: str | None = None,
                   path: str | None = None, pending: bool = False) -> str:
        raise NotImplementedError

    def add_episode(self, series: str, season: int, episode: int, *, path: str | None = None,
                    pending: bool = False, missing: bool = False, episode_end: int | None = None,
                    width: int = 1920, placeholder: bool = False) -> str:
        """An episode (`missing`: metadata only; `placeholder`: listed, but no real file)."""
        raise NotImplementedError

    def make_playable(self, item_id: str, path: str) -> str:
        """The file of a missing item is scanned in: the item (Plex: a new one) plays."""
        raise NotImplementedError

    def remove_item(self, item_id: str) -> None:
        raise NotImplementedError

    def scan(self, library: str | None = None, *, path: str | None = None) -> list[str]:
        """List the pending items (of `library`, under `path`); their ids."""
        raise NotImplementedError

    # What the two fake worlds share: `populate`, `lock`, `refresh_calls`, `refresh_hook`,
    # `scan_on_refresh`; each face turns its world's refresh calls into `Scan`s (`_scan`).
    world: JellyfinWorld | PlexWorld

    def _scan(self, call: Any) -> Scan:
        raise NotImplementedError

    def populate(self, n_items: int, seed: int | None = None) -> dict[str, int]:
        """`n_items` films, shows and episodes at once (Jellyfin's with Shokofin anime)."""
        return self.world.populate(n_items, seed=seed)

    def scans(self) -> list[Scan]:
        with self.world.lock:
            return [self._scan(call) for call in self.world.refresh_calls]

    def on_scan(self, hook: Callable[[Scan], None] | None) -> None:
        """Call `hook` with each scan request as it arrives (server thread, lock held)."""
        self.world.refresh_hook = None if hook is None else (
            lambda call: hook(self._scan(call)))

    @property
    def scan_on_refresh(self) -> bool:
        return self.world.scan_on_refresh

    @scan_on_refresh.setter
    def scan_on_refresh(self, value: bool) -> None:
        self.world.scan_on_refresh = value


class JellyfinFake(MediaServerFake):
    """Jellyfin's fake, or Emby's (its world is Jellyfin's)."""

    world: JellyfinWorld

    def __init__(self, world: JellyfinWorld, kind: str = "jellyfin") -> None:
        self.world = world
        self.kind = kind

    def add_library(self, name: str, locations: Iterable[str],
                    collection: str = "movies") -> str:
        return self.world.add_library(name, locations, collection)

    def library_name(self, library_id: str | None) -> str | None:
        lib = self.world.libraries.get(library_id or "")
        return lib.name if lib else None

    def add_movie(self, title: str, *, tmdb_id: int | None = None, imdb_id: str | None = None,
                  year: int | None = None, path: str | None = None, library: str | None = None,
                  pending: bool = False, missing: bool = False, width: int = 1920) -> str:
        return self.world.add_movie(title, tmdb_id=tmdb_id, imdb_id=imdb_id, year=year,
                                    path=path, library=library, pending=pending, width=width,
                                    location_type="Virtual" if missing else "FileSystem")

    def add_series(self, title: str, *, tvdb_id: int | None = None, tmdb_id: int | None = None,
                   year: int | None = None, library: str | None = None,
                   path: str | None = None, pending: bool = False) -> str:
        return self.world.add_series(title, tvdb_id=tvdb_id, tmdb_id=tmdb_id, year=year,
                                     library=library, path=path, pending=pending)

    def add_episode(self, series: str, season: int, episode: int, *, path: str | None = None,
                    pending: bool = False, missing: bool = False, episode_end: int | None = None,
                    width: int = 1920, placeholder: bool = False) -> str:
        return self.world.add_episode(series, season, episode, path=path, pending=pending,
                                      location_type="Virtual" if missing else "FileSystem",
                                      episode_end=episode_end, width=width,
                                      is_placeholder=placeholder)

    def make_playable(self, item_id: str, path: str) -> str:
        self.world.update_item(item_id, location_type="FileSystem", path=path,
                               size=1_500_000_000)
        return item_id

    def remove_item(self, item_id: str) -> None:
        self.world.remove_item(item_id)

    def scan(self, library: str | None = None, *, path: str | None = None) -> list[str]:
        return self.world.scan(library, path=path)

    def _scan(self, call: RefreshCall) -> Scan:
        kind = {"library": "all", "item": "library", "media_updated": "paths"}[call.kind]
        library = (call.library_id or call.item_id) if kind == "library" else None
        return Scan(kind, library, call.paths, call.at)


class PlexFake(MediaServerFake):
    """Plex's fake: sections for libraries, ratingKeys for ids (as strings)."""

    kind = "plex"
    world: PlexWorld

    def __init__(self, world: PlexWorld) -> None:
        self.world = world
        # Episodes Plex does not list yet (no file): (show, season, episode) by their pseudo id.
        self._missing: dict[str, tuple[str, int, int]] = {}

    def add_library(self, name: str, locations: Iterable[str],
                    collection: str = "movies") -> str:
        kind = "show" if collection == "tvshows" else "movie"
        return str(self.world.add_section(name, locations, kind))

    def library_name(self, library_id: str | None) -> str | None:
        sec = self.world.sections.get(int(library_id)) if library_id else None
        return sec.title if sec else None

    def add_movie(self, title: str, *, tmdb_id: int | None = None, imdb_id: str | None = None,
                  year: int | None = None, path: str | None = None, library: str | None = None,
                  pending: bool = False, missing: bool = False, width: int = 1920) -> str:
        return str(self.world.add_movie(title, tmdb_id=tmdb_id, imdb_id=imdb_id, year=year,
                                        path=path, section=_section(library), pending=pending,
                                        width=width, files=[] if missing else None))

    def add_series(self, title: str, *, tvdb_id: int | None = None, tmdb_id: int | None = None,
                   year: int | None = None, library: str | None = None,
                   path: str | None = None, pending: bool = False) -> str:
        return str(self.world.add_show(title, tvdb_id=tvdb_id, tmdb_id=tmdb_id, year=year,
                                       section=_section(library), path=path,
                                       pending=pending))

    def add_episode(self, series: str, season: int, episode: int, *, path: str | None = None,
                    pending: bool = False, missing: bool = False, episode_end: int | None = None,
                    width: int = 1920, placeholder: bool = False) -> str:
        """(`placeholder`: an episode item without media, Plex's nearest thing.)"""
        if missing:
            pseudo = f"missing-{len(self._missing) + 1}"
            self._missing[pseudo] = (series, season, episode)
            return pseudo
        if path is None and episode_end is not None:
            show = self.world.items.get(int(series)) or self.world.pending[int(series)]
            path = (f"{show.path}/Season {season:02d}/{show.title} - "
                    f"S{season:02d}E{episode:02d}-E{episode_end:02d}.mkv")
        keys = []
        for number in range(episode, (episode_end or episode) + 1):  # one item per episode
            keys.append(self.world.add_episode(int(series), season, number, path=path,
                                               pending=pending, width=width,
                                               files=[] if placeholder else None))
        return str(keys[0])

    def make_playable(self, item_id: str, path: str) -> str:
        series, season, episode = self._missing.pop(item_id)
        return self.add_episode(series, season, episode, path=path)

    def remove_item(self, item_id: str) -> None:
        if self._missing.pop(item_id, None) is None:
            self.world.remove_item(int(item_id))

    def scan(self, library: str | None = None, *, path: str | None = None) -> list[str]:
        return [str(k) for k in self.world.scan(int(library) if library else None, path=path)]

    def _scan(self, call: PlexRefresh) -> Scan:
        if call.path:
            return Scan("paths", str(call.section), (call.path,), call.at)
        return Scan("library", str(call.section), (), call.at)


def _section(library: str | None) -> int | str | None:
    """A Plex section by its key (a number, given as a string) or title."""
    return int(library) if library is not None and library.isdigit() else library


# One face per server's world: it remembers what the world does not (Plex's missing episodes).
_FACES: WeakKeyDictionary[object, MediaServerFake] = WeakKeyDictionary()


def media_server(world: World, kind: str = "jellyfin") -> MediaServerFake:
    """The fake media server `kind` ("jellyfin", "emby", "plex") of `world` (the same object
    each time)."""
    if kind not in MEDIA_SERVERS:
        raise ValueError(f"media server {kind!r}: one of {list(MEDIA_SERVERS)}")
    own = getattr(world, kind)
    with world.lock:
        face = _FACES.get(own)
        if face is None:
            face = PlexFake(world.plex) if kind == "plex" else JellyfinFake(own, kind)
            _FACES[own] = face
        return face


__all__ = ["MEDIA_SERVERS", "JellyfinFake", "MediaServerFake", "PlexFake", "Scan",
           "media_server"]
