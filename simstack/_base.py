"""The base of the per-service parts of the `World`."""

from __future__ import annotations

import threading
from datetime import datetime

from simstack.clock import Clock


class SubWorld:
    """One service's state inside the `World`; shares the world's lock and clock."""

    def __init__(self, world: Clock) -> None:
        self.world = world

    @property
    def lock(self) -> threading.RLock:
        return self.world.lock

    @property
    def now(self) -> datetime:
        return self.world.now
