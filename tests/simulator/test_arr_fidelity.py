"""The fake Radarr and Sonarr page, list and date films as the real servers do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from simstack import SimulatedStack, World

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def world() -> World:
    return World(T0)


@pytest.fixture
def stack(world: World) -> Iterator[SimulatedStack]:
    with SimulatedStack(world, services=["radarr", "sonarr"]) as running:
        yield running


def client(stack: SimulatedStack, service: str) -> httpx.Client:
    return httpx.Client(base_url=stack.urls[service], timeout=10,
                        headers={"X-Api-Key": stack.api_keys[service]})


def test_queue_past_the_end_repeats_the_last_page_with_csharp_division(
        world: World, stack: SimulatedStack) -> None:
    rd = world.radarr
    for n in range(25):
        did = rd.grab(rd.add_movie(1000 + n, f"Film {n}"))
        rd.progress(did, (n + 1) / 30)
    with client(stack, "radarr") as c:
        def page(number: int) -> dict:
            return c.get("/api/v3/queue", params={"page": number, "pageSize": 10}).json()
        third, fourth = page(3), page(4)
        assert len(third["records"]) == 5 and third["page"] == 3
        # past the end: Ceiling((decimal)(25 / 10)) = 2 in C#, so page 2 again
        assert fourth["page"] == 2 and fourth["records"] == page(2)["records"]
        assert fourth["sortKey"] == "timeleft" and fourth["sortDirection"] == "ascending"
        lefts = [r["timeleft"] for r in page(1)["records"]]
        assert lefts == sorted(lefts)
        assert all("estimatedCompletionTime" in r for r in page(1)["records"])


def test_queue_details_is_unpaged_and_filters_by_film(world: World,
                                                      stack: SimulatedStack) -> None:
    rd = world.radarr
    films = [rd.add_movie(2000 + n, f"Film {n}") for n in range(12)]
    for mid in films:
        rd.grab(mid)
    with client(stack, "radarr") as c:
        everything = c.get("/api/v3/queue/details").json()
        assert isinstance(everything, list) and len(everything) == 12
        one = c.get("/api/v3/queue/details",
                    params={"movieId": films[3], "includeMovie": "true"}).json()
        assert [r["movieId"] for r in one] == [films[3]] and one[0]["movie"]["id"] == films[3]


def test_sonarr_queue_details_filters_by_series(world: World, stack: SimulatedStack) -> None:
    sn = world.sonarr
    first = sn.add_series(81189, "Breaking Bad", seasons={1: 3})
    second = sn.add_series(121361, "Game of Thrones", seasons={1: 3})
    sn.grab(first, season=1)
    sn.grab(second, season=1)
    with client(stack, "sonarr") as c:
        records = c.get("/api/v3/queue/details", params={"seriesId": second}).json()
    assert records and {r["seriesId"] for r in records} == {second}


def test_release_dates_and_availability(world: World, stack: SimulatedStack) -> None:
    rd = world.radarr
    soon = rd.add_movie(3001, "Coming Soon", status="inCinemas",
                        in_cinemas=T0 - timedelta(days=10),
                        digital_release=T0 + timedelta(days=20), physical_release=None)
    with client(stack, "radarr") as c:
        movie = c.get(f"/api/v3/movie/{soon}").json()
        assert movie["status"] == "inCinemas" and movie["isAvailable"] is False
        assert movie["inCinemas"] == "2026-10-22T12:00:00Z"
        assert movie["digitalRelease"] == "2026-11-21T12:00:00Z"
        assert "physicalRelease" not in movie and movie["minimumAvailability"] == "released"
        world.advance(21 * 86400)
        assert c.get(f"/api/v3/movie/{soon}").json()["isAvailable"] is True


def test_excluding_local_covers_keeps_remote_image_urls(world: World,
                                                       stack: SimulatedStack) -> None:
    world.radarr.add_movie(603, "The Matrix", year=1999)
    with client(stack, "radarr") as c:
        local = c.get("/api/v3/movie").json()[0]["images"]
        remote = c.get("/api/v3/movie", params={"excludeLocalCovers": "true"}).json()[0]["images"]
    assert local[0]["url"].startswith("/MediaCover/")
    assert [i["url"] for i in remote] == [i["remoteUrl"] for i in remote]


def test_download_ignored_history_has_radarrs_data(world: World,
                                                   stack: SimulatedStack) -> None:
    rd = world.radarr
    mid = rd.add_movie(603, "The Matrix")
    did = rd.grab(mid, release_group="GRP")
    rd.ignore_download(did, message="Removed by the user")
    with client(stack, "radarr") as c:
        rows = c.get("/api/v3/history/movie", params={"movieId": mid}).json()
    ignored = next(r for r in rows if r["eventType"] == "downloadIgnored")
    assert ignored["downloadId"] == did
    assert ignored["data"]["message"] == "Removed by the user"
    assert {"downloadClient", "downloadClientName", "releaseGroup", "size",
            "indexer"} <= set(ignored["data"])


@pytest.mark.parametrize(("options", "event"), [
    pytest.param({}, None, id="dialog-default-remove-from-client-writes-no-history"),
    pytest.param({"remove_from_client": False, "change_category": True}, None,
                 id="change-category-writes-no-history"),
    pytest.param({"blocklist": True}, "downloadFailed", id="blocklist-marks-it-failed"),
    pytest.param({"remove_from_client": False}, "downloadIgnored", id="ignore-download"),
])
def test_the_queue_remove_dialog_writes_what_queue_controller_remove_does(
        world: World, stack: SimulatedStack, options: dict[str, bool],
        event: str | None) -> None:
    """Radarr/Sonarr `QueueController.Remove`: only blocklisting or "Ignore download" leave a
    history record; the dialog's default (remove from the client, no blocklist) leaves none."""
    for arr, path in ((world.radarr, "/api/v3/queue/details"),
                      (world.sonarr, "/api/v3/queue/details")):
        if arr is world.radarr:
            did = arr.grab(arr.add_movie(603, "The Matrix"))
        else:
            sid = world.sonarr.add_series(121361, "Show", seasons={1: 2})
            did = world.sonarr.grab(sid, season=1)
        before = len(arr.history)
        arr.remove_from_queue(did, **options)
        with client(stack, "radarr" if arr is world.radarr else "sonarr") as c:
            assert c.get(path).json() == []
        written = {e.event_type for e in arr.history[before:]}
        assert written == (set() if event is None else {event})


def test_held_history_is_listed_after_its_release_with_its_own_date(
        world: World, stack: SimulatedStack) -> None:
    rd = world.radarr
    mid = rd.add_movie(603, "The Matrix")
    did = rd.grab(mid)
    rd.hold_history()
    rd.import_file(download_id=did)
    world.advance(minutes=1)
    with client(stack, "radarr") as c:
        since = {"date": (T0 - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        assert [r["eventType"] for r in c.get("/api/v3/history/since", params=since).json()] \
            == ["grabbed"]
        rd.release_history()
        rows = c.get("/api/v3/history/since", params=since).json()
    assert [r["eventType"] for r in rows] == ["grabbed", "downloadFolderImported"]
    assert rows[1]["date"].startswith("2026-11-01T12:00:00")
