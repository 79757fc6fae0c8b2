"""The page's words for a request (pure): labels, the journey bar, the requester, year and
ETA, and the release dates of films not out yet and shows not aired yet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from reconciler.states import RequestState
from reconciler.store import EpisodeRow
from reconciler.web import listing
from reconciler.web import present as p
from reconciler.web.listing import Group
from reconciler.words import PageTimes
from tests.web.support import NOW, household, row

S = RequestState


def test_every_state_has_a_label_a_name_and_a_tone() -> None:
    for state in S:
        assert p.LABELS[state] and p.STATE_NAMES[state] and p.TONES[state]


@pytest.mark.parametrize(("state", "fields", "label", "percent"), [
    (S.REQUESTED, {}, "Waiting for approval", 5),
    (S.APPROVED, {}, "Approved, looking for a release", 15),
    (S.INDEXED, {}, "Release found, download starting", 25),
    (S.DOWNLOADING, {"progress": 0.0}, "Downloading 0 %", 25),
    (S.DOWNLOADING, {"progress": 1.0}, "Downloading 100 %", 75),
    (S.DOWNLOADING, {}, "Downloading", 25),
    (S.DOWNLOAD_DONE, {}, "Downloaded, waiting to be imported", 78),
    (S.IMPORTING, {"phase": "importing"}, "Being added to the library", 85),
    (S.IMPORTING, {"phase": "waiting_for_jellyfin"}, "Waiting for Jellyfin", 85),
    (S.ANIME_MATCHING, {"phase": "waiting_for_shoko"}, "Being identified by Shoko", 90),
    (S.ANIME_MATCHING, {"phase": "waiting_for_jellyfin"}, "Waiting for Jellyfin", 90),
    (S.AVAILABLE, {}, "Ready to watch", 100),
    (S.FAILED, {}, "Download failed", None),
    (S.DECLINED, {}, "Declined", None),
    (S.DELETED, {}, "Removed", None),
])
def test_label_and_journey(state: RequestState, fields: dict[str, object], label: str,
                           percent: int | None) -> None:
    view = p.present(row(1, state, "X", **fields), NOW)
    assert (view.label, view.percent) == (label, percent)


def test_a_partly_available_show_counts_its_episodes() -> None:
    r = row(5, S.PARTIALLY_AVAILABLE, "Show", tv=True, episodes_available=3,
            episodes_aired=4)
    view = p.present(r, NOW, NOW + timedelta(days=2))
    assert view.label == "3 of 4 episodes ready" and view.percent == 75
    assert view.episodes_text == "3 of 4 episodes, next on 6 Dec"
    assert p.present(r, NOW).episodes_text == "3 of 4 episodes"


def test_requester_year_and_eta_show_when_a_row_has_them() -> None:
    r = row(2, S.DOWNLOADING, "Film", progress=0.5)
    assert p.present(r, NOW).requested_by is None and p.present(r, NOW).eta is None
    r = replace(r, requested_by="Anna", eta=datetime(2026, 12, 4, 19, 30, tzinfo=UTC),
                year=2024)
    view = p.present(r, NOW)
    assert view.requested_by == "Anna" and view.year == 2024
    assert view.eta == datetime(2026, 12, 4, 19, 30, tzinfo=UTC)
    found = listing.entries([(view.id, view.state, view.stuck, None, None, "",
                              view.requested_by, view.title, None)])
    assert listing.screen(found, user="anna").filtered == (2,)
    assert listing.screen(found, user="bob").filtered == ()
    assert listing.screen(found, query="ann").filtered == (2,)
    done = p.present(replace(r, state=S.DOWNLOAD_DONE), NOW)
    assert done.eta is None  # an ETA only while the download runs


def test_a_film_not_released_yet_says_when_it_is_expected() -> None:
    r = replace(row(8, S.APPROVED, "Later"), release_date=datetime(2027, 3, 14, tzinfo=UTC))
    # Next year: its year is named (issue 23: "expected 25 Jun" read as this June).
    assert p.present(r, NOW).label == "Not released yet: expected 14 Mar 2027"
    assert p.present(replace(r, state=S.REQUESTED), NOW).label == \
        "Not released yet: expected 14 Mar 2027"
    this_year = replace(r, release_date=datetime(2026, 12, 24, tzinfo=UTC))
    assert p.present(this_year, NOW).label == "Not released yet: expected 24 Dec"
    released = replace(r, release_date=datetime(2026, 1, 1, tzinfo=UTC))
    assert p.present(released, NOW).label == "Approved, looking for a release"
    grabbed = replace(r, state=S.INDEXED)  # something was found early: it says so
    assert p.present(grabbed, NOW).label == "Release found, download starting"


def test_a_show_not_aired_yet_says_when_the_next_episode_airs() -> None:
    r = replace(row(9, S.APPROVED, "New Show", tv=True, phase="waiting_for_air"),
                release_date=datetime(2026, 12, 12, 2, 0, tzinfo=UTC))
    assert p.present(r, NOW).label == "Not aired yet: next episode 12 Dec"


def test_a_stuck_request_takes_the_problem_tone() -> None:
    views = {v.id: v for v in (p.present(r, NOW) for r in household())}
    assert views[6].stuck and views[6].tone == "problem" and views[2].tone == "active"


def test_credentials_in_upstream_text_are_hidden() -> None:
    text = "cannot reach http://user:pw@nas:7878/api?apikey=abc123&x=1"
    assert p.redact(text) == "cannot reach http://***@nas:7878/api?apikey=***&x=1"


def test_the_server_is_shown_only_when_asked() -> None:
    r = replace(row(3, S.DOWNLOADING, "Film", progress=0.5), server="radarr4k")
    assert p.present(r, NOW).server is None
    assert p.present(r, NOW, show_server=True).server == "radarr4k"
    assert p.present(replace(r, server=None), NOW, show_server=True).server is None


# ---------------------------------------------------------------- issue 23: never misleading


def ep(season: int, number: int, state: str, *, air: datetime | None = None,
       progress: float | None = None, eta: datetime | None = None) -> EpisodeRow:
    return EpisodeRow(season, number, 100 * season + number,
                      air or NOW - timedelta(days=30 - number), state, "sonarr", None,
                      progress, eta)


def test_a_partly_ready_show_names_the_episode_on_its_way_and_when() -> None:
    """Before: "9 of 10 episodes ready · next on 14 Dec", silent about S02E04 downloading,
    and counted as not on the way."""
    episodes = [ep(2, n, "available") for n in (1, 2, 3)] + [
        ep(2, 4, "downloading", progress=0.25, eta=NOW + timedelta(minutes=100)),
        ep(2, 5, "approved", air=NOW + timedelta(days=10, hours=2))]
    r = row(5, S.PARTIALLY_AVAILABLE, "Slow Horses", tv=True, episodes_available=3,
            episodes_aired=4)
    view = p.present(r, NOW, episodes=episodes, times=PageTimes(UTC, NOW))
    assert view.news == ("S02E04 downloading 25 %, ready about 19:40",
                         "S02E05 airs 14 Dec, 20:00")
    assert view.group is Group.ON_THE_WAY and view.label == "3 of 4 episodes ready"
    assert view.next_air_date == date(2026, 12, 14)


def test_one_season_pack_is_one_line_and_unaired_episodes_say_when_they_air() -> None:
    pack = [ep(1, n, "downloading", progress=0.5, eta=NOW + timedelta(hours=26))
            for n in range(1, 9)]
    later = [ep(1, 9, "approved", air=NOW + timedelta(days=400))]
    view = p.present(row(3, S.DOWNLOADING, "Show", tv=True, episodes_aired=8,
                         episodes_available=0), NOW, episodes=pack + later,
                     times=PageTimes(UTC, NOW))
    assert view.news == ("S01E01–E08 downloading 50 %, ready about tomorrow, 20:00",
                         "S01E09 airs 8 Jan 2028, 18:00")
    assert view.label == "Downloading"  # the episodes' own percentages are in the lines


def test_a_second_download_starting_never_moves_a_show_back() -> None:
    """Before: a show at 85 % dropped to 64 % when a second download started (the bar was
    bytes over every download under way)."""
    first = [ep(1, n, "downloading", progress=0.85) for n in range(1, 5)]
    waiting = [ep(1, n, "approved") for n in range(5, 9)]
    show = row(3, S.DOWNLOADING, "Show", tv=True, episodes_aired=8, episodes_available=0,
               progress=0.85)
    before = p.present(show, NOW, episodes=first + waiting).percent
    second = [ep(1, n, "downloading", progress=0.0) for n in range(5, 9)]
    after = p.present(replace(show, progress=0.43), NOW, episodes=first + second).percent
    assert before is not None and after is not None and after > before


def test_one_percentage_per_meaning_the_bar_says_it_is_the_whole_way() -> None:
    view = p.present(row(2, S.DOWNLOADING, "Film", progress=0.42), NOW)
    assert view.label == "Downloading 42 %" and view.percent == 46
    assert view.journey_text == "46 % of the way"
    assert p.present(row(1, S.AVAILABLE, "Film"), NOW).journey_text == ""


def test_a_stuck_download_promises_no_time() -> None:
    r = row(6, S.DOWNLOADING, "Film", progress=0.05, eta=NOW + timedelta(hours=1),
            stuck_reason="no download progress in 2 h", stuck_since=NOW)
    view = p.present(r, NOW)
    assert view.eta is None and view.group is Group.ATTENTION and view.attention
    stuck_show = p.present(
        row(7, S.DOWNLOADING, "Show", tv=True, episodes_aired=1, episodes_available=0,
            stuck_reason="no download progress in 2 h", stuck_since=NOW), NOW,
        episodes=[ep(1, 1, "downloading", progress=0.1, eta=NOW + timedelta(hours=1))])
    assert stuck_show.news == ("S01E01 downloading 10 %",)


@pytest.mark.parametrize(("detail", "via", "why", "next_step"), [
    ("download failed: Not enough disk space; nothing new grabbed", "radarr",
     "The download failed: Not enough disk space.",
     "Radarr is looking for another release; none found yet."),
    ("download failed: stalled", "sonarr", "The download failed: stalled.",
     "Sonarr is looking for another release."),
    ("the download was removed in Radarr (manual) and nothing new was grabbed", "radarr",
     "The download was removed in Radarr (manual).",
     "Nothing else is being searched: ask again in Jellyseerr."),
    ("Jellyseerr could not send the request to Radarr", "jellyseerr",
     "Jellyseerr could not send the request to Radarr.", "Nothing is being searched"),
])
def test_a_failed_card_says_why_and_what_happens_next(detail: str, via: str, why: str,
                                                      next_step: str) -> None:
    tv = via == "sonarr"
    failure = p.present(row(7, S.FAILED, "X", tv=tv, via=via, detail=detail), NOW).failure
    assert failure is not None
    assert failure.why == why and failure.next.startswith(next_step)


def test_play_only_on_what_plays() -> None:
    url = "https://jf.example.org/web/index.html#/details?id=a1"
    assert p.present(row(1, S.AVAILABLE, "Film"), NOW, play=url).play == url
    assert p.present(row(2, S.DOWNLOADING, "Film", progress=0.5), NOW, play=url).play is None
