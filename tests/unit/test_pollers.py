"""Each poller on its own: its client answered by `httpx.MockTransport`, a fresh store, and
what it leaves behind read through the typed observations (`reconciler.cycle.observations`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.config import Config, load_config
from reconciler.cycle import make_clients
from reconciler.cycle.codec import OBSERVATION_VERSION
from reconciler.cycle.context import PollContext
from reconciler.cycle.nudge import waiting_path
from reconciler.cycle.observations import Observations, SeriesKey
from reconciler.cycle.poll_jellyseerr import JellyseerrPoller
from reconciler.cycle.poll_media_server import MediaServerPoller
from reconciler.cycle.poll_radarr import RadarrPoller
from reconciler.cycle.poll_shoko import ShokoPoller
from reconciler.cycle.poll_sonarr import SonarrPoller
from reconciler.models import (
    HistoryFacts,
    MediaType,
    RadarrMovie,
    SeerrRequest,
    SeerrStatus,
    SonarrEpisode,
    SonarrSeries,
)
from reconciler.results import PollOutcome
from reconciler.states import RequestState
from reconciler.store import RequestRow, Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
HTTP_DATE = "Sun, 01 Nov 2026 12:00:00 GMT"
Json = Any


@dataclass
class Routes:
    """Answers by (method, path); every request made is kept in `seen` (path, query)."""

    answers: dict[tuple[str, str], Json | Callable[[httpx.Request], httpx.Response]]
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.url.path, dict(request.url.params)))
        answer = self.answers.get((request.method, request.url.path))
        if answer is None and request.url.path == "/api/v1/status":
            answer = {"version": "2.7.3", "commitTag": "v2.7.3"}  # what every test's server runs
        if answer is None:
            return httpx.Response(404, headers={"Date": HTTP_DATE}, json={"message": "nope"})
        if callable(answer):
            return answer(request)
        return httpx.Response(200, headers={"Date": HTTP_DATE}, json=answer)

    def paths(self) -> list[str]:
        return [p for p, _ in self.seen]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[reconciler]\ndatabase = "r.db"\n'
        '[jellyseerr]\nurl = "http://seerr.test"\napi_key = "k1"\n'
        '[radarr]\nurl = "http://radarr.test"\napi_key = "k2"\n'
        '[sonarr]\nurl = "http://sonarr.test"\napi_key = "k3"\n'
        '[shoko]\nurl = "http://shoko.test"\napi_key = "k4"\n'
        '[jellyfin]\nurl = "http://jf.test"\napi_key = "k5"\n'
    )
    cfg.chmod(0o600)
    return load_config(cfg)


@pytest.fixture
def ctx(config: Config) -> Iterator[PollContext]:
    store = Store.open(config.database)
    try:
        yield PollContext(store, Observations(store), config, lambda: NOW)
    finally:
        store.close()


def client(config: Config, service: str, routes: Routes) -> Any:
    clients = dict(make_clients(config, transport=httpx.MockTransport(routes),
                                max_attempts=1).items())
    return clients[service]


def poll(ctx: PollContext, poller: Any) -> PollOutcome:
    outcome = PollOutcome(poller.service, ok=True, started=NOW)

    async def go() -> None:
        try:
            with ctx.store.transaction():
                await poller.poll(ctx, outcome)
        finally:
            await poller.client.aclose()

    asyncio.run(go())
    return outcome


def seerr_request(rid: int, media_type: str, status: int, tmdb: int,
                  tvdb: int | None = None) -> dict[str, Json]:
    return {"id": rid, "status": status, "type": media_type, "is4k": False,
            "createdAt": "2026-11-01T10:00:00.000Z", "updatedAt": f"2026-11-01T10:0{rid}:00.000Z",
            "media": {"tmdbId": tmdb, "tvdbId": tvdb, "externalServiceId": 1}, "seasons": []}


def track(ctx: PollContext, *requests: SeerrRequest) -> None:
    with ctx.store.transaction():
        for req in requests:
            ctx.seen.put_seerr_request(req, 0, NOW)


MATRIX = SeerrRequest(id=1, media_type=MediaType.MOVIE, status=SeerrStatus.APPROVED, tmdb_id=603,
                      tvdb_id=None)
SHOW = SeerrRequest(id=2, media_type=MediaType.TV, status=SeerrStatus.APPROVED, tmdb_id=1399,
                    tvdb_id=121361)


def test_jellyseerr_poller_records_requests_titles_and_the_newest_update_as_watermark(
        config: Config, ctx: PollContext) -> None:
    """A first poll lists every request completely, reads each title once, and leaves the
    newest `updatedAt` as its watermark."""
    routes = Routes({
        ("GET", "/api/v1/request"): {
            "pageInfo": {"pages": 1, "pageSize": 100, "results": 2, "page": 1},
            "results": [seerr_request(2, "movie", SeerrStatus.PENDING, 604),
                        seerr_request(1, "movie", SeerrStatus.APPROVED, 603)]},
        ("GET", "/api/v1/movie/603"): {"title": "The Matrix"},
        ("GET", "/api/v1/movie/604"): {"title": "The Matrix Reloaded"},
    })
    outcome = poll(ctx, JellyseerrPoller(client(config, "jellyseerr", routes)))
    assert outcome.full and outcome.watermark == datetime(2026, 11, 1, 10, 2, tzinfo=UTC)
    requests = ctx.seen.seerr_requests()
    assert {rid: (s.request.status, s.absent) for rid, s in requests.items()} == {
        1: (SeerrStatus.APPROVED, 0), 2: (SeerrStatus.PENDING, 0)}
    assert ctx.seen.title(MediaType.MOVIE, 603) == "The Matrix"
    assert [r.id for r in ctx.tracked(MediaType.MOVIE)] == [1]  # pending is not polled for


def test_jellyseerr_poller_counts_a_request_absent_only_when_its_id_is_gone(
        config: Config, ctx: PollContext) -> None:
    """A request missing from a complete listing is asked for by id; a 404 counts one absence."""
    track(ctx, MATRIX)
    routes = Routes({("GET", "/api/v1/request"): {
        "pageInfo": {"pages": 1, "pageSize": 100, "results": 0, "page": 1}, "results": []}})
    poll(ctx, JellyseerrPoller(client(config, "jellyseerr", routes)))
    assert "/api/v1/request/1" in routes.paths()
    assert ctx.seen.seerr_requests()[1].absent == 1


def radarr_movie(has_file: bool) -> dict[str, Json]:
    movie: dict[str, Json] = {"id": 1, "tmdbId": 603, "title": "The Matrix", "hasFile": has_file,
                              "path": "/movies/The Matrix (1999)", "tags": [3],
                              "rootFolderPath": "/movies"}
    if has_file:
        movie["movieFile"] = {"path": "/movies/The Matrix (1999)/matrix.mkv"}
    return movie


def test_radarr_poller_stores_the_tracked_film_its_queue_history_and_tags(
        config: Config, ctx: PollContext) -> None:
    """A first Radarr poll lists the films, keeps the tracked one with its queue records and
    full history, reads the tags it carries, and takes Radarr's clock as the watermark."""
    track(ctx, MATRIX)
    routes = Routes({
        ("GET", "/api/v3/queue"): {"page": 1, "pageSize": 500, "totalRecords": 2, "records": [
            {"id": 9, "movieId": 1, "downloadId": "abc", "status": "downloading",
             "trackedDownloadStatus": "ok", "trackedDownloadState": "downloading",
             "size": 100.0, "sizeleft": 25.0, "title": "The.Matrix.1999", "statusMessages": []},
            {"id": 10, "movieId": 77, "downloadId": "zzz", "status": "downloading",
             "size": 1.0, "sizeleft": 1.0, "statusMessages": []}]},
        ("GET", "/api/v3/movie"): [radarr_movie(False)],
        ("GET", "/api/v3/history/movie"): [
            {"id": 5, "eventType": "grabbed", "date": "2026-11-01T11:00:00Z", "movieId": 1,
             "sourceTitle": "The.Matrix.1999"}],
        ("GET", "/api/v3/tag"): [{"id": 3, "label": "anime"}],
        ("GET", "/api/v3/history/since"): [],
    })
    outcome = poll(ctx, RadarrPoller(client(config, "radarr", routes)))
    assert outcome.full and outcome.watermark == datetime(2026, 11, 1, 12, tzinfo=UTC)
    movie = ctx.seen.movie(603)
    assert movie is not None and movie.id == 1 and not movie.has_file
    assert [r.download_id for r in ctx.seen.queue("radarr", 1)] == ["abc"]  # untracked dropped
    assert ctx.seen.queue("radarr", 77) == ()
    history = ctx.seen.movie_history(1)
    assert history == HistoryFacts(grabbed_at=datetime(2026, 11, 1, 11, 0, tzinfo=UTC),
                                   grabbed_title="The.Matrix.1999", last_event_id=5)
    assert ctx.seen.radarr_tags() == {3: "anime"}


def test_an_observation_in_a_version_this_program_does_not_know_is_polled_again(
        config: Config, ctx: PollContext) -> None:
    """A film stored in a newer JSON form (a later version wrote it, then was rolled back) is
    never misread: it counts as not seen, so a steady (not full) Radarr poll looks the film up
    again and stores it in the current form; a request in such a form is not listed as seen."""
    track(ctx, MATRIX)
    with ctx.store.transaction():
        ctx.store.put_observation("radarr", "movie:603", {"id": 1, "tmdb": {"id": 603}}, NOW,
                                  OBSERVATION_VERSION + 1)
        ctx.store.put_observation("jellyseerr", "request:9", {"id": 9, "kind": "movie"}, NOW,
                                  OBSERVATION_VERSION + 1)
        ctx.store.record_poll("radarr", NOW, NOW, True, None, 0, 0, watermark=NOW,
                              full=True)
    assert ctx.seen.movie(603) is None
    assert set(ctx.seen.seerr_requests()) == {1}
    routes = Routes({
        ("GET", "/api/v3/queue/details"): [],
        ("GET", "/api/v3/history/since"): [],
        ("GET", "/api/v3/movie"): [radarr_movie(False)],
        ("GET", "/api/v3/history/movie"): [],
        ("GET", "/api/v3/tag"): [{"id": 3, "label": "anime"}],
    })
    outcome = poll(ctx, RadarrPoller(client(config, "radarr", routes)))
    assert not outcome.full
    assert ("/api/v3/movie", {"tmdbId": "603", "excludeLocalCovers": "true"}) in routes.seen
    movie = ctx.seen.movie(603)
    assert movie is not None and movie.id == 1 and movie.title == "The Matrix"
    stored = ctx.store.observation("radarr", "movie:603")
    assert stored is not None and stored.version == OBSERVATION_VERSION

def sonarr_episode(eid: int, number: int, has_file: bool) -> dict[str, Json]:
    ep: dict[str, Json] = {"id": eid, "seriesId": 4, "seasonNumber": 1, "episodeNumber": number,
                           "airDateUtc": "2026-10-01T00:00:00Z", "hasFile": has_file,
                           "monitored": True}
    if has_file:
        ep["episodeFileId"] = 100 + eid
        ep["episodeFile"] = {"path": f"/tv/Show/S01E0{number}.mkv"}
    return ep


def test_sonarr_poller_finds_the_series_by_tvdb_and_stores_episodes_and_their_history(
        config: Config, ctx: PollContext) -> None:
    """A first Sonarr poll finds the show's series in the list by TVDB id, reads its episodes
    and (one has no file) its history, folded per episode."""
    track(ctx, SHOW)
    routes = Routes({
        ("GET", "/api/v3/queue"): {"page": 1, "pageSize": 500, "totalRecords": 0, "records": []},
        ("GET", "/api/v3/series"): [{"id": 4, "tvdbId": 121361, "tmdbId": 1399, "title": "Show",
                                     "seriesType": "anime", "path": "/tv/Show",
                                     "seasons": [{"seasonNumber": 1, "monitored": True}]}],
        ("GET", "/api/v3/episode"): [sonarr_episode(41, 1, True), sonarr_episode(42, 2, False)],
        ("GET", "/api/v3/history/series"): [
            {"id": 8, "eventType": "downloadFailed", "date": "2026-11-01T11:00:00Z",
             "seriesId": 4, "episodeId": 42, "data": {"message": "stalled"}}],
        ("GET", "/api/v3/history/since"): [],
    })
    outcome = poll(ctx, SonarrPoller(client(config, "sonarr", routes)))
    assert outcome.full and outcome.watermark == datetime(2026, 11, 1, 12, tzinfo=UTC)
    series = ctx.seen.series(SeriesKey(121361, 1399))
    assert series == SonarrSeries(id=4, tvdb_id=121361, tmdb_id=1399, title="Show",
                                  series_type="anime", path="/tv/Show", monitored_seasons=(1,))
    episodes = ctx.seen.episodes(4)
    assert episodes is not None and [(e.id, e.has_file) for e in episodes] == [
        (41, True), (42, False)]
    histories = ctx.seen.episode_histories(4)
    assert histories is not None and histories[42].failed_message == "stalled"
    assert ("/api/v3/episode", {"seriesId": "4", "includeEpisodeFile": "true"}) in routes.seen


def shoko_file(fid: int, path: str, series: int | None) -> dict[str, Json]:
    xrefs = [] if series is None else [{
        "SeriesID": {"ID": series, "AniDB": 900 + series},
        "EpisodeIDs": [{"ID": 500 + fid, "AniDB": 7000 + fid}]}]
    return {"ID": fid, "Locations": [{"RelativePath": path}], "SeriesIDs": xrefs}


def test_shoko_poller_looks_up_an_imported_film_and_an_anime_shows_episode_files(
        config: Config, ctx: PollContext) -> None:
    """Shoko is asked about the film Radarr has a file for (by path and TMDB id) and about the
    anime show's episode files by path; the show's Shoko series are kept with their AniDB ids."""
    track(ctx, MATRIX, SHOW)
    with ctx.store.transaction():
        ctx.seen.put_movie(603, matrix_on_disk(), NOW)
        key = SeriesKey(121361, 1399)
        ctx.seen.put_series(key, SonarrSeries(id=4, tvdb_id=121361, tmdb_id=1399, title="Show",
                                              series_type="anime"), NOW)
        aired = datetime(2026, 10, 1, tzinfo=UTC)
        ctx.seen.put_episodes(4, [SonarrEpisode(41, 4, 1, 1, aired, True,
                                                file_path="/tv/Show/S01E01.mkv")], NOW)
        ctx.store.save_request(request_row(SHOW), None)

    def by_path(request: httpx.Request) -> httpx.Response:
        tail = request.url.params["path"]
        # The tail as sent: with its leading separator (Shoko's EndsWith has no boundary).
        files = {"/Show/S01E01.mkv": [shoko_file(2, "Show/S01E01.mkv", 12)],
                 "/The Matrix (1999)/matrix.mkv": [
                     shoko_file(1, "The Matrix (1999)/matrix.mkv", None)]}.get(tail, [])
        return httpx.Response(200, json=files)

    routes = Routes({
        ("GET", "/api/v3/File/PathEndsWith"): by_path,
        ("GET", "/api/v3/Tmdb/Movie/603/Shoko/File"): {"Total": 0, "List": []},
        ("GET", "/api/v3/Tmdb/Show/1399/Shoko/Series"): [],
    })
    poll(ctx, ShokoPoller(client(config, "shoko", routes)))
    film = ctx.seen.shoko_movie(603)
    assert film is not None and film.id == 1 and not film.matched
    episode = ctx.seen.shoko_episode(41)
    assert episode is not None and episode.matched and episode.episode_ids == (502,)
    assert ctx.seen.shoko_show(1399) == {12: (912,)}


def matrix_on_disk() -> RadarrMovie:
    return RadarrMovie(id=1, tmdb_id=603, title="The Matrix", has_file=True,
                       file_path="/movies/The Matrix (1999)/matrix.mkv")


def request_row(req: SeerrRequest) -> RequestRow:
    return RequestRow(
        id=req.id, media_type=MediaType(req.media_type), title=None, tmdb_id=req.tmdb_id,
        tvdb_id=req.tvdb_id, is4k=False, is_anime=True, seerr_status=req.status, seasons=[],
        radarr_movie_id=None, sonarr_series_id=4, jellyfin_item_id=None, jellyfin_key=None,
        shoko_ids={}, state=RequestState.IMPORTING, state_since=NOW, via="sonarr", detail="",
        progress=None, phase="waiting_for_jellyfin", phase_since=NOW, progress_since=NOW,
        stuck_reason=None, stuck_since=None, episodes_available=0, episodes_aired=1,
        absent_count=0, created_at=None, updated_at=None)


def jf_item(iid: str, tmdb: str) -> dict[str, Json]:
    return {"Id": iid, "Type": "Movie", "Name": iid, "LocationType": "FileSystem",
            "Path": f"/media/{iid}.mkv", "ProviderIds": {"Tmdb": tmdb}}


def test_jellyfin_poller_indexes_the_library_and_removes_an_item_after_two_absences(
        config: Config, ctx: PollContext) -> None:
    """A complete listing fills the index; an item missing from later complete listings is
    checked by id and leaves the index on its second absence."""
    library = [jf_item("a", "603"), jf_item("b", "604")]

    def items(request: httpx.Request) -> httpx.Response:
        if "Ids" in request.url.params:
            wanted = request.url.params["Ids"].split(",")
            found = [i for i in library if i["Id"] in wanted]
            return httpx.Response(200, json={"Items": found, "TotalRecordCount": len(found)})
        return httpx.Response(200, headers={"Date": HTTP_DATE}, json={
            "Items": library, "TotalRecordCount": len(library), "StartIndex": 0})

    routes = Routes({("GET", "/Items"): items})
    outcome = poll(ctx, MediaServerPoller(client(config, "jellyfin", routes)))
    assert outcome.full and outcome.watermark == datetime(2026, 11, 1, 12, tzinfo=UTC)
    assert ctx.store.items.all_ids() == {"a", "b"}
    assert [i.id for i in ctx.store.items.by_provider([("tmdb", "603")])] == ["a"]

    library.pop()  # "b" leaves Jellyfin
    for _ in range(2):
        with ctx.store.transaction():  # forget the watermark's age: every poll lists it all
            ctx.store.record_poll("jellyfin", NOW, NOW, True, None, 1, 1, None, False)
        poll(ctx, MediaServerPoller(client(config, "jellyfin", routes)))
    assert ctx.store.items.all_ids() == {"a"}


def test_the_nudge_looks_for_the_file_radarr_reported(ctx: PollContext) -> None:
    """A film waiting for Jellyfin is looked for in the library holding Radarr's file."""
    with ctx.store.transaction():
        ctx.seen.put_movie(603, matrix_on_disk(), NOW)
    row = request_row(MATRIX)
    row.media_type = "movie"
    assert waiting_path(ctx.store, ctx.seen, row) == "/movies/The Matrix (1999)/matrix.mkv"


def queue_record(record_id: int, download_id: str | None, status: str = "downloading",
                 sizeleft: float = 60.0) -> dict[str, Json]:
    record: dict[str, Json] = {
        "id": record_id, "movieId": 1, "status": status, "trackedDownloadStatus": "ok",
        "trackedDownloadState": "downloading", "size": 100.0, "sizeleft": sizeleft,
        "title": "The.Matrix.1999", "statusMessages": []}
    if download_id is not None:
        record["downloadId"] = download_id
    return record


def test_radarr_poller_keeps_a_download_gone_from_the_queue_and_confirms_it_a_poll_later(
        config: Config, ctx: PollContext) -> None:
    """A download stored at the last poll and missing now is kept as departed, with the grab it
    came from; the next poll still without it confirms it; a steady poll writes nothing; a
    pending release (no download in the client yet) leaving the queue is none; the film in the
    queue again drops it."""
    track(ctx, MATRIX)
    queue: list[Json] = [queue_record(9, "abc"), queue_record(10, None, status="delay")]
    routes = Routes({
        ("GET", "/api/v3/queue/details"): lambda _: httpx.Response(
            200, headers={"Date": HTTP_DATE}, json=list(queue)),
        ("GET", "/api/v3/movie"): [radarr_movie(False)],
        ("GET", "/api/v3/history/movie"): [
            {"id": 5, "eventType": "grabbed", "date": "2026-11-01T11:00:00Z", "movieId": 1,
             "sourceTitle": "The.Matrix.1999"}],
        ("GET", "/api/v3/history/since"): [],
        ("GET", "/api/v3/tag"): [],
    })

    def radarr_poll() -> None:
        poll(ctx, RadarrPoller(client(config, "radarr", routes)))

    radarr_poll()
    assert ctx.seen.departed("radarr", 1) == ()
    queue.clear()
    radarr_poll()
    (gone,) = ctx.seen.departed("radarr", 1)
    assert (gone.download_id, gone.title, gone.confirmed) == ("abc", "The.Matrix.1999", False)
    assert gone.grabbed_at == datetime(2026, 11, 1, 11, tzinfo=UTC)
    assert gone.progress == pytest.approx(0.4) and gone.gone_at == NOW
    radarr_poll()
    (gone,) = ctx.seen.departed("radarr", 1)
    assert gone.confirmed
    ctx.store.rows_written = 0
    radarr_poll()
    assert ctx.store.rows_written == 0
    queue.append(queue_record(11, "def"))
    radarr_poll()
    assert ctx.seen.departed("radarr", 1) == ()
