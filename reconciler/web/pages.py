"""The household's status page: the request list, one request's page, the posters, and a
stream of events that keeps an open page current (`live`).

Every read opens its own read-only store connection in a worker thread (Starlette runs sync
endpoints in its thread pool), so the daemon's event loop never waits on SQLite here. The list
reads every request in brief (a few columns) to group, count and search them, and the full
rows of the few on screen only: its cost follows the screen, not the database (see
docs/status-page.md for the measured times). Each page answers with its own server time
(`Server-Timing: app;dur=...`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from reconciler.artwork.cache import CONTENT_TYPES, ArtworkCache, Cached, artwork_cache, key_of
from reconciler.config import Config
from reconciler.models import MediaType
from reconciler.playback import play_url
from reconciler.registry import short_name
from reconciler.states import STATES, RequestState
from reconciler.store import EpisodeRow, RequestRow, Store
from reconciler.store.meta import SERVER_ID
from reconciler.times import iso, zone
from reconciler.web import listing
from reconciler.web import present as p
from reconciler.web.freshness import Freshness, freshness
from reconciler.web.live import KEEPALIVE_SECONDS, LIVE_HEADER, Live, card_version, have_from
from reconciler.web.timeline import moves
from reconciler.words import PageTimes

NO_STORE = {"Cache-Control": "no-store"}
_ID_MAX = 18


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
    env.filters["iso"] = _iso
    env.globals["MediaType"] = MediaType
    env.globals["GROUP_TITLES"] = listing.TITLES
    return Jinja2Templates(env=env)


@dataclass
class Frame:
    """What every page shows around its content: the time, the services' freshness."""

    times: PageTimes
    fresh: list[Freshness]
    marker: str
    keepalive: float

    @property
    def behind(self) -> list[Freshness]:
        return [f for f in self.fresh if not f.ok]

    def context(self) -> dict[str, Any]:
        return {"t": self.times, "now": self.times.now, "fresh": self.fresh,
                "behind": self.behind, "marker": self.marker, "keepalive": self.keepalive}


@dataclass
class ListData:
    frame: Frame
    screen: listing.Screen
    views: dict[int, p.RequestView] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    requesters: list[str] = field(default_factory=list)
    total: int = 0


class StatusPages:
    """The page routes. `config` gives the current configuration, `open_store` a read-only
    store (or None when there is no database yet); `stopping` is set when the server shuts
    down, ending every stream."""

    def __init__(self, config: Callable[[], Config], open_store: Callable[[], Store | None],
                 clock: Callable[[], datetime], stopping: threading.Event,
                 events_interval: float = 2.0, *,
                 keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.config = config
        self.open_store = open_store
        self.clock = clock
        self.templates = make_templates()
        self._marker: tuple[tuple[int, int], str] | None = None
        self._marker_lock = threading.Lock()
        self.live = Live(self.marker, self.alive, stopping, events_interval, keepalive)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, name="index"),
            Route("/requests/{rid}", self.request_page, name="request"),
            Route("/events", self.live.events, name="events"),
            Route("/artwork/{name}", self.artwork, name="artwork"),
        ]

    # ------------------------------------------------------------ reads (worker threads)

    def times(self) -> PageTimes:
        http = self.config().model.http
        return PageTimes(zone(http.timezone if http else None), self.clock())

    def _requests_marker(self, store: Store) -> str:
        """The store's change marker, computed again only after a cycle committed (or the
        timeline grew): it reads every request, and every open page asks for it."""
        mark = store.pages.cycle_mark()
        with self._marker_lock:
            if self._marker is not None and self._marker[0] == mark:
                return self._marker[1]
        marker = store.pages.change_marker()
        with self._marker_lock:
            self._marker = (mark, marker)
        return marker

    def _frame(self, store: Store | None, times: PageTimes) -> Frame:
        fresh = freshness(self.config(), store, times.now)
        marker = self._requests_marker(store) if store is not None else ""
        behind = ",".join(f.name for f in fresh if not f.ok)
        if behind and marker:  # a service falling behind or catching up moves it too
            marker += "-" + hashlib.blake2b(behind.encode(), digest_size=4).hexdigest()
        return Frame(times, fresh, marker, self.live.keepalive)

    def marker(self) -> str | None:
        """What the open pages compare: the requests' marker, and which services are
        behind."""
        store = self.open_store()
        if store is None:
            return None
        try:
            return self._frame(store, self.times()).marker
        finally:
            store.close()

    def alive(self) -> dict[str, Any]:
        """The keep-alive's news: the server's time and each service's last answer, in the
        page's zone and words (the script never words a time itself)."""
        store = self.open_store()
        times = self.times()
        try:
            fresh = freshness(self.config(), store, times.now)
        finally:
            if store is not None:
                store.close()
        return {"now": times.clock(times.now),
                "services": {f.name: times.moment(f.last_success) if f.last_success else "never"
                             for f in fresh}}

    def _views(self, store: Store, ids: list[int], times: PageTimes) -> dict[int, p.RequestView]:
        """The full views of `ids`: their rows, episodes, posters and Play links."""
        config = self.config()
        rows = store.pages.rows(ids)
        episodes = store.pages.episodes_of([i for i, r in rows.items()
                                            if r.media_type is MediaType.TV])
        kind = config.media_server_kind
        public_url = config.media_server.public_url
        plays = store.pages.play_items(r for r in rows.values() if STATES[r.state].playable) \
            if public_url else {}
        server_id = store.meta.get(SERVER_ID) if public_url else None
        posters = self.cache().index()
        look = _Look(config.several_servers(), short_name(kind))
        return {i: _view(rows[i], times, episodes.get(i, []), posters, look,
                         play_url(kind, public_url, plays.get(i), server_id))
                for i in ids if i in rows}

    def cache(self) -> ArtworkCache:
        return artwork_cache(self.config())

    def _read_list(self, state: str, user: str, query: str, page: int) -> ListData:
        times = self.times()
        store = self.open_store()
        if store is None:
            return ListData(self._frame(None, times), listing.screen([]))
        try:
            entries = listing.entries(store.pages.list_rows())
            screen = listing.screen(entries, state=state, user=user, query=query, page=page)
            views = self._views(store, screen.ids, times)
            frame = self._frame(store, times)
        finally:
            store.close()
        requesters = sorted({e.requested_by for e in entries if e.requested_by},
                            key=str.casefold)
        return ListData(frame, screen, views, listing.counts(entries), requesters, len(entries))

    def _read_one(self, request_id: int) -> tuple[p.RequestView, Frame, Any, RequestRow] | None:
        times = self.times()
        store = self.open_store()
        if store is None:
            return None
        try:
            row = store.request(request_id)
            if row is None:
                return None
            view = self._views(store, [request_id], times)[request_id]
            timeline = moves(store.timeline(row.id), row.media_type,
                             short_name(self.config().media_server_kind))
            frame = self._frame(store, times)
        finally:
            store.close()
        return view, frame, timeline, row

    # ------------------------------------------------------------ pages

    def index(self, request: Request) -> Response:
        started = time.perf_counter()
        params = request.query_params
        state = params.get("state", "").strip()[:40]
        user = params.get("user", "").strip()[:200]
        query = params.get("q", "").strip()[:200]
        page = int(params["page"]) if params.get("page", "").isdigit() \
            and len(params["page"]) < 6 else 1
        data = self._read_list(state, user, query, page)
        counts = data.counts
        states = [(s.value, p.STATE_NAMES[s], counts.get(s.value, 0)) for s in RequestState
                  if counts.get(s.value) or s.value == state]
        requesters = list(data.requesters)
        if user and user not in requesters:
            requesters.append(user)
        have = have_from(request.headers) if LIVE_HEADER in request.headers else {}
        cards = {i: _card(self.templates, v, data.frame.times, have)
                 for i, v in data.views.items()}
        context: dict[str, Any] = {
            **data.frame.context(), "screen": data.screen, "views": data.views,
            "cards": cards, "total": data.total, "counts": counts, "states": states,
            "requesters": requesters, "state": state, "user": user, "query": query,
            "filtered": bool(state or user or query),
            "pager": _pager(request, data.screen),
        }
        if LIVE_HEADER in request.headers:
            return self._live_json("_list_live.html", context, data.frame, started)
        return self._page(request, "index.html", context, started)

    def request_page(self, request: Request) -> Response:
        started = time.perf_counter()
        raw = request.path_params["rid"]
        found = self._read_one(int(raw)) if raw.isdigit() and len(raw) <= _ID_MAX else None
        if found is None:
            return self.not_found(request, f"There is no request {raw[:40]} here.")
        view, frame, timeline, row = found
        context: dict[str, Any] = {
            **frame.context(), "view": view, "row": row,
            "timeline": [m for m in timeline if m.changes],
            "folded": [m for m in timeline if not m.changes], "technical": timeline,
            "episodes": view.episodes, "ep_status": p.episode_status,
        }
        if LIVE_HEADER in request.headers:
            return self._live_json("_request_live.html", context, frame, started)
        return self._page(request, "request.html", context, started)

    def artwork(self, request: Request) -> Response:
        """A cached poster, from this origin (the CSP's `img-src 'self'`)."""
        name = request.path_params["name"]
        path = self.cache().path(name)
        if path is None:
            return self.not_found(request, "There is no such picture here.")
        return FileResponse(path, media_type=CONTENT_TYPES[path.suffix.lstrip(".")],
                            headers={"Cache-Control": "private, max-age=604800"})

    def not_found(self, request: Request, message: str) -> Response:
        frame = self._frame(None, self.times())
        return self.templates.TemplateResponse(
            request, "not_found.html", {**frame.context(), "message": message,
                                        "fresh": [], "behind": []},
            status_code=404, headers=NO_STORE)

    def _page(self, request: Request, template: str, context: dict[str, Any],
              started: float) -> Response:
        response = self.templates.TemplateResponse(request, template, context,
                                                   headers=NO_STORE)
        response.headers["Server-Timing"] = _timing(started)
        return response

    def _live_json(self, template: str, context: dict[str, Any], frame: Frame,
                   started: float) -> Response:
        """The live part of a page for the script: its markup, with the cards the script
        already shows unchanged left as placeholders (`data-keep`)."""
        html = self.templates.get_template(template).render(context)
        return JSONResponse({"marker": frame.marker, "now": frame.times.clock(frame.times.now),
                             "html": html},
                            headers={**NO_STORE, "Server-Timing": _timing(started),
                                     "Vary": LIVE_HEADER})


def _timing(started: float) -> str:
    return f"app;dur={(time.perf_counter() - started) * 1000:.1f}"


@dataclass(frozen=True)
class _Look:
    """What every card of one page shares: whether it names its Radarr/Sonarr server (several
    of a kind are configured), and the media server's name ("Waiting for Plex")."""

    show_server: bool
    media_server: str


def _view(row: RequestRow, times: PageTimes, episodes: list[EpisodeRow],
          posters: dict[str, Cached], look: _Look, play: str | None) -> p.RequestView:
    cached = posters.get(key_of(row.media_type, row.tmdb_id) or "")
    return p.present(row, times.now, times=times, episodes=episodes,
                     show_server=look.show_server, poster=cached.url if cached else None,
                     play=play, media_server=look.media_server)


def _card(templates: Jinja2Templates, view: p.RequestView, times: PageTimes,
          have: dict[int, str]) -> Markup:
    """One card's markup, with its version (`data-v`); a placeholder when the script already
    shows this version."""
    html = templates.env.get_template("_card.html").module.card(view, times)  # type: ignore[attr-defined]
    version = card_version(str(html))
    if have.get(view.id) == version:
        return Markup(f'<li data-request-id="{view.id}" data-keep></li>')
    return Markup(str(html).replace("<li ", f'<li data-v="{version}" ', 1))


def _pager(request: Request, screen: listing.Screen) -> dict[str, str]:
    """Links to the previous and next page of a filtered list."""
    def link(page: int) -> str:
        return "?" + urlencode({**request.query_params, "page": str(page)})

    return {"previous": link(screen.page - 1) if screen.page > 1 else "",
            "next": link(screen.page + 1) if screen.page < screen.pages else ""}
