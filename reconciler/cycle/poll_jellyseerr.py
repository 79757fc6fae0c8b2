"""Poll Jellyseerr: the requests, and their display titles.

Strategy: every `[jellyseerr] poll_interval` (60 s by default, and no faster while downloads
move: each of its listings makes it query every *arr) the poll lists requests newest-modified
first. Incrementally (the usual case) only the first short page (`INCREMENTAL_PAGE`), stopping
at the watermark; when the total it announces differs from what is known plus what is new,
something was removed and the whole list is read again. A complete listing also runs every
`full_sync_interval`, and while some request's absence is unconfirmed. A request missing from a
complete listing is asked for by id (the listing hides some) and counts as absent only on a
404; after `ABSENT_CONFIRMATIONS` listings it is gone. Titles (and their years) are read once
per film or show. Watermark: the newest `updatedAt` seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from reconciler import core
from reconciler.cycle.context import CONCURRENCY, PollContext
from reconciler.logs import get_logger
from reconciler.models import SeerrRequest
from reconciler.results import PollOutcome
from reconciler.services.http import ServiceError
from reconciler.services.jellyseerr import JellyseerrClient, TitleInfo

log = get_logger("reconciler.cycle")

INCREMENTAL_PAGE = 20


class JellyseerrPoller:
    service = "jellyseerr"

    def __init__(self, client: JellyseerrClient) -> None:
        self.client = client

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        client = self.client
        known = ctx.seen.seerr_requests()
        watermark = ctx.store.last_watermark("jellyseerr")
        full = (watermark is None or ctx.full_due("jellyseerr")
                or any(core.absence_unconfirmed(s.absent) for s in known.values()))
        # Newest-modified first: an incremental poll usually needs only its first, short page.
        listing = await (client.list_requests(since=None) if full
                         else client.list_requests(since=watermark, page_size=INCREMENTAL_PAGE))
        if not full:
            new = {r.id for r in listing.requests} - known.keys()
            present = sum(1 for s in known.values() if not core.seerr_gone(s.absent))
            if listing.total != present + len(new):
                full = True  # something was removed: only a complete listing can tell what
                listing = await client.list_requests(since=None)
        # Absence counts only after a listing that reached the total it announced: an empty
        # page before that is a listing cut short, not a list of removals.
        outcome.full = full and listing.complete and len(listing.requests) >= listing.total
        now = ctx.clock()
        seen = set()
        for req in listing.requests:
            seen.add(req.id)
            ctx.seen.put_seerr_request(req, 0, now)
        await self._fetch_titles(ctx, listing.requests)
        if outcome.full:
            for rid, known_request in known.items():
                req, absent = known_request.request, known_request.absent
                if rid in seen or core.seerr_gone(absent):
                    continue
                # The listing hides some requests (those whose media is blocklisted): only a
                # 404 for the id itself says the request is gone.
                if await client.request_exists(rid):
                    if absent:
                        ctx.seen.put_seerr_request(req, 0, now)
                    continue
                ctx.seen.put_seerr_request(req, absent + 1, now)
        stamps = [r.updated_at for r in listing.requests if r.updated_at]
        outcome.watermark = max(stamps + ([watermark] if watermark else []), default=None)

    async def _fetch_titles(self, ctx: PollContext, requests: Iterable[SeerrRequest]) -> None:
        """Display titles, read once per film or show (a few at a time) and kept."""
        client = self.client
        missing = {(r.media_type, r.tmdb_id) for r in requests if r.tmdb_id is not None}
        missing = {m for m in missing if ctx.seen.title(m[0], m[1]) is None}
        if not missing:
            return
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(media_type: str, tmdb_id: int) -> tuple[str, int, TitleInfo | None]:
            async with gate:
                try:
                    return media_type, tmdb_id, await client.title_info(media_type, tmdb_id)
                except ServiceError as exc:
                    log.info("jellyseerr.title_unavailable", tmdb_id=tmdb_id, error=exc.message)
                    return media_type, tmdb_id, None

        now = ctx.clock()
        for media_type, tmdb_id, info in await asyncio.gather(
                *(one(m, t) for m, t in sorted(missing) if t is not None)):
            if info:
                ctx.seen.put_title(media_type, tmdb_id, info.title, now, year=info.year)
