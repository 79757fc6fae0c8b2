"""The daemon against the simulated stack on 127.0.0.1, for a bounded time: requests advance
without restarts, polling speeds up while something moves, notifications arrive once, health
and metrics answer, SIGHUP reloads (or keeps the old config), a second instance exits 75, and
SIGTERM mid-cycle exits 0 leaving a consistent database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from reconciler.config import Config
from reconciler.daemon import Daemon
from reconciler.store import Store, StoreError
from simstack import SimulatedStack, World
from tests.daemon.daemon_support import (
    AppriseTarget,
    Clock,
    await_until,
    free_port,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

FAST = {"jellyseerr": 1.0, "radarr": 1.0, "jellyfin": 1.0}


def state_of(path: Path, request_id: int) -> str | None:
    """The request's state as committed (a reader of its own, like `reconcile status`)."""
    try:
        store = Store.open(path, readonly=True)
    except StoreError:
        return None
    try:
        row = store.request(request_id)
        return row.state.value if row else None
    finally:
        store.close()


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def fetch(url: str) -> tuple[int, bytes]:
    return await asyncio.to_thread(http_get, url)


def test_requests_advance_while_the_daemon_runs(tmp_path: Path, world: World,
                                                stack: SimulatedStack,
                                                apprise_target: AppriseTarget) -> None:
    port = free_port()
    config = write_config(stack, tmp_path, intervals=FAST,
                          reconciler_extra="active_poll_interval = 0.2", extra=f"""
[notify]
urls = ["{apprise_target.url}"]
on = ["available", "failed"]

[http]
listen = "127.0.0.1:{port}"
""")
    db = config.database
    base = f"http://127.0.0.1:{port}"

    async def scenario(logs: list[MutableMapping[str, Any]]) -> None:
        store = Store.open(db)
        daemon = Daemon(config, store, notifier_options={"retry_base": 0.0})
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop))
        try:
            rid = world.jellyseerr.add_request(603, "movie", "The Matrix")
            movie = world.radarr.add_movie(603, "The Matrix", year=1999)
            await await_until(lambda: state_of(db, rid) == "approved", what="approved")
            assert daemon.intervals == {"jellyseerr": 1.0, "jellyfin": 1.0, "radarr": 1.0}

            download = world.radarr.grab(movie)
            world.radarr.progress(download, 0.4)
            await await_until(lambda: state_of(db, rid) == "downloading", what="downloading")
            # Something moves: the *arr and Jellyfin poll fast; Jellyseerr keeps its pace.
            await await_until(lambda: daemon.intervals["radarr"] == 0.2, what="fast pace")
            assert daemon.intervals == {"jellyseerr": 1.0, "jellyfin": 0.2, "radarr": 0.2}

            world.radarr.import_file(movie, download_id=download)
            world.jellyfin.add_movie("The Matrix", tmdb_id=603, year=1999)
            await await_until(lambda: state_of(db, rid) == "available", what="available")
            await await_until(lambda: daemon.intervals["radarr"] == 1.0, what="idle pace")
            await await_until(lambda: apprise_target.messages, what="the notification")

            status, body = await fetch(base + "/healthz")
            assert status == 200, body
            assert await fetch(base + "/livez") == (200, b'{\n  "status": "ok"\n}\n')
            status, body = await fetch(base + "/metrics")
            assert status == 200
            assert b'reconciler_requests{state="available"} 1.0' in body
            assert b'reconciler_poll_errors_total{service="radarr"} 0.0' in body
            status, body = await fetch(f"{base}/api/requests/{rid}")
            assert status == 200
            assert json.loads(body)["request"]["state"] == "available"

            # Radarr goes away: /healthz says which service is behind once it is 3 polls late.
            # (Others may show up too: their jobs wait while Radarr's retries run.)
            stack.set_fault("radarr", "refuse")

            async def radarr_behind() -> bool:
                status, body = await fetch(base + "/healthz")
                return status == 503 and "radarr" in json.loads(body)["behind"]

            await await_until(radarr_behind, timeout=15, what="/healthz to name radarr")
            await await_until(lambda: "service.outage_started" in [e["event"] for e in logs],
                              what="the outage to be logged")
            assert state_of(db, rid) == "available"  # unknown is not absent
            stack.clear_fault("radarr")
            await await_until(lambda: "service.outage_ended" in [e["event"] for e in logs],
                              what="the end of the outage")
            async def healthy() -> bool:
                return (await fetch(base + "/healthz"))[0] == 200

            await await_until(healthy, what="/healthz to recover")
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=5)
            store.close()
        assert daemon.exit_code == 0
        assert daemon.http is None  # closed
        assert not daemon.alive()  # /livez would say 503

    with capture_logs() as logs:
        asyncio.run(scenario(logs))
    assert [m["title"] for m in apprise_target.messages] == ["The Matrix is available"]
    events = [e["event"] for e in logs]
    moves = [(e["from_"], e["to"]) for e in logs if e["event"] == "request.transitioned"]
    assert moves[0] == (None, "approved")
    assert [m[1] for m in moves if m[1] == "available"] == ["available"]
    assert moves[-1][1] == "available"
    # One line per outage start and end, not one per failed poll.
    assert events.count("service.outage_started") == 1
    assert events.count("service.outage_ended") == 1
    assert "daemon.started" in events and events[-1] == "daemon.stopped"


def test_reload_keeps_the_old_config_when_the_new_one_is_bad(
        tmp_path: Path, stack: SimulatedStack) -> None:
    config = write_config(stack, tmp_path, intervals=FAST)
    good_text = config.path.read_text()

    async def scenario() -> None:
        store = Store.open(config.database)
        daemon = Daemon(config, store)
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop))
        try:
            await await_until(lambda: daemon.cycles >= 2, what="the first cycles")
            old_clients = dict(daemon.reconciler.clients.items())

            config.path.write_text(good_text + "\n[nonsense]\nbogus = 1\n")
            assert await daemon.reload() is False
            assert daemon.config is config
            assert dict(daemon.reconciler.clients.items()) == old_clients

            config.path.write_text(good_text.replace("poll_interval = 1\n",
                                                     "poll_interval = 2\n", 1))
            assert await daemon.reload() is True
            assert daemon.config is not config
            assert daemon.reconciler.config is daemon.config
            assert dict(daemon.reconciler.clients.items()) != old_clients
            assert all(c._http.is_closed for c in old_clients.values())
            assert 2.0 in daemon.intervals.values()
            cycles = daemon.cycles
            await await_until(lambda: daemon.cycles > cycles + 1, what="cycles after reload")
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=5)
            store.close()

    with capture_logs() as logs:
        asyncio.run(scenario())
    rejected = [e for e in logs if e["event"] == "daemon.reload_rejected"]
    assert len(rejected) == 1 and "[nonsense]: unknown section" in rejected[0]["error"]
    assert [e["event"] for e in logs].count("daemon.reloaded") == 1
    assert not [e for e in logs if e["event"] == "daemon.cycle_crashed"
                and "savepoint" not in str(e.get("error"))]


def test_a_busy_http_port_is_logged_and_reconciling_goes_on(tmp_path: Path,
                                                             stack: SimulatedStack) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        config = write_config(stack, tmp_path, intervals=FAST,
                              extra=f'[http]\nlisten = "127.0.0.1:{port}"\n')

        async def scenario() -> None:
            store = Store.open(config.database)
            daemon = Daemon(config, store)
            stop = asyncio.Event()
            running = asyncio.create_task(daemon.run(stop))
            try:
                await await_until(lambda: daemon.cycles >= 2, what="cycles without the server")
                assert daemon.http is None
            finally:
                stop.set()
                await asyncio.wait_for(running, timeout=5)
                store.close()

        with capture_logs() as logs:
            asyncio.run(scenario())
    failed = [e for e in logs if e["event"] == "http.bind_failed"]
    assert len(failed) == 1 and failed[0]["listen"] == f"127.0.0.1:{port}"


# ---------------------------------------------------------------- the real process


def start_daemon(config: Config, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return subprocess.Popen([sys.executable, "-m", "reconciler", "--config", str(config.path)],
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def log_events(log_path: Path) -> list[dict[str, Any]]:
    out = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def polls(db: Path, service: str) -> int:
    store = Store.open(db, readonly=True)
    try:
        return store.counts()["polls"] if service == "*" else len([
            1 for _ in store.conn.execute("SELECT 1 FROM polls WHERE service = ?", (service,))])
    finally:
        store.close()


def test_one_owner_reload_signal_and_sigterm_mid_cycle(tmp_path: Path, world: World,
                                                       stack: SimulatedStack) -> None:
    config = write_config(stack, tmp_path, intervals={"jellyseerr": 0.5, "radarr": 0.5,
                                                      "jellyfin": 0.5})
    good_text = config.path.read_text()
    rid = world.jellyseerr.add_request(603, "movie", "The Matrix")
    world.radarr.add_movie(603, "The Matrix", year=1999)
    log_path = tmp_path / "daemon.log"
    daemon = start_daemon(config, log_path)
    try:
        wait_until(lambda: state_of(config.database, rid) == "approved", timeout=20,
                   what="the daemon's first cycle")
        wait_until(lambda: polls(config.database, "radarr") >= 2, what="radarr polled")

        # A second instance (here the cron-style one) exits 75, naming the holder.
        second = subprocess.run([sys.executable, "-m", "reconciler", "--config",
                                 str(config.path), "--once"],
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 75
        assert f"pid {daemon.pid}" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1

        # SIGHUP with a broken file: logged, the running configuration kept.
        config.path.write_text("this is = not [valid toml\n")
        daemon.send_signal(signal.SIGHUP)
        wait_until(lambda: any(e.get("event") == "daemon.reload_rejected"
                               for e in log_events(log_path)), what="the rejected reload")
        config.path.write_text(good_text)
        before = polls(config.database, "radarr")
        wait_until(lambda: polls(config.database, "radarr") > before,
                   what="polling to go on after the rejected reload")

        # SIGTERM while a cycle waits on a slow Radarr: exit 0 within a few seconds, and
        # nothing of the abandoned cycle is written.
        stack.set_fault("radarr", "slow_headers", seconds=30, times=1)
        wait_until(lambda: not stack.faults.get("radarr"), what="a radarr call in flight")
        radarr_polls = polls(config.database, "radarr")
        t0 = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 6
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    events = log_events(log_path)
    names = [e.get("event") for e in events]
    assert "daemon.cycle_abandoned" in names
    assert names[-1] == "daemon.stopped"
    assert polls(config.database, "radarr") == radarr_polls
    store = Store.open(config.database, readonly=True)
    try:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.request(rid) is not None
    finally:
        store.close()
    # The lock went with the process: the one-shot run works again.
    once = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config.path),
                           "--once"], capture_output=True, text=True, timeout=30)
    assert once.returncode == 0, once.stderr


def test_each_cycle_prunes_old_poll_records_keeping_the_latest(tmp_path: Path,
                                                               stack: SimulatedStack) -> None:
    """Retention runs after the daemon's cycles: poll records older than `retain_polls` go,
    the latest of each service (what /healthz and the watermarks read) stays."""
    config = write_config(stack, tmp_path, reconciler_extra='retain_polls = "1d"')
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    store = Store.open(config.database)
    old = clock.now - timedelta(days=3)
    for i in range(50):
        at = old + timedelta(minutes=i)
        store.record_poll("radarr", at, at, True, None, 1, 1, full=True,
                          watermark=at)
    store.record_poll("shoko", old, old, True, None, 1, 1)  # a service no longer configured

    async def one_cycle() -> None:
        daemon = Daemon(config, store, clock=clock)
        try:
            await daemon._cycle(None)
        finally:
            await daemon.reconciler.aclose()

    try:
        asyncio.run(one_cycle())
        polls = store.conn.execute("SELECT service, started FROM polls").fetchall()
    finally:
        store.close()
    started = {service: sorted(s for svc, s in polls if svc == service)
               for service in ("jellyseerr", "radarr", "jellyfin", "shoko")}
    assert started["radarr"] == ["2026-03-01T12:00:00Z"]  # this cycle's poll; the old 50 went
    assert started["jellyseerr"] == started["jellyfin"] == ["2026-03-01T12:00:00Z"]
    assert started["shoko"] == ["2026-02-26T12:00:00Z"]  # its latest poll is kept


@pytest.mark.parametrize("page", [True, False])
def test_posters_are_fetched_after_cycles_only_when_something_shows_them(
        tmp_path: Path, world: World, stack: SimulatedStack, page: bool) -> None:
    """Issue 23: the daemon fetches posters in the background after its cycles, for the page
    (or the notices); with neither configured it fetches none."""
    extra = f'[http]\nlisten = "127.0.0.1:{free_port()}"\n' if page else ""
    config = write_config(stack, tmp_path, intervals=FAST, extra=extra)
    world.jellyseerr.add_title(603, "movie", "The Matrix", date="1999-03-31")
    rid = world.jellyseerr.add_request(603, "movie", "The Matrix")
    world.radarr.add_movie(603, "The Matrix", year=1999)
    folder = config.database.parent / "artwork"

    async def scenario() -> None:
        store = Store.open(config.database)
        daemon = Daemon(config, store, http_factory=None)
        stop = asyncio.Event()
        running = asyncio.create_task(daemon.run(stop))
        try:
            await await_until(lambda: state_of(config.database, rid) == "approved")
            await await_until(lambda: daemon.cycles >= 4, what="a few cycles")
            if page:
                await await_until(lambda: folder.is_dir() and any(folder.glob("movie-603.*")),
                                  what="the poster")
        finally:
            stop.set()
            await asyncio.wait_for(running, timeout=5)
            store.close()

    asyncio.run(scenario())
    assert folder.exists() == page
    if page:
        assert [p.name for p in folder.iterdir()] == ["movie-603.tmdb.png"]
