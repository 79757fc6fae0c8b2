"""What every poller is handed: the store, the typed observations, the settings, the clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from reconciler import core, registry
from reconciler.config import Config
from reconciler.cycle.observations import Observations, SeenRequest, changed_requests
from reconciler.models import MediaType, SeerrRequest
from reconciler.results import PollOutcome
from reconciler.services.http import ServiceClient
from reconciler.store import Store

T = TypeVar("T")

# Listings "since" a watermark start this much earlier: clocks drift, and records seen twice are
# recognised (by id, by digest) and cost nothing.
WATERMARK_OVERLAP = timedelta(minutes=2)
# How many look-ups (titles, histories, episodes) run at once against one service.
CONCURRENCY = 4


class Tracking:
    """The tracked requests of each media type and server, kept from cycle to cycle and
    brought up to date from the store's journal: what changed since is routed again, not every
    request (`PollContext.tracked`). Started over when the configuration, Jellyseerr's server
    settings or the journal's continuity change."""

    def __init__(self) -> None:
        self._lists: dict[tuple[MediaType, str | None], dict[int, SeerrRequest]] = {}
        # Per media type, how many of its tracked requests (any server) route alike: the
        # distinct (kind, 4K, Seerr's target server) are all routing's questions depend on.
        self._cases: dict[MediaType, Counter[RouteCase]] = {}
        self._cursor: int | None = None
        self._basis: tuple[object, ...] = ()

    def tracked(self, ctx: PollContext, media_type: MediaType,
                server: str | None) -> list[SeerrRequest]:
        return list(self._held(ctx, media_type, server).values())

    def cases(self, ctx: PollContext, media_type: MediaType) -> set[RouteCase]:
        """The distinct routing cases among the tracked requests of `media_type`."""
        self._held(ctx, media_type, None)
        return set(self._cases[media_type])

    def _held(self, ctx: PollContext, media_type: MediaType,
              server: str | None) -> dict[int, SeerrRequest]:
        self._refresh(ctx)
        found = self._lists.get((media_type, server))
        if found is None:
            found = self._lists[media_type, server] = {
                rid: s.request for rid, s in sorted(ctx.seen.seerr_requests().items())
                if ctx.is_tracked(s, media_type, server)}
            if server is None:
                self._cases[media_type] = Counter(route_case(r) for r in found.values())
        return found

    def _refresh(self, ctx: PollContext) -> None:
        journal = ctx.store.journal
        basis = (id(ctx.config), ctx.seen.seerr_servers_stamp())
        ids = changed_requests(journal, self._cursor if basis == self._basis else None)
        self._cursor, self._basis = journal.cursor(), basis
        if ids is None:
            self._lists.clear()
            self._cases.clear()
            return
        if not ids:
            return
        known = ctx.seen.seerr_requests()
        for (kind, where), held in self._lists.items():
            cases = self._cases[kind] if where is None else None
            for rid in ids:
                old = held.pop(rid, None)
                if old is not None and cases is not None:
                    cases[route_case(old)] -= 1
                    if not cases[route_case(old)]:
                        del cases[route_case(old)]
                seen = known.get(rid)
                if seen is not None and ctx.is_tracked(seen, kind, where):
                    held[rid] = seen.request
                    if cases is not None:
                        cases[route_case(seen.request)] += 1


RouteCase = core.RouteCase
route_case = core.route_case


@dataclass
class PollContext:
    store: Store
    seen: Observations
    config: Config
    clock: Callable[[], datetime]
    # Kept from cycle to cycle by the reconciler; None: worked out afresh each time.
    tracking: Tracking | None = None

    def full_due(self, service: str) -> bool:
        """No complete listing yet, or the last one is older than `full_sync_interval`."""
        last = self.store.last_poll(service, ok=True, full=True)
        if last is None:
            return True
        started = last.started
        interval = timedelta(seconds=self.config.model.reconciler.full_sync_interval)
        return started is None or self.clock() - started >= interval

    def watermark(self, service: str) -> datetime | None:
        """Where the last successful poll of `service` left off (the server's clock)."""
        return self.store.last_watermark(service)

    def tracked(self, media_type: MediaType, server: str | None = None) -> list[SeerrRequest]:
        """Requests of `media_type` still worth polling the *arr for (`server`: only those
        routed to that Radarr or Sonarr server): by id, then those changed since, in the order
        they changed."""
        if self.tracking is not None:
            return self.tracking.tracked(self, media_type, server)
        return [s.request for _, s in sorted(self.seen.seerr_requests().items())
                if self.is_tracked(s, media_type, server)]

    def route_cases(self, media_type: MediaType) -> set[RouteCase]:
        """The distinct (kind, 4K, Seerr's target) among the tracked requests of
        `media_type`."""
        if self.tracking is not None:
            return self.tracking.cases(self, media_type)
        return {route_case(r) for r in self.tracked(media_type)}

    def is_tracked(self, seen: SeenRequest, media_type: MediaType, server: str | None) -> bool:
        return (seen.request.media_type == media_type
                and core.is_tracked(seen.request, seen.absent)
                and (server is None or self.route(seen.request).server == server))

    def route(self, request: SeerrRequest) -> core.Route:
        """Which configured server tracks `request` (`core.route`)."""
        kind = core.arr_kind(request)
        return core.route(request, arr_servers(self.config), self.seen.seerr_servers(kind))

    def live_requests(self) -> list[SeenRequest]:
        """Requests not (yet) confirmed gone from Jellyseerr."""
        return [s for s in self.seen.seerr_requests().values() if not core.seerr_gone(s.absent)]


_DOWNLOADS = registry.with_role(registry.Role.DOWNLOADS)  # the kinds routing chooses among


def arr_servers(config: Config) -> list[core.ArrServer]:
    """The configured Radarr and Sonarr servers, as routing (`core.route`) sees them."""
    return [core.ArrServer(s.name, s.kind, s.url, s.is4k, s.seerr_server_id, s.default)
            for s in config.services.values() if s.kind in _DOWNLOADS]


async def bounded(calls: list[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    """Await `calls` a few at a time, in order. The first failure fails them all (the poll)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    tasks = [asyncio.ensure_future(one(c)) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:  # nothing may outlive the poll that started it
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Poller(Protocol):
    """One service's poll: reads what changed and writes it as observations. Made as
    `Factory(client, name)` by what the registry names (`cycle.run.poller_factory`); `service`
    is that name, under which the poll's records are kept."""

    service: str

    @property
    def client(self) -> ServiceClient: ...

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None: ...
