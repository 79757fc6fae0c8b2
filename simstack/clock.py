"""The simulated clock and its timers, shared by every fake service through the `World`.

    clock.advance(60)                    # move the simulated clock (runs due timers)
    clock.now = datetime(2026, 1, 1, tzinfo=UTC)
    clock.call_later(30, fn)             # run `fn` once the clock passes now + 30 s

`Clock(realtime=True)` runs on from its start with the real (monotonic) time; `advance()` still
adds to it. Timers fire when the clock passes them: on `advance()`/setting `now`, and at the
start of every HTTP request. `lock` (an RLock) guards the whole simulated state.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from simstack._util import ensure_utc

__all__ = ["Clock"]


class Clock:
    """The simulated time, the timers and the lock of the simulated state."""

    def __init__(self, now: datetime | None = None, *, realtime: bool = False,
                 seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.seed = seed
        self._start = ensure_utc(now) if now is not None else datetime.now(UTC)
        self._mono0 = time.monotonic()
        self._offset = timedelta(0)
        self.realtime = realtime
        self._timers: list[tuple[datetime, int, Callable[[], None]]] = []
        self._timer_seq = itertools.count()
        self._ticking = False

    # -- clock -------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The simulated time (timezone-aware UTC)."""
        if self.realtime:
            return self._start + self._offset + timedelta(seconds=time.monotonic() - self._mono0)
        return self._start + self._offset

    @now.setter
    def now(self, value: datetime) -> None:
        with self.lock:
            self._offset += ensure_utc(value) - self.now
        self.tick()

    def advance(self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0,
                days: float = 0.0) -> datetime:
        """Move the clock forward (or back, with a negative amount); runs due timers."""
        delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
        with self.lock:
            self._offset += delta
        self.tick()
        return self.now

    # -- timers ------------------------------------------------------------------------------

    def call_at(self, when: datetime, fn: Callable[[], None]) -> None:
        """Run `fn` (under the world lock) once the clock reaches `when`."""
        with self.lock:
            heapq.heappush(self._timers, (ensure_utc(when), next(self._timer_seq), fn))
        self.tick()

    def call_later(self, seconds: float, fn: Callable[[], None]) -> None:
        self.call_at(self.now + timedelta(seconds=seconds), fn)

    def pending_timers(self) -> int:
        with self.lock:
            return len(self._timers)

    def tick(self) -> None:
        """Run the timers that are due."""
        with self.lock:
            if self._ticking or not self._timers:
                return
            self._ticking = True
            try:
                while self._timers and self._timers[0][0] <= self.now:
                    _, _, fn = heapq.heappop(self._timers)
                    try:
                        fn()
                    except Exception:  # a script's timer must not break the servers
                        traceback.print_exc()
            finally:
                self._ticking = False
