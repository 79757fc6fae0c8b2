"""One reconcile cycle: poll the services, store what changed, decide the requests that can
move, act.

The stages, in the order data flows (each a module of this package):
poll (`poll_*.py`: what each service says now, written as `observations`) → `moving` (which
requests can move: those whose inputs changed, whose clock came, the active ones; at times
all) → `evidence` (per request, typed) → `core.decide` (pure) → `apply` (the new row) →
`nudge` (ask the media server to scan). All of a cycle's writes happen in one transaction, so
a crash leaves the previous consistent state; each poll sits in a savepoint of it. A service
that fails to answer is recorded as failed and is *unknown* to the decision.
"""

from __future__ import annotations

import gc
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

from reconciler import core, registry
from reconciler.config import Config
from reconciler.core import AnimeRules, Current
from reconciler.cycle.apply import apply
from reconciler.cycle.clients import Clients, make_clients
from reconciler.cycle.context import PollContext, Poller, Tracking, arr_servers
from reconciler.cycle.evidence import EvidenceSource
from reconciler.cycle.moving import Moving
from reconciler.cycle.nudge import nudge
from reconciler.cycle.observations import REQUESTS, Observations, SeenRequest
from reconciler.cycle.poll_media_server import (
    holds_index,
    media_server_of,
    unmatchable_libraries,
)
from reconciler.errors import UpstreamError
from reconciler.logs import get_logger, scrub
from reconciler.results import CycleResult, PollOutcome, Transition
from reconciler.services.http import ServiceClient
from reconciler.states import ACTIVE_STATES, Phase
from reconciler.store import RequestRow, Store

log = get_logger("reconciler.cycle")


PollerFactory = Callable[[ServiceClient, str], Poller]


def poller_factory(kind: str) -> PollerFactory:
    """What the registry names to poll `kind`: called with a client of the kind and the
    service's or server's configured name."""
    found = registry.resolve(registry.kind(kind).poller)
    if not callable(found):
        raise TypeError(f"{kind}: the registry's poller {found!r} cannot be called")
    return cast(PollerFactory, found)


def pollers(clients: Clients) -> list[Poller]:
    """One poller per configured service or server, in poll order."""
    return [poller_factory(clients.kind_of(name))(client, name)
            for name, client in clients.items()]


def _settle_heap(*, whole: bool) -> None:
    """After a cycle, move what survived it out of the cyclic garbage collector's sight
    (`gc.freeze`). What a daemon keeps from cycle to cycle (the observations, views and
    indexes of every request) is long-lived; left in the collector's generations, every
    collection of the oldest one walks all of it, a cost that grows with the requests stored,
    not with what moves (about half a steady cycle's CPU at 10,000 requests). Each cycle the
    young generations are collected first (what the cycle left as garbage is freed, not kept);
    after a cycle that decided everything (`whole`: the first, a full listing) the frozen set
    is unfrozen and collected whole, so that what became garbage since is freed too. Objects
    still go when unreferenced; only the walk is saved."""
    if whole:
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)
    gc.freeze()


class Reconciler:
    """Holds the clients and the store; `cycle()` runs one poll-and-decide pass."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clients: Clients | Mapping[str, ServiceClient] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.seen = Observations(store)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.outages: dict[str, str] = {}
        self.config = config
        self.clients = Clients.of(clients) if clients is not None else make_clients(config)
        self.pollers = pollers(self.clients)
        # Hooks run inside the cycle's transaction, so what they write commits with it.
        self.on_transition: list[Callable[[RequestRow, str | None], None]] = []
        # (new row, row before): every request's row after its decision, changed or not.
        self.on_row: list[Callable[[RequestRow, RequestRow | None], None]] = []
        self.after_reconcile: list[Callable[[datetime], None]] = []
        # Which requests a cycle decides (`moving.py`); `decide_all`: every one, every cycle
        # (the reference the tests compare it with). `decided`: how many the last cycle did.
        self.moving = Moving()
        self.tracking = Tracking()
        self.decide_all = False
        self.decided = 0
        # A long-lived process (the daemon, the benchmark) sets this: see `_settle_heap`.
        self.freeze_heap = False
        self._decided_all = False

    def reconfigure(self, config: Config,
                    clients: Clients | Mapping[str, ServiceClient] | None = None) -> Clients:
        """Use `config` and `clients` (default: made from `config`) from the next cycle on;
        returns the old clients, for the caller to close. Outages of services no longer
        configured are forgotten."""
        new = Clients.of(clients) if clients is not None else make_clients(config)
        old = self.clients
        self.config = config
        self.clients = new
        self.pollers = pollers(self.clients)
        self.outages = {k: v for k, v in self.outages.items() if k in config.services}
        self.moving.forget_all()
        return old

    async def aclose(self) -> None:
        await self.clients.aclose()

    def active(self) -> bool:
        """Something is moving (a download, an import, a match): the daemon polls faster."""
        return bool(self.store.request_ids(states=[s.value for s in ACTIVE_STATES]))

    # ------------------------------------------------------------ the cycle

    async def cycle(self, services: Iterable[str] | None = None) -> CycleResult:
        """Poll `services` (default: all configured), then reconcile every request."""
        wanted = set(services) if services is not None else None
        self.store.rows_written = 0
        polls: dict[str, PollOutcome] = {}
        ctx = PollContext(self.store, self.seen, self.config, self.clock, self.tracking)
        with self.store.transaction():
            # One after another: each poll's writes sit in a savepoint of the cycle's
            # transaction (rolled back if the poll fails), and savepoints nest, they do not
            # interleave. Shoko goes after the *arr, whose imported paths it looks up.
            for poller in self.pollers:
                if wanted is None or poller.service in wanted:
                    polls[poller.service] = await self._poll(poller, ctx)
            for outcome in polls.values():
                self.store.record_poll(
                    outcome.service, outcome.started, outcome.finished or self.clock(),
                    outcome.ok, outcome.error, outcome.calls, outcome.bytes,
                    outcome.watermark, outcome.full,
                )
            unknown = self._unknown_services(polls)
            now = self.clock()
            transitions = self._reconcile(now, unknown,
                                          full=any(p.full for p in polls.values()))
            nudges: list[str] = []
            server = self.clients.media_server
            if server is not None and self.clients.media_server_name not in unknown:
                nudges = await nudge(server, self.store, self.seen, self.config, now)
            for hook in self.after_reconcile:
                hook(now)
        self._log_outages(polls)
        if self.freeze_heap:
            _settle_heap(whole=self._decided_all)
        return CycleResult(polls, transitions, self.store.rows_written, nudges, self.decided)

    async def _poll(self, poller: Poller, ctx: PollContext) -> PollOutcome:
        name, client = poller.service, poller.client
        client.stats.reset()
        outcome = PollOutcome(service=name, ok=True, started=self.clock())
        t0 = time.monotonic()
        try:
            with self.store.savepoint(f"poll_{name}"):
                await poller.poll(ctx, outcome)
        except UpstreamError as exc:
            outcome.ok = False
            outcome.error = scrub(exc.message)
        except sqlite3.Error:
            # The local database failed (e.g. the disk is full), not the service: the cycle
            # stops and rolls back whole.
            raise
        except Exception as exc:  # a bug or an unexpected payload must not stop other services
            outcome.ok = False
            outcome.error = scrub(f"unexpected error: {type(exc).__name__}: {exc}")
            log.exception("service.poll_crashed", service=name)
        outcome.calls = client.stats.calls
        outcome.bytes = client.stats.bytes
        outcome.finished = self.clock()
        log.debug("service.polled", service=name, ok=outcome.ok, calls=outcome.calls,
                  seconds=round(time.monotonic() - t0, 3), error=outcome.error)
        return outcome

    def _unknown_services(self, polls: dict[str, PollOutcome]) -> frozenset[str]:
        """Services whose latest poll (this cycle or, if not polled now, the last) failed; and
        the media server while the index does not hold its items yet (another server's)."""
        unknown = set()
        media_server = self.clients.media_server_name
        if media_server is not None and not holds_index(self.store, self.config):
            unknown.add(media_server)
        for name in self.clients.names():
            if name in polls:
                if not polls[name].ok:
                    unknown.add(name)
                continue
            last = self.store.last_poll(name)
            if last is None or not last.ok:
                unknown.add(name)
        return frozenset(unknown)

    def _log_outages(self, polls: dict[str, PollOutcome]) -> None:
        for name, outcome in polls.items():
            if not outcome.ok and name not in self.outages:
                self.outages[name] = outcome.error or "failed"
                log.warning("service.outage_started", service=name, error=outcome.error)
            elif outcome.ok and name in self.outages:
                del self.outages[name]
                log.info("service.outage_ended", service=name)

    # ------------------------------------------------------------ deciding

    def _reconcile(self, now: datetime, unknown: frozenset[str],
                   full: bool = False) -> list[Transition]:
        """Decide the requests that can move (`moving.py`), or every one; save what changed."""
        model = self.config.model
        anime = {name: AnimeRules.configured(model.anime.radarr_tags,
                                             self.seen.radarr_tags(name) or {},
                                             model.anime.root_folders)
                 for name in [*(n for n, _ in self.clients.radarrs), "radarr"]}
        source = EvidenceSource(
            self.store, self.seen, anime["radarr"],
            shoko_enabled="shoko" in self.clients, unknown=unknown,
            servers=arr_servers(self.config), anime_by_server=anime,
            media_server=media_server_of(self.config),
            unmatchable=unmatchable_libraries(self.store))
        deadline = timedelta(seconds=model.shoko.unrecognised_after if model.shoko else 1800)
        deadlines = core.Deadlines(**{k: timedelta(seconds=v)
                                      for k, v in model.stuck.model_dump().items()})
        context = (id(self.config), unknown, tuple(sorted(anime.items())), source.servers,
                   source.media_server, tuple(source.unmatchable), source.shoko_enabled)
        due = None if self.decide_all else self.moving.due(
            self.store.journal, now, context, full=full,
            active=self.store.request_ids(states=[s.value for s in ACTIVE_STATES]))
        limits = (deadline, *deadlines.limits.values())
        transitions: list[Transition] = []
        self.decided = 0
        self._decided_all = due is None
        if due is None:
            rows = {r.id: r for r in self.store.requests()}
            with self.seen.snapshot():
                for seen_request in list(self.seen.seerr_requests().values()):
                    transitions += self._reconcile_one(
                        seen_request, rows.get(seen_request.request.id), source, now,
                        deadline, deadlines, limits)
        else:
            rows = self.store.requests_by_id(due)
            for request_id in sorted(due):
                seen = self.seen.seerr_request(request_id)
                if seen is not None:
                    transitions += self._reconcile_one(
                        seen, rows.get(request_id), source, now, deadline, deadlines, limits)
        return transitions

    def _reconcile_one(self, seen_request: SeenRequest, before: RequestRow | None,
                       source: EvidenceSource, now: datetime, deadline: timedelta,
                       deadlines: core.Deadlines,
                       limits: tuple[timedelta, ...]) -> list[Transition]:
        """Decide one request, save what changed; its transition, if any."""
        self.decided += 1
        transition: Transition | None = None
        req = seen_request.request
        if core.deletion_settled(before.state if before else None, seen_request.absent):
            self.moving.dropped(req.id)
            return []
        with self.store.recording() as reads:
            reads.add((REQUESTS[0], f"{REQUESTS[1]}{req.id}"))
            evidence, ids = source.evidence(seen_request)
            title = self.seen.title(req.media_type, req.tmdb_id)
            year = self.seen.year(req.media_type, req.tmdb_id)
        current = None
        if before is not None:
            current = Current(before.state, before.state_since, before.detail or "",
                              Phase.parse(before.phase), before.phase_since)
        decision = core.decide(evidence, current, now, unrecognised_after=deadline)
        decision = core.with_seerr_notes(decision, req)
        applied = apply(req, before, decision, evidence, ids, now, title=title,
                        deadlines=deadlines, year=year)
        row = applied.row
        self.moving.decided(req.id, reads, core.recheck_at(
            now, evidence, limits=limits,
            since=(row.state_since, row.phase_since, row.progress_since, row.release_date,
                   row.stuck_since)))
        if applied.episodes is not None:
            self.store.save_episodes(req.id, applied.episodes)
        self.store.save_request(row, before)
        if decision.transition:
            from_state = before.state.value if before else None
            self.store.add_timeline(req.id, now, from_state, decision.state.value,
                                    decision.via, decision.detail)
            transition = Transition(req.id, from_state, decision.state.value, decision.via)
            log.info("request.transitioned", request_id=req.id, title=row.title,
                     from_=from_state, to=decision.state.value, via=decision.via,
                     detail=decision.detail)
            for hook in self.on_transition:
                hook(row, from_state)
        for row_hook in self.on_row:
            row_hook(row, before)
        return [transition] if transition is not None else []
