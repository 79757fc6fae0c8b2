"""Fetching posters into the cache, after a cycle and never in its way.

Strategy: at most once a `ROUND_EVERY`, the requests are read in brief (one light query, under
the cycle lock for that moment only) and the posters the cache lacks are chosen, newest request
first, at most `PER_ROUND` of them (`wanted`, pure). They are then fetched without the lock,
`CONCURRENCY` at a time, each call bounded in time and size, and counted apart from the polls:

- from Jellyfin (`/Items/{id}/Images/Primary?maxWidth=...`) when it has the film or show; its
  poster replaces one taken from TMDB before;
- else from the TMDB poster path Jellyseerr names (`posterPath` of `/api/v1/movie|tv/{tmdb}`),
  through Jellyseerr's own image proxy (`/imageproxy/tmdb/t/p/w300_and_h450_face/...`).

A poster that cannot be had (no path, a 404, not a picture) is remembered for a day; a
service that fails ends the round (the next one tries again). Once every poster is cached a
round costs one query and no call at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.artwork.cache import JELLYFIN, TMDB, ArtworkCache, Cached, key_of
from reconciler.cycle.clients import Clients
from reconciler.errors import NotFound, UpstreamError
from reconciler.logs import get_logger
from reconciler.models import MediaType
from reconciler.store import Store
from reconciler.store.rows import RequestBrief

log = get_logger("reconciler.artwork")

ROUND_EVERY = 60.0
PER_ROUND = 12
CONCURRENCY = 2
ROUND_SECONDS = 60.0  # a round is cut short after this long (the rest waits for the next)
POSTER_WIDTH = 300


@dataclass(frozen=True)
class Wanted:
    """One poster to fetch: its cache key, and the Jellyfin item that has it (if any)."""

    key: str
    media_type: MediaType
    tmdb_id: int
    item_id: str | None


@dataclass
class RoundStats:
    """What one round did: calls and bytes per service, posters kept, given up, failed."""

    calls: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    saved: int = 0
    none: int = 0
    failed: int = 0


def wanted(briefs: Iterable[RequestBrief], items: Mapping[int, str],
           cached: Mapping[str, Cached], missing: set[str],
           limit: int = PER_ROUND) -> list[Wanted]:
    """The posters to fetch, newest request first, at most `limit`: those not cached (and not
    given up on lately), and those cached from TMDB whose film or show Jellyfin now has."""
    out: dict[str, Wanted] = {}
    newest = sorted(briefs, key=lambda b: (b.created_at.timestamp() if b.created_at else 0.0,
                                           b.id), reverse=True)
    for brief in newest:
        key = key_of(brief.media_type, brief.tmdb_id)
        if key is None or brief.tmdb_id is None or key in out:
            continue
        item = items.get(brief.id)
        have = cached.get(key)
        if have is not None and (have.source == JELLYFIN or item is None):
            continue
        if have is None and key in missing:
            continue
        out[key] = Wanted(key, brief.media_type, brief.tmdb_id, item)
        if len(out) >= limit:
            break
    return list(out.values())


class ArtworkFetcher:
    """Fills `cache` from the services of `clients()` (the daemon's, current after a reload)."""

    def __init__(self, cache: ArtworkCache, store: Store, clients: Callable[[], Clients],
                 clock: Callable[[], datetime], *, monotonic: Callable[[], float] = time.monotonic,
                 every: float = ROUND_EVERY) -> None:
        self.cache = cache
        self.store = store
        self.clients = clients
        self.clock = clock
        self.monotonic = monotonic
        self.every = every
        self._last: float | None = None

    def due(self) -> bool:
        return self.cache.enabled and (self._last is None
                                       or self.monotonic() - self._last >= self.every)

    def choose(self) -> list[Wanted]:
        """What this round fetches (reads the store: call it under the cycle lock)."""
        briefs = self.store.pages.briefs()
        cached = self.cache.index()
        lacking = [b for b in briefs if (k := key_of(b.media_type, b.tmdb_id)) is not None
                   and (k not in cached or cached[k].source == TMDB)]
        items = self.store.pages.play_items(lacking)
        return wanted(lacking, items, cached, self.cache.missing(self.clock()))

    async def round(self, chosen: list[Wanted], seconds: float = ROUND_SECONDS) -> RoundStats:
        """Fetch `chosen` (from `choose`), a few at a time, for at most `seconds`."""
        self._last = self.monotonic()
        stats = RoundStats()
        clients = self.clients()
        before = {name: (c.extra_stats.calls, c.extra_stats.bytes) for name, c in clients.items()}
        gate = asyncio.Semaphore(CONCURRENCY)
        broken: set[str] = set()

        async def one(w: Wanted) -> None:
            async with gate:
                if broken:
                    return
                outcome = await self._fetch(w, clients, broken)
                setattr(stats, outcome, getattr(stats, outcome) + 1)

        try:
            async with asyncio.timeout(seconds):
                await asyncio.gather(*(one(w) for w in chosen))
        except TimeoutError:
            log.info("artwork.round_cut_short", seconds=seconds)
        for name, client in clients.items():
            calls = client.extra_stats.calls - before.get(name, (0, 0))[0]
            if calls:
                stats.calls[name] = calls
                stats.bytes[name] = client.extra_stats.bytes - before.get(name, (0, 0))[1]
        if stats.saved or stats.failed or stats.none:
            log.info("artwork.fetched", saved=stats.saved, none=stats.none, failed=stats.failed,
                     calls=stats.calls, bytes=stats.bytes)
        return stats

    async def _fetch(self, w: Wanted, clients: Clients, broken: set[str]) -> str:
        """Fetch one poster: "saved", "none" (nothing to be had) or "failed"."""
        jellyfin, seerr = clients.jellyfin, clients.jellyseerr
        try:
            if w.item_id is not None and jellyfin is not None:
                try:
                    data = await jellyfin.primary_image(w.item_id, POSTER_WIDTH)
                    if self.cache.save(w.key, JELLYFIN, data) is not None:
                        return "saved"
                except NotFound:
                    pass
                if self.cache.find(w.key) is not None:
                    return "none"  # TMDB's stays
            if seerr is None:
                return "none"
            path = await seerr.poster_path(w.media_type, w.tmdb_id)
            data = await seerr.poster(path) if path is not None else b""
            if data and self.cache.save(w.key, TMDB, data) is not None:
                return "saved"
            self.cache.give_up(w.key)
            return "none"
        except NotFound:
            self.cache.give_up(w.key)
            return "none"
        except UpstreamError as exc:
            broken.add(exc.service)
            log.info("artwork.unavailable", service=exc.service, error=exc.message)
            return "failed"
        except OSError as exc:  # the disk: full, or the folder not writable
            broken.add("disk")
            log.warning("artwork.not_saved", error=str(exc))
            return "failed"
