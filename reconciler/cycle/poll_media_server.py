"""Poll Jellyfin: keep the local index of its items (ids, types, ProviderIds, paths) current.

Strategy: every `[jellyfin] poll_interval` (`active_poll_interval` while something moves).
Jellyfin cannot filter items by ProviderId value, so the index is filled once by a paged
listing of the whole library (`page_size` items a page), then kept current with the items saved
since the watermark (`MinDateLastSaved`, minus an overlap). A complete listing runs every
`full_sync_interval`; it is also the proof of absence: an item missing from one is checked by
id, and leaves the index after two cycles without it. Every `verify_interval` the items that
made requests available are checked by id, and so they are in every incremental poll in which
Jellyfin's count of items (one `Limit=1` call with the total record count) differs from the
index's: items removed are noticed in the next cycle (and leave, as any absence, on the second).
Watermark: the `Date` header of the first page (Jellyfin's own clock); without one (a proxy that
strips it), Jellyfin's newest `DateCreated` (one more call, `SortBy=DateCreated`, `Limit=1`, made
when the first page comes back without the header; never later than reconciler's clock):
BaseItemDto has no DateLastSaved to use instead.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from reconciler.cycle.context import WATERMARK_OVERLAP, PollContext
from reconciler.models import MediaType
from reconciler.results import PollOutcome
from reconciler.services.jellyfin import JellyfinClient
from reconciler.store.meta import COUNTS_EXAMINED, ITEMS_VERIFIED_AT, VIDEO_WIDTHS_READ


class JellyfinPoller:
    """Jellyfin's poll; `service` is the name its poll records are kept under."""

    def __init__(self, client: JellyfinClient, name: str = "jellyfin") -> None:
        self.client = client
        self.service = name

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        settings = ctx.config.jellyfin
        store = ctx.store
        watermark = ctx.watermark(self.service)
        # With a 4K server, each item's versions' widths are read (which copy it plays); the
        # first poll that reads them lists everything again.
        widths = any(s.is4k for s in ctx.config.services.values())
        widths_read = store.meta.get(VIDEO_WIDTHS_READ) is True
        full = watermark is None or ctx.full_due(self.service) or (widths and not widths_read)
        since = None if full or watermark is None else watermark - WATERMARK_OVERLAP
        seen: set[str] = set()
        total = listed = 0
        server_date = None
        newest_created: datetime | None = None
        watermark_asked = False
        indexing: asyncio.Future[int] | None = None
        try:
            async for page in self.client.item_pages(min_date_last_saved=since,
                                                     page_size=settings.page_size,
                                                     media_sources=widths):
                server_date = server_date or page.server_date
                total = page.total
                if server_date is None and listed == 0 and not watermark_asked:
                    # No `Date` header (a proxy stripped it): Jellyfin's newest DateCreated, read
                    # now, at the start of the listing, is the watermark instead.
                    watermark_asked = True
                    newest_created = await self.client.newest_created()
                listed += len(page.items)
                if indexing is not None:
                    await indexing
                # Index this page in a thread while the next one is fetched. Only one of the two
                # ever touches the store at a time: this coroutine waits for the thread first.
                indexing = asyncio.ensure_future(
                    asyncio.to_thread(store.items.index, page.items))
                if full:
                    seen.update(i.id for i in page.items)
            if indexing is not None:
                await indexing
        except BaseException:
            if indexing is not None and not indexing.done():
                await asyncio.wait([indexing])  # never roll back under a running writer
            raise
        # A listing that ended before the total it announced proves nothing about absence.
        complete = listed >= total
        incremental = not full
        full = full and len(seen) >= total
        missing = store.items.all_ids() - seen if full else set()
        if full:
            # A complete listing is itself the check that every item still exists.
            store.meta.set(ITEMS_VERIFIED_AT, ctx.clock())
            if widths != widths_read:
                store.meta.set(VIDEO_WIDTHS_READ, widths)
        # An incremental listing sees no removal: Jellyfin's count of items, against the index's,
        # tells whether any happened (one small call); if so the items that make requests
        # available are checked by id now, not at the next verification.
        # (Not after a listing cut short: that Jellyfin's answers prove nothing this cycle.)
        disagree = incremental and complete and await self._counts_disagree(ctx)
        # Items missing since an earlier cycle are checked by id first; an item counts as
        # absent at most once per cycle, so removal takes two consecutive cycles.
        checked = await self._verify_items(ctx, now_too=disagree)
        store.items.mark_absent(missing - checked)
        outcome.full = full
        outcome.watermark = _watermark(server_date, newest_created, watermark, ctx.clock())

    async def _counts_disagree(self, ctx: PollContext) -> bool:
        """Jellyfin counts other than the index's items, and these two counts were not looked
        into yet (an item unrelated to any request keeps them apart until the next complete
        listing: the lookup is not repeated every cycle for it)."""
        store = ctx.store
        theirs, ours = await self.client.item_count(), store.items.present_count()
        if theirs == ours:
            return False
        counts = f"{theirs}/{ours}"
        if store.meta.get(COUNTS_EXAMINED) == counts:
            return False
        store.meta.set(COUNTS_EXAMINED, counts)
        return True

    async def _verify_items(self, ctx: PollContext, *, now_too: bool = False) -> set[str]:
        """Check by id that items which made requests available still exist (and those missing
        from an earlier listing); returns the ids checked. They are checked every
        `verify_interval`, and now when `now_too`."""
        store = ctx.store
        suspects = set(store.items.pending_absence())
        last = store.meta.get(ITEMS_VERIFIED_AT)
        interval = timedelta(seconds=ctx.config.jellyfin.verify_interval)
        now = ctx.clock()
        if now_too or last is None or now - last >= interval:
            for row in store.requests():
                if row.jellyfin_item_id:
                    suspects.add(row.jellyfin_item_id)
                for ep in store.episodes(row.id) if row.media_type == MediaType.TV else []:
                    if ep.jellyfin_item_id:
                        suspects.add(ep.jellyfin_item_id)
            if suspects:
                store.meta.set(ITEMS_VERIFIED_AT, now)
        if not suspects:
            return set()
        ids = sorted(suspects)
        present = await self.client.items_by_ids(
            ids, media_sources=any(s.is4k for s in ctx.config.services.values()))
        store.items.index(present)
        store.items.mark_absent(set(ids) - {i.id for i in present})
        return suspects


def _watermark(server_date: datetime | None, newest_created: datetime | None,
               previous: datetime | None, now: datetime) -> datetime | None:
    """The next poll's watermark: Jellyfin's clock (the `Date` header) when it came back, else
    Jellyfin's newest DateCreated when the listing started (BaseItemDto has no DateLastSaved),
    never later than our own clock nor earlier than the previous watermark. Every item saved
    after the listing started was saved after the newest one created before, so nothing is
    missed; the cost is that, while nothing new is added, each poll lists again what was saved
    since the last addition."""
    if server_date is not None:
        return server_date
    if newest_created is None:
        return previous
    candidate = min(newest_created, now)
    return max(candidate, previous) if previous is not None else candidate
