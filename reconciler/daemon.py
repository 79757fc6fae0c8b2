"""The daemon: one poll job per service on an APScheduler 3 asyncio scheduler, a reconcile after
each poll, faster polling while something moves, signals, reload, and the optional HTTP server.

Invariants:
- One process owns the database: `run_daemon` holds the `DatabaseLock` for its whole life.
- Cycles never overlap: the store has one connection and one transaction at a time, so every
  cycle (and every notification bookkeeping write) runs under one `asyncio.Lock`. A job is
  never queued behind itself (`max_instances=1`); late runs are coalesced into one.
- Stopping abandons at most the cycle in flight: cancelling it rolls its transaction back, so
  the database keeps the previous consistent state.
- A bad configuration on SIGHUP is logged and the running one kept.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# APScheduler 3 ships no type information (pyproject's mypy overrides list it).
from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.interval import IntervalTrigger

from reconciler import logs
from reconciler.artwork import artwork_cache
from reconciler.artwork.fetch import ArtworkFetcher
from reconciler.config import Config, load_config
from reconciler.cycle import Clients, CycleResult, Reconciler, make_clients
from reconciler.errors import ConfigError
from reconciler.httpapi import HttpServer, Metrics, start_http_server
from reconciler.lock import DatabaseLock
from reconciler.notify import Notifier, household_links, notifier_for, notify_urls
from reconciler.services.http import ServiceClient
from reconciler.store import Store

log = logs.get_logger("reconciler.daemon")

STOP_GRACE = 3.0
# Consecutive crashed cycles (the database unusable, say) after which the daemon exits 1 and
# lets the service manager restart it, rather than logging the same error forever.
MAX_CRASHES = 5

ClientsFactory = Callable[[Config], Clients | Mapping[str, ServiceClient]]
# (config, metrics, listen, liveness) -> a started server; binding errors raise OSError.
HttpFactory = Callable[[Callable[[], Config], Metrics, str, Callable[[], bool]], HttpServer]


def _default_clients(config: Config) -> Clients:
    return make_clients(config)


def _default_http(config: Callable[[], Config], metrics: Metrics, listen: str,
                  liveness: Callable[[], bool]) -> HttpServer:
    return start_http_server(config, metrics, listen, liveness=liveness)


class Daemon:
    """The scheduler around a `Reconciler`. `await run(stop)` until `stop` is set.

    Everything with side effects is injectable, so tests can run it in-process for a bounded
    time: the clients, the clock, the config loader, the notification sender and the HTTP
    server (`http_factory`, or None to serve nothing)."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clients_factory: ClientsFactory = _default_clients,
        clock: Callable[[], datetime] | None = None,
        config_loader: Callable[[Path], Config] = load_config,
        http_factory: HttpFactory | None = _default_http,
        notifier_options: dict[str, Any] | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.config = config
        self.store = store
        self.clients_factory = clients_factory
        self.config_loader = config_loader
        self.http_factory = http_factory
        self.notifier_options = notifier_options or {}
        self.stop_grace = stop_grace
        self.reconciler = Reconciler(config, store, clients_factory(config), clock)
        self.reconciler.freeze_heap = True  # a long-lived process (cycle/run.py)
        self.metrics = Metrics()
        self.metrics.know_services(list(config.services))
        # Called with every finished cycle's result (the metrics; tests add their own).
        self.cycle_listeners: list[Callable[[CycleResult], None]] = [self.metrics.record_cycle]
        self.notifier: Notifier | None = None
        self.http: HttpServer | None = None
        self.cycles = 0
        self.exit_code = 0
        self.active: bool | None = None
        self._lock = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self._intervals: dict[str, float] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._stop: asyncio.Event | None = None
        self._crashes = 0
        self._notify_wakeup = asyncio.Event()
        self._artwork_wakeup = asyncio.Event()
        self._reloads: set[asyncio.Task[Any]] = set()
        _register_secrets(config)
        self._set_notifier(config)
        self.artwork = ArtworkFetcher(artwork_cache(config), store,
                                      lambda: self.reconciler.clients, self.reconciler.clock)

    # ------------------------------------------------------------ life cycle

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and reconcile until `stop` is set; then stop within a few seconds."""
        self._stop = stop
        # APScheduler logs skipped and late runs as warnings through stdlib logging; they are
        # expected here (a job waits while another cycle runs), so they become debug events.
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_listener(self._on_scheduler_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._scheduler = scheduler
        log.info("daemon.started", pid=os.getpid(), database=str(self.config.database),
                 services=list(self.config.services), config=str(self.config.path))
        notify_task = asyncio.create_task(self._notify_loop(), name="notify")
        artwork_task = asyncio.create_task(self._artwork_loop(), name="artwork")
        try:
            self._start_http(self.config)
            # The first cycle polls every service at once, in dependency order; the per-service
            # jobs then take over, each first due one interval later.
            scheduler.add_job(self._job, trigger=None, args=[None], id="startup",
                              next_run_time=datetime.now(UTC), misfire_grace_time=None)
            self._sync_jobs(first=True)
            scheduler.start()
            await stop.wait()
        finally:
            artwork_task.cancel()
            await self._shutdown(notify_task)
            await asyncio.gather(artwork_task, return_exceptions=True)

    def request_reload(self) -> None:
        """Re-read the configuration file (SIGHUP) once no cycle is running."""
        task = asyncio.get_running_loop().create_task(self.reload(), name="reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    async def _shutdown(self, notify_task: asyncio.Task[None]) -> None:
        self._stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stop_grace
        log.info("daemon.stopping", cycle_in_flight=any(not t.done() for t in self._running))
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            scheduler.pause()
        await self._finish(list(self._running) + list(self._reloads), deadline)
        # A last chance to send what the last cycle queued, within the same grace period.
        self._notify_wakeup.set()
        await self._finish([notify_task], deadline)
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the next loop turn
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        await self.reconciler.aclose()
        log.info("daemon.stopped", cycles=self.cycles, exit_code=self.exit_code)

    async def _finish(self, tasks: list[asyncio.Task[Any]], deadline: float) -> None:
        """Let `tasks` end by `deadline` (loop time), then cancel what is left."""
        tasks = [t for t in tasks if not t.done()]
        if not tasks:
            return
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        pending: set[asyncio.Task[Any]] = set(tasks)
        if remaining > 0:
            _, pending = await asyncio.wait(tasks, timeout=remaining)
        for task in pending:
            task.cancel()
        if pending:
            # Cancellation takes effect at the task's next await; SQLite work between awaits
            # is short. The bound only guards against a task that swallows cancellation.
            await asyncio.wait(pending, timeout=1.0)

    # ------------------------------------------------------------ jobs

    async def _job(self, services: list[str] | None) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        started = False
        try:
            async with self._lock:
                if self._stopping:
                    return
                started = True
                await self._cycle(services)
            self._notify_wakeup.set()
            self._artwork_wakeup.set()
        except asyncio.CancelledError:
            # Only shutdown cancels a job; a cycle's transaction has been rolled back.
            if started:
                log.warning("daemon.cycle_abandoned", services=services or "all")
            else:
                log.debug("daemon.poll_dropped", services=services or "all")
        finally:
            self._running.discard(task)

    async def _cycle(self, services: list[str] | None) -> None:
        t0 = time.monotonic()
        try:
            result = await self.reconciler.cycle(services=services)
        except Exception as exc:  # a crashed cycle is logged; the next one retries
            self._crashes += 1
            log.exception("daemon.cycle_crashed", services=services or "all",
                          error=f"{type(exc).__name__}: {exc}", consecutive=self._crashes)
            if self._crashes >= MAX_CRASHES:
                log.error("daemon.giving_up", consecutive=self._crashes)
                self.exit_code = 1
                self.request_stop()
            return
        self._crashes = 0
        self.cycles += 1
        for listener in self.cycle_listeners:
            try:
                listener(result)
            except Exception:
                log.exception("daemon.listener_failed")
        log.debug("cycle.finished", services=services or "all", ok=result.ok,
                  failed=result.failed, transitions=len(result.transitions),
                  rows_written=result.rows_written, seconds=round(time.monotonic() - t0, 3))
        self._prune()
        self._pace()

    def _prune(self) -> None:
        """Retention, after each cycle (still under the cycle lock): a bounded batch of old
        poll records and sent notifications goes, so nothing grows with time alone."""
        settings = self.config.model.reconciler
        try:
            counts = self.store.retention.prune(self.reconciler.clock(), settings.retain_polls,
                                      settings.retain_notifications)
        except sqlite3.Error as exc:  # a full disk, say: the next cycle tries again
            log.warning("store.prune_failed", error=str(exc))
            return
        if counts.polls or counts.notifications:
            log.debug("store.pruned", polls=counts.polls, notifications=counts.notifications,
                      pages_freed=counts.pages_freed)

    def _on_scheduler_event(self, event: JobEvent) -> None:
        kind = "skipped_busy" if event.code == EVENT_JOB_MAX_INSTANCES else "missed"
        log.debug(f"daemon.poll_{kind}", service=event.job_id)

    # ------------------------------------------------------------ pace

    @property
    def intervals(self) -> dict[str, float]:
        """The poll interval each service's job runs at now."""
        return dict(self._intervals)

    def interval(self, service: str, active: bool) -> float:
        """The poll interval of `service`: `active_poll_interval` while something moves."""
        return self.config.poll_interval(service, active)

    def _pace(self) -> None:
        try:
            active = self.reconciler.active()
        except sqlite3.Error:
            return
        if active != self.active:
            if self.active is not None:
                log.info("daemon.pace_changed", active=active)
            self.active = active
        self._sync_jobs()

    def _sync_jobs(self, *, first: bool = False) -> None:
        """One job per configured service, at the interval the current pace wants."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        active = bool(self.active)
        wanted = list(self.config.services)  # in poll order; Radarr/Sonarr servers by name
        for name in list(self._intervals):
            if name not in wanted:
                scheduler.remove_job(name)
                del self._intervals[name]
        for name in wanted:
            seconds = self.interval(name, active)
            if self._intervals.get(name) == seconds:
                continue
            trigger = IntervalTrigger(seconds=seconds, timezone=UTC)
            grace = max(1, int(seconds))
            if name in self._intervals:
                scheduler.modify_job(name, misfire_grace_time=grace)
                scheduler.reschedule_job(name, trigger=trigger)
            else:
                start = datetime.now(UTC) + timedelta(seconds=seconds)
                scheduler.add_job(self._job, trigger=trigger, args=[[name]], id=name,
                                  max_instances=1, coalesce=True, misfire_grace_time=grace,
                                  next_run_time=start)
            if not first:
                log.debug("daemon.interval_set", service=name, seconds=seconds)
            self._intervals[name] = seconds

    # ------------------------------------------------------------ notifications

    def _set_notifier(self, config: Config) -> None:
        if self.notifier is not None:
            self.notifier.detach()
        options = {**household_links(config, self.store), **self.notifier_options}
        self.notifier = notifier_for(config.model.notify, self.store, **options)
        if self.notifier is not None:
            self.notifier.attach(self.reconciler)

    async def _notify_loop(self) -> None:
        while True:
            await self._notify_wakeup.wait()
            self._notify_wakeup.clear()
            if self.notifier is not None:
                await self.notifier.send_pending(self._lock)
            if self._stopping:
                return

    async def _artwork_loop(self) -> None:
        """Posters, after a cycle and never in its way: the store is read under the cycle
        lock for a moment, the pictures are fetched without it (see `artwork.fetch`)."""
        while not self._stopping:
            await self._artwork_wakeup.wait()
            self._artwork_wakeup.clear()
            # Posters serve the page and the notices: without either, none is fetched.
            wanted = self.config.model.http is not None or self.notifier is not None
            if self._stopping or not wanted or not self.artwork.due():
                continue
            try:
                async with self._lock:
                    chosen = self.artwork.choose()
                if chosen:
                    await self.artwork.round(chosen)
            except asyncio.CancelledError:
                raise
            except Exception:  # posters are an extra: reconciling goes on without them
                log.exception("artwork.crashed")

    # ------------------------------------------------------------ HTTP

    def alive(self) -> bool:
        """`/livez`: the scheduler runs and the daemon is not stopping."""
        scheduler = self._scheduler
        return (not self._stopping and scheduler is not None
                and scheduler.state == STATE_RUNNING)

    def _start_http(self, config: Config) -> None:
        if config.model.http is None or self.http_factory is None:
            return
        try:
            self.http = self.http_factory(lambda: self.config, self.metrics,
                                          config.model.http.listen, self.alive)
        except OSError as exc:
            # Health and metrics are an extra: reconciling goes on without them.
            log.error("http.bind_failed", listen=config.model.http.listen,
                      error=exc.strerror or str(exc))

    async def _restart_http(self, old: Config, new: Config) -> None:
        if old.model.http == new.model.http:
            return
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        self._start_http(new)

    # ------------------------------------------------------------ reload

    async def reload(self) -> bool:
        """Load the configuration file again; on success swap config and clients."""
        async with self._lock:
            if self._stopping:
                return False
            old = self.config
            try:
                new = self.config_loader(old.path)
            except ConfigError as exc:
                log.error("daemon.reload_rejected", error=str(exc), kept=str(old.path))
                return False
            if new.database != old.database:
                log.error("daemon.reload_rejected", kept=str(old.path),
                          error=f"[reconciler] database cannot change while running "
                                f"({old.database} -> {new.database}); restart instead")
                return False
            try:
                clients = Clients.of(self.clients_factory(new))
            except Exception as exc:
                log.error("daemon.reload_rejected", error=f"{type(exc).__name__}: {exc}",
                          kept=str(old.path))
                return False
            self.config = new
            old_clients = self.reconciler.reconfigure(new, clients)
            _register_secrets(new)
            settings, before = new.model.reconciler, old.model.reconciler
            if (settings.log_format, settings.log_level) != (before.log_format,
                                                             before.log_level):
                logs.configure(settings.log_format, settings.log_level)
            self._set_notifier(new)
            self.artwork.cache = artwork_cache(new)
            self.metrics.know_services(list(new.services))
            self._sync_jobs()
            await old_clients.aclose()
            await self._restart_http(old, new)
            log.info("daemon.reloaded", services=list(new.services),
                     intervals={k: v for k, v in self._intervals.items()},
                     notify=self.notifier is not None,
                     http=new.model.http.listen if new.model.http else None)
            for warning in new.warnings:
                log.warning("config.warning", message=warning)
            return True


def _register_secrets(config: Config) -> None:
    """API keys and Apprise URLs (which carry tokens) are scrubbed from every log line."""
    logs.register_secrets([*config.secrets(), *notify_urls(config)])


async def serve(config: Config, store: Store) -> int:
    """Run a `Daemon` until SIGTERM/SIGINT; SIGHUP reloads. Returns the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    daemon = Daemon(config, store)

    def on_stop(signame: str) -> None:
        if not stop.is_set():
            log.info("daemon.signal", signal=signame)
        stop.set()

    def on_hup() -> None:
        log.info("daemon.signal", signal="SIGHUP")
        daemon.request_reload()

    loop.add_signal_handler(signal.SIGTERM, on_stop, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, on_stop, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, on_hup)
    try:
        await daemon.run(stop)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    return daemon.exit_code


def run_daemon(config: Config) -> int:
    """`reconcile` / `reconcile run`: the daemon, holding the database for its whole life.

    Raises `LockHeld` (exit 75) when another process owns the database."""
    with DatabaseLock(config.database):
        store = Store.open(config.database)
        try:
            return asyncio.run(serve(config, store))
        finally:
            store.close()
