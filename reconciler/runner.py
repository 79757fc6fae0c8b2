"""One reconcile cycle: poll the services, store what changed, decide every request, act.

The cycle is the shell around the pure core: it owns the clients, the store and the clock. All
of a cycle's writes happen in one transaction, so a crash leaves the previous consistent state.
A service that fails to answer is recorded as failed and is *unknown* to the decision.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from reconciler import core
from reconciler.config import Config
from reconciler.core import Current, Decision, EpisodeEvidence, Evidence, MatchIds
from reconciler.logs import get_logger, scrub
from reconciler.models import (
    ACTIVE_STATES,
    HistoryEvent,
    HistoryFacts,
    JellyfinItem,
    QueueRecord,
    RadarrMovie,
    RequestState,
    SeerrRequest,
    ShokoFile,
    SonarrEpisode,
    SonarrSeries,
    parse_time,
)
from reconciler.services.arr import ArrClient
from reconciler.services.http import ServiceClient, ServiceError
from reconciler.services.jellyfin import JellyfinClient
from reconciler.services.jellyseerr import JellyseerrClient
from reconciler.services.radarr import RadarrClient
from reconciler.services.shoko import ShokoClient, path_tail
from reconciler.services.sonarr import SonarrClient
from reconciler.store import EpisodeRow, RequestRow, Store, from_iso, iso

log = get_logger("reconciler.cycle")
T = TypeVar("T")

WATERMARK_OVERLAP = timedelta(minutes=2)
# A series whose episode airs within this window (or aired since the last poll) is re-read every
# Sonarr poll: its history has no event for an episode airing or being rescheduled.
AIRING_WINDOW = timedelta(hours=2)
CLIENT_TYPES: dict[str, type[ServiceClient]] = {
    "jellyseerr": JellyseerrClient,
    "radarr": RadarrClient,
    "sonarr": SonarrClient,
    "shoko": ShokoClient,
    "jellyfin": JellyfinClient,
}
ORDER = ("jellyseerr", "radarr", "sonarr", "shoko", "jellyfin")
# How a request to scan Jellyfin is recorded in the timelines of the requests it was for.
NUDGE_VIA = "reconciler"
NUDGE_DETAIL = "asked Jellyfin to scan"
# A request counts as gone from Jellyseerr after this many complete listings without it.
ABSENT_CONFIRMATIONS = 2
INCREMENTAL_PAGE = 20
# How many look-ups (titles, histories, episodes) run at once against one service.
TITLE_CONCURRENCY = 4


def make_clients(config: Config, **kwargs: Any) -> dict[str, ServiceClient]:
    return {name: CLIENT_TYPES[name](svc, **kwargs) for name, svc in config.services.items()}


@dataclass
class PollOutcome:
    service: str
    ok: bool
    error: str | None = None
    calls: int = 0
    bytes: int = 0
    watermark: str | None = None
    full: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None


@dataclass
class CycleResult:
    polls: dict[str, PollOutcome]
    transitions: list[tuple[int, str | None, str, str]]
    rows_written: int
    nudges: list[str]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.polls.values())

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 3

    @property
    def failed(self) -> list[str]:
        return [s for s, p in self.polls.items() if not p.ok]


class Reconciler:
    """Holds the clients and the store; `cycle()` runs one poll-and-decide pass."""

    def __init__(
        self,
        config: Config,
        store: Store,
        clients: dict[str, ServiceClient] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clients = clients if clients is not None else make_clients(config)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.outages: dict[str, str] = {}
        self._seerr_cache: dict[str, tuple[Any, SeerrRequest, int]] = {}
        # Hooks run inside the cycle's transaction, so what they write commits with it.
        self.on_transition: list[Callable[[RequestRow, str | None], None]] = []
        self.after_reconcile: list[Callable[[datetime], None]] = []

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.clients.values()),
                             return_exceptions=True)

    # ------------------------------------------------------------ the cycle

    async def cycle(self, services: Iterable[str] | None = None) -> CycleResult:
        """Poll `services` (default: all configured), then reconcile every request."""
        wanted = [s for s in ORDER if s in self.clients and (services is None or s in services)]
        self.store.rows_written = 0
        polls: dict[str, PollOutcome] = {}
        with self.store.transaction():
            # One after another: each poll's writes sit in a savepoint of the cycle's
            # transaction (rolled back if the poll fails), and savepoints nest, they do not
            # interleave. Shoko goes after the *arr, whose imported paths it looks up.
            for name in wanted:
                polls[name] = await self._poll(name)
            for outcome in polls.values():
                self.store.record_poll(
                    outcome.service, outcome.started, outcome.finished or self.clock(),
                    outcome.ok, outcome.error, outcome.calls, outcome.bytes,
                    outcome.watermark, outcome.full,
                )
            unknown = self._unknown_services(polls)
            now = self.clock()
            transitions = self._reconcile(now, unknown)
            nudges = await self._nudge(now, unknown)
            for hook in self.after_reconcile:
                hook(now)
        self._log_outages(polls)
        return CycleResult(polls, transitions, self.store.rows_written, nudges)

    def _unknown_services(self, polls: dict[str, PollOutcome]) -> frozenset[str]:
        """Services whose latest poll (this cycle or, if not polled now, the last) failed."""
        unknown = set()
        for name in self.clients:
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

    async def _poll(self, name: str) -> PollOutcome:
        client = self.clients[name]
        client.stats.reset()
        outcome = PollOutcome(service=name, ok=True, started=self.clock())
        poller = getattr(self, f"_poll_{name}")
        self.store.conn.execute(f"SAVEPOINT poll_{name}")
        t0 = time.monotonic()
        try:
            await poller(client, outcome)
        except ServiceError as exc:
            self.store.conn.execute(f"ROLLBACK TO poll_{name}")
            outcome.ok = False
            outcome.error = scrub(exc.message)
        except sqlite3.Error:
            # The local database failed (e.g. the disk is full), not the service: the cycle
            # stops and rolls back whole. SQLite may already have dropped the savepoint.
            raise
        except Exception as exc:  # a bug or an unexpected payload must not stop other services
            self.store.conn.execute(f"ROLLBACK TO poll_{name}")
            outcome.ok = False
            outcome.error = scrub(f"unexpected error: {type(exc).__name__}: {exc}")
            log.exception("service.poll_crashed", service=name)
        self.store.conn.execute(f"RELEASE poll_{name}")
        outcome.calls = client.stats.calls
        outcome.bytes = client.stats.bytes
        outcome.finished = self.clock()
        log.debug("service.polled", service=name, ok=outcome.ok, calls=outcome.calls,
                  seconds=round(time.monotonic() - t0, 3), error=outcome.error)
        return outcome

    def _full_due(self, service: str) -> bool:
        last = self.store.last_poll(service, ok=True, full=True)
        if last is None:
            return True
        started = from_iso(last.started)
        interval = timedelta(seconds=self.config.model.reconciler.full_sync_interval)
        return started is None or self.clock() - started >= interval

    def _watermark(self, service: str) -> datetime | None:
        return from_iso(self.store.last_watermark(service))

    # ------------------------------------------------------------ Jellyseerr

    def _seerr_requests(self) -> dict[int, tuple[SeerrRequest, int]]:
        """Tracked requests as last seen: request id -> (request, complete listings without it)."""
        out = {}
        cache = self._seerr_cache
        for subject, stored in self.store.observations("jellyseerr", "request:").items():
            hit = cache.get(subject)
            if hit is None or hit[0] is not stored:  # the store hands out one object per text
                data = dict(stored)  # stored observations are shared and read-only
                absent = int(data.pop("absent", 0))
                data["seasons"] = tuple(data.get("seasons") or ())
                hit = cache[subject] = (stored, SeerrRequest(**data), absent)
            out[int(subject.split(":")[1])] = (hit[1], hit[2])
        return out

    async def _poll_jellyseerr(self, client: ServiceClient, outcome: PollOutcome) -> None:
        assert isinstance(client, JellyseerrClient)
        known = self._seerr_requests()
        watermark = self.store.last_watermark("jellyseerr")
        full = (watermark is None or self._full_due("jellyseerr")
                or any(0 < absent < ABSENT_CONFIRMATIONS for _, absent in known.values()))
        # Newest-modified first: an incremental poll usually needs only its first, short page.
        listing = await (client.list_requests(since=None) if full
                         else client.list_requests(since=watermark, page_size=INCREMENTAL_PAGE))
        if not full:
            new = {r.id for r in listing.requests} - known.keys()
            present = sum(1 for _, absent in known.values() if absent < ABSENT_CONFIRMATIONS)
            if listing.total != present + len(new):
                full = True  # something was removed: only a complete listing can tell what
                listing = await client.list_requests(since=None)
        # Absence counts only after a listing that reached the total it announced: an empty
        # page before that is a listing cut short, not a list of removals.
        outcome.full = full and listing.complete and len(listing.requests) >= listing.total
        now = self.clock()
        seen = set()
        for req in listing.requests:
            seen.add(req.id)
            self.store.put_observation("jellyseerr", f"request:{req.id}",
                                       {**asdict(req), "absent": 0}, now)
        await self._fetch_titles(client, listing.requests)
        if outcome.full:
            for rid, (req, absent) in known.items():
                if rid in seen or absent >= ABSENT_CONFIRMATIONS:
                    continue
                # The listing hides some requests (those whose media is blocklisted): only a
                # 404 for the id itself says the request is gone.
                if await client.request_exists(rid):
                    if absent:
                        self.store.put_observation("jellyseerr", f"request:{rid}",
                                                   {**asdict(req), "absent": 0}, now)
                    continue
                self.store.put_observation("jellyseerr", f"request:{rid}",
                                           {**asdict(req), "absent": absent + 1}, now)
        stamps = [r.updated_at for r in listing.requests if r.updated_at]
        outcome.watermark = max(stamps + ([watermark] if watermark else []), default=None)

    async def _fetch_titles(self, client: JellyseerrClient,
                            requests: Iterable[SeerrRequest]) -> None:
        """Display titles, read once per film or show (a few at a time) and kept."""
        missing = {(r.media_type, r.tmdb_id) for r in requests if r.tmdb_id is not None}
        missing = {m for m in missing
                   if self.store.observation("jellyseerr", f"title:{m[0]}:{m[1]}") is None}
        if not missing:
            return
        gate = asyncio.Semaphore(TITLE_CONCURRENCY)

        async def one(media_type: str, tmdb_id: int) -> tuple[str, int, str | None]:
            async with gate:
                try:
                    return media_type, tmdb_id, await client.title(media_type, tmdb_id)
                except ServiceError as exc:
                    log.info("jellyseerr.title_unavailable", tmdb_id=tmdb_id, error=exc.message)
                    return media_type, tmdb_id, None

        now = self.clock()
        for media_type, tmdb_id, title in await asyncio.gather(
                *(one(m, t) for m, t in sorted(missing) if t is not None)):
            if title:
                self.store.put_observation("jellyseerr", f"title:{media_type}:{tmdb_id}", title,
                                           now)

    def _tracked(self, media_type: str) -> list[SeerrRequest]:
        """Requests still worth polling the *arr for (not gone, declined or pending)."""
        out = []
        for req, absent in self._seerr_requests().values():
            if req.media_type != media_type or absent >= ABSENT_CONFIRMATIONS:
                continue
            if req.status in (1, 3):
                continue
            out.append(req)
        return out

    # ------------------------------------------------------------ Radarr

    async def _poll_radarr(self, client: ServiceClient, outcome: PollOutcome) -> None:
        assert isinstance(client, RadarrClient)
        now = self.clock()
        tracked = {r.tmdb_id for r in self._tracked("movie") if r.tmdb_id is not None}
        watermark = self._watermark("radarr")
        full = watermark is None or self._full_due("radarr")
        queue, server_date = await client.queue()
        events = await self._recent_history(client, watermark or server_date)
        known = self.store.observations("radarr", "movie:")
        movies: dict[int, RadarrMovie | None] = {}
        if full:
            library = {m.tmdb_id: m for m in await client.movies()}
            movies = {t: library.get(t) for t in tracked}
        else:
            for tmdb in tracked:
                if not known.get(f"movie:{tmdb}"):
                    movies[tmdb] = await client.movie_by_tmdb(tmdb)
        self._store_movies(movies, now)
        current = {d["id"]: t for t in tracked
                   if (d := self.store.observation("radarr", f"movie:{t}"))}
        self._store_queue("radarr", queue, lambda r: r.movie_id, set(current), now)
        changed = await self._store_history(
            "radarr", events, lambda e: e.movie_id, current, now,
            fetch=client.movie_history,
            needs_history=lambda mid: not (self.store.observation(
                "radarr", f"movie:{current[mid]}") or {}).get("has_file"),
        )
        # Something happened to these films (grab, import, failure, deletion, rename): read
        # them again. The others cannot have changed in a way that matters here.
        fetched = {m.id for m in movies.values() if m is not None}
        again = sorted(changed - fetched)
        refreshed = dict(zip([current[mid] for mid in again],
                             await _bounded([client.movie(mid) for mid in again]), strict=True))
        self._store_movies(refreshed, now)
        tag_ids = {str(t) for m in [*movies.values(), *refreshed.values()] if m for t in m.tags}
        known_tags = self.store.observation("radarr", "tags")
        if tag_ids and (full or known_tags is None or tag_ids - set(known_tags)):
            self.store.put_observation("radarr", "tags", await client.tags(), now)
        outcome.full = full
        outcome.watermark = iso(server_date) if server_date else iso(watermark)

    def _store_movies(self, movies: dict[int, RadarrMovie | None], now: datetime) -> None:
        for tmdb, movie in movies.items():
            self.store.put_observation("radarr", f"movie:{tmdb}", asdict(movie) if movie else {},
                                       now)

    async def _recent_history(self, client: ArrClient,
                              since: datetime | None) -> list[HistoryEvent]:
        """History since the last poll (on the server's clock), with an overlap; events seen
        before are recognised by id when folded in, so the overlap costs nothing."""
        if since is None:
            return []
        return await client.history_since(since - WATERMARK_OVERLAP)

    def _store_queue(self, service: str, queue: list[QueueRecord],
                     key: Callable[[QueueRecord], int | None], tracked: set[int],
                     now: datetime) -> None:
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in queue:
            k = key(record)
            if k is not None and k in tracked:
                grouped[k].append(asdict(record))
        for k, records in grouped.items():
            records.sort(key=lambda r: (r["download_id"], r.get("episode_id") or 0))
            self.store.put_observation(service, f"queue:{k}", records, now)
        stale = [s for s in self.store.observations(service, "queue:")
                 if int(s.split(":")[1]) not in grouped]
        self.store.drop_observations(service, stale)

    async def _store_history(
        self,
        service: str,
        events: list[HistoryEvent],
        key: Callable[[HistoryEvent], int | None],
        tracked: dict[int, Any],
        now: datetime,
        fetch: Callable[[int], Any],
        needs_history: Callable[[int], bool],
    ) -> set[int]:
        """Fold history events into per-subject facts; fetch the full history of new subjects.

        Returns the subjects whose facts changed: something happened to them since the last
        poll, so their film or episodes are worth reading again."""
        by_subject: dict[int, list[HistoryEvent]] = defaultdict(list)
        for event in events:
            k = key(event)
            if k is not None and k in tracked:
                by_subject[k].append(event)
        priors = {s: self.store.observation(service, f"history:{s}") for s in tracked}
        new = [s for s in tracked if priors[s] is None and needs_history(s)]
        for subject, past in zip(new, await _bounded([fetch(s) for s in new]), strict=True):
            by_subject[subject] = list(past) + by_subject.get(subject, [])
        changed = set()
        for subject in tracked:
            if subject not in by_subject:
                continue
            facts = _fold_history(priors[subject], by_subject[subject], service)
            if self.store.put_observation(service, f"history:{subject}", facts, now):
                changed.add(subject)
        return changed

    # ------------------------------------------------------------ Sonarr

    async def _poll_sonarr(self, client: ServiceClient, outcome: PollOutcome) -> None:
        assert isinstance(client, SonarrClient)
        now = self.clock()
        tracked = self._tracked("tv")
        watermark = self._watermark("sonarr")
        full = watermark is None or self._full_due("sonarr")
        queue, server_date = await client.queue()
        events = await self._recent_history(client, watermark or server_date)
        library: list[SonarrSeries] | None = await client.all_series() if full else None
        series_ids: dict[int, str] = {}
        for req in tracked:
            subject = _series_subject(req)
            if subject is None:
                continue
            prior = self.store.observation("sonarr", subject)
            series: SonarrSeries | None
            if library is not None:
                series = _find_series(library, req)
            elif prior:
                series = SonarrSeries(**{**prior, "monitored_seasons": tuple(
                    prior["monitored_seasons"])})
            elif req.tvdb_id is not None:
                series = await client.series_by_tvdb(req.tvdb_id)
                if series is None and req.tmdb_id is not None:
                    library = await client.all_series()
                    series = _find_series(library, req)
            else:
                library = await client.all_series()
                series = _find_series(library, req)
            self.store.put_observation("sonarr", subject, asdict(series) if series else {}, now)
            if series is not None:
                series_ids[series.id] = subject
        last = self.store.last_poll("sonarr", ok=True)
        since = from_iso(last.started) if last is not None else None
        fetched = set()
        for sid in series_ids:
            known = self.store.observation("sonarr", f"episodes:{sid}")
            if full or known is None or _airing(known, since, now):
                fetched.add(sid)
        await self._store_episodes(client, sorted(fetched), now)
        self._store_queue("sonarr", queue, lambda r: r.series_id, set(series_ids), now)
        changed = await self._store_history(
            "sonarr", events, lambda e: e.series_id, series_ids, now,
            fetch=client.series_history,
            needs_history=lambda sid: any(not e["has_file"] for e in (
                self.store.observation("sonarr", f"episodes:{sid}") or [])),
        )
        # Grabs, imports, failures and deletions: read those series and episodes again.
        again = sorted(changed - fetched)
        for sid, series in zip(again, await _bounded([client.series(sid) for sid in again]),
                               strict=True):
            self.store.put_observation("sonarr", series_ids[sid],
                                       asdict(series) if series else {}, now)
        await self._store_episodes(client, again, now)
        outcome.full = full
        outcome.watermark = iso(server_date) if server_date else iso(watermark)

    async def _store_episodes(self, client: SonarrClient, series_ids: list[int],
                              now: datetime) -> None:
        lists = await _bounded([client.episodes(sid) for sid in series_ids])
        for sid, episodes in zip(series_ids, lists, strict=True):
            self.store.put_observation("sonarr", f"episodes:{sid}",
                                       [asdict(e) for e in episodes], now)

    # ------------------------------------------------------------ Shoko

    async def _poll_shoko(self, client: ServiceClient, outcome: PollOutcome) -> None:
        assert isinstance(client, ShokoClient)
        now = self.clock()
        rows = {r.id: r for r in self.store.requests()}
        for req, absent in self._seerr_requests().values():
            row = rows.get(req.id)
            if absent >= ABSENT_CONFIRMATIONS:
                continue
            if row is not None and row.state in (RequestState.AVAILABLE, RequestState.DELETED,
                                                 RequestState.DECLINED):
                continue
            if req.media_type == "movie" and req.tmdb_id is not None:
                # Every film with a file Jellyfin does not list yet, judged on this cycle's
                # Radarr facts (not the last decision, which would make Shoko's answer, and the
                # state, lag a cycle behind): Shokofin may present a film not tagged anime.
                movie = self.store.observation("radarr", f"movie:{req.tmdb_id}") or {}
                if not movie.get("has_file"):
                    continue
                found = await self._shoko_movie_file(client, movie.get("file_path"), req.tmdb_id)
                self.store.put_observation("shoko", f"movie:{req.tmdb_id}",
                                           asdict(found) if found else {}, now)
            elif req.media_type == "tv" and row is not None:
                await self._poll_shoko_show(client, req, row, now)

    async def _shoko_movie_file(self, client: ShokoClient, path: str | None,
                                tmdb_id: int) -> ShokoFile | None:
        """The film's file in Shoko, found by path tail and by TMDB id; either way counts."""
        by_path = await client.files_by_path(path) if path else []
        by_id = await client.files_by_tmdb_movie(tmdb_id)
        if path:
            tail = path_tail(path, 1).lower()
            by_path = [f for f in by_path
                       if f.relative_path.replace("\\", "/").lower().endswith(tail)] or by_path
        candidates = by_path + [f for f in by_id if f.id not in {p.id for p in by_path}]
        return _best_file(candidates)

    async def _poll_shoko_show(self, client: ShokoClient, req: SeerrRequest, row: RequestRow,
                               now: datetime) -> None:
        subject = _series_subject(req)
        series = self.store.observation("sonarr", subject) if subject else None
        if not series or not (row.is_anime or series.get("series_type") == "anime"):
            return
        # The show's Shoko series (id -> AniDB ids), which Shokofin's Series items carry: those
        # Shoko links to the TMDB show, asked again while none is known (Shoko learns the link
        # only once it has matched files), plus those of every matched episode file.
        show_subject = f"show:{req.tmdb_id}"
        shows: dict[int, set[int]] = {
            int(s[0]): {int(a) for a in s[1]}
            for s in self.store.observation("shoko", show_subject) or []}
        if req.tmdb_id is not None and not shows:
            for sid, anidb in await client.series_by_tmdb_show(req.tmdb_id):
                shows.setdefault(sid, set()).update(anidb)
        available = {e.sonarr_episode_id for e in self.store.episodes(req.id)
                     if e.state == RequestState.AVAILABLE}
        for ep in self.store.observation("sonarr", f"episodes:{series['id']}") or []:
            if not ep["has_file"] or not ep.get("file_path"):
                continue
            prior = _shoko_file(self.store.observation("shoko", f"episode:{ep['id']}") or {})
            found = prior
            # Matched already (Shoko does not unmatch files on its own), or playable anyway.
            if not (prior is not None and prior.matched) and ep["id"] not in available:
                found = _best_file(await client.files_by_path(ep["file_path"]))
                self.store.put_observation("shoko", f"episode:{ep['id']}",
                                           asdict(found) if found else {}, now)
            if found is not None and found.matched:
                _add_series(shows, found)
        self.store.put_observation(
            "shoko", show_subject,
            [[sid, sorted(anidb)] for sid, anidb in sorted(shows.items())], now)

    # ------------------------------------------------------------ Jellyfin

    async def _poll_jellyfin(self, client: ServiceClient, outcome: PollOutcome) -> None:
        assert isinstance(client, JellyfinClient)
        settings = self.config.jellyfin
        watermark = self._watermark("jellyfin")
        full = watermark is None or self._full_due("jellyfin")
        since = None if full or watermark is None else watermark - WATERMARK_OVERLAP
        seen: set[str] = set()
        total = 0
        server_date = None
        indexing: asyncio.Future[int] | None = None
        try:
            async for page in client.item_pages(min_date_last_saved=since,
                                                page_size=settings.page_size):
                server_date = server_date or page.server_date
                total = page.total
                if indexing is not None:
                    await indexing
                # Index this page in a thread while the next one is fetched. Only one of the two
                # ever touches the store at a time: this coroutine waits for the thread first.
                indexing = asyncio.ensure_future(
                    asyncio.to_thread(self.store.index_items, page.items))
                if full:
                    seen.update(i.id for i in page.items)
            if indexing is not None:
                await indexing
        except BaseException:
            if indexing is not None and not indexing.done():
                await asyncio.wait([indexing])  # never roll back under a running writer
            raise
        # A listing that ended before the total it announced proves nothing about absence.
        full = full and len(seen) >= total
        missing = self.store.all_item_ids() - seen if full else set()
        if full:
            # A complete listing is itself the check that every item still exists.
            self.store.set_meta("jellyfin:verified_at", iso(self.clock()) or "")
        # Items missing since an earlier cycle are checked by id first; an item counts as
        # absent at most once per cycle, so removal takes two consecutive cycles.
        checked = await self._verify_items(client)
        self.store.mark_items_absent(missing - checked)
        outcome.full = full
        outcome.watermark = iso(server_date) if server_date else iso(watermark)

    async def _verify_items(self, client: JellyfinClient) -> set[str]:
        """Check by id that items which made requests available still exist (and those missing
        from an earlier listing); returns the ids checked."""
        suspects = set(self.store.items_pending_absence())
        last = self.store.meta("jellyfin:verified_at")
        interval = timedelta(seconds=self.config.jellyfin.verify_interval)
        now = self.clock()
        if last is None or now - (from_iso(last) or now) >= interval:
            for row in self.store.requests():
                if row.jellyfin_item_id:
                    suspects.add(row.jellyfin_item_id)
                for ep in self.store.episodes(row.id) if row.media_type == "tv" else []:
                    if ep.jellyfin_item_id:
                        suspects.add(ep.jellyfin_item_id)
            if suspects:
                self.store.set_meta("jellyfin:verified_at", iso(now) or "")
        if not suspects:
            return set()
        ids = sorted(suspects)
        present = await client.items_by_ids(ids)
        self.store.index_items(present)
        self.store.mark_items_absent(set(ids) - {i.id for i in present})
        return suspects

    # ------------------------------------------------------------ deciding

    def _reconcile(self, now: datetime, unknown: frozenset[str]) -> list[
            tuple[int, str | None, str, str]]:
        transitions = []
        rows = {r.id: r for r in self.store.requests()}
        anime = self.config.model.anime
        radarr_tags = self.store.observation("radarr", "tags") or {}
        anime_tag_ids = {int(k) for k, v in radarr_tags.items()
                         if v.lower() in {t.lower() for t in anime.radarr_tags}}
        shoko_enabled = "shoko" in self.clients
        deadline = timedelta(seconds=self.config.model.shoko.unrecognised_after
                             if self.config.model.shoko else 1800)
        for req, absent in self._seerr_requests().values():
            before = rows.get(req.id)
            if before is not None and before.state is RequestState.DELETED and absent:
                continue
            evidence, ids = self._evidence(req, absent, unknown, anime_tag_ids, shoko_enabled)
            current = None
            if before is not None:
                current = Current(before.state, before.state_since, before.detail or "",
                                  before.phase or "", before.phase_since)
            decision = core.decide(evidence, current, now, unrecognised_after=deadline)
            row = self._apply(req, before, decision, evidence, ids, now)
            if decision.transition:
                from_state = before.state.value if before else None
                self.store.add_timeline(req.id, now, from_state, decision.state.value,
                                        decision.via, decision.detail)
                transitions.append((req.id, from_state, decision.state.value, decision.via))
                log.info("request.transitioned", request_id=req.id, title=row.title,
                         from_=from_state, to=decision.state.value, via=decision.via,
                         detail=decision.detail)
                for hook in self.on_transition:
                    hook(row, from_state)
        return transitions

    def _evidence(self, req: SeerrRequest, absent: int, unknown: frozenset[str],
                  anime_tag_ids: set[int], shoko_enabled: bool) -> tuple[Evidence, MatchIds]:
        store = self.store
        roots = [r.rstrip("/") + "/" for r in self.config.model.anime.root_folders]

        def under_root(path: str | None) -> bool:
            return path is not None and any((path.rstrip("/") + "/").startswith(r) for r in roots)

        deleted = absent >= ABSENT_CONFIRMATIONS
        if req.media_type == "movie":
            data = store.observation("radarr", f"movie:{req.tmdb_id}") or {}
            movie = RadarrMovie(**{**data, "tags": tuple(data["tags"])}) if data else None
            shoko_data = store.observation("shoko", f"movie:{req.tmdb_id}") or {}
            shoko = _shoko_file(shoko_data)
            is_anime = bool(movie and (
                anime_tag_ids & set(movie.tags) or under_root(movie.path)
                or under_root(movie.root_folder) or under_root(movie.file_path)
            )) or shoko is not None
            history = HistoryFacts(**(store.observation("radarr", f"history:{movie.id}") or {})) \
                if movie else HistoryFacts()
            queue = tuple(QueueRecord(**{**r, "messages": tuple(r["messages"])})
                          for r in (store.observation("radarr", f"queue:{movie.id}") or [])) \
                if movie else ()
            ids = core.film_match_ids(req.tmdb_id, shoko)
            candidates = store.items_by_provider(ids.pairs())
            match = core.match_item(candidates, ids, "Movie")
            return Evidence(
                request=req, seerr_deleted=deleted, is_anime=is_anime,
                shoko_enabled=shoko_enabled, movie=movie, movie_history=history, queue=queue,
                shoko=shoko, jellyfin=match, unknown=unknown,
            ), ids

        subject = _series_subject(req)
        sdata = store.observation("sonarr", subject) if subject else None
        series = SonarrSeries(**{**sdata, "monitored_seasons": tuple(
            sdata["monitored_seasons"])}) if sdata else None
        episodes: list[EpisodeEvidence] = []
        show_ids: list[list[Any]] = store.observation("shoko", f"show:{req.tmdb_id}") or []
        shoko_series = tuple(int(s[0]) for s in show_ids)
        anidb = tuple(int(a) for s in show_ids for a in s[1])
        is_anime = bool(series and (series.series_type == "anime" or under_root(series.path)))
        ids = MatchIds(tmdb=req.tmdb_id, tvdb=req.tvdb_id or (series.tvdb_id if series else None),
                       shoko_series=shoko_series, anidb=anidb)
        if series is not None:
            jf_episodes = [e for item in _series_items(store.items_by_provider(ids.pairs()), ids)
                           for e in store.episodes_of(item.id)]
            queue_by_ep: dict[int, list[QueueRecord]] = defaultdict(list)
            for r in store.observation("sonarr", f"queue:{series.id}") or []:
                record = QueueRecord(**{**r, "messages": tuple(r["messages"])})
                if record.episode_id is not None:
                    queue_by_ep[record.episode_id].append(record)
            ep_history = store.observation("sonarr", f"history:{series.id}") or {}
            for e in store.observation("sonarr", f"episodes:{series.id}") or []:
                ep = SonarrEpisode(**e)
                shoko = _shoko_file(store.observation("shoko", f"episode:{ep.id}") or {})
                if shoko is not None:
                    is_anime = True
                match = core.match_episode(jf_episodes, ep.season, ep.episode,
                                           shoko.episode_ids if shoko else ())
                episodes.append(EpisodeEvidence(
                    episode=ep,
                    history=HistoryFacts(**ep_history.get(str(ep.id), {})),
                    queue=tuple(queue_by_ep.get(ep.id, ())),
                    shoko=shoko,
                    jellyfin=match,
                ))
        return Evidence(
            request=req, seerr_deleted=deleted, is_anime=is_anime, shoko_enabled=shoko_enabled,
            series=series, episodes=tuple(episodes), unknown=unknown,
        ), ids

    def _apply(self, req: SeerrRequest, before: RequestRow | None, decision: Decision,
               evidence: Evidence, ids: MatchIds, now: datetime) -> RequestRow:
        title = self.store.observation("jellyseerr", f"title:{req.media_type}:{req.tmdb_id}")
        if before is None:
            row = RequestRow(
                id=req.id, media_type=req.media_type, title=None, tmdb_id=req.tmdb_id,
                tvdb_id=req.tvdb_id, is4k=req.is4k, is_anime=False, seerr_status=req.status,
                seasons=list(req.seasons), radarr_movie_id=None, sonarr_series_id=None,
                jellyfin_item_id=None, jellyfin_key=None, shoko_ids={},
                state=decision.state, state_since=now, via=decision.via, detail=decision.detail,
                progress=decision.progress, phase=decision.phase, phase_since=now,
                progress_since=now, stuck_reason=None, stuck_since=None,
                episodes_available=None, episodes_aired=None, absent_count=0,
                created_at=req.created_at, updated_at=req.updated_at,
            )
        else:
            row = RequestRow(**vars(before))
        row.title = title or row.title or (evidence.movie.title if evidence.movie else None) or (
            evidence.series.title if evidence.series else None)
        row.tmdb_id, row.tvdb_id, row.is4k = req.tmdb_id, req.tvdb_id, req.is4k
        row.seerr_status, row.seasons = req.status, list(req.seasons)
        row.updated_at = req.updated_at
        row.absent_count = 0 if decision.state is not RequestState.DELETED else row.absent_count
        if not decision.held:
            row.is_anime = evidence.is_anime
            row.radarr_movie_id = evidence.movie.id if evidence.movie else row.radarr_movie_id
            row.sonarr_series_id = evidence.series.id if evidence.series else row.sonarr_series_id
            files = [f for f in (evidence.shoko, *(e.shoko for e in evidence.episodes)) if f]
            # A show's match ids hold the AniDB anime ids of its Shoko series; a film's mix
            # anime and episode ids, so those come from its file.
            show_anidb = ids.anidb if req.media_type == "tv" else ()
            shoko_ids = {
                "file": sorted({f.id for f in files}),
                "episode": sorted({i for f in files for i in f.episode_ids}),
                "series": sorted({*ids.shoko_series, *(i for f in files for i in f.series_ids)}),
                "anidb": sorted({*show_anidb, *(i for f in files for i in f.anidb_series_ids)}),
                "anidb_episode": sorted({i for f in files for i in f.anidb_episode_ids}),
            }
            row.shoko_ids = {k: v for k, v in shoko_ids.items() if v}
            if decision.transition:
                row.state, row.state_since, row.via = decision.state, now, decision.via
            if decision.phase != row.phase:
                row.phase, row.phase_since = decision.phase, now
            if decision.progress != row.progress:
                row.progress_since = now
            row.detail, row.progress = decision.detail, decision.progress
            if decision.state is RequestState.AVAILABLE or decision.jellyfin_item_id:
                row.jellyfin_item_id = decision.jellyfin_item_id or row.jellyfin_item_id
                row.jellyfin_key = decision.jellyfin_key or row.jellyfin_key
            if req.media_type == "tv":
                row.episodes_available = decision.episodes_available
                row.episodes_aired = decision.episodes_aired
                self.store.save_episodes(req.id, [
                    EpisodeRow(e.season, e.episode, e.sonarr_episode_id, e.air_date,
                               e.state.value, e.via, e.jellyfin_item_id)
                    for e in decision.episodes
                ])
        row.stuck_reason = core.stuck_reason(
            row.state, row.phase or "", row.state_since, row.phase_since, row.progress_since,
            now, self._deadlines(),
        )
        if row.stuck_reason is None:
            row.stuck_since = None
        elif row.stuck_since is None:
            row.stuck_since = now
        self.store.save_request(row, before)
        return row

    def _deadlines(self) -> core.Deadlines:
        s = self.config.model.stuck
        return core.Deadlines(**{k: timedelta(seconds=v) for k, v in s.model_dump().items()})

    # ------------------------------------------------------------ nudging Jellyfin

    async def _nudge(self, now: datetime, unknown: frozenset[str]) -> list[str]:
        client = self.clients.get("jellyfin")
        if not isinstance(client, JellyfinClient) or "jellyfin" in unknown:
            return []
        settings = self.config.jellyfin
        grace = timedelta(seconds=settings.refresh_grace)
        due = []
        for row in self.store.requests(phase="waiting_for_jellyfin"):
            since = row.phase_since
            if since is not None and now - since >= grace:
                due.append(core.Waiting(row.id, self._waiting_path(row), since,
                                        nudged=self._nudged_since(row.id, since)))
        due = [w for w in due if not w.nudged]
        if not due:
            return []
        last = {k.split(":", 1)[1]: t for k, v in self.store.metas("refresh:").items()
                if (t := from_iso(v)) is not None}
        interval = timedelta(seconds=settings.refresh_min_interval)
        whole = last.get("*")
        if whole is not None and now - whole < interval:
            return []
        try:
            libraries = await client.libraries()
        except ServiceError as exc:
            log.warning("jellyfin.libraries_unavailable", error=exc.message)
            libraries = []
        done = []
        for nudge in core.plan_nudges(due, libraries, last, now, grace, interval):
            try:
                await client.refresh_library(nudge.library)
            except ServiceError as exc:
                log.warning("jellyfin.refresh_failed", library=nudge.label, error=exc.message)
                continue
            self.store.set_meta(f"refresh:{nudge.key}", iso(now) or "")
            detail = f"{NUDGE_DETAIL} {nudge.label}"
            for rid in nudge.request_ids:
                waiting_row = self.store.request(rid)
                if waiting_row is not None:
                    self.store.add_timeline(rid, now, waiting_row.state.value,
                                            waiting_row.state.value, NUDGE_VIA, detail)
            log.info("jellyfin.refresh_requested", library=nudge.label,
                     requests=list(nudge.request_ids))
            done.append(nudge.label)
        return done

    def _nudged_since(self, request_id: int, since: datetime) -> bool:
        """A scan was asked for this request since `since` (its timeline says so)."""
        for entry in reversed(self.store.timeline(request_id)):
            at = from_iso(entry.at)
            if at is None or at < since:
                return False
            if entry.via == NUDGE_VIA and entry.detail.startswith(NUDGE_DETAIL):
                return True
        return False

    def _waiting_path(self, row: RequestRow) -> str | None:
        if row.media_type == "movie":
            movie = self.store.observation("radarr", f"movie:{row.tmdb_id}") or {}
            return movie.get("file_path") or movie.get("path")
        if row.sonarr_series_id is None:
            return None
        # The file of an episode Jellyfin should list, else any file of the series.
        waiting = {e.sonarr_episode_id for e in self.store.episodes(row.id)
                   if e.state in (RequestState.IMPORTING, RequestState.ANIME_MATCHING)}
        files = [ep for ep in self.store.observation(
            "sonarr", f"episodes:{row.sonarr_series_id}") or [] if ep.get("file_path")]
        if files:
            return str(min(files, key=lambda ep: ep["id"] not in waiting)["file_path"])
        subject = f"series:tvdb:{row.tvdb_id}" if row.tvdb_id is not None \
            else f"series:tmdb:{row.tmdb_id}"
        series = self.store.observation("sonarr", subject) or {}
        return series.get("path")

    # ------------------------------------------------------------ for the daemon

    def active(self) -> bool:
        return any(r.state in ACTIVE_STATES for r in self.store.requests())


def _fold_history(prior: dict[str, Any] | None, events: list[HistoryEvent],
                  service: str) -> dict[str, Any]:
    """Per-subject facts from history events. Radarr: one subject per film; Sonarr: a dict of
    episode id -> facts, for one series. Events already folded in (by id) are skipped."""
    if service == "radarr":
        return asdict(_fold(HistoryFacts(**(prior or {})), events))
    per_episode = {k: HistoryFacts(**v) for k, v in (prior or {}).items()}
    by_episode: dict[str, list[HistoryEvent]] = defaultdict(list)
    for e in events:
        if e.episode_id is not None:
            by_episode[str(e.episode_id)].append(e)
    for key, evs in by_episode.items():
        per_episode[key] = _fold(per_episode.get(key, HistoryFacts()), evs)
    return {k: asdict(v) for k, v in sorted(per_episode.items())}


def _fold(facts: HistoryFacts, events: list[HistoryEvent]) -> HistoryFacts:
    for e in sorted(events, key=lambda e: e.id):
        if e.id <= facts.last_event_id:
            continue
        facts = replace(facts.merge_event(e.event_type, e.date, e.source_title, e.message),
                        last_event_id=e.id)
    return facts


def _airing(episodes: list[dict[str, Any]], since: datetime | None, now: datetime) -> bool:
    """An episode airs within `AIRING_WINDOW`, or aired since the last poll (`since`)."""
    start = (since - WATERMARK_OVERLAP) if since is not None else now
    for e in episodes:
        aired = parse_time(e.get("air_date_utc"))
        if aired is not None and start < aired <= now + AIRING_WINDOW:
            return True
    return False


def _series_items(candidates: list[JellyfinItem], ids: MatchIds) -> list[JellyfinItem]:
    """The Jellyfin Series items of a show: all those carrying its most trusted kind of id that
    any carries, under any of its values. One show may sit in two libraries, a replaced item
    stays in the index until its removal is confirmed, and Shokofin makes one Series per Shoko
    series (a season split over two anime is two); their episodes all count."""
    series = [i for i in candidates if i.type == "Series"]
    values: dict[str, set[str]] = defaultdict(set)
    for key, value in ids.pairs():
        values[key].add(value)
    for key, wanted in values.items():
        found = [i for i in series if (i.provider_id(key) or "").strip() in wanted]
        if found:
            return found
    return []


async def _bounded(calls: list[Awaitable[T]], limit: int = TITLE_CONCURRENCY) -> list[T]:
    """Await `calls` a few at a time, in order. The first failure fails them all (the poll)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    tasks = [asyncio.ensure_future(one(c)) for c in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:  # nothing may outlive the poll that started it
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _series_subject(req: SeerrRequest) -> str | None:
    if req.tvdb_id is not None:
        return f"series:tvdb:{req.tvdb_id}"
    if req.tmdb_id is not None:
        return f"series:tmdb:{req.tmdb_id}"
    return None


def _find_series(library: list[SonarrSeries], req: SeerrRequest) -> SonarrSeries | None:
    if req.tvdb_id is not None:
        for s in library:
            if s.tvdb_id == req.tvdb_id:
                return s
    if req.tmdb_id is not None:
        for s in library:
            if s.tmdb_id == req.tmdb_id:
                return s
    return None


def _shoko_file(data: dict[str, Any]) -> ShokoFile | None:
    if not data:
        return None
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return ShokoFile(**fields)


def _add_series(shows: dict[int, set[int]], file: ShokoFile) -> None:
    """Fold a matched file's Shoko series and their AniDB ids into `shows`."""
    paired = len(file.series_ids) == len(file.anidb_series_ids)
    for i, sid in enumerate(file.series_ids):
        anidb = (file.anidb_series_ids[i],) if paired else file.anidb_series_ids
        shows.setdefault(sid, set()).update(anidb)


def _best_file(files: list[ShokoFile]) -> ShokoFile | None:
    """A matched file first (it carries the ids), else any file Shoko has seen."""
    matched = [f for f in files if f.matched]
    return (matched or files)[0] if files else None
