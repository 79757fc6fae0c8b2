"""The simulated media stack, over real HTTP: auth, shapes, paging, world verbs, faults, stats."""

from __future__ import annotations

import asyncio
import email.utils
import json
import threading
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from simstack import SimulatedStack, World
from simstack.jellyseerr import (
    APPROVED,
    COMPLETED,
    MEDIA_AVAILABLE,
    MEDIA_PROCESSING,
    PENDING,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def world() -> World:
    return World(T0)


@pytest.fixture
def stack(world: World) -> Iterator[SimulatedStack]:
    with SimulatedStack(world) as s:
        yield s


def client(stack: SimulatedStack, service: str, **kwargs: Any) -> httpx.Client:
    key = stack.api_keys[service]
    headers = {
        "jellyseerr": {"X-Api-Key": key},
        "radarr": {"X-Api-Key": key},
        "sonarr": {"X-Api-Key": key},
        "shoko": {"apikey": key},
        "jellyfin": {"Authorization": f'MediaBrowser Token="{key}"'},
    }[service]
    # Plain HTTP: verify=False spares loading a CA bundle for every client.
    return httpx.Client(base_url=stack.urls[service], headers=headers, verify=False, **kwargs)


_PLAIN = httpx.Client(verify=False)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return _PLAIN.get(url, **kwargs)


@pytest.fixture(scope="module", autouse=True)
def _close_plain_client() -> Iterator[None]:
    yield
    _PLAIN.close()


# -- stack, auth ---------------------------------------------------------------------------

OPEN = {
    "jellyseerr": "/api/v1/status",
    "radarr": "/ping",
    "sonarr": "/ping",
    "shoko": "/api/v3/Init/Status",
    "jellyfin": "/System/Info/Public",
}
PROTECTED = {
    "jellyseerr": "/api/v1/request",
    "radarr": "/api/v3/movie",
    "sonarr": "/api/v3/series",
    "shoko": "/api/v3/File/PathEndsWith?path=x.mkv",
    "jellyfin": "/Items",
}
WRONG_KEY = {
    "jellyseerr": {"X-Api-Key": "nope"},
    "radarr": {"X-Api-Key": "nope"},
    "sonarr": {"X-Api-Key": "nope"},
    "shoko": {"apikey": "nope"},
    "jellyfin": {"Authorization": 'MediaBrowser Token="nope"'},
}


def test_urls_and_open_endpoints(stack: SimulatedStack) -> None:
    assert set(stack.urls) == {"jellyseerr", "radarr", "sonarr", "shoko", "jellyfin"}
    for service, path in OPEN.items():
        assert stack.urls[service].startswith("http://127.0.0.1:")
        r = get(stack.urls[service] + path)
        assert r.status_code == 200, service
    assert get(stack.urls["radarr"] + "/ping").json() == {"status": "OK"}
    assert get(stack.urls["shoko"] + "/api/v3/Init/Status").json()["State"] == "Started"
    info = get(stack.urls["jellyfin"] + "/System/Info/Public").json()
    assert info["ProductName"] == "Jellyfin Server" and info["Version"].startswith("10.11")
    assert get(stack.urls["jellyseerr"] + OPEN["jellyseerr"]).json()["version"] == "3.2.0"


@pytest.mark.parametrize("service", sorted(PROTECTED))
def test_auth_rejected_and_accepted(stack: SimulatedStack, service: str) -> None:
    url = stack.urls[service] + PROTECTED[service]
    missing = get(url)
    wrong = get(url, headers=WRONG_KEY[service])
    if service == "jellyseerr":
        # as recorded on real 2.2.3 - 3.1.0: the OpenAPI validator's 401 for a missing key
        assert missing.status_code == 401
        assert missing.json() == {"message": "cookie 'connect.sid' required", "errors": [
            {"path": PROTECTED[service], "message": "cookie 'connect.sid' required"}]}
        assert wrong.status_code == 403
        assert wrong.json() == {"status": 403,
                                "error": "You do not have permission to access this endpoint"}
    else:
        for r in (missing, wrong):
            assert r.status_code == 401
            if service in ("radarr", "sonarr"):
                assert r.content == b""
    with client(stack, service) as c:
        assert c.get(PROTECTED[service]).status_code == 200


def test_jellyfin_token_variants(stack: SimulatedStack) -> None:
    key = stack.api_keys["jellyfin"]
    url = stack.urls["jellyfin"] + "/Items"
    assert get(url, headers={"X-Emby-Token": key}).status_code == 200
    full = (f'MediaBrowser Client="reconciler", Device="x", DeviceId="y", Version="1", '
            f'Token="{key}"')
    assert get(url, headers={"Authorization": full}).status_code == 200
    assert get(url, headers={"X-Emby-Token": "bad"}).status_code == 401


def test_subset_and_custom_keys(world: World) -> None:
    with SimulatedStack(world, services=["radarr"], api_keys={"radarr": "k1"}) as s:
        assert list(s.urls) == ["radarr"]
        r = get(s.urls["radarr"] + "/api/v3/tag", headers={"X-Api-Key": "k1"})
        assert r.status_code == 200 and r.json() == []
        assert get(s.urls["radarr"] + "/api/v3/tag?apikey=k1").status_code == 200


# -- Jellyseerr ----------------------------------------------------------------------------

def test_jellyseerr_requests_paging_sorting_filters(stack: SimulatedStack, world: World) -> None:
    seerr = world.jellyseerr
    ids = []
    for n in range(12):
        world.advance(10)
        ids.append(seerr.add_request(1000 + n, "movie", f"Film {n}",
                                     status=PENDING if n % 3 == 0 else APPROVED))
    tv = seerr.add_request(1399, "tv", "Game of Thrones", tvdb_id=121361, seasons=[1, 2])
    with client(stack, "jellyseerr") as c:
        page = c.get("/api/v1/request", params={"filter": "all"}).json()
        assert page["pageInfo"] == {"pages": 2, "pageSize": 10, "results": 13, "page": 1}
        assert [r["id"] for r in page["results"]] == [tv, *reversed(ids)][:10]
        second = c.get("/api/v1/request", params={"take": 10, "skip": 10}).json()
        assert second["pageInfo"]["page"] == 2 and len(second["results"]) == 3

        world.advance(60)
        seerr.set_request_status(ids[0], APPROVED)
        modified = c.get("/api/v1/request", params={"sort": "modified", "take": 3}).json()
        assert modified["results"][0]["id"] == ids[0]
        assert modified["results"][0]["updatedAt"] == "2026-03-01T12:03:00.000Z"

        pending = c.get("/api/v1/request", params={"filter": "pending", "take": 50}).json()
        assert {r["id"] for r in pending["results"]} == {ids[3], ids[6], ids[9]}

        got = c.get(f"/api/v1/request/{tv}").json()
        assert got["type"] == "tv" and got["media"]["tvdbId"] == 121361
        assert [s["seasonNumber"] for s in got["seasons"]] == [1, 2]
        assert got["seasonCount"] == 2 and got["media"]["status"] == MEDIA_PROCESSING
        assert got["requestedBy"]["id"] == 1 and "createdAt" in got["requestedBy"]
        missing = c.get("/api/v1/request/9999")
        assert missing.status_code == 404 and missing.json() == {"message": "Request not found."}


def test_jellyseerr_media_status_completes_requests(stack: SimulatedStack,
                                                    world: World) -> None:
    seerr = world.jellyseerr
    rid = seerr.add_request(603, "movie", "The Matrix", imdb_id="tt0133093",
                            external_service_id=7)
    world.advance(30)
    seerr.set_media_status(603, MEDIA_AVAILABLE)
    seerr.update_media(603, jellyfin_media_id="ab" * 16)
    with client(stack, "jellyseerr") as c:
        req = c.get(f"/api/v1/request/{rid}").json()
        assert req["status"] == COMPLETED
        assert req["media"]["status"] == MEDIA_AVAILABLE
        assert req["media"]["externalServiceId"] == 7
        assert req["media"]["jellyfinMediaId"] == "ab" * 16
        assert req["media"]["serviceUrl"].endswith("/movie/603")
        movie = c.get("/api/v1/movie/603").json()
        assert movie["title"] == "The Matrix" and movie["mediaInfo"]["requests"][0]["id"] == rid
        unknown = c.get("/api/v1/movie/1")  # Seerr wraps every TMDB failure in this 500
        assert unknown.status_code == 500
        assert unknown.json() == {"message": "Unable to retrieve movie."}
        seerr.add_title(1399, "tv", "Game of Thrones", date="2011-04-17", seasons={1: 10, 2: 10})
        tv = c.get("/api/v1/tv/1399").json()
        assert tv["name"] == "Game of Thrones" and len(tv["seasons"]) == 2
        assert tv["firstAirDate"] == "2011-04-17"
        seerr.delete_request(rid)
        assert c.get(f"/api/v1/request/{rid}").status_code == 404


# -- Radarr --------------------------------------------------------------------------------

def test_radarr_movies_and_lookup(stack: SimulatedStack, world: World) -> None:
    radarr = world.radarr
    mid = radarr.add_movie(603, "The Matrix", year=1999, imdb_id="tt0133093",
                           tags=["anime", "4k"])
    with client(stack, "radarr") as c:
        assert c.get("/api/v3/movie", params={"tmdbId": 1}).json() == []
        assert c.get("/api/v3/movie", params={"tmdbId": 0}).json() == []
        [movie] = c.get("/api/v3/movie", params={"tmdbId": 603}).json()
        assert movie["id"] == mid and movie["hasFile"] is False and "movieFile" not in movie
        assert movie["path"] == "/data/movies/The Matrix (1999)"
        assert movie["rootFolderPath"] == "/data/movies"
        assert c.get("/api/v3/tag").json() == [{"id": 1, "label": "anime"},
                                                {"id": 2, "label": "4k"}]
        assert movie["tags"] == [1, 2]
        assert c.get("/api/v3/movie/999").status_code == 404
        assert c.get(f"/api/v3/movie/{mid}").json()["tmdbId"] == 603
        status = c.get("/api/v3/system/status").json()
        assert status["appName"] == "Radarr" and status["version"].startswith("5.")


def test_radarr_download_lifecycle(stack: SimulatedStack, world: World) -> None:
    radarr = world.radarr
    mid = radarr.add_movie(603, "The Matrix", year=1999)
    start = world.now
    did = radarr.grab(mid, size=1000)
    with client(stack, "radarr") as c:
        def record() -> dict[str, Any]:
            data = c.get("/api/v3/queue", params={"includeMovie": "true"}).json()
            assert data["totalRecords"] == 1
            rec: dict[str, Any] = data["records"][0]
            return rec

        rec = record()
        assert (rec["status"], rec["trackedDownloadState"]) == ("queued", "downloading")
        assert rec["movie"]["id"] == mid and rec["downloadId"] == did
        for key in ("languages", "quality", "customFormats", "title", "protocol",
                    "downloadClient", "indexer", "outputPath", "id", "statusMessages"):
            assert key in rec
        radarr.progress(did, 0.25)
        rec = record()
        assert rec["status"] == "downloading" and rec["sizeleft"] == 750
        assert "timeleft" in rec and "estimatedCompletionTime" in rec
        radarr.complete_download(did)
        assert record()["trackedDownloadState"] == "importPending"
        radarr.warn(did, ["Unable to parse file"], state="importBlocked")
        rec = record()
        assert rec["trackedDownloadStatus"] == "warning"
        assert rec["trackedDownloadState"] == "importBlocked"
        assert rec["statusMessages"][0]["messages"] == ["Unable to parse file"]
        radarr.clear_warnings(did)
        radarr.start_import(did)
        assert record()["trackedDownloadState"] == "importing"
        world.advance(30)
        fid = radarr.import_file(download_id=did, relative_path="The.Matrix.1999.mkv")
        assert c.get("/api/v3/queue").json()["totalRecords"] == 0
        movie = c.get(f"/api/v3/movie/{mid}").json()
        assert movie["hasFile"] is True and movie["movieFileId"] == fid
        assert movie["movieFile"]["path"] == "/data/movies/The Matrix (1999)/The.Matrix.1999.mkv"
        history = c.get("/api/v3/history/movie", params={"movieId": mid}).json()
        assert [h["eventType"] for h in history] == ["downloadFolderImported", "grabbed"]
        assert all(h["downloadId"] == did for h in history)
        imported = c.get("/api/v3/history/movie", params={"movieId": mid, "eventType": 3}).json()
        assert [h["eventType"] for h in imported] == ["downloadFolderImported"]
        since = c.get("/api/v3/history/since",
                      params={"date": (start + timedelta(seconds=1)).isoformat()}).json()
        assert [h["eventType"] for h in since] == ["downloadFolderImported"]
        everything = c.get("/api/v3/history/since", params={"date": start.isoformat()}).json()
        assert [h["eventType"] for h in everything] == ["grabbed", "downloadFolderImported"]
        by_name = c.get("/api/v3/history/since",
                        params={"date": start.isoformat(), "eventType": "grabbed"}).json()
        assert len(by_name) == 1


def test_radarr_failures_and_queue_paging(stack: SimulatedStack, world: World) -> None:
    radarr = world.radarr
    dids = [radarr.grab(radarr.add_movie(100 + n, f"Film {n}")) for n in range(12)]
    with client(stack, "radarr") as c:
        first = c.get("/api/v3/queue").json()
        assert (first["page"], first["pageSize"], first["totalRecords"]) == (1, 10, 12)
        assert len(first["records"]) == 10
        second = c.get("/api/v3/queue", params={"page": 2}).json()
        assert len(second["records"]) == 2
        ids = {r["id"] for r in first["records"]} | {r["id"] for r in second["records"]}
        assert len(ids) == 12
        radarr.mark_failed_pending(dids[0], "Unpack failed")
        records = c.get("/api/v3/queue", params={"pageSize": 50}).json()["records"]
        failing = next(r for r in records if r["downloadId"] == dids[0])
        assert failing["trackedDownloadState"] == "failedPending"
        assert failing["errorMessage"] == "Unpack failed"
        radarr.fail_download(dids[0], "Unpack failed")
        assert c.get("/api/v3/queue").json()["totalRecords"] == 11
        failed = c.get("/api/v3/history/since",
                       params={"date": T0.isoformat(), "eventType": 4}).json()
        assert failed[0]["eventType"] == "downloadFailed"
        assert failed[0]["data"]["message"] == "Unpack failed"


# -- Sonarr --------------------------------------------------------------------------------

def test_sonarr_series_episodes_and_statistics(stack: SimulatedStack, world: World) -> None:
    sonarr = world.sonarr
    sid = sonarr.add_series(121361, "Game of Thrones", tmdb_id=1399, seasons={1: 10, 2: 8})
    upcoming = sonarr.add_episode(sid, 2, 9, T0 + timedelta(days=3))
    with client(stack, "sonarr") as c:
        [series] = c.get("/api/v3/series", params={"tvdbId": 121361}).json()
        assert c.get("/api/v3/series", params={"tvdbId": 5}).json() == []
        assert series["seriesType"] == "standard" and series["tmdbId"] == 1399
        assert series["statistics"]["totalEpisodeCount"] == 19
        assert series["statistics"]["episodeCount"] == 18  # monitored and aired
        assert series["seasons"][1]["statistics"]["nextAiring"].startswith("2026-03-04")
        eps = c.get("/api/v3/episode", params={"seriesId": sid, "seasonNumber": 2}).json()
        assert [e["episodeNumber"] for e in eps] == list(range(1, 10))
        assert eps[-1]["id"] == upcoming and eps[-1]["hasFile"] is False
        assert c.get("/api/v3/series/99").status_code == 404


def test_sonarr_season_pack_and_multi_episode_files(stack: SimulatedStack,
                                                    world: World) -> None:
    sonarr = world.sonarr
    sid = sonarr.add_series(121361, "Game of Thrones", seasons={1: 4})
    did = sonarr.grab(sid, season=1, size=4000)
    sonarr.progress(did, 0.5)
    with client(stack, "sonarr") as c:
        queue = c.get("/api/v3/queue", params={"includeEpisode": "true",
                                               "includeSeries": "true"}).json()
        assert queue["totalRecords"] == 4
        records = queue["records"]
        assert {r["downloadId"] for r in records} == {did}
        assert {(r["size"], r["sizeleft"]) for r in records} == {(4000.0, 2000.0)}
        assert sorted(r["episodeId"] for r in records) == sonarr.episode_ids(sid, 1)
        assert len({r["id"] for r in records}) == 4
        assert all(r["episode"]["seasonNumber"] == 1 and r["series"]["id"] == sid
                   and r["episodeHasFile"] is False for r in records)
        sonarr.complete_download(did)
        files = sonarr.import_download(did, episodes_per_file=2)
        assert len(files) == 2
        assert c.get("/api/v3/queue").json()["totalRecords"] == 0
        eps = c.get("/api/v3/episode", params={"seriesId": sid,
                                               "includeEpisodeFile": "true"}).json()
        assert [e["episodeFileId"] for e in eps] == [files[0], files[0], files[1], files[1]]
        assert eps[0]["episodeFile"]["id"] == files[0]
        assert eps[0]["episodeFile"]["relativePath"].startswith("Season 01/")
        series = c.get(f"/api/v3/series/{sid}").json()
        assert series["statistics"]["episodeFileCount"] == 4
        assert series["statistics"]["percentOfEpisodes"] == 100.0
        imported = c.get("/api/v3/history/series",
                         params={"seriesId": sid, "seasonNumber": 1, "eventType": 3}).json()
        assert len(imported) == 4 and {h["downloadId"] for h in imported} == {did}
        grabbed = c.get("/api/v3/history/since",
                        params={"date": T0.isoformat(), "eventType": 1,
                                "includeEpisode": "true"}).json()
        assert len(grabbed) == 4 and "episode" in grabbed[0]


# -- Shoko ---------------------------------------------------------------------------------

def test_shoko_path_ends_with(stack: SimulatedStack, world: World) -> None:
    shoko = world.shoko
    fid = shoko.add_file("Violet Evergarden/Violet.Evergarden.The.Movie.mkv")
    other = shoko.add_file("/Other/Violet.Evergarden.The.Movie.mkv")
    with client(stack, "shoko") as c:
        def find(suffix: str, **params: Any) -> list[dict[str, Any]]:
            r = c.get("/api/v3/File/PathEndsWith",
                      params={"path": suffix, "includeXRefs": "true", **params})
            assert r.status_code == 200
            result: list[dict[str, Any]] = r.json()
            return result

        assert [f["ID"] for f in find("violet.evergarden.the.movie.MKV")] == [fid, other]
        assert [f["ID"] for f in find("Violet Evergarden\\Violet.Evergarden.The.Movie.mkv")] \
            == [fid]
        assert [f["ID"] for f in find("/violet evergarden/violet.evergarden.the.movie.mkv")] \
            == [fid]
        assert [f["ID"] for f in find("other/violet.evergarden.the.movie.mkv")] == [other]
        assert find("Evergarden.The.Movie.mkv", limit=1)[0]["ID"] == fid
        assert find("nothing.mkv") == []
        unmatched = find("Violet Evergarden/Violet.Evergarden.The.Movie.mkv")[0]
        assert unmatched["SeriesIDs"] == [] and unmatched["Imported"] is None
        loc = unmatched["Locations"][0]
        assert loc["RelativePath"] == "Violet Evergarden/Violet.Evergarden.The.Movie.mkv"
        assert loc["ImportFolderID"] == 1 and loc["IsAccessible"] is True

        world.advance(60)
        sid = shoko.add_series(1234, "Violet Evergarden: The Movie", tmdb_movie_ids=[533514])
        eid = shoko.add_episode(sid, 5555, tmdb_movie_ids=[533514])
        shoko.match_file(fid, sid, [eid])
        matched = find("Violet Evergarden/Violet.Evergarden.The.Movie.mkv")[0]
        assert matched["Imported"] == "2026-03-01T12:01:00Z"
        xref = matched["SeriesIDs"][0]
        assert xref["SeriesID"]["ID"] == sid and xref["SeriesID"]["AniDB"] == 1234
        assert xref["SeriesID"]["TMDB"]["Movie"] == [533514]
        assert xref["EpisodeIDs"][0]["ID"] == eid
        assert xref["EpisodeIDs"][0]["TMDB"]["Movie"] == [533514]
        # Shoko 5.x: PathEndsWith's includeXRefs defaults to true
        plain = c.get("/api/v3/File/PathEndsWith", params={"path": "The.Movie.mkv"}).json()
        assert plain[0]["SeriesIDs"][0]["SeriesID"]["ID"] == sid
        bare = c.get("/api/v3/File/PathEndsWith",
                     params={"path": "The.Movie.mkv", "includeXRefs": "false"}).json()
        assert "SeriesIDs" not in bare[0]
        assert c.get("/api/v3/File/PathEndsWith").status_code == 400


def test_shoko_tmdb_lookups(stack: SimulatedStack, world: World) -> None:
    shoko = world.shoko
    with client(stack, "shoko") as c:
        gone = c.get("/api/v3/Tmdb/Movie/533514/Shoko/Series")
        assert gone.status_code == 404 and gone.json()["title"] == "Not Found"
        sid = shoko.add_series(1234, "Violet Evergarden: The Movie", tmdb_movie_ids=[533514])
        eid = shoko.add_episode(sid, 5555)
        fid = shoko.add_file("Violet/movie.mkv")
        shoko.match_file(fid, sid, [eid])
        [series] = c.get("/api/v3/Tmdb/Movie/533514/Shoko/Series").json()
        assert series["IDs"]["ID"] == sid and series["Name"] == "Violet Evergarden: The Movie"
        assert series["IDs"]["TMDB"]["Movie"] == [533514]
        page = c.get("/api/v3/Tmdb/Movie/533514/Shoko/File", params={"include": "XRefs"}).json()
        files = page["List"]
        assert page["Total"] == 1
        assert [f["ID"] for f in files] == [fid] and files[0]["SeriesIDs"]
        assert c.get("/api/v3/Tmdb/Show/154494/Shoko/Series").status_code == 404
        show = shoko.add_series(17000, "Lycoris Recoil", tmdb_show_ids=[154494])
        assert c.get("/api/v3/Tmdb/Show/154494/Shoko/Series").json()[0]["IDs"]["ID"] == show
        assert c.get(f"/api/v3/Series/{sid}").json()["IDs"]["AniDB"] == 1234
        episode = c.get(f"/api/v3/Episode/{eid}").json()
        assert episode["IDs"]["ParentSeries"] == sid and episode["IDs"]["AniDB"] == 5555
        assert c.get("/api/v3/Series/999").status_code == 404


# -- Jellyfin ------------------------------------------------------------------------------

def test_jellyfin_items_paging_fields_and_filters(stack: SimulatedStack, world: World) -> None:
    jf = world.jellyfin
    jf.add_library("Movies", ["/data/movies"], "movies")
    jf.add_library("Shows", ["/data/tv"], "tvshows")
    matrix = jf.add_movie("The Matrix", tmdb_id=603, imdb_id="tt0133093", year=1999)
    got = jf.add_series("Game of Thrones", tvdb_id=121361, tmdb_id=1399)
    ep1 = jf.add_episode(got, 1, 1, provider_ids={"Tvdb": "3254641"})
    virtual = jf.add_episode(got, 1, 2, location_type="Virtual")
    jf.populate(120)
    with client(stack, "jellyfin") as c:
        params = {"Recursive": "true", "IncludeItemTypes": "Movie,Series,Episode"}
        everything = c.get("/Items", params=params).json()
        total = everything["TotalRecordCount"]
        seen: list[str] = []
        for start in range(0, total, 25):
            page = c.get("/Items", params={**params, "StartIndex": start, "Limit": 25}).json()
            assert page["StartIndex"] == start and page["TotalRecordCount"] == total
            seen += [i["Id"] for i in page["Items"]]
        assert seen == [i["Id"] for i in everything["Items"]] and len(set(seen)) == total
        assert {i["Type"] for i in everything["Items"]} == {"Movie", "Series", "Episode"}

        bare = everything["Items"][seen.index(matrix)]
        assert "Path" not in bare and "ProviderIds" not in bare and "DateLastSaved" not in bare
        assert bare["ServerId"] == jf.server_id and len(bare["Id"]) == 32
        fields = "ProviderIds,Path,DateLastSaved,DateCreated"
        rich = c.get("/Items", params={"ids": matrix, "fields": fields}).json()["Items"][0]
        assert rich["ProviderIds"] == {"Tmdb": "603", "Imdb": "tt0133093"}
        assert rich["Path"] == "/data/movies/The Matrix (1999)/The Matrix (1999).mkv"
        assert "DateLastSaved" not in rich and rich["DateCreated"].endswith("0Z")
        assert (rich["LocationType"], rich["IsFolder"], rich["MediaType"]) == \
            ("FileSystem", False, "Video")

        # AnyProviderIdEquals is ignored by Jellyfin: it narrows nothing.
        ignored = c.get("/Items", params={**params, "AnyProviderIdEquals": "tmdb.603"}).json()
        assert ignored["TotalRecordCount"] == total

        episode = c.get("/Items", params={"Ids": ep1, "Fields": "ProviderIds"}).json()["Items"][0]
        assert (episode["SeriesId"], episode["IndexNumber"], episode["ParentIndexNumber"]) == \
            (got, 1, 1)
        assert episode["SeriesName"] == "Game of Thrones" and "SeasonId" in episode

        missing = c.get("/Items", params={**params, "IsMissing": "true"}).json()
        assert virtual in [i["Id"] for i in missing["Items"]]
        present = c.get("/Items", params={**params, "ExcludeLocationTypes": "Virtual"}).json()
        assert virtual not in [i["Id"] for i in present["Items"]]
        movies = c.get("/Items", params={"recursive": "TRUE", "includeItemTypes": "movie"}).json()
        assert {i["Type"] for i in movies["Items"]} == {"Movie"}
        flat = c.get("/Items", params={"IncludeItemTypes": "Movie"}).json()  # no Recursive
        assert flat["Items"] == [] and flat["TotalRecordCount"] == 0
        views = c.get("/Items").json()["Items"]
        assert {v["Type"] for v in views} == {"CollectionFolder"} and len(views) == 3
        under = c.get("/Items", params={"Recursive": "true", "ParentId": got}).json()
        assert {i["Type"] for i in under["Items"]} == {"Season", "Episode"}
        no_count = c.get("/Items", params={**params, "Limit": 5,
                                           "EnableTotalRecordCount": "false"}).json()
        assert no_count["TotalRecordCount"] == 5

        shows = c.get(f"/Shows/{got}/Episodes", params={"IsMissing": "false",
                                                        "Fields": "Path"}).json()
        assert [i["Id"] for i in shows["Items"]] == [ep1] and "Path" in shows["Items"][0]
        assert c.get("/Shows/" + "0" * 32 + "/Episodes").status_code == 404
        folders = c.get("/Library/VirtualFolders").json()
        assert {f["Name"]: f["CollectionType"] for f in folders} == \
            {"Movies": "movies", "Shows": "tvshows", "Anime": "tvshows"}
        assert all(f["ItemId"] and f["Locations"] for f in folders)


def test_jellyfin_date_header_and_min_date_last_saved(stack: SimulatedStack,
                                                      world: World) -> None:
    jf = world.jellyfin
    old = jf.add_movie("Old Film", tmdb_id=1)
    with client(stack, "jellyfin") as c:
        r = c.get("/Items", params={"Recursive": "true"})
        assert r.headers["Date"] == "Sun, 01 Mar 2026 12:00:00 GMT"
        watermark = email.utils.parsedate_to_datetime(r.headers["Date"])
        world.advance(90)
        new = jf.add_movie("New Film", tmdb_id=2)
        r2 = c.get("/Items", params={"Recursive": "true",
                                     "MinDateLastSaved": watermark.isoformat()})
        assert r2.headers["Date"] == "Sun, 01 Mar 2026 12:01:30 GMT"
        assert {i["Id"] for i in r2.json()["Items"]} == {old, new}  # old: saved at 12:00:00
        later = email.utils.parsedate_to_datetime(r2.headers["Date"])
        world.advance(30)
        jf.update_item(old, provider_ids={"Tmdb": "1", "Imdb": "tt1"})
        r3 = c.get("/Items", params={"Recursive": "true", "MinDateLastSaved":
                                     later.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")})
        assert {i["Id"] for i in r3.json()["Items"]} == {old, new}  # new: saved at 12:01:30
        after = (later + timedelta(seconds=1)).isoformat()
        r4 = c.get("/Items", params={"Recursive": "true", "MinDateLastSaved": after})
        assert [i["Id"] for i in r4.json()["Items"]] == [old]
        jf.remove_item(old)
        assert c.get("/Items", params={"Ids": old}).json()["Items"] == []
        assert c.get("/Items", params={"Recursive": "true"}).json()["TotalRecordCount"] == 1


def test_jellyfin_pending_items_and_refresh(stack: SimulatedStack, world: World) -> None:
    jf = world.jellyfin
    movies = jf.add_library("Movies", ["/data/movies"], "movies")
    film = jf.add_movie("Greenland 2", tmdb_id=840464, year=2026, pending=True)
    with client(stack, "jellyfin") as c:
        def listed() -> list[str]:
            return [i["Id"] for i in c.get("/Items", params={"Recursive": "true"}).json()["Items"]]

        assert listed() == []
        assert c.post(f"/Items/{movies}/Refresh").status_code == 204
        assert listed() == [film]
        assert jf.refresh_calls[-1].library_id == movies

        jf.scan_delay = 60
        later = jf.add_movie("Later", tmdb_id=5, pending=True)
        assert c.post("/Library/Refresh").status_code == 204
        assert listed() == [film]
        world.advance(61)
        assert set(listed()) == {film, later}

        jf.scan_on_refresh = False
        manual = jf.add_movie("Manual", tmdb_id=6, path="/data/movies/Manual/m.mkv",
                              pending=True)
        r = c.post("/Library/Media/Updated",
                   json={"Updates": [{"Path": "/data/movies/Manual", "UpdateType": "Created"}]})
        assert r.status_code == 204 and manual not in listed()
        assert jf.refresh_calls[-1].paths == ("/data/movies/Manual",)
        assert jf.scan(path="/data/movies/Manual") == [manual]
        assert manual in listed()
    assert len(stack.requests("jellyfin", method="POST", path="/Library/Refresh")) == 1
    assert stack.count("jellyfin", "POST", f"/Items/{movies}/Refresh") == 1


# -- faults --------------------------------------------------------------------------------

def test_fault_refuse_and_recover(stack: SimulatedStack, world: World) -> None:
    url = stack.urls["radarr"]
    stack.set_fault("radarr", "refuse")
    with pytest.raises(httpx.ConnectError):
        get(url + "/ping")
    stack.clear_fault("radarr")
    assert get(url + "/ping").status_code == 200
    stack.set_fault("radarr", "refuse", path="/api/v3/queue")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        get(url + "/api/v3/queue", headers={"X-Api-Key": stack.api_keys["radarr"]})
    assert get(url + "/ping").status_code == 200


def test_fault_status_retry_after_and_times(stack: SimulatedStack) -> None:
    with client(stack, "sonarr") as c:
        stack.set_fault("sonarr", "status", code=429, retry_after=3, times=1)
        r = c.get("/api/v3/series")
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"
        assert c.get("/api/v3/series").status_code == 200
        stack.set_fault("sonarr", "status", code=503)
        assert c.get("/api/v3/series").status_code == 503
        assert c.get("/api/v3/series").status_code == 503
        stack.clear_fault("sonarr")
        assert c.get("/api/v3/series").status_code == 200


def test_fault_bodies(stack: SimulatedStack, world: World) -> None:
    world.radarr.add_movie(603, "The Matrix")
    with client(stack, "radarr") as c:
        stack.set_fault("radarr", "html_login")
        r = c.get("/api/v3/movie")
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert b"<form" in r.content

        stack.set_fault("radarr", "truncated_json")
        r = c.get("/api/v3/movie")
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)

        stack.set_fault("radarr", "truncated_json", mode="connection")
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/api/v3/movie")

        stack.set_fault("radarr", "malformed_json")
        r = c.get("/api/v3/movie")
        assert r.headers["Content-Type"].startswith("application/json")
        with pytest.raises(json.JSONDecodeError):
            r.json()

        stack.set_fault("radarr", "wrong_shape")
        assert isinstance(c.get("/api/v3/movie").json(), dict)
        stack.set_fault("radarr", "wrong_shape", variant="null_ids")
        assert c.get("/api/v3/movie").json()[0]["id"] is None
        stack.set_fault("radarr", "wrong_shape", variant="missing_fields")
        assert "tmdbId" not in c.get("/api/v3/movie").json()[0]
        stack.set_fault("radarr", "wrong_shape", variant="unknown_enum")
        assert c.get("/api/v3/movie").json()[0]["status"] == "unexpectedValue"

        stack.set_fault("radarr", "unauthorized")
        assert c.get("/api/v3/movie").status_code == 401

        stack.set_fault("radarr", "huge", size_mb=2)
        r = c.get("/api/v3/movie")
        assert r.headers.get("Transfer-Encoding") == "chunked"
        assert len(r.content) > 2 * 1024 * 1024 and isinstance(r.json(), list)
        stack.clear_fault()
        assert c.get("/api/v3/movie").json()[0]["tmdbId"] == 603


def test_fault_slow_and_restricted(stack: SimulatedStack, world: World) -> None:
    with client(stack, "jellyfin") as c:
        stack.set_fault("jellyfin", "slow_headers", seconds=5, path="/items")
        with pytest.raises(httpx.ReadTimeout):
            c.get("/Items", timeout=httpx.Timeout(5.0, read=0.2))
        assert c.get("/System/Info").status_code == 200  # other paths unaffected
        stack.set_fault("jellyfin", "slow_body", seconds=0.2, chunks=4)
        assert c.get("/Library/VirtualFolders").json() == []
        stack.set_fault("jellyfin", "status", code=500, method="POST")
        assert c.post("/Library/Refresh").status_code == 500
        assert c.get("/Items").status_code == 200
        assert [f.kind for f in stack.faults["jellyfin"]] == ["status"]
        stack.add_fault("jellyfin", "unauthorized", path="/System")
        assert c.get("/System/Info").status_code == 401
    with pytest.raises(ValueError):
        stack.set_fault("jellyfin", "teleport")


# -- stats, request log, config, clock ---------------------------------------------------------

def test_stats_and_request_log(stack: SimulatedStack, world: World) -> None:
    world.radarr.add_movie(603, "The Matrix")
    with client(stack, "radarr") as c:
        r1 = c.get("/api/v3/movie", params={"tmdbId": 603})
        r2 = c.get("/api/v3/queue", params={"page": 1, "pageSize": 50, "includeMovie": "true"})
    stats = stack.stats()
    assert stats["radarr"] == {"calls": 2, "bytes": len(r1.content) + len(r2.content)}
    assert stats["jellyfin"] == {"calls": 0, "bytes": 0}
    [queue] = stack.requests("radarr", path="/api/v3/queue")
    assert queue.query == {"page": "1", "pageSize": "50", "includeMovie": "true"}
    assert queue.auth == "X-Api-Key" and queue.status == 200 and queue.at == T0
    key = stack.api_keys["radarr"]
    assert all(key not in v for e in stack.requests() for v in e.headers.values())
    stack.reset_stats()
    assert stack.stats()["radarr"] == {"calls": 0, "bytes": 0} and stack.requests() == []


def test_config_toml(stack: SimulatedStack, tmp_path: Any) -> None:
    text = stack.config_toml("/var/lib/reconciler/state.db", extra="[notify]\nurls = []")
    data = tomllib.loads(text)
    assert data["reconciler"] == {"database": "/var/lib/reconciler/state.db",
                                  "log_format": "json", "log_level": "info"}
    for service in ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin"):
        assert data[service]["url"] == stack.urls[service]
        assert data[service]["api_key"] == stack.api_keys[service]
    assert data["jellyseerr"]["poll_interval"] == 60 and data["radarr"]["poll_interval"] == 30
    assert data["notify"] == {"urls": []}
    with SimulatedStack(services=["jellyseerr", "jellyfin"]) as small:
        path = small.write_config(tmp_path / "c.toml", tmp_path / "db.sqlite",
                                  poll_intervals={"jellyfin": 5})
        parsed = tomllib.loads(path.read_text())
        assert set(parsed) == {"reconciler", "jellyseerr", "jellyfin"}
        assert parsed["jellyfin"]["poll_interval"] == 5


def test_world_clock_and_timers() -> None:
    world = World(T0)
    fired: list[datetime] = []
    world.call_later(10, lambda: fired.append(world.now))
    world.advance(5)
    assert fired == []
    world.advance(5)
    assert fired == [T0 + timedelta(seconds=10)]
    world.now = datetime(2027, 1, 1, tzinfo=UTC)
    assert world.now == datetime(2027, 1, 1, tzinfo=UTC)
    assert World().now.tzinfo is not None


def test_under_asyncio_with_concurrent_mutation(stack: SimulatedStack, world: World) -> None:
    jf = world.jellyfin
    jf.populate(300)
    stop = threading.Event()

    def mutate() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            item = jf.add_movie(f"Churn {n}", tmdb_id=10_000 + n)
            world.advance(1)
            jf.remove_item(item)

    async def poll() -> list[int]:
        headers = {"X-Emby-Token": stack.api_keys["jellyfin"]}
        async with httpx.AsyncClient(base_url=stack.urls["jellyfin"], headers=headers,
                                     verify=False) as c:
            totals = []
            for _ in range(20):
                r = await c.get("/Items", params={"Recursive": "true", "Limit": 50})
                assert r.status_code == 200
                totals.append(r.json()["TotalRecordCount"])
            return totals

    thread = threading.Thread(target=mutate)
    thread.start()
    try:
        totals = asyncio.run(poll())
    finally:
        stop.set()
        thread.join()
    assert all(300 <= t <= 301 for t in totals)
