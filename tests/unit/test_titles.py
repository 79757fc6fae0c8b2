"""Title look-ups (`reconciler.cycle.titles`, issue 22): each failing TMDB id on its own growing
pause, never holding another back; an outage (every look-up failing) logged once when it starts
and once when it ends; no call for an id whose pause has not run out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from reconciler.config import Config
from reconciler.cycle import titles
from reconciler.cycle.context import PollContext
from reconciler.cycle.observations import Observations
from reconciler.cycle.titles import FIRST_PAUSE, LONGEST_PAUSE, pause
from reconciler.models import MediaType, SeerrStatus
from reconciler.store import Store
from tests.unit.test_poll_jellyseerr import NOW, Seerr, config, poll, poller, seerr_json

__all__ = ["config"]  # the fixture, used by name

BAD = 1033  # an id TMDB merged away: Seerr answers 500 "Unable to retrieve movie." for it


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(config: Config, clock: Clock) -> Any:
    store = Store.open(config.database)
    try:
        yield PollContext(store, Observations(store), config, clock)
    finally:
        store.close()


def title_calls(seerr: Seerr) -> list[str]:
    return [p for p in seerr.paths() if p.startswith("/api/v1/movie/")]


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def test_pauses_grow_from_minutes_to_a_day() -> None:
    assert [pause(n) for n in (1, 2, 3)] == [FIRST_PAUSE, FIRST_PAUSE * 2, FIRST_PAUSE * 4]
    assert pause(1) == timedelta(minutes=5)
    assert pause(9) < LONGEST_PAUSE
    assert pause(10) == pause(50) == LONGEST_PAUSE == timedelta(days=1)


def test_an_id_seerr_cannot_resolve_is_its_own_problem_and_waits_out_its_pause(
        config: Config, ctx: PollContext, clock: Clock) -> None:
    """A 500 for one id while the others answer: those get their titles, it gets a pause of its
    own, no outage is logged; steady polls ask nothing until the pause runs out; a new request
    gets its title in the poll that first sees it, the failing id is not asked with it."""
    seerr = Seerr(titles={603: "The Matrix", 604: "The Matrix Reloaded"})
    seerr.requests[1] = seerr_json(1, SeerrStatus.APPROVED, BAD)
    seerr.requests[2] = seerr_json(2, SeerrStatus.APPROVED, 603)
    p = poller(config, seerr)
    with capture_logs() as logs:
        assert poll(ctx, p).ok
    assert ctx.seen.title(MediaType.MOVIE, 603) == "The Matrix"
    failure = ctx.seen.title_failure(MediaType.MOVIE, BAD)
    assert failure is not None and not failure.outage
    assert "HTTP 500" in failure.reason and failure.retry_at == NOW + FIRST_PAUSE
    assert ctx.seen.titles_outage() is None
    assert not events(logs, "jellyseerr.titles_unavailable")
    assert len(events(logs, "jellyseerr.title_failed")) == 1

    for _ in range(3):  # steady polls inside the pause: no title call at all
        clock.advance(timedelta(minutes=1))
        seerr.forget()
        poll(ctx, p)
        assert title_calls(seerr) == []

    seerr.requests[3] = seerr_json(3, SeerrStatus.APPROVED, 604)
    seerr.forget()
    poll(ctx, p)
    assert title_calls(seerr) == ["/api/v1/movie/604"]
    assert ctx.seen.title(MediaType.MOVIE, 604) == "The Matrix Reloaded"

    clock.advance(timedelta(minutes=2))  # 6 minutes after the failure: its pause ran out
    seerr.forget()
    with capture_logs() as logs:
        poll(ctx, p)
    assert title_calls(seerr) == [f"/api/v1/movie/{BAD}"]
    failure = ctx.seen.title_failure(MediaType.MOVIE, BAD)
    assert failure is not None and failure.failures == 2
    assert failure.retry_at == clock.now + 2 * FIRST_PAUSE and failure.since == NOW
    assert logs == []  # neither an outage nor a second "failed" line
    assert ctx.seen.titles_outage() is None


def test_an_id_seerr_answers_without_a_title_is_paused_too(
        config: Config, ctx: PollContext, clock: Clock) -> None:
    seerr = Seerr(titles={603: "The Matrix"})
    seerr.requests[1] = seerr_json(1, SeerrStatus.APPROVED, 603)
    seerr.requests[2] = seerr_json(2, SeerrStatus.APPROVED, 404)
    p = poller(config, seerr)
    seerr.answer_404 = {404}
    poll(ctx, p)
    failure = ctx.seen.title_failure(MediaType.MOVIE, 404)
    assert failure is not None and failure.reason == titles.NO_TITLE
    seerr.forget()
    clock.advance(timedelta(minutes=1))
    poll(ctx, p)
    assert title_calls(seerr) == []


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
        config: Config, ctx: PollContext, clock: Clock) -> None:
    """Every look-up failing: one warning; while it lasts one probe a poll and no new line;
    the first answer ends it (one line) and the ids it held get their titles in that poll."""
    seerr = Seerr()
    for n in range(3):
        seerr.requests[n + 1] = seerr_json(n + 1, SeerrStatus.APPROVED, 603 + n)
    p = poller(config, seerr)
    with capture_logs() as logs:
        poll(ctx, p)
    assert len(events(logs, "jellyseerr.titles_unavailable")) == 1
    assert not events(logs, "jellyseerr.title_failed")
    held = ctx.seen.title_failures()
    assert len(held) == 3 and all(f.outage for f in held.values())

    for _ in range(2):
        clock.advance(timedelta(minutes=1))
        seerr.forget()
        with capture_logs() as logs:
            poll(ctx, p)
        assert len(title_calls(seerr)) == 1 and logs == []

    seerr.titles.update({603: "The Matrix", 604: "The Matrix Reloaded", 605: "Revolutions"})
    clock.advance(timedelta(minutes=1))
    seerr.forget()
    with capture_logs() as logs:
        poll(ctx, p)
    assert len(events(logs, "jellyseerr.titles_available")) == 1
    assert len(title_calls(seerr)) == 3
    assert ctx.seen.titles_outage() is None and ctx.seen.title_failures() == {}


def test_one_bad_id_among_an_outage_keeps_its_own_pause(
        config: Config, ctx: PollContext, clock: Clock) -> None:
    """An id already failing on its own that fails again with the others is still its own
    problem (its pause grows); when the outage ends it is not asked before its pause runs out."""
    seerr = Seerr(titles={603: "The Matrix"})
    seerr.requests[1] = seerr_json(1, SeerrStatus.APPROVED, BAD)
    seerr.requests[2] = seerr_json(2, SeerrStatus.APPROVED, 603)
    p = poller(config, seerr)
    poll(ctx, p)
    seerr.titles.clear()  # TMDB goes down; two new requests arrive
    seerr.requests[3] = seerr_json(3, SeerrStatus.APPROVED, 604)
    seerr.requests[4] = seerr_json(4, SeerrStatus.APPROVED, 605)
    clock.advance(FIRST_PAUSE)
    with capture_logs() as logs:
        poll(ctx, p)
    assert len(events(logs, "jellyseerr.titles_unavailable")) == 1
    failures = ctx.seen.title_failures()
    assert not failures[(MediaType.MOVIE, BAD)].outage
    assert failures[(MediaType.MOVIE, BAD)].failures == 2
    assert failures[(MediaType.MOVIE, 604)].outage

    seerr.titles.update({604: "The Matrix Reloaded", 605: "Revolutions"})
    clock.advance(timedelta(minutes=1))
    seerr.forget()
    poll(ctx, p)
    assert sorted(title_calls(seerr)) == ["/api/v1/movie/604", "/api/v1/movie/605"]
    assert set(ctx.seen.title_failures()) == {(MediaType.MOVIE, BAD)}


def test_a_failure_record_goes_with_its_request(
        config: Config, ctx: PollContext, clock: Clock) -> None:
    seerr = Seerr(titles={603: "The Matrix"})
    seerr.requests[1] = seerr_json(1, SeerrStatus.APPROVED, BAD)
    seerr.requests[2] = seerr_json(2, SeerrStatus.APPROVED, 603)
    p = poller(config, seerr)
    poll(ctx, p)
    assert ctx.seen.title_failure(MediaType.MOVIE, BAD) is not None
    seerr.titles[BAD] = "Merged Film"
    clock.advance(FIRST_PAUSE)
    poll(ctx, p)
    assert ctx.seen.title(MediaType.MOVIE, BAD) == "Merged Film"
    assert ctx.seen.title_failure(MediaType.MOVIE, BAD) is None
