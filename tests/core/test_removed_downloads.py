"""A download removed from the client without being imported (no history record): when its
departed queue record makes a film or an episode failed, and when it does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from reconciler.core import Evidence, decide
from reconciler.core.downloads import removed_download
from reconciler.models import HistoryFacts, QueueDeparture
from reconciler.states import RequestState
from tests.core.core_builders import (
    NOW,
    ago,
    current,
    episode,
    film,
    movie,
    record,
    show,
)

S = RequestState
GRAB = ago(hours=3)
GRABBED = HistoryFacts(grabbed_at=GRAB, grabbed_title="The.Matrix.1999.1080p")


def gone(*, confirmed: bool = True, grabbed_at: datetime | None = GRAB,
         episode_id: int | None = None) -> QueueDeparture:
    return QueueDeparture(download_id="D1", title="The.Matrix.1999.1080p", episode_id=episode_id,
                          progress=0.4, gone_at=ago(minutes=2), grabbed_at=grabbed_at,
                          confirmed=confirmed)


# (history, departed records, the departure that counts as a removal, or None)
REMOVALS = [
    pytest.param(GRABBED, [gone()], 0, id="confirmed-with-nothing-since-the-grab-is-removed"),
    pytest.param(GRABBED, [gone(confirmed=False)], None,
                 id="missing-from-one-poll-only-is-not-yet-a-removal"),
    pytest.param(replace(GRABBED, imported_at=ago(hours=1)), [gone()], None,
                 id="an-import-since-the-grab-is-no-removal"),
    pytest.param(replace(GRABBED, imported_at=GRAB), [gone()], None,
                 id="an-import-at-the-grab-time-is-no-removal"),
    pytest.param(replace(GRABBED, failed_at=ago(hours=1)), [gone()], None,
                 id="a-failure-since-the-grab-is-a-failure-not-a-removal"),
    pytest.param(replace(GRABBED, ignored_at=ago(hours=1)), [gone()], None,
                 id="an-ignore-since-the-grab-is-an-ignore-not-a-removal"),
    pytest.param(replace(GRABBED, imported_at=ago(days=3)), [gone()], 0,
                 id="an-import-before-the-grab-says-nothing"),
    pytest.param(replace(GRABBED, grabbed_at=ago(minutes=1)), [gone()], None,
                 id="a-newer-grab-moves-it-on"),
    pytest.param(HistoryFacts(), [gone(grabbed_at=None)], 0,
                 id="no-grab-known-and-nothing-since-is-removed"),
    pytest.param(HistoryFacts(imported_at=ago(hours=1)), [gone(grabbed_at=None)], None,
                 id="no-grab-known-any-import-is-no-removal"),
    pytest.param(GRABBED, [gone(confirmed=False), gone()], 1,
                 id="the-confirmed-one-of-two-counts"),
    pytest.param(GRABBED, [], None, id="nothing-departed"),
]


@pytest.mark.parametrize(("history", "departed", "which"), REMOVALS)
def test_removed_download(history: HistoryFacts, departed: list[QueueDeparture],
                          which: int | None) -> None:
    found = removed_download(history, departed)
    assert found is (None if which is None else departed[which])


def test_a_removed_film_is_failed_via_radarr_and_says_what_happens_next() -> None:
    evidence = replace(film(radarr=movie(), history=GRABBED), departed=(gone(),))
    decision = decide(evidence, current(S.DOWNLOADING), NOW)
    assert (decision.state, decision.via, decision.transition) == (S.FAILED, "radarr", True)
    assert decision.detail == (
        "the download (The.Matrix.1999.1080p) was removed from the download client without "
        "being imported; Radarr will not search for it again by itself: search again in "
        "Radarr, or ask again in Jellyseerr")


def test_a_departure_not_yet_confirmed_holds_a_downloading_film() -> None:
    evidence = replace(film(radarr=movie(), history=GRABBED), departed=(gone(confirmed=False),))
    decision = decide(evidence, current(S.DOWNLOADING, detail="downloading 40%"), NOW)
    assert (decision.state, decision.held, decision.detail) == (S.DOWNLOADING, True,
                                                                "downloading 40%")


@pytest.mark.parametrize("evidence", [
    pytest.param(replace(film(radarr=movie(has_file=True), history=GRABBED),
                         departed=(gone(),)), id="a-file-outranks-a-departure"),
    pytest.param(replace(film(radarr=movie(), history=GRABBED, queue=[record()]),
                         departed=(gone(),)), id="a-queued-download-outranks-a-departure"),
])
def test_what_outranks_a_departure(evidence: Evidence) -> None:
    decision = decide(evidence, None, NOW)
    assert decision.state is not S.FAILED


def test_each_episode_of_a_removed_season_pack_is_failed_and_holds_the_show() -> None:
    eps = [replace(episode(1, n, history=GRABBED), departed=(gone(episode_id=100 + n),))
           for n in (1, 2)]
    decision = decide(show(eps), current(S.DOWNLOADING), NOW)
    assert (decision.state, decision.via) == (S.FAILED, "sonarr")
    assert "2/2 episodes failed" in decision.detail
    assert "Sonarr will not search for it again by itself" in decision.detail
    assert [e.state for e in decision.episodes] == [S.FAILED, S.FAILED]


def test_one_removed_episode_leaves_the_others_where_they_are() -> None:
    eps = [episode(1, 1, history=GRABBED, queue=[record(episode_id=101)]),
           replace(episode(1, 2, history=GRABBED), departed=(gone(episode_id=102),))]
    decision = decide(show(eps), None, NOW)
    assert [e.state for e in decision.episodes] == [S.DOWNLOADING, S.FAILED]
