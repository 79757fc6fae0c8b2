"""The page's words for a request (pure): labels, the journey bar, the requester, year and
ETA, and the release dates of films not out yet and shows not aired yet."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.states import RequestState
from reconciler.web import present as p
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
    assert [v.id for v in p.select([view], user="anna")] == [2]
    assert p.select([view], user="bob") == [] and [v.id for v in p.select([view], query="ann")]
    done = p.present(replace(r, state=S.DOWNLOAD_DONE), NOW)
    assert done.eta is None  # an ETA only while the download runs


def test_a_film_not_released_yet_says_when_it_is_expected() -> None:
    r = replace(row(8, S.APPROVED, "Later"), release_date=datetime(2027, 3, 14, tzinfo=UTC))
    assert p.present(r, NOW).label == "Not released yet: expected 14 Mar"
    assert p.present(replace(r, state=S.REQUESTED), NOW).label == \
        "Not released yet: expected 14 Mar"
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
