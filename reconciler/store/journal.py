"""What changed in the store, in the order it changed: the journal a reader follows to do work
that grows with what moved, not with all that is stored (`Store.journal`).

Every write of an observation notes its `(service, subject)`; every change to the media server's
index notes what a request's evidence looks the items up by (`pid:{key}={value}` for a
ProviderId pair, `series:{item id}` for a series' episodes) under the service `INDEX`. A reader
keeps a cursor (`Journal.cursor()`) and asks what changed since (`Journal.since`): a set of
keys, or None when the journal cannot tell, after which the reader starts over from the store.
It cannot tell after a rollback (the writes it noted were undone), after another connection
committed, and when more changed than it keeps (`CAPACITY`): a first index of a whole library
is not worth following key by key.

In memory only, per `Store` object: a new process starts with a fresh journal, and its readers
with a full read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

# The service name under which the media server's index notes its changes.
INDEX = "index"
# At most this many changes are kept; beyond, readers are told to start over.
CAPACITY = 50_000

Key = tuple[str, str]


class Journal:
    """The keys changed, numbered; see the module docstring."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._seq = 0
        self._floor = 0  # a cursor below this cannot be answered
        self._handed = 0  # the latest cursor handed out
        self._notes: deque[tuple[int, str, str]] = deque()

    def cursor(self) -> int:
        """Where a reader stands now: pass it to `since` later."""
        self._handed = self._seq
        return self._seq

    def listening(self) -> bool:
        """Whether a note can still matter: no, after a reset until a reader takes a cursor
        (every cursor handed out before it is told to start over anyway)."""
        return self._handed >= self._floor

    def note(self, service: str, key: str) -> None:
        if not self.listening():
            return
        self._seq += 1
        self._notes.append((self._seq, service, key))
        if len(self._notes) > self.capacity:
            self.reset()

    def note_many(self, service: str, keys: Iterable[str]) -> None:
        for key in keys:
            self.note(service, key)

    def reset(self) -> None:
        """Forget what was noted: every reader starts over."""
        self._seq += 1
        self._floor = self._seq
        self._notes.clear()

    def since(self, cursor: int) -> set[Key] | None:
        """Every key changed after `cursor`; None when that cannot be told (start over)."""
        if cursor < self._floor:
            return None
        out: set[Key] = set()
        for seq, service, key in reversed(self._notes):
            if seq <= cursor:
                break
            out.add((service, key))
        return out

    def since_in(self, cursor: int, service: str, prefix: str) -> set[str] | None:
        """The keys of `service` starting with `prefix` changed after `cursor`; None: start
        over."""
        changed = self.since(cursor)
        if changed is None:
            return None
        return {key for noted, key in changed if noted == service and key.startswith(prefix)}
