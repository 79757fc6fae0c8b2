"""Sonarr: series, their episodes and files, the per-episode queue and the history."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.errors import NotFound
from reconciler.models import HistoryEvent, SonarrEpisode, SonarrSeries
from reconciler.services.arr import ArrClient, parse_history_event
from reconciler.services.http import require
from reconciler.services.parse import Fields

SERIES_TYPES = ("standard", "daily", "anime")


def parse_series(obj: object) -> SonarrSeries:
    f = Fields("sonarr", "/api/v3/series", obj)
    monitored = []
    for s in f.array("seasons"):
        sf = Fields("sonarr", "/api/v3/series seasons", s)
        if sf.flag("monitored"):
            monitored.append(sf.integer("seasonNumber"))
    return SonarrSeries(
        id=f.integer("id"),
        tvdb_id=f.opt_int("tvdbId") or None,
        tmdb_id=f.opt_int("tmdbId") or None,
        title=f.opt_text("title") or "",
        series_type=f.enum("seriesType", SERIES_TYPES, "standard"),
        path=f.opt_text("path"),
        monitored_seasons=tuple(sorted(monitored)),
        year=f.opt_int("year") or None,  # 0 while no air date is known
    )


def parse_episode(obj: object) -> SonarrEpisode:
    f = Fields("sonarr", "/api/v3/episode", obj)
    episode_file = f.sub("episodeFile")
    has_file = f.flag("hasFile")
    file_id = f.opt_int("episodeFileId") or None
    return SonarrEpisode(
        id=f.integer("id"),
        series_id=f.integer("seriesId"),
        season=f.integer("seasonNumber"),
        episode=f.integer("episodeNumber"),
        air_date_utc=f.time("airDateUtc"),
        has_file=has_file,
        monitored=f.flag("monitored", True),
        file_id=file_id if has_file else None,
        file_path=episode_file.opt_text("path") if episode_file is not None and has_file else None,
    )


class SonarrClient(ArrClient):
    name = "sonarr"
    # No `includeEpisode`: every record already carries `episodeId` and `seasonNumber`; the
    # episode resource would only repeat itself per record.
    queue_include: dict[str, object] = {}
    queue_bug = ("a known Sonarr bug answers so while a release is pending (Sonarr #7422, "
                 "#7429: TaskManager.GetNextExecution); restarting Sonarr usually clears it")

    async def all_series(self) -> list[SonarrSeries]:
        """The whole library (unpaged in Sonarr's API): parsed as a stream, series by series."""
        return await self.stream_list("/api/v3/series", parse_series)

    async def series_by_tvdb(self, tvdb_id: int) -> SonarrSeries | None:
        data = require(self.name, await self.get("/api/v3/series", {"tvdbId": tvdb_id}), list,
                       "/api/v3/series")
        found = [parse_series(s) for s in data]
        return next((s for s in found if s.tvdb_id == tvdb_id), None)

    async def series(self, series_id: int) -> SonarrSeries | None:
        try:
            return parse_series(await self.get(f"/api/v3/series/{series_id}"))
        except NotFound:
            return None

    async def episodes(self, series_id: int) -> list[SonarrEpisode]:
        data = require(self.name, await self.get("/api/v3/episode", {
            "seriesId": series_id, "includeEpisodeFile": True,
        }), list, "/api/v3/episode")
        return [parse_episode(e) for e in data]

    async def calendar(self, start: datetime, end: datetime) -> list[SonarrEpisode]:
        """Every episode (monitored or not) whose air date is within [start, end], as it is
        dated now: one call, whatever the number of series."""
        data = require(self.name, await self.get("/api/v3/calendar", {
            "start": _utc(start), "end": _utc(end), "unmonitored": True,
        }), list, "/api/v3/calendar")
        return [parse_episode(e) for e in data]

    async def series_history(self, series_id: int) -> list[HistoryEvent]:
        data = require(self.name, await self.get("/api/v3/history/series",
                                                 {"seriesId": series_id}),
                       list, "/api/v3/history/series")
        return [parse_history_event(self.name, r) for r in data]


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
