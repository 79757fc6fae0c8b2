"""TV requests end to end: every requested episode followed through Sonarr to the media server
(Jellyfin, Emby or Plex) by the real `reconcile --once` against simulated Jellyseerr, Sonarr and
media servers on 127.0.0.1, one cycle after each step of the script.

The reconciler decides "aired" with its own (real) clock, so air dates are set relative to the
real time; an episode "airs" when the test moves its air date into the past in Sonarr.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.conftest import run_reconcile
from tests.e2e.media import MEDIA_SERVERS, NAMES, journey_param, settings
from tests.e2e.support import SEERR_IDS, SEERR_VERSIONS, once, rows_changed_by, show

TMDB = 1399
TVDB = 121361
TITLE = "Game of Thrones"
JOURNEYS = [*((v, "jellyfin") for v in SEERR_VERSIONS), (None, "emby"), (None, "plex")]
JOURNEY_IDS = [*SEERR_IDS, "emby", "plex"]
ON_EACH = pytest.mark.parametrize("tv_stack", MEDIA_SERVERS, indirect=True)


@pytest.fixture
def tv_stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimulatedStack]:
    """Jellyseerr, Sonarr and a media server; parametrized indirectly with the media server's
    name or a (Jellyseerr version, media server) pair (default: Jellyfin)."""
    version, media = journey_param(getattr(request, "param", None))
    world = World(jellyseerr_version=version)
    with SimulatedStack(world, services=("jellyseerr", "sonarr", media)) as stack:
        stack.media.add_library("Shows", ["/data/tv"], "tvshows")
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                           servers=settings(stack, refresh_grace="1h"))
        yield stack






def request(tmp_path: Path, request_id: int) -> dict[str, Any]:
    data: dict[str, Any] = show(tmp_path, request_id)["request"]
    return data


def episode_states(tmp_path: Path, request_id: int) -> dict[str, str]:
    """`{"S01E01": state, ...}` from `show --json`."""
    return {f"S{e['season']:02d}E{e['episode']:02d}": e["state"]
            for e in show(tmp_path, request_id)["episodes"]}


def moves(tmp_path: Path, request_id: int) -> list[tuple[str | None, str, str]]:
    return [(t["from"], t["to"], t["via"]) for t in show(tmp_path, request_id)["timeline"]
            if t["from"] != t["to"]]




def list_in_jellyfin(stack: SimulatedStack, series_item: str, *episodes: tuple[int, int]) -> None:
    """The media server lists these episodes of its series item (Jellyfin's, Emby's or
    Plex's)."""
    for season, number in episodes:
        stack.media.add_episode(series_item, season, number)


@pytest.mark.parametrize("tv_stack", JOURNEYS, ids=JOURNEY_IDS, indirect=True)
def test_a_two_season_request_follows_a_season_pack_and_single_episodes_to_available(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1, 2])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 3, 2: 2})
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "approved"
    assert len(show(tmp_path, rid)["episodes"]) == 5

    # Season 1 as one pack (one queue record per episode, one download), season 2 as singles.
    pack = world.sonarr.grab(sid, season=1, size=6_000_000_000)
    s2e1, s2e2 = world.sonarr.episode_ids(sid, season=2)
    single1 = world.sonarr.grab(sid, [s2e1], size=1_000_000_000)
    assert once(tmp_path) == 0
    # S02E02 has not been grabbed: the request is as far as its least advanced episode.
    assert request(tmp_path, rid)["state"] == "approved"
    assert episode_states(tmp_path, rid)["S01E03"] == "indexed"

    single2 = world.sonarr.grab(sid, [s2e2], size=1_000_000_000)
    world.sonarr.progress(pack, 0.5)
    world.sonarr.progress(single1, 0.2)
    world.sonarr.progress(single2, 0.2)
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "downloading"
    # 3 GB of the 6 GB pack and 0.2 GB of each 1 GB single: bytes over the three downloads,
    # the pack's three queue records counting once.
    assert req["progress"] == pytest.approx(3.4 / 8.0, abs=0.005)
    assert set(episode_states(tmp_path, rid).values()) == {"downloading"}

    world.sonarr.complete_download(pack)
    world.sonarr.import_download(pack)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "downloading"
    assert episode_states(tmp_path, rid) == {
        "S01E01": "importing", "S01E02": "importing", "S01E03": "importing",
        "S02E01": "downloading", "S02E02": "downloading",
    }

    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB, tmdb_id=TMDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1), (1, 2), (1, 3))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "partially_available"
    assert (req["episodes_available"], req["episodes_aired"]) == (3, 5)

    for did in (single1, single2):
        world.sonarr.complete_download(did)
        world.sonarr.import_download(did)
    list_in_jellyfin(tv_stack, jf_series, (2, 1))
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "partially_available"
    assert episode_states(tmp_path, rid)["S02E02"] == "importing"

    list_in_jellyfin(tv_stack, jf_series, (2, 2))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    media = tv_stack.media_server
    assert req["state"] == "available"
    assert req["via"] == media
    assert req["detail"] == f"all 5 aired episodes playable in {NAMES[media]}"
    assert (req["episodes_available"], req["episodes_aired"]) == (5, 5)
    episodes = show(tmp_path, rid)["episodes"]
    assert all(e["state"] == "available" and e["via"] == media for e in episodes)
    assert {"season", "episode", "state", "air_date", "via"} <= set(episodes[0])
    assert moves(tmp_path, rid) == [
        (None, "approved", "sonarr"),
        ("approved", "downloading", "sonarr"),
        ("downloading", "partially_available", media),
        ("partially_available", "available", media),
    ]


@ON_EACH
def test_virtual_placeholder_episodes_in_jellyfin_never_count_as_playable(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    """Nor Emby's (a placeholder shows only among its media sources), nor Plex's episodes
    without a media part (Plex lists no missing episodes)."""
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 3})
    did = world.sonarr.grab(sid, season=1)
    world.sonarr.complete_download(did)
    world.sonarr.import_download(did)
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    # A metadata plugin lists every episode; only the first is a real file.
    tv_stack.media.add_episode(jf_series, 1, 1)
    tv_stack.media.add_episode(jf_series, 1, 2, missing=True)
    tv_stack.media.add_episode(jf_series, 1, 3, placeholder=True)
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "partially_available"
    assert (req["episodes_available"], req["episodes_aired"]) == (1, 3)
    assert episode_states(tmp_path, rid) == {
        "S01E01": "available", "S01E02": "importing", "S01E03": "importing"}


@ON_EACH
def test_a_show_whose_jellyfin_episodes_are_all_virtual_stays_importing(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    did = world.sonarr.grab(sid, season=1)
    world.sonarr.import_download(did)
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    virtual = [tv_stack.media.add_episode(jf_series, 1, number, missing=True)
               for number in (1, 2)]
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "importing"
    assert f"waiting for {NAMES[tv_stack.media_server]}" in req["detail"]

    # Jellyfin scans the files: real episodes replace the missing ones.
    for item in virtual:
        tv_stack.media.remove_item(item)
    list_in_jellyfin(tv_stack, jf_series, (1, 1), (1, 2))
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "available"


@ON_EACH
def test_episodes_of_another_series_in_the_library_never_count(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    world.sonarr.import_download(world.sonarr.grab(sid, season=1))
    other = tv_stack.media.add_series("House of the Dragon", tvdb_id=371572, tmdb_id=94997)
    list_in_jellyfin(tv_stack, other, (1, 1), (1, 2))
    tv_stack.media.add_series(TITLE, tvdb_id=TVDB)  # listed, no episodes scanned yet
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "importing"
    assert set(episode_states(tmp_path, rid).values()) == {"importing"}


@ON_EACH
def test_a_series_item_replaced_in_jellyfin_counts_the_new_items_episodes_at_once(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    world.sonarr.import_download(world.sonarr.grab(sid, season=1))
    old = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    tv_stack.media.add_episode(old, 1, 1, missing=True)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "importing"

    # Re-identified: a new Series item; the old one stays indexed until two full listings
    # confirm it is gone.
    tv_stack.media.remove_item(old)
    new = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, new, (1, 1), (1, 2))
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "available"


@ON_EACH
def test_an_airing_show_is_available_until_the_next_episode_airs_missing(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    real_now = datetime.now(UTC)
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2},
                                  first_aired=real_now - timedelta(days=14))
    next_air = (real_now + timedelta(hours=1)).replace(microsecond=0)
    e3 = world.sonarr.add_episode(sid, 1, 3, next_air)
    world.sonarr.import_download(world.sonarr.grab(sid, world.sonarr.episode_ids(sid)[:2]))
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB, tmdb_id=TMDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1), (1, 2))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "available"
    assert (req["episodes_available"], req["episodes_aired"]) == (2, 2)
    assert f"1 still to air, next on {next_air.date().isoformat()}" in req["detail"]
    assert episode_states(tmp_path, rid)["S01E03"] == "approved"

    # The episode airs (Sonarr now dates it in the past) and nothing has been grabbed.
    world.sonarr.update_episode(e3, air_date_utc=real_now - timedelta(minutes=1))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "partially_available"
    assert req["via"] == "sonarr"
    assert (req["episodes_available"], req["episodes_aired"]) == (2, 3)
    assert "still to air" not in req["detail"]

    world.sonarr.import_download(world.sonarr.grab(sid, [e3]))
    list_in_jellyfin(tv_stack, jf_series, (1, 3))
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "available"
    media = tv_stack.media_server
    assert moves(tmp_path, rid) == [
        (None, "available", media),
        ("available", "partially_available", "sonarr"),
        ("partially_available", "available", media),
    ]


def test_an_episode_dated_days_ahead_that_airs_early_is_seen_in_the_next_cycle(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    """Sonarr's history has no event for a re-dated episode and the stored air date is days
    away: the calendar shows the new date, so the show is partial after one cycle, not at the
    next full listing."""
    world = tv_stack.world
    real_now = datetime.now(UTC)
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2},
                                  first_aired=real_now - timedelta(days=14))
    later = (real_now + timedelta(days=6)).replace(microsecond=0)
    e3 = world.sonarr.add_episode(sid, 1, 3, later)
    world.sonarr.import_download(world.sonarr.grab(sid, world.sonarr.episode_ids(sid)[:2]))
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB, tmdb_id=TMDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1), (1, 2))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "available"
    assert f"1 still to air, next on {later.date().isoformat()}" in req["detail"]
    assert once(tmp_path) == 0  # an incremental poll: nothing re-dated, nothing read again
    assert request(tmp_path, rid)["state"] == "available"

    world.sonarr.update_episode(e3, air_date_utc=real_now - timedelta(minutes=1))
    tv_stack.reset_stats()
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert (req["state"], req["via"]) == ("partially_available", "sonarr")
    assert (req["episodes_available"], req["episodes_aired"]) == (2, 3)
    assert not tv_stack.requests("sonarr", path="/api/v3/series")  # no full listing


@ON_EACH
def test_episodes_the_operator_unmonitors_in_sonarr_do_not_keep_a_season_from_available(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    """Two episodes are playable; two old ones were unmonitored before the request was first
    read; the latest one aired two days ago and never came, and the operator unmonitors it
    while it is tracked: Sonarr's calendar shows the change, so the next cycle counts it out."""
    world = tv_stack.world
    real_now = datetime.now(UTC)
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 4},
                                  first_aired=real_now - timedelta(days=30))
    e1, e2, e3, e4 = world.sonarr.episode_ids(sid, season=1)
    e5 = world.sonarr.add_episode(sid, 1, 5, real_now - timedelta(days=2))
    world.sonarr.import_download(world.sonarr.grab(sid, [e1, e2]))
    for eid in (e3, e4):
        world.sonarr.update_episode(eid, monitored=False)
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB, tmdb_id=TMDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1), (1, 2))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "partially_available"
    assert (req["episodes_available"], req["episodes_aired"]) == (2, 3)
    assert "2 unmonitored episodes in Sonarr are not counted" in req["detail"]

    world.sonarr.update_episode(e5, monitored=False)
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "available"
    assert (req["episodes_available"], req["episodes_aired"]) == (2, 2)
    assert req["detail"] == (f"all 2 aired episodes playable in {NAMES[tv_stack.media_server]}; "
                             "3 unmonitored episodes in Sonarr are not counted")
    assert set(episode_states(tmp_path, rid)) == {"S01E01", "S01E02"}


@ON_EACH
def test_a_multi_episode_file_makes_every_episode_it_covers_available(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 3})
    e1, e2, e3 = world.sonarr.episode_ids(sid, season=1)
    double = world.sonarr.grab(sid, [e1, e2])
    world.sonarr.progress(double, 0.5)
    world.sonarr.import_download(world.sonarr.grab(sid, [e3]))
    assert once(tmp_path) == 0
    assert episode_states(tmp_path, rid) == {
        "S01E01": "downloading", "S01E02": "downloading", "S01E03": "importing"}

    world.sonarr.import_file(sid, [e1, e2], download_id=double)  # one file, S01E01-E02
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    tv_stack.media.add_episode(jf_series, 1, 1, episode_end=2)
    assert once(tmp_path) == 0
    assert episode_states(tmp_path, rid) == {
        "S01E01": "available", "S01E02": "available", "S01E03": "importing"}
    assert request(tmp_path, rid)["state"] == "partially_available"

    tv_stack.media.add_episode(jf_series, 1, 3)
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "available"


def test_sonarr_unreachable_for_a_cycle_moves_no_show_and_exits_3(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    did = world.sonarr.grab(sid, season=1)
    world.sonarr.progress(did, 0.5)
    assert once(tmp_path) == 0
    before = show(tmp_path, rid)
    assert before["request"]["state"] == "downloading"

    tv_stack.set_fault("sonarr", "refuse")
    world.sonarr.complete_download(did)
    world.sonarr.import_download(did)
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1))
    assert once(tmp_path) == 3
    after = show(tmp_path, rid)
    assert after["request"]["state"] == "downloading"
    assert after["episodes"] == before["episodes"]
    assert after["timeline"] == before["timeline"]

    tv_stack.clear_fault("sonarr")
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "partially_available"


@ON_EACH
def test_a_request_without_a_tvdb_id_finds_its_series_by_tmdb_id(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, seasons=[1])
    world.sonarr.add_series(371572, "House of the Dragon", tmdb_id=94997, seasons={1: 2})
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    world.sonarr.import_download(world.sonarr.grab(sid, season=1))
    # Jellyfin's series carries only the TVDB id, which Sonarr supplied.
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1), (1, 2))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["tvdb_id"] is None
    assert req["state"] == "available"
    assert len(show(tmp_path, rid)["episodes"]) == 2


@ON_EACH
def test_a_request_for_one_season_counts_only_that_season(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[2])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2, 2: 2})
    world.sonarr.import_download(world.sonarr.grab(sid, season=2))
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, (2, 1), (2, 2))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "available"
    assert (req["episodes_available"], req["episodes_aired"]) == (2, 2)
    assert set(episode_states(tmp_path, rid)) == {"S02E01", "S02E02"}


@ON_EACH
def test_an_all_seasons_request_counts_every_season_sonarr_monitors(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB)
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={0: 1, 1: 1, 2: 1, 3: 1},
                                  unmonitored_seasons=[3])
    world.sonarr.import_download(world.sonarr.grab(sid, season=1))
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1))
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert req["state"] == "partially_available"
    assert set(episode_states(tmp_path, rid)) == {"S01E01", "S02E01"}

    world.sonarr.import_download(world.sonarr.grab(sid, season=2))
    list_in_jellyfin(tv_stack, jf_series, (2, 1))
    assert once(tmp_path) == 0
    assert request(tmp_path, rid)["state"] == "available"


def test_status_shows_episode_progress_for_a_show(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 10})
    world.sonarr.import_download(world.sonarr.grab(sid, season=1))
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, *[(1, n) for n in range(1, 8)])
    assert once(tmp_path) == 0
    result = run_reconcile("--config", str(tmp_path / "config.toml"), "status")
    assert result.code == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith(str(rid)))
    assert "partially_available" in line
    assert "7/10 episodes" in line


def test_show_lists_every_episode_with_its_state(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    e1, e2 = world.sonarr.episode_ids(sid, season=1)
    world.sonarr.import_download(world.sonarr.grab(sid, [e1]))
    world.sonarr.progress(world.sonarr.grab(sid, [e2]), 0.3)
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1))
    assert once(tmp_path) == 0
    result = run_reconcile("--config", str(tmp_path / "config.toml"), "show", str(rid))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    episodes = lines[lines.index("episodes:") + 1:]
    assert episodes[0].split()[:2] == ["EP", "STATE"]
    rows = {line.split()[0]: line.split()[1] for line in episodes[1:]}
    assert rows == {"S01E01": "available", "S01E02": "downloading"}


@ON_EACH
def test_a_second_cycle_with_no_change_writes_no_rows_for_an_airing_show(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 3})
    world.sonarr.add_episode(sid, 1, 4, datetime.now(UTC) + timedelta(hours=1))
    e1, e2, e3, _ = world.sonarr.episode_ids(sid, season=1)
    world.sonarr.import_download(world.sonarr.grab(sid, [e1]))
    world.sonarr.progress(world.sonarr.grab(sid, [e2, e3]), 0.3)
    jf_series = tv_stack.media.add_series(TITLE, tvdb_id=TVDB)
    list_in_jellyfin(tv_stack, jf_series, (1, 1))
    assert once(tmp_path) == 0
    assert once(tmp_path) == 0
    changed = rows_changed_by(tmp_path / "reconciler.db", lambda: once(tmp_path))
    assert changed == {"polls": 3}


def test_a_series_is_read_again_every_poll_only_while_an_episode_airs_within_two_hours(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    world = tv_stack.world
    world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    later = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    world.sonarr.add_episode(later, 1, 3, datetime.now(UTC) + timedelta(days=6))
    world.jellyseerr.add_request(94997, "tv", "House of the Dragon", tvdb_id=371572, seasons=[1])
    soon = world.sonarr.add_series(371572, "House of the Dragon", tmdb_id=94997, seasons={1: 2})
    world.sonarr.add_episode(soon, 1, 3, datetime.now(UTC) + timedelta(hours=1))
    assert once(tmp_path) == 0
    assert once(tmp_path) == 0
    tv_stack.reset_stats()
    assert once(tmp_path) == 0
    reads = [r.query.get("seriesId") for r in tv_stack.requests("sonarr", path="/api/v3/episode")]
    assert reads == [str(soon)]


def test_an_episode_download_removed_in_sonarr_is_failed_until_it_is_grabbed_again(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    """Sonarr's `downloadIgnored`, per episode: the episode whose download was removed
    without blocklisting is failed (Sonarr will not grab it again by itself) and holds the show
    back; the other episode keeps its own state; a new grab moves it on."""
    world = tv_stack.world
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    e1, e2 = world.sonarr.episode_ids(sid, season=1)
    first = world.sonarr.grab(sid, [e1], size=1_000_000_000)
    second = world.sonarr.grab(sid, [e2], size=1_000_000_000)
    world.sonarr.progress(first, 0.5)
    world.sonarr.progress(second, 0.5)
    assert once(tmp_path) == 0
    assert episode_states(tmp_path, rid) == {"S01E01": "downloading", "S01E02": "downloading"}

    world.sonarr.ignore_download(second, "Removed by user")
    assert once(tmp_path) == 0
    assert episode_states(tmp_path, rid) == {"S01E01": "downloading", "S01E02": "failed"}
    req = request(tmp_path, rid)
    assert (req["state"], req["via"]) == ("failed", "sonarr")
    assert "the download was removed in Sonarr (Removed by user) and nothing new was grabbed" \
        in req["detail"]

    again = world.sonarr.grab(sid, [e2], size=1_000_000_000)
    world.sonarr.progress(again, 0.2)
    assert once(tmp_path) == 0
    assert episode_states(tmp_path, rid) == {"S01E01": "downloading", "S01E02": "downloading"}
    assert request(tmp_path, rid)["state"] == "downloading"
    assert moves(tmp_path, rid) == [
        (None, "downloading", "sonarr"), ("downloading", "failed", "sonarr"),
        ("failed", "downloading", "sonarr")]
    # Every queue record already names its episode: the episode resource is never asked for.
    queue = tv_stack.requests("sonarr", method="GET", path="/api/v3/queue/details")
    assert len(queue) == 3
    assert all("includeEpisode" not in r.query for r in queue)
    assert tv_stack.requests("sonarr", method="GET", path="/api/v3/queue") == []


@ON_EACH
def test_an_episode_the_server_has_not_scanned_gets_one_scan_while_the_show_is_partial(
        tv_stack: SimulatedStack, tmp_path: Path) -> None:
    """The weekly case on any server: episode 1 plays, episode 2 is imported and on disk but
    not scanned in. The show is partially available, and past `refresh_grace` the server is
    asked once to scan that file (Plex: its folder), not the library; episode 2 counts only
    once it is listed."""
    world, media, kind = tv_stack.world, tv_stack.media, tv_stack.media_server
    tv_stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db",
                          servers=settings(tv_stack, refresh_grace="0.05s"))
    media.scan_on_refresh = False
    rid = world.jellyseerr.add_request(TMDB, "tv", TITLE, tvdb_id=TVDB, seasons=[1])
    sid = world.sonarr.add_series(TVDB, TITLE, tmdb_id=TMDB, seasons={1: 2})
    e1, e2 = world.sonarr.episode_ids(sid, season=1)
    world.sonarr.import_download(world.sonarr.grab(sid, [e1]))
    [f2] = world.sonarr.import_download(world.sonarr.grab(sid, [e2]))
    path = f"{world.sonarr.get_series(sid).path}/{world.sonarr.files[f2].relative_path}"
    series = media.add_series(TITLE, tvdb_id=TVDB)
    media.add_episode(series, 1, 1)
    media.add_episode(series, 1, 2, path=path, pending=True)
    assert once(tmp_path) == 0
    assert (request(tmp_path, rid)["state"], episode_states(tmp_path, rid)["S01E02"]) == (
        "partially_available", "importing")
    deadline = time.monotonic() + 15
    while not media.scans():
        assert time.monotonic() < deadline, "no scan was asked for"
        assert once(tmp_path) == 0
        assert request(tmp_path, rid)["state"] == "partially_available"
    for _ in range(2):
        assert once(tmp_path) == 0
    [scan] = media.scans()
    folder = path if kind != "plex" else path.rsplit("/", 1)[0]
    assert (scan.kind, scan.paths) == ("paths", (folder,))
    assert f"waiting for {NAMES[kind]}" in request(tmp_path, rid)["detail"]

    media.scan(path=folder)
    assert once(tmp_path) == 0
    req = request(tmp_path, rid)
    assert (req["state"], req["via"], req["episodes_available"]) == ("available", kind, 2)
