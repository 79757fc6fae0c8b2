"""Jellyseerr as the real versions behave, end to end (`reconcile --once` against the simulated
servers): status changes of old requests on the versions whose `updatedAt` never moves, a
blocklisted request, and a TMDB outage (issues 14 and 18)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from simstack.jellyseerr import APPROVED, DECLINED, FAILED, MEDIA_PROCESSING, PENDING
from tests.conftest import CommandResult, run_reconcile
from tests.e2e.support import SEERR_IDS, SEERR_VERSIONS, show

OLD_REQUESTS = 35  # more than the newest page (20) holds


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimulatedStack]:
    world = World(jellyseerr_version=getattr(request, "param", None))
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin")) as s:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        s.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        yield s


def cycle(tmp_path: Path) -> CommandResult:
    result = run_reconcile("--config", str(tmp_path / "config.toml"), "--once")
    assert result.code == 0, result.stderr[-2000:]
    return result


def request(tmp_path: Path, rid: int) -> dict[str, Any]:
    data: dict[str, Any] = show(tmp_path, rid)["request"]
    return data


def last_seerr_poll(tmp_path: Path) -> tuple[int, bool]:
    """(HTTP calls, complete listing) of the last Jellyseerr poll."""
    conn = sqlite3.connect(tmp_path / "reconciler.db")
    try:
        calls, full = conn.execute("SELECT http_calls, full FROM polls WHERE service='jellyseerr' "
                                   "ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return int(calls), bool(full)


def events(result: CommandResult, name: str) -> list[dict[str, Any]]:
    found = []
    for line in result.stderr.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == name:
            found.append(event)
    return found


# Every `--once` is a new process: it reads `/api/v1/status` once, then makes the three
# listings of a steady poll.
STEADY = 1 + 3


@pytest.mark.parametrize("stack", SEERR_VERSIONS, ids=SEERR_IDS, indirect=True)
def test_old_requests_approved_declined_or_failed_in_seerr_are_seen_at_the_next_poll(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """The oldest requests, far beyond the newest page: on 2.6 - 3.1 nothing about them moves
    `updatedAt`, and each change is still seen by the next poll, by reading by id exactly the
    requests that left the pending/processing listings, once."""
    seerr = stack.world.jellyseerr
    pending = [seerr.add_request(1000 + n, "movie", f"Film {n}", status=PENDING)
               for n in range(3)]
    approved = seerr.add_request(2000, "movie", "Film approved")
    for n in range(OLD_REQUESTS):
        seerr.add_request(3000 + n, "movie", f"Newer film {n}")
    cycle(tmp_path)
    cycle(tmp_path)
    assert [request(tmp_path, rid)["state"] for rid in (*pending, approved)] == [
        "requested"] * 3 + ["approved"]
    assert last_seerr_poll(tmp_path) == (STEADY, False)

    seerr.set_request_status(pending[0], APPROVED)
    seerr.set_request_status(pending[1], DECLINED)
    seerr.set_request_status(approved, FAILED)  # Seerr could not send it to Radarr
    cycle(tmp_path)
    assert request(tmp_path, pending[0])["state"] == "approved"
    assert request(tmp_path, pending[1])["state"] == "declined"
    assert request(tmp_path, approved)["state"] == "failed"
    assert request(tmp_path, pending[2])["state"] == "requested"
    # The three that left the listings, each read once by id; no complete listing.
    assert last_seerr_poll(tmp_path) == (STEADY + 2, False)  # pending[0] is still processing
    cycle(tmp_path)
    assert last_seerr_poll(tmp_path) == (STEADY, False)


@pytest.mark.parametrize("stack", ["2.7.3", "3.1.0", None], ids=["jellyseerr-2.7", "seerr-3.1",
                                                               "bumping"], indirect=True)
def test_a_blocklisted_request_keeps_jellyseerr_at_its_steady_cost_and_says_so(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """Blocklisting hides a request from `filter=all` (the total drops by one) while it still
    answers by id: it is read by id once, marked hidden, and not counted again; its detail says
    it is blocklisted; unblocklisted, it is listed again and moves on."""
    seerr = stack.world.jellyseerr
    kept = seerr.add_request(603, "movie", "The Matrix")
    for n in range(OLD_REQUESTS):
        seerr.add_request(3000 + n, "movie", f"Newer film {n}")
    cycle(tmp_path)
    cycle(tmp_path)
    assert last_seerr_poll(tmp_path) == (STEADY, False)

    seerr.blocklist(603)
    cycle(tmp_path)
    assert last_seerr_poll(tmp_path) == (STEADY + 1, False)  # read by id once
    for _ in range(3):
        cycle(tmp_path)
        assert last_seerr_poll(tmp_path) == (STEADY, False)
    req = request(tmp_path, kept)
    assert req["state"] == "approved"
    assert "blocklisted in Jellyseerr" in req["detail"]

    seerr.set_media_status(603, MEDIA_PROCESSING)  # unblocklisted: listed again
    mid = stack.world.radarr.add_movie(603, "The Matrix", year=1999)
    stack.world.radarr.grab(mid)
    cycle(tmp_path)
    req = request(tmp_path, kept)
    assert req["state"] == "indexed"
    assert "blocklisted" not in req["detail"]
    cycle(tmp_path)
    assert last_seerr_poll(tmp_path) == (STEADY, False)


@pytest.mark.parametrize("stack", ["3.1.0"], indirect=True)
def test_a_request_deleted_in_seerr_long_after_it_finished_is_deleted_after_two_polls(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """A request no longer pending or processing leaves no active listing: the total of
    `filter=all` drops, a complete listing and a 404 by id count one absence, the next poll
    confirms it."""
    seerr = stack.world.jellyseerr
    done = seerr.add_request(603, "movie", "The Matrix", status=DECLINED)
    for n in range(OLD_REQUESTS):
        seerr.add_request(3000 + n, "movie", f"Newer film {n}")
    cycle(tmp_path)
    cycle(tmp_path)
    seerr.delete_request(done)
    cycle(tmp_path)
    assert request(tmp_path, done)["state"] == "declined"
    assert last_seerr_poll(tmp_path)[1]  # a complete listing
    cycle(tmp_path)
    assert request(tmp_path, done)["state"] == "deleted"
    cycle(tmp_path)
    assert last_seerr_poll(tmp_path) == (STEADY, False)


@pytest.mark.parametrize("stack", ["3.1.0"], indirect=True)
def test_a_tmdb_outage_leaves_the_id_as_title_logs_once_and_titles_come_back(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """Seerr answers 500 "Unable to retrieve movie." to every title look-up while TMDB is down:
    a failed call, not an unknown id. The poll goes on, the request shows its TMDB id, one
    warning marks the outage, one line its end, and the title comes at the next poll after."""
    seerr = stack.world.jellyseerr
    seerr.set_tmdb_down()
    rid = seerr.add_request(603, "movie", "The Matrix")
    seerr.add_request(604, "movie", "The Matrix Reloaded")
    logs = [cycle(tmp_path) for _ in range(3)]
    assert [len(events(r, "jellyseerr.titles_unavailable")) for r in logs] == [1, 0, 0]
    assert request(tmp_path, rid)["state"] == "approved"
    assert request(tmp_path, rid)["title"] is None
    status = run_reconcile("--config", str(tmp_path / "config.toml"), "status")
    assert "TMDB 603" in status.stdout
    # While it fails, each poll tries one title (its client retries within its time bound),
    # not every missing one.
    stack.reset_stats()
    cycle(tmp_path)
    tried = {r.path for r in stack.requests("jellyseerr", path_prefix="/api/v1/movie/")}
    assert len(tried) == 1

    seerr.set_tmdb_down(False)
    back = cycle(tmp_path)
    assert len(events(back, "jellyseerr.titles_available")) == 1
    assert request(tmp_path, rid)["title"] == "The Matrix"
    again = cycle(tmp_path)
    assert not events(again, "jellyseerr.titles_available")
    assert not events(again, "jellyseerr.titles_unavailable")
    assert last_seerr_poll(tmp_path) == (STEADY, False)


@pytest.mark.parametrize("stack", ["2.1.0"], indirect=True)
def test_jellyseerr_2_1_failing_its_list_while_an_arr_is_down_moves_nothing(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """Jellyseerr 2.1 answers its request list with 500 while a Radarr/Sonarr it knows is
    unreachable: Jellyseerr is unknown for that cycle (exit 3, nothing moves), and the cycle
    after the *arr is back recovers by itself."""
    world = stack.world
    rid = world.jellyseerr.add_request(603, "movie", "The Matrix")
    cycle(tmp_path)
    assert request(tmp_path, rid)["state"] == "approved"

    world.jellyseerr.set_arr_reachable("sonarr", 0, False)
    world.radarr.grab(world.radarr.add_movie(603, "The Matrix", year=1999))
    result = run_reconcile("--config", str(tmp_path / "config.toml"), "--once")
    assert result.code == 3
    assert request(tmp_path, rid)["state"] == "approved"
    # The outage's line carries the server's own reason from the body (issue 22).
    (started,) = events(result, "service.outage_started")
    assert started["error"] == ("HTTP 500 from /api/v1/request: [Sonarr] Failed to retrieve "
                                "profiles: fetch failed")

    world.jellyseerr.set_arr_reachable("sonarr", 0, True)
    cycle(tmp_path)
    assert request(tmp_path, rid)["state"] == "indexed"


@pytest.mark.parametrize("stack", ["3.1.0", "2.7.3"], indirect=True)
def test_one_tmdb_id_seerr_cannot_resolve_holds_back_no_other_title(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """Seerr answers 500 "Unable to retrieve movie." for an id TMDB merged away, as for an
    outage. While the other ids answer it is that id's problem: no outage is logged, the other
    requests (and a new one, in the cycle that first sees it) get their titles, the failing id
    is not asked again within its pause, and `show` says why it has none."""
    seerr = stack.world.jellyseerr
    merged = seerr.add_request(1033, "movie", "Merged Away")
    seerr.forget_title(1033)
    matrix = seerr.add_request(603, "movie", "The Matrix")
    first = cycle(tmp_path)
    assert request(tmp_path, matrix)["title"] == "The Matrix"
    assert request(tmp_path, merged)["title"] is None
    assert not events(first, "jellyseerr.titles_unavailable")
    assert len(events(first, "jellyseerr.title_failed")) == 1

    shown = show(tmp_path, merged)["title_unavailable"]
    assert shown["tmdb_id"] == 1033 and "HTTP 500" in shown["reason"]
    assert shown["retry_at"] > shown["since"]
    assert "title_unavailable" not in show(tmp_path, matrix)
    text = run_reconcile("--config", str(tmp_path / "config.toml"), "show", str(merged)).stdout
    assert text.startswith(f"#{merged} TMDB 1033")
    assert "title:    unknown (look-up failing" in text and "asked again at" in text

    stack.reset_stats()
    steady = cycle(tmp_path)
    assert stack.requests("jellyseerr", path_prefix="/api/v1/movie/") == []
    assert not events(steady, "jellyseerr.titles_unavailable")
    reloaded = seerr.add_request(604, "movie", "The Matrix Reloaded")
    cycle(tmp_path)
    asked = [r.path for r in stack.requests("jellyseerr", path_prefix="/api/v1/movie/")]
    assert asked == ["/api/v1/movie/604"]
    assert request(tmp_path, reloaded)["title"] == "The Matrix Reloaded"
