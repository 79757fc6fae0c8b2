"""The list's first screen costs what one screen shows, not what the database holds: with
5,000 requests (a household's decade, and shows with their episodes) it is drawn in under
100 ms of server time (`Server-Timing`), and a live update of it sends only what changed."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reconciler.httpapi import HttpApi, Metrics
from reconciler.states import RequestState
from reconciler.store import EpisodeRow, Store
from reconciler.web.listing import GROUP_LIMIT
from tests.daemon.daemon_support import Clock
from tests.web.support import NOW, row, write_config

S = RequestState
REQUESTS = 5000
STATES = [S.AVAILABLE] * 8 + [S.DOWNLOADING, S.APPROVED, S.DECLINED, S.PARTIALLY_AVAILABLE]


def fill_many(store: Store, count: int) -> None:
    with store.transaction():
        for i in range(1, count + 1):
            state = STATES[i % len(STATES)]
            tv = state is S.PARTIALLY_AVAILABLE
            r = row(i % 1000 + 1, state, f"Title {i}", tv=tv, progress=0.3,
                    requested_by=f"user{i % 7}", episodes_available=8 if tv else None,
                    episodes_aired=10 if tv else None)
            store.save_request(replace(r, id=i, tmdb_id=10_000 + i,
                                       created_at=NOW - timedelta(hours=count - i)), None)
            store.add_timeline(i, NOW, None, state.value, "jellyseerr", "seen")
            if tv:
                store.save_episodes(i, [EpisodeRow(1, n, i * 100 + n, NOW - timedelta(days=20 - n),
                                                   "available" if n <= 8 else "downloading",
                                                   "sonarr", None, 0.5, None)
                                        for n in range(1, 11)])
        for name in ("jellyseerr", "radarr", "sonarr", "jellyfin"):
            store.record_poll(name, NOW, NOW, True, None, 2, 100)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    folder: Path = tmp_path_factory.mktemp("big")
    config = write_config(folder)
    store = Store.open(config.database)
    fill_many(store, REQUESTS)
    store.close()
    return TestClient(HttpApi(lambda: config, Metrics(), Clock(NOW)).app)


def server_ms(client: TestClient, path: str, **headers: str) -> float:
    timing = client.get(path, headers=headers).headers["server-timing"]
    match = re.fullmatch(r"app;dur=([\d.]+)", timing)
    assert match is not None
    return float(match.group(1))


def test_the_first_screen_of_5000_requests_is_drawn_in_under_100_ms(big: TestClient) -> None:
    page = big.get("/").text
    assert page.count("<li data-v=") <= 4 * GROUP_LIMIT  # a screen, not the database
    assert "Show all" in page
    # The best of a few (a shared machine): what the page costs, not what a neighbour did.
    best = min(server_ms(big, "/") for _ in range(5))
    assert best < 100, f"the first screen took {best:.0f} ms of server time"
    live = min(server_ms(big, "/", **{"x-reconciler-live": "1"}) for _ in range(5))
    assert live < 100, f"its live update took {live:.0f} ms"
