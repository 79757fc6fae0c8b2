"""What keeps an open page current: a stream of server-sent events (`/events`), and the parts
of a page the script fetches when told something changed.

The stream sends `changed` (its id and data the new marker) when what the page shows moves,
a request or a service falling behind or catching up, and `alive` every `KEEPALIVE_SECONDS`
with the server's time and each service's last answer, worded in the page's zone. The script
counts a stream silent for longer than `SILENT_FACTOR` keep-alives as stopped, says so, and
reconnects by itself.

On `changed` the script asks the page again with the `X-Reconciler-Live` header, naming the
cards it shows and their versions (`X-Reconciler-Have: ID.VERSION,...`); the answer is the
page's live part as JSON, each card the script already shows unchanged left as an empty
placeholder (`data-keep`): only what changed is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

NO_STORE = {"Cache-Control": "no-store"}
LIVE_HEADER = "x-reconciler-live"
HAVE_HEADER = "x-reconciler-have"
# Bounds of the event stream: each stream ends after this long (the browser reconnects on
# its own, sending the last marker it saw), and at most this many are open at once.
STREAM_SECONDS = 300.0
MAX_STREAMS = 32
KEEPALIVE_SECONDS = 15.0
# The script counts a stream silent for this many keep-alives as stopped (15 s: 24 s; within
# the 30 s the page promises).
SILENT_FACTOR = 1.6
_MAX_HAVE = 400


def card_version(html: str) -> str:
    """A card's version: a short digest of its markup."""
    return hashlib.blake2b(html.encode(), digest_size=6).hexdigest()


def have_from(headers: Mapping[str, str]) -> dict[int, str]:
    """The cards the script shows: `X-Reconciler-Have: 12.ab34cd,13.98ef01` -> {id: version}."""
    out: dict[int, str] = {}
    for part in headers.get(HAVE_HEADER, "").split(",")[:_MAX_HAVE]:
        rid, _, version = part.strip().partition(".")
        if rid.isdigit() and len(rid) <= 18 and version.isalnum() and len(version) <= 16:
            out[int(rid)] = version
    return out


class Live:
    """The `/events` stream. `marker()` reads what the page shows (None without a database),
    `alive()` the keep-alive's news; both read the store, so they run in worker threads."""

    def __init__(self, marker: Callable[[], str | None], alive: Callable[[], dict[str, Any]],
                 stopping: threading.Event, interval: float = 2.0,
                 keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.marker = marker
        self.alive = alive
        self.stopping = stopping
        self.interval = interval
        self.keepalive = keepalive
        self.streams = 0

    async def events(self, request: Request) -> Response:
        """Server-sent events: `changed` whenever what the page shows moves, `alive` while
        nothing does. A client passes the marker its page was drawn with (`?since=`, or
        `Last-Event-ID` on reconnection), so a change in between is not missed."""
        headers = {**NO_STORE, "X-Accel-Buffering": "no"}
        if request.method == "HEAD":
            return Response(media_type="text/event-stream", headers=headers)
        if self.streams >= MAX_STREAMS:
            return JSONResponse({"error": "too many open event streams"}, status_code=503,
                                headers=NO_STORE)
        since = (request.headers.get("last-event-id")
                 or request.query_params.get("since", ""))[:64]
        return StreamingResponse(self._stream(since), media_type="text/event-stream",
                                 headers=headers)

    async def _stream(self, since: str) -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        self.streams += 1
        try:
            yield "retry: 3000\n\n"
            last, started = since, loop.time()
            beat = started
            while not self.stopping.is_set() and loop.time() - started < STREAM_SECONDS:
                marker = await run_in_threadpool(self.marker)
                if marker is not None and marker != last:
                    if last:
                        yield f"id: {marker}\nevent: changed\ndata: {marker}\n\n"
                        beat = loop.time()
                    last = marker
                if loop.time() - beat >= self.keepalive:
                    news = await run_in_threadpool(self.alive)
                    yield f"event: alive\ndata: {json.dumps(news)}\n\n"
                    beat = loop.time()
                await self._pause(loop)
        finally:
            self.streams -= 1

    async def _pause(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait one interval, waking early when the server stops."""
        end = loop.time() + self.interval
        while not self.stopping.is_set() and loop.time() < end:
            await asyncio.sleep(min(0.1, max(end - loop.time(), 0.0)))
