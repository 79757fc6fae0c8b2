"""The optional read-only HTTP endpoint: the household's status page (`/`, `/requests/{id}`,
`/events`), `/healthz`, `/livez`, `/metrics` (Prometheus) and `/api/*` (JSON).

A Starlette application served by uvicorn as a task of the daemon's event loop. Every request
reads the database through its own read-only connection, in Starlette's worker threads (sync
endpoints), so the server never touches the daemon's writing connection and never blocks its
loop. Counters that only the running process knows (poll durations, errors, HTTP calls) live
in `Metrics`, fed by the daemon after each cycle; prometheus_client's metrics are thread-safe.
Nothing here can write (`Guard`: GET and HEAD only), and nothing served carries a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from reconciler.config import Config
from reconciler.logs import get_logger
from reconciler.results import CycleResult
from reconciler.states import RequestState
from reconciler.store import Store, StoreError
from reconciler.times import iso
from reconciler.views import request_json, show_json
from reconciler.web import listing
from reconciler.web.freshness import freshness
from reconciler.web.guard import Credentials, Guard
from reconciler.web.live import KEEPALIVE_SECONDS
from reconciler.web.pages import NO_STORE, StatusPages

log = get_logger("reconciler.http")

_REQUEST_ID = re.compile(r"^\d{1,18}$")
# Shutdown: how long open responses may take to finish before they are cancelled.
STOP_SECONDS = 2
MAX_CONNECTIONS = 64


class Metrics:
    """The process's own counters, in a registry of their own (no default process metrics
    mixed in, so tests and embedders can read exactly what is ours)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.poll_duration = Histogram(
            "reconciler_poll_duration_seconds", "Time taken to poll a service",
            ["service"], registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.poll_errors = Counter(
            "reconciler_poll_errors_total", "Polls of a service that failed",
            ["service"], registry=self.registry,
        )
        self.polls = Counter(
            "reconciler_polls_total", "Polls of a service, failed or not",
            ["service"], registry=self.registry,
        )
        self.http_calls = Counter(
            "reconciler_http_calls_total", "HTTP calls made to a service",
            ["service"], registry=self.registry,
        )
        self.transitions = Counter(
            "reconciler_transitions_total", "Request state changes, by new state",
            ["to"], registry=self.registry,
        )

    def know_services(self, services: Iterator[str] | list[str]) -> None:
        """Create the per-service series at zero, so they exist before the first failure."""
        for name in services:
            self.poll_errors.labels(service=name)
            self.polls.labels(service=name)
            self.http_calls.labels(service=name)

    def record_cycle(self, result: CycleResult) -> None:
        for name, poll in result.polls.items():
            self.polls.labels(service=name).inc()
            self.http_calls.labels(service=name).inc(poll.calls)
            if not poll.ok:
                self.poll_errors.labels(service=name).inc()
            if poll.finished is not None:
                seconds = (poll.finished - poll.started).total_seconds()
                self.poll_duration.labels(service=name).observe(max(seconds, 0.0))
        for transition in result.transitions:
            self.transitions.labels(to=transition.to_state).inc()


class StoreCollector:
    """Gauges read from the database at scrape time: requests by state, stuck requests, the
    last successful poll of each service (which survives restarts, unlike counters)."""

    def __init__(self, config: Callable[[], Config]) -> None:
        self.config = config

    def describe(self) -> list[Any]:
        return []  # dynamic: read at collect time

    def collect(self) -> Iterator[GaugeMetricFamily]:
        config = self.config()
        try:
            store = Store.open(config.database, readonly=True)
        except StoreError:
            return
        try:
            rows = store.requests()
            last_ok = {name: store.last_poll(name, ok=True) for name in config.services}
        finally:
            store.close()
        by_state = GaugeMetricFamily("reconciler_requests", "Tracked requests by state",
                                     labels=["state"])
        counts = {s.value: 0 for s in RequestState}
        for row in rows:
            counts[row.state.value] += 1
        for state, count in counts.items():
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("reconciler_stuck_requests", "Requests past their deadline",
                                value=sum(1 for r in rows if r.stuck_reason))
        last = GaugeMetricFamily(
            "reconciler_last_successful_poll_timestamp_seconds",
            "When the last successful poll of a service finished (Unix time)",
            labels=["service"],
        )
        for name, poll in last_ok.items():
            when = (poll.finished or poll.started) if poll else None
            if when is not None:
                last.add_metric([name], when.timestamp())
        yield last


def health(config: Config, store: Store | None, now: datetime) -> tuple[bool, dict[str, Any]]:
    """Healthy when every service's last successful poll is within 3 of its intervals
    (and never less than `HEALTH_MIN_LIMIT` seconds): `web.freshness`, the rule the page's
    banner and `/api/summary` share."""
    services: dict[str, Any] = {}
    for fresh in freshness(config, store, now):
        entry: dict[str, Any] = {"ok": fresh.ok, "last_success": iso(fresh.last_success)}
        if fresh.kind != fresh.name:  # one of several Radarr/Sonarr servers, by its name
            entry["kind"] = fresh.kind
        if fresh.behind is not None:
            entry["behind"] = fresh.behind
        if fresh.last_error:
            entry["last_error"] = fresh.last_error
        services[fresh.name] = entry
    healthy = all(e["ok"] for e in services.values())
    return healthy, {"status": "ok" if healthy else "behind",
                     "behind": [n for n, e in services.items() if not e["ok"]],
                     "services": services}


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def _json_response(data: Any, status: int = 200) -> Response:
    return Response(_json(data), status_code=status, media_type="application/json",
                    headers=NO_STORE)


API_PATHS = ["/", "/requests/{id}", "/events", "/artwork/{name}", "/healthz", "/livez",
             "/metrics", "/api/requests", "/api/requests/{id}", "/api/summary"]


class HttpApi:
    """The routes, as a Starlette application (`app`), independent of the socket.

    `liveness` answers whether the process's scheduler runs (the daemon passes its own;
    without one, `/livez` answers 503)."""

    def __init__(self, config: Callable[[], Config], metrics: Metrics,
                 clock: Callable[[], datetime] | None = None, *,
                 liveness: Callable[[], bool] | None = None,
                 events_interval: float = 2.0,
                 keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.config = config
        self.metrics = metrics
        self.clock = clock or (lambda: datetime.now(UTC))
        self.liveness = liveness
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Union(metrics.registry))
        self.registry.register(StoreCollector(config))
        # Set when the server shuts down: every event stream ends at its next tick.
        self.stopping = threading.Event()
        self.pages = StatusPages(config, self._open, self.clock, self.stopping,
                                 events_interval, keepalive=keepalive)
        routes = [
            Route("/healthz", self.healthz),
            Route("/livez", self.livez),
            Route("/metrics", self.prometheus),
            Route("/api/requests", self.api_requests),
            Route("/api/requests/{rid}", self.api_request),
            Route("/api/summary", self.api_summary),
            *self.pages.routes(),
            Mount("/static", StaticFiles(packages=[("reconciler.web", "static")]),
                  name="static"),
        ]
        starlette = Starlette(routes=routes, exception_handlers={
            404: self._not_found, Exception: self._failed})
        self.app: ASGIApp = Guard(starlette, self._credentials)

    def _open(self) -> Store | None:
        try:
            return Store.open(self.config().database, readonly=True)
        except StoreError:
            return None

    def _credentials(self) -> Credentials | None:
        config = self.config()
        http = config.model.http
        if http is None or http.username is None or not config.http_password:
            return None
        return Credentials(http.username, config.http_password)

    # Sync endpoints: Starlette runs them in its thread pool, off the event loop.

    def healthz(self, request: Request) -> Response:
        store = self._open()
        try:
            ok, data = health(self.config(), store, self.clock())
        finally:
            if store is not None:
                store.close()
        return _json_response(data, 200 if ok else 503)

    def livez(self, request: Request) -> Response:
        alive = self.liveness is not None and self.liveness()
        return _json_response({"status": "ok" if alive else "stopped"}, 200 if alive else 503)

    def prometheus(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST,
                        headers=NO_STORE)

    def api_requests(self, request: Request) -> Response:
        store = self._open()
        if store is None:
            return _json_response([])
        try:
            return _json_response([request_json(r) for r in store.requests()])
        finally:
            store.close()

    def api_request(self, request: Request) -> Response:
        raw = request.path_params["rid"]
        if not _REQUEST_ID.match(raw):
            return self._not_found_json()
        request_id = int(raw)
        store = self._open()
        try:
            row = store.request(request_id) if store else None
            if store is None or row is None:
                return _json_response({"error": f"no request {request_id} is tracked"}, 404)
            return _json_response(show_json(store, row))
        finally:
            if store is not None:
                store.close()

    def api_summary(self, request: Request) -> Response:
        """For dashboards (Homepage's customapi widget): counts by state, stuck, the page's
        groups (`attention`: stuck or failed, `on_the_way`, `ready`), the services behind (the
        `/healthz` rule) and when the data was last refreshed (the latest finished poll of
        any configured service)."""
        store = self._open()
        rows: list[tuple[Any, ...]] = []
        latest: datetime | None = None
        config, now = self.config(), self.clock()
        try:
            fresh = freshness(config, store, now)
            if store is not None:
                rows = store.pages.list_rows()
                for name in config.services:
                    poll = store.last_poll(name)
                    when = (poll.finished or poll.started) if poll else None
                    if when is not None and (latest is None or when > latest):
                        latest = when
        finally:
            if store is not None:
                store.close()
        entries = listing.entries(rows)
        groups = listing.counts(entries)
        by_state = {s.value: groups.get(s.value, 0) for s in RequestState}
        return _json_response({"total": len(entries), "by_state": by_state,
                               "stuck": groups["stuck"],
                               "attention": groups[listing.Group.ATTENTION],
                               "on_the_way": groups[listing.Group.ON_THE_WAY],
                               "ready": groups[listing.Group.READY],
                               "behind": [f.name for f in fresh if not f.ok],
                               "updated_at": iso(latest)})

    def _not_found_json(self) -> Response:
        return _json_response({"error": "not found", "paths": API_PATHS}, 404)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        """JSON for programs (as before the page existed), the page for browsers."""
        accept = request.headers.get("accept", "")
        if "text/html" in accept and not request.url.path.startswith("/api/"):
            return self.pages.not_found(request, "There is nothing at this address.")
        return self._not_found_json()

    async def _failed(self, request: Request, exc: Exception) -> Response:
        log.error("http.request_failed", path=request.url.path,
                  error=f"{type(exc).__name__}: {exc}")
        return _json_response({"error": "internal error"}, 500)


class _Union:
    """Expose another registry's metrics through this one."""

    def __init__(self, inner: CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Iterator[Any]:
        yield from self.inner.collect()


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Uvicorn(uvicorn.Server):
    """uvicorn inside someone else's event loop: the daemon owns the signals."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class HttpServer:
    """uvicorn serving an `HttpApi` on a socket bound at construction (OSError when it
    cannot be). `start()` inside a running event loop serves as a task of that loop (the
    daemon; stop it with `await aclose()`); outside one, in a thread with a loop of its own
    (scripts and tests; stop it with `stop()`)."""

    def __init__(self, host: str, port: int, api: HttpApi) -> None:
        self.host = host
        self.api = api
        self._socket = _bind(host, port)
        self._port = int(self._socket.getsockname()[1])
        self._server = _Uvicorn(uvicorn.Config(
            api.app, lifespan="off", http="h11", ws="none", access_log=False,
            log_config=None, server_header=False, proxy_headers=False,
            timeout_keep_alive=5, timeout_graceful_shutdown=STOP_SECONDS,
            limit_concurrency=MAX_CONNECTIONS,
        ))
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        serving = self._serve()
        if loop is not None:
            self._task = loop.create_task(serving, name="reconciler-http")
        else:
            self._thread = threading.Thread(target=asyncio.run, args=(serving,),
                                            name="reconciler-http", daemon=True)
            self._thread.start()
            self._server.ready.wait(timeout=5)
        log.info("http.listening", url=self.url)
        if not is_loopback(self.host):
            log.warning("http.exposed", host=self.host,
                        message="the status page and API are reachable beyond this machine; "
                                "they are read-only but show every request's title and state "
                                "(set [http] username and password_file to ask for a password)")

    async def _serve(self) -> None:
        # The page and the API are an extra: if uvicorn gives up (it may call sys.exit),
        # reconciling goes on without them.
        try:
            await self._server.serve(sockets=[self._socket])
        except (Exception, SystemExit) as exc:
            log.error("http.failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._server.ready.set()

    async def aclose(self) -> None:
        """Stop serving: event streams end, open responses get a moment to finish."""
        self.api.stopping.set()
        self._server.should_exit = True
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, timeout=STOP_SECONDS + 2)
            except TimeoutError:
                log.warning("http.stop_slow")
        elif self._thread is not None:
            await asyncio.to_thread(self.stop)
        self._socket.close()

    def stop(self) -> None:
        """Stop the threaded server (blocking until it has ended, at most a few seconds)."""
        if self._task is not None:
            raise RuntimeError("served by an event loop: use `await aclose()`")
        self.api.stopping.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=STOP_SECONDS + 2)
            self._thread = None
        self._socket.close()


def start_http_server(config: Callable[[], Config], metrics: Metrics, listen: str,
                      clock: Callable[[], datetime] | None = None, *,
                      liveness: Callable[[], bool] | None = None) -> HttpServer:
    """Bind `listen` (HOST:PORT) and serve: in the running event loop when there is one,
    else in a background thread."""
    host, port = parse_listen(listen)
    server = HttpServer(host, port, HttpApi(config, metrics, clock, liveness=liveness))
    server.start()
    return server
