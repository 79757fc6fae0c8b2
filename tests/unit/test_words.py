"""The words shared by the terminal, the page and the notices (`reconciler.words`): one title
rule everywhere, and each place's own wording of kinds, counts and times, chosen by its voice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reconciler import words
from reconciler.states import RequestState
from reconciler.words import Voice
from tests.web.support import NOW, row

S = RequestState


def test_a_request_without_a_title_shows_its_id() -> None:
    r = row(12, S.APPROVED, "The Matrix")
    assert words.display_title(r) == "The Matrix"
    assert words.display_title(replace(r, title=None, tmdb_id=603)) == "TMDB 603"
    assert words.display_title(replace(r, title=None, tmdb_id=None)) == "Request #12"


def test_the_year_follows_the_title_in_each_voice() -> None:
    r = replace(row(1, S.AVAILABLE, "Heat"), year=1995)
    assert words.with_year(r, Voice.TERMINAL) == "Heat [1995]"
    assert words.with_year(r, Voice.NOTICE) == "Heat (1995)"
    assert words.with_year(replace(r, year=None), Voice.NOTICE) == "Heat"
    assert words.with_year(replace(r, title=None, tmdb_id=949), Voice.TERMINAL) == \
        "TMDB 949 [1995]"


@pytest.mark.parametrize(("tv", "anime", "terminal", "page", "notice"), [
    (False, False, "movie", "Film", "film"),
    (True, False, "tv", "Show", "series"),
    (False, True, "movie", "Anime film", "film"),
    (True, True, "tv", "Anime show", "series"),
])
def test_each_voice_names_the_kind_its_own_way(tv: bool, anime: bool, terminal: str, page: str,
                                               notice: str) -> None:
    r = row(1, S.AVAILABLE, "X", tv=tv, is_anime=anime)
    assert (words.kind(r, Voice.TERMINAL), words.kind(r, Voice.PAGE),
            words.kind(r, Voice.NOTICE)) == (terminal, page, notice)


def test_counts_and_percentages_are_compact_at_a_terminal() -> None:
    show = row(5, S.DOWNLOADING, "Show", tv=True, episodes_available=3, episodes_aired=4,
               progress=0.42)
    assert words.episode_count(show, Voice.TERMINAL) == "3/4 episodes"
    assert words.episode_count(show, Voice.NOTICE) == "3/4 episodes"
    assert words.episode_count(show, Voice.PAGE) == "3 of 4 episodes"
    assert (words.percent(0.42, Voice.TERMINAL), words.percent(0.42, Voice.PAGE)) == \
        ("42%", "42 %")
    assert words.progress_text(show) == "3/4 episodes, 42%"
    assert words.progress_text(replace(show, state=S.PARTIALLY_AVAILABLE)) == "3/4 episodes"
    assert words.progress_text(row(2, S.DOWNLOADING, "Film", progress=0.05)) == "5%"
    assert words.progress_text(row(2, S.APPROVED, "Film")) == ""


@pytest.mark.parametrize(("seconds", "text"), [
    (-3, "0s ago"), (5, "5s ago"), (7 * 60 + 59, "7m ago"), (5 * 3600, "5h ago"),
    (3 * 86400 + 10, "3d ago"),
])
def test_the_terminal_says_how_long_ago_in_one_short_word(seconds: int, text: str) -> None:
    assert words.ago(NOW - timedelta(seconds=seconds), NOW) == text


def test_the_terminal_gives_a_days_date_in_utc() -> None:
    assert words.day(datetime(2026, 11, 1, 23, 30, tzinfo=UTC)) == "2026-11-01"


def test_an_eta_reads_as_a_time_of_day_then_a_date() -> None:
    times = words.PageTimes(UTC, NOW)
    soon = NOW + timedelta(minutes=85)
    assert times.soon(soon) == f"{soon:%H:%M}"
    tomorrow = (NOW + timedelta(days=1)).replace(hour=9, minute=10)
    assert times.soon(tomorrow) == "tomorrow, 09:10"
    later = (NOW + timedelta(days=3)).replace(hour=9, minute=10)
    assert times.soon(later) == f"{times.day(later)}, 09:10" == "7 Dec, 09:10"
    assert times.date_time(later) == "7 Dec, 09:10"


def test_times_that_do_not_go_stale() -> None:
    times = words.PageTimes(UTC, NOW)
    assert times.moment(NOW - timedelta(minutes=5)) == f"{NOW - timedelta(minutes=5):%H:%M}"
    yesterday = (NOW - timedelta(days=1)).replace(hour=17, minute=40)
    assert times.moment(yesterday) == "yesterday, 17:40"
    assert times.moment(NOW - timedelta(days=9)) == "25 Nov"
    assert times.day(datetime(2026, 12, 3, tzinfo=UTC).date()) == "3 Dec"


def test_a_date_outside_the_current_year_carries_its_year() -> None:
    """Issue 23: an episode aired a year ago read "7 Dec, 12:56", a film due next June
    "expected 25 Jun"."""
    times = words.PageTimes(UTC, NOW)
    assert times.date_time(datetime(2025, 12, 7, 12, 56, tzinfo=UTC)) == "7 Dec 2025, 12:56"
    assert times.day(datetime(2027, 6, 25).date()) == "25 Jun 2027"
    assert times.moment(datetime(2025, 12, 7, tzinfo=UTC)) == "7 Dec 2025"
    assert times.soon(datetime(2027, 1, 2, 9, 10, tzinfo=UTC)) == "2 Jan 2027, 09:10"


def test_every_time_is_in_the_one_configured_zone_and_named() -> None:
    """`[http] timezone`: the server's zone, not the process's (UTC in most containers)."""
    paris = words.PageTimes(ZoneInfo("Europe/Paris"), NOW)
    assert paris.clock(NOW) == "19:00" and paris.zone_name == "Europe/Paris"
    assert words.PageTimes(ZoneInfo("Etc/UTC"), NOW).zone_name == "UTC"
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already next year in Paris
    assert words.PageTimes(ZoneInfo("Europe/Paris"), late).date_time(late) == "1 Jan, 00:30"
    assert paris.full(late) == "Fri 1 Jan 2027, 00:30 Europe/Paris"

