"""The HTTP machinery under the fake services: a routed `App` per service, a stdlib
`ThreadingHTTPServer` per service in a daemon thread (`ServiceRunner`), per-service statistics,
a request log and fault injection (see `faults`).

Apps build plain Python payloads under the world lock; the handler serialises them outside it.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from simstack import faults as _faults
from simstack._util import BadParam, QueryParams, http_date
from simstack.clock import Clock

JSON_CT = "application/json; charset=utf-8"

# Headers worth recording in the request log (never the credentials themselves).
_LOGGED_HEADERS = ("user-agent", "accept", "content-type", "accept-encoding", "if-none-match")


@dataclass
class Request:
    method: str
    path: str
    query: QueryParams
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Response:
    status: int = 200
    payload: Any = None
    raw: bytes | None = None
    content_type: str = JSON_CT
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def is_json(self) -> bool:
        return self.raw is None and self.status != 204

    def body_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.status == 204:
            return b""
        return json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode()


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    auth: bool


class App:
    """One fake service: routes, authentication, error shapes."""

    service: ClassVar[str] = "service"
    server_header: ClassVar[str] = "Kestrel"
    case_insensitive: ClassVar[bool] = True

    def __init__(self, world: Clock, api_key: str) -> None:
        self.world = world
        self.api_key = api_key
        self.routes: list[Route] = []
        self.setup_routes()

    # -- to override -------------------------------------------------------------------------

    def setup_routes(self) -> None:
        raise NotImplementedError

    def authenticate(self, req: Request) -> bool:
        raise NotImplementedError

    def auth_scheme(self, req: Request) -> str | None:
        """Which credential the request carried (for the log), never its value."""
        return None

    def unauthorized(self) -> Response:
        return Response(401, raw=b"", content_type="text/plain")

    def not_found(self, req: Request) -> Response:
        return Response(404, raw=b"", content_type="text/plain")

    def bad_request(self, message: str) -> Response:
        return Response(400, {"message": message})

    def error_response(self, status: int) -> Response:
        """The body this service sends with a 5xx/429 (used by the `status` fault)."""
        return Response(status, {"message": "Internal Server Error"})

    # -- routing -----------------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler, *, auth: bool = True) -> None:
        flags = re.IGNORECASE if self.case_insensitive else 0
        self.routes.append(Route(method.upper(), re.compile("^" + pattern + "/?$", flags),
                                 handler, auth))

    def dispatch(self, req: Request) -> Response:
        path_matched = False
        for route in self.routes:
            m = route.pattern.match(req.path)
            if not m:
                continue
            path_matched = True
            if route.method != req.method and not (route.method == "GET"
                                                   and req.method == "HEAD"):
                continue
            if route.auth and not self.authenticate(req):
                return self.unauthorized()
            req.params = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
            try:
                return route.handler(req)
            except BadParam as exc:
                return self.bad_request(str(exc))
        if path_matched:
            return Response(405, raw=b"", content_type="text/plain")
        return self.not_found(req)


class AspNetApp(App):
    """An ASP.NET Core service (Jellyfin, Shoko): errors are RFC 9110 problem details."""

    def error_response(self, status: int) -> Response:
        return Response(status, {"type": "https://tools.ietf.org/html/rfc9110#section-15.6.1",
                                 "title": "An error occurred while processing your request.",
                                 "status": status})

    def bad_request(self, message: str) -> Response:
        return Response(400, {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                              "title": "One or more validation errors occurred.", "status": 400,
                              "errors": {"": [message]}})


@dataclass(frozen=True)
class LoggedRequest:
    """One request that reached a fake service."""

    service: str
    method: str
    path: str
    query: dict[str, str]
    query_multi: dict[str, list[str]]
    headers: dict[str, str]
    auth: str | None
    body: bytes
    status: int
    bytes: int
    at: datetime
    fault: str | None

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Recorder:
    """Per-service counters and the request log, shared by all runners of a stack."""

    # How long a read of the counters waits for answers already sent but not yet recorded.
    SETTLE_SECONDS = 2.0

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Condition()
        self._calls: dict[str, int] = {}
        self._bytes: dict[str, int] = {}
        self._log: deque[LoggedRequest] = deque(maxlen=limit)
        self._in_flight = 0

    def started(self) -> None:
        """A request is being answered: reads of the counters wait for its record (the client
        may hold the whole answer before the server thread has recorded it)."""
        with self._lock:
            self._in_flight += 1

    def _settle(self) -> None:
        self._lock.wait_for(lambda: self._in_flight == 0, timeout=self.SETTLE_SECONDS)

    def register(self, service: str) -> None:
        with self._lock:
            self._calls.setdefault(service, 0)
            self._bytes.setdefault(service, 0)

    def record(self, entry: LoggedRequest, *, started: bool = False) -> None:
        with self._lock:
            self._calls[entry.service] = self._calls.get(entry.service, 0) + 1
            self._bytes[entry.service] = self._bytes.get(entry.service, 0) + entry.bytes
            self._log.append(entry)
            if started:
                self._in_flight -= 1
                self._lock.notify_all()

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            self._settle()
            return {s: {"calls": self._calls[s], "bytes": self._bytes.get(s, 0)}
                    for s in self._calls}

    def reset(self) -> None:
        with self._lock:
            for s in self._calls:
                self._calls[s] = 0
                self._bytes[s] = 0
            self._log.clear()

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            self._settle()
            return list(self._log)


class _SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], runner: ServiceRunner) -> None:
        self.runner = runner
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.conn_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self.conn_lock:
            conns = list(self.connections)
        for conn in conns:
            _hard_close(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


def _hard_close(conn: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) so the peer sees a reset, not a clean EOF."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _HeaderView(Mapping[str, str]):
    """Case-insensitive, read-only view of the request headers (an email.message.Message)."""

    def __init__(self, message: Any) -> None:
        self._message = message

    def __getitem__(self, name: str) -> str:
        value = self._message.get(name)
        if value is None:
            raise KeyError(name)
        return str(value)

    def get(self, name: str, default: Any = None) -> Any:
        value = self._message.get(name)
        return default if value is None else str(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self._message.keys())

    def __len__(self) -> int:
        return len(self._message.keys())


class _Abort(Exception):
    """Stop handling this request and reset the connection (RST)."""


class _Close(Exception):
    """Stop handling this request and close the connection gracefully (FIN) after what was
    sent, e.g. part of an announced body."""


class _Handler(BaseHTTPRequestHandler):
    server: _SimServer
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK stall every keep-alive response by ~40 ms.
    disable_nagle_algorithm = True
    _no_date = False  # the `no_date_header` fault: this response goes out without `Date`

    # -- BaseHTTPRequestHandler hooks ----------------------------------------------------------

    def version_string(self) -> str:
        return self.server.runner.app.server_header

    def date_time_string(self, timestamp: float | None = None) -> str:
        return http_date(self.server.runner.world.now)

    def send_header(self, keyword: str, value: str) -> None:
        if self._no_date and keyword.lower() == "date":
            return
        super().send_header(keyword, value)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    # -- the request cycle -----------------------------------------------------------------

    def _handle(self) -> None:
        runner = self.server.runner
        app = runner.app
        world = runner.world
        world.tick()
        parts = urlsplit(self.path)
        path = unquote(parts.path) or "/"
        query = QueryParams(parse_qs(parts.query, keep_blank_values=True),
                            case_insensitive=app.case_insensitive)
        body = self._read_body()
        req = Request(self.command, path, query, _HeaderView(self.headers), body)
        fault = runner.faults.take(runner.service, self.command, path)
        self._no_date = fault is not None and fault.kind == "no_date_header"
        if self._no_date:
            fault = None  # otherwise the real answer
        self._sent = 0
        self._status = 0
        runner.recorder.started()
        try:
            self._respond(req, fault)
        except _Abort:
            self.close_connection = True
            _hard_close(self.connection)
        except _Close:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True
        finally:
            self._record(req, parts.query, fault)

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length and length.isdigit():
            return self.rfile.read(int(length))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                out += self.rfile.read(size)
                self.rfile.readline()
            return bytes(out)
        return b""

    def _respond(self, req: Request, fault: _faults.Fault | None) -> None:
        runner = self.server.runner
        app = runner.app
        kind = fault.kind if fault else None
        if fault is not None and kind in _faults.PRE_ROUTE_KINDS:
            if kind in ("refuse", "reset"):
                raise _Abort()
            if kind == "slow_headers":
                if runner.stopping.wait(float(fault.opt("seconds", 5.0))):
                    raise _Abort()
                fault = None  # then answer normally
            elif kind == "status":
                self._send_status_fault(fault)
                return
            elif kind == "html_login":
                self._send(int(fault.opt("status", 200)), _faults.LOGIN_PAGE,
                           "text/html; charset=utf-8")
                return
            elif kind == "unauthorized":
                self._send_response(app.unauthorized())
                return
        try:
            response = app.dispatch(req)
        except Exception:  # a bug in a fake: answer 500 and show it
            traceback.print_exc()
            response = app.error_response(500)
        if fault is None:
            self._send_response(response)
            return
        self._send_faulty(response, fault)

    def _send_status_fault(self, fault: _faults.Fault) -> None:
        app = self.server.runner.app
        code = int(fault.opt("code", 503))
        base = app.error_response(code)
        headers = dict(base.headers)
        retry_after = fault.opt("retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        body = fault.opt("body", None)
        if body is not None:
            raw = body if isinstance(body, bytes) else str(body).encode()
            ctype = str(fault.opt("content_type", "text/plain; charset=utf-8"))
        else:
            raw = base.body_bytes()
            ctype = base.content_type
        self._send(code, raw, ctype, headers)

    def _send_faulty(self, response: Response, fault: _faults.Fault) -> None:
        kind = fault.kind
        body = response.body_bytes()
        if kind == "slow_body":
            self._send_slowly(response.status, body, response.content_type, response.headers,
                              float(fault.opt("seconds", 5.0)), int(fault.opt("chunks", 20)))
        elif kind == "truncated_json":
            cut = _faults.truncate(body, float(fault.opt("fraction", 0.5)))
            if fault.opt("mode", "body") == "connection":
                self._send_head(response.status, response.content_type, len(body),
                                response.headers)
                self._write(cut)
                raise _Close()
            self._send(response.status, cut, response.content_type, response.headers)
        elif kind == "malformed_json":
            custom = fault.opt("body", None)
            raw = (custom if isinstance(custom, bytes) else str(custom).encode()) \
                if custom is not None else _faults.malformed_body(body)
            self._send(200, raw, JSON_CT)
        elif kind == "wrong_shape":
            payload = response.payload if response.is_json else None
            shaped = _faults.wrong_shape(payload, str(fault.opt("variant", "swap")))
            raw = json.dumps(shaped, separators=(",", ":")).encode()
            self._send(200 if response.status < 300 else response.status, raw, JSON_CT)
        elif kind == "huge":
            payload = response.payload if response.is_json else None
            self._send_chunked(200, JSON_CT,
                               _faults.huge_chunks(payload, float(fault.opt("size_mb", 32)),
                                                   bool(fault.opt("distinct", False))))
        else:  # pragma: no cover - every kind is handled above
            self._send_response(response)

    # -- writing ---------------------------------------------------------------------------

    def _send_response(self, response: Response) -> None:
        self._send(response.status, response.body_bytes(), response.content_type,
                   response.headers)

    def _send_head(self, status: int, content_type: str | None, length: int | None,
                   headers: Mapping[str, str] | None = None, chunked: bool = False) -> None:
        self._status = status
        self.send_response(status)
        if content_type and (length or chunked):
            self.send_header("Content-Type", content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length or 0))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _write(self, data: bytes) -> None:
        if self.command == "HEAD" or not data:
            return
        self.wfile.write(data)
        self._sent += len(data)

    def _send(self, status: int, body: bytes, content_type: str | None,
              headers: Mapping[str, str] | None = None) -> None:
        self._send_head(status, content_type, len(body), headers)
        self._write(body)

    def _send_slowly(self, status: int, body: bytes, content_type: str,
                     headers: Mapping[str, str], seconds: float, chunks: int) -> None:
        runner = self.server.runner
        self._send_head(status, content_type, len(body), headers)
        self.wfile.flush()
        chunks = max(1, min(chunks, len(body) or 1))
        step = -(-len(body) // chunks) if body else 0
        pause = seconds / chunks
        for i in range(chunks):
            piece = body[i * step:(i + 1) * step]
            if not piece:
                break
            if runner.stopping.wait(pause):
                raise _Abort()
            self._write(piece)
            self.wfile.flush()

    def _send_chunked(self, status: int, content_type: str, chunks: Iterator[bytes]) -> None:
        self._send_head(status, content_type, None, None, chunked=True)
        if self.command == "HEAD":
            return
        runner = self.server.runner
        for chunk in chunks:
            if runner.stopping.is_set():
                raise _Abort()
            if not chunk:
                continue
            self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            self._sent += len(chunk)
        self.wfile.write(b"0\r\n\r\n")

    # -- bookkeeping -----------------------------------------------------------------------

    def _record(self, req: Request, raw_query: str, fault: _faults.Fault | None) -> None:
        runner = self.server.runner
        multi = parse_qs(raw_query, keep_blank_values=True)
        headers = {}
        for name in _LOGGED_HEADERS:
            value = self.headers.get(name)
            if value is not None:
                headers[name] = value
        entry = LoggedRequest(
            service=runner.service,
            method=req.method,
            path=req.path,
            query={k: v[0] for k, v in multi.items()},
            query_multi=multi,
            headers=headers,
            auth=runner.app.auth_scheme(req),
            body=req.body,
            status=self._status,
            bytes=self._sent,
            at=runner.world.now,
            fault=fault.kind if fault else None,
        )
        runner.recorder.record(entry, started=True)


class ServiceRunner:
    """One fake service's HTTP server in a daemon thread; can stop and resume listening on the
    same port (for the `refuse` fault)."""

    def __init__(self, app: App, *, world: Clock, faults: _faults.FaultBook, recorder: Recorder,
                 host: str = "127.0.0.1", port: int = 0, service: str | None = None) -> None:
        self.app = app
        self.service = service or app.service  # another name: one more instance of a kind
        self.world = world
        self.faults = faults
        self.recorder = recorder
        self.host = host
        self.port = port
        self.stopping = threading.Event()
        self._server: _SimServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        recorder.register(self.service)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            self.stopping.clear()
            server = self._bind()
            self.port = server.server_address[1]
            self._server = server
            self._thread = threading.Thread(target=server.serve_forever,
                                            kwargs={"poll_interval": 0.02},
                                            name=f"sim-{self.service}", daemon=True)
            self._thread.start()

    def _bind(self) -> _SimServer:
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return _SimServer((self.host, self.port), self)
            except OSError:
                # Re-listening on the same port right after closing it can race the kernel.
                if self.port == 0 or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop_listening(self) -> None:
        """Close the listening socket and cut open connections (clients see refusals)."""
        with self._lock:
            server, self._server = self._server, None
            thread, self._thread = self._thread, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.cut_connections()
        if thread is not None:
            thread.join(timeout=5)

    def stop(self) -> None:
        self.stopping.set()
        self.stop_listening()
