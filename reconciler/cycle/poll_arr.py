"""What the Radarr and Sonarr pollers share: the queue, and history folded into facts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from reconciler.cycle.context import WATERMARK_OVERLAP, PollContext, bounded
from reconciler.cycle.observations import changed_requests
from reconciler.models import (
    HistoryEvent,
    HistoryFacts,
    MediaType,
    QueueDeparture,
    QueueRecord,
    SeerrRequest,
)
from reconciler.services.arr import ArrClient

F = TypeVar("F")


def external_id(req: SeerrRequest) -> int | None:
    """The Radarr/Sonarr id Jellyseerr recorded for the request's quality
    (`externalServiceId4k` for a 4K request, else `externalServiceId`)."""
    per_quality = req.external_service_id_4k if req.is4k else req.external_service_id_hd
    return per_quality if per_quality is not None else req.external_service_id


async def recent_history(client: ArrClient, since: datetime | None) -> list[HistoryEvent]:
    """History since the last poll (on the server's clock), with an overlap; events seen
    before are recognised by id when folded in, so the overlap costs nothing."""
    if since is None:
        return []
    return await client.history_since(since - WATERMARK_OVERLAP)


# A pending release (held by a delay profile, its download client unavailable, a fallback) is
# not in the download client yet: its leaving the queue removes nothing from the client.
PENDING_STATUSES = frozenset({"delay", "downloadClientUnavailable", "fallback"})


@dataclass(frozen=True)
class QueueChange:
    """The tracked films' or series' queue records now, and as the last poll stored them."""

    before: Mapping[int, Sequence[QueueRecord]]
    now: Mapping[int, Sequence[QueueRecord]]

    def gone(self, subject: int) -> list[QueueRecord]:
        """The subject's downloads stored at the last (successful) poll and not listed now; a
        pending release is none (it was never in the download client)."""
        listed = {(r.download_id, r.episode_id) for r in self.now.get(subject, ())}
        return [r for r in self.before.get(subject, ())
                if (r.download_id, r.episode_id) not in listed
                and r.status not in PENDING_STATUSES]


def store_queue(ctx: PollContext, service: str, queue: Sequence[QueueRecord],
                key: Callable[[QueueRecord], int | None], tracked: Set[int],
                now: datetime) -> QueueChange:
    """Keep the queue records of tracked films or series (by `key`), drop the rest; what
    changed, for `note_departures`."""
    grouped: dict[int, list[QueueRecord]] = defaultdict(list)
    for record in queue:
        k = key(record)
        if k is not None and k in tracked:
            grouped[k].append(record)
    before = ctx.seen.queues(service)
    steady = {k: steady_estimates(records, before.get(k, ()))
              for k, records in grouped.items()}
    ctx.seen.replace_queues(service, steady, now)
    return QueueChange(before, steady)


def note_departures(ctx: PollContext, service: str, change: QueueChange, tracked: Set[int],
                    grabbed_at: Callable[[int, int | None], datetime | None],
                    now: datetime) -> None:
    """Keep, by film or series, the queue records seen in an earlier poll and gone since
    (`QueueDeparture`): those gone in this poll, and those gone before and still gone, now
    confirmed. A departure goes when its film (Radarr) or episode (Sonarr) is in the queue
    again, or the film or series is no longer tracked. Called after the poll's history was
    folded in (`grabbed_at(subject, episode id)`: its latest grab), which the history read
    after the queue read holds."""
    prior = ctx.seen.departures(service)
    out: dict[int, list[QueueDeparture]] = {}
    # Only a subject with departures, or with queue records now or before, can have any.
    for k in sorted((prior.keys() | change.before.keys() | change.now.keys()) & tracked):
        busy = {r.episode_id for r in change.now.get(k, ())}  # Radarr: {None} while queued
        kept = [d if d.confirmed else replace(d, confirmed=True)
                for d in prior.get(k, ()) if d.episode_id not in busy]
        known = {(d.download_id, d.episode_id) for d in kept}
        for r in change.gone(k):
            if (r.download_id, r.episode_id) not in known and r.episode_id not in busy:
                kept.append(QueueDeparture(r.download_id, r.title, r.episode_id, r.progress,
                                           now, grabbed_at(k, r.episode_id)))
        if kept:
            out[k] = kept
    ctx.seen.replace_departures(service, out, now)


def steady_estimates(records: Sequence[QueueRecord],
                     before: Sequence[QueueRecord]) -> list[QueueRecord]:
    """The records, each keeping its previous `estimated_completion` while nothing else about
    it moved: a download client's estimate drifts with its clock when no byte arrives (a
    stalled download's "now + a long time"), which is no news, and must not cost a write (an
    idle cycle writes nothing)."""
    known = {(r.download_id, r.episode_id): r for r in before}
    out = []
    for record in records:
        prior = known.get((record.download_id, record.episode_id))
        if prior is not None and prior.estimated_completion \
                and replace(prior, estimated_completion=record.estimated_completion) == record:
            record = prior
        out.append(record)
    return out


async def store_history(
    events: Sequence[HistoryEvent],
    key: Callable[[HistoryEvent], int | None],
    tracked: Mapping[int, object],
    stored: Collection[int],
    *,
    prior: Callable[[int], F | None],
    fold: Callable[[F | None, list[HistoryEvent]], F],
    write: Callable[[int, F], bool],
    fetch: Callable[[int], Awaitable[list[HistoryEvent]]],
    needs_history: Callable[[int], bool],
) -> set[int]:
    """Fold history events into per-subject facts; fetch the full history of new subjects
    (tracked, not among `stored`, the subjects with facts already).

    Returns the subjects whose facts changed: something happened to them since the last
    poll, so their film or episodes are worth reading again."""
    by_subject: dict[int, list[HistoryEvent]] = defaultdict(list)
    for event in events:
        k = key(event)
        if k is not None and k in tracked:
            by_subject[k].append(event)
    # Set arithmetic, not a read per tracked subject: `stored` holds those with facts.
    new = [s for s in sorted(tracked.keys() - stored) if needs_history(s)]
    for subject, past in zip(new, await bounded([fetch(s) for s in new]), strict=True):
        by_subject[subject] = list(past) + by_subject.get(subject, [])
    changed = set()
    for subject in sorted(by_subject):
        if write(subject, fold(prior(subject), by_subject[subject])):
            changed.add(subject)
    return changed


def fold_film(prior: HistoryFacts | None, events: list[HistoryEvent]) -> HistoryFacts:
    """Radarr: one film's facts."""
    return fold(prior or HistoryFacts(), events)


def fold_episodes(prior: dict[int, HistoryFacts] | None,
                  events: list[HistoryEvent]) -> dict[int, HistoryFacts]:
    """Sonarr: one series' facts, per episode id."""
    per_episode = dict(prior or {})
    by_episode: dict[int, list[HistoryEvent]] = defaultdict(list)
    for e in events:
        if e.episode_id is not None:
            by_episode[e.episode_id].append(e)
    for episode_id, evs in by_episode.items():
        per_episode[episode_id] = fold(per_episode.get(episode_id, HistoryFacts()), evs)
    return per_episode


def fold(facts: HistoryFacts, events: list[HistoryEvent]) -> HistoryFacts:
    """Fold events into `facts`; events already folded in (by id) are skipped."""
    for e in sorted(events, key=lambda e: e.id):
        if e.id <= facts.last_event_id:
            continue
        facts = replace(facts.merge_event(e.event_type, e.date, e.source_title, e.message),
                        last_event_id=e.id)
    return facts


K = TypeVar("K")


class Tracked(Generic[K]):
    """What one Radarr or Sonarr server tracks, kept from poll to poll and brought up to date
    from the store's journal (the requests, and the films or series stored, that changed
    since), not worked out from every request each poll. `key` gives a request's film or show
    key (a TMDB id; a `SeriesKey`), `stored` the server's view of them (`Observations.movies`,
    `known_series`), `of_subject` the key a changed observation's subject names. Kept: by key,
    the tracked requests (`requests`); the stored film's or series' Radarr/Sonarr id
    (`current`: that id -> key); the keys the server was not seen to have (`unfound`)."""

    def __init__(self, server: str, media_type: MediaType, kind: str,
                 key: Callable[[SeerrRequest], K | None],
                 stored: Callable[[PollContext], Mapping[K, Any]],
                 of_subject: Callable[[str], K | None]) -> None:
        self.server, self.media_type, self.kind = server, media_type, kind
        self.key, self.stored, self.of_subject = key, stored, of_subject
        self._cursor: int | None = None
        self._basis: tuple[object, ...] = ()
        self._clear()

    def _clear(self) -> None:
        self._of_request: dict[int, K] = {}
        self.requests: dict[K, set[int]] = {}
        self._ids: dict[K, int] = {}
        self.current: dict[int, K] = {}
        self.unfound: set[K] = set()

    def first_request(self, ctx: PollContext, key: K) -> SeerrRequest:
        """The key's first tracked request (its ids are asked with)."""
        return ctx.seen.seerr_requests()[min(self.requests[key])].request

    def refresh(self, ctx: PollContext) -> None:
        journal, server = ctx.store.journal, self.server
        basis = (id(ctx.config), ctx.seen.seerr_servers_stamp())
        cursor = self._cursor if basis == self._basis else None
        asked = changed_requests(journal, cursor)
        held = None if cursor is None else journal.since_in(cursor, server, f"{self.kind}:")
        self._cursor, self._basis = journal.cursor(), basis
        stored = self.stored(ctx)
        if asked is None or held is None:
            self._clear()
            for req in ctx.tracked(self.media_type, server):
                if (key := self.key(req)) is not None:
                    self._of_request[req.id] = key
                    self.requests.setdefault(key, set()).add(req.id)
            for key in self.requests:
                self._link(key, stored)
            return
        touched = {key for subject in held if (key := self.of_subject(subject)) is not None}
        known = ctx.seen.seerr_requests()
        for rid in asked:
            old = self._of_request.pop(rid, None)
            if old is not None:
                self.requests[old].discard(rid)
                if not self.requests[old]:
                    del self.requests[old]
                touched.add(old)
            seen = known.get(rid)
            if seen is not None and (key := self.key(seen.request)) is not None \
                    and ctx.is_tracked(seen, self.media_type, server):
                self._of_request[rid] = key
                self.requests.setdefault(key, set()).add(rid)
                touched.add(key)
        for key in touched:
            self._link(key, stored)

    def _link(self, key: K, stored: Mapping[K, Any]) -> None:
        old = self._ids.pop(key, None)
        if old is not None and self.current.get(old) == key:
            del self.current[old]
        self.unfound.discard(key)
        if key not in self.requests:
            return
        found = stored.get(key)
        if found is None:
            self.unfound.add(key)
        else:
            self._ids[key] = found.id
            self.current[found.id] = key
