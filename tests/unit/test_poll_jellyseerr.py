"""The Jellyseerr poller on its own (issues 14 and 18), against `httpx.MockTransport`: what it
reads by id, when it reads the version, how it bounds title look-ups; and the core rules it
relies on (the title shown while none is known: tests/unit/test_words.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import core
from reconciler.config import Config, load_config
from reconciler.cycle import make_clients, titles
from reconciler.cycle.context import PollContext
from reconciler.cycle.observations import Observations
from reconciler.cycle.poll_jellyseerr import JellyseerrPoller
from reconciler.errors import QueryRejected
from reconciler.models import MediaType, SeerrRequest, SeerrStatus
from reconciler.results import PollOutcome
from reconciler.states import Phase, RequestState
from reconciler.store import Store

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def seerr_json(rid: int, status: int, tmdb: int, media_status: int = 3) -> dict[str, Any]:
    return {"id": rid, "status": status, "type": "movie", "is4k": False,
            "createdAt": "2026-11-01T10:00:00.000Z", "updatedAt": "2026-11-01T10:00:00.000Z",
            "media": {"tmdbId": tmdb, "status": media_status, "status4k": 1}, "seasons": []}


@dataclass
class Seerr:
    """A mock Jellyseerr: requests by id, listings by filter as Seerr selects them, titles."""

    version: str = "3.1.0"
    requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    titles: dict[int, str] = field(default_factory=dict)
    reject_listings: bool = False
    answer_404: set[int] = field(default_factory=set)  # TMDB ids Seerr answers 404 for
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def listing(self, flt: str) -> list[dict[str, Any]]:
        def keep(r: dict[str, Any]) -> bool:
            media = r["media"]["status"]
            if media == 6:
                return False
            if flt == "pending":
                return bool(r["status"] == 1)
            if flt == "processing":
                return r["status"] == 2 and media in (1, 2, 3, 4)
            return True
        return sorted((r for r in self.requests.values() if keep(r)), key=lambda r: -r["id"])

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, query = request.url.path, dict(request.url.params)
        self.seen.append((path, query))
        if path == "/api/v1/status":
            return httpx.Response(200, json={"version": self.version})
        if path == "/api/v1/request":
            if self.reject_listings:
                return httpx.Response(400, json={"message": "Unknown query parameter 'x'"})
            rows = self.listing(query["filter"])
            skip, take = int(query["skip"]), int(query["take"])
            return httpx.Response(200, json={
                "pageInfo": {"pages": 1, "pageSize": take, "results": len(rows), "page": 1},
                "results": rows[skip:skip + take]})
        if path.startswith("/api/v1/request/"):
            found = self.requests.get(int(path.rsplit("/", 1)[1]))
            if found is None:
                return httpx.Response(404, json={"message": "Request not found."})
            return httpx.Response(200, json=found)
        if path.startswith("/api/v1/movie/"):
            tmdb = int(path.rsplit("/", 1)[1])
            if tmdb in self.answer_404:
                return httpx.Response(404, json={"message": "Movie not found."})
            title = self.titles.get(tmdb)
            if title is None:
                return httpx.Response(500, json={"message": "Unable to retrieve movie."})
            return httpx.Response(200, json={"title": title})
        return httpx.Response(404, json={"message": "not found"})

    def paths(self) -> list[str]:
        return [p for p, _ in self.seen]

    def forget(self) -> None:
        self.seen.clear()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[reconciler]\ndatabase = "r.db"\n'
                   '[jellyseerr]\nurl = "http://seerr.test"\napi_key = "k1"\n'
                   '[radarr]\nurl = "http://radarr.test"\napi_key = "k2"\n'
                   '[jellyfin]\nurl = "http://jf.test"\napi_key = "k5"\n')
    cfg.chmod(0o600)
    return load_config(cfg)


@pytest.fixture
def ctx(config: Config) -> Iterator[PollContext]:
    store = Store.open(config.database)
    try:
        yield PollContext(store, Observations(store), config, lambda: NOW)
    finally:
        store.close()


def poller(config: Config, seerr: Seerr, **kwargs: Any) -> JellyseerrPoller:
    clients = make_clients(config, transport=httpx.MockTransport(seerr), max_attempts=1)
    assert clients.jellyseerr is not None
    return JellyseerrPoller(clients.jellyseerr, **kwargs)


def poll(ctx: PollContext, p: JellyseerrPoller) -> PollOutcome:
    """One poll, recorded as the cycle records it (so the next knows when the last full was)."""
    outcome = PollOutcome("jellyseerr", ok=True, started=NOW)

    async def go() -> None:
        with ctx.store.transaction():
            try:
                await p.poll(ctx, outcome)
            except QueryRejected as exc:
                outcome.ok, outcome.error = False, exc.message
            ctx.store.record_poll("jellyseerr", NOW, NOW, outcome.ok, outcome.error, 0, 0,
                                  outcome.watermark, outcome.full)

    asyncio.run(go())
    return outcome


def test_a_request_that_left_pending_is_read_by_id_once_and_not_again(
        config: Config, ctx: PollContext) -> None:
    seerr = Seerr(titles={600 + n: f"Film {n}" for n in range(40)})
    for n in range(40):
        seerr.requests[n + 1] = seerr_json(n + 1, SeerrStatus.PENDING if n == 0 else 2, 600 + n)
    p = poller(config, seerr)
    assert poll(ctx, p).full
    assert ctx.seen.seerr_requests()[1].active

    seerr.requests[1]["status"] = SeerrStatus.APPROVED  # the oldest: not on the newest page
    seerr.forget()
    outcome = poll(ctx, p)
    assert not outcome.full
    assert seerr.paths().count("/api/v1/request/1") == 0  # processing lists it now
    seerr.requests[1]["status"] = SeerrStatus.DECLINED
    seerr.forget()
    poll(ctx, p)
    assert seerr.paths() == ["/api/v1/request"] * 3 + ["/api/v1/request/1"]
    seen = ctx.seen.seerr_requests()[1]
    assert (seen.request.status, seen.active) == (SeerrStatus.DECLINED, False)
    seerr.forget()
    poll(ctx, p)
    assert seerr.paths() == ["/api/v1/request"] * 3  # once, not again


def test_the_version_is_read_at_the_first_poll_and_again_after_a_rejected_query(
        config: Config, ctx: PollContext) -> None:
    seerr = Seerr(version="1.33.2", titles={603: "The Matrix"})
    seerr.requests[1] = seerr_json(1, SeerrStatus.APPROVED, 603)
    p = poller(config, seerr)
    poll(ctx, p)
    assert seerr.paths().count("/api/v1/status") == 1
    # Overseerr 1.x: no parameter its spec lacks, in any listing the poller makes.
    listings = [q for path, q in seerr.seen if path == "/api/v1/request"]
    assert listings and all({"sortDirection", "mediaType"}.isdisjoint(q) for q in listings)
    seerr.forget()
    poll(ctx, p)
    assert "/api/v1/status" not in seerr.paths()

    seerr.reject_listings = True
    seerr.forget()
    assert not poll(ctx, p).ok  # Jellyseerr is unknown for this cycle
    seerr.reject_listings = False
    seerr.version = "3.1.0"  # upgraded
    seerr.forget()
    assert poll(ctx, p).ok
    assert seerr.paths()[0] == "/api/v1/status"
    assert all(q.get("sortDirection") == "desc"
               for path, q in seerr.seen if path == "/api/v1/request")


def test_a_blocklisted_request_is_marked_hidden_and_not_counted_in_the_total(
        config: Config, ctx: PollContext) -> None:
    seerr = Seerr(titles={600 + n: f"Film {n}" for n in range(30)})
    for n in range(30):
        seerr.requests[n + 1] = seerr_json(n + 1, SeerrStatus.APPROVED, 600 + n)
    p = poller(config, seerr)
    poll(ctx, p)
    seerr.requests[1]["media"]["status"] = 6
    seerr.forget()
    assert not poll(ctx, p).full
    assert seerr.paths() == ["/api/v1/request"] * 3 + ["/api/v1/request/1"]
    seen = ctx.seen.seerr_requests()[1]
    assert (seen.hidden, seen.absent, seen.request.blocklisted) == (True, 0, True)
    seerr.forget()
    assert not poll(ctx, p).full
    assert seerr.paths() == ["/api/v1/request"] * 3


def test_title_look_ups_stop_at_the_time_budget_and_at_the_cap(
        config: Config, ctx: PollContext, monkeypatch: pytest.MonkeyPatch) -> None:
    seerr = Seerr(titles={600 + n: f"Film {n}" for n in range(5)})
    for n in range(5):
        seerr.requests[n + 1] = seerr_json(n + 1, SeerrStatus.APPROVED, 600 + n)
    ticks = iter([0.0, 0.0] + [titles.TITLE_BUDGET + 1] * 10)
    poll(ctx, poller(config, seerr, monotonic=lambda: next(ticks)))
    titled = [n for n in range(5) if ctx.seen.title(MediaType.MOVIE, 600 + n)]
    assert len(titled) == 1  # the rest waits for the next poll

    monkeypatch.setattr(titles, "MAX_TITLES_PER_POLL", 2)
    seerr.forget()
    poll(ctx, poller(config, seerr))
    assert len([p for p in seerr.paths() if p.startswith("/api/v1/movie/")]) == 2
    assert len([n for n in range(5) if ctx.seen.title(MediaType.MOVIE, 600 + n)]) == 3


def test_failing_titles_fail_no_poll_and_mark_the_outage_until_one_answers(
        config: Config, ctx: PollContext) -> None:
    """Every look-up of a poll failing, two ids among them, is an outage (one failing id alone
    is that id's problem: see the tests below)."""
    seerr = Seerr()
    seerr.requests[1] = seerr_json(1, SeerrStatus.APPROVED, 603)
    seerr.requests[2] = seerr_json(2, SeerrStatus.APPROVED, 604)
    p = poller(config, seerr)
    assert poll(ctx, p).ok
    outage = ctx.seen.titles_outage()
    assert outage is not None and "500" in outage["error"]
    assert ctx.seen.title(MediaType.MOVIE, 603) is None
    seerr.titles[603] = "The Matrix"
    seerr.titles[604] = "The Matrix Reloaded"
    assert poll(ctx, p).ok
    assert ctx.seen.titles_outage() is None
    assert ctx.seen.title(MediaType.MOVIE, 603) == "The Matrix"
    assert ctx.seen.title(MediaType.MOVIE, 604) == "The Matrix Reloaded"
    assert ctx.seen.title_failures() == {}


# ---------------------------------------------------------------- rules and display


def blocklisted(status: int = SeerrStatus.APPROVED) -> SeerrRequest:
    return SeerrRequest(id=1, media_type=MediaType.MOVIE, status=status, tmdb_id=603, tvdb_id=None,
                        media_status=6)


def decision(detail: str) -> core.Decision:
    return core.Decision(state=RequestState.APPROVED, via="radarr", detail=detail,
                         progress=None, phase=Phase.APPROVED, transition=False)


def test_a_blocklisted_request_says_so_once_and_no_longer_once_unblocklisted() -> None:
    noted = core.with_seerr_notes(decision("approved; not in Radarr yet"), blocklisted())
    assert noted.detail == "approved; not in Radarr yet; its media is blocklisted in Jellyseerr"
    assert noted.state is RequestState.APPROVED
    assert core.with_seerr_notes(noted, blocklisted()).detail == noted.detail
    clean = SeerrRequest(id=1, media_type=MediaType.MOVIE, status=2, tmdb_id=603, tvdb_id=None,
                         media_status=3)
    assert core.with_seerr_notes(noted, clean).detail == "approved; not in Radarr yet"
    assert core.seerr_listing_hides(blocklisted()) and not core.seerr_listing_hides(clean)


@pytest.mark.parametrize(("absent", "hidden", "listed"), [
    (0, False, True), (1, False, True), (0, True, False), (core.ABSENT_CONFIRMATIONS, False,
                                                          False)])
def test_the_listing_total_counts_requests_neither_gone_nor_hidden(
        absent: int, hidden: bool, listed: bool) -> None:
    assert core.seerr_listed(absent, hidden) is listed
