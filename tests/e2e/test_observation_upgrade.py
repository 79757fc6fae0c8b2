"""Upgrading a database whose observations the previous version wrote (schema 6: no version
column, times kept as the services sent them): the same decisions after the upgrade, a one-time
rewrite of what is polled again, then idle cycles that write nothing but their poll records.
The real `reconcile` against the simulated servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.config import load_config
from reconciler.cycle import Reconciler
from reconciler.store import Store
from simstack import SimulatedStack, World
from simstack._util import iso_js, iso_net
from tests.e2e.support import once, show

# A time as this version writes it in an observation: `datetime.isoformat()` of a UTC time.
WRITTEN = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{6})?\+00:00)"')


def as_previous_version_wrote(service: str, text: str) -> str:
    """An observation's JSON as the previous version wrote it: each time in the text the
    service had sent (Seerr's milliseconds, .NET's trimmed fraction), no time as `""` in a
    Jellyseerr request (its old default)."""
    sent = iso_js if service == "jellyseerr" else iso_net

    def old(match: re.Match[str]) -> str:
        return json.dumps(sent(datetime.fromisoformat(match[1])))

    text = WRITTEN.sub(old, text)
    if service == "jellyseerr":
        text = text.replace('"created_at":null', '"created_at":""').replace(
            '"updated_at":null', '"updated_at":""')
    return text


def downgrade(db: Path) -> int:
    """Turn the database into what the previous version (schema 6) left: observations without
    a version, in the old text; the requests' Jellyseerr times as Seerr sent them. Returns how
    many observations hold a time."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        rows = conn.execute("SELECT service, subject, data FROM observations").fetchall()
        timed = 0
        for service, subject, data in rows:
            old = as_previous_version_wrote(service, data)
            timed += old != data
            conn.execute("UPDATE observations SET data = ? WHERE service = ? AND subject = ?",
                         (old, service, subject))
        conn.execute("ALTER TABLE observations DROP COLUMN version")
        # Nor had it migration 8's columns (issue 23).
        for table, column in (("notifications", "next_attempt"), ("episodes", "progress"),
                              ("episodes", "eta")):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        for rid, created, updated in conn.execute(
                "SELECT id, created_at, updated_at FROM requests").fetchall():
            conn.execute("UPDATE requests SET created_at = ?, updated_at = ? WHERE id = ?",
                         (_seerr(created), _seerr(updated), rid))
        conn.execute("PRAGMA user_version = 6")
        return timed
    finally:
        conn.close()


def _seerr(stored: str | None) -> str | None:
    return iso_js(datetime.fromisoformat(stored)) if stored else stored


def cycle(tmp_path: Path) -> tuple[int, int]:
    """One cycle in process: (rows written, poll records among them)."""
    config = load_config(tmp_path / "config.toml")
    store = Store.open(config.database)
    reconciler = Reconciler(config, store)

    async def run() -> Any:
        try:
            return await reconciler.cycle()
        finally:
            await reconciler.aclose()

    try:
        result = asyncio.run(run())
    finally:
        store.close()
    assert result.exit_code == 0
    return result.rows_written, len(result.polls)


def versions(db: Path) -> dict[int, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute(
            "SELECT version, count(*) FROM observations GROUP BY version").fetchall())
    finally:
        conn.close()


def test_observations_the_previous_version_wrote_are_read_alike_and_rewritten_once(
        tmp_path: Path) -> None:
    world = World()
    with SimulatedStack(world, services=("jellyseerr", "radarr", "sonarr", "jellyfin")) as stack:
        world.jellyfin.add_library("Movies", ["/data/movies"], "movies")
        world.jellyfin.add_library("Shows", ["/data/tv"], "tvshows")
        stack.write_config(tmp_path / "config.toml", tmp_path / "reconciler.db")
        db = tmp_path / "reconciler.db"
        # A download under way (its ETA), one that failed (history), a film not out yet
        # (release dates), a show with aired and future episodes (air dates).
        downloading = world.jellyseerr.add_request(603, "movie", "The Matrix")
        mid = world.radarr.add_movie(603, "The Matrix", year=1999)
        world.radarr.progress(world.radarr.grab(mid, size=8 * 1024**3), 0.25,
                              speed=8 * 1024**2)
        failed = world.jellyseerr.add_request(129, "movie", "Spirited Away")
        fid = world.radarr.add_movie(129, "Spirited Away", year=2001)
        world.radarr.fail_download(world.radarr.grab(fid), "stalled: no seeds")
        future = world.jellyseerr.add_request(1000, "movie", "Later")
        world.radarr.add_movie(1000, "Later", status="announced",
                               digital_release=world.now + timedelta(days=40),
                               in_cinemas=world.now + timedelta(days=5))
        airing = world.jellyseerr.add_request(1399, "tv", "Game of Thrones", tvdb_id=121361,
                                              seasons=[1])
        world.sonarr.add_series(121361, "Game of Thrones", tmdb_id=1399, seasons={1: 3},
                                first_aired=(datetime.now(UTC) - timedelta(days=8)).replace(
                                    microsecond=0))
        ids = (downloading, failed, future, airing)
        for _ in range(3):
            assert once(tmp_path) == 0
        before = {rid: show(tmp_path, rid) for rid in ids}
        assert [before[rid]["request"]["state"] for rid in ids] == [
            "downloading", "failed", "approved", "approved"]
        assert before[downloading]["request"]["eta"] is not None
        assert before[future]["request"]["release_date"] is not None

        assert downgrade(db) >= 5  # requests, queue, history, films, episodes

        # The upgrade: version 1 is read alike, so nothing moves; what is polled again is
        # rewritten once in the current form.
        upgrade_rows, polls = cycle(tmp_path)
        assert upgrade_rows > polls
        after = {rid: show(tmp_path, rid) for rid in ids}
        assert after == before
        assert versions(db).get(2, 0) > 0

        # From then on an idle cycle writes its poll records and nothing else.
        for _ in range(2):
            rows, polls = cycle(tmp_path)
            assert rows == polls
        assert {rid: show(tmp_path, rid) for rid in ids} == before
