"""The household's status page: the request list, one request's timeline, and a stream of
"changed" events that lets an open page refresh itself.

Every read opens its own read-only store connection in a worker thread (Starlette runs sync
endpoints in its thread pool), so the daemon's event loop never waits on SQLite here.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from reconciler import words
from reconciler.models import MediaType
from reconciler.states import RequestState, Tone
from reconciler.store import Store
from reconciler.times import iso
from reconciler.web import present as p

_ID = re.compile(r"^\d{1,18}$")
NO_STORE = {"Cache-Control": "no-store"}
# Bounds of the event stream: each stream ends after this long (the browser reconnects on
# its own, sending the last marker it saw), and at most this many are open at once.
STREAM_SECONDS = 300.0
MAX_STREAMS = 32
KEEPALIVE_SECONDS = 15.0


def _when(value: datetime | None) -> str:
    """"12 Dec, 14:05" in the server's time zone."""
    return "" if value is None else words.date_time(value)


def _iso(value: datetime | date | None) -> str:
    """A `<time datetime>` attribute: the store's form of a time, a day as "2026-12-04"."""
    if isinstance(value, datetime):
        return iso(value) or ""
    return "" if value is None else value.isoformat()


def make_templates() -> Jinja2Templates:
    """Templates from the package, autoescaped (a title holding markup is shown as text)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("reconciler.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["iso"] = _iso
    env.filters["short_date"] = words.short_date
    env.filters["soon"] = words.soon
    env.globals["MediaType"] = MediaType
    return Jinja2Templates(env=env)


@dataclass(frozen=True)
class TimelineView:
    at: datetime | None
    from_name: str
    to_name: str
    to_state: str
    via: str
    detail: str


@dataclass(frozen=True)
class EpisodeView:
    code: str
    state: str
    state_name: str
    air_date: datetime | None
    via: str


def _state_name(value: str | None) -> str:
    if not value:
        return "—"
    try:
        return p.STATE_NAMES[RequestState(value)]
    except ValueError:
        return value


class StatusPages:
    """The page routes. `open_store` gives a read-only store (or None when there is no
    database yet); `stopping` is set when the server shuts down, ending every stream;
    `show_server`: each request names its server (several servers of a kind configured);
    `media_server`: the media server's name ("Plex"), for "Waiting for Plex"."""

    def __init__(self, open_store: Callable[[], Store | None],
                 clock: Callable[[], datetime], stopping: threading.Event,
                 events_interval: float = 2.0, *,
                 show_server: Callable[[], bool] = lambda: False,
                 media_server: Callable[[], str] = lambda: "Jellyfin") -> None:
        self.open_store = open_store
        self.show_server = show_server
        self.media_server = media_server
        self.clock = clock
        self.stopping = stopping
        self.events_interval = events_interval
        self.templates = make_templates()
        self.streams = 0

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, name="index"),
            Route("/requests/{rid}", self.request_page, name="request"),
            Route("/events", self.events, name="events"),
        ]

    # ------------------------------------------------------------ reads (worker threads)

    def _read_list(self) -> tuple[list[p.RequestView], str]:
        store = self.open_store()
        if store is None:
            return [], ""
        try:
            now = self.clock()
            rows = store.requests()
            next_air = store.pages.next_air_dates(now)
            marker = store.pages.change_marker()
        finally:
            store.close()
        show_server, server = self.show_server(), self.media_server()
        views = [p.present(r, now, next_air.get(r.id), show_server=show_server,
                           media_server=server) for r in rows]
        return p.newest_first(views), marker

    def marker(self) -> str | None:
        store = self.open_store()
        if store is None:
            return None
        try:
            return store.pages.change_marker()
        finally:
            store.close()

    # ------------------------------------------------------------ pages

    def index(self, request: Request) -> Response:
        views, marker = self._read_list()
        params = request.query_params
        state = params.get("state", "").strip()
        user = params.get("user", "").strip()
        query = params.get("q", "").strip()[:200]
        shown = p.select(views, state=state, user=user, query=query)
        counts = Counter(v.state for v in views)
        states = [(s.value, p.STATE_NAMES[s], counts[s.value]) for s in RequestState
                  if counts[s.value] or s.value == state]
        requesters = sorted({v.requested_by for v in views if v.requested_by},
                            key=str.casefold)
        if user and user not in requesters:
            requesters.append(user)
        summary = {
            "ready": counts[RequestState.AVAILABLE],
            "partly": counts[RequestState.PARTIALLY_AVAILABLE],
            "moving": sum(1 for v in views if v.tone in (Tone.ACTIVE, Tone.WAITING)
                          and not v.stuck),
            "attention": sum(1 for v in views if v.stuck or v.state == RequestState.FAILED),
        }
        context: dict[str, Any] = {
            "views": shown, "total": len(views), "states": states, "requesters": requesters,
            "state": state, "user": user, "query": query, "summary": summary,
            "stuck_count": sum(1 for v in views if v.stuck), "marker": marker,
            "now": self.clock(), "filtered": bool(state or user or query),
        }
        return self.templates.TemplateResponse(request, "index.html", context,
                                               headers=NO_STORE)

    def request_page(self, request: Request) -> Response:
        raw = request.path_params["rid"]
        found = self._read_one(int(raw)) if _ID.match(raw) else None
        if found is None:
            return self.not_found(request, f"There is no request {raw[:40]} here.")
        view, timeline, episodes, marker = found
        context: dict[str, Any] = {"view": view, "timeline": timeline, "episodes": episodes,
                                   "marker": marker, "now": self.clock()}
        return self.templates.TemplateResponse(request, "request.html", context,
                                               headers=NO_STORE)

    def _read_one(self, request_id: int) -> tuple[p.RequestView, list[TimelineView],
                                                  list[EpisodeView], str] | None:
        store = self.open_store()
        if store is None:
            return None
        try:
            row = store.request(request_id)
            if row is None:
                return None
            now = self.clock()
            next_air = store.pages.next_air_dates(now).get(row.id)
            entries = store.timeline(row.id)
            episodes = store.episodes(row.id) if row.media_type is MediaType.TV else []
            marker = store.pages.change_marker()
        finally:
            store.close()
        timeline = [TimelineView(t.at, _state_name(t.from_state),
                                 _state_name(t.to_state), t.to_state, t.via,
                                 p.redact(t.detail)) for t in reversed(entries)]
        episode_views = [EpisodeView(f"S{e.season:02d}E{e.episode:02d}", e.state,
                                     _state_name(e.state), e.air_date, e.via or "")
                         for e in episodes]
        view = p.present(row, now, next_air, show_server=self.show_server(),
                         media_server=self.media_server())
        return view, timeline, episode_views, marker

    def not_found(self, request: Request, message: str) -> Response:
        return self.templates.TemplateResponse(
            request, "not_found.html", {"message": message, "now": self.clock()},
            status_code=404, headers=NO_STORE)

    # ------------------------------------------------------------ live updates

    async def events(self, request: Request) -> Response:
        """Server-sent events: `changed` (its data the new marker) whenever what the page
        shows moves. A client passes the marker its page was rendered with (`?since=`, or
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
                if loop.time() - beat >= KEEPALIVE_SECONDS:
                    yield ": still here\n\n"
                    beat = loop.time()
                await self._pause(loop)
        finally:
            self.streams -= 1

    async def _pause(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait one interval, waking early when the server stops."""
        end = loop.time() + self.events_interval
        while not self.stopping.is_set() and loop.time() < end:
            await asyncio.sleep(min(0.1, max(end - loop.time(), 0.0)))
