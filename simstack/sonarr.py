"""Fake Sonarr (API v3 as served by Sonarr 4.x; null fields omitted as Sonarr does).

World verbs (`world.sonarr`), besides the download verbs of `simstack._arr`:

- `add_tag(label) -> tag_id`
- `add_series(tvdb_id, title, *, tmdb_id=0, imdb_id=None, series_type="standard",
  seasons={1: 10}, monitored=True, unmonitored_seasons=(), root_folder="/data/tv", path=None,
  first_aired=None, air_interval_days=7, year=None, tags=(), status="continuing", runtime=45)
  -> series_id`. Episodes are generated: season by season, one every `air_interval_days` from
  `first_aired` (default: a year before `world.now`, so they have all aired). Season 0 (specials)
  is unmonitored unless listed otherwise. Anime series get absolute episode numbers.
- `add_episode(series_id, season, episode, air_date_utc=None, *, title=None, monitored=True,
  absolute_number=None) -> episode_id` (`air_date_utc=None`: not yet announced),
  `episode_id(series_id, season, episode) -> int`, `episode_ids(series_id, season=None)`,
  `set_season_monitored(series_id, season, monitored)`, `update_series(series_id, **fields)`,
  `remove_series(series_id)`.
- `grab(series_id, episode_ids=None, *, season=None, size=None, title=None, quality=None,
  protocol="torrent", ...) -> download_id`: ONE QUEUE RECORD PER EPISODE sharing the downloadId
  (a season pack when `season=` is given), each with the whole download's size/sizeleft, and a
  "grabbed" history row per episode.
- `import_file(series_id, episode_ids, *, download_id=None, relative_path=None, size=None,
  quality=None, release_group=None) -> episode_file_id`: one file covering those episodes (a
  multi-episode file when several); their queue records leave (the download leaves with its last
  record); history "downloadFolderImported" per episode ("seriesFolderImported" without a
  download). Files replaced for those episodes lose them ("episodeFileDeleted", "Upgrade").
- `import_download(download_id, *, episodes_per_file=1) -> [episode_file_id]`: imports every
  episode left in the download.
- `delete_episode_file(file_id, reason="Manual")`: history "episodeFileDeleted" per episode.

HTTP as Radarr's (see `simstack.radarr`): `/ping`, `/api/v3/system/status`,
`/api/v3/series[?tvdbId=]`, `/api/v3/series/{id}`, `/api/v3/episode?seriesId=[&seasonNumber=]
[&episodeIds=][&includeEpisodeFile=][&includeSeries=]`, `/api/v3/queue`,
`/api/v3/queue/details[?seriesId=&episodeIds=]` (unpaged), `/api/v3/history` (paged),
`/api/v3/history/since`,
`/api/v3/history/series`, `/api/v3/tag`, `/api/v3/calendar?start=&end=[&unmonitored=]
[&includeSeries=][&includeEpisodeFile=]` (episodes whose airDateUtc is within [start, end];
default today to two days later; without `unmonitored`, only monitored episodes of monitored
series, as Sonarr's `EpisodesBetweenDates`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simstack._arr import ArrApp, ArrWorld, Download, HistoryEvent
from simstack._util import BadParam, compact, iso_net, parse_iso
from simstack.clock import Clock
from simstack.server import Request, Response

SONARR_EVENTS = {1: "grabbed", 2: "seriesFolderImported", 3: "downloadFolderImported",
                 4: "downloadFailed", 5: "episodeFileDeleted", 6: "episodeFileRenamed",
                 7: "downloadIgnored"}


@dataclass(eq=False)
class SonarrEpisode:
    id: int
    series_id: int
    season: int
    number: int
    title: str
    air_date_utc: datetime | None
    monitored: bool
    tvdb_id: int
    absolute_number: int | None = None
    file_id: int = 0


@dataclass(eq=False)
class SonarrEpisodeFile:
    id: int
    series_id: int
    season: int
    relative_path: str
    size: int
    date_added: datetime
    quality: str
    episode_ids: list[int]
    release_group: str | None = None
    scene_name: str | None = None
    release_type: str = "singleEpisode"


@dataclass(eq=False)
class SonarrSeries:
    id: int
    tvdb_id: int
    tmdb_id: int
    imdb_id: str | None
    title: str
    year: int
    series_type: str
    root_folder: str
    path: str
    monitored: bool
    season_monitored: dict[int, bool]
    tags: list[int]
    added: datetime
    first_aired: datetime | None
    status: str = "continuing"
    runtime: int = 45
    network: str = "Simulated Network"
    quality_profile_id: int = 1
    tvmaze_id: int = 0
    episode_ids: list[int] = field(default_factory=list)


def _clean(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", title.lower())


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class SonarrWorld(ArrWorld):
    """Sonarr's series, episodes, files, queue, history and tags. See the module docstring."""

    app_name = "Sonarr"
    version = "4.0.15.2941"
    default_quality = "WEBDL-1080p"
    qualities = {
        "Unknown": (0, "unknown", 0, None),
        "SDTV": (1, "television", 480, None),
        "HDTV-720p": (4, "television", 720, None),
        "WEBDL-720p": (5, "web", 720, None),
        "Bluray-720p": (6, "bluray", 720, None),
        "HDTV-1080p": (9, "television", 1080, None),
        "WEBDL-1080p": (3, "web", 1080, None),
        "WEBRip-1080p": (15, "webRip", 1080, None),
        "Bluray-1080p": (7, "bluray", 1080, None),
        "WEBDL-2160p": (18, "web", 2160, None),
        "Bluray-2160p": (19, "bluray", 2160, None),
    }
    event_codes = SONARR_EVENTS

    def __init__(self, world: Clock) -> None:
        super().__init__(world)
        self.series: dict[int, SonarrSeries] = {}
        self.episodes: dict[int, SonarrEpisode] = {}
        self.files: dict[int, SonarrEpisodeFile] = {}
        self._next_series = 1
        self._next_episode = 1
        self._next_file = 1

    # -- series and episodes ------------------------------------------------------------------

    def add_series(self, tvdb_id: int, title: str, *, tmdb_id: int = 0,
                   imdb_id: str | None = None, series_type: str = "standard",
                   seasons: Mapping[int, int] | None = None, monitored: bool = True,
                   unmonitored_seasons: Iterable[int] = (), root_folder: str = "/data/tv",
                   path: str | None = None, first_aired: datetime | None = None,
                   air_interval_days: float = 7.0, year: int | None = None,
                   tags: Iterable[int | str] = (), status: str = "continuing",
                   runtime: int = 45) -> int:
        if series_type not in ("standard", "daily", "anime"):
            raise ValueError(f"unknown seriesType {series_type!r}")
        with self.lock:
            if self.find_series(tvdb_id) is not None:
                raise ValueError(f"Sonarr already has tvdb {tvdb_id}")
            sid = self._next_series
            self._next_series += 1
            seasons = dict(seasons if seasons is not None else {1: 10})
            first = first_aired if first_aired is not None else (
                self.now - timedelta(days=365)).replace(minute=0, second=0, microsecond=0)
            unmonitored = set(unmonitored_seasons)
            root = root_folder.rstrip("/")
            series = SonarrSeries(
                sid, tvdb_id, tmdb_id, imdb_id, title, year or first.year, series_type, root,
                path or f"{root}/{title}", monitored,
                {s: (s != 0 and s not in unmonitored) for s in sorted(seasons)},
                self._resolve_tags(tags), self.now, first, status, runtime,
                tvmaze_id=tvdb_id // 10 or 1)
            self.series[sid] = series
            index = 0
            absolute = 0
            for season in sorted(seasons):
                for number in range(1, seasons[season] + 1):
                    airs = first + timedelta(days=air_interval_days * index)
                    index += 1
                    if season > 0:
                        absolute += 1
                    self._new_episode(series, season, number, airs, None,
                                      series.season_monitored[season],
                                      absolute if series_type == "anime" and season > 0
                                      else None)
            return sid

    def _new_episode(self, series: SonarrSeries, season: int, number: int,
                     air: datetime | None, title: str | None, monitored: bool,
                     absolute: int | None) -> int:
        eid = self._next_episode
        self._next_episode += 1
        self.episodes[eid] = SonarrEpisode(
            eid, series.id, season, number, title or f"Episode {number}", air, monitored,
            series.tvdb_id * 1000 + season * 100 + number, absolute)
        series.episode_ids.append(eid)
        return eid

    def add_episode(self, series_id: int, season: int, episode: int,
                    air_date_utc: datetime | None = None, *, title: str | None = None,
                    monitored: bool = True, absolute_number: int | None = None) -> int:
        with self.lock:
            series = self.get_series(series_id)
            if season not in series.season_monitored:
                series.season_monitored[season] = season != 0
                series.season_monitored = dict(sorted(series.season_monitored.items()))
            return self._new_episode(series, season, episode, air_date_utc, title,
                                     monitored and series.season_monitored[season],
                                     absolute_number)

    def get_series(self, series_id: int) -> SonarrSeries:
        with self.lock:
            try:
                return self.series[series_id]
            except KeyError:
                raise KeyError(f"no Sonarr series {series_id}") from None

    def find_series(self, tvdb_id: int) -> SonarrSeries | None:
        with self.lock:
            for series in self.series.values():
                if series.tvdb_id == tvdb_id:
                    return series
            return None

    def episode_id(self, series_id: int, season: int, episode: int) -> int:
        with self.lock:
            for eid in self.get_series(series_id).episode_ids:
                ep = self.episodes[eid]
                if ep.season == season and ep.number == episode:
                    return eid
            raise KeyError(f"series {series_id} has no S{season:02d}E{episode:02d}")

    def episode_ids(self, series_id: int, season: int | None = None) -> list[int]:
        with self.lock:
            return [eid for eid in self.get_series(series_id).episode_ids
                    if season is None or self.episodes[eid].season == season]

    def set_season_monitored(self, series_id: int, season: int, monitored: bool) -> None:
        with self.lock:
            series = self.get_series(series_id)
            series.season_monitored[season] = monitored
            for eid in series.episode_ids:
                if self.episodes[eid].season == season:
                    self.episodes[eid].monitored = monitored

    def update_series(self, series_id: int, **fields: Any) -> None:
        with self.lock:
            series = self.get_series(series_id)
            for name, value in fields.items():
                if name == "tags":
                    value = self._resolve_tags(value)
                if not hasattr(series, name) or name in ("id", "episode_ids"):
                    raise AttributeError(f"SonarrSeries has no settable field {name!r}")
                setattr(series, name, value)

    def update_episode(self, episode_id: int, **fields: Any) -> None:
        with self.lock:
            ep = self.episodes[episode_id]
            for name, value in fields.items():
                if not hasattr(ep, name) or name in ("id", "series_id", "file_id"):
                    raise AttributeError(f"SonarrEpisode has no settable field {name!r}")
                setattr(ep, name, value)

    def remove_series(self, series_id: int) -> None:
        with self.lock:
            series = self.get_series(series_id)
            for eid in series.episode_ids:
                self.episodes.pop(eid, None)
            for fid in [f for f, ef in self.files.items() if ef.series_id == series_id]:
                del self.files[fid]
            for did in [d for d, dl in self.downloads.items() if dl.series_id == series_id]:
                del self.downloads[did]
            del self.series[series_id]

    # -- downloads and files ------------------------------------------------------------------

    def grab(self, series_id: int, episode_ids: Sequence[int] | None = None, *,
             season: int | None = None, size: int | None = None, title: str | None = None,
             quality: str | None = None, protocol: str = "torrent",
             download_client: str = "qBittorrent", indexer: str = "Prowlarr",
             release_group: str | None = None, download_id: str | None = None) -> str:
        with self.lock:
            series = self.get_series(series_id)
            if episode_ids is None:
                if season is None:
                    raise ValueError("grab needs episode_ids or season")
                episode_ids = self.episode_ids(series_id, season)
            ids = list(episode_ids)
            if not ids:
                raise ValueError("grab needs at least one episode")
            for eid in ids:
                if self.episodes.get(eid) is None or self.episodes[eid].series_id != series_id:
                    raise KeyError(f"episode {eid} is not in series {series_id}")
            quality = quality or self.default_quality
            group = release_group or "SIMGRP"
            first = self.episodes[ids[0]]
            if title is None:
                name = series.title.replace(" ", ".")
                res = quality.split("-")[-1]
                src = quality.split("-")[0]
                if season is not None:
                    title = f"{name}.S{season:02d}.{res}.{src}-{group}"
                elif len(ids) == 1:
                    title = f"{name}.S{first.season:02d}E{first.number:02d}.{res}.{src}-{group}"
                else:
                    last = self.episodes[ids[-1]]
                    title = (f"{name}.S{first.season:02d}E{first.number:02d}-E{last.number:02d}"
                             f".{res}.{src}-{group}")
            size = size if size is not None else 1_500_000_000 * len(ids)
            did = download_id or self._new_download_id(protocol)
            dl = Download(did, title, size, size, self.now, quality, protocol, download_client,
                          indexer, f"/downloads/complete/{title}", release_group=group,
                          series_id=series_id, episode_ids=ids)
            dl.release_type = "seasonPack" if season is not None else (
                "singleEpisode" if len(ids) == 1 else "multiEpisode")
            for eid in ids:
                dl.record_ids[eid] = self._record_id()
            self.downloads[did] = dl
            for eid in ids:
                self._add_history("grabbed", title, quality, did, {
                    "indexer": indexer,
                    "releaseGroup": group,
                    "size": str(size),
                    "downloadClient": download_client,
                    "downloadClientName": download_client,
                    "protocol": "2" if protocol == "torrent" else "1",
                    "tvdbId": str(series.tvdb_id),
                    "publishedDate": iso_net(self.now),
                    "guid": f"sim-{did}",
                    "customFormatScore": "0",
                    "seriesMatchType": "Title",
                    "releaseSource": "Rss",
                    "indexerFlags": "0",
                    "fullSeason": "True" if season is not None else "False",
                    "releaseType": dl.release_type,
                }, (0, series_id, eid))
            return did

    def import_file(self, series_id: int | None, episode_ids: Sequence[int], *,
                    download_id: str | None = None, relative_path: str | None = None,
                    size: int | None = None, quality: str | None = None,
                    release_group: str | None = None) -> int:
        with self.lock:
            dl = self.get_download(download_id) if download_id is not None else None
            if series_id is None:
                if dl is None or dl.series_id is None:
                    raise ValueError("import_file needs a series_id or a download_id")
                series_id = dl.series_id
            series = self.get_series(series_id)
            ids = list(episode_ids)
            if not ids:
                raise ValueError("import_file needs at least one episode")
            eps = [self.episodes[eid] for eid in ids]
            quality = quality or (dl.quality if dl else self.default_quality)
            group = release_group or (dl.release_group if dl else None)
            if size is None:
                size = (dl.size // max(1, len(dl.episode_ids) or 1)) * len(ids) if dl \
                    else 1_500_000_000 * len(ids)
            first, last = eps[0], eps[-1]
            if relative_path is None:
                numbers = f"S{first.season:02d}E{first.number:02d}"
                if len(eps) > 1:
                    numbers += f"-E{last.number:02d}"
                relative_path = (f"Season {first.season:02d}/{series.title} - {numbers} - "
                                 f"{first.title} [{quality}].mkv")
            for ep in eps:
                if ep.file_id:
                    self._detach(ep, "Upgrade")
            fid = self._next_file
            self._next_file += 1
            if dl is not None and dl.release_type == "seasonPack":
                release_type = "seasonPack"
            else:
                release_type = "multiEpisode" if len(ids) > 1 else "singleEpisode"
            self.files[fid] = SonarrEpisodeFile(fid, series_id, first.season, relative_path,
                                                size, self.now, quality, ids, group,
                                                dl.title if dl else None, release_type)
            for ep in eps:
                ep.file_id = fid
                self._add_history(
                    "downloadFolderImported" if dl else "seriesFolderImported",
                    dl.title if dl else relative_path, quality, dl.download_id if dl else None, {
                        "customFormatScore": "0",
                        "fileId": str(fid),
                        "droppedPath": f"{dl.output_path}/{relative_path.rsplit('/', 1)[-1]}"
                        if dl else None,
                        "importedPath": f"{series.path}/{relative_path}",
                        "downloadClient": dl.download_client if dl else None,
                        "downloadClientName": dl.download_client if dl else None,
                        "releaseGroup": group,
                        "size": str(size),
                    }, (0, series_id, ep.id))
            if dl is not None:
                for eid in ids:
                    if eid in dl.episode_ids:
                        dl.episode_ids.remove(eid)
                        dl.record_ids.pop(eid, None)
                if not dl.episode_ids:
                    del self.downloads[dl.download_id]
            return fid

    def import_download(self, download_id: str, *, episodes_per_file: int = 1) -> list[int]:
        with self.lock:
            dl = self.get_download(download_id)
            ids = sorted(dl.episode_ids, key=lambda e: (self.episodes[e].season,
                                                        self.episodes[e].number))
            per = max(1, episodes_per_file)
            size_each = dl.size // max(1, len(ids))
            out = []
            for i in range(0, len(ids), per):
                group = ids[i:i + per]
                out.append(self.import_file(dl.series_id, group, download_id=download_id,
                                            size=size_each * len(group)))
            return out

    def _detach(self, ep: SonarrEpisode, reason: str) -> None:
        f = self.files.get(ep.file_id)
        ep.file_id = 0
        if f is None:
            return
        if ep.id in f.episode_ids:
            f.episode_ids.remove(ep.id)
        self._add_history("episodeFileDeleted", f.relative_path, f.quality, None,
                          {"reason": reason, "size": str(f.size)}, (0, f.series_id, ep.id))
        if not f.episode_ids:
            del self.files[f.id]

    def delete_episode_file(self, file_id: int, reason: str = "Manual") -> None:
        with self.lock:
            f = self.files[file_id]
            for eid in list(f.episode_ids):
                self._detach(self.episodes[eid], reason)

    # -- rendering ---------------------------------------------------------------------------

    def _season_stats(self, series: SonarrSeries, season: int) -> dict[str, Any]:
        now = self.now
        eps = [self.episodes[e] for e in series.episode_ids if self.episodes[e].season == season]
        with_file = [e for e in eps if e.file_id]
        counted = [e for e in eps if e.file_id or (
            e.monitored and e.air_date_utc is not None and e.air_date_utc <= now)]
        file_ids = {e.file_id for e in with_file}
        size = sum(self.files[f].size for f in file_ids if f in self.files)
        aired = [e.air_date_utc for e in eps if e.air_date_utc and e.air_date_utc <= now]
        upcoming = [e.air_date_utc for e in eps
                    if e.air_date_utc and e.air_date_utc > now and e.monitored]
        groups = sorted({self.files[f].release_group or "" for f in file_ids
                         if f in self.files} - {""})
        return compact(
            nextAiring=iso_net(min(upcoming)) if upcoming else None,
            previousAiring=iso_net(max(aired)) if aired else None,
            episodeFileCount=len(with_file),
            episodeCount=len(counted),
            totalEpisodeCount=len(eps),
            sizeOnDisk=size,
            releaseGroups=groups,
            percentOfEpisodes=(100.0 * len(with_file) / len(counted)) if counted else 0.0,
        )

    def render_series(self, series: SonarrSeries) -> dict[str, Any]:
        season_stats = {s: self._season_stats(series, s) for s in series.season_monitored}
        totals = {k: sum(st[k] for st in season_stats.values())
                  for k in ("episodeFileCount", "episodeCount", "totalEpisodeCount",
                            "sizeOnDisk")}
        nexts = [st["nextAiring"] for st in season_stats.values() if "nextAiring" in st]
        prevs = [st["previousAiring"] for st in season_stats.values() if "previousAiring" in st]
        groups = sorted({g for st in season_stats.values() for g in st["releaseGroups"]})
        return compact(
            id=series.id,
            title=series.title,
            alternateTitles=[],
            sortTitle=series.title.lower(),
            status=series.status,
            ended=series.status == "ended",
            overview="",
            nextAiring=min(nexts) if nexts else None,
            previousAiring=max(prevs) if prevs else None,
            network=series.network,
            airTime="21:00",
            images=[{"coverType": "poster", "url": f"/MediaCover/{series.id}/poster.jpg",
                     "remoteUrl": f"https://artworks.thetvdb.com/banners/{series.tvdb_id}.jpg"}],
            originalLanguage={"id": 1, "name": "English"},
            seasons=[{"seasonNumber": s, "monitored": m, "statistics": season_stats[s]}
                     for s, m in sorted(series.season_monitored.items())],
            year=series.year,
            path=series.path,
            qualityProfileId=series.quality_profile_id,
            seasonFolder=True,
            monitored=series.monitored,
            monitorNewItems="all",
            useSceneNumbering=False,
            runtime=series.runtime,
            tvdbId=series.tvdb_id,
            tvRageId=0,
            tvMazeId=series.tvmaze_id,
            tmdbId=series.tmdb_id,
            firstAired=iso_net(series.first_aired) if series.first_aired else None,
            seriesType=series.series_type,
            cleanTitle=_clean(series.title),
            imdbId=series.imdb_id,
            titleSlug=_slug(series.title),
            rootFolderPath=series.root_folder,
            certification="TV-14",
            genres=[],
            tags=list(series.tags),
            added=iso_net(series.added),
            ratings={"votes": 100, "value": 8.0},
            statistics={
                "seasonCount": len([s for s in series.season_monitored if s > 0]),
                **totals,
                "releaseGroups": groups,
                "percentOfEpisodes": (100.0 * totals["episodeFileCount"] / totals["episodeCount"])
                if totals["episodeCount"] else 0.0,
            },
            languageProfileId=1,
        )

    def render_episode_file(self, f: SonarrEpisodeFile) -> dict[str, Any]:
        series = self.series.get(f.series_id)
        base = series.path if series else ""
        return compact(
            id=f.id,
            seriesId=f.series_id,
            seasonNumber=f.season,
            relativePath=f.relative_path,
            path=f"{base}/{f.relative_path}",
            size=f.size,
            dateAdded=iso_net(f.date_added),
            sceneName=f.scene_name,
            releaseGroup=f.release_group,
            languages=[{"id": 1, "name": "English"}],
            quality=self.render_quality(f.quality),
            customFormats=[],
            customFormatScore=0,
            indexerFlags=0,
            releaseType=f.release_type,
            mediaInfo=self.render_media_info(series.runtime if series else 45),
            qualityCutoffNotMet=False,
        )

    def render_episode(self, ep: SonarrEpisode, *, include_file: bool = False,
                       include_series: bool = False) -> dict[str, Any]:
        f = self.files.get(ep.file_id) if ep.file_id else None
        series = self.series.get(ep.series_id)
        return compact(
            id=ep.id,
            seriesId=ep.series_id,
            tvdbId=ep.tvdb_id,
            episodeFileId=ep.file_id,
            seasonNumber=ep.season,
            episodeNumber=ep.number,
            title=ep.title,
            airDate=ep.air_date_utc.strftime("%Y-%m-%d") if ep.air_date_utc else None,
            airDateUtc=iso_net(ep.air_date_utc) if ep.air_date_utc else None,
            runtime=series.runtime if series else 45,
            overview="",
            episodeFile=self.render_episode_file(f) if include_file and f else None,
            hasFile=ep.file_id > 0,
            monitored=ep.monitored,
            absoluteEpisodeNumber=ep.absolute_number,
            unverifiedSceneNumbering=False,
            series=self.render_series(series) if include_series and series else None,
        )

    def render_queue_records(self, dl: Download, include_series: bool,
                             include_episode: bool) -> list[dict[str, Any]]:
        common = self.render_queue_common(dl)
        series = self.series.get(dl.series_id or 0)
        rendered_series = self.render_series(series) if include_series and series else None
        out = []
        for eid in dl.episode_ids:
            ep = self.episodes.get(eid)
            rec: dict[str, Any] = {"seriesId": dl.series_id, "episodeId": eid,
                                   "seasonNumber": ep.season if ep else None}
            if rendered_series is not None:
                rec["series"] = rendered_series
            if include_episode and ep is not None:
                rec["episode"] = self.render_episode(ep)
            rec.update(common)
            rec["episodeHasFile"] = bool(ep and ep.file_id)
            rec["id"] = dl.record_ids[eid]
            out.append(compact(**rec))
        return out

    def render_history(self, event: HistoryEvent, include_series: bool,
                       include_episode: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"episodeId": event.episode_id, "seriesId": event.series_id}
        out.update(self.render_history_common(event))
        ep = self.episodes.get(event.episode_id)
        if include_episode and ep is not None:
            out["episode"] = self.render_episode(ep)
        series = self.series.get(event.series_id)
        if include_series and series is not None:
            out["series"] = self.render_series(series)
        out["id"] = event.id
        return out


class SonarrApp(ArrApp):
    service = "sonarr"
    arr: SonarrWorld

    def __init__(self, arr: SonarrWorld, api_key: str) -> None:
        self.arr = arr
        super().__init__(arr.world, api_key)

    @property
    def sw(self) -> SonarrWorld:
        return self.arr

    def setup_routes(self) -> None:
        v3 = "/api/v3"
        self.route("GET", "/ping", self.ping, auth=False)
        self.route("GET", v3 + "/system/status", self.system_status)
        self.route("GET", v3 + "/series", self.list_series)
        self.route("GET", v3 + r"/series/(?P<id>-?\d+)", self.get_series)
        self.route("GET", v3 + "/episode", self.list_episodes)
        self.route("GET", v3 + "/queue", self.queue)
        self.route("GET", v3 + "/queue/details", self.queue_details)
        self.route("GET", v3 + "/history", self.history_paged)
        self.route("GET", v3 + "/history/since", self.history_since)
        self.route("GET", v3 + "/history/series", self.history_series)
        self.route("GET", v3 + "/tag", self.tags)
        self.route("GET", v3 + "/calendar", self.calendar)

    def list_series(self, req: Request) -> Response:
        tvdb_id = req.query.get_int("tvdbId")
        with self.world.lock:
            if tvdb_id is not None:
                series = self.sw.find_series(tvdb_id)
                return Response(200, [self.sw.render_series(series)] if series else [])
            return Response(200, [self.sw.render_series(s) for s in self.sw.series.values()])

    def get_series(self, req: Request) -> Response:
        with self.world.lock:
            series = self.sw.series.get(int(req.params["id"]))
            if series is None:
                return self.missing()
            return Response(200, self.sw.render_series(series))

    def list_episodes(self, req: Request) -> Response:
        series_id = req.query.get_int("seriesId")
        season = req.query.get_int("seasonNumber")
        episode_ids = [int(x) for x in req.query.get_list("episodeIds") if x.isdigit()]
        file_id = req.query.get_int("episodeFileId")
        include_file = bool(req.query.get_bool("includeEpisodeFile", False))
        include_series = bool(req.query.get_bool("includeSeries", False))
        with self.world.lock:
            if series_id is not None:
                if series_id not in self.sw.series:
                    return self.missing(f"Series with ID {series_id} does not exist")
                eps = [self.sw.episodes[e] for e in self.sw.series[series_id].episode_ids]
                if season is not None:
                    eps = [e for e in eps if e.season == season]
            elif episode_ids:
                eps = [self.sw.episodes[e] for e in episode_ids if e in self.sw.episodes]
            elif file_id is not None:
                eps = [e for e in self.sw.episodes.values() if e.file_id == file_id]
            else:
                return self.bad_request("seriesId must be provided")
            eps.sort(key=lambda e: (e.season, e.number, e.id))
            return Response(200, [self.sw.render_episode(e, include_file=include_file,
                                                         include_series=include_series)
                                  for e in eps])

    def calendar(self, req: Request) -> Response:
        start_text, end_text = req.query.get("start"), req.query.get("end")
        start, end = parse_iso(start_text), parse_iso(end_text)
        if start_text and start is None:
            raise BadParam("start", start_text)
        if end_text and end is None:
            raise BadParam("end", end_text)
        unmonitored = bool(req.query.get_bool("unmonitored", False))
        include_file = bool(req.query.get_bool("includeEpisodeFile", False))
        include_series = bool(req.query.get_bool("includeSeries", False))
        with self.world.lock:
            today = self.world.now.replace(hour=0, minute=0, second=0, microsecond=0)
            start = start or today
            end = end or start + timedelta(days=2)
            eps = [e for e in self.sw.episodes.values()
                   if e.air_date_utc is not None and start <= e.air_date_utc <= end
                   and e.series_id in self.sw.series
                   and (unmonitored or (e.monitored and self.sw.series[e.series_id].monitored))]
            eps.sort(key=lambda e: (e.air_date_utc or start, e.id))
            return Response(200, [self.sw.render_episode(e, include_file=include_file,
                                                         include_series=include_series)
                                  for e in eps])

    def _records(self, req: Request) -> list[tuple[Download, dict[str, Any]]]:
        include_series = bool(req.query.get_bool("includeSeries", False))
        include_episode = bool(req.query.get_bool("includeEpisode", False))
        series_ids = {int(x) for x in req.query.get_list("seriesIds") if x.lstrip("-").isdigit()}
        episode_ids: set[int] = set()
        if req.path.lower().endswith("/details"):  # QueueDetailsController's filters
            series_id = req.query.get_int("seriesId")
            series_ids = {series_id} if series_id is not None else set()
            episode_ids = {int(x) for x in req.query.get_list("episodeIds") if x.isdigit()}
        out = []
        for dl in self.sw.downloads.values():
            if series_ids and dl.series_id not in series_ids:
                continue
            for rec in self.sw.render_queue_records(dl, include_series, include_episode):
                if episode_ids and rec.get("episodeId") not in episode_ids:
                    continue
                out.append((dl, rec))
        return out

    def queue(self, req: Request) -> Response:
        with self.world.lock:
            return self.page(req, self._records(req))

    def queue_details(self, req: Request) -> Response:
        with self.world.lock:
            return Response(200, [rec for _, rec in self._records(req)])

    def _events(self, req: Request) -> list[HistoryEvent]:
        event_type = self.sw._parse_event_type(req.query.get("eventType"))
        if event_type is None:
            return list(self.sw.history)
        return [e for e in self.sw.history if e.event_type == event_type]

    def _includes(self, req: Request) -> tuple[bool, bool]:
        return (bool(req.query.get_bool("includeSeries", False)),
                bool(req.query.get_bool("includeEpisode", False)))

    def history_since(self, req: Request) -> Response:
        when = self.since_date(req)
        inc_s, inc_e = self._includes(req)
        with self.world.lock:
            events = [e for e in self._events(req) if when is None or e.date >= when]
            events.sort(key=lambda e: (e.date, e.id))
            return Response(200, [self.sw.render_history(e, inc_s, inc_e) for e in events])

    def history_series(self, req: Request) -> Response:
        series_id = req.query.get_int("seriesId")
        season = req.query.get_int("seasonNumber")
        inc_s, inc_e = self._includes(req)
        with self.world.lock:
            events = [e for e in self._events(req) if e.series_id == series_id]
            if season is not None:
                events = [e for e in events if e.episode_id in self.sw.episodes
                          and self.sw.episodes[e.episode_id].season == season]
            events.sort(key=lambda e: (e.date, e.id), reverse=True)
            return Response(200, [self.sw.render_history(e, inc_s, inc_e) for e in events])

    def history_paged(self, req: Request) -> Response:
        page = max(1, req.query.get_int("page", 1) or 1)
        page_size = req.query.get_int("pageSize", 10) or 10
        inc_s, inc_e = self._includes(req)
        download_id = req.query.get("downloadId")
        episode_id = req.query.get_int("episodeId")
        series_ids = {int(x) for x in req.query.get_list("seriesIds") if x.isdigit()}
        descending = (req.query.get("sortDirection") or "descending").lower() != "ascending"
        with self.world.lock:
            events = [e for e in self._events(req)
                      if (download_id is None or e.download_id == download_id)
                      and (episode_id is None or e.episode_id == episode_id)
                      and (not series_ids or e.series_id in series_ids)]
            events.sort(key=lambda e: (e.date, e.id), reverse=descending)
            chunk = events[(page - 1) * page_size:page * page_size]
            return Response(200, {
                "page": page, "pageSize": page_size,
                "sortKey": req.query.get("sortKey") or "date",
                "sortDirection": "descending" if descending else "ascending",
                "totalRecords": len(events),
                "records": [self.sw.render_history(e, inc_s, inc_e) for e in chunk],
            })
