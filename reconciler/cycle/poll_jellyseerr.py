"""Poll Jellyseerr: the requests, and their display titles.

Strategy, every `[jellyseerr] poll_interval` (60 s by default, and no faster while downloads
move: each of its listings makes it query every *arr). It never relies on `updatedAt`, which
Jellyseerr 2.6.0 to Seerr 3.1.x never change after creation:

- `client.poll_active()`: the first page of `filter=all&sort=added` (the newest requests: new
  ones appear within one poll) and every page of `filter=pending` and `filter=processing`, the
  requests that can still change on their own. Three calls while fewer than 100 are active.
- A stored request that was in those filters (`SeenRequest.active`) and left them (approved,
  declined, failed in Seerr, completed, blocklisted, deleted) is read once by id
  (`request_by_id`), unless the newest page already showed it; not again unless it comes back.
- The total of `filter=all` is checked against the requests known to be listed (not gone, not
  `hidden`: a blocklisted request is left out of `filter=all` but answers by id, so it is marked
  hidden and not counted). A difference (a removal, or more new requests than one page) makes
  the poll a complete listing (`filter=all&sort=added`, every page).
- A complete listing also runs every `full_sync_interval` and while some request's absence is
  unconfirmed. A request missing from it is read by id: a 200 marks it hidden, a 404 counts one
  absence; after `core.ABSENT_CONFIRMATIONS` it is gone.
- The version (`/api/v1/status`, which decides the query parameters sent) is read on the first
  poll, at each complete listing and after a listing was refused (`QueryRejected`, which fails
  the poll: Jellyseerr is unknown for that cycle).
- Titles are read once per film or show, a new one in the poll that first lists it; a failing
  one is asked again on its own growing pause, an outage of them all is logged once when it
  starts and once when it ends (`cycle.titles`); the poll itself does not fail for a title.
  Meanwhile a request shows its TMDB id as its title, and `show` says why. A title comes with
  its year (TMDB's release or first air date).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Set

from reconciler import core
from reconciler.cycle.context import PollContext, bounded
from reconciler.cycle.observations import (
    SeenRequest,
    TitleKey,
    changed_requests,
    title_key_of,
)
from reconciler.cycle.titles import TitleLookups
from reconciler.models import SeerrRequest, SeerrStatus
from reconciler.results import PollOutcome
from reconciler.services.jellyseerr import NEWEST_PAGE, JellyseerrClient

# Media statuses of an approved request `filter=processing` lists (not available, blocklisted
# or deleted).
_PROCESSING_MEDIA = (None, 1, 2, 3, 4)


def _was_active(seen: SeenRequest) -> bool:
    """In the pending/processing listings at the last poll. For a request stored before that
    was recorded (`active` None), what its status says."""
    if seen.active is not None:
        return seen.active
    req = seen.request
    return req.status == SeerrStatus.PENDING or (
        req.status == SeerrStatus.APPROVED and req.quality_media_status in _PROCESSING_MEDIA)


class _Summary:
    """What a poll needs to know of all the requests known, kept from poll to poll and brought
    up to date from the store's journal (what changed since), not worked out from every
    request each poll: which wait for an absence to be confirmed, which were in the active
    listings, which `filter=all` counts, and the films and shows of the live ones (their
    titles are looked up)."""

    def __init__(self) -> None:
        self.cursor: int | None = None
        self._clear()

    def _clear(self) -> None:
        self.unconfirmed: set[int] = set()
        self.was_active: set[int] = set()
        self.listed: set[int] = set()
        self.titles: dict[int, TitleKey] = {}
        self.title_count: Counter[TitleKey] = Counter()
        self.untitled: set[TitleKey] = set()  # of `title_count`, those with no title stored

    def refresh(self, ctx: PollContext, known: Mapping[int, SeenRequest]) -> None:
        journal = ctx.store.journal
        changed = changed_requests(journal, self.cursor)
        titles = None if self.cursor is None else \
            journal.since_in(self.cursor, "jellyseerr", "title:")
        self.cursor = journal.cursor()
        titled = ctx.seen.titled()
        if changed is None or titles is None:
            self._clear()
            for rid in known:
                self._one(rid, known.get(rid), titled)
            return
        for rid in changed:
            self._one(rid, known.get(rid), titled)
        for subject in titles:
            key = title_key_of(subject)
            if key is None:
                continue
            if key in titled:
                self.untitled.discard(key)
            elif key in self.title_count:
                self.untitled.add(key)

    def _one(self, rid: int, seen: SeenRequest | None, titled: Set[TitleKey]) -> None:
        for group in (self.unconfirmed, self.was_active, self.listed):
            group.discard(rid)
        old = self.titles.pop(rid, None)
        if old is not None:
            self.title_count[old] -= 1
            if not self.title_count[old]:
                del self.title_count[old]
                self.untitled.discard(old)
        if seen is None:
            return
        if core.absence_unconfirmed(seen.absent):
            self.unconfirmed.add(rid)
        if core.seerr_listed(seen.absent, seen.hidden):
            self.listed.add(rid)
        if core.seerr_gone(seen.absent):
            return
        if _was_active(seen):
            self.was_active.add(rid)
        req = seen.request
        if req.tmdb_id is not None:
            key = (req.media_type, req.tmdb_id)
            self.titles[rid] = key
            self.title_count[key] += 1
            if key not in titled:
                self.untitled.add(key)


class JellyseerrPoller:
    """Jellyseerr's requests; `service` is the name its poll records are kept under."""

    def __init__(self, client: JellyseerrClient, name: str = "jellyseerr",
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.service = name
        self.titles = TitleLookups(client, monotonic)
        self.summary = _Summary()

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        client = self.client
        known = ctx.seen.seerr_requests()
        summary = self.summary
        summary.refresh(ctx, known)
        full = ctx.full_due(self.service) or bool(summary.unconfirmed)
        if full:
            await client.server_info()  # an upgrade changes what the listings may send
        polled = await client.poll_active(newest=NEWEST_PAGE)
        active_ids = {r.id for r in polled.active.requests}
        listed: dict[int, SeerrRequest] = {r.id: r for r in polled.newest.requests}
        listed.update((r.id, r) for r in polled.active.requests)
        # What left the active filters and no listing showed: read once by id. (A cut-short
        # active listing proves nothing about who left it.)
        left = sorted(summary.was_active - listed.keys()) if polled.active.complete else []
        found = await self._by_id(left)
        if not full:
            # `filter=all`'s total counts what it lists: every request known, not gone, not
            # hidden, plus the new ones. A difference means a removal, or more new requests
            # than one page: only a complete listing tells which. Counted from the summary:
            # those it counts, corrected by what this poll listed or read by id.
            expected = len(listed.keys() - known.keys()) + len(summary.listed)
            expected += len((listed.keys() & known.keys()) - summary.listed)
            for rid, got in found.items():
                if rid not in listed:  # just read by id
                    expected += int(got is not None and not core.seerr_listing_hides(got)) \
                        - int(rid in summary.listed)
            full = polled.newest.total != expected
        unlisted: set[int] = set()
        if full:
            listing = await client.list_requests(filter="all", sort="added")
            listed.update((r.id, r) for r in listing.requests)
            # Absence counts only after a listing that reached the total it announced: an
            # empty page before that is a listing cut short, not a list of removals.
            if listing.complete and len(listing.requests) >= listing.total:
                outcome.full = True
                unlisted = {rid for rid, s in known.items() if rid not in listed
                            and not core.seerr_gone(s.absent)}
                found.update(await self._by_id(sorted(unlisted - found.keys())))
        now = ctx.clock()
        for rid, req in listed.items():
            was = known.get(rid)
            active = rid in active_ids or (
                not polled.active.complete and was is not None and _was_active(was))
            ctx.seen.put_seerr_request(req, 0, now, active=active, previous=was)
        for rid, got in found.items():
            if rid in listed:
                continue
            if got is not None:
                hidden = rid in unlisted or core.seerr_listing_hides(got)
                ctx.seen.put_seerr_request(got, 0, now, hidden=hidden)
            else:
                # 404: removed, once confirmed (the next poll lists completely to confirm it).
                before = known[rid]
                ctx.seen.put_seerr_request(before.request, before.absent + 1, now)
        summary.refresh(ctx, ctx.seen.seerr_requests())
        await self.titles.fetch(ctx, summary.untitled)
        # The newest `updatedAt` seen, as Seerr writes it (the form stored watermarks have).
        watermark = ctx.store.last_watermark(self.service)
        stamps = [r.updated_at for r in listed.values() if r.updated_at is not None]
        outcome.watermark = max(stamps + ([watermark] if watermark else []), default=None)

    async def _by_id(self, ids: list[int]) -> dict[int, SeerrRequest | None]:
        """Each request by id, a few at a time; None for a 404 (removed)."""
        found = await bounded([self.client.request_by_id(rid) for rid in ids])
        return dict(zip(ids, found, strict=True))
