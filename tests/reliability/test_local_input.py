"""Bad local input: a missing, unreadable or invalid config, a database file that is not SQLite
or comes from a newer schema, a read-only state directory, a full disk. Each gives one clear
message and a non-zero exit, with no traceback, and overwrites nothing."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simstack import SimulatedStack, World
from tests.conftest import CommandResult, run_reconcile
from tests.reliability.support import EXPECTED, KEYS, Scenario, build_scenario, write_config

EXIT_LOCAL, EXIT_CONFIG = 1, 2


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_clear_line(result: CommandResult) -> str:
    """The error output: exactly one line besides the JSON log events, starting `reconcile:`,
    with no traceback anywhere."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith('{"')]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("reconcile: ")
    return lines[0]


@pytest.fixture
def stack() -> Iterator[SimulatedStack]:
    with SimulatedStack(World(), services=("jellyseerr", "radarr", "jellyfin"),
                        api_keys=KEYS) as running:
        yield running


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    with SimulatedStack(World(), api_keys=KEYS) as running:
        sc = build_scenario(running, tmp_path, database=tmp_path / "state" / "reconciler.db")
        yield sc


# -- configuration ----------------------------------------------------------------------------


def test_a_missing_config_file_is_named_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    result = run_reconcile("--config", str(path), "--once")
    assert result.code == EXIT_CONFIG
    assert f"{path}: file not found" in one_clear_line(result)
    assert not path.exists()


def test_a_config_path_through_a_regular_file_is_named_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory")
    path = tmp_path / "afile" / "config.toml"
    result = run_reconcile("--config", str(path), "--once")
    assert result.code == EXIT_CONFIG
    assert "cannot read the file (Not a directory)" in one_clear_line(result)


def test_a_directory_given_as_config_is_named_and_exits_2(tmp_path: Path) -> None:
    result = run_reconcile("--config", str(tmp_path), "--once")
    assert result.code == EXIT_CONFIG
    assert "is a directory" in one_clear_line(result)


def test_an_unreadable_config_file_is_named_and_exits_2(
        stack: SimulatedStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(stack, tmp_path)
    path.chmod(0)
    if os.geteuid() == 0:
        # Root reads files whatever their mode: the refusal any other user gets is injected.
        real_read = Path.read_bytes

        def refuse(self: Path) -> bytes:
            if self == path:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_read(self)

        monkeypatch.setattr(Path, "read_bytes", refuse)
    try:
        result = run_reconcile("--config", str(path), "--once")
    finally:
        path.chmod(0o600)
    assert result.code == EXIT_CONFIG
    assert "permission denied" in one_clear_line(result)


@pytest.mark.parametrize(("change", "expected"), [
    (("[radarr]\n", "[radarr]\ncolour = 3\n"), "[radarr] colour: unknown key"),
    (("[jellyfin]\n", "[jellyfin]\npoll_interval = \"soon\"\n"), "[jellyfin] poll_interval:"),
    (("timeout = 10.0\n", "timeout = -1\n"), "must be greater than zero"),
    (('log_level = "debug"', 'log_level = "loud"'), "[reconciler] log_level:"),
    (("url = \"http://127.0.0.1", "url = \"ftp://127.0.0.1"), "must be an http:// or https://"),
    (("api_key = ", "# api_key = "), "api_key: missing"),
    (("[radarr]\n", "[radarr\n"), "not valid TOML"),
], ids=["unknown_key", "bad_duration", "negative_timeout", "bad_enum", "bad_url",
        "missing_key", "broken_toml"])
def test_an_invalid_config_names_the_key_and_exits_2(stack: SimulatedStack, tmp_path: Path,
                                                     change: tuple[str, str],
                                                     expected: str) -> None:
    path = write_config(stack, tmp_path)
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    before = digest(path)
    result = run_reconcile("--config", str(path), "--once")
    assert result.code == EXIT_CONFIG
    line = one_clear_line(result)
    assert "configuration error" in line and str(path) in line and expected in line
    assert digest(path) == before
    assert not (tmp_path / "reconciler.db").exists()


# -- the database file ------------------------------------------------------------------------


def test_a_database_file_that_is_not_sqlite_is_refused_and_left_alone(
        stack: SimulatedStack, tmp_path: Path) -> None:
    db = tmp_path / "reconciler.db"
    db.write_bytes(b"my thesis, chapter 3: do not delete\n" * 200)
    before = digest(db)
    config = write_config(stack, tmp_path)
    for args in (["--once"], ["status"], ["show", "1"]):
        result = run_reconcile("--config", str(config), *args)
        assert result.code == EXIT_LOCAL, args
        assert "not an SQLite database; refusing to touch it" in one_clear_line(result)
    assert digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("reconciler.db")) \
        in (["reconciler.db"], ["reconciler.db", "reconciler.db.lock"])


def test_a_database_from_a_newer_schema_is_refused_and_left_alone(
        stack: SimulatedStack, tmp_path: Path) -> None:
    db = tmp_path / "reconciler.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, future TEXT)")
    conn.execute("INSERT INTO requests VALUES (1, 'from reconciler 9')")
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    before = digest(db)
    config = write_config(stack, tmp_path)
    for args in (["--once"], ["status"], ["show", "1"]):
        result = run_reconcile("--config", str(config), *args)
        assert result.code == EXIT_LOCAL, args
        assert "schema version 99 is newer than this program" in one_clear_line(result)
    assert digest(db) == before


# -- the state directory and the disk ---------------------------------------------------------


def make_read_only(directory: Path) -> Any:
    """Make `directory` read-only for this process; returns the undo. Root ignores modes, so
    there the directory is made immutable with chattr instead."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda: directory.chmod(0o755)
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: cannot make a directory read-only")
    done = subprocess.run([chattr, "+i", str(directory)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and chattr +i failed: {done.stderr.strip()}")
    return lambda: subprocess.run([chattr, "-i", str(directory)], check=True)


def test_a_read_only_state_directory_is_named_and_the_database_left_intact(
        scenario: Scenario) -> None:
    assert scenario.once().code == 0
    state = scenario.database.parent
    timeline = scenario.timeline_rows()
    before = digest(scenario.database)
    scenario.reveal("radarr")
    undo = make_read_only(state)
    try:
        for args in (["--once"], ["status"]):
            result = scenario.run(*args)
            assert result.code == EXIT_LOCAL, args
            line = one_clear_line(result)
            assert str(scenario.database) in line and str(state) in line
    finally:
        undo()
    assert digest(scenario.database) == before
    assert scenario.timeline_rows() == timeline
    assert scenario.states() == EXPECTED
    assert scenario.once().code == 0


def test_a_state_directory_that_cannot_be_created_is_named(scenario: Scenario) -> None:
    parent = scenario.directory / "locked"
    parent.mkdir()
    config = write_config(scenario.stack, scenario.directory,
                          database=parent / "state" / "reconciler.db")
    undo = make_read_only(parent)
    try:
        result = run_reconcile("--config", str(config), "--once")
    finally:
        undo()
    assert result.code == EXIT_LOCAL
    assert str(parent / "state") in one_clear_line(result)
    assert list(parent.iterdir()) == []


@pytest.fixture
def disk_limit(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """`limit["pages"] = n`: databases opened from now on may grow by n pages only, as on a
    nearly full disk (SQLite then raises "database or disk is full")."""
    limit = {"pages": 0}
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real_connect(*args, **kwargs)
        if limit["pages"]:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + limit['pages']}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    return limit


@pytest.mark.parametrize("room", [1, 8, 40], ids=["1_page", "8_pages", "40_pages"])
def test_a_full_disk_ends_the_cycle_with_exit_1_and_keeps_the_previous_state(
        scenario: Scenario, disk_limit: dict[str, int], room: int) -> None:
    assert scenario.once().code == 0
    timeline = scenario.timeline_rows()
    polls = scenario.last_polls()
    # Plenty to write: a grown library, and news from Radarr.
    for i in range(1500):
        scenario.world.jellyfin.add_movie(f"Film {i}", tmdb_id=200_000 + i,
                                          path=f"/data/movies/Film {i}/Film {i}.mkv")
    scenario.reveal("radarr")
    disk_limit["pages"] = room
    result = scenario.once()
    disk_limit["pages"] = 0
    assert result.code == EXIT_LOCAL
    line = one_clear_line(result)
    assert "database or disk is full" in line and "nothing was saved from this cycle" in line
    with sqlite3.connect(scenario.database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert scenario.timeline_rows() == timeline
    assert scenario.last_polls() == polls
    assert scenario.states() == EXPECTED
    recovered = scenario.once()
    assert recovered.code == 0, recovered.stderr
    assert scenario.states()["downloading"] == "download_done"
