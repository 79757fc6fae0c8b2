"""Poll Sonarr: the tracked shows' series and episodes, their queue records and history.

Strategy: every `[sonarr] poll_interval` (`active_poll_interval` while something moves) the
poll reads the whole queue (`/api/v3/queue/details` without `includeEpisode`: each record
names its episode; the paged queue sorted by `added` where details answers 404) and then the
history since the watermark (per episode; Sonarr's `downloadIgnored` makes that episode failed
until the next grab). An episode's queue record stored at the last poll and missing now is kept
as departed (`note_departures`); gone from two polls with no import, failure or ignore since
its grab, it was removed from the download client (no history record), and the episode is failed
until the next grab (a season pack: each of its episodes).
A show's series is found once when first tracked (by TVDB id, else in the series list by TMDB
id), then kept; every `full_sync_interval` the whole series list is read instead. Episodes are
read when a series is new, at each full listing, from two hours before one of its episodes airs
until it has aired (`AIRING_WINDOW`: Sonarr's history has no event for an episode airing or
being rescheduled), when Sonarr's calendar (one call a poll, from `CALENDAR_LOOKBACK` ago to
`AIRING_WINDOW` ahead) dates one of its episodes otherwise than stored, has one not stored, or
(un)monitors one (an air date moved earlier is seen in the next poll, not at the full listing),
and when the series' history changed (the series is then read again too).
A newly tracked series with missing files gets its full history once.
Watermark: the `Date` header of the queue response (Sonarr's own clock).
"""

from __future__ import annotations

import bisect
import sys
from datetime import datetime, timedelta

from reconciler.cycle.context import WATERMARK_OVERLAP, PollContext, bounded
from reconciler.cycle.observations import SeriesKey, series_key
from reconciler.cycle.poll_arr import (
    Tracked,
    external_id,
    fold_episodes,
    note_departures,
    recent_history,
    store_history,
    store_queue,
)
from reconciler.models import (
    HistoryFacts,
    MediaType,
    SeerrRequest,
    SonarrEpisode,
    SonarrSeries,
)
from reconciler.results import PollOutcome
from reconciler.services.sonarr import SonarrClient

# A series whose episode airs within this window (or aired since the last poll) is re-read every
# Sonarr poll: its history has no event for an episode airing or being rescheduled.
AIRING_WINDOW = timedelta(hours=2)
# How far back Sonarr's calendar is read each poll: an episode re-dated into this window (it
# aired early, or its date was announced late) is seen in the poll after the change.
CALENDAR_LOOKBACK = timedelta(days=7)


class SonarrPoller:
    """One Sonarr server's poll; `service` is the server's configured name ("sonarr" when
    there is one), under which its observations and poll records are kept."""

    def __init__(self, client: SonarrClient, server: str = "sonarr") -> None:
        self.client = client
        self.service = server
        self.airs = AirDates()
        # Keyed by the series' subject (`SeriesKey.subject`), as its observation is.
        self.shows: Tracked[str] = Tracked(
            server, MediaType.TV, "series", key=_subject_of,
            stored=lambda ctx: ctx.seen.known_series(server), of_subject=lambda s: s)

    async def poll(self, ctx: PollContext, outcome: PollOutcome) -> None:
        client, seen, server = self.client, ctx.seen, self.service
        now = ctx.clock()
        tracked = ctx.tracked(MediaType.TV, server)
        watermark = ctx.watermark(server)
        full = watermark is None or ctx.full_due(server)
        # The queue first, then the history: a download that left the queue because it was
        # imported has its import in this history read (`note_departures`).
        queue, server_date = await client.queue()
        events = await recent_history(client, watermark or server_date)
        library: list[SonarrSeries] | None = await client.all_series() if full else None
        shows = self.shows
        shows.refresh(ctx)
        # Sonarr series id -> its observation's subject (`SeriesKey.subject`).
        series_keys: dict[int, str] = {}
        if library is None:  # the stored series as they are; the others asked again
            series_keys = dict(shows.current)
            tracked = [shows.first_request(ctx, subject) for subject in sorted(shows.unfound)]
        for req in tracked:
            key = series_key(req)
            if key is None:
                continue
            series: SonarrSeries | None
            if library is not None:
                series = _find_series(library, req)
            elif (sid := external_id(req)) is not None and (
                    found := await client.series(sid)) is not None and _same_show(found, req):
                series = found
            elif req.tvdb_id is not None:
                series = await client.series_by_tvdb(req.tvdb_id)
                if series is None and req.tmdb_id is not None:
                    library = await client.all_series()
                    series = _find_series(library, req)
            else:
                library = await client.all_series()
                series = _find_series(library, req)
            seen.put_series(key, series, now, server)
            if series is not None:
                series_keys[series.id] = key.subject
        last = ctx.store.last_poll(server, ok=True)
        since = last.started if last is not None else None
        if full:
            fetched = set(series_keys)
        else:  # never listed, or an episode airs (or aired since the last poll)
            fetched = (series_keys.keys() - seen.episode_lists(server).keys()) | (
                self.airs.airing(ctx, server, since, now) & series_keys.keys())
        if not full:
            fetched |= await self._redated(ctx, series_keys.keys() - fetched, now)
        await self._store_episodes(ctx, sorted(fetched), now)
        change = store_queue(ctx, server, queue, lambda r: r.series_id, series_keys.keys(), now)
        changed = await store_history(
            events, lambda e: e.series_id, series_keys, seen.series_histories(server).keys(),
            prior=lambda sid: seen.episode_histories(sid, server), fold=fold_episodes,
            write=lambda sid, facts: seen.put_episode_histories(sid, facts, now, server),
            fetch=client.series_history,
            needs_history=lambda sid: any(not e.has_file
                                          for e in seen.episodes(sid, server) or []),
        )
        note_departures(ctx, server, change, series_keys.keys(),
                        lambda sid, eid: (seen.episode_histories(sid, server) or {})
                        .get(eid or 0, HistoryFacts()).grabbed_at, now)
        # Grabs, imports, failures and deletions: read those series and episodes again.
        again = sorted(changed - fetched)
        for sid, series in zip(again, await bounded([client.series(sid) for sid in again]),
                               strict=True):
            if (key := SeriesKey.from_subject(series_keys[sid])) is not None:
                seen.put_series(key, series, now, server)
        await self._store_episodes(ctx, again, now)
        outcome.full = full
        outcome.watermark = server_date or watermark

    async def _redated(self, ctx: PollContext, candidates: set[int],
                       now: datetime) -> set[int]:
        """The series among `candidates` with an episode in Sonarr's calendar (from
        `CALENDAR_LOOKBACK` ago to `AIRING_WINDOW` ahead) that is new, dated otherwise, or
        (un)monitored otherwise than stored: an air date moved earlier, so the episode aired,
        is seen in this poll, not at the next full listing. One call."""
        if not candidates:
            return set()
        calendar = await self.client.calendar(now - CALENDAR_LOOKBACK, now + AIRING_WINDOW)
        stored: dict[int, dict[int, SonarrEpisode]] = {}
        out = set()
        for ep in calendar:
            sid = ep.series_id
            if sid not in candidates or sid in out:
                continue
            if sid not in stored:
                stored[sid] = {e.id: e for e in ctx.seen.episodes(sid, self.service) or []}
            known = stored[sid].get(ep.id)
            if known is None or known.monitored != ep.monitored or (
                    known.air_date_utc != ep.air_date_utc):
                out.add(sid)
        return out

    async def _store_episodes(self, ctx: PollContext, series_ids: list[int],
                              now: datetime) -> None:
        lists = await bounded([self.client.episodes(sid) for sid in series_ids])
        for sid, episodes in zip(series_ids, lists, strict=True):
            ctx.seen.put_episodes(sid, episodes, now, self.service)


def _subject_of(request: SeerrRequest) -> str | None:
    key = series_key(request)
    return key.subject if key is not None else None


class AirDates:
    """Every stored episode's air date, in order, kept from the journal: which series have
    an episode airing within `AIRING_WINDOW`, or aired since the last poll, found by two
    bisections instead of a look at every episode of every show each poll."""

    def __init__(self) -> None:
        self._cursor: int | None = None
        self._by_series: dict[int, list[tuple[datetime, int]]] = {}
        self._dates: list[tuple[datetime, int]] = []

    def airing(self, ctx: PollContext, server: str, since: datetime | None,
               now: datetime) -> set[int]:
        journal = ctx.store.journal
        changed = None if self._cursor is None else \
            journal.since_in(self._cursor, server, "episodes:")
        self._cursor = journal.cursor()
        lists = ctx.seen.episode_lists(server)
        if changed is None:
            self._by_series = {sid: _dates(sid, eps) for sid, eps in lists.items()}
            self._dates = sorted(d for dates in self._by_series.values() for d in dates)
        else:
            for subject in changed:
                sid = int(subject.split(":", 1)[1])
                for old in self._by_series.pop(sid, []):
                    del self._dates[bisect.bisect_left(self._dates, old)]
                if sid in lists:
                    self._by_series[sid] = _dates(sid, lists[sid])
                    for new in self._by_series[sid]:
                        bisect.insort(self._dates, new)
        start = (since - WATERMARK_OVERLAP) if since is not None else now
        lo = bisect.bisect_right(self._dates, (start, sys.maxsize))
        hi = bisect.bisect_right(self._dates, (now + AIRING_WINDOW, sys.maxsize))
        return {sid for _, sid in self._dates[lo:hi]}


def _dates(series_id: int, episodes: list[SonarrEpisode]) -> list[tuple[datetime, int]]:
    return [(e.air_date_utc, series_id) for e in episodes if e.air_date_utc is not None]


def _same_show(series: SonarrSeries, req: SeerrRequest) -> bool:
    if req.tvdb_id is not None and series.tvdb_id is not None:
        return series.tvdb_id == req.tvdb_id
    return req.tmdb_id is not None and series.tmdb_id == req.tmdb_id


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
