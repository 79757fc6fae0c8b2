"""The optional read-only HTTP endpoint: `/healthz`, `/metrics` (Prometheus), `/api/requests`.

A stdlib `ThreadingHTTPServer` in a background thread. Every request reads the database through
its own read-only connection, so the server never touches the daemon's writing connection and
never blocks its event loop. Counters that only the running process knows (poll durations,
errors, HTTP calls) live in `Metrics`, fed by the daemon after each cycle; prometheus_client's
metrics are thread-safe. Nothing here can write, and nothing served carries a secret.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest

from reconciler.config import Config
from reconciler.logs import get_logger
from reconciler.models import FAST_SERVICES, RequestState
from reconciler.results import CycleResult
from reconciler.store import Store, StoreError, from_iso, iso
from reconciler.views import request_json, show_json

log = get_logger("reconciler.http")

HEALTH_INTERVALS = 3
# Poll times are stored in whole seconds and a poll takes a moment: below this, a service
# polled every second or faster would read as behind right after a successful poll.
HEALTH_MIN_LIMIT = 10.0
_REQUEST_PATH = re.compile(r"^/api/requests/(\d{1,18})$")


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
        for _, _, to, _ in result.transitions:
            self.transitions.labels(to=to).inc()


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
            when = from_iso(poll.finished or poll.started) if poll else None
            if when is not None:
                last.add_metric([name], when.timestamp())
        yield last


def health(config: Config, store: Store | None, now: datetime) -> tuple[bool, dict[str, Any]]:
    """Healthy when every service's last successful poll is within 3 of its intervals
    (and never less than `HEALTH_MIN_LIMIT` seconds)."""
    services: dict[str, Any] = {}
    healthy = True
    active_interval = config.model.reconciler.active_poll_interval
    for name, svc in config.services.items():
        # Idle pace is the slower one (unless the active one was set slower): allow for it.
        interval = max(svc.poll_interval, active_interval) if name in FAST_SERVICES \
            else svc.poll_interval
        limit = timedelta(seconds=max(interval * HEALTH_INTERVALS, HEALTH_MIN_LIMIT))
        entry: dict[str, Any] = {"ok": True, "last_success": None}
        last_ok = store.last_poll(name, ok=True) if store else None
        latest = store.last_poll(name) if store else None
        when = from_iso(last_ok.finished or last_ok.started) if last_ok else None
        entry["last_success"] = iso(when)
        if when is None:
            entry["ok"] = False
            entry["behind"] = "no successful poll yet"
        elif now - when > limit:
            entry["ok"] = False
            entry["behind"] = (f"last successful poll {int((now - when).total_seconds())} s "
                               f"ago (limit {int(limit.total_seconds())} s)")
        if latest is not None and not latest.ok and latest.error:
            entry["last_error"] = latest.error
        healthy = healthy and entry["ok"]
        services[name] = entry
    return healthy, {"status": "ok" if healthy else "behind",
                     "behind": [n for n, e in services.items() if not e["ok"]],
                     "services": services}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: HttpApi, ipv6: bool) -> None:
        if ipv6:
            self.address_family = socket.AF_INET6
        self.api = api
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "reconciler"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        pass  # access logs would drown the journal; errors are logged where they happen

    def do_GET(self) -> None:
        api = self.server.api
        path = self.path.split("?", 1)[0]
        try:
            status, ctype, body = api.route(path)
        except Exception:
            log.exception("http.request_failed", path=path)
            status, ctype, body = 500, "application/json", _json({"error": "internal error"})
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self) -> None:
        body = _json({"error": "read-only: only GET is served"})
        self.send_response(405)
        self.send_header("Allow", "GET")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse


def _json(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


class HttpApi:
    """The routes, independent of the socket: `route(path) -> (status, content type, body)`."""

    def __init__(self, config: Callable[[], Config], metrics: Metrics,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.metrics = metrics
        self.clock = clock or (lambda: datetime.now(UTC))
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Union(metrics.registry))
        self.registry.register(StoreCollector(config))

    def _open(self) -> Store | None:
        try:
            return Store.open(self.config().database, readonly=True)
        except StoreError:
            return None

    def route(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            store = self._open()
            try:
                ok, data = health(self.config(), store, self.clock())
            finally:
                if store is not None:
                    store.close()
            return (200 if ok else 503), "application/json", _json(data)
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
        if path == "/api/requests":
            store = self._open()
            if store is None:
                return 200, "application/json", _json([])
            try:
                return 200, "application/json", _json([request_json(r)
                                                       for r in store.requests()])
            finally:
                store.close()
        if m := _REQUEST_PATH.match(path):
            request_id = int(m.group(1))
            store = self._open()
            try:
                row = store.request(request_id) if store else None
                if store is None or row is None:
                    return 404, "application/json", _json(
                        {"error": f"no request {request_id} is tracked"})
                return 200, "application/json", _json(show_json(store, row))
            finally:
                if store is not None:
                    store.close()
        return 404, "application/json", _json(
            {"error": "not found", "paths": ["/healthz", "/metrics", "/api/requests",
                                             "/api/requests/{id}"]})


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


class HttpServer:
    """The server and its thread. `start()` binds (raising OSError when it cannot)."""

    def __init__(self, host: str, port: int, api: HttpApi) -> None:
        self.host = host
        self.api = api
        self._server = _Server((host, port), api, ipv6=":" in host)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name="reconciler-http", daemon=True)
        self._thread.start()
        log.info("http.listening", url=self.url)
        if not is_loopback(self.host):
            log.warning("http.exposed", host=self.host,
                        message="the API is reachable beyond this machine; it is read-only "
                                "but shows every request's title and state")

    def stop(self) -> None:
        """Stop serving and close the socket (blocks up to the poll interval)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def start_http_server(config: Callable[[], Config], metrics: Metrics, listen: str,
                      clock: Callable[[], datetime] | None = None) -> HttpServer:
    """Bind `listen` (HOST:PORT) and serve in a background thread."""
    host, port = parse_listen(listen)
    server = HttpServer(host, port, HttpApi(config, metrics, clock))
    server.start()
    return server
