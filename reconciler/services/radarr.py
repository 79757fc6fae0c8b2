"""Radarr: films, their files, the download queue and the history of grabs and imports."""

from __future__ import annotations

from reconciler.errors import NotFound
from reconciler.models import HistoryEvent, RadarrMovie
from reconciler.services.arr import ArrClient, parse_history_event
from reconciler.services.http import require
from reconciler.services.parse import Fields


def parse_movie(obj: object) -> RadarrMovie:
    f = Fields("radarr", "/api/v3/movie", obj)
    movie_file = f.sub("movieFile")
    has_file = f.flag("hasFile")
    file_path = None
    if movie_file is not None:
        file_path = movie_file.opt_text("path")
        if not file_path and movie_file.opt_text("relativePath") and f.opt_text("path"):
            file_path = f"{f.opt_text('path')}/{movie_file.opt_text('relativePath')}"
    return RadarrMovie(
        id=f.integer("id"),
        tmdb_id=f.integer("tmdbId"),
        title=f.opt_text("title") or "",
        has_file=has_file,
        file_path=file_path if has_file else None,
        path=f.opt_text("path"),
        root_folder=f.opt_text("rootFolderPath"),
        tags=f.int_list("tags"),
        monitored=f.flag("monitored", True),
        year=f.opt_int("year") or None,  # 0 while TMDB knows no date
        status=f.opt_text("status") or None,
        in_cinemas=f.time("inCinemas"),
        digital_release=f.time("digitalRelease"),
        physical_release=f.time("physicalRelease"),
        is_available=f.obj.get("isAvailable") if isinstance(f.obj.get("isAvailable"), bool)
        else None,
    )


class RadarrClient(ArrClient):
    name = "radarr"
    details_include = {"includeMovie": False}
    queue_include = {"includeMovie": False}
    queue_bug = ("a known Radarr bug answers so while a release is pending (Radarr #10572, "
                 "#11151: TaskManager.GetNextExecution); restarting Radarr usually clears it")

    async def movies(self) -> list[RadarrMovie]:
        """The whole library (unpaged in Radarr's API): parsed as a stream, film by film.
        `excludeLocalCovers`: else Radarr stats every cover file on disk to stamp image URLs
        reconciler never reads (MovieController.AllMovie)."""
        return await self.stream_list("/api/v3/movie", parse_movie, {"excludeLocalCovers": True})

    async def movie_by_tmdb(self, tmdb_id: int) -> RadarrMovie | None:
        # `excludeLocalCovers` is read only by the whole listing (MovieController.AllMovie);
        # with `tmdbId` Radarr stats that one film's covers whatever it says: sent anyway, so
        # the two listings ask alike.
        data = require(self.name, await self.get("/api/v3/movie", {
            "tmdbId": tmdb_id, "excludeLocalCovers": True,
        }), list, "/api/v3/movie")
        movies = [parse_movie(m) for m in data]
        return next((m for m in movies if m.tmdb_id == tmdb_id), None)

    async def movie(self, movie_id: int) -> RadarrMovie | None:
        try:
            return parse_movie(await self.get(f"/api/v3/movie/{movie_id}"))
        except NotFound:
            return None

    async def movie_history(self, movie_id: int) -> list[HistoryEvent]:
        data = require(self.name, await self.get("/api/v3/history/movie", {"movieId": movie_id}),
                       list, "/api/v3/history/movie")
        return [parse_history_event(self.name, r) for r in data]
