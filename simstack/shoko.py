"""Fake Shoko Server (API v3 as in Shoko 5.x; PascalCase JSON, nulls kept as Newtonsoft does).

World verbs (`world.shoko`):

- `add_import_folder(path, name=None) -> import_folder_id` (folder 1 = "/data/anime" exists).
- `add_file(relative_path, import_folder_id=1, *, size=None, duration=1440.0) -> file_id`: a file
  Shoko has hashed but not matched (`SeriesIDs: []`, `Imported: null`).
- `match_file(file_id, series_id, episode_ids, *, replace=True)`: adds the cross-references and
  sets `Imported` (once) and `Updated` to now. `unmatch_file(file_id)`, `remove_file(file_id)`,
  `set_file_accessible(file_id, accessible)`, `ignore_file(file_id, ignored=True)`.
- `link_to_anidb_pending(file_id, anidb_series_id, anidb_episode_ids)`: linked to AniDB before
  Shoko has the series/episodes: the cross-reference has `"ID": null` (5.x shape) until
  `add_series`/`add_episode` create them with those AniDB ids. Off unless called.
- `add_series(anidb_id, name, *, tmdb_movie_ids=(), tmdb_show_ids=(), tvdb_ids=(),
  imdb_ids=()) -> shoko_series_id`, `update_series(series_id, **fields)`.
- `add_episode(series_id, anidb_id, *, name=None, tmdb_episode_ids=(), tmdb_movie_ids=(),
  tmdb_show_ids=(), tvdb_ids=(), duration=1440.0) -> shoko_episode_id`.

A series' `IDs.TMDB.Movie`/`Show` are its own ids plus those of its episodes. A TMDB film is
"known" to Shoko when a series or an episode refers to it; until then the `/Tmdb/Movie/{id}/...`
endpoints answer 404 `{"title":"Not Found","status":404}` (likewise shows).

HTTP (header `apikey`, or query `apikey`; 401 with an empty body otherwise):
`GET /api/v3/Init/Status` (open; `{"State": "Started", "StartupMessage": null, "StartTime": ...,
"Uptime": ..., "DatabaseBlocked": {"Blocked": false}}` — State is a string enum: Starting,
Started, Failed, Waiting; set `world.shoko.state`), `GET /api/v3/Init/Version` (open),
`GET /api/v3/File/PathEndsWith?path=&includeXRefs=&include=&limit=`,
`GET /api/v3/Series/{id}`, `GET /api/v3/Episode/{id}`, `GET /api/v3/Tmdb/Movie/{id}/Shoko/Series`,
`/Shoko/File` (a page `{"Total", "List"}`; cross-references with `include=XRefs`),
`GET /api/v3/Tmdb/Show/{id}/Shoko/Series`. Only what reconciler or a test calls is served.

Versions (`world.shoko.version`, or `World(shoko_version=...)`): "5.3.3" (default; the v5.3.3
cross-reference shape: nullable ids, no `TvDB`, episodes with `ReleaseGroup`, `ED2K`, `FileSize`,
`Percentage{Start,End,Size,Group}`, `Source`), "5.1.0.0" (an older 5.x: the same, plus `TvDB` in
the ids as up to 5.0.x), "6.0.0" (the 5.3.3 shape; `includeXRefs` ignored, only `include=XRefs`
adds `SeriesIDs`). On 5.x PathEndsWith defaults `includeXRefs` to true.

PathEndsWith matches like Shoko (5.3.3 `FileController.cs` 1430-1435, 6.0-dev 1355-1360): the
query's `/` and `\\` made the server's separator, then a plain case-insensitive `EndsWith` on each
file's full server path (import folder path + relative path), with no folder boundary,
de-duplicated by file, `limit` files at most (default: all).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simstack._base import SubWorld
from simstack._util import duration_net, iso_net
from simstack.clock import Clock
from simstack.server import AspNetApp, Request, Response

NOT_FOUND = {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.5", "title": "Not Found",
             "status": 404}


@dataclass(eq=False)
class ShokoImportFolder:
    id: int
    name: str
    path: str


@dataclass(eq=False)
class ShokoFile:
    id: int
    relative_path: str
    import_folder_id: int
    size: int
    duration: float
    created: datetime
    updated: datetime
    imported: datetime | None = None
    xrefs: list[tuple[int, list[int]]] = field(default_factory=list)
    # AniDB links whose Shoko series/episodes may not exist yet: (AniDB anime, [AniDB episodes])
    anidb_links: list[tuple[int, list[int]]] = field(default_factory=list)
    ignored: bool = False
    variation: bool = False
    accessible: bool = True


@dataclass(eq=False)
class ShokoSeries:
    id: int
    anidb_id: int
    name: str
    tmdb_movie_ids: list[int]
    tmdb_show_ids: list[int]
    tvdb_ids: list[int]
    imdb_ids: list[str]
    created: datetime
    updated: datetime
    episode_ids: list[int] = field(default_factory=list)


@dataclass(eq=False)
class ShokoEpisode:
    id: int
    series_id: int
    anidb_id: int
    name: str
    tmdb_episode_ids: list[int]
    tmdb_movie_ids: list[int]
    tmdb_show_ids: list[int]
    tvdb_ids: list[int]
    duration: float


def _query(path: str) -> str:
    """The query as Shoko matches it: `/` and `\\` made the server's separator (`/` here)."""
    return path.replace("\\", "/")


class ShokoWorld(SubWorld):
    """Shoko's import folders, files, series and episodes. See the module docstring."""

    version = "5.3.3"
    state = "Started"

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        # `$SIMSTACK_SHOKO_VERSION` runs a whole test suite against another version
        self.version = os.environ.get("SIMSTACK_SHOKO_VERSION") or type(self).version
        self.import_folders: dict[int, ShokoImportFolder] = {}
        self.files: dict[int, ShokoFile] = {}
        self.series: dict[int, ShokoSeries] = {}
        self.episodes: dict[int, ShokoEpisode] = {}
        self._next_folder = 1
        self._next_file = 1
        self._next_series = 1
        self._next_episode = 1
        self.started = self.now
        self.add_import_folder("/data/anime", "Anime")

    # -- files -------------------------------------------------------------------------------

    def add_import_folder(self, path: str, name: str | None = None) -> int:
        with self.lock:
            fid = self._next_folder
            self._next_folder += 1
            self.import_folders[fid] = ShokoImportFolder(fid, name or path.rstrip("/\\")
                                                         .rsplit("/", 1)[-1], path)
            return fid

    def add_file(self, relative_path: str, import_folder_id: int = 1, *,
                 size: int | None = None, duration: float = 1440.0) -> int:
        with self.lock:
            if import_folder_id not in self.import_folders:
                raise KeyError(f"no Shoko import folder {import_folder_id}")
            fid = self._next_file
            self._next_file += 1
            self.files[fid] = ShokoFile(fid, relative_path, import_folder_id,
                                        size if size is not None else 1_400_000_000 + fid,
                                        duration, self.now, self.now)
            return fid

    def get_file(self, file_id: int) -> ShokoFile:
        with self.lock:
            try:
                return self.files[file_id]
            except KeyError:
                raise KeyError(f"no Shoko file {file_id}") from None

    def match_file(self, file_id: int, series_id: int, episode_ids: Iterable[int], *,
                   replace: bool = True) -> None:
        with self.lock:
            f = self.get_file(file_id)
            if series_id not in self.series:
                raise KeyError(f"no Shoko series {series_id}")
            eps = list(episode_ids)
            for eid in eps:
                if self.episodes.get(eid) is None or self.episodes[eid].series_id != series_id:
                    raise KeyError(f"Shoko episode {eid} is not in series {series_id}")
            if replace:
                f.xrefs = []
            f.xrefs.append((series_id, eps))
            if f.imported is None:
                f.imported = self.now
            f.updated = self.now

    def link_to_anidb_pending(self, file_id: int, anidb_series_id: int,
                              anidb_episode_ids: Iterable[int]) -> None:
        """Link a file to AniDB before Shoko has created the series/episodes (the window while
        Shoko fetches AniDB metadata): its cross-reference carries `"ID": null` for each part
        that does not exist yet, in the 5.x shape. Adding the series/episodes with those AniDB
        ids (`add_series`, `add_episode`) closes the window."""
        with self.lock:
            f = self.get_file(file_id)
            f.anidb_links.append((anidb_series_id, list(anidb_episode_ids)))
            if f.imported is None:
                f.imported = self.now
            f.updated = self.now

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def v5_xrefs(self) -> bool:
        """Cross-references in the v5.3 shape (no TvDB; `ReleaseGroup`, `ED2K`, `FileSize`,
        `Percentage`, `Source` on episodes); 5.1.0.0 keeps `TvDB` in the ids."""
        parts = tuple(int(p) for p in self.version.split(".")[:2] if p.isdigit())
        return parts >= (5, 3)

    def unmatch_file(self, file_id: int) -> None:
        with self.lock:
            f = self.get_file(file_id)
            f.xrefs = []
            f.imported = None
            f.updated = self.now

    def remove_file(self, file_id: int) -> None:
        with self.lock:
            self.get_file(file_id)
            del self.files[file_id]

    def set_file_accessible(self, file_id: int, accessible: bool) -> None:
        with self.lock:
            self.get_file(file_id).accessible = accessible

    def ignore_file(self, file_id: int, ignored: bool = True) -> None:
        with self.lock:
            f = self.get_file(file_id)
            f.ignored = ignored
            f.updated = self.now

    def full_path(self, f: ShokoFile) -> str:
        folder = self.import_folders[f.import_folder_id]
        return folder.path.rstrip("/\\") + "/" + f.relative_path.lstrip("/\\")

    # -- series and episodes -----------------------------------------------------------------

    def add_series(self, anidb_id: int, name: str, *, tmdb_movie_ids: Iterable[int] = (),
                   tmdb_show_ids: Iterable[int] = (), tvdb_ids: Iterable[int] = (),
                   imdb_ids: Iterable[str] = ()) -> int:
        with self.lock:
            sid = self._next_series
            self._next_series += 1
            self.series[sid] = ShokoSeries(sid, anidb_id, name, list(tmdb_movie_ids),
                                           list(tmdb_show_ids), list(tvdb_ids), list(imdb_ids),
                                           self.now, self.now)
            return sid

    def update_series(self, series_id: int, **fields: Any) -> None:
        with self.lock:
            series = self.series[series_id]
            for name, value in fields.items():
                if not hasattr(series, name) or name in ("id", "episode_ids"):
                    raise AttributeError(f"ShokoSeries has no settable field {name!r}")
                setattr(series, name, list(value) if isinstance(value, tuple) else value)
            series.updated = self.now

    def add_episode(self, series_id: int, anidb_id: int, *, name: str | None = None,
                    tmdb_episode_ids: Iterable[int] = (), tmdb_movie_ids: Iterable[int] = (),
                    tmdb_show_ids: Iterable[int] = (), tvdb_ids: Iterable[int] = (),
                    duration: float = 1440.0) -> int:
        with self.lock:
            series = self.series[series_id]
            eid = self._next_episode
            self._next_episode += 1
            self.episodes[eid] = ShokoEpisode(
                eid, series_id, anidb_id, name or f"Episode {len(series.episode_ids) + 1}",
                list(tmdb_episode_ids), list(tmdb_movie_ids), list(tmdb_show_ids),
                list(tvdb_ids), duration)
            series.episode_ids.append(eid)
            series.updated = self.now
            return eid

    # -- queries -----------------------------------------------------------------------------

    def series_tmdb(self, series: ShokoSeries) -> tuple[list[int], list[int]]:
        movies = list(series.tmdb_movie_ids)
        shows = list(series.tmdb_show_ids)
        for eid in series.episode_ids:
            ep = self.episodes[eid]
            movies += [m for m in ep.tmdb_movie_ids if m not in movies]
            shows += [s for s in ep.tmdb_show_ids if s not in shows]
        return movies, shows

    def episode_movies(self, ep: ShokoEpisode) -> list[int]:
        if ep.tmdb_movie_ids:
            return list(ep.tmdb_movie_ids)
        series = self.series.get(ep.series_id)
        if series is not None and len(series.episode_ids) == 1:
            return list(series.tmdb_movie_ids)
        return []

    def files_ending_with(self, suffix: str, limit: int | None) -> list[ShokoFile]:
        # Shoko: `location.Path.EndsWith(query, StringComparison.OrdinalIgnoreCase)` on the
        # full path, no folder boundary ("Show - 01.mkv" ends "Other Show - 01.mkv" too).
        needle = _query(suffix).lower()
        out = []
        for f in self.files.values():
            if self.full_path(f).lower().endswith(needle):
                out.append(f)
                if limit and len(out) >= limit:
                    break
        return out

    # -- rendering ---------------------------------------------------------------------------

    def _series_ids(self, series: ShokoSeries) -> dict[str, Any]:
        movies, shows = self.series_tmdb(series)
        return {"ID": series.id, "AniDB": series.anidb_id, "TvDB": list(series.tvdb_ids),
                "TMDB": {"Movie": movies, "Show": shows}}

    def _episode_ids(self, ep: ShokoEpisode) -> dict[str, Any]:
        return {"ID": ep.id, "AniDB": ep.anidb_id, "TvDB": list(ep.tvdb_ids),
                "TMDB": {"Episode": list(ep.tmdb_episode_ids),
                         "Movie": self.episode_movies(ep), "Show": list(ep.tmdb_show_ids)}}

    def _v5_series_xref(self, series: ShokoSeries | None, anidb_id: int) -> dict[str, Any]:
        movies, shows = self.series_tmdb(series) if series else ([], [])
        return {"ID": series.id if series else None, "AniDB": anidb_id,
                "TMDB": {"Movie": movies, "Show": shows}}

    def _v5_episode_xref(self, f: ShokoFile, ep: ShokoEpisode | None, anidb_id: int,
                         digest: str) -> dict[str, Any]:
        return {"ID": ep.id if ep else None, "AniDB": anidb_id,
                "TMDB": {"Episode": list(ep.tmdb_episode_ids) if ep else [],
                         "Movie": self.episode_movies(ep) if ep else [],
                         "Show": list(ep.tmdb_show_ids) if ep else []},
                "ReleaseGroup": None, "ED2K": digest[:32].upper(), "FileSize": f.size,
                "Percentage": {"Start": 0, "End": 100, "Size": 100, "Group": 1},
                "Source": "User"}

    def _render_xrefs(self, f: ShokoFile, digest: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for sid, eids in f.xrefs:
            if sid not in self.series:
                continue
            if not self.v5_xrefs:
                # TvDB still in the ids (as up to 5.0.x); the episode cross-reference fields
                # every v5 release sends.
                out.append({"SeriesID": self._series_ids(self.series[sid]),
                            "EpisodeIDs": [
                                {**self._v5_episode_xref(f, self.episodes[e],
                                                         self.episodes[e].anidb_id, digest),
                                 "TvDB": list(self.episodes[e].tvdb_ids)}
                                for e in eids if e in self.episodes]})
                continue
            series = self.series[sid]
            out.append({"SeriesID": self._v5_series_xref(series, series.anidb_id),
                        "EpisodeIDs": [self._v5_episode_xref(f, self.episodes[e],
                                                             self.episodes[e].anidb_id, digest)
                                       for e in eids if e in self.episodes]})
        for anidb_sid, anidb_eids in f.anidb_links:
            pending = next((x for x in self.series.values() if x.anidb_id == anidb_sid), None)
            episodes = {e.anidb_id: e for e in self.episodes.values()
                        if pending is not None and e.series_id == pending.id}
            out.append({"SeriesID": self._v5_series_xref(pending, anidb_sid),
                        "EpisodeIDs": [self._v5_episode_xref(f, episodes.get(a), a, digest)
                                       for a in anidb_eids]})
        return out

    def render_file(self, f: ShokoFile, *, xrefs: bool, absolute: bool = False) -> dict[str, Any]:
        digest = hashlib.sha1(f"shoko-file-{f.id}-{f.relative_path}".encode()).hexdigest()
        location: dict[str, Any] = {
            "ID": f.id,
            "FileID": f.id,
            "ImportFolderID": f.import_folder_id,
            "RelativePath": f.relative_path,
            "IsAccessible": f.accessible,
        }
        if absolute:
            location["AbsolutePath"] = self.full_path(f)
        out: dict[str, Any] = {
            "ID": f.id,
            "Size": f.size,
            "Hashes": {"ED2K": digest[:32].upper(), "SHA1": digest.upper(),
                       "CRC32": digest[:8].upper(), "MD5": digest[8:40].upper()},
            "Locations": [location],
            "Duration": duration_net(f.duration),
            "ResumePosition": None,
            "Viewed": None,
            "Watched": None,
            "Imported": iso_net(f.imported) if f.imported else None,
            "Created": iso_net(f.created),
            "Updated": iso_net(f.updated),
            "IsIgnored": f.ignored,
            "IsVariation": f.variation,
        }
        if xrefs:
            out["SeriesIDs"] = self._render_xrefs(f, digest)
        return out

    def _files_of_episode(self, eid: int) -> int:
        return sum(1 for f in self.files.values() for _, eids in f.xrefs if eid in eids)

    def render_series(self, series: ShokoSeries) -> dict[str, Any]:
        local = sum(1 for e in series.episode_ids if self._files_of_episode(e))
        counts = {"Unknown": 0, "Episodes": len(series.episode_ids), "Specials": 0,
                  "Credits": 0, "Trailers": 0, "Parodies": 0, "Others": 0}
        ids = self._series_ids(series)
        ids.update({"ParentGroup": series.id, "TopLevelGroup": series.id,
                    "IMDB": list(series.imdb_ids), "TraktTv": [], "MAL": []})
        return {
            "IDs": ids,
            "Images": {"Posters": [], "Backdrops": [], "Banners": [], "Logos": []},
            "Name": series.name,
            "HasCustomName": False,
            "Size": local,
            "Sizes": {
                "Hidden": 0,
                "FileSources": {"Unknown": 0, "Other": 0, "TV": 0, "DVD": 0, "BluRay": local,
                                "Web": 0, "VHS": 0, "VCD": 0, "LaserDisc": 0, "Camera": 0},
                "Local": {**counts, "Episodes": local},
                "Watched": {**counts, "Episodes": 0},
                "Total": counts,
            },
            "Created": iso_net(series.created),
            "Updated": iso_net(series.updated),
            "AirsOn": [],
            "Links": [],
            "UserRating": None,
        }

    def render_episode(self, ep: ShokoEpisode) -> dict[str, Any]:
        ids = self._episode_ids(ep)
        ids["ParentSeries"] = ep.series_id
        return {
            "IDs": ids,
            "Name": ep.name,
            "Duration": duration_net(ep.duration),
            "ResumePosition": None,
            "Watched": None,
            "WatchCount": 0,
            "IsHidden": False,
            "Size": self._files_of_episode(ep.id),
        }


class ShokoApp(AspNetApp):
    service = "shoko"

    def __init__(self, kw: ShokoWorld, api_key: str) -> None:
        self.kw = kw
        super().__init__(kw.world, api_key)

    def setup_routes(self) -> None:
        v3 = "/api/v3"
        self.route("GET", v3 + "/Init/Status", self.init_status, auth=False)
        self.route("GET", v3 + "/Init/Version", self.init_version, auth=False)
        self.route("GET", v3 + "/File/PathEndsWith", self.path_ends_with)
        self.route("GET", v3 + r"/Series/(?P<id>\d+)", self.get_series)
        self.route("GET", v3 + r"/Episode/(?P<id>\d+)", self.get_episode)
        self.route("GET", v3 + r"/Tmdb/Movie/(?P<id>\d+)/Shoko/Series", self.movie_series)
        self.route("GET", v3 + r"/Tmdb/Movie/(?P<id>\d+)/Shoko/File", self.movie_files)
        self.route("GET", v3 + r"/Tmdb/Show/(?P<id>\d+)/Shoko/Series", self.show_series)

    def authenticate(self, req: Request) -> bool:
        key = req.header("apikey") or req.query.get("apikey")
        return key == self.api_key

    def auth_scheme(self, req: Request) -> str | None:
        if req.header("apikey") is not None:
            return "apikey"
        return "apikey-query" if "apikey" in req.query else None

    def not_found(self, req: Request) -> Response:
        return Response(404, dict(NOT_FOUND))

    # -- handlers ----------------------------------------------------------------------------

    def init_status(self, req: Request) -> Response:
        with self.world.lock:
            uptime = (self.kw.now - self.kw.started).total_seconds()
            return Response(200, {
                "State": self.kw.state,
                "StartupMessage": None,
                "StartTime": iso_net(self.kw.started),
                "Uptime": duration_net(max(0.0, uptime)),
                "DatabaseBlocked": {"Blocked": False},
            })

    def init_version(self, req: Request) -> Response:
        return Response(200, {"Server": {"Version": self.kw.version, "ReleaseChannel": "Stable",
                                         "Commit": "0000000", "Tag": f"v{self.kw.version}"}})

    def path_ends_with(self, req: Request) -> Response:
        suffix = req.params.get("path") or req.query.get("path")
        if not suffix:
            return self.bad_request("The path field is required.")
        xrefs = self._wants_xrefs(req, default=True)
        absolute = bool(req.query.get_bool("includeAbsolutePaths", False))
        limit = req.query.get_int("limit", 0)
        with self.world.lock:
            files = self.kw.files_ending_with(suffix, limit or None)
            return Response(200, [self.kw.render_file(f, xrefs=xrefs, absolute=absolute)
                                  for f in files])

    def _wants_xrefs(self, req: Request, *, default: bool) -> bool:
        """5.x: `includeXRefs` (PathEndsWith defaults it to true). 6.x ignores it: only
        `include=XRefs` adds the cross-references."""
        if self.kw.major >= 6:
            include = {v.strip().lower() for x in req.query.get_list("include")
                       for v in x.split(",")}
            return "xrefs" in include
        return bool(req.query.get_bool("includeXRefs", default))

    def get_series(self, req: Request) -> Response:
        with self.world.lock:
            series = self.kw.series.get(int(req.params["id"]))
            if series is None:
                return self.not_found(req)
            return Response(200, self.kw.render_series(series))

    def get_episode(self, req: Request) -> Response:
        with self.world.lock:
            ep = self.kw.episodes.get(int(req.params["id"]))
            if ep is None:
                return self.not_found(req)
            return Response(200, self.kw.render_episode(ep))

    def _movie_refs(self, tmdb_id: int) -> tuple[list[ShokoSeries], list[ShokoEpisode]]:
        series = [s for s in self.kw.series.values() if tmdb_id in self.kw.series_tmdb(s)[0]]
        episodes = [e for e in self.kw.episodes.values() if tmdb_id in self.kw.episode_movies(e)]
        return series, episodes

    def movie_series(self, req: Request) -> Response:
        with self.world.lock:
            series, episodes = self._movie_refs(int(req.params["id"]))
            if not series and not episodes:
                return self.not_found(req)
            return Response(200, [self.kw.render_series(s) for s in series])

    def movie_files(self, req: Request) -> Response:
        # As Shoko's GetShokoFilesByMovieID: a page `{"Total", "List"}` (pageSize default 100,
        # 0 for all), cross-references only with `include=XRefs` (no `includeXRefs` here).
        include = {v.strip().lower() for v in req.query.get_list("include")}
        page_size = req.query.get_int("pageSize", 100) or 0
        page = max(1, req.query.get_int("page", 1) or 1)
        with self.world.lock:
            series, episodes = self._movie_refs(int(req.params["id"]))
            if not series and not episodes:
                return self.not_found(req)
            wanted = {e.id for e in episodes}
            files = [f for f in self.kw.files.values()
                     if any(wanted.intersection(eids) for _, eids in f.xrefs)]
            chunk = files[(page - 1) * page_size:page * page_size] if page_size else files
            return Response(200, {"Total": len(files), "List": [
                self.kw.render_file(f, xrefs="xrefs" in include) for f in chunk]})

    def show_series(self, req: Request) -> Response:
        tmdb_id = int(req.params["id"])
        with self.world.lock:
            series = [s for s in self.kw.series.values() if tmdb_id in self.kw.series_tmdb(s)[1]]
            if not series:
                return self.not_found(req)
            return Response(200, [self.kw.render_series(s) for s in series])
