"""Real processes: `kill -9` at random points of `reconcile --once` never corrupts the database
nor loses a recorded transition, and the next run completes normally; two processes started
together: one works, the other exits 75; never a `database is locked` traceback."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simstack import SimulatedStack, World
from tests.reliability.support import KEYS, Scenario, build_scenario, closing

EXIT_OK, EXIT_LOCKED = 0, 75
KILLS = 20
SEED = 20260301


def start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "reconciler", "--config", str(config),
                             "--once"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=config.parent)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def no_lock_trouble(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "database is locked" not in stderr, stderr


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with SimulatedStack(World(), api_keys=KEYS) as stack:
        yield build_scenario(stack, tmp_path, timeout=30.0)


# -- kill -9 ------------------------------------------------------------------------------------


def holds_lock(lock: Path, pid: int) -> bool:
    try:
        return lock.read_text().strip() == str(pid)
    except OSError:
        return False


def grow_the_world(sc: Scenario, step: int) -> None:
    """Something new for every cycle to write: library items, a request, some progress."""
    w = sc.world
    for i in range(100):
        n = step * 1000 + i
        w.jellyfin.add_movie(f"Film {n}", tmdb_id=500_000 + n,
                             path=f"/data/movies/Film {n}/Film {n}.mkv")
    tmdb = 700_000 + step
    w.jellyseerr.add_request(tmdb, "movie", f"Request {step}")
    movie = w.radarr.add_movie(tmdb, f"Request {step}", year=2000)
    w.radarr.progress(w.radarr.grab(movie), 0.1)
    if step % 3 == 0:
        w.jellyfin.add_movie(f"Request {step - 3}", tmdb_id=700_000 + step - 3,
                             path=f"/data/movies/Request {step - 3}.mkv")
    w.advance(60)


def check_database_file(db: Path) -> None:
    with closing(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def check_database(db: Path, timeline: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Integrity is ok and every transition recorded before is still there, in order."""
    with closing(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows: list[tuple[object, ...]] = conn.execute(
            "SELECT id, request_id, at, from_state, to_state, via, detail FROM timeline "
            "ORDER BY id").fetchall()
    assert rows[:len(timeline)] == timeline
    return rows


def test_kill_9_at_random_points_never_corrupts_or_loses_a_transition(
        scenario: Scenario) -> None:
    rng = random.Random(SEED)
    config, db = scenario.config, scenario.database
    lock = db.with_name(db.name + ".lock")
    scenario.world.jellyfin.populate(3000)
    # Every cycle re-lists the whole library, so every cycle lasts about as long as the first.
    config.write_text(config.read_text().replace(
        "[reconciler]\n", '[reconciler]\nfull_sync_interval = "1ms"\n', 1))

    # Killed while creating the schema: the next run must still migrate and work.
    proc = start(config)
    while proc.poll() is None and not holds_lock(lock, proc.pid):
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.05))
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    if db.exists():
        check_database_file(db)

    # One undisturbed run: how long a cycle takes once it holds the lock.
    proc = start(config)
    while proc.poll() is None and not holds_lock(lock, proc.pid):
        time.sleep(0.005)
    began = time.monotonic()
    code, err = finish(proc)
    window = max(time.monotonic() - began, 0.2)
    assert code == EXIT_OK, err
    timeline = check_database(db, [])
    committed = len(timeline)

    killed = 0
    for step in range(1, KILLS + 1):
        grow_the_world(scenario, step)
        proc = start(config)
        deadline = time.monotonic() + 30
        while proc.poll() is None and not holds_lock(lock, proc.pid):
            assert time.monotonic() < deadline, "reconcile never took the lock"
            time.sleep(0.002)
        began = time.monotonic()
        if step % 4:  # else let it finish: transitions committed for later kills to threaten
            time.sleep(rng.uniform(0, window * 1.1))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        code, err = finish(proc)
        if code == -signal.SIGKILL:
            killed += 1
        else:
            assert code == EXIT_OK, err
            no_lock_trouble(err)
            if step % 4:  # finished before the kill: aim earlier from now on
                window = min(window, 0.8 * (time.monotonic() - began))
        timeline = check_database(db, timeline)
        status = scenario.run("status")
        assert status.code == EXIT_OK, status.stderr
        no_lock_trouble(status.stderr)
    print(f"{killed} of {KILLS} runs killed mid-cycle (window {window:.2f} s)")
    assert killed >= KILLS // 2, f"only {killed} of {KILLS} runs were killed mid-cycle"
    assert len(timeline) > committed, "no transition was committed between the kills"

    code, err = finish(start(config))
    assert code == EXIT_OK, err
    no_lock_trouble(err)
    check_database(db, timeline)
    # The survivor agrees with a fresh database that never saw a crash.
    fresh = build_fresh_config(scenario)
    code, err = finish(start(fresh))
    assert code == EXIT_OK, err
    assert current_states(db) == current_states(fresh.parent / "fresh.db")


def build_fresh_config(sc: Scenario) -> Path:
    fresh_dir = sc.directory / "fresh"
    fresh_dir.mkdir()
    text = sc.config.read_text().replace(str(sc.database), str(fresh_dir / "fresh.db"))
    path = fresh_dir / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def current_states(db: Path) -> dict[int, str]:
    with closing(db) as conn:
        return dict(conn.execute("SELECT id, state FROM requests ORDER BY id").fetchall())


# -- two processes ------------------------------------------------------------------------------


def test_two_processes_started_together_one_works_the_other_exits_75(
        scenario: Scenario) -> None:
    """The fakes are held still (their shared lock taken) until one process has given up, so the
    other is certainly mid-cycle when it does: no timing luck involved."""
    with scenario.world.lock:
        procs = [start(scenario.config), start(scenario.config)]
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in procs):
            assert time.monotonic() < deadline, "neither process gave up"
            time.sleep(0.01)
        # While the winner holds the lock mid-cycle, reading still works.
        status = subprocess.run([sys.executable, "-m", "reconciler", "--config",
                                 str(scenario.config), "status"], capture_output=True,
                                text=True, timeout=60)
    results = sorted(finish(p) for p in procs)
    assert [code for code, _ in results] == [EXIT_OK, EXIT_LOCKED]
    loser = results[1][1]
    holder = re.search(r"another reconcile process \((pid (\d+)|another process)\)", loser)
    assert holder, loser  # the pid, unless it was read in the instant before it was written
    assert holder.group(2) is None or int(holder.group(2)) in {p.pid for p in procs}
    for _, err in results:
        no_lock_trouble(err)
    assert status.returncode == EXIT_OK, status.stderr
    no_lock_trouble(status.stderr)


def test_many_processes_at_once_serialise_cleanly(scenario: Scenario) -> None:
    procs = [start(scenario.config) for _ in range(6)]
    results = [finish(p) for p in procs]
    codes = [code for code, _ in results]
    assert set(codes) <= {EXIT_OK, EXIT_LOCKED} and EXIT_OK in codes, results
    for _, err in results:
        no_lock_trouble(err)
    with closing(scenario.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        cycles = conn.execute("SELECT count(*) FROM polls WHERE service = 'radarr'").fetchone()
    assert cycles[0] == codes.count(EXIT_OK)


def test_a_stale_lock_file_from_a_killed_process_does_not_block(scenario: Scenario) -> None:
    lock = scenario.database.with_name(scenario.database.name + ".lock")
    lock.write_text(f"{os.getpid() + 100000}\n")  # a pid that holds nothing
    code, err = finish(start(scenario.config))  # the lock is flock(): only a live holder counts
    assert code == EXIT_OK, err
