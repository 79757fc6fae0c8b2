"""Which requests a cycle decides: those that can move, not all of them.

A request's decision is a pure function of what it read (its observations, its index look-ups,
its row) and of the clock. So a request is decided again when:

- it is new, or Jellyseerr's record of it changed;
- anything it read when last decided changed since (the store's journal names each change by
  the same keys the reads were recorded under: `Store.recording`);
- the clock reached the moment its decision could change by itself (`core.recheck_at`);
- it is in an active state (something moves: it is decided every cycle anyway);
- and every request is decided when the journal cannot tell what changed (a new process, a
  rollback, another writer, a bulk change), when any poll this cycle was a full listing, and when
  what applies to all of them changed (services unknown, configuration, anime rules, libraries).

`tests/e2e/test_decide_what_moves.py` runs this beside deciding everything over random histories
and compares every row and timeline.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Set
from datetime import datetime

from reconciler.cycle.observations import request_of
from reconciler.store.journal import Journal, Key


class Moving:
    """What each request depended on when last decided, and when the clock alone moves it."""

    def __init__(self) -> None:
        self._deps: dict[int, frozenset[Key]] = {}
        self._by_key: dict[Key, set[int]] = defaultdict(set)
        self._recheck: dict[int, datetime] = {}
        self._heap: list[tuple[datetime, int]] = []
        self._cursor: int | None = None
        self._context: object = None

    def forget_all(self) -> None:
        """The next cycle decides every request."""
        self._cursor = None

    def due(self, journal: Journal, now: datetime, context: object, *,
            active: Iterable[int], full: bool) -> Set[int] | None:
        """The ids to decide now; None: every request. `context`: what applies to all
        requests (compared with the last cycle's); `active`: ids in an active state; `full`:
        a poll this cycle read a complete listing."""
        changed = None if self._cursor is None else journal.since(self._cursor)
        self._cursor = journal.cursor()
        same_context = context == self._context
        self._context = context
        if changed is None or full or not same_context:
            return None
        out = set(active)
        for key in changed:
            out.update(self._by_key.get(key, ()))
            if (request_id := request_of(key)) is not None:  # new ones read nothing yet
                out.add(request_id)
        while self._heap and self._heap[0][0] <= now:
            at, rid = heapq.heappop(self._heap)
            if self._recheck.get(rid) == at:
                del self._recheck[rid]
                out.add(rid)
        return out

    def decided(self, request_id: int, reads: Iterable[Key],
                recheck_at: datetime | None) -> None:
        """Record what the request's decision read, and when the clock alone may move it."""
        deps = frozenset(reads)
        old = self._deps.get(request_id)
        if old != deps:
            for key in old or ():
                holders = self._by_key.get(key)
                if holders is not None:
                    holders.discard(request_id)
                    if not holders:
                        del self._by_key[key]
            for key in deps:
                self._by_key[key].add(request_id)
            self._deps[request_id] = deps
        if recheck_at is None:
            self._recheck.pop(request_id, None)
        elif self._recheck.get(request_id) != recheck_at:
            self._recheck[request_id] = recheck_at
            heapq.heappush(self._heap, (recheck_at, request_id))
            if len(self._heap) > 4 * len(self._recheck) + 1024:  # drop stale entries
                self._heap = [(at, rid) for rid, at in self._recheck.items()]
                heapq.heapify(self._heap)

    def dropped(self, request_id: int) -> None:
        """The request is no longer decided (its deletion settled): forget what it read."""
        self.decided(request_id, (), None)
        self._deps.pop(request_id, None)
