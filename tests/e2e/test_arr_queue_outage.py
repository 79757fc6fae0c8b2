"""Radarr's and Sonarr's known bug that answers 500 on both queue endpoints while a release is
pending (Radarr #10572, #11151; Sonarr #7422, #7429), end to end against the simulated stack: the
server is unknown (nothing moves), and the running reconciler logs the outage once, naming the
bug, and once when it ends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from structlog.testing import capture_logs

from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store
from simstack import SimulatedStack, World

NULL_REFERENCE = json.dumps({
    "message": "Object reference not set to an instance of an object.",
    "description": "System.NullReferenceException at NzbDrone.Core.Jobs.TaskManager."
                   "GetNextExecution(Type type)"}).encode()


def test_a_500_from_both_queue_endpoints_is_logged_once_with_the_known_bug(
        tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "jellyfin")) as stack:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        config = load_config(stack.write_config(tmp_path / "config.toml",
                                                tmp_path / "reconciler.db"))
        rid = world.jellyseerr.add_request(603, "movie", "The Matrix")
        did = world.radarr.grab(world.radarr.add_movie(603, "The Matrix", year=1999))
        world.radarr.progress(did, 0.4)
        store = Store.open(config.database)
        reconciler = Reconciler(config, store)

        async def ok(count: int) -> list[bool]:
            return [(await reconciler.cycle()).polls["radarr"].ok for _ in range(count)]

        async def scenario() -> None:
            assert await ok(1) == [True]
            stack.set_fault("radarr", "status", code=500, path="/api/v3/queue",
                            body=NULL_REFERENCE, content_type="application/json")
            world.radarr.progress(did, 0.9)
            with capture_logs() as logs:
                assert await ok(3) == [False] * 3
            started = [e for e in logs if e["event"] == "service.outage_started"]
            assert [e["service"] for e in started] == ["radarr"]
            assert started[0]["error"] == (
                "HTTP 500 from /api/v3/queue/details and /api/v3/queue: Object reference not "
                "set to an instance of an object.; a known Radarr bug answers so while a "
                "release is pending (Radarr #10572, #11151: TaskManager.GetNextExecution); "
                "restarting Radarr usually clears it")
            row = store.request(rid)  # unknown: nothing moved
            assert row is not None and row.progress is not None and row.progress < 0.5
            stack.clear_fault("radarr")
            with capture_logs() as logs:
                assert await ok(1) == [True]
            assert [e["service"] for e in logs if e["event"] == "service.outage_ended"] == [
                "radarr"]
            row = store.request(rid)
            assert row is not None and row.progress is not None and row.progress > 0.8
            await reconciler.aclose()

        try:
            asyncio.run(scenario())
        finally:
            store.close()
