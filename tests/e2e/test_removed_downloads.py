"""Downloads removed with the *arr queue dialog's default, end to end: the real
`reconcile --once` against simulated Jellyseerr, Radarr/Sonarr and Jellyfin on 127.0.0.1.

"Remove from download client" without blocklisting (the dialog's default) writes no history
record at all (Radarr and Sonarr `QueueController.Remove`); the queue record is the only
trace. A record gone from two polls in a row, with no import, failure or ignore in the history
since its grab, is a removal: the request (or each episode the download covered) is failed via
that *arr until a new grab. A record that left because its file was imported never is, even
when the import's history record is read a poll late.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.e2e.support import once, show

FILM, FILM_TITLE = 603, "The Matrix"
SHOW_TMDB, SHOW_TVDB, SHOW_TITLE = 1399, 121361, "Game of Thrones"
REMOVED = "was removed from the download client without being imported"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SimulatedStack]:
    # The *arr grabbed a while before reconciler first saw the download (its clock is behind).
    world = World(datetime.now(UTC) - timedelta(minutes=10))
    with SimulatedStack(world, services=("jellyseerr", "radarr", "sonarr", "jellyfin")) as s:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        world.jellyfin.add_library("Shows", ["/data/tv"], "tvshows")
        s.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        yield s


def request(tmp_path: Path, rid: int) -> dict[str, Any]:
    data: dict[str, Any] = show(tmp_path, rid)["request"]
    return data


def moves(tmp_path: Path, rid: int) -> list[tuple[str | None, str, str]]:
    return [(t["from"], t["to"], t["via"]) for t in show(tmp_path, rid)["timeline"]]


def episodes(tmp_path: Path, rid: int) -> dict[str, tuple[str, str | None]]:
    return {f"S{e['season']:02d}E{e['episode']:02d}": (e["state"], e["via"])
            for e in show(tmp_path, rid)["episodes"]}


def test_a_film_removed_from_the_download_client_is_failed_at_the_second_poll(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """The first poll without the record holds the film (the record may have been read amiss,
    an import's history may come late); the second says it was removed, via Radarr, and what
    to do; a new grab moves it on."""
    world = stack.world
    rid = world.jellyseerr.add_request(FILM, "movie", FILM_TITLE)
    mid = world.radarr.add_movie(FILM, FILM_TITLE, year=1999)
    did = world.radarr.grab(mid)
    world.radarr.progress(did, 0.4)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "downloading"

    world.radarr.remove_from_queue(did)  # the dialog's defaults: no history record
    assert not [e for e in world.radarr.history if e.event_type != "grabbed"]
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "downloading"
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert (req["state"], req["via"]) == ("failed", "radarr")
    assert REMOVED in req["detail"]
    assert req["detail"].endswith("Radarr will not search for it again by itself: search "
                                  "again in Radarr, or ask again in Jellyseerr")
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "failed"

    again = world.radarr.grab(mid)
    world.radarr.progress(again, 0.1)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "downloading"
    assert moves(tmp_path, rid) == [(None, "downloading", "radarr"),
                                    ("downloading", "failed", "radarr"),
                                    ("failed", "downloading", "radarr")]


def test_a_removed_season_pack_fails_each_episode_it_covered(
        stack: SimulatedStack, tmp_path: Path) -> None:
    world = stack.world
    rid = world.jellyseerr.add_request(SHOW_TMDB, "tv", SHOW_TITLE, tvdb_id=SHOW_TVDB,
                                       seasons=[1])
    sid = world.sonarr.add_series(SHOW_TVDB, SHOW_TITLE, tmdb_id=SHOW_TMDB, seasons={1: 3})
    pack = world.sonarr.grab(sid, season=1, size=6_000_000_000)
    world.sonarr.progress(pack, 0.5)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "downloading"

    world.sonarr.remove_from_queue(pack)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "downloading"
    assert once(tmp_path) == 0
    assert episodes(tmp_path, rid) == {f"S01E0{n}": ("failed", "sonarr") for n in (1, 2, 3)}
    req = request(tmp_path, rid)
    assert (req["state"], req["via"]) == ("failed", "sonarr")
    assert REMOVED in req["detail"] and "Sonarr will not search for it again" in req["detail"]

    again = world.sonarr.grab(sid, season=1, size=6_000_000_000)
    world.sonarr.progress(again, 0.1)
    assert once(tmp_path) == 0
    assert {state for state, _ in episodes(tmp_path, rid).values()} == {"downloading"}
    assert request(tmp_path, rid)["state"] == "downloading"


def test_a_removed_single_episode_fails_that_episode_only(
        stack: SimulatedStack, tmp_path: Path) -> None:
    world = stack.world
    rid = world.jellyseerr.add_request(SHOW_TMDB, "tv", SHOW_TITLE, tvdb_id=SHOW_TVDB,
                                       seasons=[1])
    sid = world.sonarr.add_series(SHOW_TVDB, SHOW_TITLE, tmdb_id=SHOW_TMDB, seasons={1: 2})
    e1, e2 = world.sonarr.episode_ids(sid, season=1)
    first = world.sonarr.grab(sid, [e1], size=1_000_000_000)
    second = world.sonarr.grab(sid, [e2], size=1_000_000_000)
    world.sonarr.progress(first, 0.5)
    world.sonarr.progress(second, 0.5)
    assert once(tmp_path) == 0

    world.sonarr.remove_from_queue(second)
    assert once(tmp_path) == 0
    assert episodes(tmp_path, rid) == {"S01E01": ("downloading", "sonarr"),
                                       "S01E02": ("downloading", "sonarr")}
    assert once(tmp_path) == 0
    assert episodes(tmp_path, rid) == {"S01E01": ("downloading", "sonarr"),
                                       "S01E02": ("failed", "sonarr")}
    req = request(tmp_path, rid)
    assert (req["state"], req["via"]) == ("failed", "sonarr")
    assert REMOVED in req["detail"]

    again = world.sonarr.grab(sid, [e2], size=1_000_000_000)
    world.sonarr.progress(again, 0.2)
    assert once(tmp_path) == 0
    assert episodes(tmp_path, rid)["S01E02"] == ("downloading", "sonarr")


def test_the_other_removals_say_what_their_history_says(
        stack: SimulatedStack, tmp_path: Path) -> None:
    """Removing with "Blocklist" is a failure (`downloadFailed`), "Ignore download" an ignore
    (`downloadIgnored`): both are failed in the poll that sees them, in their own words."""
    world = stack.world
    blocked = world.jellyseerr.add_request(FILM, "movie", FILM_TITLE)
    ignored = world.jellyseerr.add_request(604, "movie", "The Matrix Reloaded")
    downloads = {}
    for rid, tmdb in ((blocked, FILM), (ignored, 604)):
        downloads[rid] = world.radarr.grab(world.radarr.add_movie(tmdb, f"Film {tmdb}"))
    assert once(tmp_path) == 0
    world.radarr.remove_from_queue(downloads[blocked], blocklist=True)
    world.radarr.remove_from_queue(downloads[ignored], remove_from_client=False)
    assert once(tmp_path) == 0
    assert request(tmp_path, blocked)["detail"] == ("download failed: Manually marked as "
                                                    "failed; nothing new grabbed")
    assert request(tmp_path, ignored)["detail"].startswith("the download was removed in Radarr")


@pytest.mark.parametrize("history_late", [False, True], ids=["history-in-time",
                                                              "history-a-poll-late"])
def test_a_film_whose_record_left_because_it_was_imported_is_never_called_removed(
        stack: SimulatedStack, tmp_path: Path, history_late: bool) -> None:
    world = stack.world
    rid = world.jellyseerr.add_request(FILM, "movie", FILM_TITLE)
    mid = world.radarr.add_movie(FILM, FILM_TITLE, year=1999)
    did = world.radarr.grab(mid)
    world.radarr.complete_download(did)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "download_done"

    if history_late:
        world.radarr.hold_history()
    world.radarr.import_file(download_id=did)
    assert once(tmp_path) == 0
    if history_late:
        # No import in the history yet, and the film not read again: held where it was.
        assert request(tmp_path, rid)["state"] == "download_done"
        world.radarr.release_history()
    for _ in range(2):
        assert once(tmp_path) == 0
        req = request(tmp_path, rid)
        assert req["state"] == "importing" and REMOVED not in req["detail"]
    assert "failed" not in {to for _, to, _ in moves(tmp_path, rid)}


@pytest.mark.parametrize("history_late", [False, True], ids=["history-in-time",
                                                              "history-a-poll-late"])
def test_an_imported_season_pack_is_never_called_removed(
        stack: SimulatedStack, tmp_path: Path, history_late: bool) -> None:
    world = stack.world
    rid = world.jellyseerr.add_request(SHOW_TMDB, "tv", SHOW_TITLE, tvdb_id=SHOW_TVDB,
                                       seasons=[1])
    sid = world.sonarr.add_series(SHOW_TVDB, SHOW_TITLE, tmdb_id=SHOW_TMDB, seasons={1: 2})
    pack = world.sonarr.grab(sid, season=1, size=3_000_000_000)
    world.sonarr.complete_download(pack)
    assert once(tmp_path) == 0
    if history_late:
        world.sonarr.hold_history()
    world.sonarr.import_download(pack)
    assert once(tmp_path) == 0
    if history_late:
        world.sonarr.release_history()
    for _ in range(2):
        assert once(tmp_path) == 0
    assert {state for state, _ in episodes(tmp_path, rid).values()} == {"importing"}
    assert "failed" not in {to for _, to, _ in moves(tmp_path, rid)}
