"""The HTTP seam shared by the service modules: auth headers, timeouts, bounded retries, and a
small error family (unavailable / auth failed / bad response) chained from httpx's errors."""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import ijson
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    stop_any,
)
from tenacity.stop import stop_base

from reconciler.config import ServiceConfig
from reconciler.errors import (
    AuthFailed,
    BadResponse,
    NotFound,
    QueryRejected,
    ServiceUnavailable,
)
from reconciler.logs import scrub

MAX_BODY_BYTES = 256 * 1024 * 1024
# What one ordinary call (a page, one item, a status) may send: no page is legitimately more
# than a few MB, and a body is held whole before it is parsed. Only the whole-library
# listings, parsed as a stream (`stream_list`), may go up to the configured `max_body`.
CALL_MAX_BYTES = 16 * 1024 * 1024
# A picture (a poster) larger than this is refused.
IMAGE_MAX_BYTES = 4 * 1024 * 1024
# In a streamed listing, the most bytes between two `}`: bounds what the parser buffers for one
# record (or one absurd string) while it is incomplete.
RECORD_MAX_BYTES = 16 * 1024 * 1024
_HTML_START = re.compile(rb"\s*<")
T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = "reconciler/0.1 (+https://github.com/reconciler)"


class _Retryable(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


@dataclass
class CallStats:
    calls: int = 0
    bytes: int = 0

    def reset(self) -> None:
        self.calls = 0
        self.bytes = 0


@dataclass
class JsonResponse:
    data: Any
    server_date: datetime | None


class ServiceClient:
    """An httpx.AsyncClient for one service, with its key in a header and nowhere else."""

    name = "service"
    config_key = "api_key"

    def __init__(
        self,
        config: ServiceConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_attempts: int = 3,
        retry_budget: float | None = None,
        max_body: int | None = None,
    ) -> None:
        self.config = config
        if config.kind == type(self).name and config.name != config.kind:
            self.name = config.name  # one of several Radarr/Sonarr servers: its own name
        self.stats = CallStats()
        self.extra_stats = CallStats()  # `get_bytes` (posters): counted apart from the polls
        self.max_attempts = max_attempts
        self.retry_budget = config.retry_budget if retry_budget is None else retry_budget
        self.max_body = config.max_body if max_body is None else max_body
        timeout = httpx.Timeout(config.timeout, connect=min(5.0, config.timeout))
        self._http = httpx.AsyncClient(
            base_url=config.url,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json",
                     **self.auth_headers(config.api_key)},
            timeout=timeout,
            verify=_tls_context(config.verify_tls),
            transport=transport,
            follow_redirects=False,
        )

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"X-Api-Key": api_key}

    def is_not_found(self, status: int, body: bytes, path: str) -> bool:
        """Whether an error answer means "no such thing" (services differ in how they say it)."""
        return False

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def get(self, path: str, params: Mapping[str, Any] | None = None, *,
                  timeout: float | None = None, max_bytes: int | None = None) -> Any:
        return (await self.request("GET", path, params=params, timeout=timeout,
                                   max_bytes=max_bytes)).data

    async def get_bytes(self, path: str, params: Mapping[str, Any] | None = None, *,
                        accept: str = "image/*", max_bytes: int = IMAGE_MAX_BYTES,
                        timeout: float = 10.0) -> bytes:
        """A call made beside the polls (a poster, the details naming one): the answer's bytes,
        in one attempt bounded in time and size, counted in `extra_stats`, never in the polls'
        `stats`. NotFound for a 404; else the error family as for any call."""
        try:
            async with asyncio.timeout(timeout):
                request = self._http.build_request("GET", path, params=_clean(params),
                                                   headers={"Accept": accept})
                response = await self._http.send(request, stream=True)
                try:
                    self.extra_stats.calls += 1
                    self._refuse_announced(response, path, max_bytes)
                    body = await self._read_capped(response, path, max_bytes)
                finally:
                    await response.aclose()
            self.extra_stats.bytes += len(body)
            self._check_status(response, body, path)
        except _Retryable as exc:
            raise ServiceUnavailable(self.name, f"HTTP {exc.status} from {path}") from exc
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise ServiceUnavailable(self.name, f"timed out calling {path}") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                self.name, f"cannot reach {self.config.url} ({type(exc).__name__})") from exc
        return bytes(body)

    async def stream_list(self, path: str, parse: Callable[[Any], T],
                          params: Mapping[str, Any] | None = None) -> list[T]:
        """A top-level JSON list read as a stream: each element is handed to `parse` as soon as
        it is complete and only what `parse` returns is kept, so the raw listing (up to
        `max_body` bytes) is never held. For the unpaged whole-library listings."""
        parsed = await self.request("GET", path, params=params, max_bytes=self.max_body,
                                    stream=parse)
        return list(parsed.data)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        expect_json: bool = True,
        timeout: float | None = None,
        max_bytes: int | None = None,
        stream: Callable[[Any], Any] | None = None,
    ) -> JsonResponse:
        """One call with bounded retries on transient failures; raises an UpstreamError.

        `timeout` bounds the whole call, retries included (else the service's timeout per
        attempt and its retry budget). A body larger than `max_bytes` (default
        `CALL_MAX_BYTES`, never above the configured `max_body`) is refused as it arrives. With
        `stream`, a successful answer must be a JSON list and `data` is the list of
        `stream(element)`, parsed as the bytes arrive."""
        budget = self.retry_budget if timeout is None else min(self.retry_budget, timeout)
        deadline = time.monotonic() + budget
        cap = min(self.max_body, CALL_MAX_BYTES if max_bytes is None else max_bytes)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            delay = min(0.5 * 2.0 ** (state.attempt_number - 1), 4.0)
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                delay = float(exc.retry_after)
            remaining = deadline - time.monotonic()
            return max(0.0, min(delay, remaining))

        retrying = AsyncRetrying(
            stop=stop_any(stop_after_attempt(self.max_attempts),
                          stop_after_delay(budget), _RetryAfterBeyond(deadline)),
            wait=wait,
            retry=retry_if_exception(_is_transient),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    return await self._once(method, path, params, json_body, expect_json,
                                            deadline, cap, stream, timeout)
        except _Retryable as exc:
            hint = f", Retry-After {exc.retry_after:g} s" if exc.retry_after is not None else ""
            raise ServiceUnavailable(self.name, f"HTTP {exc.status} from {path}{hint}",
                                     exc.status) from exc
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(self.name, f"timed out calling {path}") from exc
        except TimeoutError as exc:
            raise ServiceUnavailable(self.name, f"timed out calling {path}") from exc
        except httpx.TransportError as exc:
            if (tls := _tls_refused(exc)) is not None:
                raise ServiceUnavailable(
                    self.name, f"the TLS certificate of {self.config.url} is not trusted "
                    f"({tls.verify_message or tls.reason}); fix it, or set [{self.name}] "
                    f"verify_tls = false to skip the check",
                ) from exc
            raise ServiceUnavailable(
                self.name, f"cannot reach {self.config.url} ({type(exc).__name__})"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, method: str, path: str, params: Mapping[str, Any] | None,
                    json_body: Any, expect_json: bool, deadline: float, cap: int,
                    stream: Callable[[Any], Any] | None,
                    timeout: float | None = None) -> JsonResponse:
        per_call = max(0.1, min(self.config.timeout * 2, deadline - time.monotonic() + 1))
        if timeout is not None:
            per_call = max(0.1, min(per_call, deadline - time.monotonic()))
        async with asyncio.timeout(per_call):
            if timeout is None:
                request = self._http.build_request(method, path, params=_clean(params),
                                                   json=json_body)
            else:
                request = self._http.build_request(method, path, params=_clean(params),
                                                   json=json_body,
                                                   timeout=httpx.Timeout(per_call))
            response = await self._http.send(request, stream=True)
            try:
                self.stats.calls += 1
                self._refuse_announced(response, path, cap)
                if stream is not None and response.status_code < 300 and expect_json:
                    items = await self._parse_stream(response, path, cap, stream)
                    return JsonResponse(items, _http_date(response.headers.get("Date")))
                # An error answer is read only for its few words (it never carries data).
                body = await self._read_capped(response, path,
                                               cap if response.status_code < 300
                                               else min(cap, CALL_MAX_BYTES))
            finally:
                await response.aclose()
        self.stats.bytes += len(body)
        status = response.status_code
        self._check_status(response, body, path)
        server_date = _http_date(response.headers.get("Date"))
        if not expect_json:
            return JsonResponse(None, server_date)
        if not body or body.isspace():
            if status == 204:
                return JsonResponse(None, server_date)
            raise BadResponse(self.name, f"empty response from {path}")
        self._refuse_html(response, body, path)
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise BadResponse(self.name, f"malformed JSON from {path}") from exc
        return JsonResponse(data, server_date)

    def _check_status(self, response: httpx.Response, body: bytes | bytearray,
                      path: str) -> None:
        status = response.status_code
        if status in (401, 403):
            raise AuthFailed(
                self.name,
                f"HTTP {status}: the API key was refused; check [{self.name}] "
                f"{self.config_key} (or {self.config_key}_file / "
                f"RECONCILER_{self.name.upper()}_{self.config_key.upper()})",
            )
        if status in RETRY_STATUSES:
            raise _Retryable(status, _retry_after(response.headers.get("Retry-After")))
        if status == 404 or (status >= 400 and self.is_not_found(status, bytes(body), path)):
            raise NotFound(self.name, f"HTTP {status} for {path}")
        if status == 400:
            raise QueryRejected(self.name, f"HTTP 400 from {path}: {_message(body)}")
        if status >= 400:
            # The server's own reason when it gives one (Jellyseerr 2.1: "[Sonarr] Failed to
            # retrieve profiles: fetch failed"; Seerr: "Unable to retrieve movie.").
            reason = _message(body, "")
            raise ServiceUnavailable(self.name, f"HTTP {status} from {path}"
                                                + (f": {reason}" if reason else ""), status,
                                     reason)

    def _refuse_html(self, response: httpx.Response, head: bytes | bytearray,
                     path: str) -> None:
        ctype = response.headers.get("Content-Type", "")
        if "html" in ctype.lower() or _HTML_START.match(head):
            raise BadResponse(
                self.name,
                f"{path} answered with an HTML page, not JSON (a login page or proxy in front "
                f"of {self.config.url}?)",
            )

    def _too_big(self, path: str, cap: int) -> BadResponse:
        return BadResponse(self.name, f"response from {path} exceeds {_mb(cap)}")

    def _refuse_announced(self, response: httpx.Response, path: str, cap: int) -> None:
        """A Content-Length past the cap is refused before a byte of the body is read."""
        length = response.headers.get("Content-Length", "")
        encoded = response.headers.get("Content-Encoding", "identity").lower()
        if length.isdigit() and encoded == "identity" and int(length) > cap:
            raise self._too_big(path, cap)

    async def _read_capped(self, response: httpx.Response, path: str,
                           cap: int) -> bytearray:
        """The decoded body, refusing to hold more than `cap` bytes of it (counted as they
        arrive, after decompression; one growing buffer, never a second copy)."""
        body = bytearray()
        try:
            async for chunk in response.aiter_bytes():
                if len(body) + len(chunk) > cap:
                    raise self._too_big(path, cap)
                body += chunk
        except httpx.DecodingError as exc:
            raise BadResponse(self.name, f"cannot decode the response from {path}") from exc
        return body

    async def _parse_stream(self, response: httpx.Response, path: str, cap: int,
                            parse: Callable[[Any], Any]) -> list[Any]:
        """Parse a JSON list element by element as its bytes arrive (see `stream_list`)."""
        done: list[Any] = ijson.sendable_list()
        parser = ijson.items_coro(done, "item", use_float=True)
        out: list[Any] = []
        size = 0
        since_record = 0
        started = False
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise self._too_big(path, cap)
                close = chunk.rfind(b"}")
                since_record = since_record + len(chunk) if close < 0 \
                    else len(chunk) - close - 1
                if since_record > RECORD_MAX_BYTES:
                    raise BadResponse(self.name, f"a record in the response from {path} "
                                                 f"exceeds {_mb(RECORD_MAX_BYTES)}")
                if not started and chunk.strip():
                    started = True
                    self._refuse_html(response, chunk, path)
                    first = chunk.lstrip()[:1]
                    if first != b"[":
                        # A JSON value of another kind, or not JSON at all.
                        raise BadResponse(self.name, f"{path}: expected a JSON list"
                                          if first in b'{"-0123456789tfn' else
                                          f"malformed JSON from {path}")
                parser.send(chunk)
                for element in done:
                    out.append(parse(element))
                del done[:]
            if not started:
                raise BadResponse(self.name, f"empty response from {path}")
            parser.close()
            out += [parse(element) for element in done]
        except httpx.DecodingError as exc:
            raise BadResponse(self.name, f"cannot decode the response from {path}") from exc
        except ijson.JSONError as exc:
            raise BadResponse(self.name, f"malformed JSON from {path}") from exc
        finally:
            self.stats.bytes += size
        return out


class _RetryAfterBeyond(stop_base):
    """Stop when the server asks for a longer wait than the budget has left: giving up now
    beats calling again before the server said to."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return (isinstance(exc, _Retryable) and exc.retry_after is not None
                and exc.retry_after > self.deadline - time.monotonic())


@functools.lru_cache(maxsize=2)
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One context per process and setting: building one loads the CA bundle, which costs
    tens of milliseconds per client otherwise."""
    return httpx.create_ssl_context(verify=verify)


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, _Retryable):
        return True
    return isinstance(exc, httpx.TransportError | TimeoutError) and not isinstance(
        exc, httpx.UnsupportedProtocol
    ) and _tls_refused(exc) is None


def _tls_refused(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate error behind `exc`, if any (retrying cannot help with that)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short: httpx error <- httpcore error <- ssl error
        if seen is None or isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# Credentials a server's own message might quote: `key=value` pairs and URL user info.
_SECRET_PAIR = re.compile(r"\b((?:api[_-]?key|apikey|token|access_token|password|secret)"
                          r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+", re.IGNORECASE)
_USER_INFO = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^\s/@]+@", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MESSAGE_CHARS = 200


def _message(body: bytes | bytearray, missing: str = "the query was refused") -> str:
    """The `message` of a JSON error body (express-openapi-validator, Seerr, ASP.NET problem
    details): one line, at most `MESSAGE_CHARS`, credentials it quotes redacted and
    reconciler's own secrets scrubbed; else `missing`. Never the raw body, which may echo the
    query or carry a stack trace."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return missing
    text = data.get("message") or data.get("title") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        return missing
    text = _CONTROL.sub(" ", text).strip()
    text = _SECRET_PAIR.sub(r"\1***", _USER_INFO.sub(r"\1***@", text))
    text = scrub(text)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 1] + "…"


def _mb(size: int) -> str:
    return f"{size // (1024 * 1024)} MB" if size >= 1024 * 1024 else f"{size} bytes"


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = value
    return out


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = _http_date(value)
        if when is None:
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def require(service: str, data: Any, kind: type, what: str) -> Any:
    """Check a response's top-level shape, naming the service and endpoint when it is wrong."""
    if not isinstance(data, kind):
        raise BadResponse(service, f"{what}: expected a JSON {kind.__name__}, "
                                   f"got {type(data).__name__}")
    return data
