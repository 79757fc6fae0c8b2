"""Release dates and download ETAs (pure): a film approved before its home release, or a show
whose requested episodes have not aired, is waiting for the calendar, not stuck; the ETA is
the earliest expected end of the downloads still under way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.core import (
    CINEMA_TO_HOME,
    Deadlines,
    EpisodeDecision,
    download_eta,
    film_release,
    show_release,
    stuck_reason,
)
from reconciler.models import QueueRecord, RadarrMovie
from reconciler.states import Phase, RequestState

S = RequestState
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SIX_HOURS = Deadlines().approved


def at(text: str) -> datetime:
    """A time as the parsers give it (ISO 8601 text, for readable tables)."""
    return datetime.fromisoformat(text)


def movie(**fields: object) -> RadarrMovie:
    return RadarrMovie(id=1, tmdb_id=603, title="Film", has_file=False, **fields)  # type: ignore[arg-type]


def approved_stuck(since: datetime, release: datetime | None, now: datetime) -> str | None:
    return stuck_reason(S.APPROVED, Phase.WAITING_FOR_GRAB, since, since, since, now,
                        Deadlines(), release=release)


# ---------------------------------------------------------------- film_release


def test_a_film_is_released_at_home_with_its_first_digital_or_physical_release() -> None:
    film = movie(status="announced", in_cinemas=at("2026-02-01T00:00:00Z"),
                 digital_release=at("2026-03-14T00:00:00Z"),
                 physical_release=at("2026-04-20T00:00:00Z"))
    assert film_release(film, NOW) == datetime(2026, 3, 14, tzinfo=UTC)


def test_without_a_home_release_date_it_counts_90_days_after_cinemas() -> None:
    film = movie(status="inCinemas", in_cinemas=at("2026-02-01T00:00:00Z"))
    assert film_release(film, NOW) == datetime(2026, 2, 1, tzinfo=UTC) + CINEMA_TO_HOME


def test_no_date_known_is_no_release_date() -> None:
    assert film_release(movie(status="announced"), NOW) is None
    assert film_release(None, NOW) is None


def test_radarr_saying_released_wins_over_a_date_still_to_come() -> None:
    """Radarr's status is its own reading of the dates: "released" with a future date is data
    gone stale, and waiting on it would hide a stuck film."""
    film = movie(status="released", digital_release=at("2026-06-01T00:00:00Z"))
    assert film_release(film, NOW) is None
    past = movie(status="released", digital_release=at("2026-01-10T00:00:00Z"))
    assert film_release(past, NOW) == datetime(2026, 1, 10, tzinfo=UTC)


# ---------------------------------------------------------------- the stuck rule


def test_a_film_approved_before_its_release_is_not_stuck_before_release_plus_deadline() -> None:
    approved = NOW - timedelta(days=30)
    release = NOW + timedelta(days=13)
    assert approved_stuck(approved, release, NOW) is None
    assert approved_stuck(approved, release, release) is None
    assert approved_stuck(approved, release, release + SIX_HOURS - timedelta(seconds=1)) is None
    assert approved_stuck(approved, release, release + SIX_HOURS) == \
        "no release grabbed after 6 h"


def test_without_a_release_date_the_deadline_runs_from_the_approval() -> None:
    approved = NOW - SIX_HOURS
    assert approved_stuck(approved, None, NOW) == "no release grabbed after 6 h"


def test_a_release_long_past_changes_nothing() -> None:
    approved = NOW - SIX_HOURS
    assert approved_stuck(approved, NOW - timedelta(days=400), NOW) == \
        "no release grabbed after 6 h"
    assert approved_stuck(approved, None, NOW - timedelta(seconds=1)) is None


@pytest.mark.parametrize("state", [S.INDEXED, S.DOWNLOAD_DONE, S.IMPORTING])
def test_the_release_date_only_delays_the_approved_deadline(state: RequestState) -> None:
    """Once something was grabbed the release was out: the other deadlines run as before."""
    since = NOW - timedelta(hours=3)
    assert stuck_reason(state, None, since, since, since, NOW, Deadlines(),
                        release=NOW + timedelta(days=5)) is not None


# ---------------------------------------------------------------- show_release


def episode(number: int, state: RequestState, air: datetime | None) -> EpisodeDecision:
    return EpisodeDecision(season=1, episode=number, state=state, via="sonarr",
                           air_date=air,
                           sonarr_episode_id=100 + number)


def test_a_show_waits_on_its_next_episode_to_air() -> None:
    episodes = [episode(1, S.APPROVED, NOW + timedelta(days=3)),
                episode(2, S.APPROVED, NOW + timedelta(days=10))]
    release = show_release(episodes)
    assert release == NOW + timedelta(days=3)
    assert approved_stuck(NOW - timedelta(days=20), release, NOW) is None


def test_a_show_with_an_aired_episode_missing_counts_from_that_air_date() -> None:
    """The earliest aired episode not yet playable: a day-old gap is stuck, a newly aired one
    is not yet."""
    episodes = [episode(1, S.AVAILABLE, NOW - timedelta(days=14)),
                episode(2, S.APPROVED, NOW - timedelta(hours=2)),
                episode(3, S.APPROVED, NOW + timedelta(days=5))]
    release = show_release(episodes)
    assert release == NOW - timedelta(hours=2)
    assert approved_stuck(NOW - timedelta(days=20), release, NOW) is None
    assert approved_stuck(NOW - timedelta(days=20), release, NOW + timedelta(hours=4)) == \
        "no release grabbed after 6 h"


def test_a_show_with_every_episode_playable_or_undated_waits_on_nothing() -> None:
    assert show_release([episode(1, S.AVAILABLE, NOW - timedelta(days=1))]) is None
    assert show_release([episode(1, S.APPROVED, None)]) is None


# ---------------------------------------------------------------- download_eta


def record(download_id: str, status: str, eta: datetime | None,
           state: str = "downloading") -> QueueRecord:
    return QueueRecord(download_id=download_id, status=status, tracked_status="ok",
                       tracked_state=state, size=100.0, sizeleft=50.0,
                       estimated_completion=eta)


def test_the_eta_is_the_earliest_of_the_downloads_under_way() -> None:
    queue = [record("a", "downloading", at("2026-03-01T14:00:00Z")),
             record("b", "downloading", datetime(2026, 3, 1, 13, 5, 0, 123456, tzinfo=UTC)),
             record("c", "completed", at("2026-03-01T12:00:00Z"), state="importPending"),
             record("d", "failed", at("2026-03-01T12:30:00Z"), state="failed")]
    assert download_eta(queue) == datetime(2026, 3, 1, 13, 5, 0, 123456, tzinfo=UTC)


def test_no_eta_without_one_from_the_download_client() -> None:
    assert download_eta([record("a", "queued", None)]) is None
    assert download_eta([]) is None
