"""`reconcile demo` doubles as an end-to-end test: the real daemon against the simulated stack
while the script plays out five requests. Run fast (`--speed 10`), then checked from the
reconciler's own database and from what the simulated Jellyfin did."""

from __future__ import annotations

import io
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.demo import run as demo
from reconciler.demo import script as demo_script
from reconciler.demo import stage as demo_stage
from reconciler.demo.run import DemoResult
from reconciler.demo.script import DemoScript
from reconciler.store import Store
from simstack import World
from tests.conftest import CommandResult, run_reconcile

SPEED = "10"
EXPECTED_END = {1: "available", 2: "available", 3: "available", 4: "available", 5: "declined"}
SPIRITED = 3
# The status page as fetched while the fast demo ran: (status, body), filled by `fast_demo`.
SERVED: list[tuple[int, str]] = []


@pytest.fixture(scope="module")
def fast_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CommandResult,
                                                                          DemoResult]]:
    """`reconcile demo --speed 10 --workdir DIR` through the command line, once per module;
    the run's `DemoResult` (what the simulated world did) is caught on its way out."""
    workdir = tmp_path_factory.mktemp("demo")
    caught: list[DemoResult] = []
    real = demo.play_demo

    def catching(*args: Any, **kwargs: Any) -> DemoResult:
        result = real(*args, **kwargs)
        caught.append(result)
        return result

    real_cycle = demo.DemoRun.on_cycle
    fetchers: list[threading.Thread] = []

    def fetch_page(url: str) -> None:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                SERVED.append((r.status, r.read().decode()))
        except OSError as exc:
            SERVED.append((0, str(exc)))

    def watching(self: demo.DemoRun, result: Any) -> None:
        real_cycle(self, result)
        if not fetchers:  # once, from a thread: the server runs in this very event loop
            fetchers.append(threading.Thread(target=fetch_page,
                                             args=(f"http://{self.stage.listen}/",)))
            fetchers[0].start()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(demo, "play_demo", catching)
        mp.setattr(demo.DemoRun, "on_cycle", watching)
        command = run_reconcile("demo", "--speed", SPEED, "--workdir", str(workdir))
    for thread in fetchers:
        thread.join(10)
    assert len(caught) == 1, command.stderr
    yield command, caught[0]


def states(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db)
    try:
        return {rid: state for rid, state in conn.execute("SELECT id, state FROM requests")}
    finally:
        conn.close()


def timeline(db: Path, request_id: int) -> list[tuple[str, str | None, str, str]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute(
            "SELECT at, from_state, to_state, via FROM timeline WHERE request_id = ? ORDER BY id",
            (request_id,)))
    finally:
        conn.close()


def moves(db: Path, request_id: int) -> list[str]:
    """The states a request went through, in order (scan requests left out)."""
    return [to for _, frm, to, _ in timeline(db, request_id) if frm != to]


@pytest.mark.slow
def test_the_fast_demo_exits_0_and_says_every_request_reached_its_state(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    command, result = fast_demo
    assert command.code == 0, command.stdout[-3000:] + command.stderr
    assert result.problems == []
    assert "demo: all 5 requests reached their expected state" in command.stdout
    # The film's file lies under the Anime library's folder: Jellyfin is told about it.
    assert "asks Jellyfin to scan the new file in 'Anime'" in command.stdout


@pytest.mark.slow
def test_the_demo_prints_the_status_page_address_and_serves_it_while_it_runs(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    command, _ = fast_demo
    assert re.search(r"^Status page: http://127\.0\.0\.1:\d+/$", command.stdout, re.M), \
        command.stdout[:2000]
    assert len(SERVED) == 1 and SERVED[0][0] == 200, SERVED
    assert "data-live" in SERVED[0][1] and "<title>Requests · reconciler</title>" in SERVED[0][1]


@pytest.mark.slow
def test_every_scripted_request_ends_in_its_expected_state_in_the_database(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    _, result = fast_demo
    assert states(result.database) == EXPECTED_END


@pytest.mark.slow
def test_the_anime_film_was_never_available_before_the_simulated_jellyfin_listed_it(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    _, result = fast_demo
    anime = result.script.anime
    assert anime.listed_at is not None
    # The database keeps whole seconds: no `available` stamped before the listing's second.
    listed_second = anime.listed_at.replace(microsecond=0)
    rows = timeline(result.database, SPIRITED)
    available = [at for at, _, to, _ in rows if to == "available"]
    assert available, rows
    assert all(at >= listed_second.isoformat().replace("+00:00", "Z") for at in available)
    # The reconciler's own decision time, to the microsecond.
    assert anime.available_at and min(anime.available_at) >= anime.listed_at


@pytest.mark.slow
def test_the_anime_film_waits_in_anime_matching_and_jellyfin_lists_it_only_after_a_scan_request(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    _, result = fast_demo
    anime = result.script.anime
    assert anime.listed_at is not None and anime.pending_since is not None
    assert [t for t in anime.refreshes if anime.pending_since <= t <= anime.listed_at]
    rows = timeline(result.database, SPIRITED)
    kinds = [("scan" if frm == to else to) for _, frm, to, _ in rows]
    assert kinds[-3:] == ["anime_matching", "scan", "available"]
    assert rows[-2][3] == "reconciler"


@pytest.mark.slow
def test_the_failed_download_is_regrabbed_and_the_film_becomes_available(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    _, result = fast_demo
    path = moves(result.database, 4)
    assert "failed" in path
    assert path[path.index("failed") + 1] == "indexed"
    assert path[-1] == "available"


@pytest.mark.slow
def test_the_show_goes_back_to_partially_available_when_an_episode_airs_then_recovers(
        fast_demo: tuple[CommandResult, DemoResult]) -> None:
    _, result = fast_demo
    rows = [(to, via) for _, frm, to, via in timeline(result.database, 2) if frm != to]
    assert rows[-2:] == [("partially_available", "sonarr"), ("available", "jellyfin")]
    assert ("available", "jellyfin") in rows[:-2]


@pytest.mark.slow
def test_the_demo_fails_with_exit_1_when_the_reconciler_never_asks_jellyfin_to_scan(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A grace far longer than the run: the anime film stays anime_matching, unlisted.
    monkeypatch.setattr(demo_stage, "REFRESH_GRACE", 100_000.0)
    monkeypatch.setattr(demo_script, "SLACK", 4.0)
    out = io.StringIO()
    result = demo.play_demo(tmp_path, speed=20, out=out)
    assert result.exit_code == 1
    assert result.script.anime.listed_at is None
    assert states(result.database)[SPIRITED] == "anime_matching"
    assert "#3 Spirited Away: ended anime_matching, expected available" in out.getvalue()
    assert "demo: all 5 requests" not in out.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize(("media", "server"), [("emby", "Emby"), ("plex", "Plex")])
def test_the_demo_runs_on_emby_and_on_plex_and_the_anime_film_waits_for_their_scan(
        tmp_path: Path, media: str, server: str) -> None:
    """`reconcile demo --media-server plex`: the same five requests end as scripted; the anime
    film, matched by its TMDB id (Shoko is a Jellyfin feature), becomes available through the
    reconciler's scan request, never before the server listed it."""
    out = io.StringIO()
    result = demo.play_demo(tmp_path, speed=20, out=out, media=media)
    text = out.getvalue()
    assert result.exit_code == 0, text[-3000:]
    assert result.problems == []
    assert states(result.database) == EXPECTED_END
    assert f"simulated Jellyseerr, Radarr, Sonarr, {server} on 127.0.0.1" in text
    assert f"asks {server} to scan the new file in 'Anime'" in text
    rows = timeline(result.database, SPIRITED)
    kinds = [("scan" if frm == to else to) for _, frm, to, _ in rows]
    assert kinds[-3:] == ["importing", "scan", "available"]
    assert rows[-1][3] == media
    anime = result.script.anime
    assert anime.listed_at is not None and min(anime.available_at) >= anime.listed_at


def test_the_demo_refuses_an_unknown_media_server() -> None:
    result = run_reconcile("demo", "--media-server", "kodi")
    assert result.code == 2
    assert "invalid choice: 'kodi'" in result.stderr


def test_the_anime_check_flags_an_available_stamped_before_jellyfin_listed_the_film(
        tmp_path: Path) -> None:
    world = World()
    script = DemoScript(world)
    script.setup()
    start = world.now
    script.started = start
    script.anime.refreshes.append(start + timedelta(seconds=20))
    script.anime.listed_at = start + timedelta(seconds=22.5)
    store = Store.open(tmp_path / "reconciler.db")
    try:
        store.add_timeline(SPIRITED, start + timedelta(seconds=20), "anime_matching",
                           "anime_matching", "reconciler", "asked Jellyfin to scan 'Anime'")
        assert script.check_anime(store) == []
        store.add_timeline(SPIRITED, start + timedelta(seconds=21), "anime_matching",
                           "available", "jellyfin", "playable in Jellyfin")
        problems = script.check_anime(store)
    finally:
        store.close()
    assert len(problems) == 1
    assert "before Jellyfin listed it" in problems[0]


def test_the_anime_check_flags_a_listing_nobody_asked_for(tmp_path: Path) -> None:
    world = World()
    script = DemoScript(world)
    script.setup()
    script.started = world.now
    script.anime.listed_at = world.now + timedelta(seconds=10)
    store = Store.open(tmp_path / "reconciler.db")
    try:
        problems = script.check_anime(store)
    finally:
        store.close()
    assert any("without a scan request" in p for p in problems)
    assert any("no scan request" in p for p in problems)


def test_a_speed_out_of_range_is_a_usage_error() -> None:
    for speed in ("0", "-1", "1000"):
        result = run_reconcile("demo", "--speed", speed)
        assert result.code == 2
        assert "--speed must be" in result.stderr


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put("")


def _wait_for(lines: queue.Queue[str], prefix: str, seen: list[str],
              timeout: float = 30.0) -> str:
    while True:
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line starting {prefix!r}; saw: {''.join(seen)}") from None
        if not line:
            raise AssertionError(f"output ended before {prefix!r}; saw: {''.join(seen)}")
        seen.append(line)
        if line.startswith(prefix):
            return line


@pytest.mark.slow
def test_serve_keeps_the_stack_running_for_commands_by_hand_and_stops_on_sigint(
        tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "demo", "--serve", "--speed", SPEED,
         "--workdir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        config = Path(_wait_for(lines, "Config: ", seen).split("Config: ", 1)[1].strip())
        assert config == tmp_path / "config.toml"
        _wait_for(lines, "Try, in another terminal", seen)

        once = run_reconcile("--config", str(config), "--once")
        assert once.code == 0, once.stderr
        status = run_reconcile("--config", str(config), "status", "--json")
        assert status.code == 0, status.stderr
        assert sorted(r["id"] for r in status.json()) == [1, 2, 3, 4, 5]
        assert {r["id"]: r["state"] for r in status.json()}[5] in ("requested", "declined")

        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        _wait_for(lines, "reconcile demo --serve: stopping", seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
