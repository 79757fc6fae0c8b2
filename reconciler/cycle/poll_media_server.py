"""Poll the media server (Jellyfin, Emby or Plex): keep the local index of its items (ids,
types, ProviderIds, paths) current.

Strategy: every `poll_interval` of its section (`active_poll_interval` while something moves).
Jellyfin cannot filter items by ProviderId value, Plex cannot be asked for an item by an
external id, so the index is filled once by a paged listing of the whole library (`page_size`
items a page; Plex: each film and show section's films, shows and episodes), then kept current
with the items saved since the watermark (`MinDateLastSaved`; Plex `updatedAt>>=`; minus an
overlap). A complete listing runs every `full_sync_interval`; it is also the proof of absence:
an item missing from one is checked by id, and leaves the index after two cycles without it.
Every `verify_interval` the items that made requests available are checked by id, and so they
are in every incremental poll in which the server's count of items (one small call) differs
from the index's: items removed are noticed in the next cycle (and leave, as any absence, on the
second). Watermark: the `Date` header of the first page (the server's own clock); without one
(a proxy that strips it), the server's newest `DateCreated` (Plex: `addedAt`), read when the
first page comes back without the header, never later than reconciler's clock.

The index holds one server's items: which one (`meta.INDEX_OF`, its kind and URL) is checked
first, and another's are forgotten (with the items requests were matched to) before a complete
listing of this one; until that listing has succeeded the media server counts as unknown
(`holds_index`), so nothing moves on the other server's items.

What differs by server: Emby shows a placeholder only among an item's media sources, so they
are always asked for; Emby finds items by ProviderId, so films waiting for it are also looked up
so (`AnyProviderIdEquals`), whatever the watermark; Plex sections still on a legacy agent give
their items no external ids, and are recorded (`meta.UNMATCHABLE_LIBRARIES`) for the detail of
the requests whose files they hold. Emby's and Plex's own id (for their play links) is read
once.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from reconciler.config import Config
from reconciler.cycle.context import WATERMARK_OVERLAP, PollContext
from reconciler.models import MediaServer, MediaType, UnmatchableLibrary
from reconciler.registry import short_name
from reconciler.results import PollOutcome
from reconciler.services.emby import EmbyClient
from reconciler.services.media import MediaServerClient, needs_media_sources
from reconciler.services.plex import PlexClient
from reconciler.states import Phase
from reconciler.store import Store
from reconciler.store.meta import (
    COUNTS_EXAMINED,
    INDEX_OF,
    ITEMS_VERIFIED_AT,
    MEDIA_SERVER_FACTS,
    SERVER_ID,
    UNMATCHABLE_LIBRARIES,
    VIDEO_WIDTHS_READ,
)

# The servers whose web apps' item links name the server's own id (`reconciler.playback`).
LINKS_NAME_THE_SERVER = ("emby", "plex")


def index_identity(config: Config) -> str:
    """Which server the index is for: the configured media server's kind and URL."""
    kind = config.media_server_kind
    return f"{kind} {config.services[kind].url}"


def holds_index(store: Store, config: Config) -> bool:
    """The index holds the configured media server's items (a database from before Emby and
    Plex recorded none: its index is Jellyfin's)."""
    held = store.meta.get(INDEX_OF)
    if held is None:
        return config.media_server_kind == "jellyfin"
    return held == index_identity(config)


def media_server_of(config: Config) -> MediaServer:
    """The configured media server, as the decision names it."""
    kind = config.media_server_kind
    return MediaServer(kind, short_name(kind))


def unmatchable_libraries(store: Store) -> tuple[UnmatchableLibrary, ...]:
    """The libraries the last poll found whose items cannot be matched (Plex's legacy-agent
    sections)."""
    out = []
    for entry in store.meta.get(UNMATCHABLE_LIBRARIES) or []:
        locations = entry.get("locations")
        if isinstance(locations, list):
            out.append(UnmatchableLibrary(str(entry.get("name", "")), str(entry.get("agent", "")),
                                          tuple(str(loc) for loc in locations)))
    return tuple(out)


class MediaServerPoller:
    """The media server's poll; `service` is the name its poll records are kept under."""

    def __init__(self, client: MediaServerClient, name: str = "jellyfin") -> None:
        self.client = client
        self.service = name

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        settings = ctx.config.media_server
        store = ctx.store
        switched = not holds_index(store, ctx.config)
        if switched:
            store.items.clear()
            store.meta.unset(*MEDIA_SERVER_FACTS)
            store.meta.forget_refreshed()
        watermark = ctx.watermark(self.service)
        # With a 4K server, each item's versions' widths are read (which copy it plays); the
        # first poll that reads them lists everything again.
        four_k = any(s.is4k for s in ctx.config.services.values())
        widths = needs_media_sources(self.client, four_k)
        widths_read = store.meta.get(VIDEO_WIDTHS_READ) is True
        full = (switched or watermark is None or ctx.full_due(self.service)
                or (widths and not widths_read))
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
                    # No `Date` header (a proxy stripped it): the server's newest DateCreated,
                    # read now, at the start of the listing, is the watermark instead.
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
            store.meta.set(INDEX_OF, index_identity(ctx.config))
        # An incremental listing sees no removal: the server's count of items, against the
        # index's, tells whether any happened (one small call); if so the items that make
        # requests available are checked by id now, not at the next verification.
        # (Not after a listing cut short: that server's answers prove nothing this cycle.)
        disagree = incremental and complete and await self._counts_disagree(ctx)
        # Items missing since an earlier cycle are checked by id first; an item counts as
        # absent at most once per cycle, so removal takes two consecutive cycles.
        checked = await self._verify_items(ctx, widths, now_too=disagree)
        store.items.mark_absent(missing - checked)
        await self._server_specifics(ctx, widths)
        outcome.full = full
        outcome.watermark = _watermark(server_date, newest_created, watermark, ctx.clock())

    async def _server_specifics(self, ctx: PollContext, widths: bool) -> None:
        """What only one of the servers offers or needs (see the module docstring)."""
        store = ctx.store
        if isinstance(self.client, EmbyClient):
            pairs = [("Tmdb", str(row.tmdb_id))
                     for row in store.requests(phase=Phase.WAITING_FOR_JELLYFIN)
                     if row.media_type == MediaType.MOVIE and row.tmdb_id is not None]
            if pairs:
                store.items.index(await self.client.items_by_provider_ids(
                    sorted(set(pairs)), media_sources=widths))
        if isinstance(self.client, PlexClient):
            store.meta.set(UNMATCHABLE_LIBRARIES, [
                {"name": s.title, "agent": s.agent, "locations": list(s.locations)}
                for s in self.client.last_sections if s.legacy_agent and s.item_types])
        if self.client.name in LINKS_NAME_THE_SERVER and store.meta.get(SERVER_ID) is None:
            server_id = await self.client.server_id()
            if server_id:
                store.meta.set(SERVER_ID, server_id)

    async def _counts_disagree(self, ctx: PollContext) -> bool:
        """The server counts other than the index's items, and these two counts were not
        looked into yet (an item unrelated to any request keeps them apart until the next
        complete listing: the lookup is not repeated every cycle for it)."""
        store = ctx.store
        theirs, ours = await self.client.item_count(), store.items.present_count()
        if theirs == ours:
            return False
        counts = f"{theirs}/{ours}"
        if store.meta.get(COUNTS_EXAMINED) == counts:
            return False
        store.meta.set(COUNTS_EXAMINED, counts)
        return True

    async def _verify_items(self, ctx: PollContext, widths: bool, *,
                            now_too: bool = False) -> set[str]:
        """Check by id that items which made requests available still exist (and those missing
        from an earlier listing); returns the ids checked. They are checked every
        `verify_interval`, and now when `now_too`."""
        store = ctx.store
        suspects = set(store.items.pending_absence())
        last = store.meta.get(ITEMS_VERIFIED_AT)
        interval = timedelta(seconds=ctx.config.media_server.verify_interval)
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
        present = await self.client.items_by_ids(ids, media_sources=widths)
        store.items.index(present)
        store.items.mark_absent(set(ids) - {i.id for i in present})
        return suspects


def _watermark(server_date: datetime | None, newest_created: datetime | None,
               previous: datetime | None, now: datetime) -> datetime | None:
    """The next poll's watermark: the server's clock (the `Date` header) when it came back,
    else its newest DateCreated when the listing started (Jellyfin's BaseItemDto has no
    DateLastSaved), never later than our own clock nor earlier than the previous watermark.
    Every item saved after the listing started was saved after the newest one created before,
    so nothing is missed; the cost is that, while nothing new is added, each poll lists again
    what was saved since the last addition."""
    if server_date is not None:
        return server_date
    if newest_created is None:
        return previous
    candidate = min(newest_created, now)
    return max(candidate, previous) if previous is not None else candidate
