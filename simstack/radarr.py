"""Fake Radarr (API v3, Radarr 5.x shapes; null fields omitted as Radarr does).

World verbs (`world.radarr`), besides the download verbs of `simstack._arr`:

- `add_tag(label) -> tag_id`
- `add_movie(tmdb_id, title, *, year=None, imdb_id=None, root_folder="/data/movies", path=None,
  tags=(), monitored=True, quality_profile_id=1, status="released",
  minimum_availability="released", runtime=110, in_cinemas=None, digital_release=None,
  physical_release=None) -> movie_id` (`tags` may mix ids and labels; `status` announced |
  inCinemas | released; the dates default to 1 Jan / 1 Jun of `year`, None omits one;
  `isAvailable` follows Radarr's rule; `update_movie(id, digital_release=...)` moves them).
- `update_movie(movie_id, **fields)`, `remove_movie(movie_id)`, `get_movie(movie_id)`,
  `find_movie(tmdb_id)`
- `grab(movie_id, *, size=4 GiB, title=None, quality=None, protocol="torrent",
  download_client="qBittorrent", indexer="Prowlarr", release_group=None, download_id=None)
  -> download_id`: a queue record (status "queued", trackedDownloadState "downloading") and a
  "grabbed" history row.
- `import_file(movie_id=None, *, download_id=None, relative_path=None, size=None, quality=None,
  release_group=None) -> movie_file_id`: the queue record leaves, the film gets `hasFile` and a
  `movieFile`, history "downloadFolderImported" (or "movieFolderImported" without a download).
  An existing file is replaced (history "movieFileDeleted", reason "Upgrade").
- `delete_file(movie_id, reason="Manual")` (history "movieFileDeleted"),
  `rename_file(movie_id, relative_path)` (history "movieFileRenamed").

HTTP (`X-Api-Key` header or `apikey` query; 401 with an empty body otherwise; `/ping` open):
`/api/v3/system/status`, `/api/v3/movie[?tmdbId=][&excludeLocalCovers=]`, `/api/v3/movie/{id}`,
`/api/v3/queue` (paged, default pageSize 10, sortKey "timeleft" ascending; past the end the last
page again, as Radarr does), `/api/v3/queue/details[?movieId=&includeMovie=]` (unpaged),
`/api/v3/history`
(paged), `/api/v3/history/since?date=` (date >= given, ascending, like Radarr's repository),
`/api/v3/history/movie?movieId=` (descending), `/api/v3/tag`. `eventType` accepts the int code or
the name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simstack._arr import ArrApp, ArrWorld, Download, HistoryEvent
from simstack._util import compact, iso_net
from simstack.clock import Clock
from simstack.server import Request, Response

RADARR_EVENTS = {1: "grabbed", 3: "downloadFolderImported", 4: "downloadFailed",
                 6: "movieFileDeleted", 7: "movieFolderImported", 8: "movieFileRenamed",
                 9: "downloadIgnored"}


@dataclass(eq=False)
class RadarrMovieFile:
    id: int
    movie_id: int
    relative_path: str
    size: int
    date_added: datetime
    quality: str
    release_group: str | None = None
    scene_name: str | None = None
    original_file_path: str | None = None


@dataclass(eq=False)
class RadarrMovie:
    id: int
    tmdb_id: int
    title: str
    year: int
    imdb_id: str | None
    root_folder: str
    path: str
    tags: list[int]
    monitored: bool
    quality_profile_id: int
    added: datetime
    status: str = "released"
    minimum_availability: str = "released"
    in_cinemas: datetime | None = None
    digital_release: datetime | None = None
    physical_release: datetime | None = None
    original_title: str | None = None
    overview: str = ""
    runtime: int = 110
    genres: list[str] = field(default_factory=list)
    file: RadarrMovieFile | None = None


_YEAR_DEFAULT: Any = object()  # a release date derived from the film's year


def _clean_title(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", title.lower())


def _sort_title(title: str) -> str:
    low = title.lower()
    for article in ("the ", "a ", "an "):
        if low.startswith(article):
            return low[len(article):]
    return low


class RadarrWorld(ArrWorld):
    """Radarr's films, files, queue, history and tags. See the module docstring."""

    app_name = "Radarr"
    version = "5.26.2.10099"
    default_quality = "WEBDL-1080p"
    qualities = {
        "Unknown": (0, "unknown", 0, "none"),
        "HDTV-720p": (4, "tv", 720, "none"),
        "WEBDL-720p": (5, "webdl", 720, "none"),
        "Bluray-720p": (6, "bluray", 720, "none"),
        "Bluray-1080p": (7, "bluray", 1080, "none"),
        "HDTV-1080p": (9, "tv", 1080, "none"),
        "WEBDL-1080p": (3, "webdl", 1080, "none"),
        "WEBRip-1080p": (15, "webrip", 1080, "none"),
        "WEBDL-2160p": (18, "webdl", 2160, "none"),
        "Bluray-2160p": (19, "bluray", 2160, "none"),
        "Remux-1080p": (30, "bluray", 1080, "remux"),
        "Remux-2160p": (31, "bluray", 2160, "remux"),
    }
    event_codes = RADARR_EVENTS

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.movies: dict[int, RadarrMovie] = {}
        self._next_movie = 1
        self._next_file = 1

    # -- films -------------------------------------------------------------------------------

    def add_movie(self, tmdb_id: int, title: str, *, year: int | None = None,
                  imdb_id: str | None = None, root_folder: str = "/data/movies",
                  path: str | None = None, tags: Iterable[int | str] = (),
                  monitored: bool = True, quality_profile_id: int = 1,
                  status: str = "released", minimum_availability: str = "released",
                  runtime: int = 110, genres: Iterable[str] = (),
                  in_cinemas: datetime | None = _YEAR_DEFAULT,
                  digital_release: datetime | None = _YEAR_DEFAULT,
                  physical_release: datetime | None = _YEAR_DEFAULT) -> int:
        """Release dates default to 1 January (cinemas) and 1 June (digital, physical) of
        `year`; `status` is "announced", "inCinemas" or "released"."""
        with self.lock:
            if self.find_movie(tmdb_id) is not None:
                raise ValueError(f"Radarr already has tmdb {tmdb_id}")
            mid = self._next_movie
            self._next_movie += 1
            year = year if year is not None else self.now.year
            root = root_folder.rstrip("/")
            self.movies[mid] = RadarrMovie(
                mid, tmdb_id, title, year, imdb_id, root,
                path or f"{root}/{title} ({year})", self._resolve_tags(tags), monitored,
                quality_profile_id, self.now, status, minimum_availability,
                datetime(year, 1, 1, tzinfo=UTC) if in_cinemas is _YEAR_DEFAULT else in_cinemas,
                datetime(year, 6, 1, tzinfo=UTC) if digital_release is _YEAR_DEFAULT
                else digital_release,
                datetime(year, 6, 1, tzinfo=UTC) if physical_release is _YEAR_DEFAULT
                else physical_release, title, "",
                runtime, list(genres))
            return mid

    def get_movie(self, movie_id: int) -> RadarrMovie:
        with self.lock:
            try:
                return self.movies[movie_id]
            except KeyError:
                raise KeyError(f"no Radarr movie {movie_id}") from None

    def find_movie(self, tmdb_id: int) -> RadarrMovie | None:
        with self.lock:
            for movie in self.movies.values():
                if movie.tmdb_id == tmdb_id:
                    return movie
            return None

    def update_movie(self, movie_id: int, **fields: Any) -> None:
        with self.lock:
            movie = self.get_movie(movie_id)
            for name, value in fields.items():
                if name == "tags":
                    value = self._resolve_tags(value)
                if not hasattr(movie, name) or name in ("id", "file"):
                    raise AttributeError(f"RadarrMovie has no settable field {name!r}")
                setattr(movie, name, value)

    def remove_movie(self, movie_id: int) -> None:
        with self.lock:
            self.get_movie(movie_id)
            del self.movies[movie_id]
            for did in [d for d, dl in self.downloads.items() if dl.movie_id == movie_id]:
                del self.downloads[did]

    # -- downloads ---------------------------------------------------------------------------

    def grab(self, movie_id: int, *, size: int = 4 * 1024**3, title: str | None = None,
             quality: str | None = None, protocol: str = "torrent",
             download_client: str = "qBittorrent", indexer: str = "Prowlarr",
             release_group: str | None = None, download_id: str | None = None) -> str:
        with self.lock:
            movie = self.get_movie(movie_id)
            quality = quality or self.default_quality
            group = release_group or "SIMGRP"
            title = title or (f"{movie.title.replace(' ', '.')}.{movie.year}."
                              f"{quality.split('-')[-1]}.{quality.split('-')[0]}.x264-{group}")
            did = download_id or self._new_download_id(protocol)
            dl = Download(did, title, size, size, self.now, quality, protocol, download_client,
                          indexer, f"/downloads/complete/{title}", release_group=group,
                          movie_id=movie_id)
            dl.record_ids[0] = self._record_id()
            self.downloads[did] = dl
            self._add_history("grabbed", title, quality, did, {
                "indexer": indexer,
                "releaseGroup": group,
                "size": str(size),
                "downloadClient": download_client,
                "downloadClientName": download_client,
                "protocol": "2" if protocol == "torrent" else "1",
                "tmdbId": str(movie.tmdb_id),
                "imdbId": movie.imdb_id or "",
                "publishedDate": iso_net(self.now),
                "guid": f"sim-{did}",
                "customFormatScore": "0",
                "movieMatchType": "Title",
                "releaseSource": "Rss",
                "indexerFlags": "0",
            }, (movie_id, 0, 0))
            return did

    def import_file(self, movie_id: int | None = None, *, download_id: str | None = None,
                    relative_path: str | None = None, size: int | None = None,
                    quality: str | None = None, release_group: str | None = None) -> int:
        with self.lock:
            dl: Download | None = None
            if download_id is not None:
                dl = self.get_download(download_id)
                if movie_id is None:
                    movie_id = dl.movie_id
            if movie_id is None:
                raise ValueError("import_file needs a movie_id or a download_id")
            movie = self.get_movie(movie_id)
            quality = quality or (dl.quality if dl else self.default_quality)
            group = release_group or (dl.release_group if dl else None)
            size = size if size is not None else (dl.size if dl else 4 * 1024**3)
            rel = relative_path or f"{movie.title} ({movie.year}) [{quality}].mkv"
            if movie.file is not None:
                self._add_history("movieFileDeleted", movie.file.relative_path,
                                  movie.file.quality, None,
                                  {"reason": "Upgrade", "size": str(movie.file.size)},
                                  (movie_id, 0, 0))
            fid = self._next_file
            self._next_file += 1
            source = f"{dl.output_path}/{rel.rsplit('/', 1)[-1]}" if dl else None
            movie.file = RadarrMovieFile(fid, movie_id, rel, size, self.now, quality, group,
                                         dl.title if dl else None, source)
            data = {
                "customFormatScore": "0",
                "fileId": str(fid),
                "droppedPath": source,
                "importedPath": f"{movie.path}/{rel}",
                "downloadClient": dl.download_client if dl else None,
                "downloadClientName": dl.download_client if dl else None,
                "releaseGroup": group,
                "size": str(size),
                "indexerFlags": "0",
            }
            event = "downloadFolderImported" if dl else "movieFolderImported"
            self._add_history(event, dl.title if dl else rel, quality,
                              dl.download_id if dl else None, data, (movie_id, 0, 0))
            if dl is not None:
                del self.downloads[dl.download_id]
            return fid

    def delete_file(self, movie_id: int, reason: str = "Manual") -> None:
        with self.lock:
            movie = self.get_movie(movie_id)
            if movie.file is None:
                raise ValueError(f"Radarr movie {movie_id} has no file")
            f = movie.file
            movie.file = None
            self._add_history("movieFileDeleted", f.relative_path, f.quality, None,
                              {"reason": reason, "releaseGroup": f.release_group,
                               "size": str(f.size)}, (movie_id, 0, 0))

    def rename_file(self, movie_id: int, relative_path: str) -> None:
        with self.lock:
            movie = self.get_movie(movie_id)
            if movie.file is None:
                raise ValueError(f"Radarr movie {movie_id} has no file")
            old = movie.file.relative_path
            movie.file.relative_path = relative_path
            self._add_history("movieFileRenamed", relative_path, movie.file.quality, None, {
                "sourcePath": f"{movie.path}/{old}", "sourceRelativePath": old,
                "path": f"{movie.path}/{relative_path}", "relativePath": relative_path,
            }, (movie_id, 0, 0))

    # -- rendering ---------------------------------------------------------------------------

    def render_movie_file(self, movie: RadarrMovie, f: RadarrMovieFile) -> dict[str, Any]:
        return compact(
            id=f.id,
            movieId=f.movie_id,
            relativePath=f.relative_path,
            path=f"{movie.path}/{f.relative_path}",
            size=f.size,
            dateAdded=iso_net(f.date_added),
            sceneName=f.scene_name,
            releaseGroup=f.release_group,
            edition="",
            languages=[{"id": 1, "name": "English"}],
            quality=self.render_quality(f.quality),
            customFormats=[],
            customFormatScore=0,
            indexerFlags=0,
            mediaInfo=self.render_media_info(movie.runtime),
            originalFilePath=f.original_file_path,
            qualityCutoffNotMet=False,
        )

    def is_available(self, movie: RadarrMovie) -> bool:
        """Radarr's `Movie.IsAvailable()`: by `minimumAvailability` against the status and the
        release dates (a film with no home release counts as released 90 days after cinemas)."""
        now = self.now
        if movie.minimum_availability in ("announced", "tba"):
            return True
        if movie.minimum_availability == "inCinemas" and (
                movie.status in ("inCinemas", "released")
                or (movie.in_cinemas is not None and movie.in_cinemas <= now)):
            return True
        if movie.status == "released":
            return True
        homes = [d for d in (movie.physical_release, movie.digital_release) if d is not None]
        if homes:
            return min(homes) <= now
        return movie.in_cinemas is not None and movie.in_cinemas + timedelta(days=90) <= now

    def render_movie(self, movie: RadarrMovie) -> dict[str, Any]:
        f = movie.file
        size = f.size if f else 0
        out = compact(
            id=movie.id,
            title=movie.title,
            originalTitle=movie.original_title or movie.title,
            originalLanguage={"id": 1, "name": "English"},
            alternateTitles=[],
            secondaryYearSourceId=0,
            sortTitle=_sort_title(movie.title),
            sizeOnDisk=size,
            status=movie.status,
            overview=movie.overview,
            inCinemas=iso_net(movie.in_cinemas) if movie.in_cinemas else None,
            physicalRelease=iso_net(movie.physical_release) if movie.physical_release else None,
            digitalRelease=iso_net(movie.digital_release) if movie.digital_release else None,
            releaseDate=iso_net(min(d for d in (movie.digital_release, movie.physical_release)
                                    if d)) if movie.digital_release or movie.physical_release
            else None,
            images=[
                {"coverType": "poster", "url": f"/MediaCover/{movie.id}/poster.jpg",
                 "remoteUrl": f"https://image.tmdb.org/t/p/original/p{movie.tmdb_id}.jpg"},
                {"coverType": "fanart", "url": f"/MediaCover/{movie.id}/fanart.jpg",
                 "remoteUrl": f"https://image.tmdb.org/t/p/original/f{movie.tmdb_id}.jpg"},
            ],
            website="",
            year=movie.year,
            youTubeTrailerId="",
            studio="",
            path=movie.path,
            qualityProfileId=movie.quality_profile_id,
            hasFile=f is not None,
            movieFileId=f.id if f else 0,
            monitored=movie.monitored,
            minimumAvailability=movie.minimum_availability,
            isAvailable=self.is_available(movie),
            folderName=movie.path,
            runtime=movie.runtime,
            cleanTitle=_clean_title(movie.title),
            imdbId=movie.imdb_id,
            tmdbId=movie.tmdb_id,
            titleSlug=str(movie.tmdb_id),
            rootFolderPath=movie.root_folder,
            certification="",
            genres=list(movie.genres),
            keywords=[],
            tags=list(movie.tags),
            added=iso_net(movie.added),
            ratings={"tmdb": {"votes": 100, "value": 7.0, "type": "user"}},
            movieFile=self.render_movie_file(movie, f) if f else None,
            popularity=10.0,
            statistics={"movieFileCount": 1 if f else 0, "sizeOnDisk": size,
                        "releaseGroups": [f.release_group] if f and f.release_group else []},
        )
        return out

    def render_queue_record(self, dl: Download, include_movie: bool) -> dict[str, Any]:
        rec: dict[str, Any] = {"movieId": dl.movie_id}
        if include_movie and dl.movie_id in self.movies:
            rec["movie"] = self.render_movie(self.movies[dl.movie_id])
        rec.update(self.render_queue_common(dl))
        rec["id"] = dl.record_ids[0]
        return rec

    def render_history(self, event: HistoryEvent, include_movie: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"movieId": event.movie_id}
        out.update(self.render_history_common(event))
        if include_movie and event.movie_id in self.movies:
            out["movie"] = self.render_movie(self.movies[event.movie_id])
        out["id"] = event.id
        return out


class RadarrApp(ArrApp):
    service = "radarr"
    arr: RadarrWorld

    def __init__(self, arr: RadarrWorld, api_key: str) -> None:
        self.arr = arr
        super().__init__(arr.world, api_key)

    @property
    def rw(self) -> RadarrWorld:
        return self.arr

    def setup_routes(self) -> None:
        v3 = "/api/v3"
        self.route("GET", "/ping", self.ping, auth=False)
        self.route("GET", v3 + "/system/status", self.system_status)
        self.route("GET", v3 + "/movie", self.list_movies)
        self.route("GET", v3 + r"/movie/(?P<id>-?\d+)", self.get_movie)
        self.route("GET", v3 + "/queue", self.queue)
        self.route("GET", v3 + "/queue/details", self.queue_details)
        self.route("GET", v3 + "/history", self.history_paged)
        self.route("GET", v3 + "/history/since", self.history_since)
        self.route("GET", v3 + "/history/movie", self.history_movie)
        self.route("GET", v3 + "/tag", self.tags)

    def list_movies(self, req: Request) -> Response:
        tmdb_id = req.query.get_int("tmdbId")
        with self.world.lock:
            if tmdb_id is not None:
                movie = self.rw.find_movie(tmdb_id)
                return Response(200, [self.rw.render_movie(movie)] if movie else [])
            movies = [self.rw.render_movie(m) for m in self.rw.movies.values()]
        if req.query.get_bool("excludeLocalCovers", False):
            # MovieController skips MapCoversToLocal: the images keep their remote URL
            for rendered in movies:
                for image in rendered.get("images", []):
                    image["url"] = image["remoteUrl"]
        return Response(200, movies)

    def get_movie(self, req: Request) -> Response:
        with self.world.lock:
            movie = self.rw.movies.get(int(req.params["id"]))
            if movie is None:
                return self.missing()
            return Response(200, self.rw.render_movie(movie))

    def _records(self, req: Request) -> list[tuple[Download, dict[str, Any]]]:
        include = bool(req.query.get_bool("includeMovie", False))
        movie_ids = {int(x) for x in req.query.get_list("movieIds") if x.lstrip("-").isdigit()}
        movie_id = req.query.get_int("movieId")  # /queue/details' one filter
        if movie_id is not None and req.path.lower().endswith("/details"):
            movie_ids = {movie_id}
        out = []
        for dl in self.rw.downloads.values():
            if movie_ids and dl.movie_id not in movie_ids:
                continue
            out.append((dl, self.rw.render_queue_record(dl, include)))
        return out

    def queue(self, req: Request) -> Response:
        with self.world.lock:
            return self.page(req, self._records(req))

    def queue_details(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, [rec for _, rec in self._records(req)])

    def _events(self, req: Request) -> list[HistoryEvent]:
        event_type = self.rw._parse_event_type(req.query.get("eventType"))
        if event_type is None:
            return list(self.rw.history)
        return [e for e in self.rw.history if e.event_type == event_type]

    def history_since(self, req: Request) -> Response:
        when = self.since_date(req)
        include = bool(req.query.get_bool("includeMovie", False))
        with self.world.lock:
            events = [e for e in self._events(req) if when is None or e.date >= when]
            events.sort(key=lambda e: (e.date, e.id))
            return Response(200, [self.rw.render_history(e, include) for e in events])

    def history_movie(self, req: Request) -> Response:
        movie_id = req.query.get_int("movieId")
        include = bool(req.query.get_bool("includeMovie", False))
        with self.world.lock:
            events = [e for e in self._events(req) if e.movie_id == movie_id]
            events.sort(key=lambda e: (e.date, e.id), reverse=True)
            return Response(200, [self.rw.render_history(e, include) for e in events])

    def history_paged(self, req: Request) -> Response:
        page = max(1, req.query.get_int("page", 1) or 1)
        page_size = req.query.get_int("pageSize", 10) or 10
        include = bool(req.query.get_bool("includeMovie", False))
        download_id = req.query.get("downloadId")
        movie_ids = {int(x) for x in req.query.get_list("movieIds") if x.isdigit()}
        descending = (req.query.get("sortDirection") or "descending").lower() != "ascending"
        with self.world.lock:
            events = [e for e in self._events(req)
                      if (download_id is None or e.download_id == download_id)
                      and (not movie_ids or e.movie_id in movie_ids)]
            events.sort(key=lambda e: (e.date, e.id), reverse=descending)
            chunk = events[(page - 1) * page_size:page * page_size]
            return Response(200, {
                "page": page, "pageSize": page_size, "sortKey": req.query.get("sortKey") or "date",
                "sortDirection": "descending" if descending else "ascending",
                "totalRecords": len(events),
                "records": [self.rw.render_history(e, include) for e in chunk],
            })
