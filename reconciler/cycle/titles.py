"""Jellyseerr's display titles: read once per film or show, each failing id on its own pause.

Strategy (run by the Jellyseerr poll after its listings; a title never fails the poll):
- A film or show with no title and no failure is asked in the poll that first sees it, so a new
  request has its title at once: at most `MAX_TITLES_PER_POLL` per poll, none started after
  `TITLE_BUDGET` seconds, each bounded by the client's timeout, a few at a time.
- Seerr answers `500 "Unable to retrieve movie."` for an id TMDB merged or deleted as for any
  TMDB failure. So a look-up that fails while another answers, or that Seerr answers without a
  title (404), is that id's problem: it is asked again only after its own pause, from
  `FIRST_PAUSE` doubling up to `LONGEST_PAUSE` (a day), and holds no other id back. The failure
  is kept (`TitleFailure`: the reason, since when, when it is asked again) and `show` says it
  while the request has no title; its first failure is logged once (`jellyseerr.title_failed`).
- When no look-up of a poll is answered and two or more ids fail that had not failed on their
  own before, TMDB (or Seerr) is down: an outage, logged once when it starts
  (`jellyseerr.titles_unavailable`) and once when it ends (`jellyseerr.titles_available`). Its
  ids wait for it, not on pauses of their own; while it lasts one look-up a poll probes it (a
  new id first), and no more than `OUTAGE_AFTER` fail in a poll before the rest wait. The first
  answer ends it, and the ids it held are asked in the same poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from reconciler.cycle.context import CONCURRENCY, PollContext
from reconciler.cycle.observations import TitleFailure, TitleKey
from reconciler.errors import UpstreamError
from reconciler.logs import get_logger, scrub
from reconciler.services.jellyseerr import JellyseerrClient, TitleInfo
from reconciler.times import iso

log = get_logger("reconciler.cycle")

# Title look-ups per poll: the rest wait for the next poll (a first poll of a big install).
MAX_TITLES_PER_POLL = 1000
# No title look-up starts after this many seconds of a poll's look-ups (each is also bounded by
# the client's own timeout), so a slow TMDB never holds a cycle past its interval.
TITLE_BUDGET = 20.0
# An id's own pause after its first failure, doubling with each failure up to a day.
FIRST_PAUSE = timedelta(minutes=5)
LONGEST_PAUSE = timedelta(days=1)
# Failures with no answer after which a poll starts no more look-ups (an outage, most likely).
OUTAGE_AFTER = 3
# What an id that Seerr answers without a title (404) is shown with.
NO_TITLE = "Jellyseerr knows no title for this TMDB id"


def pause(failures: int) -> timedelta:
    """How long an id that failed `failures` times in a row waits before it is asked again."""
    doubled: timedelta = FIRST_PAUSE * (2 ** min(max(failures - 1, 0), 16))
    return min(doubled, LONGEST_PAUSE)


@dataclass
class _Round:
    """What one poll's look-ups gave: titles, answers without one, failures (with reasons)."""

    titles: dict[TitleKey, TitleInfo] = field(default_factory=dict)
    untitled: dict[TitleKey, str] = field(default_factory=dict)
    failed: dict[TitleKey, str] = field(default_factory=dict)

    @property
    def answered(self) -> bool:
        return bool(self.titles or self.untitled)


def due(wanted: Iterable[TitleKey], failures: Mapping[TitleKey, TitleFailure],
        now: datetime) -> list[TitleKey]:
    """The ids to ask now, in order: the never asked (new requests) first, then those whose
    pause ran out or that an outage holds, the longest waiting first."""
    def order(key: TitleKey) -> tuple[bool, datetime, TitleKey]:
        failure = failures.get(key)
        return (failure is not None, failure.retry_at if failure else now, key)

    return sorted((k for k in wanted if (f := failures.get(k)) is None or f.outage
                   or f.retry_at <= now), key=order)


class TitleLookups:
    """The title look-ups of one Jellyseerr poller (see the module docstring)."""

    def __init__(self, client: JellyseerrClient,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.monotonic = monotonic

    async def fetch(self, ctx: PollContext, keys: Set[TitleKey]) -> None:
        """Ask the titles due among `keys` (the requested films' and shows') and keep what
        they gave."""
        seen, now = ctx.seen, ctx.clock()
        wanted = set(keys - seen.titled())
        failures = seen.title_failures()
        seen.drop_title_failures([k for k in failures if k not in wanted])
        order = due(wanted, failures, now)[:MAX_TITLES_PER_POLL]
        if not order:
            return
        outage = seen.titles_outage()
        found = await self._look_up(order, probe_first=outage is not None)
        self._keep(ctx, found, failures, outage, len(wanted))

    async def _look_up(self, order: list[TitleKey], *, probe_first: bool) -> _Round:
        found = _Round()
        gate = asyncio.Semaphore(CONCURRENCY)
        deadline = self.monotonic() + TITLE_BUDGET

        async def one(key: TitleKey) -> None:
            async with gate:
                if self.monotonic() > deadline or (
                        len(found.failed) >= OUTAGE_AFTER and not found.answered):
                    return  # left for the next poll
                try:
                    info = await self.client.title_info(*key)
                except UpstreamError as exc:
                    found.failed[key] = scrub(exc.message)
                    return
                if info is None:
                    found.untitled[key] = NO_TITLE
                else:
                    found.titles[key] = info

        if probe_first:  # during an outage one look-up probes it before the others
            await one(order[0])
            if not found.answered:
                return found
            order = order[1:]
        await asyncio.gather(*(one(k) for k in order))
        return found

    def _keep(self, ctx: PollContext, found: _Round, failures: Mapping[TitleKey, TitleFailure],
              outage: dict[str, str] | None, missing: int) -> None:
        seen, now = ctx.seen, ctx.clock()
        for (media_type, tmdb_id), info in found.titles.items():
            seen.put_title(media_type, tmdb_id, info.title, now, year=info.year)
        seen.drop_title_failures([k for k in found.titles if k in failures])
        fresh = [k for k in found.failed if k not in failures or failures[k].outage]
        in_outage = bool(found.failed) and not found.answered and (
            outage is not None or len(fresh) >= 2)
        problems = {**found.untitled, **found.failed}
        for key, reason in problems.items():
            prior = failures.get(key)
            if in_outage and key in found.failed and (prior is None or prior.outage):
                failure = _held(prior, reason, now)
            else:
                failure = _own(prior, reason, now)
                if prior is None or prior.outage:
                    log.info("jellyseerr.title_failed", media_type=key[0].value,
                             tmdb_id=key[1], error=reason, retry_at=iso(failure.retry_at))
            if failure != prior:
                seen.put_title_failure(key, failure, now)
        if in_outage and outage is None:
            error = next(iter(found.failed.values()))
            log.warning("jellyseerr.titles_unavailable", error=error, titles_missing=missing)
            seen.put_titles_outage({"since": iso(now) or "", "error": error}, now)
        elif found.answered and outage is not None:
            log.info("jellyseerr.titles_available", since=outage.get("since"))
            seen.put_titles_outage(None, now)


def _own(prior: TitleFailure | None, reason: str, now: datetime) -> TitleFailure:
    """The id failed on its own: its pause grows."""
    count = (prior.failures if prior is not None and not prior.outage else 0) + 1
    return TitleFailure(reason=reason, failures=count,
                        since=prior.since if prior is not None else now,
                        retry_at=now + pause(count))


def _held(prior: TitleFailure | None, reason: str, now: datetime) -> TitleFailure:
    """The id failed with every other: the outage holds it (asked when the outage is probed)."""
    if prior is not None and prior.outage and prior.reason == reason:
        return prior
    return TitleFailure(reason=reason, failures=0,
                        since=prior.since if prior is not None else now,
                        retry_at=prior.retry_at if prior is not None else now, outage=True)
