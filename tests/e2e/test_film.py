"""A film's whole life, end to end: the real `reconcile --once` against simulated Jellyseerr,
Radarr and media servers (Jellyfin, Emby, Plex) on 127.0.0.1, one cycle after each step of the
script."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from simstack import SimulatedStack, World
from tests.e2e.media import (
    MEDIA_SERVERS,
    NAMES,
    PUBLIC_PATHS,
    incremental,
    item_lookups,
    journey_param,
    listings,
    settings,
)
from tests.e2e.support import SEERR_IDS, SEERR_VERSIONS, once, rows_changed_by, show

TMDB = 603
# The representative journey: on Jellyfin with every Jellyseerr version; on Emby and Plex; and
# Plex with Overseerr 1.33, which serves Plex households only.
JOURNEYS = [*((v, "jellyfin") for v in SEERR_VERSIONS), (None, "emby"), (None, "plex"),
            ("1.33.2", "plex")]
JOURNEY_IDS = [*SEERR_IDS, "emby", "plex", "plex-overseerr-1.33"]
ON_EACH = pytest.mark.parametrize("film_stack", MEDIA_SERVERS, indirect=True)


@pytest.fixture
def film_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Jellyseerr, Radarr and a media server; parametrized indirectly with the media server's
    name or a (Jellyseerr version, media server) pair (default: Jellyfin)."""
    version, media = journey_param(getattr(request, "param", None))
    world = World(jellyseerr_version=version)
    with SimulatedStack(world, services=("jellyseerr", "radarr", media)) as stack:
        stack.media.add_library("Movies", ["/data/movies"], "movies")
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                           servers=settings(stack, refresh_grace="1h"))
        yield stack






def state(tmp_path: Path, request_id: int) -> str:
    return str(show(tmp_path, request_id)["request"]["state"])




@pytest.mark.parametrize("film_stack", JOURNEYS, ids=JOURNEY_IDS, indirect=True)
def test_a_film_goes_from_approval_to_available_only_once_jellyfin_lists_it(
        film_stack: Any, tmp_path: Path) -> None:
    """... or Emby, or Plex: whichever media server the household has."""
    from simstack.jellyseerr import APPROVED, PENDING

    world, media = film_stack.world, film_stack.media
    server = NAMES[film_stack.media_server]
    rid = world.jellyseerr.add_request(TMDB, "movie", "The Matrix", status=PENDING)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "requested"
    world.jellyseerr.set_request_status(rid, APPROVED)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "approved"
    assert show(tmp_path, rid)["request"]["title"] == "The Matrix"

    mid = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    assert once(tmp_path) == 0
    assert "waiting for Radarr" in show(tmp_path, rid)["request"]["detail"]

    did = world.radarr.grab(mid)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "indexed"

    world.radarr.progress(did, 0.4)
    assert once(tmp_path) == 0
    request = show(tmp_path, rid)["request"]
    assert request["state"] == "downloading"
    assert request["progress"] == pytest.approx(0.4, abs=0.01)

    world.radarr.complete_download(did)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "download_done"

    world.radarr.import_file(download_id=did)
    assert once(tmp_path) == 0
    request = show(tmp_path, rid)["request"]
    assert request["state"] == "importing"
    assert "imported" in request["detail"] and f"waiting for {server}" in request["detail"]

    # The server lists an item without a file (Jellyfin's and Emby's metadata-only virtual
    # item, Plex's film without media): still not watchable.
    virtual = media.add_movie("The Matrix", tmdb_id=TMDB, year=1999, missing=True)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "importing"

    media.remove_item(virtual)
    # On disk, not scanned yet: the gap in which Jellyseerr may already say available.
    item = media.add_movie("The Matrix", tmdb_id=TMDB, year=1999, pending=True)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "importing"
    media.scan()
    assert once(tmp_path) == 0
    request = show(tmp_path, rid)["request"]
    assert request["state"] == "available"
    assert request["via"] == film_stack.media_server
    assert request["detail"] == f"playable in {server} (matched by Tmdb)"
    assert request["jellyfin_item_id"] == item

    timeline = show(tmp_path, rid)["timeline"]
    assert [(t["from"], t["to"]) for t in timeline] == [
        (None, "requested"), ("requested", "approved"), ("approved", "indexed"),
        ("indexed", "downloading"), ("downloading", "download_done"),
        ("download_done", "importing"), ("importing", "available"),
    ]
    assert timeline[-1]["via"] == film_stack.media_server


def test_radarr_unreachable_for_a_cycle_moves_nothing_and_exits_3(
        film_stack: Any, tmp_path: Path) -> None:
    world = film_stack.world
    rid = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    mid = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    did = world.radarr.grab(mid)
    world.radarr.progress(did, 0.5)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "downloading"

    film_stack.set_fault("radarr", "refuse")
    world.radarr.complete_download(did)
    world.radarr.import_file(download_id=did)
    assert once(tmp_path) == 3
    assert state(tmp_path, rid) == "downloading"
    conn = sqlite3.connect(tmp_path / "reconciler.db")
    ok, error = conn.execute(
        "SELECT ok, error FROM polls WHERE service='radarr' ORDER BY id DESC LIMIT 1").fetchone()
    conn.close()
    assert ok == 0
    assert error is not None and "cannot reach" in error

    film_stack.clear_fault("radarr")
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "importing"


@ON_EACH
def test_a_second_cycle_with_no_change_writes_no_rows(film_stack: Any, tmp_path: Path) -> None:
    world = film_stack.world
    world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    mid = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    world.radarr.progress(world.radarr.grab(mid), 0.2)
    film_stack.media.populate(50)
    assert once(tmp_path) == 0
    assert once(tmp_path) == 0
    changed = rows_changed_by(tmp_path / "reconciler.db", lambda: once(tmp_path))
    assert changed == {"polls": 3}


def test_requests_approved_in_the_same_second_as_the_last_seen_change_are_all_picked_up(
        film_stack: Any, tmp_path: Path) -> None:
    """A bulk approval of more requests than one page, all in the same second: every one is
    seen by the next poll (the pending and processing filters are read whole; `updatedAt`,
    whole seconds or frozen, decides nothing)."""
    from simstack.jellyseerr import APPROVED, PENDING

    world = film_stack.world  # its clock stands still: every change has the same updatedAt
    rids = [world.jellyseerr.add_request(1000 + n, "movie", f"Film {n}", status=PENDING)
            for n in range(25)]
    assert once(tmp_path) == 0
    assert {state(tmp_path, rid) for rid in rids} == {"requested"}

    for rid in rids:
        world.jellyseerr.set_request_status(rid, APPROVED)
    assert once(tmp_path) == 0
    assert {rid: state(tmp_path, rid) for rid in rids} == {rid: "approved" for rid in rids}


def test_a_request_the_listing_hides_but_jellyseerr_still_has_is_not_deleted(
        film_stack: Any, tmp_path: Path) -> None:
    """Jellyseerr's listing leaves out requests whose media is blocklisted; only a 404 for the
    request itself, on two complete listings, makes a request `deleted`."""
    world = film_stack.world
    kept = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    gone = world.jellyseerr.add_request(680, "movie", "Pulp Fiction")
    assert once(tmp_path) == 0
    world.jellyseerr.set_media_status(TMDB, 6)  # blocklisted: hidden from filter=all
    world.jellyseerr.delete_request(gone)
    for _ in range(3):
        assert once(tmp_path) == 0
    assert show(tmp_path, kept)["request"]["state"] == "approved"
    assert show(tmp_path, gone)["request"]["state"] == "deleted"


@pytest.mark.parametrize("queue_details", [True, False],
                         ids=["queue-details", "paged-queue-fallback"])
def test_a_download_removed_in_radarr_without_a_new_grab_is_failed_until_the_next_grab(
        film_stack: Any, tmp_path: Path, queue_details: bool) -> None:
    """Radarr's `downloadIgnored` (removed from the queue, not blocklisted): Radarr will not
    grab again by itself, so the request is failed until someone grabs. The queue is read from
    `/api/v3/queue/details`, or, where that answers 404, from the paged queue in a stable order;
    the film listing never makes Radarr stat its cover files."""
    world = film_stack.world
    if not queue_details:
        film_stack.set_fault("radarr", "status", code=404, path="/api/v3/queue/details")
    rid = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    mid = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    did = world.radarr.grab(mid)
    world.radarr.progress(did, 0.3)
    assert once(tmp_path) == 0
    request = show(tmp_path, rid)["request"]
    assert (request["state"], request["progress"]) == ("downloading", pytest.approx(0.3, abs=0.01))

    world.radarr.ignore_download(did, "Removed by user")
    assert once(tmp_path) == 0
    request = show(tmp_path, rid)["request"]
    assert (request["state"], request["via"]) == ("failed", "radarr")
    assert request["detail"] == ("the download was removed in Radarr (Removed by user) and "
                                 "nothing new was grabbed")
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "failed"

    again = world.radarr.grab(mid)
    world.radarr.progress(again, 0.1)
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "downloading"
    assert [(t["from"], t["to"], t["via"]) for t in show(tmp_path, rid)["timeline"]] == [
        (None, "downloading", "radarr"), ("downloading", "failed", "radarr"),
        ("failed", "downloading", "radarr")]

    paged = film_stack.requests("radarr", method="GET", path="/api/v3/queue")
    details = film_stack.requests("radarr", method="GET", path="/api/v3/queue/details")
    assert len(details) == 4  # asked every cycle
    if queue_details:
        assert paged == []
        assert all(r.query.get("includeMovie") == "false" for r in details)
    else:
        assert len(paged) == 4
        assert all((r.query.get("sortKey"), r.query.get("sortDirection")) == (
            "added", "ascending") for r in paged)
    listings = film_stack.requests("radarr", method="GET", path="/api/v3/movie")
    assert listings and all(r.query.get("excludeLocalCovers") == "true" for r in listings)


def _available_film(stack: SimulatedStack, tmdb_id: int, title: str) -> tuple[int, str]:
    """A requested film Radarr imported and the media server lists: its request id and the
    server's item."""
    world = stack.world
    rid = world.jellyseerr.add_request(tmdb_id, "movie", title)
    mid = world.radarr.add_movie(tmdb_id, title, year=1999)
    world.radarr.import_file(mid, download_id=world.radarr.grab(mid))
    return rid, stack.media.add_movie(title, tmdb_id=tmdb_id, year=1999)


@ON_EACH
def test_films_removed_from_jellyfin_together_are_noticed_in_the_next_cycle(
        film_stack: Any, tmp_path: Path) -> None:
    """No full listing and no verification is due: Jellyfin's count of items, lower than the
    index's, makes the poll look up the items that made requests available right away. They
    leave on the second cycle without them, as any absence."""
    films = [_available_film(film_stack, tmdb, title) for tmdb, title in (
        (603, "The Matrix"), (604, "The Matrix Reloaded"), (605, "The Matrix Revolutions"))]
    assert once(tmp_path) == 0
    assert once(tmp_path) == 0
    assert {state(tmp_path, rid) for rid, _ in films} == {"available"}

    for _, item in films[:2]:
        film_stack.media.remove_item(item)
    film_stack.reset_stats()
    assert once(tmp_path) == 0
    assert item_lookups(film_stack), "the items that made requests available were looked up"
    assert once(tmp_path) == 0
    assert state(tmp_path, films[2][0]) == "available"
    for rid, _ in films[:2]:
        assert state(tmp_path, rid) != "available"
    assert all(incremental(r) for r in listings(film_stack))  # no full listing


@ON_EACH
def test_a_jellyfin_behind_a_proxy_that_strips_the_date_header_still_polls_incrementally(
        film_stack: Any, tmp_path: Path) -> None:
    """Without the server's clock, the newest DateCreated (Plex: addedAt) listed is the
    watermark."""
    world, kind = film_stack.world, film_stack.media_server
    film_stack.set_fault(kind, "no_date_header")
    rid, _ = _available_film(film_stack, 603, "The Matrix")
    other = world.jellyseerr.add_request(604, "movie", "The Matrix Reloaded")
    mid = world.radarr.add_movie(604, "The Matrix Reloaded", year=2003)
    world.radarr.import_file(mid, download_id=world.radarr.grab(mid))
    assert once(tmp_path) == 0
    assert state(tmp_path, rid) == "available"
    assert state(tmp_path, other) != "available"

    film_stack.media.add_movie("The Matrix Reloaded", tmdb_id=604, year=2003)
    film_stack.reset_stats()
    assert once(tmp_path) == 0
    assert state(tmp_path, other) == "available"
    listed = listings(film_stack)
    assert listed and all(incremental(r) for r in listed)
    assert "date" not in httpx.get(film_stack.url(kind) + PUBLIC_PATHS[kind]).headers


@ON_EACH
def test_an_unrelated_item_removed_from_jellyfin_is_looked_into_once_not_every_cycle(
        film_stack: Any, tmp_path: Path) -> None:
    """The counts stay apart until the next complete listing; the lookup by id they prompt is
    made once for that pair of counts."""
    rid, _ = _available_film(film_stack, 603, "The Matrix")
    unrelated = film_stack.media.add_movie("Hackers", tmdb_id=10428, year=1995)
    assert once(tmp_path) == 0
    film_stack.media.remove_item(unrelated)

    def lookups() -> int:
        film_stack.reset_stats()
        assert once(tmp_path) == 0
        return len(item_lookups(film_stack))

    assert lookups() == 1
    assert lookups() == 0
    assert state(tmp_path, rid) == "available"


@ON_EACH
def test_a_film_the_server_has_not_scanned_gets_one_scan_of_its_folder_then_plays(
        film_stack: Any, tmp_path: Path) -> None:
    """The partial-scan nudge: past `refresh_grace` the server is asked to scan just the new
    file (Jellyfin's and Emby's `Library/Media/Updated`) or its folder (Plex's section refresh
    with `path=`), never the whole library; the film is not available before it lists it."""
    world, media, kind = film_stack.world, film_stack.media, film_stack.media_server
    film_stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                            servers=settings(film_stack, refresh_grace="0.05s"))
    media.scan_on_refresh = False  # the server scans when the test says so
    rid = world.jellyseerr.add_request(TMDB, "movie", "The Matrix")
    mid = world.radarr.add_movie(TMDB, "The Matrix", year=1999)
    world.radarr.import_file(mid, download_id=world.radarr.grab(mid))
    file = world.radarr.get_movie(mid).file
    assert file is not None
    path = f"{world.radarr.get_movie(mid).path}/{file.relative_path}"
    item = media.add_movie("The Matrix", tmdb_id=TMDB, year=1999, path=path, pending=True)
    assert once(tmp_path) == 0
    deadline = time.monotonic() + 15
    while not media.scans():
        assert time.monotonic() < deadline, "no scan was asked for"
        assert once(tmp_path) == 0
        assert state(tmp_path, rid) == "importing"
    for _ in range(2):  # one nudge, then patience
        assert once(tmp_path) == 0
    [scan] = media.scans()
    folder = path if kind != "plex" else path.rsplit("/", 1)[0]
    assert (scan.kind, scan.paths) == ("paths", (folder,))
    nudge = show(tmp_path, rid)["timeline"][-1]
    assert (nudge["via"], nudge["detail"]) == (
        "reconciler", f"asked {NAMES[kind]} to scan the new file in 'Movies'")
    assert state(tmp_path, rid) == "importing"

    assert media.scan(path=folder) == [item]
    assert once(tmp_path) == 0
    assert (state(tmp_path, rid), show(tmp_path, rid)["request"]["via"]) == ("available", kind)
