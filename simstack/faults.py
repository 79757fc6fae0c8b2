"""Fault injection for the fake services.

A `Fault` is attached to one service with `SimulatedStack.set_fault(service, kind, ...)`
(replacing that service's faults) or `add_fault` (adding one), and removed with
`clear_fault(service)` (or `clear_fault()` for every service). Optional restrictions:

- `path`: a path prefix (case-insensitive, e.g. "/api/v3/queue", "/Items"); others pass.
- `method`: only this HTTP method.
- `times`: the fault hits at most this many matching requests, then removes itself
  ("fail once, then recover"). Not available for `refuse` without a path.

Kinds (options in brackets):

- `refuse`: without `path`, the listening socket is closed (clients get ECONNREFUSED) and open
  keep-alive connections are cut; `clear_fault` listens again on the same port. With `path`,
  matching requests get their connection reset without a response (like `reset`).
- `reset`: the connection is closed (RST) before any response byte.
- `status` [code=503, retry_after=None (seconds, sets `Retry-After`), body=None, content_type]:
  an error status with the service's usual error body, e.g. 500/502/503 or 429.
- `slow_headers` [seconds=5.0]: waits before sending anything, then answers normally.
- `slow_body` [seconds=5.0, chunks=20]: sends the headers (with the full Content-Length) at once,
  then dribbles the real body in `chunks` pieces spread over `seconds`.
- `html_login` [status=200]: a 200 `text/html` login page, as a reverse proxy / SSO would serve.
- `truncated_json` [fraction=0.5, mode="body"]: the real JSON cut after `fraction` of its bytes.
  mode "body": Content-Length matches the cut body (a complete HTTP response with invalid JSON);
  mode "connection": the full length is announced and the connection closed early.
- `malformed_json` [body=None]: 200 application/json that is not JSON.
- `wrong_shape` [variant="swap"]: the real payload, altered: "swap" (a list becomes
  `{"items": [...]}`, an object becomes `[object]`), "missing_fields" (id-like keys removed at every
  depth), "null_ids" (id-like keys set to null), "unknown_enum" (enum strings such as status,
  eventType, Type, LocationType become "unexpectedValue"; Jellyseerr's numeric statuses become 99),
  "empty_object" (`{}`), "null" (`null`).
- `huge` [size_mb=32, distinct=False]: a valid JSON response of about `size_mb` MB, streamed
  with chunked transfer-encoding (generated as it is sent, never held): the real payload's list
  (or its `records`/`results`/`Items`/... list) repeated, or padding records when empty. With
  `distinct`, each repetition shifts the elements' top-level `id`/`tmdbId`/`tvdbId` so that
  every element is a different record (a large library rather than one film many times).
- `no_date_header`: the real response without its `Date` header, as behind a reverse proxy that
  strips it (clients then have no server clock to take a watermark from).
- `unauthorized`: the service's authentication failure (401, or 403 for Jellyseerr) even with
  the right key.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = frozenset({
    "refuse", "reset", "status", "slow_headers", "slow_body", "html_login", "truncated_json",
    "malformed_json", "wrong_shape", "huge", "unauthorized", "no_date_header",
})

# Faults decided before the request is routed (they never need the real payload).
PRE_ROUTE_KINDS = frozenset({"refuse", "reset", "status", "slow_headers", "html_login",
                             "unauthorized"})

WRONG_SHAPE_VARIANTS = frozenset({"swap", "missing_fields", "null_ids", "unknown_enum",
                                  "empty_object", "null"})

_ID_KEYS = frozenset({
    "id", "Id", "ID", "movieId", "seriesId", "episodeId", "tmdbId", "tvdbId", "downloadId",
    "movieFileId", "episodeFileId", "FileID", "SeriesID", "ServerId", "SeriesId", "SeasonId",
    "ItemId", "ParentId", "AniDB", "jellyfinMediaId", "externalServiceId",
})

_ENUM_KEYS = frozenset({
    "status", "trackedDownloadStatus", "trackedDownloadState", "eventType", "Type",
    "LocationType", "seriesType", "State", "mediaType", "type", "CollectionType", "MediaType",
    "protocol", "minimumAvailability", "status4k",
})

_LIST_KEYS = ("records", "results", "Items", "List", "items")


@dataclass
class Fault:
    """One injected fault. See the module docstring for kinds and options."""

    kind: str
    path: str | None = None
    method: str | None = None
    times: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of "
                             f"{sorted(FAULT_KINDS)}")
        if self.kind == "wrong_shape":
            variant = self.options.get("variant", "swap")
            if variant not in WRONG_SHAPE_VARIANTS:
                raise ValueError(f"unknown wrong_shape variant {variant!r}; expected one of "
                                 f"{sorted(WRONG_SHAPE_VARIANTS)}")
        if self.kind == "refuse" and self.path is None and self.times is not None:
            raise ValueError("refuse without a path closes the listener: `times` cannot apply")
        if self.method:
            self.method = self.method.upper()

    @property
    def closes_listener(self) -> bool:
        return self.kind == "refuse" and self.path is None and self.method is None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method.upper():
            return False
        return self.path is None or path.lower().startswith(self.path.lower())

    def opt(self, name: str, default: Any) -> Any:
        return self.options.get(name, default)


class FaultBook:
    """The faults of every service, lock-protected (read by server threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, list[Fault]] = {}

    def set(self, service: str, fault: Fault) -> None:
        with self._lock:
            self._faults[service] = [fault]

    def add(self, service: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(service, []).append(fault)

    def clear(self, service: str) -> list[Fault]:
        with self._lock:
            return self._faults.pop(service, [])

    def snapshot(self) -> dict[str, list[Fault]]:
        with self._lock:
            return {k: list(v) for k, v in self._faults.items() if v}

    def of(self, service: str) -> list[Fault]:
        with self._lock:
            return list(self._faults.get(service, []))

    def take(self, service: str, method: str, path: str) -> Fault | None:
        """The first fault matching this request, counting the hit (and expiring `times`)."""
        with self._lock:
            faults = self._faults.get(service)
            if not faults:
                return None
            for fault in faults:
                if fault.closes_listener or not fault.matches(method, path):
                    continue
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    faults.remove(fault)
                return fault
            return None


LOGIN_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<form method="post" action="/login">
  <h1>Please sign in</h1>
  <label>Username <input name="username" autocomplete="username"></label>
  <label>Password <input name="password" type="password"></label>
  <button type="submit">Sign in</button>
</form>
</body>
</html>
"""


def malformed_body(real: bytes) -> bytes:
    return b'{"records": [{"id": 1,, "title": "unterminated' + real[:64]


def truncate(body: bytes, fraction: float) -> bytes:
    cut = max(1, min(len(body) - 1, int(len(body) * fraction))) if len(body) > 1 else 0
    return body[:cut]


def wrong_shape(payload: Any, variant: str) -> Any:
    if variant == "swap":
        if isinstance(payload, list):
            return {"items": payload}
        return [payload]
    if variant == "empty_object":
        return {}
    if variant == "null":
        return None
    data = copy.deepcopy(payload)
    if variant == "missing_fields":
        _walk(data, _drop_ids)
    elif variant == "null_ids":
        _walk(data, _null_ids)
    elif variant == "unknown_enum":
        _walk(data, _bad_enums)
    return data


def _walk(node: Any, fn: Any) -> None:
    if isinstance(node, dict):
        fn(node)
        for value in node.values():
            _walk(value, fn)
    elif isinstance(node, list):
        for value in node:
            _walk(value, fn)


def _drop_ids(obj: dict[str, Any]) -> None:
    for key in [k for k in obj if k in _ID_KEYS]:
        del obj[key]


def _null_ids(obj: dict[str, Any]) -> None:
    for key in obj:
        if key in _ID_KEYS:
            obj[key] = None


def _bad_enums(obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if key in _ENUM_KEYS:
            if isinstance(value, str):
                obj[key] = "unexpectedValue"
            elif isinstance(value, int) and not isinstance(value, bool):
                obj[key] = 99


_DISTINCT_KEYS = ("id", "tmdbId", "tvdbId")


def huge_chunks(payload: Any, size_mb: float, distinct: bool = False) -> Iterator[bytes]:
    """A streamed JSON document of about `size_mb` MB built from `payload`'s shape."""
    target = int(size_mb * 1024 * 1024)
    head, elements, tail = _split_for_repeat(payload)
    if not elements:
        elements = [{"id": 0, "padding": "x" * 1000}]
    encoded = [json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode() for e in elements]
    pieces: Iterator[bytes] = itertools.cycle(encoded)
    if distinct:
        pieces = _renumbered(elements)
    yield head
    sent = len(head)
    buf = bytearray()
    first = True
    for piece in pieces:
        if not first:
            buf += b","
        buf += piece
        first = False
        if len(buf) >= 65536:
            sent += len(buf)
            yield bytes(buf)
            buf.clear()
            if sent >= target:
                break
    if buf:
        yield bytes(buf)
    yield tail


def _renumbered(elements: list[Any]) -> Iterator[bytes]:
    """`elements` encoded again and again, ids shifted by a large step per repetition."""
    step = 10_000_000
    for rep in itertools.count():
        for e in elements:
            if rep and isinstance(e, dict):
                e = {k: v + rep * step if k in _DISTINCT_KEYS and isinstance(v, int)
                     and not isinstance(v, bool) else v for k, v in e.items()}
            yield json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()


def _split_for_repeat(payload: Any) -> tuple[bytes, list[Any], bytes]:
    if isinstance(payload, list):
        return b"[", payload, b"]"
    if isinstance(payload, dict):
        for key in _LIST_KEYS:
            if isinstance(payload.get(key), list):
                rest = {k: v for k, v in payload.items() if k != key}
                prefix = json.dumps(rest, separators=(",", ":"), ensure_ascii=False)
                prefix = prefix[:-1] + ("," if rest else "")
                return (prefix + json.dumps(key) + ":[").encode(), payload[key], b"]}"
        return b'{"original":' + json.dumps(payload).encode() + b',"padding":[', [], b"]}"
    return b"[", [], b"]"
