"""The status page's first screen over the benchmark's own database: the server time of
`GET /`, in process (httpx's ASGI transport straight into the application: no socket, no
browser).

The time is the page handler's own, as it reports it in `Server-Timing: app;dur=...` (from
reading the store to the rendered HTML; not the test client's transport). One request warms
up (templates compiled, SQLite's page cache filled), then `samples` requests are timed and
their median is the figure.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
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
    cards: int = 0  # cards on the first screen
    bytes: int = 0  # its HTML

    @property
    def median_ms(self) -> float:
        return round(statistics.median(self.server_ms), 1) if self.server_ms else float("nan")


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
        for _ in range(max(1, samples)):
            t0 = time.perf_counter()
            response = await client.get("/")
            stats.client_ms.append(round((time.perf_counter() - t0) * 1000, 1))
            response.raise_for_status()
            match = TIMING.fullmatch(response.headers.get("server-timing", ""))
            if match is None:
                raise RuntimeError("the page sent no Server-Timing header")
            stats.server_ms.append(float(match.group(1)))
    return stats
