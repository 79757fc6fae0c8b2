"""The status page's first screen over the benchmark's own database: the server time of
`GET /`, in process (httpx's ASGI transport straight into the application: no socket, no
browser).

The time is the page handler's own, as it reports it in `Server-Timing: app;dur=...` (from
reading the store to the rendered HTML; not the test client's transport). One request warms
up (templates compiled, SQLite's page cache filled), then `samples` requests are timed and
their median is the figure.
"""

from __future__ import annotations

import gc
import re
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.config import Config

TIMING = re.compile(r"app;dur=([\d.]+)")
CARD = "<li data-v="  # one request's card on the list (tests/web count them the same way)
FIRST_SCREEN_MS = 100.0  # the target: the first screen in under 100 ms of server time


@dataclass
class PageStats:
    requests: int  # requests in the database the page read
    samples: int
    server_ms: list[float] = field(default_factory=list)  # each timed request's handler time
    client_ms: list[float] = field(default_factory=list)  # the same requests, in-process round
    # Python's garbage collector's pauses during each timed request (ms, all generations): a
    # full collection walks the whole process's heap, the reconciler's too.
    gc_ms: list[float] = field(default_factory=list)
    cards: int = 0  # cards on the first screen
    bytes: int = 0  # its HTML

    @property
    def median_ms(self) -> float:
        return round(statistics.median(self.server_ms), 1) if self.server_ms else float("nan")


class _GcTimer:
    """Sums the garbage collector's pauses while `counting()` is active."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start

    @contextmanager
    def counting(self) -> Iterator[None]:
        gc.callbacks.append(self)
        try:
            yield
        finally:
            gc.callbacks.remove(self)


async def measure_page(config: Config, requests: int, samples: int = 5,
                       clock: Callable[[], datetime] | None = None) -> PageStats:
    """Time the list's first screen (`GET /`) over `config.database`."""
    import httpx

    from reconciler.httpapi import HttpApi, Metrics

    stats = PageStats(requests=requests, samples=samples)
    app = HttpApi(lambda: config, Metrics(), clock).app
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://127.0.0.1") as client:
        warm = await client.get("/")
        warm.raise_for_status()
        stats.cards = warm.text.count(CARD)
        stats.bytes = len(warm.content)
        timer = _GcTimer()
        for _ in range(max(1, samples)):
            timer.total = 0.0
            t0 = time.perf_counter()
            with timer.counting():
                response = await client.get("/")
            stats.client_ms.append(round((time.perf_counter() - t0) * 1000, 1))
            stats.gc_ms.append(round(timer.total * 1000, 1))
            response.raise_for_status()
            match = TIMING.fullmatch(response.headers.get("server-timing", ""))
            if match is None:
                raise RuntimeError("the page sent no Server-Timing header")
            stats.server_ms.append(float(match.group(1)))
    return stats
